//! The crate's Kerberos client (`kdc::client`) against the in-process KDC on a frozen clock:
//! AS with and without pre-authentication, TGS, the errors a wrong password and a skewed
//! clock get, and an AP-REQ for a service ticket opened as the service would open it.

use crate::common;

use adsim_simulator::kdc::client::{
    ap_option, decode_reply, gss_flags, salt_hint, service_name, tcp_frame, tcp_reply_len, Answer, ApRequest,
    BodyChecksum, ClientError, ClientKey, Credential, GssChecksum, KdcReply, TgsRequest, CKSUM_GSSAPI,
    MAX_TCP_REPLY,
};
use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::error::code;
use adsim_simulator::kdc::key_usage;
use adsim_simulator::kdc::messages::{pa_type, ApReq, Authenticator, KdcReq};
use adsim_simulator::kdc::ticket;
use adsim_simulator::kdc::{Kdc, Transport};
use common::{derive_keys, frozen_kdc, nt_hash, standard_db, ALICE_PASSWORD, REALM, T0};

type AsRequest = adsim_simulator::kdc::client::AsRequest;

const ALICE_SALT: &str = "CORP.EXAMPLE.TESTalice";

fn alice_key(etype: Etype) -> ClientKey {
    ClientKey::from_password(etype, ALICE_PASSWORD, ALICE_SALT).unwrap()
}

fn as_exchange(kdc: &Kdc, req: &AsRequest, key: &ClientKey) -> Answer {
    let reply = kdc.handle(&req.encode().unwrap(), Transport::Tcp).unwrap();
    req.read_reply(&reply, key).unwrap()
}

fn tgs_exchange(kdc: &Kdc, req: &TgsRequest, tgt: &Credential) -> Answer {
    let reply = kdc.handle(&req.encode(tgt).unwrap(), Transport::Tcp).unwrap();
    req.read_reply(&reply, tgt).unwrap()
}

fn ticket_of(answer: Answer) -> Credential {
    match answer {
        Answer::Ticket(c) => *c,
        Answer::Error(e) => panic!("KRB-ERROR {}", e.error_code),
    }
}

fn error_of(answer: Answer) -> i32 {
    match answer {
        Answer::Ticket(_) => panic!("a ticket instead of an error"),
        Answer::Error(e) => e.error_code,
    }
}

fn alice_tgt(kdc: &Kdc) -> Credential {
    let key = alice_key(Etype::Aes256);
    ticket_of(as_exchange(
        kdc,
        &AsRequest::new(REALM, "alice", T0).with_preauth(key.clone()),
        &key,
    ))
}

#[test]
fn password_keys_match_the_directory_keys() {
    // The KDC's fixture keys come from picky-krb and MD4: an independent string-to-key.
    let fixture = derive_keys(ALICE_PASSWORD, ALICE_SALT, 2);
    for etype in [Etype::Aes256, Etype::Aes128, Etype::Rc4Hmac] {
        let stored = fixture.iter().find(|k| k.etype == etype.number()).unwrap();
        assert_eq!(alice_key(etype).key, stored.key, "{etype:?}");
    }
    assert_eq!(alice_key(Etype::Rc4Hmac).key, nt_hash(ALICE_PASSWORD));
}

#[test]
fn as_without_preauth_is_asked_for_it_then_succeeds_with_the_hinted_salt() {
    let (kdc, _) = frozen_kdc(standard_db());
    let bare = AsRequest::new(REALM, "alice", T0);
    let reply = kdc.handle(&bare.encode().unwrap(), Transport::Tcp).unwrap();
    let KdcReply::Error(err) = decode_reply(&reply).unwrap() else {
        panic!("a ticket without pre-authentication")
    };
    assert_eq!(err.error_code, code::KDC_ERR_PREAUTH_REQUIRED);
    let (etype, salt) = salt_hint(&err, &[Etype::Aes256, Etype::Aes128]).unwrap();
    assert_eq!((etype, salt.as_str()), (Etype::Aes256, ALICE_SALT));
    assert_eq!(
        salt_hint(&err, &[Etype::Rc4Hmac]),
        Some((Etype::Rc4Hmac, String::new())),
        "RC4 takes no salt"
    );

    let key = ClientKey::from_password(etype, ALICE_PASSWORD, &salt).unwrap();
    let req = AsRequest::new(REALM, "alice", T0).with_preauth(key.clone());
    let tgt = ticket_of(as_exchange(&kdc, &req, &key));
    assert_eq!(tgt.cname.components, vec!["alice"]);
    assert_eq!(tgt.crealm, REALM);
    assert_eq!(tgt.ticket.sname.components, vec!["krbtgt", REALM]);
    assert_eq!(tgt.enc_part.nonce, req.body.nonce);
    assert_eq!(tgt.enc_part.authtime, T0);
    assert_eq!(tgt.reply_etype, 18);
    assert!(tgt
        .reply_padata
        .iter()
        .any(|p| p.padata_type == pa_type::PA_ETYPE_INFO2));
    // PA-PAC-REQUEST went out with the pre-authentication.
    let sent = KdcReq::from_der(&req.encode().unwrap()).unwrap();
    let types: Vec<i32> = sent.padata.iter().map(|p| p.padata_type).collect();
    assert_eq!(types, vec![pa_type::PA_ENC_TIMESTAMP, pa_type::PA_PAC_REQUEST]);
}

