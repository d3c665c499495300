//! SPNEGO and the SASL layers, driven by impacket 0.13's GSS-SPNEGO client code (the flow of
//! impacket/ldap/ldap.py): NTLM end to end including mechListMIC and sealed LDAP PDUs, and a
//! Kerberos NegTokenInit carrying an AP-REQ for a ticket from adsim's KDC.

use crate::auth_common::{self, names, python};
use crate::common;

use adsim_simulator::auth::gss_krb5::{self, gss_flags, AcceptPolicy, GssChecksum, KrbSecurityContext};
use adsim_simulator::auth::ntlm::{
    NtlmAcceptor, NtlmAccount, NtlmAccounts, NtlmOutcome, NtlmPolicy, NtlmSession, Role,
};
use adsim_simulator::auth::sasl::{self, layer, KrbLayer, NtlmLayer, SaslError, SecurityLayer};
use adsim_simulator::auth::spnego::{self, Mech, NegState, NegToken, NegTokenInit, NegTokenResp};
use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::messages::{ApReq, Authenticator, Checksum, EncryptedData, EncryptionKey};
use common::*;
use proptest::prelude::*;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/auth/spnego_clients.py");
const KRB_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/auth/krb5_wrap.py");

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

struct Accounts;

impl NtlmAccounts for Accounts {
    type Ref = &'static str;
    fn lookup(&self, _domain: &str, user: &str) -> Option<NtlmAccount<&'static str>> {
        (user == "alice").then(|| NtlmAccount {
            nt_hash: adsim_simulator::keys::nt_hash(
                &"S3cret!pass"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<_>>(),
            ),
            account: "CN=alice",
            locked_out: false,
        })
    }

    fn wrong_password(&self, _account: &&'static str) {}
}

#[test]
fn impacket_gss_spnego_ntlm_bind_with_mech_list_mic_and_sealing() {
    // Leg 1: impacket's NegTokenInit (0x60 framing, mechTypes [NTLMSSP], mechToken NEGOTIATE).
    let init = match spnego::decode_neg_token(&h(&python(SCRIPT, &["ntlm-init"]))).unwrap() {
        NegToken::Init(i) => i,
        other => panic!("{other:?}"),
    };
    assert_eq!(init.mech_types, vec![spnego::oid::NTLM.to_vec()]);
    assert_eq!(init.mech_types_der, spnego::mech_list_bytes(&[spnego::oid::NTLM]));
    let choice = spnego::choose_mech(&init, &[Mech::MsKrb5, Mech::Krb5, Mech::Ntlm]).unwrap();
    assert_eq!(choice.mech, Mech::Ntlm);
    assert!(!choice.mic_required);
    let mut acc = NtlmAcceptor::new(names(), NtlmPolicy::default());
    let challenge = acc
        .challenge(&choice.token.unwrap(), [3; 8], 133_000_000_000_000_000)
        .unwrap();
    let resp = spnego::encode_neg_token_resp(&NegTokenResp {
        neg_state: Some(NegState::AcceptIncomplete),
        supported_mech: Some(spnego::oid::NTLM.to_vec()),
        response_token: Some(challenge.clone()),
        mech_list_mic: None,
    });
    // impacket parses our NegTokenResp.
    let parsed: serde_json::Value =
        serde_json::from_str(&python(SCRIPT, &["parse-resp", &hex::encode(&resp)])).unwrap();
    assert_eq!(parsed["NegState"], "01");
    assert_eq!(
        parsed["SupportedMech"].as_str().unwrap(),
        hex::encode(spnego::oid::NTLM)
    );
    assert_eq!(parsed["ResponseToken"].as_str().unwrap(), hex::encode(&challenge));

    // Leg 2: AUTHENTICATE + mechListMIC.
    let fin: serde_json::Value = serde_json::from_str(&python(
        SCRIPT,
        &["ntlm-finish", &hex::encode(&resp), "alice", "S3cret!pass", "CORP"],
    ))
    .unwrap();
    let NegToken::Resp(r) = spnego::decode_neg_token(&h(fin["resp"].as_str().unwrap())).unwrap() else {
        panic!()
    };
    let NtlmOutcome::Authenticated {
        session_key, flags, ..
    } = acc.authenticate(r.response_token.as_deref().unwrap(), &Accounts)
    else {
        panic!("not authenticated")
    };
    let mut session = NtlmSession::new(&session_key, flags, Role::Server).unwrap();
    let last = spnego::complete(
        &init.mech_types_der,
        r.mech_list_mic.as_deref(),
        false,
        None,
        &mut session,
    )
    .unwrap();
    let NegToken::Resp(last) = spnego::decode_neg_token(&last).unwrap() else {
        panic!()
    };
    assert_eq!(last.neg_state, Some(NegState::AcceptCompleted));
    assert_eq!(last.mech_list_mic.as_ref().map(Vec::len), Some(16));
    session.reset_rc4_handles();

    // Sealed, framed LDAP PDUs (4-byte length, signature || sealed).
    let mut layer = NtlmLayer { session, seal: true };
    for (i, want) in [&b"0\x05\x02\x01\x02\x42\x00"[..], b"second PDU"]
        .iter()
        .enumerate()
    {
        let framed = h(fin["framed"][i].as_str().unwrap());
        let (payload, used) = sasl::try_unframe(&framed, 1 << 20).unwrap().unwrap();
        assert_eq!(used, framed.len());
        assert_eq!(layer.unwrap(payload).unwrap(), *want);
    }

    // A wrong mechListMIC is refused.
    let mut session = NtlmSession::new(&session_key, flags, Role::Server).unwrap();
    let mut bad = r.mech_list_mic.clone().unwrap();
    bad[5] ^= 1;
    assert!(spnego::complete(&init.mech_types_der, Some(&bad), false, None, &mut session).is_err());
}

