//! The LDAP codec against PDUs from independent implementations: python ldap3/pyasn1
//! (tests/ldap_codec/gen_golden.py) and OpenLDAP's command-line tools
//! (tests/ldap_codec/capture_openldap.py). See those scripts for how each file was made.

use adsim_simulator::ldap::codec::{
    decode_request, encode_response, frame_len, BindAuth, Control, LdapRequest, LdapResult, RequestOp,
    ResponseOp, SearchRequest,
};
use adsim_simulator::ldap::controls::{oid, RequestControl, ResponseControl, SortKey};
use adsim_simulator::ldap::filter::Filter;
use ldap3_proto::proto::{LdapDerefAliases, LdapModifyType, LdapSearchScope};
use std::path::PathBuf;

const BASE: &str = "DC=corp,DC=example,DC=test";
/// The binary SID used by the generators (S-1-5-21-1004336348-1177238915-682003330-296, with
/// bytes 0x2a and 0x28 that need escaping in the string form).
const SID_HEX: &str = "010500000000000515000000dcf4dc3b833d2b46822a8b2828010000";
const GUID_HEX: &str = "2a28295c00ff7f80c3a9010203040506";

fn dir(sub: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ldap_codec")).join(sub)
}

fn golden(sub: &str, name: &str) -> Vec<u8> {
    let path = dir(sub).join(format!("{name}.hex"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hex::decode(text.trim()).unwrap()
}

fn request(name: &str) -> LdapRequest {
    let pdu = golden("requests", name);
    assert_eq!(
        frame_len(&pdu, 1 << 20).unwrap(),
        Some(pdu.len()),
        "{name}: frame length"
    );
    decode_request(&pdu).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn search_of(req: &LdapRequest) -> &SearchRequest {
    match &req.op {
        RequestOp::Search(s) => s,
        other => panic!("not a search: {other:?}"),
    }
}

fn typed(control: &Control) -> RequestControl {
    RequestControl::decode(control).unwrap().expect("known control")
}

fn sid() -> Vec<u8> {
    hex::decode(SID_HEX).unwrap()
}

fn escaped(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// `needle` occurs in `haystack` (the filter encodings of both sides are minimal).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn ldap3_binary_objectsid_filter_with_paged_and_sd_flags() {
    let pdu = golden("requests", "search_objectsid_paged_sdflags");
    let req = request("search_objectsid_paged_sdflags");
    assert_eq!(req.msgid, 7);
    let search = search_of(&req);
    assert_eq!(search.base, BASE);
    assert_eq!(search.scope, LdapSearchScope::Subtree);
    assert_eq!(search.deref, LdapDerefAliases::Never);
    assert_eq!(
        (search.size_limit, search.time_limit, search.types_only),
        (0, 0, false)
    );
    assert_eq!(search.filter, Filter::EqualityMatch("objectSid".into(), sid()));
    assert_eq!(search.attrs, ["cn", "objectGUID", "nTSecurityDescriptor"]);
    // Our string parser and BER encoder give ldap3's bytes for the same filter text.
    let ours = Filter::parse(&format!("(objectSid={})", escaped(&sid()))).unwrap();
    assert!(contains(&pdu, &ours.to_ber()));
    assert_eq!(req.controls.len(), 2);
    assert!(req.controls.iter().all(|c| c.critical));
    assert_eq!(
        typed(&req.controls[0]),
        RequestControl::PagedResults {
            size: 500,
            cookie: vec![]
        }
    );
    assert_eq!(typed(&req.controls[1]), RequestControl::SdFlags { flags: 7 });
}

#[test]
fn ldap3_paged_cookie_is_binary() {
    let req = request("search_paged_cookie");
    assert_eq!(search_of(&req).size_limit, 1000);
    assert!(!req.controls[0].critical);
    assert_eq!(
        typed(&req.controls[0]),
        RequestControl::PagedResults {
            size: 100,
            cookie: b"\x00\x01\xffcookie".to_vec()
        }
    );
}

#[test]
fn ldap3_every_filter_kind_matches_our_parser() {
    let guid = hex::decode(GUID_HEX).unwrap();
    let text = format!(
        "(&(objectClass=user)(|(cn=ad*min*x)(!(sAMAccountName~=bob)))\
         (userAccountControl:1.2.840.113556.1.4.803:=2)\
         (memberOf:1.2.840.113556.1.4.1941:=CN=Domain Admins,CN=Users,{BASE})\
         (whenCreated>=20240101000000.0Z)(uSNChanged<=100)(objectGUID=*)\
         (objectGUID={})(description=*\\2a\\28\\29\\5c*))",
        escaped(&guid)
    );
    let pdu = golden("requests", "search_complex_filter");
    let req = request("search_complex_filter");
    let search = search_of(&req);
    let ours = Filter::parse(&text).unwrap();
    assert_eq!(search.filter, ours);
    assert!(contains(&pdu, &ours.to_ber()));
    assert!(search.types_only);
    assert_eq!(search.attrs, ["*", "+"]);
    let Filter::And(items) = &search.filter else {
        panic!()
    };
    assert_eq!(items[7], Filter::EqualityMatch("objectGUID".into(), guid));
    assert_eq!(
        items[8],
        Filter::Substrings {
            attr: "description".into(),
            initial: None,
            any: vec![b"*()\\".to_vec()],
            final_: None
        }
    );
    // Display gives back a filter that parses to the same value.
    assert_eq!(Filter::parse(&search.filter.to_string()).unwrap(), search.filter);
    let controls: Vec<RequestControl> = req.controls.iter().map(typed).collect();
    assert_eq!(
        controls,
        [
            RequestControl::ShowDeleted,
            RequestControl::ShowDeactivatedLink,
            RequestControl::SearchOptions { flags: 2 }
        ]
    );
    assert_eq!(
        req.controls.iter().map(|c| c.critical).collect::<Vec<_>>(),
        [true, true, false]
    );
}

#[test]
fn ldap3_extensible_dn_attributes_and_extended_dn_control() {
    let req = request("search_extensible_dn");
    let search = search_of(&req);
    assert_eq!(search.scope, LdapSearchScope::Base);
    assert_eq!(search.attrs, ["1.1"]);
    assert_eq!(
        search.filter,
        Filter::parse("(|(ou:dn:=People)(:dn:2.4.6.8.10:=Dino))").unwrap()
    );
    assert_eq!(
        search.filter.to_string(),
        "(|(ou:dn:=People)(:dn:2.4.6.8.10:=Dino))"
    );
    assert_eq!(
        typed(&req.controls[0]),
        RequestControl::ExtendedDn { value_flag: 1 }
    );
}

#[test]
fn ldap3_server_side_sort_request() {
    let req = request("search_sorted");
    assert_eq!(search_of(&req).scope, LdapSearchScope::OneLevel);
    assert_eq!(
        typed(&req.controls[0]),
        RequestControl::ServerSort(vec![
            SortKey {
                attr: "sn".into(),
                ordering_rule: Some("2.5.13.3".into()),
                reverse: true
            },
            SortKey {
                attr: "givenName".into(),
                ordering_rule: None,
                reverse: false
            },
        ])
    );
}

fn bind_of(name: &str) -> (i64, String, BindAuth) {
    match request(name).op {
        RequestOp::Bind(b) => (b.version, b.name, b.auth),
        other => panic!("{name}: not a bind: {other:?}"),
    }
}

#[test]
fn ldap3_binds_simple_sasl_and_sicily() {
    let (v, name, auth) = bind_of("bind_simple");
    assert_eq!((v, name.as_str()), (3, "Administrator@corp.example.test"));
    assert_eq!(auth, BindAuth::Simple("Pässw0rd!".as_bytes().to_vec()));
    // Debug never shows the password.
    assert!(!format!("{auth:?}").contains("w0rd"));

    assert_eq!(
        bind_of("bind_anonymous"),
        (3, String::new(), BindAuth::Simple(vec![]))
    );
    assert_eq!(bind_of("bind_v2").0, 2, "the version is passed through");

    let (_, _, auth) = bind_of("bind_sasl_spnego");
    let BindAuth::Sasl {
        mechanism,
        credentials,
    } = auth
    else {
        panic!()
    };
    assert_eq!(mechanism, "GSS-SPNEGO");
    assert_eq!(
        credentials.unwrap(),
        b"\x60\x82\x00\x10NTLMSSP\x00\x01\x00\x00\x00\xff\x00"
    );
    assert_eq!(
        bind_of("bind_sasl_external").2,
        BindAuth::Sasl {
            mechanism: "EXTERNAL".into(),
            credentials: None
        }
    );

    // docs/notes/client-interop.md §7b: discovery is name "" + [9] "", negotiate is name "NTLM" + [10].
    let discovery = golden("requests", "bind_sicily_discovery");
    assert_eq!(hex::encode(&discovery), "300c020101600702010304008900");
    assert_eq!(
        bind_of("bind_sicily_discovery"),
        (3, String::new(), BindAuth::SicilyDiscovery)
    );
    let (_, name, auth) = bind_of("bind_sicily_negotiate");
    assert_eq!(name, "NTLM");
    let BindAuth::SicilyNegotiate(negotiate) = auth else {
        panic!()
    };
    assert!(negotiate.starts_with(b"NTLMSSP\x00\x01\x00\x00\x00"));
    let BindAuth::SicilyResponse(authenticate) = bind_of("bind_sicily_response").2 else {
        panic!()
    };
    assert_eq!(authenticate.len(), 12 + 256);
    assert_eq!(&authenticate[12..], (0..=255u8).collect::<Vec<_>>().as_slice());
}

#[test]
fn ldap3_update_operations_keep_binary_values() {
    let req = request("modify_unicodepwd");
    let RequestOp::Modify(modify) = &req.op else {
        panic!()
    };
    assert_eq!(modify.dn, format!("CN=alice,CN=Users,{BASE}"));
    let pwd: Vec<u8> = "\"Secret-Pa55\""
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let kinds: Vec<(LdapModifyType, &str, usize)> = modify
        .changes
        .iter()
        .map(|c| {
            (
                c.operation.clone(),
                c.modification.atype.as_str(),
                c.modification.vals.len(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (LdapModifyType::Replace, "unicodePwd", 1),
            (LdapModifyType::Add, "member", 1),
            (LdapModifyType::Delete, "description", 0),
            (LdapModifyType::Increment, "uSNChanged", 1),
        ]
    );
    assert_eq!(modify.changes[0].modification.vals[0], pwd);
    // The quoted UTF-16LE password never shows in Debug.
    assert!(!format!("{req:?}").contains("Secret"));
    assert_eq!(typed(&req.controls[0]), RequestControl::PermissiveModify);

    let RequestOp::Add(add) = request("add_user").op else {
        panic!()
    };
    let sid_attr = add.attributes.iter().find(|a| a.atype == "objectSid").unwrap();
    assert_eq!(sid_attr.vals, [sid()]);
    let photo = add
        .attributes
        .iter()
        .find(|a| a.atype == "thumbnailPhoto")
        .unwrap();
    assert_eq!(photo.vals[0], (0..=255u8).collect::<Vec<_>>());

    let req = request("delete");
    assert_eq!(req.op, RequestOp::Delete(format!("CN=carol,CN=Users,{BASE}")));
    assert_eq!(
        (typed(&req.controls[0]), req.controls[0].critical),
        (RequestControl::TreeDelete, true)
    );

    let RequestOp::ModifyDn(m) = request("modify_dn").op else {
        panic!()
    };
    assert_eq!(
        (
            m.dn.as_str(),
            m.newrdn.as_str(),
            m.deleteoldrdn,
            m.new_superior.as_deref()
        ),
        (
            &*format!("CN=carol,CN=Users,{BASE}"),
            "CN=carol2",
            true,
            Some(&*format!("OU=Staff,{BASE}"))
        )
    );

    assert_eq!(
        request("compare_binary").op,
        RequestOp::Compare {
            dn: format!("CN=carol,CN=Users,{BASE}"),
            attr: "objectSid".into(),
            value: sid()
        }
    );
}

#[test]
fn ldap3_abandon_extended_unbind() {
    assert_eq!(request("abandon").op, RequestOp::Abandon(9));
    assert_eq!(
        request("extended_starttls").op,
        RequestOp::Extended {
            oid: "1.3.6.1.4.1.1466.20037".into(),
            value: None
        }
    );
    assert_eq!(
        request("extended_whoami").op,
        RequestOp::Extended {
            oid: "1.3.6.1.4.1.4203.1.11.3".into(),
            value: None
        }
    );
    assert_eq!(
        request("extended_with_value").op,
        RequestOp::Extended {
            oid: "1.3.6.1.4.1.4203.1.11.1".into(),
            value: Some(vec![0x30, 0x00])
        }
    );
    let unbind = request("unbind");
    assert_eq!((unbind.msgid, unbind.op), (21, RequestOp::Unbind));
}

/// Every PDU captured from ldapsearch/ldapmodify/ldapcompare/ldapwhoami decodes, as the
/// operation its file name says.
#[test]
fn openldap_captures_all_decode() {
    let mut count = 0;
    for entry in std::fs::read_dir(dir("openldap")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let pdu = golden("openldap", &name);
        assert_eq!(frame_len(&pdu, 1 << 20).unwrap(), Some(pdu.len()));
        let req = decode_request(&pdu).unwrap_or_else(|e| panic!("{name}: {e}"));
        let kind = match req.op {
            RequestOp::Bind(_) => "bind",
            RequestOp::Unbind => "unbind",
            RequestOp::Search(_) => "search",
            RequestOp::Modify(_) => "modify",
            RequestOp::Add(_) => "add",
            RequestOp::Delete(_) => "delete",
            RequestOp::ModifyDn(_) => "moddn",
            RequestOp::Compare { .. } => "compare",
            RequestOp::Abandon(_) => "abandon",
            RequestOp::Extended { .. } => "extended",
        };
        assert!(name.ends_with(kind), "{name} decoded as {kind}");
        for control in &req.controls {
            RequestControl::decode(control).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        count += 1;
    }
    assert!(count >= 20, "only {count} captures");
}

fn capture(name: &str) -> LdapRequest {
    decode_request(&golden("openldap", name)).unwrap()
}

#[test]
fn openldap_ldapsearch_binary_sid_with_ad_controls() {
    let RequestOp::Bind(bind) = capture("ldapsearch_sid_paged_0_bind").op else {
        panic!()
    };
    assert_eq!(bind.name, "Administrator@corp.example.test");
    assert_eq!(bind.auth, BindAuth::Simple(b"Passw0rd!".to_vec()));

    let req = capture("ldapsearch_sid_paged_1_search");
    let search = search_of(&req);
    assert_eq!(search.filter, Filter::EqualityMatch("objectSid".into(), sid()));
    assert_eq!(search.attrs, ["cn", "objectGUID"]);
    let by_oid = |o: &str| {
        req.controls
            .iter()
            .find(|c| c.oid == o)
            .unwrap_or_else(|| panic!("{o}"))
    };
    assert_eq!(typed(by_oid(oid::SD_FLAGS)), RequestControl::SdFlags { flags: 7 });
    assert!(by_oid(oid::SD_FLAGS).critical);
    assert_eq!(
        typed(by_oid(oid::PAGED_RESULTS)),
        RequestControl::PagedResults {
            size: 250,
            cookie: vec![]
        }
    );
    assert!(by_oid(oid::SHOW_DELETED).critical && by_oid(oid::SHOW_DEACTIVATED_LINK).critical);
}

#[test]
fn openldap_ldapsearch_sort_extended_dn_domain_scope_manage_dsa_it() {
    let req = capture("ldapsearch_sorted_1_search");
    let search = search_of(&req);
    let expected = Filter::parse(
        "(&(objectCategory=person)(userAccountControl:1.2.840.113556.1.4.803:=2)(!(cn=a\\2a*b*c)))",
    )
    .unwrap();
    assert_eq!(search.filter, expected);
    let controls: Vec<RequestControl> = req.controls.iter().map(typed).collect();
    assert!(controls.contains(&RequestControl::ManageDsaIt));
    assert!(controls.contains(&RequestControl::DomainScope));
    assert!(controls.contains(&RequestControl::ExtendedDn { value_flag: 1 }));
    assert!(controls.contains(&RequestControl::ServerSort(vec![
        SortKey {
            attr: "sn".into(),
            ordering_rule: None,
            reverse: false
        },
        SortKey {
            attr: "givenName".into(),
            ordering_rule: Some("2.5.13.3".into()),
            reverse: true
        },
    ])));
}

#[test]
fn openldap_rootdse_whoami_and_updates() {
    let req = capture("ldapsearch_rootdse_1_search");
    let search = search_of(&req);
    assert_eq!(
        (search.base.as_str(), &search.scope),
        ("", &LdapSearchScope::Base)
    );
    assert_eq!(search.filter, Filter::Present("objectClass".into()));
    assert_eq!(search.attrs, ["*", "+"]);

    assert_eq!(
        capture("ldapwhoami_1_extended").op,
        RequestOp::Extended {
            oid: "1.3.6.1.4.1.4203.1.11.3".into(),
            value: None
        }
    );
    let RequestOp::Modify(m) = capture("ldapmodify_1_modify").op else {
        panic!()
    };
    let pwd: Vec<u8> = "\"Secret-Pa55\""
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(m.changes[0].modification.vals, [pwd]);
    let RequestOp::Add(a) = capture("ldapmodify_2_add").op else {
        panic!()
    };
    assert_eq!(
        a.attributes.iter().find(|a| a.atype == "objectSid").unwrap().vals,
        [sid()]
    );
    assert!(
        matches!(capture("ldapmodify_3_moddn").op, RequestOp::ModifyDn(ref m) if m.new_superior.is_some())
    );
    let RequestOp::Compare { value, .. } = capture("ldapcompare_1_compare").op else {
        panic!()
    };
    assert_eq!(value, sid());
}

fn response(name: &str) -> String {
    hex::encode(golden("responses", name))
}

fn ours(msgid: i32, op: ResponseOp, controls: &[Control]) -> String {
    hex::encode(encode_response(msgid, op, controls))
}

#[test]
fn responses_match_pyasn1_byte_for_byte() {
    let bind = |result: LdapResult, creds: Option<&[u8]>| ResponseOp::BindResponse {
        result,
        server_sasl_creds: creds.map(<[u8]>::to_vec),
    };
    assert_eq!(
        ours(1, bind(LdapResult::success(), None), &[]),
        response("bind_success")
    );
    assert_eq!(
        ours(
            3,
            bind(LdapResult::new(14, ""), Some(b"\xa1\x81\x03spnego-token")),
            &[]
        ),
        response("bind_sasl_in_progress")
    );
    let diag = "80090308: LdapErr: DSID-0C090569, comment: AcceptSecurityContext error, data 52e, v4563\0";
    assert_eq!(
        ours(4, bind(LdapResult::new(49, diag), None), &[]),
        response("bind_invalid_credentials")
    );
    assert_eq!(
        ours(
            1,
            bind(LdapResult::success().with_matched_dn(&b"NTLM"[..]), None),
            &[]
        ),
        response("bind_sicily_discovery")
    );
    let mut challenge = b"NTLMSSP\x00\x02\x00\x00\x00".to_vec();
    challenge.extend(0..=255u8);
    assert_eq!(
        ours(
            2,
            bind(LdapResult::success().with_matched_dn(challenge), None),
            &[]
        ),
        response("bind_sicily_challenge")
    );

    let guid = hex::decode(GUID_HEX).unwrap();
    let photo: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    let entry = ResponseOp::SearchResultEntry {
        dn: format!("CN=Administrator,CN=Users,{BASE}"),
        attrs: vec![
            (
                "objectClass".into(),
                vec![b"top".to_vec(), b"person".to_vec(), b"user".to_vec()],
            ),
            ("objectSid".into(), vec![sid()]),
            ("objectGUID".into(), vec![guid]),
            ("thumbnailPhoto".into(), vec![photo]),
            ("memberOf".into(), vec![]),
        ],
    };
    assert_eq!(ours(7, entry, &[]), response("search_entry"));
    let refs = vec![
        format!("ldap://child.corp.example.test/DC=child,{BASE}"),
        "ldap://other.test/".into(),
    ];
    assert_eq!(
        ours(7, ResponseOp::SearchResultReference(refs), &[]),
        response("search_reference")
    );

    let page = ResponseControl::PagedResults {
        size: 0,
        cookie: b"\x01\x02cookie".to_vec(),
    }
    .to_control();
    assert_eq!(
        ours(7, ResponseOp::SearchResultDone(LdapResult::success()), &[page]),
        response("search_done_paged")
    );
    let mut referral = LdapResult::new(10, "0000202B: RefErr: DSID-0310084A");
    referral.referrals = vec![format!("ldap://child.corp.example.test/DC=child,{BASE}")];
    assert_eq!(
        ours(8, ResponseOp::SearchResultDone(referral), &[]),
        response("search_done_referral")
    );
    let unwilling = LdapResult::new(
        53,
        "0000001F: SvcErr: DSID-031A126C, problem 5003 (WILL_NOT_PERFORM), data 0\n\0",
    );
    assert_eq!(
        ours(12, ResponseOp::ModifyResponse(unwilling), &[]),
        response("modify_unwilling")
    );
    assert_eq!(
        ours(16, ResponseOp::CompareResponse(LdapResult::new(6, "")), &[]),
        response("compare_true")
    );

    let whoami = ResponseOp::ExtendedResponse {
        result: LdapResult::success(),
        name: None,
        value: Some(b"u:CORP\\Administrator".to_vec()),
    };
    assert_eq!(ours(19, whoami, &[]), response("extended_whoami"));
    let starttls = ResponseOp::ExtendedResponse {
        result: LdapResult::success(),
        name: Some("1.3.6.1.4.1.1466.20037".into()),
        value: None,
    };
    assert_eq!(ours(18, starttls, &[]), response("extended_starttls"));
    // The notice always goes out with messageID 0.
    let notice = ResponseOp::NoticeOfDisconnection(LdapResult::new(2, "malformed PDU"));
    assert_eq!(ours(42, notice, &[]), response("notice_of_disconnection"));
    let intermediate = ResponseOp::IntermediateResponse {
        name: Some("1.3.6.1.4.1.4203.1.9.1.4".into()),
        value: Some(vec![0xa0, 0x00]),
    };
    assert_eq!(ours(30, intermediate, &[]), response("intermediate"));
}

#[test]
fn remaining_result_ops_use_their_application_tags() {
    for (op, tag) in [
        (ResponseOp::AddResponse(LdapResult::new(68, "")), 0x69u8),
        (ResponseOp::DelResponse(LdapResult::success()), 0x6b),
        (ResponseOp::ModDnResponse(LdapResult::success()), 0x6d),
    ] {
        let pdu = encode_response(5, op, &[]);
        assert_eq!(&pdu[..5], &[0x30, pdu[1], 0x02, 0x01, 0x05]);
        assert_eq!(pdu[5], tag);
    }
    // A code outside RFC 4511's list still encodes (ENUMERATED 118 = canceled).
    let pdu = encode_response(1, ResponseOp::SearchResultDone(LdapResult::new(118, "")), &[]);
    assert_eq!(hex::encode(pdu), "300c02010165070a017604000400");
}

#[test]
fn sort_result_response_control() {
    let control = ResponseControl::SortResult {
        result: 16,
        attr: Some("sn".into()),
    }
    .to_control();
    assert_eq!(control.oid, oid::SERVER_SORT_RESPONSE);
    assert!(!control.critical);
    // SEQUENCE { ENUMERATED 16, [0] "sn" }
    assert_eq!(hex::encode(control.value.unwrap()), "30070a01108002736e");
}

// ---- malformed input: errors, never panics ---------------------------------------------------

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if content.len() < 0x80 {
        out.push(content.len() as u8);
    } else {
        out.extend_from_slice(&[0x82, (content.len() >> 8) as u8, content.len() as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn message(msgid: &[u8], op: &[u8], controls: Option<&[u8]>) -> Vec<u8> {
    let mut body = tlv(0x02, msgid);
    body.extend_from_slice(op);
    if let Some(c) = controls {
        body.extend_from_slice(&tlv(0xa0, c));
    }
    tlv(0x30, &body)
}

const DELETE_OP: &[u8] = &[0x4a, 0x03, b'c', b'n', b'='];

#[test]
fn unknown_controls_are_kept_raw_and_malformed_ones_refused() {
    let unknown = tlv(
        0x30,
        &[
            tlv(0x04, b"1.2.3.4.5").as_slice(),
            &[0x01, 0x01, 0xff],
            &tlv(0x04, b"\x00\xff"),
        ]
        .concat(),
    );
    let req = decode_request(&message(&[5], DELETE_OP, Some(&unknown))).unwrap();
    assert_eq!(
        req.controls,
        [Control {
            oid: "1.2.3.4.5".into(),
            critical: true,
            value: Some(vec![0x00, 0xff])
        }]
    );
    assert_eq!(RequestControl::decode(&req.controls[0]), Ok(None));

    // Criticality after the value, and a constructed value, are not a Control.
    let swapped = tlv(
        0x30,
        &[
            tlv(0x04, b"1.2.3").as_slice(),
            &tlv(0x04, b"v"),
            &[0x01, 0x01, 0xff],
        ]
        .concat(),
    );
    let err = decode_request(&message(&[5], DELETE_OP, Some(&swapped))).unwrap_err();
    assert_eq!((err.msgid, err.op_tag), (Some(5), Some(10)));
    let constructed = tlv(
        0x30,
        &[tlv(0x04, b"1.2.3").as_slice(), &tlv(0x24, &tlv(0x04, b"v"))].concat(),
    );
    assert!(decode_request(&message(&[5], DELETE_OP, Some(&constructed))).is_err());
}

fn control(oid: &str, value: Option<&[u8]>) -> Control {
    Control {
        oid: oid.into(),
        critical: true,
        value: value.map(<[u8]>::to_vec),
    }
}

#[test]
fn malformed_control_values_are_errors() {
    let paged = |v: &[u8]| RequestControl::decode(&control(oid::PAGED_RESULTS, Some(v)));
    assert!(RequestControl::decode(&control(oid::PAGED_RESULTS, None)).is_err());
    assert!(paged(&[]).is_err());
    assert!(
        paged(&hex::decode("3003020105").unwrap()).is_err(),
        "cookie missing"
    );
    assert!(
        paged(&hex::decode("30050201ff0400").unwrap()).is_err(),
        "negative size"
    );
    assert!(
        paged(&hex::decode("3005020105040000").unwrap()).is_err(),
        "trailing byte"
    );
    assert!(
        paged(&hex::decode("300802010504000101ff").unwrap()).is_err(),
        "extra component"
    );
    assert!(
        paged(&hex::decode("3005020105040100").unwrap()).is_err(),
        "inner length overruns"
    );

    let sd = |v: &[u8]| RequestControl::decode(&control(oid::SD_FLAGS, Some(v)));
    assert!(RequestControl::decode(&control(oid::SD_FLAGS, None)).is_err());
    assert!(
        sd(&hex::decode("3003040107").unwrap()).is_err(),
        "OCTET STRING instead of INTEGER"
    );
    // A set high bit sent as a negative INTEGER still means that bit.
    assert_eq!(
        sd(&hex::decode("30060204f0000004").unwrap()).unwrap(),
        Some(RequestControl::SdFlags { flags: 0xf000_0004 })
    );
    assert_eq!(
        sd(&hex::decode("3007020500f0000004").unwrap()).unwrap(),
        Some(RequestControl::SdFlags { flags: 0xf000_0004 })
    );
    assert!(
        sd(&hex::decode("300702050100000000").unwrap()).is_err(),
        "more than 32 bits"
    );

    let sort = |v: &[u8]| RequestControl::decode(&control(oid::SERVER_SORT_REQUEST, Some(v)));
    assert!(sort(&hex::decode("3000").unwrap()).is_err(), "no sort key");
    assert!(
        sort(&hex::decode("30063004800273").unwrap()).is_err(),
        "orderingRule without attribute"
    );
    assert!(sort(&hex::decode("3008300604017381010a").unwrap()).is_ok());

    let ext = |v: Option<&[u8]>| RequestControl::decode(&control(oid::EXTENDED_DN, v));
    assert_eq!(
        ext(None).unwrap(),
        Some(RequestControl::ExtendedDn { value_flag: 0 })
    );
    assert_eq!(
        ext(Some(&[])).unwrap(),
        Some(RequestControl::ExtendedDn { value_flag: 0 })
    );
    assert!(ext(Some(&[0x30, 0x00])).is_err());
    // Value-less controls ignore a value, as a DC does.
    assert_eq!(
        RequestControl::decode(&control(oid::SHOW_DELETED, Some(b"junk"))).unwrap(),
        Some(RequestControl::ShowDeleted)
    );
}

#[test]
fn malformed_messages_are_errors_with_what_could_be_read() {
    let ok = message(&[5], DELETE_OP, None);
    assert!(decode_request(&ok).is_ok());
    let mut trailing = ok.clone();
    trailing.push(0);
    assert!(decode_request(&trailing).is_err());
    assert!(decode_request(&ok[..ok.len() - 1]).is_err());
    assert!(decode_request(&[]).is_err());

    // messageID must be 0..maxInt.
    assert!(decode_request(&message(&[0xff], DELETE_OP, None)).is_err());
    assert!(decode_request(&message(&[0x00, 0x80, 0, 0, 0], DELETE_OP, None)).is_err());
    assert!(decode_request(&message(&[0x7f, 0xff, 0xff, 0xff], DELETE_OP, None)).is_ok());

    // A response op, an unknown op, an op of the wrong form.
    let bind_response = tlv(0x61, &[0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]);
    let err = decode_request(&message(&[9], &bind_response, None)).unwrap_err();
    assert_eq!((err.msgid, err.op_tag), (Some(9), Some(1)));
    assert!(err.reason.contains("response"), "{err}");
    assert!(decode_request(&message(&[9], &tlv(0x7e, &[]), None)).is_err());
    assert!(
        decode_request(&message(&[9], &tlv(0x6a, &[]), None)).is_err(),
        "constructed delRequest"
    );
    assert!(
        decode_request(&message(&[9], &[0x42, 0x01, 0x00], None)).is_err(),
        "unbind with content"
    );
    assert!(
        decode_request(&message(&[9], &[0x4a, 0x02, 0xc3, 0x28], None)).is_err(),
        "DN not UTF-8"
    );
    assert!(
        decode_request(&message(&[9], &[0x04, 0x00], None)).is_err(),
        "universal protocolOp"
    );

    // Bind: unknown authentication choice decodes (the server answers authMethodNotSupported);
    // a constructed simple password does not.
    let bind = |auth: &[u8]| tlv(0x60, &[&[0x02, 0x01, 0x03, 0x04, 0x00][..], auth].concat());
    let req = decode_request(&message(&[1], &bind(&[0x81, 0x00]), None)).unwrap();
    assert!(matches!(req.op, RequestOp::Bind(ref b) if b.auth == BindAuth::Unsupported(1)));
    assert!(decode_request(&message(&[1], &bind(&[0xa0, 0x00]), None)).is_err());
    assert!(decode_request(&message(&[1], &bind(&[0x40, 0x00]), None)).is_err());

    // Search: scope 7, negative sizeLimit, and a filter choice that does not exist.
    let search = |scope: u8, size: u8, filter: &[u8]| {
        let body = [
            &tlv(0x04, b"")[..],
            &[
                0x0a, 0x01, scope, 0x0a, 0x01, 0x00, 0x02, 0x01, size, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00,
            ],
            filter,
            &[0x30, 0x00],
        ]
        .concat();
        message(&[3], &tlv(0x63, &body), None)
    };
    let present = [0x87, 0x02, b'c', b'n'];
    assert!(decode_request(&search(0, 0, &present)).is_ok());
    assert!(decode_request(&search(7, 0, &present)).is_err());
    assert!(decode_request(&search(0, 0xff, &present)).is_err());
    assert!(decode_request(&search(0, 0, &[0xaa, 0x00])).is_err());
    assert!(
        decode_request(&search(0, 0, &[0x87, 0x01, 0xff])).is_err(),
        "attribute not UTF-8"
    );
}

#[test]
fn deep_filters_are_bounded() {
    let mut ber = Filter::Present("cn".into()).to_ber();
    let mut text = "(cn=*)".to_string();
    for _ in 0..100 {
        ber = tlv(0xa2, &ber);
        text = format!("(!{text})");
    }
    assert!(Filter::from_ber(&ber).is_ok());
    assert!(Filter::parse(&text).is_ok());
    for _ in 0..100 {
        ber = tlv(0xa2, &ber);
        text = format!("(!{text})");
    }
    assert!(Filter::from_ber(&ber).is_err());
    assert!(Filter::parse(&text).is_err());
}
