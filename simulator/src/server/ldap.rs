//! LDAP over TCP: one task per connection, framing by BER length with a PDU limit (a smaller one
//! before a bind), an idle timeout and a per-message deadline, handshake deadlines, connection
//! slots that evict the longest idle connection at the limit, StartTLS upgrade, and LDAPS. A
//! malformed PDU closes that connection only.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::ldap::session::{After, PagedLimits, ServerContext, Session};
use crate::ldap::wire::{Protection, Wire};
use crate::server::record::{LdapPending, Recorder};
use crate::slots::{Slot, Slots, ACCEPT_BACKOFF};

/// The most search messages one wrapped frame carries on a SASL-sealed connection: an answer
/// up to this size is one frame, as clients that read a frame per burst need; a larger one is
/// cut so a connection's buffered output stays bounded.
const SEALED_FRAME_RESPONSES: usize = 4096;

/// The limits of every LDAP connection: AD's LDAP policies (MS-ADTS 3.1.1.3.4.6, defaults from
/// KB 315071) and the deadlines that keep a slow client from holding a connection forever.
/// docs/fidelity.md, "LDAP connection limits", has the table with sources.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Largest accepted PDU once bound (AD's MaxReceiveBuffer default: 10,485,760 bytes).
    pub max_pdu: usize,
    /// Largest accepted PDU before a successful bind (anonymous or mid-bind). AD's figure is
    /// not published; Samba's AD DC refuses anonymous requests above 256,000 bytes
    /// (`ldap max anonymous request size`). Refused from the PDU's header, before its body is
    /// read.
    pub max_pdu_anonymous: usize,
    /// Close a connection idle this long (AD MaxConnIdleTime: 900 s).
    pub idle_timeout: Duration,
    /// A PDU, once its first byte is in, must be whole within this time (`--message-timeout`;
    /// AD's InitRecvTimeout, 120 s, is the model).
    pub message_timeout: Duration,
    /// A TLS handshake (LDAPS, StartTLS) must finish within this time (`--handshake-timeout`).
    pub handshake_timeout: Duration,
    /// Connections held at once by all the LDAP listeners together (AD MaxConnections: 5000);
    /// at the limit a new connection takes the slot of the longest idle one
    /// ([`crate::slots`]). The server lowers it to what the open-file limit allows.
    pub max_connections: usize,
    /// MaxResultSetsPerConn and MaxResultSetSize.
    pub paged: PagedLimits,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_pdu: 10 * 1024 * 1024,
            max_pdu_anonymous: 256_000,
            idle_timeout: Duration::from_secs(900),
            message_timeout: Duration::from_secs(120),
            handshake_timeout: Duration::from_secs(120),
            max_connections: 5000,
            paged: PagedLimits::default(),
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

/// Serves one LDAP listener; `slots` may be shared with the other LDAP listeners.
pub async fn serve(
    listener: TcpListener,
    ctx: ServerContext,
    transport: Transport,
    acceptor: TlsAcceptor,
    limits: ConnectionLimits,
    slots: Arc<Slots>,
    recorder: Option<Arc<Recorder>>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed, retrying shortly");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(slot) = slots.admit() else {
            tracing::warn!(%peer, "connection limit reached and every connection busy, refusing");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (ctx, acceptor, limits) = (ctx.clone(), acceptor.clone(), limits.clone());
        let record = recorder.clone().map(|r| Recording::new(r, &ctx, peer));
        tokio::spawn(async move {
            connection(stream, ctx, transport, acceptor, limits, slot, record).await;
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

/// A TLS handshake within the handshake deadline, unless the slot is taken first.
async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    limits: &ConnectionLimits,
    slot: &Slot,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    slot.partial(std::time::Instant::now());
    tokio::select! {
        r = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)) => match r {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out");
                None
            }
        },
        () = slot.evicted() => None,
    }
}

async fn connection(
    stream: TcpStream,
    ctx: ServerContext,
    transport: Transport,
    acceptor: TlsAcceptor,
    limits: ConnectionLimits,
    slot: Slot,
    mut record: Option<Recording>,
) {
    let session = |tls| Session::with_paged_limits(tls, limits.paged);
    match transport {
        Transport::Ldaps => {
            if let Some(tls) = handshake(&acceptor, stream, &limits, &slot).await {
                if let Some(r) = record.as_mut() {
                    r.transport = "ldaps";
                }
                run(
                    tls,
                    session(true),
                    Wire::new(Protection::Tls, limits.max_pdu_anonymous),
                    &ctx,
                    &limits,
                    &slot,
                    record.as_ref(),
                )
                .await;
            }
        }
        Transport::Plain => {
            if let Some((stream, mut session, mut wire)) = run(
                stream,
                session(false),
                Wire::new(Protection::None, limits.max_pdu_anonymous),
                &ctx,
                &limits,
                &slot,
                record.as_ref(),
            )
            .await
            {
                // RFC 4511 §4.14.2: no PDU may follow the StartTLS request before the handshake.
                if !wire.start_tls() {
                    return;
                }
                if let Some(tls) = handshake(&acceptor, stream, &limits, &slot).await {
                    session.tls_started();
                    if let Some(r) = record.as_mut() {
                        r.transport = "ldap+starttls";
                    }
                    run(tls, session, wire, &ctx, &limits, &slot, record.as_ref()).await;
                }
            }
        }
    }
}

