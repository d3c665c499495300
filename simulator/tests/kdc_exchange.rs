//! In-process AS and TGS exchanges against the KDC engine with a frozen clock.

use crate::common;

use adsim_simulator::kdc::client::{Answer, BodyChecksum};
use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::messages::{
    decode_etype_info2, decode_method_data, name_type, pa_type, KdcRep, KdcReq, KrbError, PaData,
    PrincipalName,
};
use adsim_simulator::kdc::pac::{Pac, SigningKey};
use adsim_simulator::kdc::ticket::{self, logon_info_from_ticket};
use adsim_simulator::kdc::{ExchangeKind, Kdc, KdcConfig, KerberosKey, Transport};
use adsim_simulator::security::Sid;
use common::*;

const ALICE_SALT: &str = "CORP.EXAMPLE.TESTalice";

#[test]
fn as_without_preauth_requires_it_and_names_the_salt() {
    let (kdc, _) = frozen_kdc(standard_db());
    let reply = kdc
        .handle(&AsRequest::new(REALM, "alice").encode(), Transport::Udp)
        .unwrap();
    let err = read_reply(&reply, &[]).unwrap_err();
    assert_eq!(err.error_code, 25);
    assert_eq!(err.stime, T0);
    let method_data = decode_method_data(err.e_data.as_ref().unwrap()).unwrap();
    let types: Vec<i32> = method_data.iter().map(|p| p.padata_type).collect();
    assert_eq!(types, vec![pa_type::PA_ETYPE_INFO2, pa_type::PA_ENC_TIMESTAMP]);
    let info = decode_etype_info2(&method_data[0].value).unwrap();
    let etypes: Vec<i32> = info.iter().map(|e| e.etype).collect();
    assert_eq!(etypes, vec![18, 17, 23]);
    assert_eq!(info[0].salt.as_deref(), Some(ALICE_SALT));
    assert_eq!(info[2].salt, None, "RC4 takes no salt");
}

#[test]
fn as_with_each_etype_issues_a_tgt_with_starttime() {
    let db = standard_db();
    let (kdc, _) = frozen_kdc(db.clone());
    for etype in [Etype::Aes256, Etype::Aes128, Etype::Rc4Hmac] {
        let cred = match get_tgt(&kdc, "alice", ALICE_PASSWORD, ALICE_SALT, etype) {
            Answer::Ticket(c) => c,
            Answer::Error(e) => panic!("{etype:?}: error {}", e.error_code),
        };
        assert_eq!(cred.reply_etype, etype.number());
        assert_eq!(cred.enc_part.starttime, Some(T0));
        assert_eq!(cred.enc_part.authtime, T0);
        assert_eq!(cred.enc_part.endtime, T0 + 10 * 3600);
        assert_eq!(cred.enc_part.nonce, 0x1234_5678);
        // Only the standard PA-ETYPE-INFO2 in the reply.
        assert!(cred
            .reply_padata
            .iter()
            .all(|p| p.padata_type == pa_type::PA_ETYPE_INFO2));
        // The TGT is sealed with the krbtgt AES256 key and carries alice's PAC.
        assert_eq!(cred.ticket.enc_part.etype, 18);
        let krbtgt = db.get("krbtgt");
        let info = logon_info_from_ticket(&cred.ticket, &krbtgt.keys).unwrap();
        assert_eq!(info.effective_name, "alice");
        assert_eq!(info.user_id, 1105);
    }
}

#[test]
fn as_error_codes() {
    let db = standard_db();
    db.update("WEB01$", |p| p.supported_enctypes = Some(0x18));
    let (kdc, _) = frozen_kdc(db);
    let code = |req: AsRequest| {
        let reply = kdc.handle(&req.encode(), Transport::Tcp).unwrap();
        let err = read_reply(&reply, &[]).unwrap_err();
        assert_eq!(err.stime, T0, "stime from the simulated clock");
        err.error_code
    };
    assert_eq!(code(AsRequest::new(REALM, "nobody")), 6);
    assert_eq!(code(AsRequest::new(REALM, "bob")), 18, "disabled");
    assert_eq!(
        code(AsRequest::new(REALM, "alice").with_password(Etype::Aes256, "wrong", ALICE_SALT, T0)),
        24
    );
    let mut des_only = AsRequest::new(REALM, "alice");
    des_only.body.etypes = vec![3, 1];
    assert_eq!(code(des_only), 14);
    let mut rc4_only = AsRequest::new(REALM, "WEB01$");
    rc4_only.body.etypes = vec![23];
    assert_eq!(
        code(rc4_only),
        14,
        "WEB01$ set to AES only (msDS-SupportedEncryptionTypes 0x18)"
    );
    assert_eq!(code(AsRequest::new("OTHER.REALM", "alice")), 68);
}

