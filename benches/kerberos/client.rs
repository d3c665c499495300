//! The benchmark's Kerberos client: adsim's own `kdc::client` for a pre-authenticated AS
//! exchange (PA-ENC-TIMESTAMP under the AES256 key from the password) and a TGS exchange with
//! the TGT it returns. Each exchange opens a TCP connection, sends one framed request and reads
//! one framed reply (RFC 4120 §7.2.2), as MIT's and Windows' clients do. Every reply is checked:
//! decrypted with the key the client holds, the nonce compared, AES256 throughout.

use adsim_simulator::kdc::client::{self, Answer, AsRequest, ClientKey, Credential, TgsRequest};
use adsim_simulator::kdc::crypto::{self, Etype};
use adsim_simulator::kdc::messages::PrincipalName;
use adsim_simulator::keys;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Enctypes the client offers, strongest first: AES only, so every key and ticket is AES256.
const ETYPES: [i32; 2] = [crypto::ETYPE_AES256, crypto::ETYPE_AES128];
/// How long one exchange may take before the run fails.
const TIMEOUT: Duration = Duration::from_secs(10);

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
    key: ClientKey,
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
            key: ClientKey::new(Etype::Aes256, derived.aes256.to_vec()),
        }
    }
}

/// A TGT and its session key, as the client holds them.
pub struct Tgt {
    credential: Credential,
    /// Size of the AS-REP that brought it, for the report.
    pub reply_len: usize,
}

/// The client's clock: seconds and microseconds since the epoch.
fn now() -> (i64, u32) {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (t.as_secs() as i64, t.subsec_micros())
}

/// One request over a new TCP connection.
fn send(kdc: Kdc, request: &[u8]) -> Result<Vec<u8>> {
    if !kdc.addr.ip().is_loopback() {
        bail!("the benchmark only talks to loopback addresses, not {}", kdc.addr);
    }
    let mut stream = TcpStream::connect_timeout(&kdc.addr, TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.write_all(&client::tcp_frame(request)?)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let mut reply = vec![0u8; client::tcp_reply_len(len)?];
    stream.read_exact(&mut reply)?;
    Ok(reply)
}

/// A ticket from the answer, which must be AES256 throughout: a KRB-ERROR becomes an error.
fn aes256_ticket(answer: Answer) -> Result<Credential> {
    let cred = match answer {
        Answer::Ticket(cred) => *cred,
        Answer::Error(e) => bail!("KRB-ERROR {} ({})", e.error_code, e.e_text.unwrap_or_default()),
    };
    if cred.reply_etype != crypto::ETYPE_AES256 {
        bail!("reply encrypted with etype {}", cred.reply_etype);
    }
    if cred.session_key.keytype != crypto::ETYPE_AES256 {
        bail!("session key of etype {}", cred.session_key.keytype);
    }
    Ok(cred)
}

/// AS exchange with PA-ENC-TIMESTAMP (RFC 4120 §5.2.7.2) and PA-PAC-REQUEST (MS-KILE 2.2.3);
/// returns the TGT.
pub fn as_exchange(kdc: Kdc, user: &User, nonce: u32) -> Result<Tgt> {
    let (secs, usecs) = now();
    let mut req = AsRequest::new(&user.realm, &user.name, secs).with_preauth(user.key.clone());
    req.client_usec = usecs;
    req.body.etypes = ETYPES.to_vec();
    req.body.nonce = nonce;
    let reply = send(kdc, &req.encode()?).context("AS exchange")?;
    let credential = req
        .read_reply(&reply, &user.key)
        .map_err(anyhow::Error::from)
        .and_then(aes256_ticket)
        .with_context(|| format!("AS-REP for {}", user.name))?;
    Ok(Tgt {
        credential,
        reply_len: reply.len(),
    })
}

/// TGS exchange for `service` with the TGT (RFC 4120 §5.4.1, §5.5.1): the authenticator carries
/// a keyed checksum of the request body (hmac-sha1-96-aes256) and a fresh time. Returns the size
/// of the TGS-REP.
pub fn tgs_exchange(kdc: Kdc, tgt: &Tgt, service: &PrincipalName, nonce: u32) -> Result<usize> {
    let (secs, usecs) = now();
    let mut req = TgsRequest::new(service.clone(), secs);
    req.client_usec = usecs;
    req.body.etypes = ETYPES.to_vec();
    req.body.nonce = nonce;
    let reply = send(kdc, &req.encode(&tgt.credential)?).context("TGS exchange")?;
    let ticket = req
        .read_reply(&reply, &tgt.credential)
        .map_err(anyhow::Error::from)
        .and_then(aes256_ticket)
        .with_context(|| format!("TGS-REP for {}", service.joined()))?;
    if ticket.enc_part.sname.components != service.components {
        bail!(
            "ticket for {} instead of {}",
            ticket.enc_part.sname.joined(),
            service.joined()
        );
    }
    Ok(reply.len())
}
