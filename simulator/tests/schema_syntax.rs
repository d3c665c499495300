//! Per-syntax value rules: validation, equality normalisation, ordering, and the published OIDs.

use std::cmp::Ordering;

use adsim_simulator::schema::dn::{normalize_dn, parse_dn};
use adsim_simulator::schema::syntax::{sid_assertion_to_binary, ALL};
use adsim_simulator::schema::{Schema, Syntax};

fn ok(s: Syntax, v: &str) -> bool {
    s.validate(v.as_bytes()).is_ok()
}

fn norm(s: Syntax, v: &str) -> String {
    String::from_utf8(s.normalize(v.as_bytes())).expect("normalised text")
}

#[test]
fn published_ldap_syntax_oids() {
    let cases = [
        (Syntax::UnicodeString, "1.3.6.1.4.1.1466.115.121.1.15"),
        (Syntax::DsDn, "1.3.6.1.4.1.1466.115.121.1.12"),
        (Syntax::Integer, "1.3.6.1.4.1.1466.115.121.1.27"),
        (Syntax::Enumeration, "1.3.6.1.4.1.1466.115.121.1.27"),
        (Syntax::Boolean, "1.3.6.1.4.1.1466.115.121.1.7"),
        (Syntax::OctetString, "1.3.6.1.4.1.1466.115.121.1.40"),
        (Syntax::Sid, "1.3.6.1.4.1.1466.115.121.1.40"),
        (Syntax::GeneralizedTime, "1.3.6.1.4.1.1466.115.121.1.24"),
        (Syntax::UtcTime, "1.3.6.1.4.1.1466.115.121.1.53"),
        (Syntax::ObjectIdentifier, "1.3.6.1.4.1.1466.115.121.1.38"),
        (Syntax::LargeInteger, "1.2.840.113556.1.4.906"),
        (Syntax::NtSecurityDescriptor, "1.2.840.113556.1.4.907"),
        (Syntax::Ia5String, "1.3.6.1.4.1.1466.115.121.1.26"),
        (Syntax::PrintableString, "1.3.6.1.4.1.1466.115.121.1.44"),
        (Syntax::NumericString, "1.3.6.1.4.1.1466.115.121.1.36"),
        (Syntax::CaseIgnoreString, "1.2.840.113556.1.4.905"),
        (Syntax::CaseExactString, "1.2.840.113556.1.4.1362"),
        (Syntax::DnBinary, "1.2.840.113556.1.4.903"),
        (Syntax::DnString, "1.2.840.113556.1.4.904"),
        (Syntax::ReplicaLink, "OctetString"),
    ];
    for (syntax, oid) in cases {
        assert_eq!(syntax.ldap_syntax_oid(), oid, "{syntax:?}");
    }
}

#[test]
fn schema_triples_identify_each_syntax() {
    for s in ALL {
        assert_eq!(
            Syntax::from_schema(s.attribute_syntax(), s.om_syntax(), s.om_object_class()),
            Some(s)
        );
    }
    assert_eq!(Syntax::from_schema("2.5.5.5", 22, None), Some(Syntax::Ia5String));
    assert_eq!(Syntax::from_schema("2.5.5.11", 23, None), Some(Syntax::UtcTime));
    assert_eq!(
        Syntax::from_schema("2.5.5.9", 10, None),
        Some(Syntax::Enumeration)
    );
    assert_eq!(Syntax::from_schema("2.5.5.99", 1, None), None);
}

#[test]
fn empty_values_are_refused_by_every_syntax() {
    for s in ALL {
        assert!(s.validate(b"").is_err(), "{s:?}");
    }
}

