//! Add/modify schema checks and the Windows-shaped errors they produce.

use adsim_simulator::schema::{Schema, SchemaViolation};
use adsim_simulator::security::Sid;
use ldap3_proto::LdapResultCode;

type Attrs = Vec<(&'static str, Vec<Vec<u8>>)>;

fn values(vs: &[&str]) -> Vec<Vec<u8>> {
    vs.iter().map(|v| v.as_bytes().to_vec()).collect()
}

/// A user entry as the directory would store it (DSA-supplied values included).
fn user_entry() -> (Vec<&'static str>, Attrs) {
    let classes = vec!["top", "person", "organizationalPerson", "user"];
    let sid = "S-1-5-21-1-2-3-1105".parse::<Sid>().unwrap().to_bytes();
    // Owner-only self-relative SD: O:BA.
    let mut sd = vec![1, 0, 0x04, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    sd.extend_from_slice(&"S-1-5-32-544".parse::<Sid>().unwrap().to_bytes());
    let attrs: Attrs = vec![
        ("objectClass", values(&classes)),
        ("cn", values(&["Alice"])),
        ("sAMAccountName", values(&["alice"])),
        ("objectSid", vec![sid]),
        ("instanceType", values(&["4"])),
        ("nTSecurityDescriptor", vec![sd]),
        (
            "objectCategory",
            values(&["CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=test"]),
        ),
        ("userAccountControl", values(&["512"])),
        ("userPrincipalName", values(&["alice@corp.example.test"])),
        (
            "servicePrincipalName",
            values(&["HTTP/web.corp.example.test", "HTTP/web"]),
        ),
        ("whenCreated", values(&["20240101000000.0Z"])),
        ("mail", values(&["alice@example.test"])),
    ];
    (classes, attrs)
}

fn check(classes: &[&str], attrs: &Attrs) -> Result<(), SchemaViolation> {
    Schema::ad().check_entry(classes, attrs.iter().map(|(n, v)| (*n, v.as_slice().into())))
}

fn without(attrs: &Attrs, name: &str) -> Attrs {
    attrs.iter().filter(|(n, _)| *n != name).cloned().collect()
}

fn with(attrs: &Attrs, name: &'static str, vs: &[&str]) -> Attrs {
    let mut out = without(attrs, name);
    out.push((name, values(vs)));
    out
}

fn expect(result: Result<(), SchemaViolation>, code: LdapResultCode, prefix: &str) -> SchemaViolation {
    let err = result.expect_err("the entry should be refused");
    assert_eq!(err.result_code, code, "{err}");
    assert!(
        err.message.starts_with(prefix),
        "message {:?} should start with {prefix}",
        err.message
    );
    assert_eq!(
        format!("{:08X}", err.win32),
        prefix[..8],
        "win32 code matches the text"
    );
    err
}

#[test]
fn a_complete_user_passes() {
    let (classes, attrs) = user_entry();
    check(&classes, &attrs).expect("valid user");
    // The structural class alone is enough; options on names are ignored.
    let renamed = with(&attrs, "userCertificate;binary", &["x"]);
    check(&["user"], &renamed).expect("user with userCertificate;binary");
}

#[test]
fn a_group_managed_service_account_passes_and_needs_its_interval() {
    let (_, attrs) = user_entry();
    let classes = [
        "top",
        "person",
        "organizationalPerson",
        "user",
        "computer",
        "msDS-GroupManagedServiceAccount",
    ];
    let gmsa = with(
        &with(&attrs, "msDS-ManagedPasswordInterval", &["30"]),
        "dNSHostName",
        &["gmsa1.corp.example.test"],
    );
    let gmsa = with(&gmsa, "userAccountControl", &["4096"]);
    check(&classes, &gmsa).expect("valid gMSA");
    expect(
        check(&classes, &without(&gmsa, "msDS-ManagedPasswordInterval")),
        LdapResultCode::ObjectClassViolation,
        "0000207C",
    );
}

#[test]
fn missing_object_class_and_unknown_classes() {
    let (_, attrs) = user_entry();
    let err = expect(
        check(&[], &attrs),
        LdapResultCode::ObjectClassViolation,
        "0000207B",
    );
    assert!(err.message.contains("problem 6002 (OBJ_CLASS_VIOLATION)"));
    let err = expect(
        check(&["user", "bogusClass"], &attrs),
        LdapResultCode::NoSuchAttribute,
        "00000057",
    );
    assert!(
        err.message.contains("LdapErr: DSID-")
            && err.message.contains("Error in attribute conversion operation")
    );
}

#[test]
fn unknown_attributes_are_no_such_attribute() {
    let (classes, attrs) = user_entry();
    let err = expect(
        check(&classes, &with(&attrs, "thisDoesNotExist", &["x"])),
        LdapResultCode::NoSuchAttribute,
        "00000057",
    );
    assert!(err.message.ends_with(", data 0, v4563"), "{}", err.message);
    assert!(err.wire_message().ends_with('\0'));
    expect(
        check(&classes, &with(&attrs, "dn", &["CN=x"])),
        LdapResultCode::NoSuchAttribute,
        "00000057",
    );
}

#[test]
fn missing_must_attribute() {
    let (classes, attrs) = user_entry();
    for must in [
        "sAMAccountName",
        "objectSid",
        "cn",
        "objectCategory",
        "instanceType",
    ] {
        let err = expect(
            check(&classes, &without(&attrs, must)),
            LdapResultCode::ObjectClassViolation,
            "0000207C",
        );
        assert!(err.message.starts_with("0000207C: UpdErr: DSID-"), "{must}");
    }
}

#[test]
fn attribute_not_allowed_by_the_classes() {
    let (classes, attrs) = user_entry();
    let err = expect(
        check(&classes, &with(&attrs, "msDS-ManagedPasswordInterval", &["30"])),
        LdapResultCode::ObjectClassViolation,
        "0000207D",
    );
    // data carries the ATTRTYP: msDS-ManagedPasswordInterval is 0x90897.
    assert!(
        err.message.contains(&format!("data {}", 0x90897)),
        "{}",
        err.message
    );
    // dNSHostName belongs to computer, not to user.
    expect(
        check(&classes, &with(&attrs, "dNSHostName", &["x.example"])),
        LdapResultCode::ObjectClassViolation,
        "0000207D",
    );
    // ...but an auxiliary class given in objectClass brings its own attributes.
    let mut aux_classes = classes.clone();
    aux_classes.push("ipHost");
    check(&aux_classes, &with(&attrs, "ipHostNumber", &["10.0.0.1"])).expect("aux class attribute");
    expect(
        check(&classes, &with(&attrs, "ipHostNumber", &["10.0.0.1"])),
        LdapResultCode::ObjectClassViolation,
        "0000207D",
    );
}

#[test]
fn single_valued_range_and_duplicates() {
    let (classes, attrs) = user_entry();
    let err = expect(
        check(&classes, &with(&attrs, "sAMAccountName", &["a", "b"])),
        LdapResultCode::ConstraintViolation,
        "00002081",
    );
    assert!(
        err.message.contains("problem 1005 (CONSTRAINT_ATT_TYPE)"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("Att 900dd (sAMAccountName)"),
        "{}",
        err.message
    );
    // cn: rangeUpper 64 characters (UTF-16 units).
    let long = "x".repeat(65);
    expect(
        check(&classes, &with(&attrs, "cn", &[&long])),
        LdapResultCode::ConstraintViolation,
        "00002082",
    );
    check(&classes, &with(&attrs, "cn", &[&"é".repeat(64)]))
        .expect("64 characters fit even as 128 UTF-8 bytes");
    // objectSid: rangeUpper 28 bytes.
    let mut long_sid = attrs.clone();
    let sid15 = Sid::new(5, &[21, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]).to_bytes();
    long_sid.retain(|(n, _)| *n != "objectSid");
    long_sid.push(("objectSid", vec![sid15]));
    expect(
        check(&classes, &long_sid),
        LdapResultCode::ConstraintViolation,
        "00002082",
    );
    // Duplicate values compare under the syntax's equality (case-insensitive here).
    let err = expect(
        check(
            &classes,
            &with(&attrs, "servicePrincipalName", &["HTTP/web", "http/WEB"]),
        ),
        LdapResultCode::AttributeOrValueExists,
        "00002083",
    );
    assert!(err.message.contains("Att 90303 (servicePrincipalName)"));
    // objectClass values compare by the class they name.
    expect(
        check(
            &classes,
            &with(
                &attrs,
                "objectClass",
                &[
                    "top",
                    "person",
                    "organizationalPerson",
                    "user",
                    "1.2.840.113556.1.5.9",
                ],
            ),
        ),
        LdapResultCode::AttributeOrValueExists,
        "00002083",
    );
    // The same attribute twice.
    let mut twice = attrs.clone();
    twice.push(("Mail", values(&["other@example.test"])));
    expect(
        check(&classes, &twice),
        LdapResultCode::AttributeOrValueExists,
        "0000207E",
    );
}

#[test]
fn syntax_errors_and_empty_value_lists() {
    let (classes, attrs) = user_entry();
    for (name, bad) in [
        ("userAccountControl", "abc"),
        ("whenCreated", "yesterday"),
        ("cn", ""),
        ("accountExpires", "1e9"),
    ] {
        expect(
            check(&classes, &with(&attrs, name, &[bad])),
            LdapResultCode::InvalidAttributeSyntax,
            "00000057",
        );
    }
    expect(
        check(&classes, &with(&attrs, "description", &[])),
        LdapResultCode::ConstraintViolation,
        "00000057",
    );
}

#[test]
fn class_structure_rules() {
    let (_, attrs) = user_entry();
    // Only abstract/auxiliary classes.
    expect(
        check(&["top"], &attrs),
        LdapResultCode::UnwillingToPerform,
        "000020A7",
    );
    expect(
        check(&["securityPrincipal"], &attrs),
        LdapResultCode::UnwillingToPerform,
        "000020A7",
    );
    // Two structural classes on different chains.
    expect(
        check(&["user", "group"], &attrs),
        LdapResultCode::ObjectClassViolation,
        "000020B4",
    );
    // An abstract class that is not a superclass of the object.
    expect(
        check(&["user", "connectionPoint"], &attrs),
        LdapResultCode::ObjectClassViolation,
        "000020B4",
    );
    // Superclasses given alongside are fine; a 88 class is concrete.
    let person: Attrs = attrs
        .iter()
        .filter(|(n, _)| ["cn", "objectCategory", "instanceType", "nTSecurityDescriptor"].contains(n))
        .cloned()
        .collect();
    let mut person = with(&person, "objectClass", &["top", "person"]);
    person.push(("sn", values(&["Smith"])));
    check(&["top", "person"], &person).expect("a plain 88-class person");
}

#[test]
fn clients_cannot_add_system_only_classes() {
    let s = Schema::ad();
    let err = s
        .check_client_add_classes(&["top", "configuration"])
        .expect_err("systemOnly class");
    assert_eq!(err.result_code, LdapResultCode::UnwillingToPerform);
    assert!(
        err.message.starts_with("000020A6: SvcErr: DSID-"),
        "{}",
        err.message
    );
    assert!(err.message.contains("problem 5003 (WILL_NOT_PERFORM)"));
    s.check_client_add_classes(&["user"])
        .expect("user is not systemOnly");
    s.check_client_add_classes(&["msDS-GroupManagedServiceAccount"])
        .expect("gMSA is not systemOnly");
    assert_eq!(
        s.check_client_add_classes(&["nope"]).unwrap_err().result_code,
        LdapResultCode::NoSuchAttribute
    );
}
