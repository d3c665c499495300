//! `adsim serve --data-dir DIR` end to end (issue 13 item 11): writes made with real clients
//! (ldapadd, ldapmodify, the control API) survive `kill -9` right after their acknowledgement;
//! the restarted server has the same CA, the new password works for kinit and a simple bind,
//! the clock keeps its offset and a gMSA its rolled-over password; a damaged store and a second
//! server on the same directory are refused with a clear message.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const REALM: &str = "CORP.EXAMPLE.TEST";
const FIRST_PASSWORD: &str = "Alice-Passw0rd!";
// Not holding "alice": an administrator's reset is held to the complexity rule.
const NEW_PASSWORD: &str = "Fresh-N3w-Passw0rd!";

/// The data directory inside a test's scratch directory.
fn data_dir(scratch: &Scratch) -> PathBuf {
    scratch.0.join("data")
}

fn data_arg(scratch: &Scratch) -> String {
    scratch.path("data")
}

/// `adsim serve` that must fail to start: its exit status and standard error (bounded wait).
fn serve_refused(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .arg("serve")
        .args(EPHEMERAL_PORTS)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("adsim starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (status, String::from_utf8_lossy(&out.stderr).into_owned());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("adsim served a data directory it should refuse: {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn search(adsim: &Adsim, ca: &str, dn: &str, attrs: &[&str]) -> Output {
    let mut args = vec![
        "-x",
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-H",
        adsim.ldaps_url_ref(),
        "-D",
        "CORP\\Administrator",
        "-w",
        ADMIN_PASSWORD,
        "-b",
        dn,
        "-s",
        "base",
    ];
    args.extend_from_slice(attrs);
    ldap_tool("ldapsearch", ca, &args, None)
}

/// `attr: value` lines of one entry read as Administrator over LDAPS, trusting `ca`.
fn values(adsim: &Adsim, ca: &str, dn: &str, attrs: &[&str]) -> Vec<String> {
    let o = search(adsim, ca, dn, attrs);
    assert!(o.status.success(), "ldapsearch {dn}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with("dn:") && !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn kinit(adsim: &Adsim, dir: &Path, password: &str) -> Output {
    let conf = dir.join("krb5.conf");
    let _ = std::fs::remove_file(&conf);
    adsim.cli_ok(&["export", "krb5-conf", "--out", conf.to_str().unwrap()]);
    kinit_with_password(&conf, &dir.join("ccache"), &format!("alice@{REALM}"), password)
}

fn simple_bind(adsim: &Adsim, password: &str) -> Output {
    ldap_tool(
        "ldapwhoami",
        &adsim.ca(),
        &[
            "-x",
            "-H",
            &adsim.ldap(),
            "-D",
            "alice@corp.example.test",
            "-w",
            password,
        ],
        None,
    )
}

impl Adsim {
    fn ldaps_url_ref(&self) -> &str {
        self.ready["ldaps_url"].as_str().expect("ldaps_url")
    }
}

#[test]
fn every_acknowledged_write_survives_kill_9() {
    let scratch = Scratch::new("datadir-kill9");
    let data = data_arg(&scratch);
    let first = Adsim::start(&["--data-dir", &data]);
    assert_eq!(
        first.ready["ca_cert"],
        data_dir(&scratch).join("ca.pem").to_str().unwrap()
    );
    // The CA clients trust from the first run, kept apart from the data directory.
    let trusted = scratch.0.join("trusted-ca.pem");
    std::fs::copy(first.ca(), &trusted).unwrap();
    let trusted = trusted.to_str().unwrap().to_string();
    let base = first.base();
    let alice = format!("CN=Alice,CN=Users,{base}");
    let gmsa = format!("CN=svc-web,CN=Managed Service Accounts,{base}");
    let domain_sid: adsim_simulator::security::Sid = first.ready["domains"][0]["domain_sid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // An add (alice and a gMSA), a modify, a password set: each acknowledged.
    let ldif = format!(
        "dn: {alice}\nobjectClass: user\nsAMAccountName: alice\n\
         userPrincipalName: alice@corp.example.test\nuserAccountControl: 512\nunicodePwd:: {}\n\n\
         dn: {gmsa}\nobjectClass: msDS-GroupManagedServiceAccount\nsAMAccountName: svc-web$\n\
         dNSHostName: svc-web.corp.example.test\nmsDS-ManagedPasswordInterval: 30\nmsDS-GroupMSAMembership:: {}\n",
        unicode_pwd_b64(FIRST_PASSWORD),
        gmsa_membership_b64(&domain_sid.with_rid(512)),
    );
    let o = first.as_admin("ldapadd", &first.ldaps(), &[], Some(&ldif));
    assert!(o.status.success(), "ldapadd: {}", text(&o));
    let o = first.as_admin(
        "ldapmodify",
        &first.ldaps(),
        &[],
        Some(&format!(
            "dn: {alice}\nchangetype: modify\nreplace: description\ndescription: kept across kill -9\n-\n"
        )),
    );
    assert!(o.status.success(), "ldapmodify description: {}", text(&o));
    let o = first.as_admin(
        "ldapmodify",
        &first.ldaps(),
        &[],
        Some(&format!(
            "dn: {alice}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n-\n",
            unicode_pwd_b64(NEW_PASSWORD)
        )),
    );
    assert!(o.status.success(), "password set: {}", text(&o));
    // The clock moves 30 days; reading the gMSA's password then rolls it over (a write).
    first.cli_ok(&["ctl", "clock", "--advance", "30d"]);
    let o = search(&first, &trusted, &gmsa, &["msDS-ManagedPassword"]);
    assert!(o.status.success(), "{}", text(&o));
    let rolled = values(
        &first,
        &trusted,
        &gmsa,
        &[
            "uSNChanged",
            "msDS-ManagedPasswordId",
            "msDS-ManagedPasswordPreviousId",
        ],
    );
    assert!(
        rolled
            .iter()
            .any(|l| l.starts_with("msDS-ManagedPasswordPreviousId")),
        "the gMSA rolled over: {rolled:?}"
    );
    let before = values(
        &first,
        &trusted,
        &alice,
        &["description", "uSNChanged", "pwdLastSet", "objectSid"],
    );
    let ca_before = std::fs::read(first.ca()).unwrap();
    drop(first); // SIGKILL (std's Child::kill), right after the last acknowledgement

    let second = Adsim::start(&["--data-dir", &data]);
    assert_eq!(second.ready["admin_password_source"], "data-dir");
    assert_eq!(std::fs::read(second.ca()).unwrap(), ca_before, "ca.pem changed");
    // The old CA still verifies the server (LDAPS with certificate checking on).
    assert_eq!(
        values(
            &second,
            &trusted,
            &alice,
            &["description", "uSNChanged", "pwdLastSet", "objectSid"]
        ),
        before
    );
    assert!(before.contains(&"description: kept across kill -9".to_string()));
    assert_eq!(
        values(
            &second,
            &trusted,
            &gmsa,
            &[
                "uSNChanged",
                "msDS-ManagedPasswordId",
                "msDS-ManagedPasswordPreviousId"
            ]
        ),
        rolled,
        "the rollover was kept"
    );
    let (_, clock) = http_json(&second.control_url(), "GET", "/v1/clock", None);
    let offset = clock["offset_seconds"].as_i64().unwrap();
    assert!(
        (30 * 86_400 - 120..=30 * 86_400 + 120).contains(&offset),
        "{clock}"
    );
    // The new password works, the first one no longer does: simple bind and Kerberos.
    let o = simple_bind(&second, NEW_PASSWORD);
    assert!(o.status.success(), "bind with the new password: {}", text(&o));
    assert!(!simple_bind(&second, FIRST_PASSWORD).status.success());
    let o = kinit(&second, &scratch.0, NEW_PASSWORD);
    assert!(o.status.success(), "kinit with the new password: {}", text(&o));
    assert!(!kinit(&second, &scratch.0, FIRST_PASSWORD).status.success());
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let scratch = Scratch::new("datadir-lock");
    let data = data_arg(&scratch);
    let mut first = Adsim::start(&["--data-dir", &data]);
    let (status, stderr) = serve_refused(&["--data-dir", &data]);
    assert!(!status.success());
    assert!(
        stderr.contains("is in use by another adsim process") && stderr.contains("adsim.redb"),
        "{stderr}"
    );
    assert!(first.is_running(), "the first server keeps serving");
}

#[test]
fn a_damaged_data_dir_is_refused_with_the_file_and_the_reason() {
    let scratch = Scratch::new("datadir-corrupt");
    let data = data_arg(&scratch);
    let file = data_dir(&scratch).join("adsim.redb");
    let marker = "a value to damage 6f1c";
    {
        let adsim = Adsim::start(&["--data-dir", &data]);
        let o = adsim.as_admin(
            "ldapmodify",
            &adsim.ldap(),
            &[],
            Some(&format!(
                "dn: CN=Administrator,CN=Users,{}\nchangetype: modify\nreplace: description\ndescription: {marker}\n-\n",
                adsim.base()
            )),
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let good = std::fs::read(&file).unwrap();

    // One flipped bit in every copy of the record's text (redb copies pages on write).
    let mut flipped = good.clone();
    let spots: Vec<usize> = flipped
        .windows(marker.len())
        .enumerate()
        .filter(|(_, w)| *w == marker.as_bytes())
        .map(|(i, _)| i)
        .collect();
    assert!(!spots.is_empty(), "the record is in the file");
    for i in &spots {
        flipped[i + 2] ^= 0x01;
    }
    std::fs::write(&file, &flipped).unwrap();
    let (status, stderr) = serve_refused(&["--data-dir", &data]);
    assert!(!status.success());
    assert!(
        stderr.contains(&format!("{} is corrupt", file.display()))
            && stderr.contains("adsim will not serve it")
            && !stderr.contains("panicked"),
        "{stderr}"
    );

    // Truncated before the record (so every copy of it is cut off), and shorter.
    for len in [spots[0], 4096, 100] {
        std::fs::write(&file, &good[..len]).unwrap();
        let (status, stderr) = serve_refused(&["--data-dir", &data]);
        assert!(!status.success(), "truncated to {len}");
        assert!(
            stderr.contains(&format!("{} is corrupt", file.display())) && !stderr.contains("panicked"),
            "truncated to {len}: {stderr}"
        );
    }

    // Put back whole, it serves again.
    std::fs::write(&file, &good).unwrap();
    let adsim = Adsim::start(&["--data-dir", &data]);
    let admin = format!("CN=Administrator,CN=Users,{}", adsim.base());
    assert!(values(&adsim, &adsim.ca(), &admin, &["description"]).contains(&format!("description: {marker}")));
}