#[test]
fn boolean_and_integers() {
    assert!(ok(Syntax::Boolean, "TRUE") && ok(Syntax::Boolean, "FALSE"));
    for bad in ["true", "1", "yes", "TRUE "] {
        assert!(!ok(Syntax::Boolean, bad), "{bad}");
    }
    for good in ["0", "-1", "2147483647", "-2147483648", "4294967295", "007"] {
        assert!(ok(Syntax::Integer, good), "{good}");
    }
    for bad in [
        "4294967296",
        "-2147483649",
        "+5",
        " 5",
        "5 ",
        "0x10",
        "1.0",
        "-",
        "abc",
    ] {
        assert!(!ok(Syntax::Integer, bad), "{bad}");
    }
    // Unsigned flags read back in the signed form AD returns.
    assert_eq!(norm(Syntax::Integer, "2147483650"), "-2147483646");
    assert_eq!(norm(Syntax::Integer, "007"), "7");
    assert!(
        ok(Syntax::LargeInteger, "9223372036854775807") && ok(Syntax::LargeInteger, "-9223372036854775808")
    );
    assert!(!ok(Syntax::LargeInteger, "9223372036854775808"));
    assert_eq!(norm(Syntax::LargeInteger, "-0"), "0");
    assert_eq!(Syntax::Integer.compare(b"-5", b"3"), Some(Ordering::Less));
    assert_eq!(
        Syntax::Integer.compare(b"10", b"9"),
        Some(Ordering::Greater),
        "numeric, not text, order"
    );
    assert_eq!(
        Syntax::LargeInteger.compare(b"132895801920510000", b"132895441920205022"),
        Some(Ordering::Greater)
    );
    assert_eq!(Syntax::Integer.compare(b"x", b"1"), None);
}

#[test]
fn generalized_and_utc_time() {
    for good in [
        "20220217140312.0Z",
        "20220217140312Z",
        "202202171403Z",
        "2022021714Z",
        "20220217140312.123Z",
        "20220217140312,5Z",
        "20220217160312+0200",
        "20220217090312-05",
        "16010101000000.0Z",
        "20241231235960Z",
    ] {
        assert!(ok(Syntax::GeneralizedTime, good), "{good}");
    }
    for bad in [
        "2022021714031Z",
        "20221317140312Z",
        "20220230140312Z",
        "20220217250312Z",
        "20220217140312",
        "20220217140312.Z",
        "20220217140312+2400",
        "16001231235959Z",
        "2022-02-17T14:03:12Z",
    ] {
        assert!(!ok(Syntax::GeneralizedTime, bad), "{bad}");
    }
    // Canonical AD form, whole seconds, UTC.
    assert_eq!(
        norm(Syntax::GeneralizedTime, "20220217160312.9+0200"),
        "20220217140312.0Z"
    );
    assert_eq!(
        norm(Syntax::GeneralizedTime, "2022021714.5Z"),
        "20220217143000.0Z"
    );
    assert_eq!(
        norm(Syntax::GeneralizedTime, "20231231230000-0100"),
        "20240101000000.0Z"
    );
    assert_eq!(
        Syntax::GeneralizedTime.compare(b"20220217140312.0Z", b"20220217150000+0100"),
        Some(Ordering::Greater)
    );
    assert!(ok(Syntax::UtcTime, "220217140312Z") && ok(Syntax::UtcTime, "2202171403+0100"));
    assert!(!ok(Syntax::UtcTime, "220217140312+01"));
    assert_eq!(norm(Syntax::UtcTime, "491231230000-0100"), "500101000000Z");
    assert_eq!(
        Syntax::UtcTime.compare(b"491231000000Z", b"500101000000Z"),
        Some(Ordering::Greater)
    );
}

