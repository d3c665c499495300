//! LDAP over TCP: one task per connection, framing by BER length with a PDU limit, idle and
//! read timeouts, StartTLS upgrade, and LDAPS. A malformed PDU closes that connection only.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::ldap::session::{After, ServerContext, Session};
use crate::ldap::wire::{Protection, Wire};
use crate::server::record::{LdapPending, Recorder};

#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Largest accepted PDU (AD's MaxReceiveBuffer default is 10 MB).
    pub max_pdu: usize,
    /// Close a connection idle this long (AD MaxConnIdleTime: 900 s).
    pub idle_timeout: Duration,
    /// Close a connection whose PDU does not complete within this time once begun.
    pub read_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_pdu: 10 * 1024 * 1024,
            idle_timeout: Duration::from_secs(900),
            read_timeout: Duration::from_secs(120),
            max_connections: 5000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain LDAP, StartTLS available.
    Plain,
    /// TLS from the first byte.
    Ldaps,
}

pub async fn serve(
    listener: TcpListener,
    ctx: ServerContext,
    transport: Transport,
    acceptor: TlsAcceptor,
    limits: ConnectionLimits,
    recorder: Option<Arc<Recorder>>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached, refusing");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (ctx, acceptor, limits) = (ctx.clone(), acceptor.clone(), limits.clone());
        let record = recorder.clone().map(|r| Recording::new(r, &ctx, peer));
        tokio::spawn(async move {
            connection(stream, ctx, transport, acceptor, limits, record).await;
            drop(permit);
            tracing::debug!(%peer, "connection closed");
        });
    }
}

/// One connection's share of the recorder: its id, the server it reached and its transport.
struct Recording {
    recorder: Arc<Recorder>,
    connection: u64,
    server: String,
    peer: std::net::SocketAddr,
    transport: &'static str,
}

impl Recording {
    fn new(recorder: Arc<Recorder>, ctx: &ServerContext, peer: std::net::SocketAddr) -> Recording {
        let server = if ctx.global_catalog {
            "gc".to_string()
        } else {
            ctx.dir
                .forest
                .domains
                .get(ctx.domain)
                .map(|d| d.dc_fqdn.clone())
                .unwrap_or_default()
        };
        Recording {
            connection: recorder.open_connection(),
            recorder,
            server,
            peer,
            transport: "ldap",
        }
    }
}

async fn connection(
    stream: TcpStream,
    ctx: ServerContext,
    transport: Transport,
    acceptor: TlsAcceptor,
    limits: ConnectionLimits,
    mut record: Option<Recording>,
) {
    match transport {
        Transport::Ldaps => match acceptor.accept(stream).await {
            Ok(tls) => {
                if let Some(r) = record.as_mut() {
                    r.transport = "ldaps";
                }
                run(
                    tls,
                    Session::new(true),
                    Wire::new(Protection::Tls, limits.max_pdu),
                    &ctx,
                    &limits,
                    record.as_ref(),
                )
                .await;
            }
            Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
        },
        Transport::Plain => {
            if let Some((stream, mut session, mut wire)) = run(
                stream,
                Session::new(false),
                Wire::new(Protection::None, limits.max_pdu),
                &ctx,
                &limits,
                record.as_ref(),
            )
            .await
            {
                // RFC 4511 §4.14.2: no PDU may follow the StartTLS request before the handshake.
                if !wire.start_tls() {
                    return;
                }
                match acceptor.accept(stream).await {
                    Ok(tls) => {
                        session.tls_started();
                        if let Some(r) = record.as_mut() {
                            r.transport = "ldap+starttls";
                        }
                        run(tls, session, wire, &ctx, &limits, record.as_ref()).await;
                    }
                    Err(e) => tracing::debug!(error = %e, "StartTLS handshake failed"),
                }
            }
        }
    }
}

/// Serves requests until the peer leaves, an error closes the connection, or StartTLS is
/// accepted (then the stream, session and wire, with any unread bytes, are handed back).
/// Every request and response passes through `wire`, the connection's protection.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mut session: Session,
    mut wire: Wire,
    ctx: &ServerContext,
    limits: &ConnectionLimits,
    record: Option<&Recording>,
) -> Option<(S, Session, Wire)> {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let req = match wire.next_request() {
            Ok(Some(req)) => req,
            Ok(None) => {
                let wait = if wire.mid_pdu() {
                    limits.read_timeout
                } else {
                    limits.idle_timeout
                };
                match tokio::time::timeout(wait, stream.read(&mut chunk)).await {
                    Ok(Ok(0)) | Err(_) => return None,
                    Ok(Ok(n)) => {
                        wire.receive(&chunk[..n]);
                        continue;
                    }
                    Ok(Err(_)) => return None,
                }
            }
            Err(e) => {
                // RFC 4511 §4.4.1: tell the client why before closing.
                let notice = wire.notice_of_disconnection(&e.reason);
                if stream.write_all(&notice).await.is_ok() {
                    let _ = stream.shutdown().await;
                }
                return None;
            }
        };
        let pending = record.map(|_| LdapPending::new(&req, session.caller()));
        let outcome = session.handle(ctx, req);
        if let (Some(r), Some(p)) = (record, pending) {
            let at = super::record::Endpoint {
                connection: r.connection,
                transport: r.transport,
                server: &r.server,
                peer: r.peer,
            };
            r.recorder.ldap(&at, p, &outcome.responses);
        }
        if stream
            .write_all(&wire.encode_all(&outcome.responses))
            .await
            .is_err()
        {
            return None;
        }
        if stream.flush().await.is_err() {
            return None;
        }
        // A bind that negotiated a SASL layer: every later PDU is wrapped (RFC 4752 §3.1).
        if let Some(layer) = session.take_security_layer() {
            wire.install_layer(layer);
        }
        match outcome.after {
            After::Continue => {}
            After::Close => return None,
            After::StartTls => return Some((stream, session, wire)),
        }
    }
}