#[test]
fn unknown_padata_is_ignored() {
    let (kdc, _) = frozen_kdc(standard_db());
    let mut req = AsRequest::new(REALM, "alice").with_password(Etype::Aes256, ALICE_PASSWORD, ALICE_SALT, T0);
    req.extra_padata = vec![
        PaData {
            padata_type: 150,
            value: vec![],
        },
        PaData {
            padata_type: 149,
            value: vec![],
        },
        PaData {
            padata_type: 655,
            value: vec![1, 2, 3],
        },
    ];
    let key = req.key();
    let reply = kdc.handle(&req.encode(), Transport::Tcp).unwrap();
    read_reply(&reply, &key).unwrap();
}

#[test]
fn preauth_skew_rule_at_4_and_6_minutes() {
    let (kdc, _) = frozen_kdc(standard_db());
    for (offset, expect_ok) in [(-240, true), (240, true), (-360, false), (360, false)] {
        let req = AsRequest::new(REALM, "alice").with_password(
            Etype::Aes256,
            ALICE_PASSWORD,
            ALICE_SALT,
            T0 + offset,
        );
        let key = req.key();
        match read_reply(&kdc.handle(&req.encode(), Transport::Tcp).unwrap(), &key) {
            Answer::Ticket(_) => assert!(expect_ok, "offset {offset} should fail"),
            Answer::Error(e) => {
                assert!(!expect_ok, "offset {offset} should pass, got {}", e.error_code);
                assert_eq!(e.error_code, 37);
                assert_eq!((e.stime, e.susec), (T0, 0));
            }
        }
    }
    // Wrong password from a skewed client: pre-auth failure, not skew (docs/notes/windows-behaviour.md 17).
    let req = AsRequest::new(REALM, "alice").with_password(Etype::Aes256, "wrong", ALICE_SALT, T0 + 3600);
    let err = read_reply(&kdc.handle(&req.encode(), Transport::Tcp).unwrap(), &[]).unwrap_err();
    assert_eq!(err.error_code, 24);
}

#[test]
fn moving_the_kdc_clock_skews_every_client() {
    let (kdc, clock) = frozen_kdc(standard_db());
    clock.advance_seconds(360);
    let req = AsRequest::new(REALM, "alice").with_password(Etype::Aes256, ALICE_PASSWORD, ALICE_SALT, T0);
    let err = read_reply(&kdc.handle(&req.encode(), Transport::Tcp).unwrap(), &[]).unwrap_err();
    assert_eq!((err.error_code, err.stime), (37, T0 + 360));
}

#[test]
fn upn_and_enterprise_names_log_in() {
    let (kdc, _) = frozen_kdc(standard_db());
    let mut req = AsRequest::new(REALM, "alice@corp.example.test").with_password(
        Etype::Aes256,
        ALICE_PASSWORD,
        ALICE_SALT,
        T0,
    );
    req.cname = PrincipalName::new(name_type::NT_ENTERPRISE, &["alice@corp.example.test"]);
    req.body.kdc_options |= 1 << 16; // canonicalize (bit 15)
    let key = req.key();
    let cred = read_reply(&kdc.handle(&req.encode(), Transport::Tcp).unwrap(), &key).unwrap();
    assert_eq!(
        cred.cname,
        PrincipalName::new(name_type::NT_PRINCIPAL, &["alice"]),
        "canonical name"
    );
    assert_eq!(cred.crealm, REALM);
}

#[test]
fn dont_require_preauth_accounts_get_an_as_rep() {
    let (kdc, _) = frozen_kdc(standard_db());
    let req = AsRequest::new(REALM, "noauth");
    let key = derive_keys("NoPre-Passw0rd", "CORP.EXAMPLE.TESTnoauth", 2)[0]
        .key
        .clone();
    let cred = read_reply(&kdc.handle(&req.encode(), Transport::Tcp).unwrap(), &key).unwrap();
    assert_eq!(cred.enc_part.flags & (1 << 21), 0, "no pre-authent flag");
}

