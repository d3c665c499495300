//! Shared test fixtures for the KDC tests: an in-memory KdcDatabase, password-derived keys, and
//! the crate's Kerberos client (`kdc::client`) with the tests' fixed nonces and times.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use adsim_simulator::clock::{Clock, NtTime};
use adsim_simulator::kdc::client::{self, Answer, ClientKey, Credential};
use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::key_usage;
use adsim_simulator::kdc::messages::{name_type, KrbError, PrincipalName};
use adsim_simulator::kdc::{
    Kdc, KdcConfig, KdcDatabase, KdcPrincipal, KerberosKey, PrincipalLookup, Transport,
};
use adsim_simulator::security::Sid;
use picky_krb::crypto::CipherSuite;

pub const REALM: &str = "CORP.EXAMPLE.TEST";
pub const DOMAIN: &str = "corp.example.test";
pub const DOMAIN_SID: &str = "S-1-5-21-3623811015-3361044348-30300820";
/// 2025-11-22T10:13:20Z: every in-process test runs on this frozen instant.
pub const T0: i64 = 1_763_806_400;

/// String-to-key as AD does it: AES via RFC 3962 (4096 iterations) with the AD salt, RC4 as
/// the NT hash (MD4 of UTF-16LE).
/// Results are cached: PBKDF2 with 4096 iterations is slow in debug builds.
pub fn derive_keys(password: &str, salt: &str, kvno: u32) -> Vec<KerberosKey> {
    type Cached = ((String, String), (Vec<u8>, Vec<u8>));
    static CACHE: Mutex<Vec<Cached>> = Mutex::new(Vec::new());
    let id = (password.to_string(), salt.to_string());
    let cached = CACHE
        .lock()
        .unwrap()
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, v)| v.clone());
    let (aes256, aes128) = cached.unwrap_or_else(|| {
        let aes = |suite: CipherSuite| {
            suite
                .cipher()
                .generate_key_from_password(password.as_bytes(), salt.as_bytes())
                .unwrap()
        };
        let v = (
            aes(CipherSuite::Aes256CtsHmacSha196),
            aes(CipherSuite::Aes128CtsHmacSha196),
        );
        CACHE.lock().unwrap().push((id, v.clone()));
        v
    });
    vec![
        KerberosKey {
            etype: 18,
            kvno,
            key: aes256,
        },
        KerberosKey {
            etype: 17,
            kvno,
            key: aes128,
        },
        KerberosKey {
            etype: 23,
            kvno,
            key: nt_hash(password),
        },
    ]
}

pub fn nt_hash(password: &str) -> Vec<u8> {
    use md4::{Digest, Md4};
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    Md4::digest(&utf16).to_vec()
}

