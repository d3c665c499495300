use adsim_simulator::dsa::search::{Scope, SearchRequest, View};
use adsim_simulator::dsa::{ChildDomainConfig, Directory, ForestConfig};
use adsim_simulator::model::filter::Filter;

fn search(
    dir: &Directory,
    caller: &adsim_simulator::dsa::Caller,
    base: &str,
    scope: Scope,
    filter: Filter,
    attrs: &[&str],
) -> adsim_simulator::dsa::search::SearchOutput {
    dir.search(
        caller,
        &SearchRequest {
            base: base.into(),
            scope,
            filter,
            attrs: attrs.iter().map(|s| s.to_string()).collect(),
            types_only: false,
            size_limit: 0,
            view: View::Dc { domain: 0 },
        },
    )
    .unwrap()
}

#[test]
fn default_forest_has_well_known_principals_and_admin_can_bind_three_ways() {
    let dir = Directory::provision(&ForestConfig {
        seed: Some(7),
        ..Default::default()
    })
    .unwrap();
    let d = dir.forest.root().clone();
    for name in [
        "CN=Administrator,CN=Users,DC=corp,DC=example,DC=test".to_string(),
        "Administrator@corp.example.test".to_string(),
        "CORP\\Administrator".to_string(),
    ] {
        let c = dir.simple_bind(&name, b"Adsim-Passw0rd!").unwrap();
        assert!(c.has_sid(&d.sid.with_rid(512)), "{name} is a Domain Admin");
        assert!(c.has_sid(&d.sid.with_rid(519)), "{name} is an Enterprise Admin");
    }
    let err = dir.simple_bind("CORP\\Administrator", b"wrong").unwrap_err();
    assert_eq!(err.code, 49);
    assert!(err.text.contains("data 52e"));
    let err = dir.simple_bind("CORP\\Guest", b"x").unwrap_err();
    assert_eq!(err.code, 49);

    let admin = dir
        .simple_bind("CORP\\Administrator", b"Adsim-Passw0rd!")
        .unwrap();
    let out = search(
        &dir,
        &admin,
        &d.dn.to_string(),
        Scope::Subtree,
        Filter::EqualityMatch("sAMAccountName".into(), b"krbtgt".to_vec()),
        &["objectSid", "memberOf"],
    );
    assert_eq!(out.entries.len(), 1);
    // String SID filter and in-chain rule.
    let sid = format!("{}", d.sid.with_rid(500));
    let out = search(
        &dir,
        &admin,
        &d.dn.to_string(),
        Scope::Subtree,
        Filter::EqualityMatch("objectSid".into(), sid.into_bytes()),
        &["cn"],
    );
    assert_eq!(
        out.entries[0].dn,
        "CN=Administrator,CN=Users,DC=corp,DC=example,DC=test"
    );
    let out = search(
        &dir,
        &admin,
        &d.dn.to_string(),
        Scope::Subtree,
        Filter::ExtensibleMatch {
            rule: Some("1.2.840.113556.1.4.1941".into()),
            attr: Some("memberOf".into()),
            value: b"CN=Administrators,CN=Builtin,DC=corp,DC=example,DC=test".to_vec(),
            dn_attributes: false,
        },
        &["1.1"],
    );
    let dns: Vec<_> = out.entries.iter().map(|e| e.dn.clone()).collect();
    assert!(
        dns.contains(&"CN=Administrator,CN=Users,DC=corp,DC=example,DC=test".to_string()),
        "{dns:?}"
    );
    assert!(dns.contains(&"CN=Domain Admins,CN=Users,DC=corp,DC=example,DC=test".to_string()));
    // Anonymous may not search below the rootDSE.
    let anon = adsim_simulator::dsa::Caller::anonymous();
    assert_eq!(
        dir.search(
            &anon,
            &SearchRequest {
                base: d.dn.to_string(),
                scope: Scope::Base,
                filter: Filter::Present("objectClass".into()),
                attrs: vec![],
                types_only: false,
                size_limit: 0,
                view: View::Dc { domain: 0 }
            }
        )
        .unwrap_err()
        .code,
        1
    );
}

#[test]
fn same_seed_gives_same_forest_and_child_domains_get_referrals() {
    let cfg = ForestConfig {
        seed: Some(42),
        children: vec![ChildDomainConfig {
            label: "child".into(),
            netbios: None,
        }],
        ..Default::default()
    };
    let a = Directory::provision(&cfg).unwrap();
    let b = Directory::provision(&cfg).unwrap();
    assert_eq!(a.forest.domains[1].sid, b.forest.domains[1].sid);
    assert_eq!(a.forest.domains[1].dns_name, "child.corp.example.test");
    let admin = a.simple_bind("CORP\\Administrator", b"Adsim-Passw0rd!").unwrap();
    let err = a
        .search(
            &admin,
            &SearchRequest {
                base: "DC=child,DC=corp,DC=example,DC=test".into(),
                scope: Scope::Base,
                filter: Filter::Present("objectClass".into()),
                attrs: vec![],
                types_only: false,
                size_limit: 0,
                view: View::Dc { domain: 0 },
            },
        )
        .unwrap_err();
    assert_eq!(err.code, 10);
    let out = search(
        &a,
        &admin,
        "DC=corp,DC=example,DC=test",
        Scope::Subtree,
        Filter::EqualityMatch("sAMAccountName".into(), b"Administrator".to_vec()),
        &["1.1"],
    );
    assert_eq!(
        out.entries.len(),
        1,
        "the child's Administrator is not in the root DC's view"
    );
    assert!(out
        .references
        .iter()
        .any(|r| r.to_string().starts_with("DC=child")));
}