#[test]
fn tgs_issues_service_tickets_by_case_insensitive_spn() {
    let db = standard_db();
    let (kdc, _) = frozen_kdc(db.clone());
    let tgt = get_tgt(&kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    let st = get_service_ticket(
        &kdc,
        &tgt,
        &TgsRequest::new(&["LDAP", "DC1.Corp.Example.Test"], T0),
    )
    .unwrap();
    assert_eq!(
        st.ticket.sname.components,
        vec!["LDAP", "DC1.Corp.Example.Test"],
        "sname echoed"
    );
    assert_eq!(st.ticket.enc_part.etype, 18);
    assert_eq!(st.enc_part.flags & (1 << 18), 1 << 18, "ok-as-delegate for a DC");
    let dc = db.get("DC1$");
    let info = logon_info_from_ticket(&st.ticket, &dc.keys).unwrap();
    assert_eq!(info.effective_name, "alice");
    // The KDC signature verifies with the krbtgt key.
    let (part, _) = ticket::open(&st.ticket, &dc.keys).unwrap();
    let pac = Pac::from_bytes(&ticket::find_pac(&part).unwrap()).unwrap();
    let krbtgt_aes = db.get("krbtgt").keys[0].clone();
    pac.verify_kdc_signature(SigningKey {
        etype: Etype::Aes256,
        key: &krbtgt_aes.key,
    })
    .unwrap();

    // GC SPN with three components, and a service user without supported types: RC4 ticket,
    // AES session key (KB5021131 default).
    get_service_ticket(
        &kdc,
        &tgt,
        &TgsRequest::new(&["gc", "dc1.corp.example.test", "corp.example.test"], T0),
    )
    .unwrap();
    let sql = get_service_ticket(
        &kdc,
        &tgt,
        &TgsRequest::new(&["MSSQLSvc", "sql01.corp.example.test:1433"], T0),
    )
    .unwrap();
    assert_eq!(sql.ticket.enc_part.etype, 23);
    assert_eq!(sql.session_key.keytype, 18);

    let err = get_service_ticket(
        &kdc,
        &tgt,
        &TgsRequest::new(&["ldap", "nowhere.corp.example.test"], T0),
    )
    .unwrap_err();
    assert_eq!(err.error_code, 7);
}

#[test]
fn tgs_reply_uses_the_subkey_and_checks_the_body_checksum() {
    let (kdc, _) = frozen_kdc(standard_db());
    let tgt = get_tgt(&kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    let mut req = TgsRequest::new(&["HTTP", "web01.corp.example.test"], T0);
    req.subkey = Some(adsim_simulator::kdc::messages::EncryptionKey {
        keytype: 17,
        keyvalue: Etype::Aes128.random_key(),
    });
    get_service_ticket(&kdc, &tgt, &req).unwrap();

    let mut tampered = TgsRequest::new(&["HTTP", "web01.corp.example.test"], T0);
    tampered.tamper_body = true;
    assert_eq!(
        get_service_ticket(&kdc, &tgt, &tampered).unwrap_err().error_code,
        41
    );

    // No checksum at all is accepted too (impacket sends none; AD accepts it).
    let mut bare = TgsRequest::new(&["HTTP", "web01.corp.example.test"], T0);
    bare.body_checksum = BodyChecksum::Omit;
    get_service_ticket(&kdc, &tgt, &bare).unwrap();

    // HMAC-MD5 and RSA-MD5 checksums are accepted with an AES session key, as AD does.
    for ctype in [-138, 7] {
        let mut req = TgsRequest::new(&["HTTP", "web01.corp.example.test"], T0);
        req.body_checksum = BodyChecksum::Type(ctype);
        get_service_ticket(&kdc, &tgt, &req).unwrap();
    }
}

#[test]
fn tgs_authenticator_skew_rule() {
    let (kdc, clock) = frozen_kdc(standard_db());
    let tgt = get_tgt(&kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    for (offset, ok) in [(240, true), (-240, true), (360, false), (-360, false)] {
        let r = get_service_ticket(
            &kdc,
            &tgt,
            &TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0 + offset),
        );
        match r {
            Answer::Ticket(_) => assert!(ok, "{offset}"),
            Answer::Error(e) => assert!(!ok && e.error_code == 37, "{offset}: {}", e.error_code),
        }
    }
    // The KDC clock moving 6 minutes has the same effect on a client that did not move.
    clock.advance_seconds(-360);
    let e = get_service_ticket(
        &kdc,
        &tgt,
        &TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0),
    )
    .unwrap_err();
    assert_eq!(e.error_code, 37);
}

#[test]
fn pac_groups_stay_frozen_until_a_new_tgt() {
    let db = standard_db();
    let (kdc, _) = frozen_kdc(db.clone());
    let web01 = db.get("WEB01$");
    let group = sid(1200); // the gMSA's allowed-principals group
    let tgt = get_tgt(&kdc, "WEB01$", WEB01_PASSWORD, &web01.salt, Etype::Aes256).unwrap();

    db.update("WEB01$", |p| p.group_sids.push(group.clone()));
    let st = get_service_ticket(
        &kdc,
        &tgt,
        &TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0),
    )
    .unwrap();
    let dc_keys = db.get("DC1$").keys;
    let stale = logon_info_from_ticket(&st.ticket, &dc_keys).unwrap();
    assert!(
        !stale.group_sids().contains(&group),
        "old TGT keeps the old groups"
    );
    assert!(stale.group_sids().contains(&sid(515)));

    let fresh_tgt = get_tgt(&kdc, "WEB01$", WEB01_PASSWORD, &web01.salt, Etype::Aes256).unwrap();
    let st = get_service_ticket(
        &kdc,
        &fresh_tgt,
        &TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0),
    )
    .unwrap();
    let fresh = logon_info_from_ticket(&st.ticket, &dc_keys).unwrap();
    assert!(
        fresh.group_sids().contains(&group),
        "a new TGT carries the new group"
    );
}

