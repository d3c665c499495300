//! The benchmark's Kerberos client, built on adsim's own message and crypto modules: a
//! pre-authenticated AS exchange (PA-ENC-TIMESTAMP under the AES256 key from the password) and a
//! TGS exchange with the TGT it returns. Each exchange opens a TCP connection, sends one framed
//! request and reads one framed reply (RFC 4120 §7.2.2), as MIT's and Windows' clients do.
//! Every reply is checked: decrypted with the key the client holds, the nonce compared.

use adsim_simulator::kdc::crypto::{self, Etype, CKSUM_HMAC_SHA1_96_AES256};
use adsim_simulator::kdc::der::DerWriter;
use adsim_simulator::kdc::messages::{
    encode_pac_request, msg_type, name_type, pa_type, ApReq, Authenticator, Checksum, EncKdcRepPart,
    EncryptedData, EncryptionKey, KdcRep, KdcReq, KdcReqBody, KrbError, PaData, PaEncTsEnc, PrincipalName,
    Ticket,
};
use adsim_simulator::keys;
use anyhow::{anyhow, bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Enctypes the client offers, strongest first: AES only, so every key and ticket is AES256.
const ETYPES: [i32; 2] = [crypto::ETYPE_AES256, crypto::ETYPE_AES128];
/// KDCOptions (RFC 4120 §5.4.1): forwardable (bit 1) and renewable-ok (bit 27), as kinit asks.
const AS_OPTIONS: u32 = 0x4000_0010;
/// forwardable, for the service ticket.
const TGS_OPTIONS: u32 = 0x4000_0000;
/// Ticket lifetime asked for.
const LIFETIME: i64 = 10 * 3600;
/// Key usages (RFC 4120 §7.5.1).
const USAGE_PA_ENC_TIMESTAMP: i32 = 1;
const USAGE_AS_REP_ENC_PART: i32 = 3;
const USAGE_TGS_REQ_AUTH_CKSUM: i32 = 6;
const USAGE_TGS_REQ_AUTHENTICATOR: i32 = 7;
const USAGE_TGS_REP_ENC_PART_SESSION_KEY: i32 = 8;
/// How long one exchange may take before the run fails.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest reply accepted.
const MAX_REPLY: usize = 1 << 20;

/// A KDC to talk to (loopback only).
#[derive(Clone, Copy)]
pub struct Kdc {
    pub addr: SocketAddr,
}

/// A user principal and its AES256 key, derived from the password with the realm's default salt
/// (`REALMname`: RFC 4120 §4 for MIT, MS-KILE 3.1.1.2 for AD users; the same string here).
pub struct User {
    pub name: String,
    pub realm: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "User {{ {}@{}, key: <redacted> }}", self.name, self.realm)
    }
}

impl User {
    pub fn new(name: &str, realm: &str, password: &str) -> User {
        let derived = keys::derive_from_str(password, &keys::user_salt(realm, name));
        User {
            name: name.to_string(),
            realm: realm.to_string(),
            key: derived.aes256.to_vec(),
        }
    }
}

/// A TGT and its session key, as the client holds them.
pub struct Tgt {
    ticket: Ticket,
    session_key: EncryptionKey,
    cname: PrincipalName,
    crealm: String,
    /// Size of the AS-REP that brought it, for the report.
    pub reply_len: usize,
}

/// The client's clock: seconds and microseconds since the epoch.
fn now() -> (i64, u32) {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (t.as_secs() as i64, t.subsec_micros())
}

