//! Property tests of the LDAP codec: hostile bytes never panic, filters survive both of their
//! forms, and ldap3_proto (an independent encoder/decoder) agrees with ours.

use crate::mutation::{mutate, mutation};
use adsim_simulator::ldap::codec::{
    decode_request, encode_response, frame_len, LdapResult, RequestOp, ResponseOp,
};
use adsim_simulator::ldap::controls::RequestControl;
use adsim_simulator::ldap::filter::Filter;
use bytes::BytesMut;
use ldap3_lber::parse::Parser;
use ldap3_lber::structure::StructureTag;
use ldap3_proto::proto::{
    LdapAddRequest, LdapCompareRequest, LdapModify, LdapModifyRequest, LdapModifyType, LdapMsg, LdapOp,
    LdapPartialAttribute, LdapResultCode,
};
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Every valid request PDU we have: the python ldap3 goldens and the OpenLDAP captures.
fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ldap_codec"));
        let mut pdus = Vec::new();
        for sub in ["requests", "openldap"] {
            for entry in std::fs::read_dir(root.join(sub)).unwrap() {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                pdus.push(hex::decode(text.trim()).unwrap());
            }
        }
        assert!(pdus.len() > 40);
        pdus
    })
}

/// Everything a server would do with a decoded request must be panic-free too.
fn exercise(pdu: &[u8]) {
    if let Ok(Some(n)) = frame_len(pdu, 1 << 16) {
        assert!(n <= pdu.len());
    }
    if let Ok(req) = decode_request(pdu) {
        assert!(req.msgid >= 0);
        let _ = format!("{req:?}");
        for control in &req.controls {
            let _ = RequestControl::decode(control);
        }
        if let RequestOp::Search(search) = &req.op {
            let text = search.filter.to_string();
            let _ = Filter::parse(&text);
        }
    }
}

fn attr() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9-]{0,10}(;[a-z]{1,5})?"
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..10)
}

fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..6)
}