#[test]
fn pac_contents_match_the_account() {
    let db = standard_db();
    let (kdc, _) = frozen_kdc(db.clone());
    let tgt = get_tgt(&kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    let krbtgt = db.get("krbtgt");
    let (part, _) = ticket::open(&tgt.ticket, &krbtgt.keys).unwrap();
    let pac = Pac::from_bytes(&ticket::find_pac(&part).unwrap()).unwrap();
    let info = pac.logon_info().unwrap();
    let rids: Vec<u32> = info.group_ids.iter().map(|g| g.relative_id).collect();
    assert_eq!(rids, vec![513, 1110]);
    assert_eq!(info.primary_group_id, 513);
    assert_eq!(info.logon_domain_id, DOMAIN_SID.parse::<Sid>().unwrap());
    assert_eq!(info.logon_domain_name, "CORP");
    assert_eq!(info.logon_server, "DC1");
    assert_eq!(info.user_flags & 0x20, 0x20, "LOGON_EXTRA_SIDS");
    let extra: Vec<String> = info.extra_sids.iter().map(|s| s.sid.to_string()).collect();
    assert_eq!(extra, vec!["S-1-5-32-545", "S-1-18-1"]);
    assert_eq!(info.user_account_control, 0x10, "USER_NORMAL_ACCOUNT");
    let client = pac.client_info().unwrap();
    assert_eq!(client.name, "alice");
    assert_eq!(
        client.client_id,
        adsim_simulator::clock::NtTime::from_unix_seconds(T0).0
    );
    let upn = pac.upn_dns_info().unwrap();
    assert_eq!(upn.upn, "alice@corp.example.test");
    assert!(!upn.upn_constructed);
    assert_eq!(upn.dns_domain_name, REALM);
    assert_eq!(upn.sid, Some(sid(1105)));
    assert_eq!(pac.requestor(), Some(sid(1105)));
}

#[test]
fn krbtgt_previous_key_still_opens_old_tgts() {
    let db = standard_db();
    let (kdc, _) = frozen_kdc(db.clone());
    let tgt = get_tgt(&kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    db.update("krbtgt", |k| {
        k.previous_keys = std::mem::take(&mut k.keys);
        k.keys = random_keys(3);
    });
    get_service_ticket(
        &kdc,
        &tgt,
        &TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0),
    )
    .unwrap();
    db.update("krbtgt", |k| k.previous_keys.clear());
    let e = get_service_ticket(
        &kdc,
        &tgt,
        &TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0),
    )
    .unwrap_err();
    assert_eq!(e.error_code, 44, "KRB_AP_ERR_BADKEYVER once the old key is gone");
}