#[test]
fn dn_values_and_their_normal_form() {
    assert!(ok(Syntax::DsDn, "CN=Users,DC=corp,DC=example,DC=test"));
    assert!(ok(Syntax::DsDn, "<GUID=6b0c7b2e-1d5f-4d7e-9a2b-0c0d0e0f1011>"));
    assert!(ok(Syntax::DsDn, "<SID=S-1-5-21-1-2-3-512>"));
    assert!(ok(
        Syntax::DsDn,
        "<GUID=6b0c7b2e1d5f4d7e9a2b0c0d0e0f1011>;<SID=S-1-5-21-1-2-3-512>;CN=x,DC=y"
    ));
    for bad in [
        "",
        " ",
        "CN=",
        "=x,DC=y",
        "CN=a,,DC=b",
        "CN",
        "CN=a\\",
        "<GUID=nothex>",
        "CN=a,DC=b,",
    ] {
        assert!(!ok(Syntax::DsDn, bad), "{bad:?}");
    }
    assert_eq!(
        norm(
            Syntax::DsDn,
            "CN=Domain Admins , CN=Users,  dc=CORP ,DC=Example,DC=test"
        ),
        "cn=domain admins,cn=users,dc=corp,dc=example,dc=test"
    );
    // Escapes are resolved, then the minimal escaping is written back.
    assert_eq!(
        normalize_dn("CN=Smith\\, John,OU=Sales").unwrap(),
        "cn=smith\\, john,ou=sales"
    );
    assert_eq!(
        normalize_dn("CN=\\53mith\\2C J,OU=x").unwrap(),
        "cn=smith\\, j,ou=x"
    );
    assert_eq!(normalize_dn("CN=J\\C3\\B6rg,DC=x").unwrap(), "cn=jörg,dc=x");
    assert_eq!(
        normalize_dn("CN=\\ lead and trail\\ ,DC=x").unwrap(),
        "cn=\\ lead and trail\\ ,dc=x"
    );
    assert_eq!(normalize_dn("").unwrap(), "", "root DN");
    let rdns = parse_dn("CN=a+SN=b,DC=x").unwrap();
    assert_eq!(rdns.len(), 2);
    assert_eq!(rdns[0].len(), 2);
    assert_eq!(Syntax::DsDn.compare(b"CN=a", b"CN=b"), None);
    // Unicode values fold case too.
    assert_eq!(
        norm(Syntax::DsDn, "CN=ÄRGER,DC=x"),
        norm(Syntax::DsDn, "cn=ärger,dc=X")
    );
}

#[test]
fn dn_binary_and_dn_string() {
    let wko = "B:32:A9D1CA15768811D1ADED00C04FD8D5CD:CN=Users,DC=corp,DC=example,DC=test";
    assert!(ok(Syntax::DnBinary, wko));
    assert_eq!(
        norm(Syntax::DnBinary, wko),
        norm(
            Syntax::DnBinary,
            "B:32:a9d1ca15768811d1aded00c04fd8d5cd:cn=users, dc=CORP,dc=example,dc=test"
        )
    );
    for bad in [
        "B:31:A9D1CA15768811D1ADED00C04FD8D5C:CN=x",
        "B:4:ZZZZ:CN=x",
        "B:4:ABCD",
        "S:4:ABCD:CN=x",
        "B:x:AB:CN=x",
        "B:2:AB:",
    ] {
        assert!(!ok(Syntax::DnBinary, bad), "{bad}");
    }
    assert!(ok(Syntax::DnString, "S:5:hello:CN=x,DC=y"));
    assert!(
        !ok(Syntax::DnString, "S:4:héllo:CN=x,DC=y"),
        "the count is in characters"
    );
    assert!(ok(Syntax::DnString, "S:5:héllo:CN=x,DC=y"));
}

