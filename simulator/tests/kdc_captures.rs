//! The AS-REQs captured from MIT kinit 1.20.1 (tests/data/captures): decoding, and what the KDC
//! answers to them on a frozen clock set to the capture's own pre-auth timestamp.

use crate::common;

use std::sync::Arc;

use adsim_simulator::clock::{Clock, NtTime};
use adsim_simulator::kdc::client::Answer;
use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::der::DerReader;
use adsim_simulator::kdc::key_usage;
use adsim_simulator::kdc::messages::{
    decode_etype_info2, decode_method_data, msg_type, pa_type, EncryptedData, KdcReq, PaEncTsEnc,
};
use adsim_simulator::kdc::{Kdc, KdcConfig, Transport};
use common::*;

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/captures");
const CAPTURE_REALM: &str = "CORP.TEST";

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CAPTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn capture_db() -> Arc<MemoryDb> {
    let db = MemoryDb::with_realm(CAPTURE_REALM);
    db.add(krbtgt(CAPTURE_REALM), &[]);
    db.add(user(CAPTURE_REALM, "alice", "Passw0rd!", 1105), &[]);
    db.add(user(CAPTURE_REALM, "bob", "Passw0rd!", 1106), &[]);
    db.add(user(CAPTURE_REALM, "j€rg", "Passw0rd!", 1107), &[]);
    Arc::new(db)
}

fn kdc_at(db: Arc<MemoryDb>, unix: i64) -> Kdc {
    Kdc::new(
        db,
        Clock::frozen(NtTime::from_unix_seconds(unix)),
        KdcConfig::default(),
    )
}

/// The client time inside a captured PA-ENC-TIMESTAMP, decrypted with `password`.
fn captured_timestamp(req: &KdcReq, password: &str, salt: &str) -> i64 {
    let pa = req.padata(pa_type::PA_ENC_TIMESTAMP).expect("PA-ENC-TIMESTAMP");
    let enc = EncryptedData::decode(&mut DerReader::new(&pa.value)).unwrap();
    assert_eq!(enc.etype, 18);
    let key = derive_keys(password, salt, 0)[0].key.clone();
    let plain = Etype::Aes256
        .decrypt(&key, key_usage::AS_REQ_PA_ENC_TIMESTAMP, &enc.cipher)
        .expect("MIT's timestamp decrypts with the AD-style key");
    PaEncTsEnc::from_der(&plain).unwrap().patimestamp
}

#[test]
fn every_capture_decodes() {
    let expected = [
        ("asreq0.der", "alice", false),
        ("asreq1.der", "alice", true),
        ("asreq2.der", "j€rg", false),
        ("asreq3.der", "bob", false),
        ("asreq4.der", "bob", true),
    ];
    for (file, name, preauth) in expected {
        let bytes = capture(file);
        let req = KdcReq::from_der(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(req.msg_type, msg_type::AS_REQ);
        let body = &req.req_body;
        assert_eq!(
            body.cname.as_ref().unwrap().components,
            vec![name.to_string()],
            "{file}"
        );
        assert_eq!(body.realm, CAPTURE_REALM);
        assert_eq!(
            body.sname.as_ref().unwrap().components,
            vec!["krbtgt", CAPTURE_REALM]
        );
        assert_eq!(body.etypes, vec![18, 17], "{file}");
        let types: Vec<i32> = req.padata.iter().map(|p| p.padata_type).collect();
        assert!(types.contains(&150) && types.contains(&149), "{file}: {types:?}");
        assert_eq!(types.contains(&pa_type::PA_ENC_TIMESTAMP), preauth, "{file}");
        // The raw req-body is a sub-slice of the capture, byte for byte.
        assert!(bytes
            .windows(req.req_body_raw.len())
            .any(|w| w == req.req_body_raw.as_slice()));
        // Re-encoding reproduces the capture exactly.
        assert_eq!(req.to_der(), bytes, "{file}");
    }
}

/// Why the message layer is not picky-krb's: its KerberosString is IA5, so the j€rg cname is
/// silently dropped (decoding "succeeds" with no client name).
#[test]
fn picky_krb_loses_the_utf8_client_name() {
    let bytes = capture("asreq2.der");
    let picky: picky_krb::messages::AsReq = picky_asn1_der::from_bytes(&bytes).unwrap();
    assert!(picky.0.req_body.0.cname.0.is_none());
    let ours = KdcReq::from_der(&bytes).unwrap();
    assert_eq!(ours.req_body.cname.unwrap().components, vec!["j€rg"]);
}

#[test]
fn first_requests_get_preauth_required_with_the_salt() {
    let kdc = kdc_at(capture_db(), 1_763_862_814);
    for (file, salt) in [
        ("asreq0.der", "CORP.TESTalice"),
        ("asreq2.der", "CORP.TESTj€rg"),
        ("asreq3.der", "CORP.TESTbob"),
    ] {
        let reply = kdc.handle(&capture(file), Transport::Tcp).unwrap();
        let err = read_reply(&reply, &[]).unwrap_err();
        assert_eq!(err.error_code, 25, "{file}");
        assert_eq!(err.stime, 1_763_862_814);
        let md = decode_method_data(err.e_data.as_ref().unwrap()).unwrap();
        let info = decode_etype_info2(&md[0].value).unwrap();
        assert_eq!(info[0].etype, 18);
        assert_eq!(info[0].salt.as_deref(), Some(salt), "{file}");
    }
}

#[test]
fn captured_preauth_is_accepted_and_follows_the_skew_rule() {
    for (file, user) in [("asreq1.der", "alice"), ("asreq4.der", "bob")] {
        let bytes = capture(file);
        let req = KdcReq::from_der(&bytes).unwrap();
        let salt = format!("{CAPTURE_REALM}{user}");
        let client_time = captured_timestamp(&req, "Passw0rd!", &salt);
        let key = derive_keys("Passw0rd!", &salt, 0)[0].key.clone();
        for (offset, ok) in [(0, true), (240, true), (-240, true), (360, false), (-360, false)] {
            let kdc = kdc_at(capture_db(), client_time + offset);
            let reply = kdc.handle(&bytes, Transport::Tcp).unwrap();
            if ok {
                // Over UDP the PAC-bearing AS-REP exceeds MaxDatagramReplySize (1465 bytes): the
                // client is told to retry over TCP (RFC 4120 §7.2.1).
                let udp = kdc.handle(&bytes, Transport::Udp).unwrap();
                assert!(udp.len() < 1465);
                assert_eq!(read_reply(&udp, &key).unwrap_err().error_code, 52);
            }
            match read_reply(&reply, &key) {
                Answer::Ticket(cred) => {
                    assert!(ok, "{file} at {offset}");
                    assert_eq!(cred.enc_part.nonce, req.req_body.nonce);
                    assert_eq!(cred.enc_part.starttime, Some(client_time + offset));
                }
                Answer::Error(e) => {
                    assert!(!ok, "{file} at {offset}: {}", e.error_code);
                    assert_eq!(e.error_code, 37);
                    assert_eq!(e.stime, client_time + offset);
                }
            }
        }
        // The same request against a different password is PREAUTH_FAILED, skewed or not.
        let db = capture_db();
        db.update(user, |p| p.keys = derive_keys("other", &salt, 2));
        let kdc = kdc_at(db, client_time + 3600);
        let err = read_reply(&kdc.handle(&bytes, Transport::Tcp).unwrap(), &[]).unwrap_err();
        assert_eq!(err.error_code, 24, "{file}");
    }
}