/// Serves requests until the peer leaves, an error closes the connection, a deadline passes,
/// a newer connection takes the slot, or StartTLS is accepted (then the stream, session and
/// wire, with any unread bytes, are handed back). Every request and response passes through
/// `wire`, the connection's protection.
///
/// Deadlines: with nothing buffered the connection may stay idle for `idle_timeout`; once a
/// PDU has begun, the whole of it must arrive within `message_timeout`, however the bytes
/// trickle in. Before a successful bind only PDUs of up to `max_pdu_anonymous` bytes are
/// accepted, refused as soon as their header is read.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mut session: Session,
    mut wire: Wire,
    ctx: &ServerContext,
    limits: &ConnectionLimits,
    slot: &Slot,
    record: Option<&Recording>,
) -> Option<(S, Session, Wire)> {
    let mut chunk = vec![0u8; 64 * 1024];
    // When the PDU being received must be complete.
    let mut pdu_deadline: Option<Instant> = None;
    loop {
        let req = match wire.next_request() {
            Ok(Some(req)) => req,
            Ok(None) => {
                let deadline = if wire.mid_pdu() {
                    let deadline =
                        *pdu_deadline.get_or_insert_with(|| Instant::now() + limits.message_timeout);
                    slot.partial((deadline - limits.message_timeout).into_std());
                    deadline
                } else {
                    slot.idle();
                    Instant::now() + limits.idle_timeout
                };
                tokio::select! {
                    r = tokio::time::timeout_at(deadline, stream.read(&mut chunk)) => match r {
                        Ok(Ok(0)) | Ok(Err(_)) => return None,
                        Err(_) => {
                            tracing::debug!(partial = wire.mid_pdu(), "LDAP connection timed out");
                            return None;
                        }
                        Ok(Ok(n)) => {
                            wire.receive(&chunk[..n]);
                            continue;
                        }
                    },
                    () = slot.evicted() => {
                        tracing::debug!("LDAP connection dropped for a newer one (connection limit)");
                        return None;
                    }
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
        pdu_deadline = None;
        slot.busy();
        let pending = record.map(|_| LdapPending::new(&req, session.caller()));
        let mut outcome = session.begin(ctx, req);
        // A search's results go out a chunk at a time as they are produced, each written before
        // the next is made, with a yield in between: a large search neither holds this worker
        // nor buffers its whole encoding (other connections are served between chunks). The
        // first chunk follows the request without a yield (opening a search visits no entry),
        // so a search answered in one chunk costs one write and no trip through the
        // scheduler. Under a
        // SASL layer the chunks of one answer are gathered into one wrapped frame (up to
        // SEALED_FRAME_RESPONSES messages a frame): impacket reads one frame per burst and drops
        // a second frame that arrives in the same read (`Wire::encode_all`).
        let sealed = matches!(wire.protection(), Protection::Sasl(_));
        let mut out = std::mem::take(&mut outcome.responses);
        let mut recorded = Vec::new();
        let mut first_chunk = true;
        loop {
            let done = !session.searching();
            if !out.is_empty() && (done || !sealed || out.len() >= SEALED_FRAME_RESPONSES) {
                if stream.write_all(&wire.encode_all(&out)).await.is_err() {
                    return None;
                }
                if record.is_some() {
                    recorded.append(&mut out);
                } else {
                    out.clear();
                }
            }
            if done {
                break;
            }
            if !std::mem::take(&mut first_chunk) {
                tokio::task::yield_now().await;
            }
            out.extend(session.continue_search(ctx).unwrap_or_default());
        }
        if let (Some(r), Some(p)) = (record, pending) {
            let at = super::record::Endpoint {
                connection: r.connection,
                transport: r.transport,
                server: &r.server,
                peer: r.peer,
            };
            r.recorder.ldap(&at, p, &recorded);
        }
        if stream.flush().await.is_err() {
            return None;
        }
        // The PDU limit follows the bind state (set before a layer unwraps what is waiting).
        wire.set_max_pdu(if session.caller().is_anonymous() {
            limits.max_pdu_anonymous
        } else {
            limits.max_pdu
        });
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
