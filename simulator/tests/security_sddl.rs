//! SDDL <-> binary security descriptors against Windows-produced bytes (MS-DTYP 2.5.1.4, the
//! gMSA target SD of docs/notes/gmsa-gkdi.md §2) and the SDs the gMSA work uses.

use adsim_simulator::security::acl::{AceFlags, AceType, ACL_REVISION, ACL_REVISION_DS};
use adsim_simulator::security::descriptor::control;
use adsim_simulator::security::{guid, sddl, well_known, SddlContext, SddlError, SecurityDescriptor, Sid};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/gmsa-gkdi.json");

fn sid(s: &str) -> Sid {
    s.parse().unwrap()
}

fn domain() -> SddlContext {
    SddlContext::single(sid("S-1-5-21-1-2-3"))
}

fn sddl_bytes(text: &str, ctx: &SddlContext) -> Vec<u8> {
    sddl::parse(text, ctx).unwrap().to_bytes().unwrap()
}

/// Every distinct gMSA target SD in the test vectors, as bytes.
fn target_sds_from_vectors() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(VECTORS).expect("test vectors readable");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out: Vec<Vec<u8>> = Vec::new();
    for v in json["samba_gkdi_seed_keys"].as_array().unwrap() {
        let sd = hex::decode(v["target_sd"].as_str().unwrap()).unwrap();
        if !out.contains(&sd) {
            out.push(sd);
        }
    }
    out
}

#[test]
fn gmsa_target_sd_from_sddl_is_byte_exact() {
    let sds = target_sds_from_vectors();
    assert!(!sds.is_empty());
    let from_sddl = sddl_bytes("O:SYD:(A;;FRFW;;;S-1-5-9)", &SddlContext::none());
    for bytes in sds {
        assert_eq!(bytes.len(), 60);
        assert_eq!(hex::encode(&from_sddl), hex::encode(&bytes));
        let sd = SecurityDescriptor::from_bytes(&bytes).unwrap();
        assert_eq!(sd.to_bytes().unwrap(), bytes);
        // Windows prints 0x12019f as hex: SYNCHRONIZE has no letter, and it is neither FR nor FW.
        let canonical = sddl::format(&sd, &SddlContext::none()).unwrap();
        assert_eq!(canonical, "O:SYD:(A;;0x12019f;;;ED)");
        assert_eq!(sddl_bytes(&canonical, &SddlContext::none()), bytes);
    }
}

/// MS-DTYP 2.5.1.4 "SDDL String to Binary Security Descriptor Examples", byte for byte.
#[test]
fn ms_dtyp_2_5_1_4_example() {
    let text =
        "O:BAG:BAD:P(A;CIOI;GRGX;;;BU)(A;CIOI;GA;;;BA)(A;CIOI;GA;;;SY)(A;CIOI;GA;;;CO)S:P(AU;FA;GR;;;WD)";
    // The hex dump printed in MS-DTYP 2.5.1.4, one line per 16 bytes.
    let expected = concat!(
        "01 00 14 b0 90 00 00 00 a0 00 00 00 14 00 00 00",
        "30 00 00 00 02 00 1c 00 01 00 00 00 02 80 14 00",
        "00 00 00 80 01 01 00 00 00 00 00 01 00 00 00 00",
        "02 00 60 00 04 00 00 00 00 03 18 00 00 00 00 a0",
        "01 02 00 00 00 00 00 05 20 00 00 00 21 02 00 00",
        "00 03 18 00 00 00 00 10 01 02 00 00 00 00 00 05",
        "20 00 00 00 20 02 00 00 00 03 14 00 00 00 00 10",
        "01 01 00 00 00 00 00 05 12 00 00 00 00 03 14 00",
        "00 00 00 10 01 01 00 00 00 00 00 03 00 00 00 00",
        "01 02 00 00 00 00 00 05 20 00 00 00 20 02 00 00",
        "01 02 00 00 00 00 00 05 20 00 00 00 20 02 00 00",
    );
    let expected = expected.replace(' ', "");
    let bytes = sddl_bytes(text, &SddlContext::none());
    assert_eq!(hex::encode(&bytes), expected);
    assert_eq!(bytes.len(), 0xb0);
    let sd = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert_eq!(
        sd.control,
        control::SELF_RELATIVE
            | control::SACL_PROTECTED
            | control::DACL_PROTECTED
            | control::SACL_PRESENT
            | control::DACL_PRESENT
    );
    assert_eq!(sd.to_bytes().unwrap(), bytes);
    assert_eq!(
        sddl::format(&sd, &SddlContext::none()).unwrap(),
        "O:BAG:BAD:P(A;OICI;GXGR;;;BU)(A;OICI;GA;;;BA)(A;OICI;GA;;;SY)(A;OICI;GA;;;CO)S:P(AU;FA;GR;;;WD)"
    );
}