pub fn random_keys(kvno: u32) -> Vec<KerberosKey> {
    [Etype::Aes256, Etype::Aes128, Etype::Rc4Hmac]
        .iter()
        .map(|e| KerberosKey {
            etype: e.number(),
            kvno,
            key: e.random_key(),
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Account {
    pub principal: KdcPrincipal,
    pub spns: Vec<String>,
}

/// A directory in memory: lookups by sAMAccountName, UPN and SPN, all case-insensitive.
#[derive(Debug, Default)]
pub struct MemoryDb {
    pub realm: String,
    pub accounts: Mutex<Vec<Account>>,
}

impl MemoryDb {
    pub fn with_realm(realm: &str) -> Self {
        MemoryDb {
            realm: realm.to_string(),
            accounts: Mutex::new(Vec::new()),
        }
    }

    pub fn add(&self, principal: KdcPrincipal, spns: &[&str]) {
        self.accounts.lock().unwrap().push(Account {
            principal,
            spns: spns.iter().map(|s| s.to_string()).collect(),
        });
    }

    pub fn update(&self, sam: &str, f: impl FnOnce(&mut KdcPrincipal)) {
        let mut accounts = self.accounts.lock().unwrap();
        let account = accounts
            .iter_mut()
            .find(|a| a.principal.sam_account_name.eq_ignore_ascii_case(sam))
            .expect("account exists");
        f(&mut account.principal);
    }

    pub fn get(&self, sam: &str) -> KdcPrincipal {
        self.lookup(&self.realm, &PrincipalLookup::SamAccountName(sam.into()))
            .expect("account exists")
    }
}

impl KdcDatabase for MemoryDb {
    fn lookup(&self, realm: &str, name: &PrincipalLookup) -> Option<KdcPrincipal> {
        if !realm.eq_ignore_ascii_case(&self.realm) {
            return None;
        }
        let accounts = self.accounts.lock().unwrap();
        accounts
            .iter()
            .find(|a| match name {
                PrincipalLookup::SamAccountName(s) => {
                    a.principal.sam_account_name.to_lowercase() == s.to_lowercase()
                }
                PrincipalLookup::Upn(u) => a
                    .principal
                    .upn
                    .as_ref()
                    .is_some_and(|x| x.to_lowercase() == u.to_lowercase()),
                PrincipalLookup::Spn(s) => a.spns.iter().any(|x| x.to_lowercase() == s.to_lowercase()),
            })
            .map(|a| a.principal.clone())
    }

    fn realms(&self) -> Vec<String> {
        vec![self.realm.clone()]
    }

    fn dc_netbios_name(&self, _realm: &str) -> Option<String> {
        Some("DC1".into())
    }
}

pub fn sid(rid: u32) -> Sid {
    DOMAIN_SID.parse::<Sid>().unwrap().with_rid(rid)
}

/// A user account with password-derived keys and the AD user salt `REALMsam`.
pub fn user(realm: &str, sam: &str, password: &str, rid: u32) -> KdcPrincipal {
    let salt = format!("{realm}{sam}");
    KdcPrincipal {
        sam_account_name: sam.to_string(),
        upn: None,
        dns_domain: realm.to_lowercase(),
        netbios_domain: "CORP".into(),
        realm: realm.to_string(),
        user_sid: sid(rid),
        primary_group_rid: 513,
        group_sids: vec![sid(513)],
        user_account_control: 0x200,
        supported_enctypes: None,
        keys: derive_keys(password, &salt, 2),
        previous_keys: vec![],
        salt,
        display_name: Some(format!("{sam} Example")),
        logon_count: 7,
        pwd_last_set: NtTime::from_unix_seconds(T0 - 86_400),
        is_krbtgt: false,
        logon_restriction: None,
    }
}

/// A computer or gMSA (`NAME$`): salt `REALMhost<name>.<domain>` (MS-KILE 3.1.1.2).
pub fn machine(realm: &str, sam: &str, password: &str, rid: u32, uac: u32) -> KdcPrincipal {
    let host = sam.trim_end_matches('$').to_lowercase();
    let salt = format!("{realm}host{host}.{}", realm.to_lowercase());
    KdcPrincipal {
        primary_group_rid: if uac & 0x2000 != 0 { 516 } else { 515 },
        group_sids: vec![sid(if uac & 0x2000 != 0 { 516 } else { 515 })],
        user_account_control: uac,
        supported_enctypes: Some(0x1c),
        keys: derive_keys(password, &salt, 3),
        salt,
        display_name: None,
        ..user(realm, sam, password, rid)
    }
}

pub fn krbtgt(realm: &str) -> KdcPrincipal {
    KdcPrincipal {
        is_krbtgt: true,
        logon_restriction: None,
        user_account_control: 0x202,
        keys: random_keys(2),
        salt: format!("{realm}krbtgt"),
        ..user(realm, "krbtgt", "unused", 502)
    }
}

pub const ALICE_PASSWORD: &str = "Passw0rd!";
pub const WEB01_PASSWORD: &str = "web01-machine-password";

/// The standard test forest: krbtgt, alice (groups 513, 1110, BUILTIN\Users), the DC, a
/// workstation WEB01$, a gMSA, an SPN-bearing service user without msDS-SupportedEncryptionTypes,
/// a disabled user and a user that needs no pre-authentication.
pub fn standard_db() -> Arc<MemoryDb> {
    let db = MemoryDb::with_realm(REALM);
    db.add(krbtgt(REALM), &[]);
    let mut alice = user(REALM, "alice", ALICE_PASSWORD, 1105);
    alice.upn = Some(format!("alice@{DOMAIN}"));
    alice.group_sids = vec![sid(513), sid(1110), "S-1-5-32-545".parse().unwrap()];
    db.add(alice, &[]);
    db.add(
        machine(REALM, "DC1$", "dc-password", 1000, 0x2000 | 0x80000),
        &[
            "ldap/dc1.corp.example.test",
            "ldap/DC1",
            "host/dc1.corp.example.test",
            "HOST/DC1",
            "GC/dc1.corp.example.test/corp.example.test",
        ],
    );
    db.add(
        machine(REALM, "WEB01$", WEB01_PASSWORD, 1106, 0x1000),
        &["HOST/web01.corp.example.test", "HTTP/web01.corp.example.test"],
    );
    db.add(
        machine(REALM, "gmsa1$", "gmsa-current", 1107, 0x1000),
        &["http/gmsa1.corp.example.test"],
    );
    db.add(
        user(REALM, "svc_sql", "Sql-Passw0rd", 1108),
        &["MSSQLSvc/sql01.corp.example.test:1433"],
    );
    let mut bob = user(REALM, "bob", "Bob-Passw0rd", 1109);
    bob.user_account_control |= 0x2;
    db.add(bob, &[]);
    let mut roast = user(REALM, "noauth", "NoPre-Passw0rd", 1111);
    roast.user_account_control |= 0x400000;
    db.add(roast, &[]);
    Arc::new(db)
}

pub fn frozen_kdc(db: Arc<MemoryDb>) -> (Kdc, Clock) {
    let clock = Clock::frozen(NtTime::from_unix_seconds(T0));
    (Kdc::new(db, clock.clone(), KdcConfig::default()), clock)
}

/// An AS-REQ as the tests send it: at T0 (pre-authentication stamped with the time given to
/// `with_password`), nonce 0x12345678, till T0 + 1 day (so renewable-ok yields a renewable TGT).
pub struct AsRequest(pub client::AsRequest);

impl std::ops::Deref for AsRequest {
    type Target = client::AsRequest;
    fn deref(&self) -> &client::AsRequest {
        &self.0
    }
}

impl std::ops::DerefMut for AsRequest {
    fn deref_mut(&mut self) -> &mut client::AsRequest {
        &mut self.0
    }
}

impl AsRequest {
    pub fn new(realm: &str, name: &str) -> Self {
        let mut req = client::AsRequest::new(realm, name, T0);
        req.body.till = T0 + 86_400;
        req.body.nonce = 0x1234_5678;
        req.client_usec = 123_456;
        AsRequest(req)
    }

    /// Pre-authenticates with the `etype` key of `password` (cached derivation), stamped `client_time`.
    pub fn with_password(mut self, etype: Etype, password: &str, salt: &str, client_time: i64) -> Self {
        let keys = derive_keys(password, salt, 0);
        let key = keys.into_iter().find(|k| k.etype == etype.number()).unwrap().key;
        self.0.preauth = Some(ClientKey::new(etype, key));
        self.0.client_time = client_time;
        self
    }

    /// The pre-authentication key.
    pub fn key(&self) -> Vec<u8> {
        self.0
            .preauth
            .as_ref()
            .expect("a pre-authenticated request")
            .key
            .clone()
    }

    pub fn encode(&self) -> Vec<u8> {
        self.0.encode().expect("AS-REQ encodes")
    }
}

/// `unwrap` / `unwrap_err` for the tests.
pub trait AnswerExt {
    fn unwrap(self) -> Credential;
    fn unwrap_err(self) -> KrbError;
}

impl AnswerExt for Answer {
    fn unwrap(self) -> Credential {
        match self {
            Answer::Ticket(c) => *c,
            Answer::Error(e) => panic!("KRB-ERROR {} instead of a ticket", e.error_code),
        }
    }

    fn unwrap_err(self) -> KrbError {
        match self {
            Answer::Ticket(_) => panic!("ticket instead of an error"),
            Answer::Error(e) => *e,
        }
    }
}

/// Decodes an AS exchange's reply; an AS-REP's enc-part is opened with `key` (etype from the reply).
pub fn read_reply(bytes: &[u8], key: &[u8]) -> Answer {
    client::read_answer(bytes, key, key_usage::AS_REP_ENC_PART)
        .expect("a KRB-ERROR, or an AS-REP that decrypts")
}

/// Full AS exchange for a password principal, pre-authenticated at the KDC's time.
pub fn get_tgt(kdc: &Kdc, name: &str, password: &str, salt: &str, etype: Etype) -> Answer {
    let now = kdc.clock().now().unix_seconds();
    let req = AsRequest::new(REALM, name).with_password(etype, password, salt, now);
    let reply = kdc.handle(&req.encode(), Transport::Tcp).expect("a reply");
    let key = req.preauth.clone().unwrap();
    req.read_reply(&reply, &key).expect("an answer to the request")
}

/// A TGS-REQ as the tests send it: nonce 0x0badcafe, sequence number 7, realm REALM (the
/// authenticator's cusec is the client's fresh one, so the KDC's replay cache takes each request).
pub struct TgsRequest {
    pub req: client::TgsRequest,
    /// Changes the body after the checksum was computed (a tampering test).
    pub tamper_body: bool,
}

impl std::ops::Deref for TgsRequest {
    type Target = client::TgsRequest;
    fn deref(&self) -> &client::TgsRequest {
        &self.req
    }
}

impl std::ops::DerefMut for TgsRequest {
    fn deref_mut(&mut self) -> &mut client::TgsRequest {
        &mut self.req
    }
}

impl TgsRequest {
    pub fn new(sname: &[&str], client_time: i64) -> Self {
        let mut req = client::TgsRequest::new(PrincipalName::new(name_type::NT_SRV_INST, sname), client_time);
        req.realm = Some(REALM.into());
        req.body.nonce = 0x0bad_cafe;
        req.seq_number = Some(7);
        TgsRequest {
            req,
            tamper_body: false,
        }
    }

    pub fn encode(&self, tgt: &Credential) -> Vec<u8> {
        let mut req = self.req.to_kdc_req(tgt).expect("TGS-REQ encodes");
        if self.tamper_body {
            req.req_body.nonce ^= 1;
            req.req_body_raw = req.req_body.to_der();
        }
        req.to_der()
    }
}

pub fn get_service_ticket(kdc: &Kdc, tgt: &Credential, req: &TgsRequest) -> Answer {
    let reply = kdc.handle(&req.encode(tgt), Transport::Tcp).expect("a reply");
    req.read_reply(&reply, tgt).expect("an answer to the request")
}
