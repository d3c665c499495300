//! Shared test fixtures for the KDC tests: an in-memory KdcDatabase, password-derived keys and
//! a minimal Kerberos client built on the crate's own message types.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use adsim_simulator::clock::{Clock, NtTime};
use adsim_simulator::kdc::crypto::{self, Etype};
use adsim_simulator::kdc::messages::{
    encode_pac_request, msg_type, name_type, pa_type, ApReq, Authenticator, Checksum, EncKdcRepPart,
    EncryptedData, EncryptionKey, KdcRep, KdcReq, KdcReqBody, KrbError, PaData, PaEncTsEnc, PrincipalName,
    Ticket,
};
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

/// What a client sends in an AS-REQ.
pub struct AsRequest<'a> {
    pub realm: &'a str,
    pub cname: PrincipalName,
    pub etypes: Vec<i32>,
    /// Pre-authenticate with this key (etype, key bytes) at this client time; None = no padata.
    pub preauth: Option<(Etype, Vec<u8>, i64)>,
    pub extra_padata: Vec<PaData>,
    pub kdc_options: u32,
    pub sname: Option<PrincipalName>,
}

impl<'a> AsRequest<'a> {
    pub fn new(realm: &'a str, name: &str) -> Self {
        AsRequest {
            realm,
            cname: PrincipalName::new(name_type::NT_PRINCIPAL, &[name]),
            etypes: vec![18, 17, 23],
            preauth: None,
            extra_padata: vec![],
            kdc_options: 0x4000_0010, // forwardable, renewable-ok
            sname: None,
        }
    }

    pub fn with_password(mut self, etype: Etype, password: &str, salt: &str, client_time: i64) -> Self {
        let keys = derive_keys(password, salt, 0);
        let key = keys.into_iter().find(|k| k.etype == etype.number()).unwrap().key;
        self.preauth = Some((etype, key, client_time));
        self
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut padata = Vec::new();
        if let Some((etype, key, t)) = &self.preauth {
            let ts = PaEncTsEnc {
                patimestamp: *t,
                pausec: Some(123_456),
            }
            .to_der();
            let enc = EncryptedData {
                etype: etype.number(),
                kvno: None,
                cipher: etype.encrypt(key, 1, &ts).unwrap(),
            };
            let mut w = adsim_simulator::kdc::der::DerWriter::new();
            enc.encode(&mut w);
            padata.push(PaData {
                padata_type: pa_type::PA_ENC_TIMESTAMP,
                value: w.finish(),
            });
        }
        padata.push(PaData {
            padata_type: pa_type::PA_PAC_REQUEST,
            value: encode_pac_request(true),
        });
        padata.extend(self.extra_padata.iter().cloned());
        let body = KdcReqBody {
            kdc_options: self.kdc_options,
            cname: Some(self.cname.clone()),
            realm: self.realm.to_string(),
            sname: Some(
                self.sname
                    .clone()
                    .unwrap_or_else(|| PrincipalName::new(name_type::NT_SRV_INST, &["krbtgt", self.realm])),
            ),
            from: None,
            till: T0 + 86_400,
            rtime: None,
            nonce: 0x1234_5678,
            etypes: self.etypes.clone(),
            addresses: None,
            enc_authorization_data: None,
            additional_tickets: vec![],
        };
        KdcReq {
            msg_type: msg_type::AS_REQ,
            padata,
            req_body_raw: body.to_der(),
            req_body: body,
        }
        .to_der()
    }
}

/// A ticket and its session key, as a client holds them.
#[derive(Debug, Clone)]
pub struct Credential {
    pub ticket: Ticket,
    pub session_key: EncryptionKey,
    pub enc_part: EncKdcRepPart,
    pub crealm: String,
    pub cname: PrincipalName,
}

pub enum Reply {
    Ok(Box<Credential>, Box<KdcRep>),
    Err(KrbError),
}

impl Reply {
    pub fn unwrap(self) -> Credential {
        match self {
            Reply::Ok(c, _) => *c,
            Reply::Err(e) => panic!("KRB-ERROR {} instead of a ticket", e.error_code),
        }
    }

    pub fn unwrap_err(self) -> KrbError {
        match self {
            Reply::Ok(..) => panic!("ticket instead of an error"),
            Reply::Err(e) => e,
        }
    }
}

