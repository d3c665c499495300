//! Integration tests of the example product against an in-process forest (run with
//! `cargo test -p adsim-example-rust-forest`, part of `cargo test --workspace`).

use adsim_example_rust_forest::ServiceHost;
use adsim_harness::cmdlets::NewServiceAccount;
use adsim_harness::forest::Forest;

/// A forest with a backup proxy and a target host that share the gMSA `svc-backup`.
async fn forest() -> Forest {
    let forest = Forest::builder()
        .domain("corp.example.test")
        .child_domain("branch")
        .seed(7)
        .start_time_rfc3339("2026-01-05T10:00:00Z")
        .start()
        .await
        .expect("forest starts");
    let ps = forest.cmdlets();
    ps.new_ad_computer("PROXY01", "Proxy-Passw0rd!", None).unwrap();
    ps.new_ad_computer("SQL01", "Sql-Passw0rd!", None).unwrap();
    ps.new_ad_computer("SQL02", "Sql-Passw0rd!", Some("branch.corp.example.test"))
        .unwrap();
    ps.new_ad_service_account(&NewServiceAccount {
        name: "svc-backup".into(),
        dns_host_name: Some("svc-backup.corp.example.test".into()),
        allowed_principals: vec!["PROXY01$".into(), "SQL01$".into()],
        ..Default::default()
    })
    .unwrap();
    forest
}

#[tokio::test]
async fn proxy_and_target_use_the_same_password_and_follow_its_rotation() {
    let forest = forest().await;
    let mut proxy = ServiceHost::new("PROXY01$", "svc-backup");
    let mut target = ServiceHost::new("SQL01$", "svc-backup");
    assert!(proxy.refresh(&forest).unwrap());
    assert!(target.refresh(&forest).unwrap());
    assert_eq!(proxy.password, target.password);

    // Nothing changes within the interval...
    forest.clock().advance_days(29);
    assert!(!proxy.refresh(&forest).unwrap());
    // ...and after 30 days both see the new password, the old one as previous.
    let day0 = proxy.password.clone().unwrap();
    forest.clock().advance_days(1);
    assert!(proxy.refresh(&forest).unwrap());
    assert!(target.refresh(&forest).unwrap());
    let day30 = proxy.password.clone().unwrap();
    assert_eq!(day30.previous.as_ref(), Some(&day0.current));
    assert_eq!(target.password, proxy.password);
}

#[tokio::test]
async fn a_host_of_another_domain_is_refused_and_restore_undoes_a_grant() {
    let forest = forest().await;
    let prepared = forest.snapshot();
    let mut other = ServiceHost::new("BRANCH\\SQL02$", "svc-backup");
    assert!(other.refresh(&forest).unwrap_err().contains("may not retrieve"));

    // A test that changes the forest (Set-ADServiceAccount), then puts it back for the next.
    forest
        .cmdlets()
        .set_allowed_principals("svc-backup$", &["BRANCH\\SQL02$".to_string()])
        .unwrap();
    assert!(other.refresh(&forest).unwrap());
    forest.restore(prepared).unwrap();
    assert!(
        other.refresh(&forest).is_err(),
        "the grant is gone after the restore"
    );
}

/// An external client (OpenLDAP's ldapsearch, standing in for the product's LDAP library)
/// against the same forest: URLs and the CA come from the handle.
#[tokio::test(flavor = "multi_thread")]
async fn an_ldap_client_reads_the_password_over_ldaps() {
    let forest = forest().await;
    let (url, ca, base) = (
        forest.ldaps_url().to_string(),
        forest.ca_path(),
        forest.base_dn().to_string(),
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-H",
                &url,
                "-D",
                "CORP\\PROXY01$",
                "-w",
                "Proxy-Passw0rd!",
            ])
            .args(["-b", &format!("CN=svc-backup,CN=Managed Service Accounts,{base}")])
            .args(["-s", "base", "msDS-ManagedPassword"])
            .env("LDAPTLS_CACERT", ca)
            .env("LDAPTLS_REQCERT", "demand")
            .output()
            .expect("ldapsearch (ldap-utils) is installed")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("msDS-ManagedPassword:: "), "{text}");
}
