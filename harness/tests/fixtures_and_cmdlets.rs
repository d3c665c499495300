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