#[test]
fn an_account_without_preauth_gets_a_ticket_for_a_bare_request() {
    let (kdc, _) = frozen_kdc(standard_db());
    let key = ClientKey::from_password(Etype::Aes256, "NoPre-Passw0rd", "CORP.EXAMPLE.TESTnoauth").unwrap();
    let tgt = ticket_of(as_exchange(&kdc, &AsRequest::new(REALM, "noauth", T0), &key));
    assert_eq!(tgt.cname.components, vec!["noauth"]);
}

#[test]
fn wrong_password_is_preauth_failed() {
    let (kdc, _) = frozen_kdc(standard_db());
    let wrong = ClientKey::from_password(Etype::Aes256, "wrong", ALICE_SALT).unwrap();
    let req = AsRequest::new(REALM, "alice", T0).with_preauth(wrong.clone());
    assert_eq!(
        error_of(as_exchange(&kdc, &req, &wrong)),
        code::KDC_ERR_PREAUTH_FAILED
    );
    assert_eq!(code::KDC_ERR_PREAUTH_FAILED, 24);
}

#[test]
fn a_skewed_client_clock_is_krb_ap_err_skew() {
    let (kdc, _) = frozen_kdc(standard_db());
    let key = alice_key(Etype::Aes256);
    for (offset, ok) in [(240, true), (-240, true), (360, false), (-360, false)] {
        let req = AsRequest::new(REALM, "alice", T0 + offset).with_preauth(key.clone());
        match as_exchange(&kdc, &req, &key) {
            Answer::Ticket(_) => assert!(ok, "AS at {offset}"),
            Answer::Error(e) => {
                assert!(!ok, "AS at {offset}: {}", e.error_code);
                assert_eq!(e.error_code, code::KRB_AP_ERR_SKEW);
                assert_eq!(e.error_code, 37);
            }
        }
    }
    let tgt = alice_tgt(&kdc);
    for (offset, ok) in [(240, true), (360, false), (-360, false)] {
        let req = TgsRequest::new(service_name("ldap/dc1.corp.example.test"), T0 + offset);
        match tgs_exchange(&kdc, &req, &tgt) {
            Answer::Ticket(_) => assert!(ok, "TGS at {offset}"),
            Answer::Error(e) => assert!(!ok && e.error_code == 37, "TGS at {offset}: {}", e.error_code),
        }
    }
}

#[test]
fn tgs_issues_a_ticket_the_service_can_open() {
    let db = standard_db();
    let (kdc, _) = frozen_kdc(db.clone());
    let tgt = alice_tgt(&kdc);
    let req = TgsRequest::new(service_name("HTTP/web01.corp.example.test"), T0);
    let st = ticket_of(tgs_exchange(&kdc, &req, &tgt));
    assert_eq!(
        st.enc_part.sname.components,
        vec!["HTTP", "web01.corp.example.test"]
    );
    assert_eq!(st.enc_part.nonce, req.body.nonce);
    let (part, _) = ticket::open(&st.ticket, &db.get("WEB01$").keys).unwrap();
    assert_eq!(
        part.key, st.session_key,
        "the client holds the ticket's session key"
    );
    assert_eq!(part.cname.components, vec!["alice"]);

    // With a subkey the reply comes sealed with it (usage 9), and the client opens it.
    let mut with_subkey = TgsRequest::new(service_name("HTTP/web01.corp.example.test"), T0);
    with_subkey.subkey = ApRequest::new(T0).with_subkey(Etype::Aes128).subkey;
    let st = ticket_of(tgs_exchange(&kdc, &with_subkey, &tgt));
    assert_eq!(st.reply_etype, 17);

    // Without a body checksum the authenticator carries none (impacket's way).
    let mut bare = TgsRequest::new(service_name("HTTP/web01.corp.example.test"), T0);
    bare.body_checksum = BodyChecksum::Omit;
    let sent = bare.to_kdc_req(&tgt).unwrap();
    let ap_req = ApReq::from_der(&sent.padata(pa_type::PA_TGS_REQ).unwrap().value).unwrap();
    let plain = Etype::Aes256
        .decrypt(
            &tgt.session_key.keyvalue,
            key_usage::TGS_REQ_AUTH,
            &ap_req.authenticator.cipher,
        )
        .unwrap();
    assert_eq!(Authenticator::from_der(&plain).unwrap().cksum, None);
    ticket_of(tgs_exchange(&kdc, &bare, &tgt));
}

