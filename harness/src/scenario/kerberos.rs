//! The scenarios' Kerberos exchanges: `adsim_simulator::kdc::client` over TCP. The AS exchange
//! answers PREAUTH_REQUIRED with the salt from ETYPE-INFO2, as MIT and Windows clients do; the
//! client's clock is set by the caller so a scenario can skew it.

use std::net::SocketAddr;
use std::time::Duration;

use adsim_simulator::kdc::client::{
    self, salt_hint, service_name, AsRequest, ClientError, ClientKey, KdcReply, TgsRequest,
};
pub use adsim_simulator::kdc::client::{Answer as KdcAnswer, Credential};
use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::error::{self, code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The RFC name of a Kerberos error for reports, empty for a code without one.
pub fn error_name(code: i32) -> &'static str {
    error::error_name(code).unwrap_or("")
}

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
    #[error(transparent)]
    Client(#[from] ClientError),
}

type Result<T> = std::result::Result<T, KerberosClientError>;

/// One request/reply over TCP (RFC 4120 §7.2.2 framing).
async fn exchange(addr: SocketAddr, request: &[u8]) -> Result<Vec<u8>> {
    let io = |source| KerberosClientError::Io { addr, source };
    let work = async {
        let mut s = TcpStream::connect(addr).await.map_err(io)?;
        s.write_all(&client::tcp_frame(request)?).await.map_err(io)?;
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.map_err(io)?;
        let mut reply = vec![0u8; client::tcp_reply_len(len)?];
        s.read_exact(&mut reply).await.map_err(io)?;
        Ok(reply)
    };
    tokio::time::timeout(IO_TIMEOUT, work)
        .await
        .map_err(|_| KerberosClientError::Timeout(addr))?
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
    // First without pre-authentication: the KDC names the etype and salt it wants.
    let first = AsRequest::new(realm, account, client_time);
    let err = match client::decode_reply(&exchange(kdc, &first.encode()?).await?)? {
        KdcReply::Error(err) => err,
        KdcReply::Rep(_) => {
            return Err(
                ClientError::Unexpected("the KDC issued a ticket without pre-authentication".into()).into(),
            )
        }
    };
    if err.error_code != code::KDC_ERR_PREAUTH_REQUIRED {
        return Ok(KdcAnswer::Error(err));
    }
    let (etype, salt) = salt_hint(&err, &[Etype::Aes256, Etype::Aes128])
        .ok_or_else(|| ClientError::Unexpected("PREAUTH_REQUIRED without an AES ETYPE-INFO2".into()))?;
    let key = ClientKey::from_password(etype, password, &salt)?;
    let req = AsRequest::new(realm, account, client_time).with_preauth(key.clone());
    let reply = exchange(kdc, &req.encode()?).await?;
    Ok(req.read_reply(&reply, &key)?)
}

/// The TGS exchange: a service ticket for `spn` (`HTTP/web01.corp.example.test`) with `tgt`,
/// the authenticator stamped with `client_time`.
pub async fn tgs_exchange(
    kdc: SocketAddr,
    tgt: &Credential,
    spn: &str,
    client_time: i64,
) -> Result<KdcAnswer> {
    let req = TgsRequest::new(service_name(spn), client_time);
    let reply = exchange(kdc, &req.encode(tgt)?).await?;
    Ok(req.read_reply(&reply, tgt)?)
}
