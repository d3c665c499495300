//! A sans-I/O Kerberos client (RFC 4120) on the crate's own DER messages and crypto: it builds
//! AS-REQs (with or without PA-ENC-TIMESTAMP), TGS-REQs (an AP-REQ over the TGT with a body
//! checksum) and AP-REQs for a service ticket (with an RFC 4121 GSS checksum for GSSAPI), and
//! reads KDC replies (KRB-ERROR, or AS-REP / TGS-REP decrypted with the key the client holds).
//!
//! The caller owns the clock and the transport: every request carries the client time it is
//! given (a test skews it by adding an offset), and bytes go out however the caller likes;
//! [`tcp_frame`] and [`tcp_reply_len`] are RFC 4120 §7.2.2's framing for those that use TCP.
//!
//! ```no_run
//! # use adsim_simulator::kdc::client::*;
//! # use adsim_simulator::kdc::crypto::Etype;
//! # fn send(_: &[u8]) -> Vec<u8> { unimplemented!() }
//! # fn main() -> Result<(), ClientError> {
//! let now = 1_763_806_400;
//! let key = ClientKey::from_password(Etype::Aes256, "Passw0rd!", "CORP.EXAMPLE.TESTalice")?;
//! let as_req = AsRequest::new("CORP.EXAMPLE.TEST", "alice", now).with_preauth(key.clone());
//! let tgt = match as_req.read_reply(&send(&as_req.encode()?), &key)? {
//!     Answer::Ticket(tgt) => tgt,
//!     Answer::Error(e) => panic!("KRB-ERROR {}", e.error_code),
//! };
//! let tgs_req = TgsRequest::new(service_name("ldap/dc1.corp.example.test"), now);
//! let Answer::Ticket(ticket) = tgs_req.read_reply(&send(&tgs_req.encode(&tgt)?), &tgt)? else {
//!     panic!("no service ticket")
//! };
//! let ap_req = ApRequest::new(now).gss(GssChecksum::new(gss_flags::MUTUAL)).encode(&ticket)?;
//! # let _ = ap_req;
//! # Ok(()) }
//! ```

mod ap_req;
mod as_req;
mod tgs_req;

pub use ap_req::{ap_option, gss_flags, ApRequest, GssChecksum, CKSUM_GSSAPI};
pub use as_req::AsRequest;
pub use tgs_req::{BodyChecksum, TgsRequest};

use super::crypto::{CryptoError, Etype};
use super::der::{DerError, DerWriter};
use super::messages::{
    decode_etype_info2, decode_method_data, name_type, pa_type, EncKdcRepPart, EncryptedData, EncryptionKey,
    KdcRep, KdcReqBody, KrbError, PaData, PrincipalName, Ticket,
};
use super::policy::kdc_option;
use crate::keys;

/// What a client offers unless told otherwise: AES256 first, then AES128 and RC4, as Windows.
pub const DEFAULT_ETYPES: [i32; 3] = [
    super::crypto::ETYPE_AES256,
    super::crypto::ETYPE_AES128,
    super::crypto::ETYPE_RC4_HMAC,
];
/// KDCOptions of an AS-REQ unless told otherwise: forwardable and renewable-ok, as kinit.
pub const DEFAULT_AS_OPTIONS: u32 = kdc_option::FORWARDABLE | kdc_option::RENEWABLE_OK;
/// KDCOptions of a TGS-REQ unless told otherwise: forwardable.
pub const DEFAULT_TGS_OPTIONS: u32 = kdc_option::FORWARDABLE;
/// The ticket lifetime asked for unless told otherwise (`till` = client time + this).
pub const DEFAULT_LIFETIME_SECONDS: i64 = 10 * 3600;
/// The RFC 3962 string-to-key iteration count AD uses.
const AES_ITERATIONS: u32 = 4096;
/// A TCP reply larger than this is refused (a KDC reply is a few kilobytes).
pub const MAX_TCP_REPLY: usize = 1 << 20;

/// What the body of an AS-REQ and of a TGS-REQ carry besides the realm and client name
/// (RFC 4120 §5.4.1); from, rtime, addresses, enc-authorization-data and additional tickets are
/// left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReqBody {
    pub sname: PrincipalName,
    pub etypes: Vec<i32>,
    pub kdc_options: u32,
    pub till: i64,
    pub nonce: u32,
}

impl ReqBody {
    /// For `sname` with `kdc_options`: the default etypes, ten hours from `client_time`, a
    /// random nonce.
    pub fn new(sname: PrincipalName, kdc_options: u32, client_time: i64) -> Self {
        ReqBody {
            sname,
            etypes: DEFAULT_ETYPES.to_vec(),
            kdc_options,
            till: client_time + DEFAULT_LIFETIME_SECONDS,
            nonce: random_nonce(),
        }
    }

