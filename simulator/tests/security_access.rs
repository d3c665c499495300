//! The DS access check (MS-DTYP 2.5.3.2 with MS-ADTS 5.1.3.3 object types), including the
//! msDS-GroupMSAMembership check of docs/notes/gmsa-gkdi.md §5: RIGHT_DS_READ_PROPERTY with the gMSA's SID
//! as PRINCIPAL_SELF.

use adsim_simulator::security::access::*;
use adsim_simulator::security::{guid, sddl, well_known, SddlContext, SecurityDescriptor, Sid, Token};
use uuid::Uuid;

const DOMAIN: &str = "S-1-5-21-1-2-3";

fn sid(s: &str) -> Sid {
    s.parse().unwrap()
}

fn sd(text: &str) -> SecurityDescriptor {
    sddl::parse(text, &SddlContext::single(sid(DOMAIN))).unwrap()
}

fn host(rid: u32, groups: &[Sid]) -> Token {
    Token::authenticated_network(sid(DOMAIN).with_rid(rid), groups.iter().cloned())
}

fn gmsa_sid() -> Sid {
    sid(DOMAIN).with_rid(1500)
}

/// gMSA password read: may `token` read msDS-ManagedPassword under membership SD `sd`?
fn may_read_password(sd: &SecurityDescriptor, token: &Token) -> bool {
    is_granted(sd, token, RIGHT_DS_READ_PROPERTY, None, Some(&gmsa_sid()))
}

#[test]
fn group_granted_through_nested_membership() {
    // PrincipalsAllowedToRetrieveManagedPassword = group 1200. Host 1105 is in group 1300,
    // which is nested in 1200: the caller expands that into the token.
    let membership = sd(&format!("O:S-1-5-32-544D:(A;;0x0f01ff;;;{DOMAIN}-1200)"));
    let nested = host(
        1105,
        &[
            sid(DOMAIN).with_rid(515),
            sid(DOMAIN).with_rid(1300),
            sid(DOMAIN).with_rid(1200),
        ],
    );
    let outsider = host(1106, &[sid(DOMAIN).with_rid(515), sid(DOMAIN).with_rid(1300)]);
    assert!(may_read_password(&membership, &nested));
    assert!(!may_read_password(&membership, &outsider));
    assert_eq!(
        access_check(&membership, &nested, RIGHT_DS_READ_PROPERTY, None, None),
        Ok(RIGHT_DS_READ_PROPERTY)
    );
}

#[test]
fn everyone_sd_and_anonymous() {
    let membership = sd("O:SYD:(A;;RP;;;WD)");
    assert!(may_read_password(&membership, &host(1105, &[])));
    // Anonymous has no Everyone SID unless EveryoneIncludesAnonymous is on.
    assert!(!may_read_password(&membership, &Token::anonymous(false)));
    assert!(may_read_password(&membership, &Token::anonymous(true)));
}

#[test]
fn deny_before_allow_wins_and_order_matters() {
    let group = sid(DOMAIN).with_rid(1200);
    let token = host(1105, std::slice::from_ref(&group));
    let deny_first = sd(&format!("D:(D;;RP;;;{group})(A;;RP;;;WD)"));
    assert!(!may_read_password(&deny_first, &token));
    // A deny that names other rights does not block RP.
    let deny_other = sd(&format!("D:(D;;WP;;;{group})(A;;RP;;;WD)"));
    assert!(may_read_password(&deny_other, &token));
    // Once RP is granted, a later deny no longer matters (MS-DTYP 2.5.3.2 ordered walk).
    let allow_first = sd(&format!("D:(A;;RP;;;WD)(D;;RP;;;{group})"));
    assert!(may_read_password(&allow_first, &token));
    // But a deny reached while some requested right is still missing refuses the whole request.
    assert!(!is_granted(
        &allow_first,
        &token,
        RIGHT_DS_READ_PROPERTY | RIGHT_DS_WRITE_PROPERTY,
        None,
        None
    ));
    // A deny for somebody else is skipped.
    let deny_someone_else = sd(&format!("D:(D;;RP;;;{DOMAIN}-9999)(A;;RP;;;WD)"));
    assert!(may_read_password(&deny_someone_else, &token));
}

#[test]
fn rights_accumulate_over_several_aces() {
    let token = host(1105, &[sid(DOMAIN).with_rid(1200)]);
    let split = sd(&format!("D:(A;;RP;;;WD)(A;;WP;;;{DOMAIN}-1200)"));
    assert_eq!(
        access_check(
            &split,
            &token,
            RIGHT_DS_READ_PROPERTY | RIGHT_DS_WRITE_PROPERTY,
            None,
            None
        ),
        Ok(RIGHT_DS_READ_PROPERTY | RIGHT_DS_WRITE_PROPERTY)
    );
    assert!(!is_granted(
        &split,
        &token,
        RIGHT_DS_READ_PROPERTY | DELETE,
        None,
        None
    ));
}