/// One request over a new TCP connection: 4-byte big-endian length, then the message.
fn send(kdc: Kdc, request: &[u8]) -> Result<Vec<u8>> {
    if !kdc.addr.ip().is_loopback() {
        bail!("the benchmark only talks to loopback addresses, not {}", kdc.addr);
    }
    let mut stream = TcpStream::connect_timeout(&kdc.addr, TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut framed = Vec::with_capacity(4 + request.len());
    framed.extend_from_slice(&(request.len() as u32).to_be_bytes());
    framed.extend_from_slice(request);
    stream.write_all(&framed)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_REPLY {
        bail!("reply of {len} bytes");
    }
    let mut reply = vec![0u8; len];
    stream.read_exact(&mut reply)?;
    Ok(reply)
}

/// Opens a KDC reply: a KRB-ERROR becomes an error; an AS-REP or TGS-REP is decrypted with
/// `key` under `usage` and its nonce checked.
fn open_reply(
    reply: &[u8],
    expected: u8,
    key: &[u8],
    usage: i32,
    nonce: u32,
) -> Result<(KdcRep, EncKdcRepPart)> {
    if let Ok(e) = KrbError::from_der(reply) {
        bail!("KRB-ERROR {} ({})", e.error_code, e.e_text.unwrap_or_default());
    }
    let rep = KdcRep::from_der(reply).map_err(|e| anyhow!("reply: {e:?}"))?;
    if rep.msg_type != expected {
        bail!("message type {} instead of {expected}", rep.msg_type);
    }
    let etype = Etype::from_i32(rep.enc_part.etype)
        .filter(|e| *e == Etype::Aes256)
        .ok_or_else(|| anyhow!("reply encrypted with etype {}", rep.enc_part.etype))?;
    let plain = etype
        .decrypt(key, usage, &rep.enc_part.cipher)
        .map_err(|e| anyhow!("reply does not decrypt: {e:?}"))?;
    let part = EncKdcRepPart::from_der(&plain).map_err(|e| anyhow!("EncKDCRepPart: {e:?}"))?;
    if part.nonce != nonce {
        bail!("nonce {} instead of {nonce}", part.nonce);
    }
    if part.key.keytype != crypto::ETYPE_AES256 {
        bail!("session key of etype {}", part.key.keytype);
    }
    Ok((rep, part))
}

fn request(msg: u8, padata: Vec<PaData>, body: KdcReqBody) -> Vec<u8> {
    KdcReq {
        msg_type: msg,
        padata,
        req_body_raw: body.to_der(),
        req_body: body,
    }
    .to_der()
}

/// AS exchange with PA-ENC-TIMESTAMP (RFC 4120 §5.2.7.2) and PA-PAC-REQUEST (MS-KILE 2.2.3);
/// returns the TGT.
pub fn as_exchange(kdc: Kdc, user: &User, nonce: u32) -> Result<Tgt> {
    let (secs, usecs) = now();
    let timestamp = PaEncTsEnc {
        patimestamp: secs,
        pausec: Some(usecs),
    }
    .to_der();
    let encrypted = EncryptedData {
        etype: crypto::ETYPE_AES256,
        kvno: None,
        cipher: Etype::Aes256.encrypt(&user.key, USAGE_PA_ENC_TIMESTAMP, &timestamp)?,
    };
    let mut w = DerWriter::new();
    encrypted.encode(&mut w);
    let padata = vec![
        PaData {
            padata_type: pa_type::PA_ENC_TIMESTAMP,
            value: w.finish(),
        },
        PaData {
            padata_type: pa_type::PA_PAC_REQUEST,
            value: encode_pac_request(true),
        },
    ];
    let cname = PrincipalName::new(name_type::NT_PRINCIPAL, &[&user.name]);
    let body = KdcReqBody {
        kdc_options: AS_OPTIONS,
        cname: Some(cname.clone()),
        realm: user.realm.clone(),
        sname: Some(PrincipalName::new(
            name_type::NT_SRV_INST,
            &["krbtgt", &user.realm],
        )),
        from: None,
        till: secs + LIFETIME,
        rtime: None,
        nonce,
        etypes: ETYPES.to_vec(),
        addresses: None,
        enc_authorization_data: None,
        additional_tickets: vec![],
    };
    let reply = send(kdc, &request(msg_type::AS_REQ, padata, body)).context("AS exchange")?;
    let (rep, part) = open_reply(&reply, msg_type::AS_REP, &user.key, USAGE_AS_REP_ENC_PART, nonce)
        .with_context(|| format!("AS-REP for {}", user.name))?;
    Ok(Tgt {
        ticket: rep.ticket,
        session_key: part.key,
        cname: rep.cname,
        crealm: rep.crealm,
        reply_len: reply.len(),
    })
}

/// TGS exchange for `service` with the TGT (RFC 4120 §5.4.1, §5.5.1): the authenticator carries
/// a keyed checksum of the request body (hmac-sha1-96-aes256) and a fresh time. Returns the size
/// of the TGS-REP.
pub fn tgs_exchange(kdc: Kdc, tgt: &Tgt, service: &PrincipalName, nonce: u32) -> Result<usize> {
    let (secs, usecs) = now();
    let body = KdcReqBody {
        kdc_options: TGS_OPTIONS,
        cname: None,
        realm: tgt.crealm.clone(),
        sname: Some(service.clone()),
        from: None,
        till: secs + LIFETIME,
        rtime: None,
        nonce,
        etypes: ETYPES.to_vec(),
        addresses: None,
        enc_authorization_data: None,
        additional_tickets: vec![],
    };
    let key = &tgt.session_key.keyvalue;
    let checksum = crypto::checksum(
        CKSUM_HMAC_SHA1_96_AES256,
        Etype::Aes256,
        key,
        USAGE_TGS_REQ_AUTH_CKSUM,
        &body.to_der(),
    )?;
    let authenticator = Authenticator {
        crealm: tgt.crealm.clone(),
        cname: tgt.cname.clone(),
        cksum: Some(Checksum {
            cksumtype: CKSUM_HMAC_SHA1_96_AES256,
            checksum,
        }),
        cusec: usecs,
        ctime: secs,
        subkey: None,
        seq_number: None,
        authorization_data: None,
    };
    let ap_req = ApReq {
        ap_options: 0,
        ticket: tgt.ticket.clone(),
        authenticator: EncryptedData {
            etype: crypto::ETYPE_AES256,
            kvno: None,
            cipher: Etype::Aes256.encrypt(key, USAGE_TGS_REQ_AUTHENTICATOR, &authenticator.to_der())?,
        },
    };
    let padata = vec![PaData {
        padata_type: pa_type::PA_TGS_REQ,
        value: ap_req.to_der(),
    }];
    let reply = send(kdc, &request(msg_type::TGS_REQ, padata, body)).context("TGS exchange")?;
    let (_, part) = open_reply(
        &reply,
        msg_type::TGS_REP,
        key,
        USAGE_TGS_REP_ENC_PART_SESSION_KEY,
        nonce,
    )
    .with_context(|| format!("TGS-REP for {}", service.joined()))?;
    if part.sname.components != service.components {
        bail!(
            "ticket for {} instead of {}",
            part.sname.joined(),
            service.joined()
        );
    }
    Ok(reply.len())
}