    fn to_kdc_req_body(&self, cname: Option<PrincipalName>, realm: String) -> KdcReqBody {
        KdcReqBody {
            kdc_options: self.kdc_options,
            cname,
            realm,
            sname: Some(self.sname.clone()),
            from: None,
            till: self.till,
            rtime: None,
            nonce: self.nonce,
            etypes: self.etypes.clone(),
            addresses: None,
            enc_authorization_data: None,
            additional_tickets: vec![],
        }
    }
}

/// Failures of the client itself; a KRB-ERROR from the KDC is an [`Answer`], not a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("KDC reply is not a KDC-REP or KRB-ERROR: {0}")]
    Malformed(String),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("unexpected reply: {0}")]
    Unexpected(String),
    #[error("request cannot be built: {0}")]
    Request(String),
}

impl From<DerError> for ClientError {
    fn from(e: DerError) -> Self {
        ClientError::Malformed(e.to_string())
    }
}

/// A long-term key the client holds (from a password or a keytab). Debug output hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientKey {
    pub etype: Etype,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKey {{ etype: {:?}, key: <redacted> }}", self.etype)
    }
}

impl ClientKey {
    pub fn new(etype: Etype, key: Vec<u8>) -> Self {
        ClientKey { etype, key }
    }

    /// String-to-key as AD does it: AES by RFC 3962 (4096 iterations) with `salt` (the
    /// ETYPE-INFO2 salt, or `keys::user_salt` / `keys::computer_salt`), RC4 as the NT hash.
    pub fn from_password(etype: Etype, password: &str, salt: &str) -> Result<Self, ClientError> {
        let key = match etype {
            Etype::Rc4Hmac => {
                let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
                keys::nt_hash(&utf16).to_vec()
            }
            Etype::Aes256 | Etype::Aes128 => keys::aes_string_to_key(
                password.as_bytes(),
                salt.as_bytes(),
                AES_ITERATIONS,
                etype.key_len(),
            )
            .map_err(|e| ClientError::Request(e.to_string()))?,
        };
        Ok(ClientKey { etype, key })
    }
}

/// A ticket and what the KDC said about it in the encrypted part of its reply, as a client
/// holds them (`session_key` is the key to use with the ticket). Debug output hides the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub ticket: Ticket,
    pub session_key: EncryptionKey,
    pub crealm: String,
    pub cname: PrincipalName,
    /// The decrypted EncASRepPart / EncTGSRepPart: flags, times, nonce, srealm and sname.
    pub enc_part: EncKdcRepPart,
    /// The etype the reply's enc-part was sealed with (the client key's, or the session key's).
    pub reply_etype: i32,
    /// The reply's own padata (PA-ETYPE-INFO2 in an AS-REP).
    pub reply_padata: Vec<PaData>,
}

/// What the KDC answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ticket(Box<Credential>),
    Error(Box<KrbError>),
}

/// A KDC reply, decoded but not opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KdcReply {
    Rep(Box<KdcRep>),
    Error(Box<KrbError>),
}

/// Decodes a KDC reply: a KRB-ERROR or an AS-REP / TGS-REP.
pub fn decode_reply(bytes: &[u8]) -> Result<KdcReply, ClientError> {
    if let Ok(err) = KrbError::from_der(bytes) {
        return Ok(KdcReply::Error(Box::new(err)));
    }
    Ok(KdcReply::Rep(Box::new(KdcRep::from_der(bytes)?)))
}

/// Opens an AS-REP or TGS-REP's enc-part with `key` under `usage` (`key_usage::AS_REP_ENC_PART`,
/// `TGS_REP_ENC_PART_SESSION_KEY` or `TGS_REP_ENC_PART_SUBKEY`); the etype is the reply's.
pub fn open_rep(rep: KdcRep, key: &[u8], usage: i32) -> Result<Credential, ClientError> {
    let etype = Etype::from_i32(rep.enc_part.etype)
        .ok_or_else(|| ClientError::Malformed(format!("reply sealed with etype {}", rep.enc_part.etype)))?;
    let plain = etype.decrypt(key, usage, &rep.enc_part.cipher)?;
    let enc_part = EncKdcRepPart::from_der(&plain)?;
    Ok(Credential {
        ticket: rep.ticket,
        session_key: enc_part.key.clone(),
        crealm: rep.crealm,
        cname: rep.cname,
        enc_part,
        reply_etype: rep.enc_part.etype,
        reply_padata: rep.padata,
    })
}

/// Decodes a reply and opens it with `key` under `usage`: [`decode_reply`] then [`open_rep`],
/// without the request-specific checks of `AsRequest::read_reply` / `TgsRequest::read_reply`.
pub fn read_answer(bytes: &[u8], key: &[u8], usage: i32) -> Result<Answer, ClientError> {
    match decode_reply(bytes)? {
        KdcReply::Error(e) => Ok(Answer::Error(e)),
        KdcReply::Rep(rep) => Ok(Answer::Ticket(Box::new(open_rep(*rep, key, usage)?))),
    }
}

