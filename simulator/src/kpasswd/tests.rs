//! The service end to end in memory: tickets from the real KDC (`kdc::client` AS/TGS requests),
//! requests from `kpasswd::client`, the directory behind `server::kpasswd`.

use std::net::IpAddr;
use std::sync::Arc;

use super::client::{KpasswdAnswer, PasswordChange};
use super::codec::{result, AdPolicyInfo};
use super::Kpasswd;
use crate::dsa::testing::*;
use crate::dsa::Directory;
use crate::kdc::client::{service_name, Answer, AsRequest, ClientKey, Credential, TgsRequest};
use crate::kdc::crypto::Etype;
use crate::kdc::error::code;
use crate::kdc::messages::{name_type, PrincipalName};
use crate::kdc::{Kdc, KdcConfig, Transport};
use crate::server::kdc::DirectoryKdcDb;
use crate::server::kpasswd::DirectoryKpasswd;

const REALM: &str = "CORP.EXAMPLE.TEST";
const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

struct Lab {
    dir: Arc<Directory>,
    kdc: Kdc,
    kpasswd: Kpasswd,
}

fn lab() -> Lab {
    let dir = forest();
    // The test forest's alice is created as AD creates users: disabled. Enable her.
    dir.modify(
        &crate::dsa::Caller::system(),
        ALICE,
        vec![m(
            crate::dsa::request::ModOp::Replace,
            "userAccountControl",
            s("512"),
        )],
    )
    .unwrap();
    let kdc = Kdc::new(
        Arc::new(DirectoryKdcDb::new(dir.clone(), 0)),
        dir.clock.clone(),
        KdcConfig::default(),
    );
    let kpasswd = Kpasswd::new(
        Arc::new(DirectoryKpasswd::new(dir.clone(), 0)),
        dir.clock.clone(),
        300,
    );
    Lab { dir, kdc, kpasswd }
}

impl Lab {
    fn now(&self) -> i64 {
        self.dir.clock.now().unix_seconds()
    }

    /// An AS exchange for `sname` (kadmin/changepw: an initial ticket).
    fn as_ticket(&self, user: &str, password: &str, sname: &str) -> Credential {
        let key = ClientKey::from_password(Etype::Aes256, password, &format!("{REALM}{user}")).unwrap();
        let mut req = AsRequest::new(REALM, user, self.now()).with_preauth(key.clone());
        req.body.sname = service_name(sname);
        let reply = self.kdc.handle(&req.encode().unwrap(), Transport::Tcp).unwrap();
        match req.read_reply(&reply, &key).unwrap() {
            Answer::Ticket(c) => *c,
            Answer::Error(e) => panic!("AS for {sname}: {}", e.error_code),
        }
    }

    /// A kadmin/changepw ticket from the TGS exchange: not initial.
    fn tgs_ticket(&self, user: &str, password: &str) -> Credential {
        let tgt = self.as_ticket(user, password, &format!("krbtgt/{REALM}"));
        let req = TgsRequest::new(service_name("kadmin/changepw"), self.now());
        let reply = self
            .kdc
            .handle(&req.encode(&tgt).unwrap(), Transport::Tcp)
            .unwrap();
        match req.read_reply(&reply, &tgt).unwrap() {
            Answer::Ticket(c) => *c,
            Answer::Error(e) => panic!("TGS: {}", e.error_code),
        }
    }

    fn send(&self, req: &mut PasswordChange, ticket: &Credential) -> KpasswdAnswer {
        let bytes = req.encode(ticket).unwrap();
        let reply = self.kpasswd.exchange(&bytes, LOCAL).reply.expect("a reply");
        req.read_reply(&reply, ticket).unwrap()
    }

    fn kvno_and_hash(&self, dn: &str) -> (u32, [u8; 16]) {
        let e = entry(&self.dir, dn);
        let s = e.secrets.as_ref().unwrap();
        (s.kvno, s.nt_hash)
    }
}

fn nt(pw: &str) -> [u8; 16] {
    crate::keys::nt_hash(&pw.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>())
}

