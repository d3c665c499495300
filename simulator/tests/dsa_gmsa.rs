//! The gMSA life cycle in the directory, on a frozen simulated clock.

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::request::{ModOp, Modification, Scope, SearchRequest, View};
use adsim_simulator::dsa::{Caller, ChildDomainConfig, Directory, ForestConfig, KdsRootKeyMode};
use adsim_simulator::gmsa::{self, ManagedPasswordBlob, ManagedPasswordId};
use adsim_simulator::model::filter::Filter;
use adsim_simulator::security::{sddl, AliasDomains, Sid};

const BASE: &str = "DC=corp,DC=example,DC=test";
const PW: &str = "Adsim-Passw0rd!";

fn forest(mode: KdsRootKeyMode) -> std::sync::Arc<Directory> {
    Directory::provision(&ForestConfig {
        seed: Some(3),
        start_time: NtTime::parse_rfc3339("2026-03-01T12:00:00Z"),
        kds_root_key: mode,
        children: vec![ChildDomainConfig {
            label: "child".into(),
            netbios: None,
        }],
        ..Default::default()
    })
    .unwrap()
}

fn admin(dir: &Directory, domain: &str) -> Caller {
    dir.simple_bind(&format!("{domain}\\Administrator"), PW.as_bytes())
        .unwrap()
        .with_encryption(true)
}

fn s(v: &str) -> Vec<Vec<u8>> {
    vec![v.as_bytes().to_vec()]
}

fn quoted(pw: &str) -> Vec<Vec<u8>> {
    vec![format!("\"{pw}\"")
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect()]
}

fn sid_of(dir: &Directory, dn: &str) -> Sid {
    let st = dir.read();
    let e = st
        .store
        .get_by_dn(&adsim_simulator::model::Dn::parse(dn).unwrap())
        .unwrap();
    Sid::from_bytes(e.first("objectSid").unwrap()).unwrap()
}

fn membership_sd(dir: &Directory, allowed: &Sid) -> Vec<u8> {
    let ctx = AliasDomains::single(dir.forest.root().sid.clone());
    sddl::parse(&format!("O:S-1-5-32-544D:(A;;0x0f01ff;;;{allowed})"), &ctx)
        .unwrap()
        .to_bytes()
        .unwrap()
}

/// Group WebHosts with computer WEB01$ in it; WEB02$ outside; gMSA svc-web$ for WebHosts.
fn setup(dir: &Directory) {
    let a = admin(dir, "CORP");
    dir.add(
        &a,
        &format!("CN=WebHosts,CN=Users,{BASE}"),
        vec![("objectClass".into(), s("group"))],
    )
    .unwrap();
    for host in ["WEB01", "WEB02"] {
        dir.add(
            &a,
            &format!("CN={host},CN=Computers,{BASE}"),
            vec![
                ("objectClass".into(), s("computer")),
                ("sAMAccountName".into(), s(&format!("{host}$"))),
                ("userAccountControl".into(), s("4096")),
                ("unicodePwd".into(), quoted(&format!("{host}-Passw0rd!"))),
            ],
        )
        .unwrap();
    }
    dir.modify(
        &a,
        &format!("CN=WebHosts,CN=Users,{BASE}"),
        vec![Modification {
            op: ModOp::Add,
            attr: "member".into(),
            values: s(&format!("CN=WEB01,CN=Computers,{BASE}")),
        }],
    )
    .unwrap();
    let group = sid_of(dir, &format!("CN=WebHosts,CN=Users,{BASE}"));
    dir.add(
        &a,
        &format!("CN=svc-web,CN=Managed Service Accounts,{BASE}"),
        vec![
            ("objectClass".into(), s("msDS-GroupManagedServiceAccount")),
            ("sAMAccountName".into(), s("svc-web$")),
            ("dNSHostName".into(), s("svc-web.corp.example.test")),
            ("msDS-ManagedPasswordInterval".into(), s("30")),
            ("msDS-GroupMSAMembership".into(), vec![membership_sd(dir, &group)]),
        ],
    )
    .unwrap();
}

