//! The KDC on the network: UDP (one request per datagram, RFC 4120 §7.2.1) and TCP (4-byte
//! big-endian length prefix, RFC 4120 §7.2.2).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::Instant;

use super::error::{code, ErrorContext, Refusal};
use super::{Exchange, Kdc, Transport};
use crate::slots::{Slot, Slots, ACCEPT_BACKOFF};

/// Sees every exchange a listener serves (the server's `--record`).
pub trait ExchangeObserver: Send + Sync {
    /// A new TCP connection or UDP datagram; returns its id.
    fn open_connection(&self) -> u64;
    /// One request as received and the KDC's account of the exchange, with the reply sent.
    fn exchange(
        &self,
        connection: u64,
        transport: Transport,
        peer: SocketAddr,
        request: &[u8],
        exchange: &Exchange,
    );
}

/// An optional observer of a listener's exchanges.
pub type Observer = Option<Arc<dyn ExchangeObserver>>;

/// A request/reply service on RFC 4120 §7.2's transports: the KDC, and kpasswd (RFC 3244 §2
/// uses the same UDP datagrams and 4-byte-prefixed TCP records).
pub trait Service: Send + Sync + 'static {
    /// For logs: "KDC", "kpasswd".
    fn name(&self) -> &'static str;
    /// TCP limits: largest request, read timeout, concurrent connections.
    fn tcp_limits(&self) -> (usize, std::time::Duration, usize);
    /// A new TCP connection or UDP datagram; returns its id (for recordings).
    fn open_connection(&self) -> u64 {
        0
    }
    /// Whether an answer may take long (a password change derives keys with PBKDF2): it then
    /// runs on the blocking pool. A KDC exchange is tens of microseconds, less than the hop to
    /// that pool, and is answered on the connection's task.
    fn slow(&self) -> bool {
        true
    }
    /// Answers one request that arrived at `local` from `peer`; `None` drops it (and, on TCP,
    /// closes the connection).
    fn answer(
        &self,
        connection: u64,
        transport: Transport,
        peer: SocketAddr,
        local: SocketAddr,
        request: &[u8],
    ) -> Option<Vec<u8>>;
    /// The reply to a TCP request over the size limit, sent before closing.
    fn too_long(&self) -> Option<Vec<u8>>;
}

/// The KDC as a [`Service`], telling its observer about every exchange.
struct KdcService {
    kdc: Arc<Kdc>,
    observer: Observer,
}

impl Service for KdcService {
    fn name(&self) -> &'static str {
        "KDC"
    }

    fn slow(&self) -> bool {
        false
    }

    fn tcp_limits(&self) -> (usize, std::time::Duration, usize) {
        let c = self.kdc.config();
        (c.max_tcp_request_size, c.tcp_read_timeout, c.max_tcp_connections)
    }

    fn open_connection(&self) -> u64 {
        self.observer.as_ref().map_or(0, |o| o.open_connection())
    }

    fn answer(
        &self,
        connection: u64,
        transport: Transport,
        peer: SocketAddr,
        _local: SocketAddr,
        request: &[u8],
    ) -> Option<Vec<u8>> {
        let exchange = self.kdc.exchange(request, transport);
        if let Some(o) = &self.observer {
            let id = if transport == Transport::Udp {
                o.open_connection()
            } else {
                connection
            };
            o.exchange(id, transport, peer, request, &exchange);
        }
        exchange.reply.map(|r| r.bytes)
    }

    fn too_long(&self) -> Option<Vec<u8>> {
        Some(too_long(&self.kdc))
    }
}

/// Serves UDP requests until the socket fails. Each datagram is answered on its own task.
pub async fn serve_udp(socket: UdpSocket, kdc: Arc<Kdc>) -> std::io::Result<()> {
    serve_udp_observed(socket, kdc, None).await
}

/// [`serve_udp`], telling `observer` about every exchange.
pub async fn serve_udp_observed(socket: UdpSocket, kdc: Arc<Kdc>, observer: Observer) -> std::io::Result<()> {
    serve_udp_service(socket, Arc::new(KdcService { kdc, observer })).await
}

/// Serves `service` on a UDP socket until it fails. Each datagram is answered on its own task.
pub async fn serve_udp_service<S: Service>(socket: UdpSocket, service: Arc<S>) -> std::io::Result<()> {
    let socket = Arc::new(socket);
    let local = socket.local_addr()?;
    let mut buf = vec![0u8; 65_536];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(v) => v,
            // ICMP port-unreachable from an earlier reply surfaces here on some systems.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => continue,
            Err(e) => return Err(e),
        };
        let request = buf[..len].to_vec();
        let service = service.clone();
        let socket = socket.clone();
        tokio::spawn(async move {
            if let Some(reply) = answer(service, 0, Transport::Udp, peer, local, request).await {
                if let Err(e) = socket.send_to(&reply, peer).await {
                    tracing::debug!(%peer, error = %e, "UDP reply not sent");
                }
            }
        });
    }
}

