//! A small Kerberos client (RFC 4120) for scenarios: the AS exchange with a password (answering
//! PREAUTH_REQUIRED with the salt from ETYPE-INFO2, as MIT and Windows clients do) and the TGS
//! exchange for an SPN, over TCP, with the client's clock set by the caller so a scenario can
//! skew it. Built on the simulator's own DER message types and crypto.

use std::net::SocketAddr;
use std::time::Duration;

use adsim_simulator::kdc::crypto::{self, Etype};
use adsim_simulator::kdc::der::DerWriter;
use adsim_simulator::kdc::messages::{
    decode_etype_info2, decode_method_data, encode_pac_request, msg_type, name_type, pa_type, ApReq,
    Authenticator, Checksum, EncKdcRepPart, EncryptedData, EncryptionKey, KdcRep, KdcReq, KdcReqBody,
    KrbError, PaData, PaEncTsEnc, PrincipalName, Ticket,
};
use adsim_simulator::keys;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// KDC_ERR_PREAUTH_REQUIRED (RFC 4120 §7.5.9).
const PREAUTH_REQUIRED: i32 = 25;

/// Key usages (RFC 4120 §7.5.1).
const USAGE_PA_ENC_TIMESTAMP: i32 = 1;
const USAGE_AS_REP_ENC_PART: i32 = 3;
const USAGE_TGS_REQ_AUTH_CKSUM: i32 = 6;
const USAGE_TGS_REQ_AUTH: i32 = 7;
const USAGE_TGS_REP_ENC_PART_SESSION_KEY: i32 = 8;

/// forwardable, renewable-ok (RFC 4120 §5.4.1), as kinit sends by default.
const KDC_OPTIONS: u32 = 0x4000_0010;

/// Replies larger than this are refused (a KDC reply is a few kilobytes).
const MAX_REPLY: usize = 1 << 20;

const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// Failures of the client itself; a KRB-ERROR from the KDC is an answer, not a failure.
#[derive(Debug, thiserror::Error)]
pub enum KerberosClientError {
    #[error("KDC {addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("KDC {0}: no answer within {IO_TIMEOUT:?}")]
    Timeout(SocketAddr),
    #[error("KDC reply is not a KDC-REP or KRB-ERROR: {0}")]
    Malformed(String),
    #[error("crypto: {0}")]
    Crypto(String),
}

type Result<T> = std::result::Result<T, KerberosClientError>;

/// A ticket and its session key, as a client holds them. Debug output hides the key.
#[derive(Clone)]
pub struct Credential {
    pub ticket: Ticket,
    pub session_key: EncryptionKey,
    pub crealm: String,
    pub cname: PrincipalName,
    pub authtime: i64,
    pub endtime: i64,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("client", &format!("{}@{}", self.cname.joined(), self.crealm))
            .field(
                "server",
                &format!("{}@{}", self.ticket.sname.joined(), self.ticket.realm),
            )
            .field("session_key", &"<redacted>")
            .finish()
    }
}

/// What the KDC answered.
#[derive(Debug, Clone)]
pub enum KdcAnswer {
    Ticket(Box<Credential>),
    Error(Box<KrbError>),
}

/// RFC 4120 error-code names, for readable reports.
pub fn error_name(code: i32) -> &'static str {
    match code {
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        12 => "KDC_ERR_POLICY",
        13 => "KDC_ERR_BADOPTION",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        23 => "KDC_ERR_KEY_EXPIRED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        31 => "KRB_AP_ERR_BAD_INTEGRITY",
        32 => "KRB_AP_ERR_TKT_EXPIRED",
        33 => "KRB_AP_ERR_TKT_NYV",
        37 => "KRB_AP_ERR_SKEW",
        41 => "KRB_AP_ERR_MODIFIED",
        44 => "KRB_AP_ERR_BADKEYVER",
        52 => "KRB_ERR_RESPONSE_TOO_BIG",
        60 => "KRB_ERR_GENERIC",
        68 => "KDC_ERR_WRONG_REALM",
        _ => "",
    }
}

/// The number for an error name (`KRB_AP_ERR_SKEW` → 37), case-insensitive.
pub fn error_code_by_name(name: &str) -> Option<i32> {
    (0..100).find(|c| {
        let n = error_name(*c);
        !n.is_empty() && n.eq_ignore_ascii_case(name)
    })
}