#[test]
fn a_reply_with_another_nonce_is_refused() {
    let (kdc, _) = frozen_kdc(standard_db());
    let key = alice_key(Etype::Aes256);
    let req = AsRequest::new(REALM, "alice", T0).with_preauth(key.clone());
    let reply = kdc.handle(&req.encode().unwrap(), Transport::Tcp).unwrap();
    let mut other = req.clone();
    other.body.nonce ^= 1;
    assert!(matches!(
        other.read_reply(&reply, &key),
        Err(ClientError::Unexpected(_))
    ));
    let wrong = ClientKey::from_password(Etype::Aes256, "wrong", ALICE_SALT).unwrap();
    assert!(matches!(
        req.read_reply(&reply, &wrong),
        Err(ClientError::Crypto(_))
    ));
    assert!(matches!(
        decode_reply(b"\x30\x00"),
        Err(ClientError::Malformed(_))
    ));
}

#[test]
fn ap_req_for_a_service_ticket_opens_as_the_service_opens_it() {
    let db = standard_db();
    let (kdc, _) = frozen_kdc(db.clone());
    let tgt = alice_tgt(&kdc);
    let st = ticket_of(tgs_exchange(
        &kdc,
        &TgsRequest::new(service_name("ldap/dc1.corp.example.test"), T0),
        &tgt,
    ));
    let flags = gss_flags::MUTUAL | gss_flags::SEQUENCE | gss_flags::INTEG;
    let request = ApRequest::new(T0 + 5)
        .gss(GssChecksum::new(flags))
        .with_subkey(Etype::Aes256)
        .with_seq_number(4711);
    let bytes = request.encode(&st).unwrap();

    // The service's side: its key opens the ticket, the ticket's key the authenticator.
    let ap_req = ApReq::from_der(&bytes).unwrap();
    assert_eq!(ap_req.ap_options, ap_option::MUTUAL_REQUIRED);
    let (part, _) = ticket::open(&ap_req.ticket, &db.get("DC1$").keys).unwrap();
    let etype = Etype::from_i32(part.key.keytype).unwrap();
    let plain = etype
        .decrypt(
            &part.key.keyvalue,
            key_usage::AP_REQ_AUTH,
            &ap_req.authenticator.cipher,
        )
        .unwrap();
    let auth = Authenticator::from_der(&plain).unwrap();
    assert_eq!(
        (auth.ctime, auth.cname.components.clone()),
        (T0 + 5, vec!["alice".to_string()])
    );
    assert_eq!(auth.crealm, REALM);
    assert_eq!(auth.seq_number, Some(4711));
    assert_eq!(auth.subkey, request.subkey);
    let cksum = auth.cksum.unwrap();
    assert_eq!(cksum.cksumtype, CKSUM_GSSAPI);
    assert_eq!(cksum.checksum.len(), 24);
    assert_eq!(
        GssChecksum::from_bytes(&cksum.checksum).unwrap(),
        GssChecksum::new(flags)
    );
    // Not under the TGS usage: an AP-REQ is not a PA-TGS-REQ.
    assert!(etype
        .decrypt(
            &part.key.keyvalue,
            key_usage::TGS_REQ_AUTH,
            &ap_req.authenticator.cipher
        )
        .is_err());
}

#[test]
fn gss_checksum_layout_follows_rfc_4121() {
    let mut c = GssChecksum::new(gss_flags::DELEG | gss_flags::MUTUAL);
    c.channel_binding = [0xab; 16];
    c.delegation = Some(vec![0x76, 0x03, 1, 2, 3]);
    let bytes = c.to_bytes();
    assert_eq!(&bytes[..4], &[16, 0, 0, 0]);
    assert_eq!(&bytes[4..20], &[0xab; 16]);
    assert_eq!(&bytes[20..24], &[3, 0, 0, 0]);
    assert_eq!(&bytes[24..28], &[1, 0, 5, 0], "DlgOpt 1, Dlgth 5");
    assert_eq!(GssChecksum::from_bytes(&bytes).unwrap(), c);
    assert!(GssChecksum::from_bytes(&bytes[..20]).is_err());
    assert!(
        GssChecksum::from_bytes(&bytes[..26]).is_err(),
        "DELEG without its KRB-CRED"
    );
}

#[test]
fn tcp_framing() {
    assert_eq!(tcp_frame(b"abc").unwrap(), b"\0\0\0\x03abc");
    assert_eq!(tcp_reply_len([0, 0, 1, 0]).unwrap(), 256);
    assert!(tcp_reply_len((MAX_TCP_REPLY as u32 + 1).to_be_bytes()).is_err());
}