fn leaf() -> impl Strategy<Value = Filter> {
    let substrings = (
        attr(),
        prop::option::of(piece()),
        prop::collection::vec(piece(), 0..3),
        prop::option::of(piece()),
    )
        .prop_filter("at least one substring", |(_, i, a, f)| {
            i.is_some() || !a.is_empty() || f.is_some()
        })
        .prop_map(|(attr, initial, any, final_)| Filter::Substrings {
            attr,
            initial,
            any,
            final_,
        });
    let rule = prop_oneof![
        "[1-9][0-9]{0,3}(\\.[0-9]{1,6}){1,8}",
        Just("caseExactMatch".to_string())
    ];
    let extensible = (
        prop::option::of(rule),
        prop::option::of(attr()),
        value(),
        any::<bool>(),
    )
        .prop_filter("rule or attribute", |(r, a, _, _)| r.is_some() || a.is_some())
        .prop_map(|(rule, attr, value, dn_attributes)| Filter::ExtensibleMatch {
            rule,
            attr,
            value,
            dn_attributes,
        });
    prop_oneof![
        (attr(), value()).prop_map(|(a, v)| Filter::EqualityMatch(a, v)),
        (attr(), value()).prop_map(|(a, v)| Filter::GreaterOrEqual(a, v)),
        (attr(), value()).prop_map(|(a, v)| Filter::LessOrEqual(a, v)),
        (attr(), value()).prop_map(|(a, v)| Filter::ApproxMatch(a, v)),
        attr().prop_map(Filter::Present),
        substrings,
        extensible,
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn ldap3_proto_encode(msg: LdapMsg) -> Vec<u8> {
    let mut buf = BytesMut::new();
    ldap3_lber::write::encode_into(&mut buf, StructureTag::from(msg)).unwrap();
    buf.to_vec()
}

fn ldap3_proto_decode(bytes: &[u8]) -> LdapMsg {
    let (rest, tag) = Parser::new(64).parse(bytes).unwrap();
    assert!(rest.is_empty());
    LdapMsg::try_from(tag).unwrap()
}

fn partial_attribute() -> impl Strategy<Value = LdapPartialAttribute> {
    (
        attr(),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4),
    )
        .prop_map(|(atype, vals)| LdapPartialAttribute { atype, vals })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        exercise(&bytes);
    }

    /// Random content inside a correct LDAPMessage header reaches the deeper decoders.
    #[test]
    fn random_message_bodies_never_panic(msgid in 0u8..128, op in any::<u8>(), body in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut inner = vec![0x02, 0x01, msgid, op];
        inner.push(body.len() as u8);
        inner.extend_from_slice(&body);
        let mut pdu = vec![0x30, 0x81, inner.len() as u8];
        pdu.extend_from_slice(&inner);
        exercise(&pdu);
    }

    #[test]
    fn mutated_valid_pdus_never_panic(index in any::<usize>(), mutations in prop::collection::vec(mutation(), 1..4)) {
        let corpus = corpus();
        let mut pdu = corpus[index % corpus.len()].clone();
        for m in &mutations {
            mutate(&mut pdu, m);
        }
        exercise(&pdu);
    }

    #[test]
    fn filter_string_and_ber_round_trip(f in filter()) {
        let text = f.to_string();
        let parsed = Filter::parse(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&f), "text {}", text);
        prop_assert_eq!(Filter::from_ber(&f.to_ber()), Ok(f));
    }

    #[test]
    fn filter_parser_never_panics(text in "[()&|!=*~<>:a-z0-9\\\\. ]{0,40}") {
        if let Ok(f) = Filter::parse(&text) {
            prop_assert_eq!(Filter::from_ber(&f.to_ber()), Ok(f));
        }
    }

    /// ldap3_proto encodes Modify/Add/Compare with binary values; we decode the same values.
    #[test]
    fn ldap3_proto_requests_decode_binary_safe(
        msgid in 0i32..i32::MAX,
        dn in "[A-Za-z=, ]{0,30}",
        attrs in prop::collection::vec(partial_attribute(), 0..4),
        ops in prop::collection::vec(0i64..4, 4),
        compare_value in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let changes: Vec<LdapModify> = attrs.iter().zip(&ops).map(|(a, op)| LdapModify {
            operation: LdapModifyType::try_from(*op).unwrap(),
            modification: a.clone(),
        }).collect();
        let modify = LdapModifyRequest { dn: dn.clone(), changes };
        let pdu = ldap3_proto_encode(LdapMsg::new(msgid, LdapOp::ModifyRequest(modify.clone())));
        let req = decode_request(&pdu).unwrap();
        prop_assert_eq!(req.msgid, msgid);
        prop_assert_eq!(req.op, RequestOp::Modify(modify));

        let add = LdapAddRequest { dn: dn.clone(), attributes: attrs };
        let pdu = ldap3_proto_encode(LdapMsg::new(msgid, LdapOp::AddRequest(add.clone())));
        prop_assert_eq!(decode_request(&pdu).unwrap().op, RequestOp::Add(add));

        let compare = LdapCompareRequest { dn: dn.clone(), atype: "objectSid".into(), val: compare_value.clone() };
        let pdu = ldap3_proto_encode(LdapMsg::new(msgid, LdapOp::CompareRequest(compare)));
        prop_assert_eq!(
            decode_request(&pdu).unwrap().op,
            RequestOp::Compare { dn, attr: "objectSid".into(), value: compare_value }
        );
    }

    /// ldap3_proto decodes our SearchResultEntry and SearchResultDone.
    #[test]
    fn ldap3_proto_decodes_our_responses(
        msgid in 1i32..i32::MAX,
        dn in "[A-Za-z=, ]{0,30}",
        attrs in prop::collection::vec(partial_attribute(), 0..4),
        code in prop::sample::select(vec![0u32, 1, 2, 4, 10, 12, 32, 49, 50, 53, 68, 80]),
        diagnostic in "[ -~]{0,60}",
    ) {
        let entry = ResponseOp::SearchResultEntry {
            dn: dn.clone(),
            attrs: attrs.iter().map(|a| (a.atype.clone(), a.vals.clone())).collect(),
        };
        let msg = ldap3_proto_decode(&encode_response(msgid, entry, &[]));
        prop_assert_eq!(msg.msgid, msgid);
        match msg.op {
            LdapOp::SearchResultEntry(e) => {
                prop_assert_eq!(e.dn, dn);
                prop_assert_eq!(e.attributes, attrs);
            }
            other => prop_assert!(false, "decoded as {:?}", other),
        }

        let done = ResponseOp::SearchResultDone(LdapResult::new(code, diagnostic.clone()));
        let msg = ldap3_proto_decode(&encode_response(msgid, done, &[]));
        match msg.op {
            LdapOp::SearchResultDone(r) => {
                prop_assert_eq!(r.code, LdapResultCode::try_from(i64::from(code)).unwrap());
                prop_assert_eq!(r.message, diagnostic);
            }
            other => prop_assert!(false, "decoded as {:?}", other),
        }
    }
}
