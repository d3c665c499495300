//! Topology TOML: parsing, defaults, normalisation and validation errors.

use std::path::{Path, PathBuf};

use adsim_harness::topology::{
    default_netbios_name, validate_dns_domain_name, validate_netbios_domain_name, KdsRootKey, Topology,
    TopologyError,
};
use adsim_simulator::clock::NtTime;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");

#[track_caller]
fn invalid(text: &str, fragment: &str) {
    match Topology::from_toml_str(text) {
        Ok(t) => panic!("expected an error mentioning `{fragment}`, got {t:?}"),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(fragment),
                "`{message}` does not mention `{fragment}`"
            );
        }
    }
}

fn forest(extra: &str) -> String {
    format!("[forest]\nroot_domain = \"corp.example.test\"\n{extra}")
}

#[test]
fn full_example() {
    let text = r#"
        [forest]
        root_domain = "Corp.Example.Test."
        netbios = "corp"
        seed = 42
        admin_password = "Passw0rd!"
        start_time = "2026-01-01T00:00:00Z"
        kds_root_key = "backdated"
        fixtures = ["users.ldif"]

        [[domain]]
        name = "child"
        netbios = "CHILD"
        fixtures = ["child.ldif", "more.ldif"]

        [[domain]]
        dns_name = "eu.child.corp.example.test"

        [[domain]]
        dns_name = "averyveryverylonglabel.corp.example.test"
    "#;
    let topology = Topology::from_toml_str(text).unwrap();
    let forest = &topology.forest;
    assert_eq!(forest.seed, Some(42));
    assert_eq!(forest.admin_password.as_deref(), Some("Passw0rd!"));
    assert_eq!(forest.start_time, NtTime::parse_rfc3339("2026-01-01T00:00:00Z"));
    assert_eq!(forest.start_time.unwrap().unix_seconds(), 1_767_225_600);
    assert_eq!(forest.kds_root_key, KdsRootKey::Backdated);

    let summary: Vec<_> = topology
        .domains()
        .iter()
        .map(|d| (d.dns_name.as_str(), d.netbios.as_str(), d.parent.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("corp.example.test", "CORP", None),
            ("child.corp.example.test", "CHILD", Some("corp.example.test")),
            (
                "eu.child.corp.example.test",
                "EU",
                Some("child.corp.example.test")
            ),
            (
                "averyveryverylonglabel.corp.example.test",
                "AVERYVERYVERYLO",
                Some("corp.example.test")
            ),
        ]
    );
    assert!(topology.root().is_root());
    assert_eq!(topology.children().len(), 3);
    assert_eq!(
        topology.domains()[1].base_dn(),
        "DC=child,DC=corp,DC=example,DC=test"
    );
    assert_eq!(topology.domains()[1].realm(), "CHILD.CORP.EXAMPLE.TEST");
    assert_eq!(
        topology.domain("EU.Child.corp.example.test.").unwrap().netbios,
        "EU"
    );
    let fixtures: Vec<_> = topology.fixture_paths().collect();
    assert_eq!(
        fixtures,
        [
            Path::new("users.ldif"),
            Path::new("child.ldif"),
            Path::new("more.ldif")
        ]
    );
    // The password stays out of Debug output.
    let debug = format!("{topology:?}");
    assert!(
        !debug.contains("Passw0rd!") && debug.contains("<redacted>"),
        "{debug}"
    );
}

#[test]
fn defaults() {
    let topology = Topology::from_toml_str(&forest("")).unwrap();
    assert_eq!(topology, Topology::default_forest());
    assert_eq!(topology.forest.kds_root_key, KdsRootKey::None);
    assert_eq!(topology.forest.start_time, None);
    assert_eq!(topology.root().netbios, "CORP");
    assert_eq!(topology.root().base_dn(), "DC=corp,DC=example,DC=test");
    assert_eq!(Topology::default(), Topology::default_forest());
    assert_eq!(
        default_netbios_name("a-very-long-first-label.example.test"),
        "A-VERY-LONG-FIR"
    );
}

#[test]
fn start_time_as_toml_datetime_and_kds_modes() {
    let t = Topology::from_toml_str(&forest(
        "start_time = 2026-03-04T05:06:07+01:00\nkds_root_key = \"immediate\"\n",
    ))
    .unwrap();
    assert_eq!(t.forest.start_time, NtTime::parse_rfc3339("2026-03-04T04:06:07Z"));
    assert_eq!(t.forest.kds_root_key, KdsRootKey::Immediate);
    invalid(&forest("start_time = \"yesterday\"\n"), "start_time `yesterday`");
    invalid(&forest("start_time = 2026-01-01T00:00:00\n"), "start_time");
    invalid(&forest("start_time = 5\n"), "start_time must be");
    invalid(&forest("kds_root_key = \"later\"\n"), "later");
}

#[test]
fn builder_matches_the_serve_flags() {
    let mut topology = Topology::new("lab.test", None).unwrap();
    assert_eq!(topology.root().netbios, "LAB");
    let child = topology.add_child("dev", Some("devel")).unwrap();
    assert_eq!(
        (child.dns_name.as_str(), child.netbios.as_str()),
        ("dev.lab.test", "DEVEL")
    );
    assert!(topology
        .add_child("dev", Some("OTHER"))
        .unwrap_err()
        .to_string()
        .contains("listed twice"));
    assert!(topology
        .add_child("a.b", None)
        .unwrap_err()
        .to_string()
        .contains("single DNS label"));
    assert!(topology
        .add_child("bad_label", None)
        .unwrap_err()
        .to_string()
        .contains("`_`"));
    topology
        .set_domain_fixtures("DEV.lab.test", vec![PathBuf::from("dev.ldif")])
        .unwrap();
    assert_eq!(topology.domains()[1].fixtures, [PathBuf::from("dev.ldif")]);
    assert!(topology.set_domain_fixtures("nope.lab.test", vec![]).is_err());
}