#[test]
fn object_ace_limited_to_a_property() {
    // msDS-ManagedPassword's schemaIDGUID is not needed here: any property GUID will do.
    let prop = guid::parse_text("e362ed86-b728-0842-b27d-2dea7a9df218").unwrap();
    let other = guid::parse_text("bf9679c0-0de6-11d0-a285-00aa003049e2").unwrap();
    let property_set = guid::parse_text("4c164200-20c0-11d0-a768-00aa006e0529").unwrap();
    let token = host(1105, &[]);
    let only_prop = sd(&format!("D:(OA;;RP;{};;AU)", guid::to_text(&prop)));
    assert!(is_granted(
        &only_prop,
        &token,
        RIGHT_DS_READ_PROPERTY,
        Some(prop),
        None
    ));
    assert!(!is_granted(
        &only_prop,
        &token,
        RIGHT_DS_READ_PROPERTY,
        Some(other),
        None
    ));
    // Without an object type (a whole-object check) an ACE naming a property does not apply.
    assert!(!is_granted(
        &only_prop,
        &token,
        RIGHT_DS_READ_PROPERTY,
        None,
        None
    ));

    // An ACE on a property set covers a property in that set when the caller passes the path.
    let on_set = sd(&format!("D:(OA;;RP;{};;AU)", guid::to_text(&property_set)));
    assert!(access_check_path(
        &on_set,
        &token,
        RIGHT_DS_READ_PROPERTY,
        &[property_set, prop],
        None
    )
    .is_ok());
    assert!(access_check_path(&on_set, &token, RIGHT_DS_READ_PROPERTY, &[other], None).is_err());
    // A deny on the set beats an allow on the property that comes after it.
    let deny_set = sd(&format!(
        "D:(OD;;RP;{};;WD)(OA;;RP;{};;AU)",
        guid::to_text(&property_set),
        guid::to_text(&prop)
    ));
    assert!(access_check_path(
        &deny_set,
        &token,
        RIGHT_DS_READ_PROPERTY,
        &[property_set, prop],
        None
    )
    .is_err());

    // An object ACE with no ObjectType applies to everything, like a plain ACE.
    let untyped = sd("D:(OA;;RP;;bf967aba-0de6-11d0-a285-00aa003049e2;AU)");
    assert!(is_granted(
        &untyped,
        &token,
        RIGHT_DS_READ_PROPERTY,
        Some(prop),
        None
    ));
    assert!(is_granted(&untyped, &token, RIGHT_DS_READ_PROPERTY, None, None));
}

#[test]
fn extended_right_by_guid() {
    let reset_password = guid::parse_text("00299570-246d-11d0-a768-00aa006e0529").unwrap();
    let helpdesk = sid(DOMAIN).with_rid(1400);
    let sd = sd(&format!(
        "D:(OA;;CR;{};;{helpdesk})",
        guid::to_text(&reset_password)
    ));
    assert!(is_granted(
        &sd,
        &host(1105, std::slice::from_ref(&helpdesk)),
        RIGHT_DS_CONTROL_ACCESS,
        Some(reset_password),
        None
    ));
    assert!(!is_granted(
        &sd,
        &host(1105, &[]),
        RIGHT_DS_CONTROL_ACCESS,
        Some(reset_password),
        None
    ));
    assert!(!is_granted(
        &sd,
        &host(1105, std::slice::from_ref(&helpdesk)),
        RIGHT_DS_CONTROL_ACCESS,
        Some(Uuid::nil()),
        None
    ));
}

#[test]
fn principal_self_is_the_substituted_sid() {
    let membership = sd("O:SYD:(A;;RP;;;PS)");
    // The gMSA itself matches PRINCIPAL_SELF; another account does not.
    let gmsa_token = Token::authenticated_network(gmsa_sid(), []);
    assert!(may_read_password(&membership, &gmsa_token));
    assert!(!may_read_password(&membership, &host(1105, &[])));
    // A group holding the substituted SID works too (the SID only has to be in the token).
    let with_group = Token::authenticated_network(sid(DOMAIN).with_rid(1105), [gmsa_sid()]);
    assert!(may_read_password(&membership, &with_group));
    // Without a substitute, PS only matches a token that literally holds S-1-5-10.
    assert!(!is_granted(
        &membership,
        &gmsa_token,
        RIGHT_DS_READ_PROPERTY,
        None,
        None
    ));
    let literal = Token::new(sid(DOMAIN).with_rid(1105), [well_known::principal_self()]);
    assert!(is_granted(
        &membership,
        &literal,
        RIGHT_DS_READ_PROPERTY,
        None,
        None
    ));
}