fn read(
    dir: &Directory,
    who: &Caller,
    attrs: &[&str],
) -> Result<adsim_simulator::dsa::search::AttributeList, adsim_simulator::dsa::DsError> {
    let out = dir.search(
        who,
        &SearchRequest {
            base: format!("CN=svc-web,CN=Managed Service Accounts,{BASE}"),
            scope: Scope::Base,
            filter: Filter::Present("objectClass".into()),
            attrs: attrs.iter().map(|a| a.to_string()).collect(),
            types_only: false,
            size_limit: 0,
            view: View::Dc { domain: 0 },
        },
    )?;
    Ok(out.entries.into_iter().next().unwrap().attrs)
}

fn blob(dir: &Directory, who: &Caller) -> Option<ManagedPasswordBlob> {
    let attrs = read(dir, who, &["msDS-ManagedPassword"]).unwrap();
    attrs
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("msDS-ManagedPassword"))
        .map(|(_, v)| ManagedPasswordBlob::decode(&v[0]).unwrap())
}

fn host(dir: &Directory, name: &str, encrypted: bool) -> Caller {
    dir.simple_bind(&format!("CORP\\{name}$"), format!("{name}-Passw0rd!").as_bytes())
        .unwrap()
        .with_encryption(encrypted)
}

#[test]
fn allowed_host_reads_the_password_refused_host_does_not_plain_ldap_fails() {
    let dir = forest(KdsRootKeyMode::Backdated);
    setup(&dir);
    let web01 = host(&dir, "WEB01", true);
    let b = blob(&dir, &web01).expect("allowed host gets the blob");
    assert!(b.previous.is_none(), "no previous password before one interval");
    // The KDS engine gives the same password for the stored id and the account SID.
    let attrs = read(
        &dir,
        &admin(&dir, "CORP"),
        &["msDS-ManagedPasswordId", "objectSid"],
    )
    .unwrap();
    let id = ManagedPasswordId::decode(
        &attrs
            .iter()
            .find(|(n, _)| n == "msDS-ManagedPasswordId")
            .unwrap()
            .1[0],
    )
    .unwrap();
    let sid = Sid::from_bytes(&attrs.iter().find(|(n, _)| n == "objectSid").unwrap().1[0]).unwrap();
    let keys = dir.root_keys(&dir.read());
    let root = keys.iter().find(|k| k.id == id.root_key_id).unwrap();
    let pw = gmsa::password_for(root, id.gkid, &sid, None).unwrap();
    assert_eq!(b.current_nt_hash(), pw.nt_hash());
    assert_eq!(id.domain, "corp.example.test");

    assert!(
        blob(&dir, &host(&dir, "WEB02", true)).is_none(),
        "a host outside the group gets no attribute"
    );
    let err = read(&dir, &host(&dir, "WEB01", false), &["msDS-ManagedPassword"]).unwrap_err();
    assert_eq!(err.code, 1);
    assert!(err.text.starts_with("0000202D"), "{}", err.text);
    // `*` never returns the constructed attribute.
    let all = read(&dir, &web01, &["*"]).unwrap();
    assert!(!all
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("msDS-ManagedPassword")));
}

#[test]
fn password_rotates_after_thirty_days_not_twenty_nine() {
    let dir = forest(KdsRootKeyMode::Backdated);
    setup(&dir);
    let web01 = host(&dir, "WEB01", true);
    let day0 = blob(&dir, &web01).unwrap();
    dir.clock.advance_seconds(29 * 86_400);
    let day29 = blob(&dir, &web01).unwrap();
    assert_eq!(day29.current, day0.current);
    assert!(day29.query_interval < day0.query_interval);
    dir.clock.advance_seconds(86_400);
    let day30 = blob(&dir, &web01).unwrap();
    assert_ne!(day30.current, day0.current);
    assert_eq!(
        day30.previous.as_ref(),
        Some(&day0.current),
        "previous = the old current"
    );
    let kvno = read(&dir, &admin(&dir, "CORP"), &["msDS-KeyVersionNumber"]).unwrap();
    assert_eq!(kvno[0].1[0], b"2");
    // Rotation persisted new ids: PreviousId now holds the first id.
    let ids = read(&dir, &admin(&dir, "CORP"), &["msDS-ManagedPasswordPreviousId"]).unwrap();
    assert_eq!(ids.len(), 1);
}