/// Serves TCP connections until the listener fails.
pub async fn serve_tcp(listener: TcpListener, kdc: Arc<Kdc>) -> std::io::Result<()> {
    serve_tcp_observed(listener, kdc, None).await
}

/// [`serve_tcp`], telling `observer` about every exchange.
pub async fn serve_tcp_observed(
    listener: TcpListener,
    kdc: Arc<Kdc>,
    observer: Observer,
) -> std::io::Result<()> {
    serve_tcp_service(listener, Arc::new(KdcService { kdc, observer })).await
}

/// Serves `service` on TCP. At most its connection limit at once: at the limit a new
/// connection takes the slot of the longest idle one ([`crate::slots`]), so idle clients cannot
/// delay a new request. A failed accept (EMFILE) pauses the loop briefly instead of ending it.
pub async fn serve_tcp_service<S: Service>(listener: TcpListener, service: Arc<S>) -> std::io::Result<()> {
    let (_, _, max_connections) = service.tcp_limits();
    let slots = Slots::new(max_connections);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, service = service.name(), "TCP accept failed, retrying shortly");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(slot) = slots.admit() else {
            tracing::debug!(%peer, service = service.name(), "TCP connections all busy, refusing");
            continue;
        };
        let service = service.clone();
        tokio::spawn(async move {
            let served = tokio::select! {
                r = serve_connection(stream, peer, &service, &slot) => r,
                () = slot.evicted() => Ok(()),
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, service = service.name(), "TCP connection closed");
            }
        });
    }
}

/// One TCP connection. Between requests it may stay idle for the read timeout; a request,
/// once its first byte is in, must be whole (length and body) within the timeout too.
async fn serve_connection<S: Service>(
    mut stream: TcpStream,
    peer: SocketAddr,
    service: &Arc<S>,
    slot: &Slot,
) -> std::io::Result<()> {
    let (max_request, timeout, _) = service.tcp_limits();
    let local = stream.local_addr()?;
    let connection = service.open_connection();
    loop {
        slot.idle();
        let mut len_buf = [0u8; 4];
        match tokio::time::timeout(timeout, stream.read(&mut len_buf[..1])).await {
            Err(_) | Ok(Ok(0)) => return Ok(()), // idle client, or gone
            Ok(Err(e)) => return Err(e),
            Ok(Ok(_)) => {}
        }
        let started = Instant::now();
        slot.partial(started.into_std());
        let deadline = started + timeout;
        match tokio::time::timeout_at(deadline, stream.read_exact(&mut len_buf[1..])).await {
            Err(_) => return Ok(()), // a stalled request
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(_)) => {}
        }
        let len = u32::from_be_bytes(len_buf);
        // RFC 4120 §7.2.2: the high bit is reserved for extensions we do not know, and the
        // server may refuse oversized requests; both get an error (KRB_ERR_FIELD_TOOLONG), then close.
        if len & 0x8000_0000 != 0 || len as usize > max_request {
            if let Some(reply) = service.too_long() {
                write_framed(&mut stream, &reply).await?;
            }
            return Ok(());
        }
        let mut request = vec![0u8; len as usize];
        match tokio::time::timeout_at(deadline, stream.read_exact(&mut request)).await {
            Err(_) => return Ok(()),
            Ok(r) => r?,
        };
        slot.busy();
        match answer(service.clone(), connection, Transport::Tcp, peer, local, request).await {
            Some(reply) => write_framed(&mut stream, &reply).await?,
            None => return Ok(()),
        }
    }
}

/// One request's answer: on the blocking pool for a [`Service::slow`] service, else here.
async fn answer<S: Service>(
    service: Arc<S>,
    connection: u64,
    transport: Transport,
    peer: SocketAddr,
    local: SocketAddr,
    request: Vec<u8>,
) -> Option<Vec<u8>> {
    if !service.slow() {
        return service.answer(connection, transport, peer, local, &request);
    }
    tokio::task::spawn_blocking(move || service.answer(connection, transport, peer, local, &request))
        .await
        .ok()
        .flatten()
}

fn too_long(kdc: &Kdc) -> Vec<u8> {
    let realm = kdc
        .db()
        .realms()
        .into_iter()
        .next()
        .unwrap_or_else(|| "UNKNOWN".into());
    kdc.error_reply(
        &Refusal::new(code::KRB_ERR_FIELD_TOOLONG, "TCP request too long"),
        &ErrorContext::fallback(&realm),
    )
}

async fn write_framed(stream: &mut TcpStream, reply: &[u8]) -> std::io::Result<()> {
    let mut framed = Vec::with_capacity(4 + reply.len());
    framed.extend_from_slice(&(reply.len() as u32).to_be_bytes());
    framed.extend_from_slice(reply);
    stream.write_all(&framed).await
}
