//! The AD schema's facts and lookups: names, OIDs, GUIDs, link IDs, flags, class structure.

use adsim_simulator::schema::{ClassKind, Schema, Syntax};
use uuid::Uuid;

fn guid(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("test GUID")
}

#[test]
fn attributes_are_found_by_any_case_by_oid_and_with_options() {
    let s = Schema::ad();
    let a = s.attribute("MSDS-MANAGEDPASSWORD").expect("by upper-case name");
    assert_eq!(a.name, "msDS-ManagedPassword");
    assert_eq!(a.oid, "1.2.840.113556.1.4.2196");
    assert_eq!(
        s.attribute("1.2.840.113556.1.4.2196").map(|a| a.name),
        Some("msDS-ManagedPassword")
    );
    assert_eq!(
        s.attribute("userCertificate;binary").map(|a| a.name),
        Some("userCertificate")
    );
    assert_eq!(s.attribute("member;range=0-1499").map(|a| a.name), Some("member"));
    assert!(s.attribute("noSuchAttribute").is_none());
    assert!(s.attribute("").is_none());
    assert!(s.attribute("dn").is_none(), "AD has no `dn` attribute");
}

#[test]
fn gmsa_attributes_carry_the_real_ad_definitions() {
    let s = Schema::ad();
    let cases = [
        (
            "msDS-ManagedPassword",
            "1.2.840.113556.1.4.2196",
            Syntax::OctetString,
        ),
        (
            "msDS-ManagedPasswordId",
            "1.2.840.113556.1.4.2197",
            Syntax::OctetString,
        ),
        (
            "msDS-ManagedPasswordPreviousId",
            "1.2.840.113556.1.4.2198",
            Syntax::OctetString,
        ),
        (
            "msDS-ManagedPasswordInterval",
            "1.2.840.113556.1.4.2199",
            Syntax::Integer,
        ),
        (
            "msDS-GroupMSAMembership",
            "1.2.840.113556.1.4.2200",
            Syntax::NtSecurityDescriptor,
        ),
        (
            "msDS-KeyVersionNumber",
            "1.2.840.113556.1.4.1782",
            Syntax::Integer,
        ),
        (
            "msDS-SupportedEncryptionTypes",
            "1.2.840.113556.1.4.1963",
            Syntax::Integer,
        ),
        ("objectSid", "1.2.840.113556.1.4.146", Syntax::Sid),
        ("member", "2.5.4.31", Syntax::DsDn),
        ("whenCreated", "1.2.840.113556.1.2.2", Syntax::GeneralizedTime),
        ("accountExpires", "1.2.840.113556.1.4.159", Syntax::LargeInteger),
        ("wellKnownObjects", "1.2.840.113556.1.4.618", Syntax::DnBinary),
    ];
    for (name, oid, syntax) in cases {
        let a = s.attribute(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!((a.oid, a.syntax), (oid, syntax), "{name}");
    }
    let pwd = s.attribute("msDS-ManagedPassword").unwrap();
    assert!(pwd.single_valued && pwd.constructed() && pwd.hidden_from_star() && !pwd.system_only);
    assert!(!pwd.in_partial_attribute_set);
    let id = s.attribute("msDS-ManagedPasswordId").unwrap();
    assert!(
        id.system_only && id.range_upper == Some(1024),
        "MS-ADA2: systemOnly, rangeUpper 1024"
    );
    assert_eq!(
        s.attribute("msDS-GroupMSAMembership").unwrap().range_upper,
        Some(132096)
    );
    assert!(s.attribute("msDS-KeyVersionNumber").unwrap().constructed());
    assert!(s.attribute("msDS-ManagedPasswordInterval").unwrap().system_only);
}

#[test]
fn schema_id_guids_match_the_published_ones() {
    let s = Schema::ad();
    let cases = [
        ("msDS-ManagedPassword", "e362ed86-b728-0842-b27d-2dea7a9df218"),
        ("msDS-GroupMSAMembership", "888eedd6-ce04-df40-b462-b8a50e41ba38"),
        ("member", "bf9679c0-0de6-11d0-a285-00aa003049e2"),
        ("servicePrincipalName", "f3a64788-5306-11d1-a9c5-0000f80367c1"),
        ("dNSHostName", "72e39547-7b18-11d1-adef-00c04fd8d5cd"),
        ("userAccountControl", "bf967a68-0de6-11d0-a285-00aa003049e2"),
        ("unicodePwd", "bf9679e1-0de6-11d0-a285-00aa003049e2"),
        ("supplementalCredentials", "bf967a3f-0de6-11d0-a285-00aa003049e2"),
        ("attributeSyntax", "bf967925-0de6-11d0-a285-00aa003049e2"),
    ];
    for (name, text) in cases {
        assert_eq!(s.attribute(name).unwrap().schema_id_guid, guid(text), "{name}");
    }
    // Property sets for object ACEs: userAccountControl is in User-Account-Restrictions.
    assert_eq!(
        s.attribute("userAccountControl").unwrap().attribute_security_guid,
        Some(guid("4c164200-20c0-11d0-a768-00aa006e0529"))
    );
    assert_eq!(
        s.class("msDS-GroupManagedServiceAccount").unwrap().schema_id_guid,
        guid("7b8b558a-93a5-4af7-adca-c017e67f1057")
    );
    assert_eq!(
        s.class("user").unwrap().schema_id_guid,
        guid("bf967aba-0de6-11d0-a285-00aa003049e2")
    );
    assert_eq!(
        s.class("computer").unwrap().schema_id_guid,
        guid("bf967a86-0de6-11d0-a285-00aa003049e2")
    );
}

#[test]
fn link_ids_pair_forward_and_back_links() {
    let s = Schema::ad();
    let member = s.attribute("member").unwrap();
    let member_of = s.attribute("memberOf").unwrap();
    assert_eq!((member.link_id, member_of.link_id), (Some(2), Some(3)));
    assert!(member.is_forward_link() && member_of.is_back_link());
    let host = s.attribute("msDS-HostServiceAccount").unwrap();
    let host_bl = s.attribute("msDS-HostServiceAccountBL").unwrap();
    assert_eq!(host_bl.link_id, host.link_id.map(|id| id + 1));
    assert!(s.attribute("sAMAccountName").unwrap().link_id.is_none());
}

#[test]
fn flags_drive_star_global_catalog_and_secrecy() {
    let s = Schema::ad();
    let flag = |n: &str| s.attribute(n).unwrap();
    for constructed in [
        "tokenGroups",
        "canonicalName",
        "createTimeStamp",
        "modifyTimeStamp",
        "allowedAttributes",
    ] {
        assert!(flag(constructed).constructed(), "{constructed}");
    }
    assert!(flag("nTSecurityDescriptor").hidden_from_star() && !flag("nTSecurityDescriptor").constructed());
    for plain in ["sAMAccountName", "objectSid", "member", "userAccountControl"] {
        assert!(!flag(plain).hidden_from_star(), "{plain}");
    }
    assert!(flag("sAMAccountName").in_partial_attribute_set && flag("objectSid").in_partial_attribute_set);
    assert!(!flag("unicodePwd").in_partial_attribute_set && !flag("pwdLastSet").in_partial_attribute_set);
    assert!(flag("unicodePwd").is_secret() && flag("supplementalCredentials").is_secret());
    assert!(!flag("msDS-ManagedPassword").is_secret());
    assert!(flag("msKds-RootKeyData").confidential());
    assert!(flag("sAMAccountName").indexed());
    assert!(
        flag("objectSid").system_only && flag("whenCreated").system_only && !flag("description").system_only
    );
}

#[test]
fn attribute_ids_follow_the_default_prefix_table() {
    let s = Schema::ad();
    // As printed by Windows in `Att 90290 (userPrincipalName)` / `Att 90303 (servicePrincipalName)`.
    let id = |n: &str| s.attribute(n).unwrap().attribute_id();
    assert_eq!(id("userPrincipalName"), Some(0x90290));
    assert_eq!(id("servicePrincipalName"), Some(0x90303));
    assert_eq!(id("unicodePwd"), Some(0x9005a));
    assert_eq!(id("cn"), Some(0x3));
    assert_eq!(id("memberOf"), Some(0x20066));
    assert_eq!(id("msDS-ManagedPassword"), Some(0x90894));
    // RFC 2307 attributes live under a prefix outside the default table.
    assert_eq!(id("uidNumber"), None);
}

#[test]
fn kds_attributes_have_the_syntaxes_the_key_service_needs() {
    let s = Schema::ad();
    let cases = [
        ("msKds-Version", Syntax::Integer),
        ("msKds-RootKeyData", Syntax::OctetString),
        ("msKds-KDFAlgorithmID", Syntax::UnicodeString),
        ("msKds-KDFParam", Syntax::OctetString),
        ("msKds-CreateTime", Syntax::LargeInteger),
        ("msKds-UseStartTime", Syntax::LargeInteger),
        ("msKds-DomainID", Syntax::DsDn),
        ("msKds-SecretAgreementAlgorithmID", Syntax::UnicodeString),
        ("msKds-SecretAgreementParam", Syntax::OctetString),
        ("msKds-PublicKeyLength", Syntax::Integer),
        ("msKds-PrivateKeyLength", Syntax::Integer),
    ];
    for (name, syntax) in cases {
        let a = s.attribute(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(a.syntax, syntax, "{name}");
        assert!(a.single_valued, "{name}");
    }
    let root_key = s.class("msKds-ProvRootKey").unwrap();
    assert!(root_key.may.contains(&"msKds-RootKeyData") || root_key.must.contains(&"msKds-RootKeyData"));
}

#[test]
fn classes_are_found_by_name_oid_and_cn() {
    let s = Schema::ad();
    assert_eq!(s.class("USER").map(|c| c.oid), Some("1.2.840.113556.1.5.9"));
    assert_eq!(
        s.class("1.2.840.113556.1.5.282").map(|c| c.name),
        Some("msDS-GroupManagedServiceAccount")
    );
    assert_eq!(s.class_by_cn("person").map(|c| c.name), Some("person"));
    assert_eq!(
        s.class_by_cn("ms-DS-Group-Managed-Service-Account")
            .map(|c| c.name),
        Some("msDS-GroupManagedServiceAccount")
    );
    assert!(s.class("Group-Managed").is_none());
    for name in [
        "top",
        "domain",
        "domainDNS",
        "container",
        "organizationalUnit",
        "person",
        "organizationalPerson",
        "user",
        "computer",
        "group",
        "msDS-GroupManagedServiceAccount",
        "msDS-ManagedServiceAccount",
        "msKds-ProvRootKey",
        "msKds-ProvServerConfiguration",
        "foreignSecurityPrincipal",
        "builtinDomain",
        "crossRef",
        "crossRefContainer",
        "configuration",
        "dMD",
        "classSchema",
        "attributeSchema",
        "subSchema",
        "site",
        "sitesContainer",
        "server",
        "serversContainer",
        "nTDSDSA",
        "nTDSService",
        "rIDManager",
        "rIDSet",
        "lostAndFound",
        "infrastructureUpdate",
        "samServer",
        "secret",
        "trustedDomain",
    ] {
        assert!(s.class(name).is_some(), "class {name} missing");
    }
}

#[test]
fn gmsa_class_chain_runs_from_top_down() {
    let s = Schema::ad();
    let chain: Vec<&str> = s
        .class_chain("msds-groupmanagedserviceaccount")
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        chain,
        [
            "top",
            "person",
            "organizationalPerson",
            "user",
            "computer",
            "msDS-GroupManagedServiceAccount"
        ]
    );
    assert_eq!(s.object_class_values("domainDNS"), ["top", "domain", "domainDNS"]);
    assert!(s.class_chain("noSuchClass").is_empty());
    let gmsa = s.class("msDS-GroupManagedServiceAccount").unwrap();
    assert_eq!(gmsa.kind, ClassKind::Structural);
    assert_eq!(gmsa.must, ["msDS-ManagedPasswordInterval"]);
    for sup in ["container", "organizationalUnit", "domainDNS"] {
        assert!(gmsa.poss_superiors.contains(&sup), "{sup}");
    }
    assert_eq!(s.class("person").unwrap().kind, ClassKind::Type88);
    assert_eq!(s.class("top").unwrap().kind, ClassKind::Abstract);
    assert_eq!(s.class("securityPrincipal").unwrap().kind, ClassKind::Auxiliary);
}

#[test]
fn default_object_category_names_a_class_in_the_schema_nc() {
    let s = Schema::ad();
    let nc = "CN=Schema,CN=Configuration,DC=corp,DC=example,DC=test";
    assert_eq!(
        s.class("user").unwrap().default_object_category_dn(nc),
        "CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=test"
    );
    assert_eq!(s.class("computer").unwrap().default_object_category, "Computer");
    let gmsa = s.class("msDS-GroupManagedServiceAccount").unwrap();
    assert_eq!(
        gmsa.default_object_category,
        "ms-DS-Group-Managed-Service-Account"
    );
    assert!(gmsa.default_security_descriptor.starts_with("D:"));
    for c in s.classes() {
        assert!(s.class_by_cn(c.default_object_category).is_some(), "{}", c.name);
    }
}

#[test]
fn required_and_allowed_attributes_cover_chain_and_auxiliary_classes() {
    let s = Schema::ad();
    let required = s.required_attributes(&["top", "person", "organizationalPerson", "user"]);
    for name in [
        "cn",
        "objectClass",
        "objectCategory",
        "nTSecurityDescriptor",
        "instanceType",
        "objectSid",
        "sAMAccountName",
    ] {
        assert!(
            required.contains(&name),
            "{name} should be required for user: {required:?}"
        );
    }
    let allowed = s.allowed_attributes(&["user"]);
    for name in [
        "userAccountControl",
        "mail",
        "servicePrincipalName",
        "msDS-SupportedEncryptionTypes",
        "memberOf",
        "info",
    ] {
        assert!(allowed.contains(&name), "{name} should be allowed for user");
    }
    assert!(!allowed.contains(&"msDS-ManagedPassword"));
    let gmsa = s.allowed_attributes(&["msDS-GroupManagedServiceAccount"]);
    for name in [
        "msDS-ManagedPassword",
        "msDS-GroupMSAMembership",
        "dNSHostName",
        "sAMAccountName",
    ] {
        assert!(gmsa.contains(&name), "{name} should be allowed for a gMSA");
    }
    let domain = s.allowed_attributes(&["domainDNS"]);
    for name in [
        "nETBIOSName",
        "ms-DS-MachineAccountQuota",
        "maxPwdAge",
        "objectSid",
        "wellKnownObjects",
        "msDS-Behavior-Version",
    ] {
        assert!(domain.contains(&name), "{name} should be allowed on domainDNS");
    }
}

#[test]
fn every_name_a_class_references_is_defined() {
    let s = Schema::ad();
    let mut oids = std::collections::HashSet::new();
    for a in s.attributes() {
        assert!(oids.insert(a.oid), "duplicate OID {}", a.oid);
    }
    for c in s.classes() {
        assert!(oids.insert(c.oid), "duplicate OID {}", c.oid);
        for name in c
            .must
            .iter()
            .chain(c.may.iter())
            .chain(std::iter::once(&c.rdn_att_id))
        {
            assert!(s.attribute(name).is_some(), "{}: attribute {name}", c.name);
        }
        for name in c
            .poss_superiors
            .iter()
            .chain(c.aux_classes.iter())
            .chain(std::iter::once(&c.sub_class_of))
        {
            assert!(s.class(name).is_some(), "{}: class {name}", c.name);
        }
        assert_eq!(
            s.class_chain(c.name).first().map(|t| t.name),
            Some("top"),
            "{}",
            c.name
        );
    }
    assert!(s.attributes().count() > 1400 && s.classes().count() > 250);
}