#[test]
fn bad_dns_names() {
    for (name, fragment) in [
        ("corp_example.test", "`_`"),
        ("-corp.example.test", "hyphen"),
        ("corp-.example.test", "hyphen"),
        ("corp..test", "empty label"),
        ("corp", "single label"),
        ("corp.123", "all-numeric"),
        ("", "empty"),
        ("exämple.test", "`\\u{e4}`"),
    ] {
        invalid(&format!("[forest]\nroot_domain = \"{name}\"\n"), fragment);
    }
    let long_label = "a".repeat(64);
    assert!(validate_dns_domain_name(&format!("{long_label}.test"))
        .unwrap_err()
        .contains("63"));
    let long_name = vec!["abcdefghi"; 26].join(".");
    assert!(validate_dns_domain_name(&long_name).unwrap_err().contains("253"));
    assert_eq!(
        validate_dns_domain_name("1corp.Example.TEST.").unwrap(),
        "1corp.example.test"
    );
}

#[test]
fn bad_netbios_names() {
    invalid(&forest("netbios = \"SIXTEENCHARSLONG\"\n"), "at most 15");
    for bad in [
        "MY DOMAIN",
        "A*B",
        "A.B",
        ".CORP",
        "A/B",
        "A\\\\B",
        "A:B",
        "A?B",
        "A|B",
        "A<B",
        "A+B",
        "A,B",
        "ÉCOLE",
        "",
    ] {
        invalid(&forest(&format!("netbios = \"{bad}\"\n")), "NetBIOS name");
    }
    assert_eq!(validate_netbios_domain_name("corp-01_$").unwrap(), "CORP-01_$");
    assert!(validate_netbios_domain_name("CTRL\u{1}").is_err());
    // A default derived from a long first label is cut, not rejected.
    let t = Topology::from_toml_str("[forest]\nroot_domain = \"abcdefghijklmnopq.test\"\n").unwrap();
    assert_eq!(t.root().netbios, "ABCDEFGHIJKLMNO");
}

#[test]
fn domain_list_errors() {
    invalid(
        &forest("[[domain]]\nname = \"child\"\n[[domain]]\ndns_name = \"CHILD.corp.example.test\"\n"),
        "listed twice",
    );
    invalid(
        &forest("[[domain]]\nname = \"child\"\nnetbios = \"CORP\"\n"),
        "already used by `corp.example.test`",
    );
    invalid(
        &forest("[[domain]]\ndns_name = \"other.test\"\n"),
        "separate domain trees are not supported",
    );
    invalid(
        &forest("[[domain]]\ndns_name = \"corp.example.test\"\n"),
        "is the forest root",
    );
    invalid(
        &forest("[[domain]]\ndns_name = \"a.b.corp.example.test\"\n"),
        "parent domain `b.corp.example.test`",
    );
    invalid(
        &forest("[[domain]]\nname = \"a\"\ndns_name = \"a.corp.example.test\"\n"),
        "not both",
    );
    invalid(&forest("[[domain]]\nnetbios = \"X\"\n"), "needs `name`");
    invalid(
        &forest("[[domain]]\nname = \"ok\"\n[[domain]]\nname = \"bad!\"\n"),
        "[[domain]] #2",
    );
}

#[test]
fn toml_shape_errors() {
    invalid(
        "[forest]\nroot_domain = \"corp.example.test\"\nsede = 1\n",
        "sede",
    );
    invalid("[forest]\nnetbios = \"CORP\"\n", "root_domain");
    invalid("[[domain]]\nname = \"x\"\n", "forest");
    invalid(&forest("seed = -1\n"), "seed");
    invalid(&forest("admin_password = \"\"\n"), "admin_password is empty");
    invalid("[forest\n", "malformed");
    assert!(matches!(
        Topology::from_toml_str("[forest]\n"),
        Err(TopologyError::Syntax(_))
    ));
}

#[test]
fn two_domains_fixture_file() {
    let topology = Topology::from_file(format!("{FIXTURES}/two-domains.toml")).unwrap();
    let names: Vec<_> = topology
        .domains()
        .iter()
        .map(|d| (d.dns_name.as_str(), d.netbios.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("corp.example.test", "CORP"),
            ("child.corp.example.test", "CHILD")
        ]
    );
    assert_eq!(topology.forest.seed, Some(42));
    let fixtures: Vec<_> = topology.fixture_paths().collect();
    assert_eq!(fixtures.len(), 1);
    assert!(
        fixtures[0].ends_with("fixtures/users-small.ldif") && fixtures[0].is_file(),
        "{:?}",
        fixtures[0]
    );
}

#[test]
fn from_file_errors() {
    let dir = std::env::temp_dir().join(format!("adsim-topology-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("forest.toml");
    std::fs::write(&path, forest("fixtures = [\"missing.ldif\"]\n")).unwrap();
    let message = Topology::from_file(&path).unwrap_err().to_string();
    assert!(
        message.contains("missing.ldif") && message.contains("does not exist"),
        "{message}"
    );
    std::fs::write(dir.join("present.ldif"), "version: 1\n").unwrap();
    std::fs::write(
        &path,
        forest("[[domain]]\nname = \"c\"\nfixtures = [\"present.ldif\"]\n"),
    )
    .unwrap();
    let topology = Topology::from_file(&path).unwrap();
    assert_eq!(topology.domains()[1].fixtures, [dir.join("present.ldif")]);
    assert!(matches!(
        Topology::from_file(dir.join("absent.toml")),
        Err(TopologyError::Read { .. })
    ));
    std::fs::remove_dir_all(dir).unwrap();
}