/// A search rolls over only the due gMSAs it reads (issue 12: a search's cost does not grow with
/// the number of gMSAs): after 31 days a search of a computer leaves the gMSA's stored ids and
/// key version as they were; the first search that reads the gMSA persists the rollover.
#[test]
fn a_search_rolls_over_only_the_gmsas_it_reads() {
    let dir = forest(KdsRootKeyMode::Backdated);
    setup(&dir);
    let a = admin(&dir, "CORP");
    let gmsa_dn =
        adsim_simulator::model::Dn::parse(&format!("CN=svc-web,CN=Managed Service Accounts,{BASE}")).unwrap();
    let stored_kvno = || {
        let st = dir.read();
        st.store
            .get_by_dn(&gmsa_dn)
            .unwrap()
            .secrets
            .as_ref()
            .unwrap()
            .kvno
    };
    dir.clock.advance_seconds(31 * 86_400);
    let computers = dir
        .search(
            &a,
            &SearchRequest {
                base: format!("CN=Computers,{BASE}"),
                scope: Scope::Subtree,
                filter: Filter::Present("objectClass".into()),
                attrs: vec!["cn".into()],
                types_only: false,
                size_limit: 0,
                view: View::Dc { domain: 0 },
            },
        )
        .unwrap();
    assert_eq!(
        computers.entries.len(),
        3,
        "Computers holds WEB01, WEB02 and its container"
    );
    assert_eq!(
        stored_kvno(),
        1,
        "a search that does not read the gMSA leaves it alone"
    );
    let kvno = read(&dir, &a, &["msDS-KeyVersionNumber"]).unwrap();
    assert_eq!(
        kvno[0].1[0], b"2",
        "the search that reads it sees the rolled-over entry"
    );
    assert_eq!(stored_kvno(), 2);
}

#[test]
fn creation_rules() {
    let dir = forest(KdsRootKeyMode::Backdated);
    setup(&dir);
    let a = admin(&dir, "CORP");
    // The interval can only be set at creation; a refused modify changes nothing.
    let err = dir
        .modify(
            &a,
            &format!("CN=svc-web,CN=Managed Service Accounts,{BASE}"),
            vec![Modification {
                op: ModOp::Replace,
                attr: "msDS-ManagedPasswordInterval".into(),
                values: s("7"),
            }],
        )
        .unwrap_err();
    assert_eq!(err.code, 19);
    // The Att field is the ATTRTYP from the prefix table (MS-DRSR 5.16.4): 1.2.840.113556.1.4.2199.
    assert!(
        err.text.contains("Att 90897 (msDS-ManagedPasswordInterval)"),
        "{}",
        err.text
    );
    let v = read(&dir, &a, &["msDS-ManagedPasswordInterval"]).unwrap();
    assert_eq!(v[0].1[0], b"30");
    // Forest-wide name uniqueness: the same name in the child domain is refused.
    let child = admin(&dir, "CHILD");
    let err = dir
        .add(
            &child,
            "CN=svc-web,CN=Managed Service Accounts,DC=child,DC=corp,DC=example,DC=test",
            vec![
                ("objectClass".into(), s("msDS-GroupManagedServiceAccount")),
                ("sAMAccountName".into(), s("svc-web$")),
                ("msDS-ManagedPasswordInterval".into(), s("30")),
            ],
        )
        .unwrap_err();
    assert_eq!(err.code, 68, "{err:?}");
    // A gMSA name without the trailing `$`: sAMAccountName is 1.2.840.113556.1.4.221 → 900dd.
    let err = dir
        .add(
            &a,
            &format!("CN=svc-nodollar,CN=Managed Service Accounts,{BASE}"),
            vec![
                ("objectClass".into(), s("msDS-GroupManagedServiceAccount")),
                ("sAMAccountName".into(), s("svc-nodollar")),
            ],
        )
        .unwrap_err();
    assert!(err.text.contains("Att 900dd (sAMAccountName)"), "{}", err.text);
    // Account Operators may create computers but not gMSAs.
    dir.add(
        &a,
        &format!("CN=opuser,CN=Users,{BASE}"),
        vec![
            ("objectClass".into(), s("user")),
            ("sAMAccountName".into(), s("opuser")),
            ("userAccountControl".into(), s("512")),
            ("unicodePwd".into(), quoted("Op-Passw0rd!")),
        ],
    )
    .unwrap();
    dir.modify(
        &a,
        &format!("CN=Account Operators,CN=Builtin,{BASE}"),
        vec![Modification {
            op: ModOp::Add,
            attr: "member".into(),
            values: s(&format!("CN=opuser,CN=Users,{BASE}")),
        }],
    )
    .unwrap();
    let op = dir
        .simple_bind("CORP\\opuser", b"Op-Passw0rd!")
        .unwrap()
        .with_encryption(true);
    let err = dir
        .add(
            &op,
            &format!("CN=svc-op,CN=Managed Service Accounts,{BASE}"),
            vec![
                ("objectClass".into(), s("msDS-GroupManagedServiceAccount")),
                ("msDS-ManagedPasswordInterval".into(), s("30")),
            ],
        )
        .unwrap_err();
    assert_eq!(err.code, 50);
    dir.add(
        &op,
        &format!("CN=PC1,CN=Computers,{BASE}"),
        vec![("objectClass".into(), s("computer"))],
    )
    .unwrap();
}