fn user(name: &str) -> Option<(PrincipalName, String)> {
    Some((
        PrincipalName::new(name_type::NT_PRINCIPAL, &[name]),
        REALM.to_string(),
    ))
}

#[test]
fn a_change_sets_keys_kvno_pwd_last_set_and_history() {
    let lab = lab();
    let (kvno, _) = lab.kvno_and_hash(ALICE);
    lab.dir.advance_clock(2 * 86_400).unwrap();
    let ticket = lab.as_ticket("alice", ALICE_PW, "kadmin/changepw");
    let answer = lab.send(
        &mut PasswordChange::change("Changed-Passw0rd", lab.now()),
        &ticket,
    );
    assert_eq!((answer.result, answer.error), (result::SUCCESS, None));
    assert_eq!(lab.kvno_and_hash(ALICE), (kvno + 1, nt("Changed-Passw0rd")));
    let e = entry(&lab.dir, ALICE);
    assert_eq!(e.first_i64("pwdLastSet"), Some(lab.dir.clock.now().0 as i64));
    assert_eq!(
        e.secrets.as_ref().unwrap().history[..2],
        [nt("Changed-Passw0rd"), nt(ALICE_PW)]
    );
    // The new password works for the AS exchange; version 0xff80 without a target is a change too.
    lab.dir.advance_clock(2 * 86_400).unwrap();
    let ticket = lab.as_ticket("alice", "Changed-Passw0rd", "kadmin/changepw");
    let answer = lab.send(
        &mut PasswordChange::set(None, "Third-Passw0rd", lab.now()),
        &ticket,
    );
    assert_eq!(answer.result, result::SUCCESS);
    assert_eq!(lab.kvno_and_hash(ALICE), (kvno + 2, nt("Third-Passw0rd")));
}

#[test]
fn a_policy_violation_is_a_soft_error_with_ad_s_policy_blob() {
    let lab = lab();
    lab.dir.advance_clock(2 * 86_400).unwrap();
    let before = fingerprint(&lab.dir);
    let ticket = lab.as_ticket("alice", ALICE_PW, "kadmin/changepw");
    for bad in ["Sh0rt!", "alllowercase", ALICE_PW] {
        let answer = lab.send(&mut PasswordChange::change(bad, lab.now()), &ticket);
        assert_eq!(answer.result, result::SOFTERROR, "{bad}");
        assert_eq!(
            AdPolicyInfo::from_bytes(&answer.text),
            Some(AdPolicyInfo {
                min_length: 7,
                history_length: 24,
                properties: 1,
                max_age: 42 * 864_000_000_000,
                min_age: 864_000_000_000,
            })
        );
    }
    assert!(
        before == fingerprint(&lab.dir),
        "a refused change changed the directory"
    );
}

#[test]
fn a_change_needs_an_initial_ticket() {
    let lab = lab();
    let before = fingerprint(&lab.dir);
    let ticket = lab.tgs_ticket("alice", ALICE_PW);
    let answer = lab.send(
        &mut PasswordChange::change("Changed-Passw0rd", lab.now()),
        &ticket,
    );
    assert_eq!(answer.result, result::INITIAL_FLAG_NEEDED);
    assert!(before == fingerprint(&lab.dir));
}