/// impacket's Kerberos GSS-SPNEGO init ([MS KRB5] + raw AP-REQ), then the RFC 4752 layer
/// negotiation and a sealed PDU from impacket's GSSAPI_AES256.
#[test]
fn impacket_krb5_neg_token_init_then_sasl_layer() {
    let (cred, keys) = auth_common::ldap_ticket();
    let sk = &cred.session_key;
    let auth = Authenticator {
        crealm: cred.crealm.clone(),
        cname: cred.cname.clone(),
        cksum: Some(Checksum {
            cksumtype: gss_krb5::CKSUM_GSSAPI,
            checksum: GssChecksum {
                channel_binding: [0; 16],
                flags: gss_flags::MUTUAL | gss_flags::CONF | gss_flags::INTEG,
                delegation: None,
            }
            .to_bytes(),
        }),
        cusec: 5,
        ctime: T0,
        subkey: None,
        seq_number: Some(0),
        authorization_data: None,
    };
    let ap_req = ApReq {
        ap_options: gss_krb5::ap_options::MUTUAL_REQUIRED,
        ticket: cred.ticket.clone(),
        authenticator: EncryptedData {
            etype: sk.keytype,
            kvno: None,
            cipher: Etype::from_i32(sk.keytype)
                .unwrap()
                .encrypt(&sk.keyvalue, 11, &auth.to_der())
                .unwrap(),
        },
    }
    .to_der();
    let NegToken::Init(init) =
        spnego::decode_neg_token(&h(&python(SCRIPT, &["krb-init", &hex::encode(&ap_req)]))).unwrap()
    else {
        panic!()
    };
    let choice = spnego::choose_mech(&init, &[Mech::Ntlm, Mech::MsKrb5, Mech::Krb5]).unwrap();
    assert_eq!(choice.mech, Mech::MsKrb5);
    let policy = AcceptPolicy {
        now: T0,
        max_skew: 300,
        ..Default::default()
    };
    let accepted = gss_krb5::accept_sec_context(&choice.token.unwrap(), &keys, &policy).unwrap();
    assert_eq!(accepted.framing, gss_krb5::Framing::Raw);
    let acceptor_subkey = EncryptionKey {
        keytype: 18,
        keyvalue: vec![0x61; 32],
    };
    let mut ctx = KrbSecurityContext::acceptor(&accepted, Some(&acceptor_subkey), 0).unwrap();

    // RFC 4752 §3.1 offer, read by the client side of the context.
    let mut client = KrbSecurityContext::new(&acceptor_subkey, false, true).unwrap();
    let offer = sasl::server_offer(
        &mut ctx,
        layer::NONE | layer::INTEGRITY | layer::CONFIDENTIALITY,
        sasl::SERVER_MAX_BUFFER,
    )
    .unwrap();
    let (plain, sealed) = client.unwrap(&offer).unwrap();
    assert!(!sealed);
    assert_eq!(plain, [0x07, 0xa0, 0x00, 0x00]);
    // The client's choice, sealed by impacket (seq 0): confidentiality, max buffer, authzid.
    let choice_token = h(&python(
        KRB_SCRIPT,
        &["wrap", &hex::encode(&acceptor_subkey.keyvalue), "0", "04ffffff"],
    ));
    let c = sasl::parse_client_choice(&mut ctx, &choice_token, 0x07).unwrap();
    assert_eq!(
        (c.layer, c.max_buffer, c.authzid.as_slice()),
        (layer::CONFIDENTIALITY, 0xffffff, &b""[..])
    );
    let mut layer = KrbLayer { ctx, conf: true };
    let pdu = h(&python(
        KRB_SCRIPT,
        &["wrap", &hex::encode(&acceptor_subkey.keyvalue), "1", "300c020102"],
    ));
    assert_eq!(layer.unwrap(&pdu).unwrap(), h("300c020102"));
    // An integrity-only token where confidentiality was chosen is refused.
    let mut cl = KrbSecurityContext::new(&acceptor_subkey, false, true).unwrap();
    cl.set_sequence(2, 0);
    let unsealed = cl.wrap(b"x", false).unwrap();
    assert_eq!(layer.unwrap(&unsealed), Err(SaslError::LayerMismatch));
    // A layer not offered.
    let mut ctx2 = KrbSecurityContext::acceptor(&accepted, Some(&acceptor_subkey), 0).unwrap();
    assert_eq!(
        sasl::parse_client_choice(&mut ctx2, &choice_token, layer::NONE),
        Err(SaslError::LayerNotOffered)
    );
}