#[test]
fn effective_immediately_key_is_usable_only_ten_hours_later() {
    let dir = forest(KdsRootKeyMode::Immediate);
    let a = admin(&dir, "CORP");
    let add = |dir: &Directory| {
        dir.add(
            &a,
            &format!("CN=svc-x,CN=Managed Service Accounts,{BASE}"),
            vec![
                ("objectClass".into(), s("msDS-GroupManagedServiceAccount")),
                ("msDS-ManagedPasswordInterval".into(), s("30")),
            ],
        )
    };
    let err = add(&dir).unwrap_err();
    assert_eq!(err.code, 53, "{err:?}");
    assert!(err.text.starts_with("8009000D"), "{}", err.text);
    dir.clock.advance_seconds(10 * 3600);
    assert_eq!(add(&dir).unwrap_err().code, 53, "10 h is not enough: 10 h 05 min");
    dir.clock.advance_seconds(5 * 60);
    add(&dir).unwrap();
    // No key at all.
    let dir = forest(KdsRootKeyMode::None);
    assert_eq!(add(&dir).unwrap_err().code, 53);
    dir.add_kds_root_key(
        &Caller::system(),
        adsim_simulator::kds::Effective::At(NtTime(dir.clock.now().0 - 11 * 36_000_000_000)),
    )
    .unwrap();
    add(&dir).unwrap();
}

#[test]
fn nested_groups_grant_and_removal_revokes() {
    let dir = forest(KdsRootKeyMode::Backdated);
    setup(&dir);
    let a = admin(&dir, "CORP");
    // WEB02 joins via a nested group: Tier2 ∈ WebHosts, WEB02 ∈ Tier2.
    dir.add(
        &a,
        &format!("CN=Tier2,CN=Users,{BASE}"),
        vec![
            ("objectClass".into(), s("group")),
            ("member".into(), s(&format!("CN=WEB02,CN=Computers,{BASE}"))),
        ],
    )
    .unwrap();
    dir.modify(
        &a,
        &format!("CN=WebHosts,CN=Users,{BASE}"),
        vec![Modification {
            op: ModOp::Add,
            attr: "member".into(),
            values: s(&format!("CN=Tier2,CN=Users,{BASE}")),
        }],
    )
    .unwrap();
    assert!(
        blob(&dir, &host(&dir, "WEB02", true)).is_some(),
        "nested membership grants access to a new bind"
    );
    dir.modify(
        &a,
        &format!("CN=WebHosts,CN=Users,{BASE}"),
        vec![Modification {
            op: ModOp::Delete,
            attr: "member".into(),
            values: s(&format!("CN=Tier2,CN=Users,{BASE}")),
        }],
    )
    .unwrap();
    assert!(
        blob(&dir, &host(&dir, "WEB02", true)).is_none(),
        "removal revokes for new binds"
    );
}

#[test]
fn readme_example_membership_sd_allows_authenticated_users() {
    use base64::Engine;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("msDS-GroupMSAMembership:: "))
        .expect("README example");
    let b64 = line.trim_start_matches("msDS-GroupMSAMembership:: ");
    let sd = adsim_simulator::security::SecurityDescriptor::from_bytes(
        &base64::engine::general_purpose::STANDARD.decode(b64).unwrap(),
    )
    .unwrap();
    let text = sddl::format(&sd, &AliasDomains::none()).unwrap();
    assert_eq!(
        text, "O:BAD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;AU)",
        "0x000f01ff for Authenticated Users"
    );
}