#[test]
fn a_set_needs_the_reset_right_and_skips_history_and_age() {
    let lab = lab();
    // Alice may not reset ops' password: access denied, nothing changed.
    let before = fingerprint(&lab.dir);
    let alice = lab.tgs_ticket("alice", ALICE_PW);
    let answer = lab.send(
        &mut PasswordChange::set(user("ops"), "Reset-Passw0rd", lab.now()),
        &alice,
    );
    assert_eq!(answer.result, result::ACCESSDENIED);
    assert!(before == fingerprint(&lab.dir));
    // The Administrator may, with any ticket, the same day and to a remembered password.
    let admin = lab.tgs_ticket("Administrator", "Adsim-Passw0rd!");
    for _ in 0..2 {
        let answer = lab.send(
            &mut PasswordChange::set(user("alice"), "Reset-Passw0rd", lab.now()),
            &admin,
        );
        assert_eq!(
            answer.result,
            result::SUCCESS,
            "{:?}",
            String::from_utf8_lossy(&answer.text)
        );
    }
    assert_eq!(lab.kvno_and_hash(ALICE).1, nt("Reset-Passw0rd"));
    // Length and complexity still apply to a reset.
    let answer = lab.send(
        &mut PasswordChange::set(user("alice"), "short", lab.now()),
        &admin,
    );
    assert_eq!(answer.result, result::SOFTERROR);
    // An unknown target.
    let answer = lab.send(
        &mut PasswordChange::set(user("nobody"), "Reset-Passw0rd", lab.now()),
        &admin,
    );
    assert_eq!(answer.result, result::AUTHERROR);
}

#[test]
fn bad_version_and_malformed_requests_get_framed_errors_and_change_nothing() {
    let lab = lab();
    let before = fingerprint(&lab.dir);
    let ticket = lab.as_ticket("alice", ALICE_PW, "kadmin/changepw");
    let mut req = PasswordChange::change("Changed-Passw0rd", lab.now());
    let good = req.encode(&ticket).unwrap();

    let mut v2 = good.clone();
    v2[2..4].copy_from_slice(&2u16.to_be_bytes());
    let reply = lab.kpasswd.exchange(&v2, LOCAL).reply.unwrap();
    let answer = req.read_reply(&reply, &ticket).unwrap();
    assert_eq!(answer.result, result::BAD_VERSION);
    assert_eq!(answer.error.unwrap().error_code, code::KRB_AP_ERR_BADVERSION);

    // The AP-REQ's bytes damaged: malformed.
    let mut broken = good.clone();
    broken[6] = 0x30;
    let answer = req
        .read_reply(&lab.kpasswd.exchange(&broken, LOCAL).reply.unwrap(), &ticket)
        .unwrap();
    assert_eq!(answer.result, result::MALFORMED);

    // The AP-REQ length past the end.
    let mut long = good.clone();
    long[4..6].copy_from_slice(&u16::MAX.to_be_bytes());
    let answer = req
        .read_reply(&lab.kpasswd.exchange(&long, LOCAL).reply.unwrap(), &ticket)
        .unwrap();
    assert_eq!(answer.result, result::MALFORMED);

    // Not kpasswd at all (length field wrong, or too short): dropped.
    assert!(lab
        .kpasswd
        .exchange(&good[..good.len() - 1], LOCAL)
        .reply
        .is_none());
    assert!(lab.kpasswd.exchange(b"\x00", LOCAL).reply.is_none());

    // A ticket for another service is an authentication error.
    let ldap = {
        let tgt = lab.as_ticket("alice", ALICE_PW, &format!("krbtgt/{REALM}"));
        let r = TgsRequest::new(service_name("ldap/dc1.corp.example.test"), lab.now());
        match r
            .read_reply(
                &lab.kdc.handle(&r.encode(&tgt).unwrap(), Transport::Tcp).unwrap(),
                &tgt,
            )
            .unwrap()
        {
            Answer::Ticket(c) => *c,
            Answer::Error(e) => panic!("{}", e.error_code),
        }
    };
    let answer = lab.send(&mut PasswordChange::change("Changed-Passw0rd", lab.now()), &ldap);
    assert_eq!(answer.result, result::AUTHERROR);
    assert_eq!(answer.error.unwrap().error_code, code::KRB_AP_ERR_NOT_US);

    // The request answered: minPwdAge refuses it, the forest being brand new.
    let first = lab.kpasswd.exchange(&good, LOCAL);
    assert_eq!(
        first.summary.result,
        result::SOFTERROR,
        "minPwdAge: the forest is brand new"
    );
    assert!(before == fingerprint(&lab.dir));
}