#[test]
fn a_forged_tgt_is_refused() {
    let db = standard_db();
    let (kdc, _) = frozen_kdc(db.clone());
    let mut tgt = get_tgt(&kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    let last = tgt.ticket.enc_part.cipher.len() - 1;
    tgt.ticket.enc_part.cipher[last] ^= 0x80;
    let e = get_service_ticket(
        &kdc,
        &tgt,
        &TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0),
    )
    .unwrap_err();
    assert_eq!(e.error_code, 31);
}

#[test]
fn renewal_keeps_the_pac_and_restarts_the_lifetime() {
    let db = standard_db();
    let (kdc, clock) = frozen_kdc(db.clone());
    let tgt = get_tgt(&kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    assert!(
        tgt.enc_part.renew_till.is_some(),
        "renewable-ok with a long till gives a renewable TGT"
    );
    clock.advance_seconds(3600);
    let mut req = TgsRequest::new(&["krbtgt", REALM], T0 + 3600);
    req.body.kdc_options = 0x0000_0002; // renew (bit 30)
    let renewed = get_service_ticket(&kdc, &tgt, &req).unwrap();
    assert_eq!(renewed.enc_part.starttime, Some(T0 + 3600));
    assert_eq!(renewed.enc_part.endtime, T0 + 3600 + 10 * 3600);
    assert_eq!(renewed.enc_part.authtime, T0);
    let krbtgt: Vec<KerberosKey> = db.get("krbtgt").keys;
    assert_eq!(
        logon_info_from_ticket(&renewed.ticket, &krbtgt).unwrap().user_id,
        1105
    );
}

#[test]
fn gmsa_and_computer_accounts_authenticate_with_keys() {
    let db = standard_db();
    let (kdc, _) = frozen_kdc(db.clone());
    let gmsa = db.get("gmsa1$");
    let tgt = get_tgt(&kdc, "gmsa1$", "gmsa-current", &gmsa.salt, Etype::Aes256).unwrap();
    let info = logon_info_from_ticket(&tgt.ticket, &db.get("krbtgt").keys).unwrap();
    assert_eq!(
        info.user_account_control & 0x80,
        0x80,
        "USER_WORKSTATION_TRUST_ACCOUNT"
    );
    assert_eq!(info.primary_group_id, 515);
}

/// The encoding is cross-checked by an independent decoder (picky-krb) for ASCII names.
#[test]
fn replies_decode_with_picky_krb() {
    let (kdc, _) = frozen_kdc(standard_db());
    let req = AsRequest::new(REALM, "alice").with_password(Etype::Aes256, ALICE_PASSWORD, ALICE_SALT, T0);
    let reply = kdc.handle(&req.encode(), Transport::Tcp).unwrap();
    let rep: picky_krb::messages::AsRep =
        picky_asn1_der::from_bytes(&reply).expect("picky decodes our AS-REP");
    assert_eq!(rep.0.crealm.0.to_string(), REALM);
    let err_bytes = kdc
        .handle(&AsRequest::new(REALM, "alice").encode(), Transport::Tcp)
        .unwrap();
    let err: picky_krb::messages::KrbError =
        picky_asn1_der::from_bytes(&err_bytes).expect("picky decodes our KRB-ERROR");
    assert_eq!(err.0.error_code.0, 25);
}

/// The code and client a reply itself names (`name@realm`), read from its DER.
fn named_in(reply: &[u8]) -> (i32, Option<String>) {
    let full = |name: &PrincipalName, realm: &str| format!("{}@{realm}", name.joined());
    match KdcRep::from_der(reply) {
        Ok(rep) => (0, Some(full(&rep.cname, &rep.crealm))),
        Err(_) => {
            let err = KrbError::from_der(reply).expect("an AS-REP, TGS-REP or KRB-ERROR");
            let realm = err.crealm.clone().unwrap_or(err.realm.clone());
            (err.error_code, err.cname.as_ref().map(|c| full(c, &realm)))
        }
    }
}

/// `Kdc::exchange` gives what the request and reply say (what `--record` writes) and the reply
/// `Kdc::handle` gives.
#[test]
fn exchange_summaries_agree_with_the_messages() {
    let config = KdcConfig {
        max_datagram_reply_size: 600,
        ..KdcConfig::default()
    };
    let db = standard_db();
    let (kdc, clock) = frozen_kdc(db.clone());
    let small_udp = Kdc::new(db, clock, config);
    let check =
        |kdc: &Kdc, request: &[u8], transport: Transport, kind: ExchangeKind| -> (i32, Option<String>) {
            let exchange = kdc.exchange(request, transport);
            let summary = exchange.request.expect("a decodable request");
            let decoded = KdcReq::from_der(request).unwrap();
            let body = &decoded.req_body;
            assert_eq!(summary.kind, kind);
            assert_eq!(summary.realm, body.realm);
            assert_eq!(summary.cname, body.cname);
            assert_eq!(summary.sname, body.sname);
            assert_eq!(summary.etypes, body.etypes);
            assert_eq!(summary.kdc_options, body.kdc_options);
            let padata: Vec<i32> = decoded.padata.iter().map(|p| p.padata_type).collect();
            assert_eq!(summary.padata_types, padata);
            let reply = exchange.reply.expect("a reply");
            // Errors are deterministic on a frozen clock; tickets hold fresh random keys.
            let again = kdc.handle(request, transport).expect("a reply");
            if reply.code != 0 {
                assert_eq!(again, reply.bytes);
            }
            assert_eq!(named_in(&again), named_in(&reply.bytes));
            let named = named_in(&reply.bytes);
            assert_eq!((reply.code, reply.client.clone()), named);
            named
        };
    let alice = Some(format!("alice@{REALM}"));

    let as_req = AsRequest::new(REALM, "alice").encode();
    assert_eq!(
        check(&kdc, &as_req, Transport::Udp, ExchangeKind::As),
        (25, alice.clone())
    );
    let nobody = AsRequest::new(REALM, "nobody").encode();
    assert_eq!(
        check(&kdc, &nobody, Transport::Tcp, ExchangeKind::As),
        (6, Some(format!("nobody@{REALM}")))
    );
    let as_req = AsRequest::new(REALM, "alice")
        .with_password(Etype::Aes256, ALICE_PASSWORD, ALICE_SALT, T0)
        .encode();
    assert_eq!(
        check(&kdc, &as_req, Transport::Tcp, ExchangeKind::As),
        (0, alice.clone())
    );
    // Too big for a datagram: the error names the request's client.
    assert_eq!(
        check(&small_udp, &as_req, Transport::Udp, ExchangeKind::As),
        (52, alice.clone())
    );

    let tgt = get_tgt(&kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    let tgs_req = TgsRequest::new(&["HTTP", "web01.corp.example.test"], T0).encode(&tgt);
    assert_eq!(
        check(&kdc, &tgs_req, Transport::Tcp, ExchangeKind::Tgs),
        (0, alice.clone())
    );
    // A TGS error names no client: it is only inside the ticket.
    assert_eq!(
        check(&small_udp, &tgs_req, Transport::Udp, ExchangeKind::Tgs),
        (52, None)
    );
    let unknown = TgsRequest::new(&["ldap", "nowhere.corp.example.test"], T0).encode(&tgt);
    assert_eq!(
        check(&kdc, &unknown, Transport::Tcp, ExchangeKind::Tgs),
        (7, None)
    );

    // An AS-REQ tag with a body that is no AS-REQ: KRB_ERR_GENERIC, no request summary.
    let undecodable = kdc.exchange(&[0x6a, 0x03, 0x02, 0x01, 0x05], Transport::Tcp);
    assert_eq!(undecodable.request, None);
    let reply = undecodable.reply.expect("an error reply");
    assert_eq!((reply.code, reply.client.clone()), (60, None));
    assert_eq!(named_in(&reply.bytes), (60, None));
    // Not Kerberos at all: dropped.
    let dropped = kdc.exchange(b"GET / HTTP/1.1\r\n\r\n", Transport::Udp);
    assert_eq!((dropped.request, dropped.reply), (None, None));
    assert_eq!(kdc.exchange(b"", Transport::Udp).reply, None);
}
