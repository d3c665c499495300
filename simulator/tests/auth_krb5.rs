//! The Kerberos GSS acceptor with service tickets issued by adsim's own KDC, and RFC 4121 Wrap
//! tokens exchanged with impacket 0.13's GSSAPI_AES256 (the code impacket's LDAP client uses).

use crate::auth_common::{self, python, DcKeys};
use crate::common;

use adsim_simulator::auth::gss_krb5::{
    self, accept_sec_context, build_ap_rep, code, gss_flags, oid, tok_id, AcceptPolicy, Framing, GssChecksum,
    GssError, KrbSecurityContext,
};
use adsim_simulator::auth::ntlm::{channel_binding_hash, tls_server_end_point, ChannelBindingPolicy};
use adsim_simulator::kdc::client::Credential;
use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::messages::{
    ApRep, ApReq, Authenticator, Checksum, EncApRepPart, EncryptedData, EncryptionKey,
};
use adsim_simulator::kdc::ticket::find_pac;
use common::*;
use proptest::prelude::*;

struct Ctx {
    cred: Credential,
    keys: DcKeys,
}

fn ldap_ticket() -> Ctx {
    let (cred, keys) = auth_common::ldap_ticket();
    Ctx { cred, keys }
}

struct Req {
    ctime: i64,
    bnd: [u8; 16],
    flags: u32,
    subkey: Option<EncryptionKey>,
    cksumtype: i32,
}

impl Default for Req {
    fn default() -> Self {
        Req {
            ctime: T0,
            bnd: [0; 16],
            flags: gss_flags::MUTUAL | gss_flags::INTEG | gss_flags::CONF | gss_flags::SEQUENCE,
            subkey: Some(EncryptionKey {
                keytype: 18,
                keyvalue: vec![0x42; 32],
            }),
            cksumtype: gss_krb5::CKSUM_GSSAPI,
        }
    }
}

/// An AP-REQ as a GSS initiator builds it (RFC 4121 §4.1.1).
fn ap_req(ctx: &Ctx, req: &Req) -> Vec<u8> {
    let auth = Authenticator {
        crealm: ctx.cred.crealm.clone(),
        cname: ctx.cred.cname.clone(),
        cksum: Some(Checksum {
            cksumtype: req.cksumtype,
            checksum: GssChecksum {
                channel_binding: req.bnd,
                flags: req.flags,
                delegation: None,
            }
            .to_bytes(),
        }),
        cusec: 1234,
        ctime: req.ctime,
        subkey: req.subkey.clone(),
        seq_number: Some(777),
        authorization_data: None,
    };
    let sk = &ctx.cred.session_key;
    let etype = Etype::from_i32(sk.keytype).unwrap();
    ApReq {
        ap_options: gss_krb5::ap_options::MUTUAL_REQUIRED,
        ticket: ctx.cred.ticket.clone(),
        authenticator: EncryptedData {
            etype: sk.keytype,
            kvno: None,
            cipher: etype.encrypt(&sk.keyvalue, 11, &auth.to_der()).unwrap(),
        },
    }
    .to_der()
}

fn policy() -> AcceptPolicy {
    AcceptPolicy {
        now: T0,
        max_skew: 300,
        ..Default::default()
    }
}