/// Reads the reply to one's own request with the checks every client makes (RFC 4120 §3.1.5,
/// §3.3.4): the reply is of the expected type (`AS_REP` or `TGS_REP`; the encrypted part's own
/// tag is not checked, as MIT's KDC seals AS-REPs as EncTGSRepPart) and carries the nonce sent.
fn read_checked(
    bytes: &[u8],
    key: &[u8],
    usage: i32,
    expected: u8,
    nonce: u32,
) -> Result<Answer, ClientError> {
    let rep = match decode_reply(bytes)? {
        KdcReply::Error(e) => return Ok(Answer::Error(e)),
        KdcReply::Rep(rep) => rep,
    };
    if rep.msg_type != expected {
        return Err(ClientError::Unexpected(format!(
            "message type {} instead of {expected}",
            rep.msg_type
        )));
    }
    let cred = open_rep(*rep, key, usage)?;
    if cred.enc_part.nonce != nonce {
        return Err(ClientError::Unexpected(format!(
            "nonce {} instead of {nonce}",
            cred.enc_part.nonce
        )));
    }
    Ok(Answer::Ticket(Box::new(cred)))
}

/// The etype and salt the KDC asks for in a KDC_ERR_PREAUTH_REQUIRED's ETYPE-INFO2
/// (RFC 4120 §5.2.7.5): the first entry whose etype is in `acceptable` (no salt = empty).
pub fn salt_hint(err: &KrbError, acceptable: &[Etype]) -> Option<(Etype, String)> {
    let method_data = decode_method_data(err.e_data.as_deref()?).ok()?;
    let info = method_data
        .iter()
        .find(|p| p.padata_type == pa_type::PA_ETYPE_INFO2)?;
    decode_etype_info2(&info.value).ok()?.into_iter().find_map(|e| {
        let etype = Etype::from_i32(e.etype).filter(|t| acceptable.contains(t))?;
        Some((etype, e.salt.unwrap_or_default()))
    })
}

/// A service principal from its SPN form (`HTTP/web01.corp.example.test`): NT-SRV-INST with
/// one component per `/`-separated part.
pub fn service_name(spn: &str) -> PrincipalName {
    let components: Vec<&str> = spn.split('/').collect();
    PrincipalName::new(name_type::NT_SRV_INST, &components)
}

/// `krbtgt/REALM`, the TGS of a realm.
pub fn krbtgt_name(realm: &str) -> PrincipalName {
    PrincipalName::new(name_type::NT_SRV_INST, &["krbtgt", realm])
}

/// A fresh nonce (31 bits: some KDCs read it as a signed integer).
pub fn random_nonce() -> u32 {
    rand::random::<u32>() & 0x7fff_ffff
}

/// The microseconds of a new authenticator. The client's clock is the simulated one, which tests
/// often freeze, so several authenticators share a ctime: like MIT's `krb5_us_timeofday`, which
/// never hands out the same (seconds, microseconds) twice in a process, this counts on from a
/// random start so that each authenticator of the process is distinct and the acceptor's replay
/// cache (RFC 4120 §3.2.3) takes it.
pub fn fresh_usec() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: std::sync::OnceLock<AtomicU32> = std::sync::OnceLock::new();
    let next = NEXT.get_or_init(|| AtomicU32::new(rand::random::<u32>() % 1_000_000));
    next.fetch_add(1, Ordering::Relaxed) % 1_000_000
}

/// A message framed for TCP (RFC 4120 §7.2.2): a 4-byte big-endian length, then the message.
pub fn tcp_frame(message: &[u8]) -> Result<Vec<u8>, ClientError> {
    let len = u32::try_from(message.len())
        .ok()
        .filter(|n| n & 0x8000_0000 == 0)
        .ok_or_else(|| ClientError::Request(format!("request of {} bytes", message.len())))?;
    let mut framed = Vec::with_capacity(4 + message.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    Ok(framed)
}

/// The length a TCP reply announces in its 4-byte prefix, refused above [`MAX_TCP_REPLY`].
pub fn tcp_reply_len(prefix: [u8; 4]) -> Result<usize, ClientError> {
    let n = u32::from_be_bytes(prefix) as usize;
    if n > MAX_TCP_REPLY {
        return Err(ClientError::Malformed(format!("reply of {n} bytes")));
    }
    Ok(n)
}

/// EncryptedData as DER (a padata value).
fn encrypted_data_der(etype: Etype, cipher: Vec<u8>) -> Vec<u8> {
    let mut w = DerWriter::new();
    EncryptedData {
        etype: etype.number(),
        kvno: None,
        cipher,
    }
    .encode(&mut w);
    w.finish()
}