/// One request/reply over TCP: a 4-byte big-endian length, then the message (RFC 4120 §7.2.2).
async fn exchange(addr: SocketAddr, request: &[u8]) -> Result<Vec<u8>> {
    let io = |source| KerberosClientError::Io { addr, source };
    let work = async {
        let mut s = TcpStream::connect(addr).await.map_err(io)?;
        let len = u32::try_from(request.len())
            .map_err(|_| KerberosClientError::Malformed("request too large".into()))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(request);
        s.write_all(&framed).await.map_err(io)?;
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.map_err(io)?;
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_REPLY {
            return Err(KerberosClientError::Malformed(format!("reply of {n} bytes")));
        }
        let mut reply = vec![0u8; n];
        s.read_exact(&mut reply).await.map_err(io)?;
        Ok(reply)
    };
    tokio::time::timeout(IO_TIMEOUT, work)
        .await
        .map_err(|_| KerberosClientError::Timeout(addr))?
}

fn nonce() -> u32 {
    // Any value works; it only has to come back in the reply.
    uuid::Uuid::new_v4().as_u128() as u32 & 0x7fff_ffff
}

fn krbtgt(realm: &str) -> PrincipalName {
    PrincipalName::new(name_type::NT_SRV_INST, &["krbtgt", realm])
}

