//! The DNS server's tokio edge: hickory-server's `ServerFuture` on one UDP socket and one TCP
//! listener of the same port, with the forest's catalog (`crate::dns`) as the one handler of
//! both transports (hickory frames each: RFC 1035 §4.2.1 over UDP, §4.2.2's length prefix over
//! TCP).

use std::sync::Arc;
use std::time::Duration;

use hickory_server::ServerFuture;
use tokio::net::{TcpListener, UdpSocket};

use crate::dns::{catalog, DcRecords};

/// How long a TCP connection may stay without a complete request (RFC 7766 §6.2.3: idle
/// timeouts of seconds, not minutes).
pub const TCP_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `records` on `udp` and `tcp` until the task is dropped.
pub async fn serve(udp: UdpSocket, tcp: TcpListener, records: Arc<DcRecords>) {
    let mut server = ServerFuture::new(catalog(records));
    server.register_socket(udp);
    server.register_listener(tcp, TCP_TIMEOUT);
    if let Err(e) = server.block_until_done().await {
        tracing::error!(error = %e, "DNS server stopped");
    }
}
