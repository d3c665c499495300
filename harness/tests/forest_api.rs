//! The Forest API: many forests in one process, snapshots that restore the exact state, snapshot
//! files that start an identical forest, and the typed gMSA helper.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use adsim_harness::cmdlets::{CmdletError, NewServiceAccount};
use adsim_harness::forest::{Forest, ForestError, KdsRootKeyMode};
use adsim_simulator::dsa::error::code;
use adsim_simulator::security::Sid;

const START: &str = "2026-01-05T10:00:00Z";

fn fixture() -> std::path::PathBuf {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/users-small.ldif").into()
}

/// An anonymous rootDSE search (RFC 4511 §4.5.1: base "", scope base, `(objectClass=*)`, all
/// attributes) over a plain socket; returns the raw answer.
fn root_dse(ldap_url: &str) -> Vec<u8> {
    let addr = ldap_url.trim_start_matches("ldap://");
    let mut s = TcpStream::connect(addr).expect("the LDAP listener accepts");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request: [u8; 39] = [
        0x30, 0x25, 0x02, 0x01, 0x01, 0x63, 0x20, 0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01,
        0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00, 0x87, 0x0b, b'o', b'b', b'j', b'e', b'c', b't', b'C', b'l',
        b'a', b's', b's', 0x30, 0x00,
    ];
    s.write_all(&request).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    // Read until the SearchResultDone ([APPLICATION 5], 0x65) has arrived.
    while !answer.windows(2).any(|w| w == [0x65, 0x07]) {
        let n = s.read(&mut buf).expect("the rootDSE answer");
        assert!(n > 0, "connection closed before the search finished");
        answer.extend_from_slice(&buf[..n]);
    }
    answer
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_forests_start_and_stop_in_parallel() {
    let mut starts = tokio::task::JoinSet::new();
    for i in 0..20u64 {
        starts.spawn(async move {
            let forest = Forest::builder()
                .domain(&format!("f{i}.example.test"))
                .seed(i)
                .start()
                .await
                .expect("forest starts");
            (i, forest)
        });
    }
    let mut forests = Vec::new();
    while let Some(r) = starts.join_next().await {
        forests.push(r.unwrap());
    }
    assert_eq!(forests.len(), 20);

    // No port is shared, and each DC answers with its own naming context.
    let mut ports = std::collections::HashSet::new();
    for (_, f) in &forests {
        for url in [f.ldap_url(), f.ldaps_url(), f.gc_url(), f.control_url()] {
            assert!(
                ports.insert(url.rsplit(':').next().unwrap().to_string()),
                "{url} reused"
            );
        }
        assert!(ports.insert(f.kdc_addr().port().to_string()));
    }
    let checks: Vec<_> = forests
        .iter()
        .map(|(i, f)| (*i, f.ldap_url().to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        for (i, url) in checks {
            let answer = root_dse(&url);
            assert!(
                contains(&answer, &format!("DC=f{i},DC=example,DC=test")),
                "forest {i} answers for its own domain"
            );
        }
    })
    .await
    .unwrap();

    // Dropping a forest closes its listeners.
    let urls: Vec<String> = forests.iter().map(|(_, f)| f.ldap_url().to_string()).collect();
    drop(forests);
    tokio::task::spawn_blocking(move || {
        for url in urls {
            let addr = url.trim_start_matches("ldap://").to_string();
            let deadline = Instant::now() + Duration::from_secs(10);
            while TcpStream::connect(&addr).is_ok() {
                assert!(Instant::now() < deadline, "{addr} still accepts after drop");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    })
    .await
    .unwrap();
}

/// The SID the next new user gets: it shows the RID pool and (through the GUIDs drawn on the
/// way) that the random stream came back too.
fn next_user_sid(forest: &Forest, name: &str) -> Sid {
    forest
        .cmdlets()
        .new_ad_user(name, "Next-Passw0rd!", None)
        .unwrap();
    let props = forest
        .cmdlets()
        .get_ad_service_account(
            &format!("CN={name},CN=Users,{}", forest.base_dn()),
            &["objectSid", "objectGUID"],
        )
        .unwrap();
    props
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("objectSid"))
        .map(|(_, v)| Sid::from_bytes(&v[0]).unwrap())
        .unwrap()
}

#[tokio::test]
async fn restore_gives_an_identical_export() {
    let forest = Forest::builder()
        .seed(3)
        .start_time_rfc3339(START)
        .fixture(fixture())
        .start()
        .await
        .unwrap();
    let at_start = forest.export_ldif();
    assert!(
        at_start.contains("CN=Alice Adams"),
        "fixtures are part of the start state"
    );

    let clean = forest.snapshot();
    let ps = forest.cmdlets();
    let first_sid = next_user_sid(&forest, "bob2");
    ps.new_ad_computer("WEB01", "Host-Passw0rd!", None).unwrap();
    ps.new_ad_service_account(&NewServiceAccount {
        name: "svc-web".into(),
        dns_host_name: Some("svc-web.corp.example.test".into()),
        allowed_principals: vec!["WEB01$".into()],
        ..Default::default()
    })
    .unwrap();
    ps.add_ad_group_member("Domain Admins", &["bob2"]).unwrap();
    ps.add_kds_root_key(None).unwrap();
    adsim_harness::fixtures::apply(
        forest.directory(),
        &adsim_harness::ldif::parse(&format!(
            "dn: CN=Bob Baker,OU=Engineering,OU=Staff,{base}\nchangetype: delete\n\n\
             dn: OU=Sales,OU=Staff,{base}\nchangetype: moddn\nnewrdn: OU=Revenue\ndeleteoldrdn: 1\n",
            base = forest.base_dn()
        ))
        .unwrap(),
    )
    .unwrap();
    forest.clock().advance_days(45);
    let changed = forest.export_ldif();
    assert_ne!(changed, at_start);

    forest.restore(clean).unwrap();
    assert_eq!(
        forest.export_ldif(),
        at_start,
        "restore brings back the exact state"
    );
    assert_eq!(forest.clock().now().to_rfc3339(), START);
    assert!(matches!(
        forest.managed_password_as_host("svc-web", "WEB01$"),
        Err(ForestError::UnknownAccount(_))
    ));
    // The same writes again give the same objects: RID pool and random stream came back.
    assert_eq!(next_user_sid(&forest, "bob2"), first_sid);

    // A snapshot survives its restore and can be restored again; reset goes to the start.
    forest.restore(clean).unwrap();
    assert_eq!(forest.export_ldif(), at_start);
    next_user_sid(&forest, "carol2");
    forest.reset();
    assert_eq!(forest.export_ldif(), at_start);
    assert!(forest.restore("snap-99".parse().unwrap()).is_err());
}

#[tokio::test]
async fn snapshot_file_starts_an_identical_forest() {
    let dir = std::env::temp_dir().join(format!("adsim-forest-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("prepared.snapshot.json");
    let first = Forest::builder()
        .seed(9)
        .start_time_rfc3339(START)
        .child_domain("child")
        .start()
        .await
        .unwrap();
    let ps = first.cmdlets();
    ps.new_ad_user("alice", "Alice-Passw0rd!", None).unwrap();
    ps.new_ad_computer("WEB01", "Host-Passw0rd!", None).unwrap();
    ps.new_ad_service_account(&NewServiceAccount {
        name: "svc-web".into(),
        dns_host_name: Some("svc-web.corp.example.test".into()),
        allowed_principals: vec!["WEB01$".into()],
        ..Default::default()
    })
    .unwrap();
    first.clock().advance_days(31);
    let password = first
        .managed_password_as_host("svc-web", "WEB01$")
        .unwrap()
        .unwrap();
    first.save_snapshot(&file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the file holds secrets: owner only");
    }

    // Another forest from the file: different listeners, the same directory, clock and secrets.
    let second = Forest::builder().from_snapshot(&file).start().await.unwrap();
    assert_ne!(second.ldap_url(), first.ldap_url());
    assert_eq!(second.export_ldif(), first.export_ldif());
    assert_eq!(second.clock().now(), first.clock().now());
    assert_eq!(second.domains().len(), 2);
    assert_eq!(second.ready().seed, 9);
    assert_eq!(second.ready().admin_password_source, "snapshot");
    let again = second
        .managed_password_as_host("svc-web", "WEB01$")
        .unwrap()
        .unwrap();
    assert_eq!(again, password);
    for f in [&first, &second] {
        let dir = f.directory();
        dir.simple_bind("CORP\\alice", b"Alice-Passw0rd!")
            .expect("the same password works");
        assert_eq!(
            dir.simple_bind("CORP\\alice", b"wrong").unwrap_err().code,
            code::INVALID_CREDENTIALS
        );
        dir.simple_bind("Administrator@child.corp.example.test", b"Adsim-Passw0rd!")
            .expect("child domain admin");
    }
    assert_eq!(next_user_sid(&first, "dave"), next_user_sid(&second, "dave"));
    assert_eq!(second.export_ldif(), first.export_ldif());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn managed_password_and_cmdlets_as_an_account() {
    let forest = Forest::builder()
        .seed(5)
        .start_time_rfc3339(START)
        .child_domain_with_netbios("child", "KID")
        .start()
        .await
        .unwrap();
    let ps = forest.cmdlets();
    ps.new_ad_computer("WEB01", "Host-Passw0rd!", None).unwrap();
    ps.new_ad_computer("APP01", "Host-Passw0rd!", Some("child.corp.example.test"))
        .unwrap();
    ps.new_ad_user("eve", "Eve-Passw0rd!", None).unwrap();
    ps.new_ad_service_account(&NewServiceAccount {
        name: "svc-web".into(),
        dns_host_name: Some("svc-web.corp.example.test".into()),
        allowed_principals: vec!["WEB01$".into()],
        ..Default::default()
    })
    .unwrap();

    let blob = forest
        .managed_password_as_host("svc-web$", "CORP\\WEB01$")
        .unwrap()
        .expect("the allowed host gets the password");
    assert_eq!(blob.current.len(), 256);
    assert!(
        blob.previous.is_none(),
        "no previous password in the first interval"
    );
    // The host's blob opens the account: its NT hash is the stored one.
    let st = forest.directory().read();
    let id = forest.directory().resolve_account(&st, "CORP\\svc-web$").unwrap();
    let stored = st.store.get(id).unwrap().secrets.clone().unwrap();
    drop(st);
    assert_eq!(blob.current_nt_hash(), stored.nt_hash);

    assert!(forest
        .managed_password_as_host("svc-web", "eve")
        .unwrap()
        .is_none());
    assert!(forest
        .managed_password_as_host("svc-web", "KID\\APP01")
        .unwrap()
        .is_none());
    assert!(matches!(
        forest.managed_password_as_host("svc-web", "nobody"),
        Err(ForestError::UnknownAccount(_))
    ));

    // A plain user may not create a gMSA; the Administrator may.
    let refused = forest
        .cmdlets_as("eve")
        .unwrap()
        .new_ad_service_account(&NewServiceAccount {
            name: "svc-eve".into(),
            dns_host_name: Some("svc-eve.corp.example.test".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(&refused, CmdletError::Directory(e) if e.code == code::INSUFFICIENT_ACCESS_RIGHTS),
        "{refused}"
    );
    let admin = forest.admin();
    assert_eq!(admin.down_level, "CORP\\Administrator");
    forest
        .cmdlets_as(&admin.upn)
        .unwrap()
        .new_ad_service_account(&NewServiceAccount {
            name: "svc-adm".into(),
            dns_host_name: Some("svc-adm.corp.example.test".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(format!("{admin:?}").contains("<redacted>"));
    assert!(!format!("{admin:?}").contains(&admin.password));
    assert_eq!(
        forest.admin_of("KID").unwrap().upn,
        "Administrator@child.corp.example.test"
    );

    let conf = forest.krb5_conf();
    assert!(conf.contains(&forest.kdc_addrs()[1].to_string()), "{conf}");
    assert!(std::fs::read_to_string(forest.ca_path())
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    assert_eq!(
        forest.domain_endpoint("KID").unwrap().realm,
        "CHILD.CORP.EXAMPLE.TEST"
    );
}

#[tokio::test]
async fn settings_errors_and_root_key_modes() {
    let err = Forest::builder()
        .start_time_rfc3339("yesterday")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, ForestError::Settings(_)), "{err}");
    let err = Forest::builder()
        .fixture("/nonexistent/adsim.ldif")
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/adsim.ldif"), "{err}");

    // Without a root key a gMSA cannot be created, as on a fresh Windows forest.
    let forest = Forest::builder()
        .kds_root_key(KdsRootKeyMode::None)
        .start_time_rfc3339(START)
        .start()
        .await
        .unwrap();
    let refused = forest.cmdlets().new_ad_service_account(&NewServiceAccount {
        name: "svc".into(),
        dns_host_name: Some("svc.corp.example.test".into()),
        ..Default::default()
    });
    assert!(refused.is_err());
    assert!(forest.clock().is_frozen());
    let running = Forest::builder().start().await.unwrap();
    assert!(!running.clock().is_frozen());
}