#[test]
fn choice_prefers_the_clients_order_and_flags_the_mic() {
    let init = NegTokenInit {
        mech_types: vec![spnego::oid::NEGOEX.to_vec(), spnego::oid::NTLM.to_vec()],
        mech_token: Some(b"negoex".to_vec()),
        ..Default::default()
    };
    let c = spnego::choose_mech(&init, &[Mech::Ntlm]).unwrap();
    assert_eq!((c.mech, c.token, c.mic_required), (Mech::Ntlm, None, true));
    assert!(spnego::choose_mech(&init, &[Mech::Krb5]).is_err());
    // Round trip of our own encoder through the decoder.
    let enc = spnego::encode_neg_token_init(&NegTokenInit {
        req_flags: Some(0x6000_0000),
        ..init.clone()
    });
    let NegToken::Init(back) = spnego::decode_neg_token(&enc).unwrap() else {
        panic!()
    };
    assert_eq!(back.mech_types, init.mech_types);
    assert_eq!(back.req_flags, Some(0x6000_0000));
    let rej = spnego::decode_neg_token(&spnego::reject()).unwrap();
    assert_eq!(
        rej,
        NegToken::Resp(NegTokenResp {
            neg_state: Some(NegState::Reject),
            ..Default::default()
        })
    );
}

proptest! {
    #[test]
    fn spnego_and_framing_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = spnego::decode_neg_token(&bytes);
        let mut a = vec![0xa1, bytes.len().min(127) as u8];
        a.extend(&bytes);
        let _ = spnego::decode_neg_token(&a);
        let _ = sasl::try_unframe(&bytes, 100);
        let key = EncryptionKey { keytype: 18, keyvalue: vec![1; 32] };
        let mut ctx = KrbSecurityContext::new(&key, true, true).unwrap();
        let _ = sasl::parse_client_choice(&mut ctx, &bytes, 7);
        let mut l = NtlmLayer { session: NtlmSession::new(&[1; 16], 0xe2088297, Role::Server).unwrap(), seal: true };
        let _ = l.unwrap(&bytes);
    }
}
