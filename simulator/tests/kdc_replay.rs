//! The KDC's replay cache (RFC 4120 §3.2.3, issue 13 item 10): an authenticator in a TGS-REQ
//! is good for one request. The identical request sent again (a UDP retry, or a retry over TCP
//! after KRB_ERR_RESPONSE_TOO_BIG) is answered again; another request carrying the same
//! authenticator gets KRB_AP_ERR_REPEAT; undecodable datagrams get no answer.

use crate::common;

use adsim_simulator::kdc::client::decode_reply;
use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::messages::{pa_type, KdcReq, KrbError, PaData};
use adsim_simulator::kdc::Transport;
use common::*;

fn alice_tgt(kdc: &adsim_simulator::kdc::Kdc) -> adsim_simulator::kdc::client::Credential {
    get_tgt(
        kdc,
        "alice",
        ALICE_PASSWORD,
        &format!("{REALM}alice"),
        Etype::Aes256,
    )
    .unwrap()
}

fn is_tgs_rep(bytes: &[u8]) -> bool {
    decode_reply(bytes).is_ok() && KrbError::from_der(bytes).is_err()
}

#[test]
fn a_retransmitted_tgs_req_is_answered_and_a_reused_authenticator_is_a_replay() {
    let (kdc, _) = frozen_kdc(standard_db());
    let tgt = alice_tgt(&kdc);
    let request = TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0);
    let bytes = request.encode(&tgt);

    // The same datagram twice: the ticket with its PAC does not fit a datagram, so both get
    // KRB_ERR_RESPONSE_TOO_BIG (not a replay); the client's retry of the same bytes over TCP
    // gets the ticket, twice.
    for _ in 0..2 {
        let reply = kdc.handle(&bytes, Transport::Udp).expect("a reply");
        assert_eq!(KrbError::from_der(&reply).unwrap().error_code, 52);
    }
    for _ in 0..2 {
        let reply = kdc.handle(&bytes, Transport::Tcp).expect("a reply");
        assert!(
            is_tgs_rep(&reply),
            "{:?}",
            KrbError::from_der(&reply).map(|e| e.error_code)
        );
    }

    // The same AP-REQ in a different request (another PA-DATA beside it; the body checksum does
    // not cover PA-DATA, so only the cache can tell).
    let mut other = KdcReq::from_der(&bytes).unwrap();
    other.padata.push(PaData {
        padata_type: pa_type::PA_PAC_REQUEST,
        value: vec![0x30, 0x05, 0xa0, 0x03, 0x01, 0x01, 0xff],
    });
    let reply = kdc.handle(&other.to_der(), Transport::Tcp).expect("a reply");
    assert_eq!(
        KrbError::from_der(&reply).unwrap().error_code,
        34,
        "KRB_AP_ERR_REPEAT"
    );

    // A new request from the same client at the same (frozen) second has its own cusec.
    let fresh = TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0);
    let reply = kdc.handle(&fresh.encode(&tgt), Transport::Tcp).unwrap();
    assert!(is_tgs_rep(&reply));
}

#[test]
fn undecodable_datagrams_get_no_answer_and_tcp_still_gets_an_error() {
    let (kdc, _) = frozen_kdc(standard_db());
    // 1- and 2-byte datagrams that start like an AS-REQ or TGS-REQ: an error reply of ~100
    // bytes would amplify spoofed traffic; nothing is sent.
    for garbage in [&[0x6a][..], &[0x6c], &[0x6a, 0x00], &[0x6c, 0x81]] {
        assert!(kdc.handle(garbage, Transport::Udp).is_none(), "{garbage:02x?}");
    }
    let tgt = alice_tgt(&kdc);
    let request = TgsRequest::new(&["krbtgt", REALM], T0).encode(&tgt);
    assert!(kdc
        .handle(&request[..request.len() / 2], Transport::Udp)
        .is_none());
    // Over TCP the framed request is still answered with KRB_ERR_GENERIC (a stream is not
    // spoofable).
    let reply = kdc.handle(&request[..request.len() / 2], Transport::Tcp).unwrap();
    assert_eq!(KrbError::from_der(&reply).unwrap().error_code, 60);
}
