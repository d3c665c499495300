use adsim_harness::cmdlets::{CmdletError, Cmdlets, NewServiceAccount};
use adsim_harness::fixtures;
use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::{Directory, ForestConfig};

fn forest() -> std::sync::Arc<Directory> {
    Directory::provision(&ForestConfig {
        seed: Some(11),
        start_time: NtTime::parse_rfc3339("2026-05-01T08:00:00Z"),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn sample_fixture_applies_and_export_is_deterministic_and_restorable() {
    let dir = forest();
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/users-small.ldif"
    ));
    let n = fixtures::apply_file(&dir, path).unwrap();
    assert!(n > 5);
    let before = fixtures::export(&dir);
    assert_eq!(before, fixtures::export(&dir), "export is deterministic");
    assert!(before.contains("dn: DC=corp,DC=example,DC=test"));
    assert!(
        !before.to_lowercase().contains("unicodepwd"),
        "secrets are never exported"
    );

    // Writes after a snapshot disappear on restore: the export is byte-identical.
    let snap = dir.snapshot();
    Cmdlets::system(&dir)
        .new_ad_service_account(&NewServiceAccount {
            name: "svc-tmp".into(),
            dns_host_name: Some("svc-tmp.corp.example.test".into()),
            ..Default::default()
        })
        .unwrap();
    assert_ne!(before, fixtures::export(&dir));
    dir.restore(&snap);
    assert_eq!(before, fixtures::export(&dir));

    // Same seed, same fixture: the same forest.
    let other = forest();
    fixtures::apply_file(&other, path).unwrap();
    assert_eq!(before, fixtures::export(&other));
}

#[test]
fn service_account_cmdlets() {
    let dir = forest();
    let ps = Cmdlets::system(&dir);
    let s = |v: &str| vec![v.as_bytes().to_vec()];
    let sys = adsim_simulator::dsa::Caller::system();
    dir.add(
        &sys,
        "CN=WebHosts,CN=Users,DC=corp,DC=example,DC=test",
        vec![
            ("objectClass".into(), s("group")),
            ("sAMAccountName".into(), s("WebHosts")),
        ],
    )
    .unwrap();
    for h in ["WEB01", "WEB02"] {
        dir.add(
            &sys,
            &format!("CN={h},CN=Computers,DC=corp,DC=example,DC=test"),
            vec![
                ("objectClass".into(), s("computer")),
                ("sAMAccountName".into(), s(&format!("{h}$"))),
            ],
        )
        .unwrap();
    }
    // -DNSHostName is the cmdlet's rule.
    let err = ps
        .new_ad_service_account(&NewServiceAccount {
            name: "svc-a".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, CmdletError::Parameter(_)));
    ps.new_ad_service_account(&NewServiceAccount {
        name: "svc-out".into(),
        restrict_to_outbound_only: true,
        ..Default::default()
    })
    .unwrap();
    let dn = ps
        .new_ad_service_account(&NewServiceAccount {
            name: "svc-web".into(),
            dns_host_name: Some("svc-web.corp.example.test".into()),
            allowed_principals: vec!["WebHosts".into()],
            interval_days: Some(14),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        dn,
        "CN=svc-web,CN=Managed Service Accounts,DC=corp,DC=example,DC=test"
    );
    assert!(!ps.test_ad_service_account("svc-web$", "WEB01$").unwrap());
    ps.add_ad_group_member("WebHosts", &["WEB01$"]).unwrap();
    assert!(ps.test_ad_service_account("svc-web$", "WEB01$").unwrap());
    assert!(!ps.test_ad_service_account("svc-web$", "WEB02$").unwrap());
    ps.remove_ad_group_member("WebHosts", &["WEB01$"]).unwrap();
    assert!(!ps.test_ad_service_account("svc-web$", "WEB01$").unwrap());
    let props = ps
        .get_ad_service_account(
            "svc-web$",
            &["msDS-ManagedPasswordInterval", "msDS-SupportedEncryptionTypes"],
        )
        .unwrap();
    assert!(props
        .iter()
        .any(|(n, v)| n == "msDS-ManagedPasswordInterval" && v[0] == b"14"));
    assert!(props
        .iter()
        .any(|(n, v)| n == "msDS-SupportedEncryptionTypes" && v[0] == b"28"));
    // Forest-wide name rule through the cmdlet too.
    let err = ps
        .new_ad_service_account(&NewServiceAccount {
            name: "svc-web".into(),
            dns_host_name: Some("x.corp.example.test".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(err, CmdletError::Directory(ref e) if e.code == 68),
        "{err:?}"
    );
}

/// A fixture file streams: records before one that does not parse, or does not apply, stay
/// applied; nothing after it is; the error names the line or the DN. The file path and the
/// parsed-records path give the same forest.
#[test]
fn a_fixture_file_applies_up_to_its_first_bad_record() {
    let users = "CN=Users,DC=corp,DC=example,DC=test";
    let user = |name: &str| format!("dn: CN={name},{users}\nobjectClass: user\nsAMAccountName: {name}\n\n");
    let dir = tempfile_dir();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };

    let unparsable = write(
        "unparsable.ldif",
        &format!(
            "version: 1\n\n{}{}dn: CN=bad,{users}\ncn:: !!\n\n{}",
            user("u1"),
            user("u2"),
            user("u3")
        ),
    );
    let forest_a = forest();
    let err = fixtures::apply_file(&forest_a, &unparsable).unwrap_err();
    assert!(err.to_string().contains("line 12"), "{err}");
    assert!(fixtures::exists(&forest_a, &format!("CN=u2,{users}")));
    assert!(!fixtures::exists(&forest_a, &format!("CN=u3,{users}")));

    let refused = write(
        "refused.ldif",
        &format!("{}{}{}", user("u1"), user("u1"), user("u3")),
    );
    let forest_b = forest();
    let err = fixtures::apply_file(&forest_b, &refused).unwrap_err();
    assert!(err.to_string().starts_with(&format!("CN=u1,{users}")), "{err}");
    assert!(fixtures::exists(&forest_b, &format!("CN=u1,{users}")));
    assert!(!fixtures::exists(&forest_b, &format!("CN=u3,{users}")));

    let good = format!("{}{}", user("u1"), user("u2"));
    let forest_c = forest();
    assert_eq!(
        fixtures::apply_file(&forest_c, &write("good.ldif", &good)).unwrap(),
        2
    );
    let forest_d = forest();
    fixtures::apply(&forest_d, &adsim_simulator::ldif::parse(&good).unwrap()).unwrap();
    assert_eq!(fixtures::export(&forest_c), fixtures::export(&forest_d));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("adsim-fixture-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