#[test]
fn null_dacl_empty_dacl_and_no_dacl() {
    let token = host(1105, &[]);
    let everything = RIGHT_DS_READ_PROPERTY | RIGHT_DS_WRITE_PROPERTY | WRITE_OWNER | DELETE;
    let null = sd("O:SYD:NO_ACCESS_CONTROL");
    assert_eq!(
        access_check(&null, &token, everything, None, None),
        Ok(everything)
    );
    assert_eq!(maximum_allowed(&null, &token, None, None), DS_ALL_RIGHTS);
    let absent = sd("O:SY");
    assert_eq!(
        access_check(&absent, &token, everything, None, None),
        Ok(everything)
    );
    let empty = sd("O:SYD:");
    assert_eq!(
        access_check(&empty, &token, RIGHT_DS_READ_PROPERTY, None, None),
        Err(AccessDenied)
    );
    assert_eq!(maximum_allowed(&empty, &token, None, None), 0);
    // The owner of an object with an empty DACL still has READ_CONTROL and WRITE_DAC.
    let owned = sd(&format!("O:{DOMAIN}-1105D:"));
    assert_eq!(
        access_check(&owned, &token, READ_CONTROL | WRITE_DAC, None, None),
        Ok(READ_CONTROL | WRITE_DAC)
    );
    assert!(!is_granted(&owned, &token, RIGHT_DS_READ_PROPERTY, None, None));
    // Owner rights come from group membership too (the owner may be a group).
    let group_owned = sd(&format!("O:{DOMAIN}-1200D:"));
    assert!(is_granted(
        &group_owned,
        &host(1105, &[sid(DOMAIN).with_rid(1200)]),
        READ_CONTROL,
        None,
        None
    ));
}

#[test]
fn inherit_only_aces_are_skipped() {
    let token = host(1105, &[]);
    let inherit_only_allow = sd("D:(A;CIIO;RP;;;WD)");
    assert!(!may_read_password(&inherit_only_allow, &token));
    let inherit_only_deny = sd("D:(D;OICIIO;RP;;;WD)(A;;RP;;;WD)");
    assert!(may_read_password(&inherit_only_deny, &token));
    // Inherited (ID) and inheritable-but-effective (CI) ACEs do apply.
    let inherited = sd("D:(A;CIID;RP;;;WD)");
    assert!(may_read_password(&inherited, &token));
}

#[test]
fn audit_aces_grant_nothing() {
    let token = host(1105, &[]);
    let sacl_only = sd("D:S:(AU;SAFA;RP;;;WD)");
    assert!(!may_read_password(&sacl_only, &token));
    // An audit ACE misplaced in a DACL is not an allow ACE.
    let audit_in_dacl = sd("D:(AU;SA;RP;;;WD)");
    assert!(!may_read_password(&audit_in_dacl, &token));
}

/// The directory bypasses the check for its own SYSTEM context (docs/notes/gmsa-gkdi.md §5 "SYSTEM always
/// passes"); `access_check` itself gives SYSTEM no special treatment beyond what ACEs say.
#[test]
fn system_is_bypassed_by_the_caller_not_by_the_check() {
    let membership = sd(&format!("O:S-1-5-32-544D:(A;;0x0f01ff;;;{DOMAIN}-1200)"));
    let system = Token::system();
    assert!(system.is_system());
    assert!(!may_read_password(&membership, &system));
    let caller_decision = system.is_system() || may_read_password(&membership, &system);
    assert!(caller_decision);
}

#[test]
fn maximum_allowed_follows_ace_order() {
    let token = host(1105, &[]);
    let sd = sd("D:(D;;WP;;;WD)(A;;RPWP;;;WD)(A;;CR;;;AU)(D;;CR;;;WD)");
    assert_eq!(
        maximum_allowed(&sd, &token, None, None),
        RIGHT_DS_READ_PROPERTY | RIGHT_DS_CONTROL_ACCESS
    );
    assert_eq!(
        access_check(&sd, &token, MAXIMUM_ALLOWED, None, None),
        Ok(RIGHT_DS_READ_PROPERTY | RIGHT_DS_CONTROL_ACCESS)
    );
}