/// Decodes a KDC reply; the enc-part is opened with `key` (etype from the reply) and `usage`.
pub fn read_reply(bytes: &[u8], key: &[u8], usage: i32) -> Reply {
    if let Ok(err) = KrbError::from_der(bytes) {
        return Reply::Err(err);
    }
    let rep = KdcRep::from_der(bytes).expect("AS-REP/TGS-REP");
    let etype = Etype::from_i32(rep.enc_part.etype).unwrap();
    let plain = etype
        .decrypt(key, usage, &rep.enc_part.cipher)
        .expect("reply decrypts");
    let enc_part = EncKdcRepPart::from_der(&plain).expect("EncKDCRepPart");
    Reply::Ok(
        Box::new(Credential {
            ticket: rep.ticket.clone(),
            session_key: enc_part.key.clone(),
            enc_part,
            crealm: rep.crealm.clone(),
            cname: rep.cname.clone(),
        }),
        Box::new(rep),
    )
}

/// Full AS exchange for a password principal, answering the PREAUTH_REQUIRED round trip.
pub fn get_tgt(kdc: &Kdc, name: &str, password: &str, salt: &str, etype: Etype) -> Reply {
    let now = kdc.clock().now().unix_seconds();
    let req = AsRequest::new(REALM, name).with_password(etype, password, salt, now);
    let key = req.preauth.as_ref().unwrap().1.clone();
    let reply = kdc.handle(&req.encode(), Transport::Tcp).expect("a reply");
    read_reply(&reply, &key, 3)
}

/// What a client puts in a TGS-REQ.
pub struct TgsRequest {
    pub sname: PrincipalName,
    pub etypes: Vec<i32>,
    pub kdc_options: u32,
    pub client_time: i64,
    pub subkey: Option<EncryptionKey>,
    pub checksum_type: Option<i32>,
    /// Leave the authenticator checksum out (as impacket does).
    pub no_checksum: bool,
    /// Changes the body after the checksum was computed (a tampering test).
    pub tamper_body: bool,
}

impl TgsRequest {
    pub fn new(sname: &[&str], client_time: i64) -> Self {
        TgsRequest {
            sname: PrincipalName::new(name_type::NT_SRV_INST, sname),
            etypes: vec![18, 17, 23],
            kdc_options: 0x4000_0000,
            client_time,
            subkey: None,
            checksum_type: None,
            no_checksum: false,
            tamper_body: false,
        }
    }

    pub fn encode(&self, tgt: &Credential) -> Vec<u8> {
        let body = KdcReqBody {
            kdc_options: self.kdc_options,
            cname: None,
            realm: REALM.into(),
            sname: Some(self.sname.clone()),
            from: None,
            till: self.client_time + 36_000,
            rtime: None,
            nonce: 0x0bad_cafe,
            etypes: self.etypes.clone(),
            addresses: None,
            enc_authorization_data: None,
            additional_tickets: vec![],
        };
        let body_raw = body.to_der();
        let key_etype = Etype::from_i32(tgt.session_key.keytype).unwrap();
        let ctype = self.checksum_type.unwrap_or(key_etype.checksum_type());
        let cksum = if ctype == crypto::CKSUM_RSA_MD5 {
            use md5::Digest;
            md5::Md5::digest(&body_raw).to_vec()
        } else {
            crypto::checksum(ctype, key_etype, &tgt.session_key.keyvalue, 6, &body_raw).unwrap()
        };
        let authenticator = Authenticator {
            crealm: tgt.crealm.clone(),
            cname: tgt.cname.clone(),
            cksum: Some(Checksum {
                cksumtype: ctype,
                checksum: cksum,
            }),
            cusec: 42,
            ctime: self.client_time,
            subkey: self.subkey.clone(),
            seq_number: Some(7),
            authorization_data: None,
        };
        let ap_req = ApReq {
            ap_options: 0,
            ticket: tgt.ticket.clone(),
            authenticator: EncryptedData {
                etype: key_etype.number(),
                kvno: None,
                cipher: key_etype
                    .encrypt(&tgt.session_key.keyvalue, 7, &authenticator.to_der())
                    .unwrap(),
            },
        };
        let mut body = body;
        let mut body_raw = body_raw;
        if self.tamper_body {
            body.nonce ^= 1;
            body_raw = body.to_der();
        }
        KdcReq {
            msg_type: msg_type::TGS_REQ,
            padata: vec![PaData {
                padata_type: pa_type::PA_TGS_REQ,
                value: ap_req.to_der(),
            }],
            req_body: body,
            req_body_raw: body_raw,
        }
        .to_der()
    }
}

pub fn get_service_ticket(kdc: &Kdc, tgt: &Credential, req: &TgsRequest) -> Reply {
    let reply = kdc.handle(&req.encode(tgt), Transport::Tcp).expect("a reply");
    match &req.subkey {
        Some(sub) => read_reply(&reply, &sub.keyvalue, 9),
        None => read_reply(&reply, &tgt.session_key.keyvalue, 8),
    }
}