#[test]
fn strings_by_syntax() {
    assert!(ok(Syntax::UnicodeString, "Jörg ✓"));
    assert!(Syntax::UnicodeString.validate(&[0xff, 0xfe]).is_err());
    assert_eq!(norm(Syntax::UnicodeString, "ÄBC Straße"), "äbc straße");
    assert_eq!(
        Syntax::UnicodeString.normalize("Admin".as_bytes()),
        Syntax::UnicodeString.normalize(b"ADMIN")
    );
    assert_ne!(
        norm(Syntax::UnicodeString, "a b"),
        norm(Syntax::UnicodeString, "a  b"),
        "AD keeps inner spaces"
    );
    assert_ne!(
        norm(Syntax::CaseExactString, "Abc"),
        norm(Syntax::CaseExactString, "abc")
    );
    assert_ne!(norm(Syntax::Ia5String, "Abc"), norm(Syntax::Ia5String, "abc"));
    assert!(ok(Syntax::Ia5String, "user@example.com") && !ok(Syntax::Ia5String, "é"));
    assert!(ok(Syntax::PrintableString, "Ab 1'()+,-./:=?") && !ok(Syntax::PrintableString, "a@b"));
    assert!(ok(Syntax::NumericString, "12 34") && !ok(Syntax::NumericString, "12a"));
    assert_eq!(norm(Syntax::NumericString, "12 34"), "1234");
    assert_eq!(
        Syntax::UnicodeString.compare("apple".as_bytes(), "Banana".as_bytes()),
        Some(Ordering::Less)
    );
    assert_eq!(Syntax::UnicodeString.compare(b"B", b"a"), Some(Ordering::Greater));
    assert_eq!(
        Syntax::CaseExactString.compare(b"B", b"a"),
        Some(Ordering::Less),
        "code-point order"
    );
}

#[test]
fn oids_sids_and_security_descriptors() {
    for good in [
        "1.2.840.113556.1.5.9",
        "user",
        "msDS-GroupManagedServiceAccount",
        "2.5.4.0",
    ] {
        assert!(ok(Syntax::ObjectIdentifier, good), "{good}");
    }
    for bad in ["1", "1..2", "1.02", "-user", "us er", "1.2."] {
        assert!(!ok(Syntax::ObjectIdentifier, bad), "{bad}");
    }
    assert_eq!(norm(Syntax::ObjectIdentifier, "USER"), "user");

    let sid = "S-1-5-21-1-2-3-500"
        .parse::<adsim_simulator::security::Sid>()
        .unwrap()
        .to_bytes();
    assert!(Syntax::Sid.validate(&sid).is_ok());
    assert!(Syntax::Sid.validate(&sid[..sid.len() - 1]).is_err());
    assert!(
        Syntax::Sid.validate(b"S-1-5-21-1-2-3-500").is_err(),
        "stored SIDs are binary"
    );
    assert_eq!(sid_assertion_to_binary(b"S-1-5-21-1-2-3-500"), Some(sid.clone()));
    assert_eq!(sid_assertion_to_binary(b"s-1-5-21-1-2-3-500"), Some(sid));
    assert_eq!(sid_assertion_to_binary(b"not a sid"), None);

    // O:BA (owner at offset 20), self-relative, revision 1.
    let mut sd = vec![1, 0, 0x04, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    sd.extend_from_slice(
        &"S-1-5-32-544"
            .parse::<adsim_simulator::security::Sid>()
            .unwrap()
            .to_bytes(),
    );
    assert!(Syntax::NtSecurityDescriptor.validate(&sd).is_ok());
    let mut absolute = sd.clone();
    absolute[3] = 0;
    assert!(Syntax::NtSecurityDescriptor.validate(&absolute).is_err());
    let mut out_of_bounds = sd.clone();
    out_of_bounds[4] = 200;
    assert!(Syntax::NtSecurityDescriptor.validate(&out_of_bounds).is_err());
    assert!(Syntax::NtSecurityDescriptor.validate(&sd[..10]).is_err());
    assert!(Syntax::OctetString.validate(&[0, 255, 7]).is_ok());
    assert_eq!(
        Syntax::OctetString.compare(&[1, 2], &[1, 3]),
        Some(Ordering::Less)
    );
}

#[test]
fn schema_aware_normalisation_resolves_class_names_and_oids() {
    let s = Schema::ad();
    let object_class = s.attribute("objectClass").unwrap();
    let by_name = s.normalize_value(object_class, b"User");
    assert_eq!(by_name, s.normalize_value(object_class, b"1.2.840.113556.1.5.9"));
    assert_eq!(by_name, b"1.2.840.113556.1.5.9");
    assert_ne!(by_name, s.normalize_value(object_class, b"computer"));
    let cn = s.attribute("cn").unwrap();
    assert_eq!(s.normalize_value(cn, b"Administrator"), b"administrator");
}