/// New-ADServiceAccount -PrincipalsAllowedToRetrieveManagedPassword writes this SD.
#[test]
fn powershell_principals_allowed_sd() {
    let text = "O:S-1-5-32-544D:(A;;0x0f01ff;;;S-1-5-21-1-2-3-1105)";
    let bytes = sddl_bytes(text, &SddlContext::none());
    let expected = concat!(
        "01000480",
        "40000000",
        "00000000",
        "00000000",
        "14000000",
        "02002c00",
        "01000000",
        "00002400",
        "ff010f00",
        "010500000000000515000000010000000200000003000000",
        "51040000",
        "010200000000000520000000",
        "20020000",
    );
    assert_eq!(hex::encode(&bytes), expected);
    let sd = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert_eq!(sd.owner, Some(well_known::builtin_administrators()));
    assert_eq!(
        sddl::format(&sd, &domain()).unwrap(),
        "O:BAD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;S-1-5-21-1-2-3-1105)"
    );
}

/// The SD Samba's gMSA tests store in msDS-GroupMSAMembership.
#[test]
fn everyone_may_read_sd() {
    let sd = sddl::parse("O:SYD:(A;;RP;;;WD)", &SddlContext::none()).unwrap();
    let ace = sd.dacl.as_ref().unwrap().aces[0].as_standard().unwrap().clone();
    assert_eq!(ace.ace_type, AceType::AccessAllowed);
    assert_eq!(ace.mask, 0x10);
    assert_eq!(ace.sid, well_known::everyone());
    assert_eq!(sd.dacl.as_ref().unwrap().revision, ACL_REVISION);
    assert_eq!(
        sddl::format(&sd, &SddlContext::none()).unwrap(),
        "O:SYD:(A;;RP;;;WD)"
    );
}

#[test]
fn object_aces_with_guids() {
    // Read a property of user objects (inherited), write a property as SELF, deny reset password.
    let text = concat!(
        "O:DAG:DAD:AI",
        "(OA;;RP;4c164200-20c0-11d0-a768-00aa006e0529;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)",
        "(OA;CIIO;WP;ea1b7b93-5e48-46d5-bc6c-4df4fda78a35;bf967a86-0de6-11d0-a285-00aa003049e2;PS)",
        "(OD;;CR;00299570-246d-11d0-a768-00aa006e0529;;WD)",
        "(A;;LCRPLORC;;;AU)"
    );
    let ctx = domain();
    let sd = sddl::parse(text, &ctx).unwrap();
    assert!(sd.has_control(control::DACL_AUTO_INHERITED));
    let dacl = sd.dacl.as_ref().unwrap();
    assert_eq!(dacl.revision, ACL_REVISION_DS);
    let aces: Vec<_> = dacl.standard_aces().collect();
    assert_eq!(aces[0].ace_type, AceType::AccessAllowedObject);
    assert_eq!(
        aces[0].object_type,
        Some(guid::parse_text("4c164200-20c0-11d0-a768-00aa006e0529").unwrap())
    );
    assert_eq!(aces[0].sid, well_known::pre_windows_2000_compatible_access());
    assert_eq!(
        aces[1].flags,
        AceFlags::CONTAINER_INHERIT | AceFlags::INHERIT_ONLY
    );
    assert_eq!(aces[1].sid, well_known::principal_self());
    assert_eq!(aces[2].ace_type, AceType::AccessDeniedObject);
    assert_eq!(aces[2].inherited_object_type, None);

    let bytes = sd.to_bytes().unwrap();
    // The first ACE: type 5, flags 0, mask RP, both GUIDs present, GUIDs in MS byte order.
    let dacl_at = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let ace = &bytes[dacl_at + 8..];
    assert_eq!(&ace[..2], &[0x05, 0x00]);
    assert_eq!(&ace[4..8], &0x10u32.to_le_bytes());
    assert_eq!(&ace[8..12], &3u32.to_le_bytes());
    assert_eq!(hex::encode(&ace[12..28]), "0042164cc020d011a76800aa006e0529");

    let back = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert_eq!(back, sd);
    assert_eq!(sddl::format(&back, &ctx).unwrap(), text);
}

#[test]
fn canonical_strings_round_trip_through_binary() {
    let ctx = SddlContext::child(sid("S-1-5-21-1-2-3"), sid("S-1-5-21-7-8-9"));
    for text in [
        "O:SYD:(A;;RP;;;WD)",
        "O:BAG:SYD:PAI(D;OICI;WDWO;;;BG)(A;ID;FA;;;SY)S:AI(OU;CISA;WP;bf967a86-0de6-11d0-a285-00aa003049e2;;WD)",
        "O:DAG:DUD:ARAI(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;EA)(A;;0x12019f;;;ED)(A;;;;;AN)",
        "O:S-1-5-21-1-2-3-1105D:NO_ACCESS_CONTROL",
        "D:",
        "D:PS:P",
        "G:S-1-0x123456789ABCD:(A;;KR;;;S-1-5-21-99-1105)",
        "",
    ] {
        let sd = sddl::parse(text, &ctx).unwrap_or_else(|e| panic!("{text}: {e}"));
        let bytes = sd.to_bytes().unwrap();
        let back = SecurityDescriptor::from_bytes(&bytes).unwrap();
        assert_eq!(back, sd, "{text}");
        assert_eq!(sddl::format(&back, &ctx).unwrap(), text);
    }
}

