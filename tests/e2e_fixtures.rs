//! Fixtures at start (`--fixture`, `--topology`) and `adsim export ldif`.

use crate::common;

use common::*;

fn fixture(name: &str) -> String {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn topology_file_builds_both_domains_and_loads_its_fixture() {
    let a = Adsim::start(&["--topology", &fixture("two-domains.toml")]);
    assert_eq!(a.ready["domains"][1]["domain"], "child.corp.example.test");
    assert_eq!(a.ready["domains"][1]["netbios"], "CHILD");
    assert_eq!(a.ready["seed"], 42);
    let o = a.as_admin(
        "ldapsearch",
        &a.ldap(),
        &[
            "-b",
            &a.base(),
            "(memberOf:1.2.840.113556.1.4.1941:=CN=Company,OU=Groups,DC=corp,DC=example,DC=test)",
            "sAMAccountName",
        ],
        None,
    );
    assert!(
        text(&o).contains("sAMAccountName: alice"),
        "nested fixture groups: {}",
        text(&o)
    );
}

#[test]
fn fixture_flag_and_deterministic_export() {
    let args = [
        "--fixture",
        &fixture("users-small.ldif"),
        "--start-time",
        "2026-01-05T10:00:00Z",
    ];
    let a = Adsim::start(&args);
    let b = Adsim::start(&args);
    let ea = a.cli_ok(&["export", "ldif"]);
    let eb = b.cli_ok(&["export", "ldif"]);
    assert!(ea.starts_with("version: 1"), "{}", &ea[..ea.len().min(200)]);
    assert!(ea.contains("dn: CN=Alice"), "the fixture is in the export");
    assert_eq!(
        ea, eb,
        "same seed, same start time, same fixture: the same export"
    );
    assert!(
        !ea.to_lowercase().contains("unicodepwd") && !ea.contains("msKds-RootKeyData:"),
        "no secrets in exports"
    );
    // A write shows up in the export, and the file round-trips through the LDIF parser.
    let o = a.as_admin(
        "ldapadd",
        &a.ldap(),
        &[],
        Some(&format!(
            "dn: OU=Extra,{}\nobjectClass: organizationalUnit\n",
            a.base()
        )),
    );
    assert!(o.status.success(), "{}", text(&o));
    let after = a.cli_ok(&["export", "ldif"]);
    assert!(after.contains("dn: OU=Extra,DC=corp,DC=example,DC=test"));
    let records = adsim_harness::ldif::parse(&after).unwrap();
    assert!(records.len() > 80, "{} records", records.len());
}
