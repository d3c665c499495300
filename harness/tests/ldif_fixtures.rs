//! The sample fixture files and the user generator.

use std::collections::{HashMap, HashSet};

use adsim_harness::ldif::{
    generate_user_records, generate_users, parse, parse_file, write_all, AttrValue, LdifRecord,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
const BASE_DN: &str = "DC=corp,DC=example,DC=test";

fn values<'a>(attrs: &'a [AttrValue], name: &str) -> Vec<&'a str> {
    attrs
        .iter()
        .filter(|(a, _)| a.eq_ignore_ascii_case(name))
        .map(|(_, v)| std::str::from_utf8(v).expect("UTF-8 value"))
        .collect()
}

fn users_small() -> Vec<(String, Vec<AttrValue>)> {
    parse_file(format!("{FIXTURES}/users-small.ldif"))
        .expect("users-small.ldif parses")
        .into_iter()
        .map(|record| match record {
            LdifRecord::Content { dn, attrs } => (dn, attrs),
            other => panic!("users-small.ldif should hold content records only, found {other:?}"),
        })
        .collect()
}

#[test]
fn users_small_lives_in_the_default_domain_and_is_ordered() {
    let entries = users_small();
    let mut seen = HashSet::new();
    for (dn, attrs) in &entries {
        let lower = dn.to_ascii_lowercase();
        assert!(
            lower.ends_with(&format!(",{}", BASE_DN.to_ascii_lowercase())),
            "{dn}"
        );
        // Parents come first, and members are defined before the groups that list them.
        let parent = lower.split_once(',').unwrap().1.to_string();
        assert!(
            parent == BASE_DN.to_ascii_lowercase() || seen.contains(&parent),
            "{dn} before its parent"
        );
        for member in values(attrs, "member") {
            assert!(
                seen.contains(&member.to_ascii_lowercase()),
                "{dn} lists {member} before it exists"
            );
        }
        assert!(seen.insert(lower), "{dn} appears twice");
    }
}

#[test]
fn users_small_has_users_and_nested_groups() {
    let entries = users_small();
    let by_dn: HashMap<String, &Vec<AttrValue>> = entries
        .iter()
        .map(|(dn, attrs)| (dn.to_ascii_lowercase(), attrs))
        .collect();
    let users: Vec<_> = entries
        .iter()
        .filter(|(_, a)| values(a, "objectClass").contains(&"user"))
        .collect();
    assert_eq!(users.len(), 5);
    for (dn, attrs) in &users {
        let sam = values(attrs, "sAMAccountName");
        assert_eq!(sam.len(), 1, "{dn}");
        assert_eq!(
            values(attrs, "userPrincipalName"),
            vec![format!("{}@corp.example.test", sam[0])],
            "{dn}"
        );
        assert_eq!(
            values(attrs, "objectClass"),
            ["top", "person", "organizationalPerson", "user"],
            "{dn}"
        );
    }
    assert!(users
        .iter()
        .any(|(dn, _)| dn == "CN=Zoë Ødegård,OU=Sales,OU=Staff,DC=corp,DC=example,DC=test"));

    // alice → Engineers → All Staff → Company: follow memberOf upwards through `member`.
    let groups_containing = |dn: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|(_, a)| values(a, "member").iter().any(|m| m.eq_ignore_ascii_case(dn)))
            .map(|(g, _)| g.clone())
            .collect()
    };
    let mut chain = vec!["CN=Alice Adams,OU=Engineering,OU=Staff,DC=corp,DC=example,DC=test".to_string()];
    while let Some(next) = groups_containing(chain.last().unwrap()).into_iter().next() {
        chain.push(next);
    }
    let names: Vec<_> = chain.iter().map(|dn| dn.split(',').next().unwrap()).collect();
    assert_eq!(
        names,
        ["CN=Alice Adams", "CN=Engineers", "CN=All Staff", "CN=Company"]
    );
    for group in &chain[1..] {
        assert!(values(by_dn[&group.to_ascii_lowercase()], "objectClass").contains(&"group"));
    }
    let description = values(&users[0].1, "description");
    assert!(
        description[0].contains("RFC 2849 allows"),
        "folded description joined: {description:?}"
    );
}

#[test]
fn fixture_rewrites_deterministically() {
    let records = parse_file(format!("{FIXTURES}/users-small.ldif")).unwrap();
    let written = write_all(&records);
    assert_eq!(parse(&written).unwrap(), records);
    assert_eq!(write_all(&parse(&written).unwrap()), written);
}

#[test]
fn generated_users_for_paged_search_and_benchmarks() {
    for count in [2_000, 10_000] {
        let text = generate_users(&format!("CN=Users,{BASE_DN}"), count, 1);
        let records = parse(&text).unwrap();
        assert_eq!(records.len(), count);
        let mut names = HashSet::new();
        for record in &records {
            let LdifRecord::Content { dn, attrs } = record else {
                panic!("content expected")
            };
            let sam = values(attrs, "sAMAccountName")[0];
            assert!(names.insert(sam.to_string()), "duplicate {sam}");
            assert_eq!(dn, &format!("CN={sam},CN=Users,{BASE_DN}"));
            assert_eq!(values(attrs, "cn"), [sam]);
            assert_eq!(
                values(attrs, "userPrincipalName"),
                [format!("{sam}@corp.example.test")]
            );
            assert_eq!(
                values(attrs, "objectClass"),
                ["top", "person", "organizationalPerson", "user"]
            );
        }
        assert!(names.contains("user00001") && names.contains(&format!("user{count:05}")));
    }
}

#[test]
fn generator_numbering_and_determinism() {
    let records = generate_user_records("OU=Bench,DC=Child,DC=corp,DC=example,DC=test", 3, 99_999);
    let sams: Vec<_> = records
        .iter()
        .map(|r| match r {
            LdifRecord::Content { attrs, .. } => values(attrs, "sAMAccountName")[0].to_string(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(sams, ["user99999", "user100000", "user100001"]);
    let LdifRecord::Content { attrs, .. } = &records[0] else {
        unreachable!()
    };
    assert_eq!(
        values(attrs, "userPrincipalName"),
        ["user99999@child.corp.example.test"]
    );
    assert_eq!(
        generate_users("OU=X,DC=a,DC=test", 50, 7),
        generate_users("OU=X,DC=a,DC=test", 50, 7)
    );
    // Without DC= components there is no UPN suffix to derive.
    let LdifRecord::Content { attrs, .. } = &generate_user_records("O=Example", 1, 1)[0] else {
        unreachable!()
    };
    assert!(values(attrs, "userPrincipalName").is_empty());
    assert!(generate_user_records("O=Example", 0, 1).is_empty());
}