#[test]
fn accepts_a_kdc_issued_ticket_in_each_framing_and_answers_with_an_ap_rep() {
    let ctx = ldap_ticket();
    let raw = ap_req(&ctx, &Req::default());
    for (token, framing) in [
        (
            gss_krb5::wrap_initial_token(oid::KRB5, tok_id::AP_REQ, &raw),
            Framing::Krb5,
        ),
        (
            gss_krb5::wrap_initial_token(oid::MS_KRB5, tok_id::AP_REQ, &raw),
            Framing::MsKrb5,
        ),
        (raw.clone(), Framing::Raw),
    ] {
        let acc = accept_sec_context(&token, &ctx.keys, &policy()).unwrap();
        assert_eq!(acc.framing, framing);
        assert_eq!(acc.cname.joined(), "alice");
        assert_eq!(acc.crealm, REALM);
        assert!(acc.mutual_required);
        assert_eq!(acc.initiator_seq, Some(777));
        assert_eq!(acc.replay_key.ctime, T0);
        assert!(acc.gss.flags & gss_flags::CONF != 0);
        // The PAC is in the ticket's authorization data for the caller to decode.
        assert!(find_pac(&acc.ticket).is_some());

        // The AP-REP: framed like the request, decrypts with the session key (usage 12).
        let acceptor_subkey = EncryptionKey {
            keytype: 18,
            keyvalue: vec![0x24; 32],
        };
        let rep = build_ap_rep(&acc, Some(&acceptor_subkey), 99).unwrap();
        let body = match framing {
            Framing::Raw => rep.as_slice(),
            _ => {
                let (mech, inner) = gss_krb5::split_initial_token(&rep).unwrap();
                assert_eq!(
                    mech,
                    if framing == Framing::Krb5 {
                        oid::KRB5
                    } else {
                        oid::MS_KRB5
                    }
                );
                assert_eq!(&inner[..2], &tok_id::AP_REP);
                &inner[2..]
            }
        };
        let rep = ApRep::from_der(body).unwrap();
        let sk = &ctx.cred.session_key;
        let part = Etype::from_i32(sk.keytype)
            .unwrap()
            .decrypt(&sk.keyvalue, 12, &rep.enc_part.cipher)
            .unwrap();
        let part = EncApRepPart::from_der(&part).unwrap();
        assert_eq!((part.ctime, part.cusec, part.seq_number), (T0, 1234, Some(99)));
        assert_eq!(part.subkey, Some(acceptor_subkey));
    }
}

#[test]
fn refusals_carry_rfc_4120_codes() {
    let ctx = ldap_ticket();
    let err = |req: &Req, p: &AcceptPolicy| {
        accept_sec_context(&ap_req(&ctx, req), &ctx.keys, p)
            .unwrap_err()
            .code
    };
    // Skew: ±6 minutes against a 5-minute window.
    assert_eq!(
        err(
            &Req {
                ctime: T0 + 360,
                ..Default::default()
            },
            &policy()
        ),
        code::KRB_AP_ERR_SKEW
    );
    assert_eq!(
        err(
            &Req {
                ctime: T0 - 360,
                ..Default::default()
            },
            &policy()
        ),
        code::KRB_AP_ERR_SKEW
    );
    assert!(accept_sec_context(
        &ap_req(
            &ctx,
            &Req {
                ctime: T0 + 240,
                ..Default::default()
            }
        ),
        &ctx.keys,
        &policy()
    )
    .is_ok());
    // Expired ticket: "now" a day later, with the authenticator time following.
    let later = AcceptPolicy {
        now: T0 + 86_400,
        ..policy()
    };
    assert_eq!(
        err(
            &Req {
                ctime: T0 + 86_400,
                ..Default::default()
            },
            &later
        ),
        code::KRB_AP_ERR_TKT_EXPIRED
    );
    // Wrong checksum type.
    assert_eq!(
        err(
            &Req {
                cksumtype: 16,
                ..Default::default()
            },
            &policy()
        ),
        code::KRB_AP_ERR_INAPP_CKSUM
    );
    // Tampered ticket cipher → BAD_INTEGRITY.
    let mut req = ApReq::from_der(&ap_req(&ctx, &Req::default())).unwrap();
    let n = req.ticket.enc_part.cipher.len();
    req.ticket.enc_part.cipher[n / 2] ^= 1;
    assert_eq!(
        accept_sec_context(&req.to_der(), &ctx.keys, &policy())
            .unwrap_err()
            .code,
        code::KRB_AP_ERR_BAD_INTEGRITY
    );
    // Tampered authenticator.
    let mut req = ApReq::from_der(&ap_req(&ctx, &Req::default())).unwrap();
    req.authenticator.cipher[20] ^= 1;
    assert_eq!(
        accept_sec_context(&req.to_der(), &ctx.keys, &policy())
            .unwrap_err()
            .code,
        code::KRB_AP_ERR_BAD_INTEGRITY
    );
    // No key for the ticket (wrong service keys).
    let none = DcKeys(vec![]);
    assert_eq!(
        accept_sec_context(&ap_req(&ctx, &Req::default()), &none, &policy())
            .unwrap_err()
            .code,
        code::KRB_AP_ERR_NOKEY
    );
    // Garbage.
    assert_eq!(
        accept_sec_context(b"\x60\x03\x06\x01\x00", &ctx.keys, &policy())
            .unwrap_err()
            .code,
        code::KRB_AP_ERR_MSG_TYPE
    );
}