#[test]
fn non_canonical_input_is_accepted_and_normalised() {
    let ctx = domain();
    for (input, canonical) in [
        ("O:S-1-5-18D:(A;CIOI;0x10;;;S-1-1-0)", "O:SYD:(A;OICI;RP;;;WD)"),
        ("O:s-1-5-32-544G:S-1-5-21-1-2-3-512", "O:BAG:DA"),
        ("D:(A;;0X20094;;;S-1-5-21-1-2-3-513)", "D:(A;;LCRPLORC;;;DU)"),
        ("D:(A;;16;;;WD)(A;;010;;;WD)", "D:(A;;RP;;;WD)(A;;SW;;;WD)"),
        ("D:AIP(A;;KX;;;WD)", "D:PAI(A;;KR;;;WD)"),
        (
            "S:(AU;FASA;GA;;;WD)D:(A;;RP;;;WD)",
            "D:(A;;RP;;;WD)S:(AU;SAFA;GA;;;WD)",
        ),
        (
            "D:(OA;;CR;00299570-246D-11D0-A768-00AA006E0529;;WD)",
            "D:(OA;;CR;00299570-246d-11d0-a768-00aa006e0529;;WD)",
        ),
    ] {
        let sd = sddl::parse(input, &ctx).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(sddl::format(&sd, &ctx).unwrap(), canonical, "{input}");
    }
}

#[test]
fn domain_aliases_resolve_against_the_right_domain() {
    let child = sid("S-1-5-21-1-2-3");
    let root = sid("S-1-5-21-7-8-9");
    let ctx = SddlContext::child(child.clone(), root.clone());
    let sd = sddl::parse("O:DAG:EAD:(A;;RP;;;SA)(A;;RP;;;DD)(A;;RP;;;RO)", &ctx).unwrap();
    assert_eq!(sd.owner, Some(child.with_rid(512)));
    assert_eq!(sd.group, Some(root.with_rid(519)));
    let sids: Vec<Sid> = sd.dacl.unwrap().standard_aces().map(|a| a.sid.clone()).collect();
    assert_eq!(
        sids,
        vec![root.with_rid(518), child.with_rid(516), root.with_rid(498)]
    );
    // Without domain SIDs the domain aliases cannot be resolved, and are not printed.
    assert!(matches!(
        sddl::parse("O:DA", &SddlContext::none()),
        Err(SddlError::Alias(well_known::AliasError::NeedsDomain("DA")))
    ));
    let sd = sddl::parse("O:DA", &ctx).unwrap();
    assert_eq!(
        sddl::format(&sd, &SddlContext::none()).unwrap(),
        "O:S-1-5-21-1-2-3-512"
    );
}

#[test]
fn malformed_sddl_is_an_error() {
    let ctx = domain();
    for bad in [
        "X:SY",
        "O:",
        "O:SYO:SY",
        "O:ZZ",
        "O:S-1-5-x",
        "O:SYY",
        "D:(A;;RP;;WD)",
        "D:(A;;RP;;;WD;)",
        "D:(A;;RP;;;WD",
        "D:(XA;;RP;;;WD)",
        "D:(ML;;NW;;;LW)",
        "D:(A;QQ;RP;;;WD)",
        "D:(A;O;RP;;;WD)",
        "D:(A;;RQ;;;WD)",
        "D:(A;;0x1ffffffff;;;WD)",
        "D:(A;;RP;bf967a86-0de6-11d0-a285-00aa003049e2;;WD)",
        "D:(OA;;RP;bf967a86-0de6-11d0-a285-00aa003049e;;WD)",
        "D:(OA;;RP;;not-a-guid;WD)",
        "D:NO_ACCESS_CONTROL(A;;RP;;;WD)",
        "D:X(A;;RP;;;WD)",
        "D:(A;;RP;;;WD)junk",
        "D:(A;;RP;;;WD) ",
        "O:SY D:(A;;RP;;;WD)",
        "O:S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
        // Braced GUIDs are not SDDL (MS-DTYP 2.5.1.1 uses the bare 36-character form).
        "D:(OA;;CR;{00299570-246d-11d0-a768-00aa006e0529};;WD)",
        "O:é",
        "D:(A;é;RP;;;WD)",
    ] {
        assert!(sddl::parse(bad, &ctx).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn format_refuses_what_sddl_cannot_express() {
    let ctx = SddlContext::none();
    let mut sd = sddl::parse("D:(A;;RP;;;WD)", &ctx).unwrap();
    if let Some(adsim_simulator::security::Ace::Standard(a)) = sd.dacl.as_mut().unwrap().aces.first_mut() {
        a.flags = AceFlags::CRITICAL;
    }
    assert!(matches!(
        sddl::format(&sd, &ctx),
        Err(SddlError::NotRepresentable(_))
    ));
}
