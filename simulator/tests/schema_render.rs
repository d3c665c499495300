//! Subschema values exactly as AD writes them (compared with a Windows Server 2012 R2 subschema).

use adsim_simulator::schema::Schema;

fn find<'a>(lines: &'a [String], name: &str) -> &'a str {
    let needle = format!(" NAME '{name}'");
    lines
        .iter()
        .find(|l| l.contains(&format!("{needle} ")) || l.ends_with(&format!("{needle})")))
        .unwrap_or_else(|| panic!("{name} not rendered"))
}

#[test]
fn attribute_types_match_ad_text() {
    let lines = Schema::ad().render_attribute_types();
    let cases = [
        (
            "msDS-ManagedPassword",
            "( 1.2.840.113556.1.4.2196 NAME 'msDS-ManagedPassword' SYNTAX '1.3.6.1.4.1.1466.115.121.1.40' SINGLE-VALUE )",
        ),
        (
            "objectSid",
            "( 1.2.840.113556.1.4.146 NAME 'objectSid' SYNTAX '1.3.6.1.4.1.1466.115.121.1.40' SINGLE-VALUE NO-USER-MODIFICATION )",
        ),
        ("member", "( 2.5.4.31 NAME 'member' SYNTAX '1.3.6.1.4.1.1466.115.121.1.12' )"),
        (
            "nTSecurityDescriptor",
            "( 1.2.840.113556.1.2.281 NAME 'nTSecurityDescriptor' SYNTAX '1.2.840.113556.1.4.907' SINGLE-VALUE )",
        ),
        (
            "whenCreated",
            "( 1.2.840.113556.1.2.2 NAME 'whenCreated' SYNTAX '1.3.6.1.4.1.1466.115.121.1.24' SINGLE-VALUE NO-USER-MODIFICATION )",
        ),
        ("repsFrom", "( 1.2.840.113556.1.2.91 NAME 'repsFrom' SYNTAX 'OctetString' NO-USER-MODIFICATION )"),
        (
            "msDS-GroupMSAMembership",
            "( 1.2.840.113556.1.4.2200 NAME 'msDS-GroupMSAMembership' SYNTAX '1.2.840.113556.1.4.907' SINGLE-VALUE )",
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(find(&lines, name), expected);
    }
    assert_eq!(lines.len(), Schema::ad().attributes().count());
}

#[test]
fn object_classes_match_ad_text() {
    let lines = Schema::ad().render_object_classes();
    assert_eq!(
        find(&lines, "msDS-GroupManagedServiceAccount"),
        "( 1.2.840.113556.1.5.282 NAME 'msDS-GroupManagedServiceAccount' SUP computer STRUCTURAL \
         MUST (msDS-ManagedPasswordInterval ) \
         MAY (msDS-GroupMSAMembership $ msDS-ManagedPasswordPreviousId $ msDS-ManagedPasswordId $ msDS-ManagedPassword ) )"
    );
    assert!(find(&lines, "top").starts_with(
        "( 2.5.6.0 NAME 'top'  ABSTRACT MUST (objectClass $ objectCategory $ nTSecurityDescriptor $ instanceType ) MAY ("
    ));
    assert_eq!(
        find(&lines, "domain"),
        "( 1.2.840.113556.1.5.66 NAME 'domain' SUP top ABSTRACT MUST (dc ) )"
    );
    assert_eq!(
        find(&lines, "builtinDomain"),
        "( 1.2.840.113556.1.5.4 NAME 'builtinDomain' SUP top STRUCTURAL )"
    );
    // 88 classes are published as STRUCTURAL.
    assert!(find(&lines, "person").starts_with("( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST (cn ) MAY ("));
    assert!(find(&lines, "securityPrincipal")
        .contains(" SUP top AUXILIARY MUST (sAMAccountName $ objectSid ) MAY ("));
    assert_eq!(lines.len(), Schema::ad().classes().count());
}

#[test]
fn dit_content_rules_match_ad_text() {
    let s = Schema::ad();
    let lines = s.render_dit_content_rules();
    let user = find(&lines, "user");
    assert!(
        user.starts_with("( 1.2.840.113556.1.5.9 NAME 'user' AUX ( "),
        "{user}"
    );
    assert!(user.contains(" securityPrincipal ") && user.contains(" mailRecipient "));
    assert!(
        user.contains(" MUST (sAMAccountName $ objectSid ) MAY ("),
        "{user}"
    );
    assert!(user.ends_with(" ))"), "{user}");
    let aux_count = s
        .classes()
        .filter(|c| c.kind == adsim_simulator::schema::ClassKind::Auxiliary)
        .count();
    assert_eq!(
        user.split(" AUX ( ")
            .nth(1)
            .unwrap()
            .split(" )")
            .next()
            .unwrap()
            .split(" $ ")
            .count(),
        aux_count
    );
    assert_eq!(find(&lines, "top"), "( 2.5.6.0 NAME 'top')");
    assert_eq!(
        find(&lines, "securityPrincipal"),
        "( 1.2.840.113556.1.5.6 NAME 'securityPrincipal')"
    );
    assert_eq!(
        find(&lines, "samDomain"),
        "( 1.2.840.113556.1.5.3 NAME 'samDomain' MAY (uASCompat $ serverState $ serverRole $ oEMInformation $ \
         objectSid $ modifiedCount $ forceLogoff $ domainReplica ))"
    );
    // A class with no attached auxiliary classes: only the AUX list.
    assert!(find(&lines, "container")
        .ends_with(" samDomainBase $ securityPrincipal $ shadowAccount $ simpleSecurityObject ))"));
    // group picks up cn as MUST from mailRecipient: group's own chain only has it as MAY.
    assert!(find(&lines, "group").contains(" MUST (cn $ sAMAccountName $ objectSid ) "));
    assert_eq!(lines.len(), s.classes().count());
}