#[test]
fn channel_bindings_in_the_bnd_field() {
    let ctx = ldap_ticket();
    let good = channel_binding_hash(&tls_server_end_point(&[0xab; 32]));
    let other = channel_binding_hash(&tls_server_end_point(&[0xcd; 32]));
    let p = |cb| AcceptPolicy {
        channel_binding: cb,
        expected_channel_binding: Some(good),
        ..policy()
    };
    let run = |bnd, cb| {
        accept_sec_context(
            &ap_req(
                &ctx,
                &Req {
                    bnd,
                    ..Default::default()
                },
            ),
            &ctx.keys,
            &p(cb),
        )
    };
    use ChannelBindingPolicy::*;
    assert!(run(good, Always).is_ok());
    assert!(run([0; 16], WhenSupported).is_ok());
    assert!(run(other, Never).is_ok());
    assert_eq!(
        run(other, WhenSupported).unwrap_err().code,
        code::KRB_AP_ERR_MODIFIED
    );
    assert_eq!(run([0; 16], Always).unwrap_err().code, code::KRB_AP_ERR_MODIFIED);
}

fn key(b: u8) -> EncryptionKey {
    EncryptionKey {
        keytype: 18,
        keyvalue: vec![b; 32],
    }
}

#[test]
fn wrap_and_mic_round_trip_and_refuse_tampering_and_reflection() {
    for conf in [true, false] {
        for rrc in [0u16, 28] {
            let mut init = KrbSecurityContext::new(&key(7), false, true).unwrap();
            let mut acc = KrbSecurityContext::new(&key(7), true, true).unwrap();
            init.send_rrc = rrc;
            let t = init.wrap(b"hello ldap", conf).unwrap();
            assert_eq!(&t[..2], &tok_id::WRAP);
            assert_eq!(acc.unwrap(&t).unwrap(), (b"hello ldap".to_vec(), conf));
            // Replay of the same token: sequence error.
            assert!(matches!(acc.unwrap(&t), Err(GssError::BadSequence { .. })));
            // Tampering.
            let mut t2 = init.wrap(b"second", conf).unwrap();
            let last = t2.len() - 1;
            t2[last] ^= 1;
            assert_eq!(acc.unwrap(&t2), Err(GssError::BadIntegrity));
            // Reflection: the acceptor's own token fed back to it.
            let mine = acc.wrap(b"x", conf).unwrap();
            let mut acc2 = KrbSecurityContext::new(&key(7), true, true).unwrap();
            assert_eq!(acc2.unwrap(&mine), Err(GssError::WrongDirection));
        }
    }
    let mut init = KrbSecurityContext::new(&key(7), false, false).unwrap();
    let mut acc = KrbSecurityContext::new(&key(7), true, false).unwrap();
    let mic = init.get_mic(b"mech types").unwrap();
    acc.verify_mic(b"mech types", &mic, true).unwrap();
    assert_eq!(
        acc.verify_mic(b"mech typez", &mic, false),
        Err(GssError::BadIntegrity)
    );
    // RC4 contexts use RFC 4757 tokens, with the same sequence and direction rules.
    let rc4 = EncryptionKey {
        keytype: 23,
        keyvalue: vec![1; 16],
    };
    let mut acc = KrbSecurityContext::new(&rc4, true, false).unwrap();
    let mut init = KrbSecurityContext::new(&rc4, false, false).unwrap();
    for conf in [true, false] {
        let token = init.wrap(b"an LDAP PDU", conf).unwrap();
        assert_eq!(acc.unwrap(&token).unwrap(), (b"an LDAP PDU".to_vec(), conf));
        assert_eq!(
            acc.unwrap(&token),
            Err(GssError::BadSequence {
                got: u64::from(!conf as u8),
                expected: 1 + u64::from(!conf as u8)
            })
        );
        let back = acc.wrap(b"the answer", conf).unwrap();
        assert_eq!(init.unwrap(&back).unwrap(), (b"the answer".to_vec(), conf));
        assert_eq!(acc.unwrap(&back), Err(GssError::WrongDirection));
    }
    let mic = init.get_mic(b"mech types").unwrap();
    acc.verify_mic(b"mech types", &mic, false).unwrap();
    assert_eq!(
        acc.verify_mic(b"mech typez", &mic, false),
        Err(GssError::BadIntegrity)
    );
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/auth/krb5_wrap.py");

/// impacket's LDAP sealing both ways: its Wrap tokens (starting at sequence `first_seq`)
/// unwrap here, and it unwraps what `acc` seals. Returns the first token impacket made.
fn impacket_wrap_both_ways(k: &EncryptionKey, acc: &mut KrbSecurityContext, first_seq: u64) -> Vec<u8> {
    let etype = k.keytype.to_string();
    let mut first = Vec::new();
    for (seq, msg) in [
        (first_seq, "first PDU"),
        (first_seq + 1, "a second, longer LDAP PDU than the first"),
    ] {
        let args = [
            "wrap",
            &hex::encode(&k.keyvalue),
            &seq.to_string(),
            &hex::encode(msg),
            &etype,
        ];
        let token = hex::decode(python(SCRIPT, &args)).unwrap();
        assert_eq!(acc.unwrap(&token).unwrap(), (msg.as_bytes().to_vec(), true));
        if first.is_empty() {
            first = token;
        }
    }
    let ours = acc.wrap(b"search result", true).unwrap();
    let plain = python(
        SCRIPT,
        &["unwrap", &hex::encode(&k.keyvalue), &hex::encode(&ours), &etype],
    );
    assert_eq!(hex::decode(plain).unwrap(), b"search result");
    first
}

/// impacket seals LDAP PDUs with the acceptor subkey (Flags 06, RRC 28); we unwrap them, and
/// impacket unwraps what we seal.
#[test]
fn impacket_aes256_wrap_tokens_both_ways() {
    let k = key(0x5a);
    let mut acc = KrbSecurityContext::new(&k, true, true).unwrap();
    acc.set_sequence(0, 5);
    acc.send_rrc = 28;
    let first = impacket_wrap_both_ways(&k, &mut acc, 5);
    assert_eq!(&first[..3], &[0x05, 0x04, 0x06]);
}

/// impacket's RC4-HMAC LDAP sealing (GSSAPI_RC4, RFC 4757 tokens with a one-byte pad), used when
/// the ticket's session key is RC4 (impacket `-k -hashes`): we unwrap its tokens and it unwraps
/// ours.
#[test]
fn impacket_rc4_wrap_tokens_both_ways() {
    let k = EncryptionKey {
        keytype: 23,
        keyvalue: (0..16).map(|i| i * 7 + 3).collect(),
    };
    let mut acc = KrbSecurityContext::new(&k, true, false).unwrap();
    let first = impacket_wrap_both_ways(&k, &mut acc, 0);
    // RFC 1964 framing (60 …, the krb5 OID), then TOK_ID 02 01.
    assert_eq!(first[0], 0x60);
}

proptest! {
    #[test]
    fn token_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = gss_krb5::split_initial_token(&bytes);
        let _ = gss_krb5::parse_ap_req_token(&bytes);
        let _ = GssChecksum::from_bytes(&bytes);
        let mut acc = KrbSecurityContext::new(&key(1), true, true).unwrap();
        let _ = acc.unwrap(&bytes);
        let mut wrapped = vec![0x05, 0x04, 0x02, 0xff];
        wrapped.extend(&bytes);
        let _ = acc.unwrap(&wrapped);
        let _ = acc.verify_mic(b"m", &bytes, true);
        let keys = DcKeys(vec![]);
        let _ = accept_sec_context(&bytes, &keys, &policy());
    }
}
