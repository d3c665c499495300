//! The DNS server's tokio edge: one UDP socket and one TCP listener of the same port (RFC 1035
//! §4.2.1 datagrams, §4.2.2's two-byte length prefix over TCP, RFC 7766), every message going
//! through one handler for both transports: its bytes first to `dns::secure` (UPDATE, TKEY,
//! TSIG — whose MACs cover the bytes as sent), the other queries to hickory-server's `Catalog`.
//!
//! hickory-server 0.25's `ServerFuture` gives a request handler the decoded message only, not
//! its bytes, which TSIG verification needs; so the sockets are served here and the catalog is
//! called as a `RequestHandler` (docs/architecture.md, "DNS").

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_server::authority::{Catalog, MessageRequest, MessageResponse};
use hickory_server::proto::op::{Header, MessageType, ResponseCode};
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::{BinDecodable, BinEncodable, BinEncoder};
use hickory_server::proto::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::dns::secure::{Routed, SecureUpdates};
use crate::dns::{catalog, DcRecords};

/// How long a TCP connection may stay without a complete request (RFC 7766 §6.2.3: idle
/// timeouts of seconds, not minutes).
pub const TCP_TIMEOUT: Duration = Duration::from_secs(10);

/// The UDP response size without EDNS: what hickory-server's own response handler allows
/// (`hickory_proto::udp::MAX_RECEIVE_BUFFER_SIZE`).
const UDP_MAX_WITHOUT_EDNS: u16 = 4096;

/// At most this many TCP connections are served at once; more wait in the listen backlog.
const MAX_TCP_CONNECTIONS: usize = 256;

struct Service {
    catalog: Catalog,
    secure: Arc<SecureUpdates>,
    records: Arc<DcRecords>,
}

/// Serves `records` (and secure updates through `secure`) on `udp` and `tcp` until the task
/// is dropped.
pub async fn serve(udp: UdpSocket, tcp: TcpListener, records: Arc<DcRecords>, secure: Arc<SecureUpdates>) {
    let service = Arc::new(Service {
        catalog: catalog(records.clone()),
        secure,
        records,
    });
    let udp_task = tokio::spawn(serve_udp(Arc::new(udp), service.clone()));
    serve_tcp(tcp, service).await;
    udp_task.abort();
}

async fn serve_udp(socket: Arc<UdpSocket>, service: Arc<Service>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, src) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "DNS UDP receive failed");
                continue;
            }
        };
        let raw = buf[..n].to_vec();
        let (socket, service) = (socket.clone(), service.clone());
        tokio::spawn(async move {
            if let Some(answer) = service.answer(&raw, src, Protocol::Udp).await {
                let _ = socket.send_to(&answer, src).await;
            }
        });
    }
}

async fn serve_tcp(listener: TcpListener, service: Arc<Service>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_TCP_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, src) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "DNS TCP accept failed");
                continue;
            }
        };
        let service = service.clone();
        tokio::spawn(async move {
            connection(stream, src, &service).await;
            drop(permit);
        });
    }
}

/// One TCP connection: length-prefixed messages, answered in order, until the client closes or
/// stays idle.
async fn connection(mut stream: TcpStream, src: SocketAddr, service: &Service) {
    loop {
        let Ok(Ok(len)) = tokio::time::timeout(TCP_TIMEOUT, stream.read_u16()).await else {
            return;
        };
        let mut raw = vec![0u8; usize::from(len)];
        if !matches!(
            tokio::time::timeout(TCP_TIMEOUT, stream.read_exact(&mut raw)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let Some(answer) = service.answer(&raw, src, Protocol::Tcp).await else {
            continue;
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            return;
        };
        if stream.write_u16(len).await.is_err() || stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}

impl Service {
    /// The answer to one message, if any.
    async fn answer(&self, raw: &[u8], src: SocketAddr, protocol: Protocol) -> Option<Vec<u8>> {
        let now = self.records.dir().clock.now().unix_seconds();
        match self.secure.handle(raw, now) {
            Routed::Answer(bytes) => Some(bytes),
            Routed::Drop => None,
            Routed::Query => self.query(raw, src, protocol).await,
        }
    }

    /// An ordinary query, answered by hickory's catalog.
    async fn query(&self, raw: &[u8], src: SocketAddr, protocol: Protocol) -> Option<Vec<u8>> {
        let message = match MessageRequest::from_bytes(raw) {
            Ok(m) => m,
            Err(_) => return servfail_or_formerr(raw, ResponseCode::FormErr),
        };
        if message.message_type() == MessageType::Response {
            return None;
        }
        let id = message.id();
        let request = Request::new(message, src, protocol);
        let capture = Capture {
            out: Arc::new(Mutex::new(None)),
            protocol,
        };
        self.catalog.handle_request(&request, capture.clone()).await;
        let out = capture.out.lock().unwrap_or_else(|e| e.into_inner()).take();
        out.or_else(|| servfail_or_formerr(&id.to_be_bytes(), ResponseCode::ServFail))
    }
}

/// A bare response with `rc` for the ID at the start of `raw`; nothing without one.
fn servfail_or_formerr(raw: &[u8], rc: ResponseCode) -> Option<Vec<u8>> {
    let id = u16::from_be_bytes([*raw.first()?, *raw.get(1)?]);
    let mut header = Header::new();
    header.set_id(id);
    header.set_message_type(MessageType::Response);
    header.set_response_code(rc);
    header.to_bytes().ok()
}

/// Keeps the catalog's response as bytes, sized as hickory's own handler sizes it.
#[derive(Clone)]
struct Capture {
    out: Arc<Mutex<Option<Vec<u8>>>>,
    protocol: Protocol,
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> io::Result<ResponseInfo> {
        let id = response.header().id();
        let max = match self.protocol {
            Protocol::Udp => response
                .get_edns()
                .as_ref()
                .map_or(UDP_MAX_WITHOUT_EDNS, |e| e.max_payload()),
            _ => u16::MAX,
        };
        let mut buf = Vec::with_capacity(512);
        let result = {
            let mut encoder = BinEncoder::new(&mut buf);
            encoder.set_max_size(max);
            response.destructive_emit(&mut encoder)
        };
        let info = match result {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(error = %e, "DNS response could not be encoded");
                buf = servfail_or_formerr(&id.to_be_bytes(), ResponseCode::ServFail).unwrap_or_default();
                let mut h = Header::new();
                h.set_id(id);
                h.set_response_code(ResponseCode::ServFail);
                ResponseInfo::from(h)
            }
        };
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = Some(buf);
        Ok(info)
    }
}