fn as_req(realm: &str, cname: &PrincipalName, padata: Vec<PaData>, client_time: i64) -> Vec<u8> {
    let body = KdcReqBody {
        kdc_options: KDC_OPTIONS,
        cname: Some(cname.clone()),
        realm: realm.to_string(),
        sname: Some(krbtgt(realm)),
        from: None,
        till: client_time + 10 * 3600,
        rtime: None,
        nonce: nonce(),
        // AES256 first: the key the client derives from the password (ETYPE-INFO2 salt).
        etypes: vec![crypto::ETYPE_AES256, crypto::ETYPE_AES128, crypto::ETYPE_RC4_HMAC],
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

/// The salt and etype the KDC asks for in PREAUTH_REQUIRED's ETYPE-INFO2 (RFC 4120 §5.2.7.5).
fn preauth_hint(err: &KrbError) -> Option<(Etype, String)> {
    let method_data = decode_method_data(err.e_data.as_deref()?).ok()?;
    let info = method_data
        .iter()
        .find(|p| p.padata_type == pa_type::PA_ETYPE_INFO2)?;
    let entries = decode_etype_info2(&info.value).ok()?;
    entries.iter().find_map(|e| {
        let etype = Etype::from_i32(e.etype)?;
        matches!(etype, Etype::Aes256 | Etype::Aes128).then(|| (etype, e.salt.clone().unwrap_or_default()))
    })
}

/// The long-term key for `password` (RFC 3962 string-to-key with the KDC's salt).
fn password_key(etype: Etype, password: &str, salt: &str) -> Result<Vec<u8>> {
    let len = etype.key_len();
    keys::aes_string_to_key(password.as_bytes(), salt.as_bytes(), 4096, len)
        .map_err(|e| KerberosClientError::Crypto(e.to_string()))
}

fn decode_reply(bytes: &[u8], key: &[u8], usage: i32) -> Result<KdcAnswer> {
    if let Ok(err) = KrbError::from_der(bytes) {
        return Ok(KdcAnswer::Error(Box::new(err)));
    }
    let rep = KdcRep::from_der(bytes).map_err(|e| KerberosClientError::Malformed(e.to_string()))?;
    let etype = Etype::from_i32(rep.enc_part.etype)
        .ok_or_else(|| KerberosClientError::Malformed(format!("etype {}", rep.enc_part.etype)))?;
    let plain = etype
        .decrypt(key, usage, &rep.enc_part.cipher)
        .map_err(|e| KerberosClientError::Crypto(e.to_string()))?;
    let part = EncKdcRepPart::from_der(&plain).map_err(|e| KerberosClientError::Malformed(e.to_string()))?;
    Ok(KdcAnswer::Ticket(Box::new(Credential {
        ticket: rep.ticket,
        session_key: part.key,
        crealm: rep.crealm,
        cname: rep.cname,
        authtime: part.authtime,
        endtime: part.endtime,
    })))
}

/// The AS exchange for `account@realm` with a password, stamping pre-authentication with
/// `client_time` (Unix seconds): the KDC refuses it with KRB_AP_ERR_SKEW beyond its tolerance.
pub async fn as_exchange(
    kdc: SocketAddr,
    realm: &str,
    account: &str,
    password: &str,
    client_time: i64,
) -> Result<KdcAnswer> {
    let cname = PrincipalName::new(name_type::NT_PRINCIPAL, &[account]);
    let pac_request = PaData {
        padata_type: pa_type::PA_PAC_REQUEST,
        value: encode_pac_request(true),
    };
    // First without pre-authentication: the KDC names the etype and salt it wants.
    let first = exchange(
        kdc,
        &as_req(realm, &cname, vec![pac_request.clone()], client_time),
    )
    .await?;
    let err = match KrbError::from_der(&first) {
        Ok(err) => err,
        Err(_) => {
            return Err(KerberosClientError::Malformed(
                "the KDC issued a ticket without pre-authentication".into(),
            ))
        }
    };
    if err.error_code != PREAUTH_REQUIRED {
        return Ok(KdcAnswer::Error(Box::new(err)));
    }
    let (etype, salt) = preauth_hint(&err).ok_or_else(|| {
        KerberosClientError::Malformed("PREAUTH_REQUIRED without an AES ETYPE-INFO2".into())
    })?;
    let key = password_key(etype, password, &salt)?;
    let ts = PaEncTsEnc {
        patimestamp: client_time,
        pausec: Some(0),
    }
    .to_der();
    let enc = EncryptedData {
        etype: etype.number(),
        kvno: None,
        cipher: etype
            .encrypt(&key, USAGE_PA_ENC_TIMESTAMP, &ts)
            .map_err(|e| KerberosClientError::Crypto(e.to_string()))?,
    };
    let mut w = DerWriter::new();
    enc.encode(&mut w);
    let padata = vec![
        PaData {
            padata_type: pa_type::PA_ENC_TIMESTAMP,
            value: w.finish(),
        },
        pac_request,
    ];
    let reply = exchange(kdc, &as_req(realm, &cname, padata, client_time)).await?;
    decode_reply(&reply, &key, USAGE_AS_REP_ENC_PART)
}

/// The TGS exchange: a service ticket for `spn` (`HTTP/web01.corp.example.test`) with `tgt`,
/// the authenticator stamped with `client_time`.
pub async fn tgs_exchange(
    kdc: SocketAddr,
    tgt: &Credential,
    spn: &str,
    client_time: i64,
) -> Result<KdcAnswer> {
    let components: Vec<&str> = spn.split('/').collect();
    let realm = tgt.ticket.realm.clone();
    let body = KdcReqBody {
        kdc_options: 0x4000_0000, // forwardable
        cname: None,
        realm: realm.clone(),
        sname: Some(PrincipalName::new(name_type::NT_SRV_INST, &components)),
        from: None,
        till: client_time + 10 * 3600,
        rtime: None,
        nonce: nonce(),
        etypes: vec![crypto::ETYPE_AES256, crypto::ETYPE_AES128, crypto::ETYPE_RC4_HMAC],
        addresses: None,
        enc_authorization_data: None,
        additional_tickets: vec![],
    };
    let body_raw = body.to_der();
    let key_etype = Etype::from_i32(tgt.session_key.keytype).ok_or_else(|| {
        KerberosClientError::Crypto(format!("session key etype {}", tgt.session_key.keytype))
    })?;
    let crypto_err = |e: crypto::CryptoError| KerberosClientError::Crypto(e.to_string());
    // The authenticator's checksum binds the request body (RFC 4120 §7.5.1 usage 6).
    let cksum_type = key_etype.checksum_type();
    let cksum = crypto::checksum(
        cksum_type,
        key_etype,
        &tgt.session_key.keyvalue,
        USAGE_TGS_REQ_AUTH_CKSUM,
        &body_raw,
    )
    .map_err(crypto_err)?;
    let authenticator = Authenticator {
        crealm: tgt.crealm.clone(),
        cname: tgt.cname.clone(),
        cksum: Some(Checksum {
            cksumtype: cksum_type,
            checksum: cksum,
        }),
        cusec: 0,
        ctime: client_time,
        subkey: None,
        seq_number: None,
        authorization_data: None,
    };
    let ap_req = ApReq {
        ap_options: 0,
        ticket: tgt.ticket.clone(),
        authenticator: EncryptedData {
            etype: key_etype.number(),
            kvno: None,
            cipher: key_etype
                .encrypt(
                    &tgt.session_key.keyvalue,
                    USAGE_TGS_REQ_AUTH,
                    &authenticator.to_der(),
                )
                .map_err(crypto_err)?,
        },
    };
    let req = KdcReq {
        msg_type: msg_type::TGS_REQ,
        padata: vec![PaData {
            padata_type: pa_type::PA_TGS_REQ,
            value: ap_req.to_der(),
        }],
        req_body: body,
        req_body_raw: body_raw,
    }
    .to_der();
    let reply = exchange(kdc, &req).await?;
    decode_reply(
        &reply,
        &tgt.session_key.keyvalue,
        USAGE_TGS_REP_ENC_PART_SESSION_KEY,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_round_trip() {
        assert_eq!(error_code_by_name("krb_ap_err_skew"), Some(37));
        assert_eq!(error_name(37), "KRB_AP_ERR_SKEW");
        assert_eq!(error_code_by_name("NOT_AN_ERROR"), None);
    }
}