/// A UDP retransmission (the same bytes) gets the very reply the first copy got, even after
/// that copy changed the password; another request with the same authenticator is a replay.
#[test]
fn a_retransmission_gets_the_same_reply_and_a_reused_authenticator_is_a_replay() {
    let lab = lab();
    lab.dir.advance_clock(2 * 86_400).unwrap();
    let ticket = lab.as_ticket("alice", ALICE_PW, "kadmin/changepw");
    let mut req = PasswordChange::change("Changed-Passw0rd", lab.now());
    let spare = req.encode(&ticket).unwrap();
    let sent = req.encode(&ticket).unwrap();
    // Another request with the same authenticator: sent's AP-REQ, another KRB-PRIV.
    let other = {
        let (a, b) = (
            super::codec::parse_request(&sent).unwrap(),
            super::codec::parse_request(&spare).unwrap(),
        );
        super::codec::frame(a.version, a.ap_req, b.krb_priv).unwrap()
    };
    assert_ne!(other, sent);
    let (kvno, _) = lab.kvno_and_hash(ALICE);
    let first = lab.kpasswd.exchange(&sent, LOCAL);
    assert_eq!(first.summary.result, result::SUCCESS);
    let first = first.reply.unwrap();
    assert_eq!(lab.kvno_and_hash(ALICE), (kvno + 1, nt("Changed-Passw0rd")));

    lab.dir.advance_clock(3).unwrap();
    let again = lab.kpasswd.exchange(&sent, LOCAL);
    assert_eq!(again.summary.result, result::SUCCESS);
    assert_eq!(again.reply.as_deref(), Some(first.as_slice()), "the same bytes");
    assert_eq!(
        req.read_reply(&first, &ticket).unwrap(),
        super::client::KpasswdAnswer {
            result: result::SUCCESS,
            text: vec![],
            error: None
        }
    );
    assert_eq!(lab.kvno_and_hash(ALICE).0, kvno + 1, "applied once");

    let replay = lab.kpasswd.exchange(&other, LOCAL);
    assert_eq!(replay.summary.krb_error, Some(code::KRB_AP_ERR_REPEAT));
    assert_eq!(lab.kvno_and_hash(ALICE).0, kvno + 1);

    // Past the skew the cached reply is gone, and the request is too old to be answered.
    lab.dir.advance_clock(301).unwrap();
    let late = lab.kpasswd.exchange(&sent, LOCAL);
    assert_eq!(late.summary.krb_error, Some(code::KRB_AP_ERR_SKEW));
}

/// kpasswd holds authenticators to the domain's MaxClockSkew as the KDC does, read at each
/// request: the service was built with 300 s, the policy decides.
#[test]
fn the_skew_follows_the_domain_s_kerberos_policy() {
    let lab = lab();
    lab.dir.advance_clock(2 * 86_400).unwrap();
    let set_skew = |minutes: u32| {
        let policy = crate::dsa::gpo::KerberosPolicy {
            max_clock_skew_minutes: minutes,
            ..lab.dir.kerberos_policy(0)
        };
        lab.dir
            .set_kerberos_policy(&crate::dsa::Caller::system(), 0, policy)
            .unwrap();
    };
    let ticket = lab.as_ticket("alice", ALICE_PW, "kadmin/changepw");
    let at = |offset: i64, pw: &str| {
        let mut req = PasswordChange::change(pw, lab.now() + offset);
        let bytes = req.encode(&ticket).unwrap();
        req.read_reply(&lab.kpasswd.exchange(&bytes, LOCAL).reply.unwrap(), &ticket)
            .unwrap()
    };
    // Two minutes slow: inside the default five minutes, outside a one-minute policy.
    set_skew(1);
    let answer = at(-120, "Changed-Passw0rd");
    assert_eq!(answer.result, result::AUTHERROR);
    assert_eq!(answer.error.unwrap().error_code, code::KRB_AP_ERR_SKEW);
    // Seven minutes fast: outside the configured 300 s, inside a ten-minute policy.
    set_skew(10);
    let answer = at(420, "Changed-Passw0rd");
    assert_eq!((answer.result, answer.error), (result::SUCCESS, None));
}
