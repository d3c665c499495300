//! CLDAP's tokio edge: one UDP socket on a DC's LDAP port, each datagram answered by
//! `ldap::cldap` in turn (the answer is a directory read of microseconds: no task per
//! datagram, so a flood costs one core at most).

use std::net::IpAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;

use crate::dsa::Directory;
use crate::ldap::cldap::{answer, MAX_DATAGRAM};

/// Answers datagrams for the DC of `domain` (reached at `dc_ip`) until the socket fails.
pub async fn serve(
    socket: UdpSocket,
    dir: Arc<Directory>,
    domain: usize,
    dc_ip: IpAddr,
) -> std::io::Result<()> {
    // One byte more than the largest accepted request: a longer datagram is seen as such.
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(v) => v,
            // ICMP port-unreachable from an earlier reply surfaces here on some systems.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => continue,
            Err(e) => return Err(e),
        };
        let Some(reply) = answer(&dir, domain, dc_ip, &buf[..len]) else {
            tracing::debug!(%peer, bytes = len, "CLDAP datagram dropped");
            continue;
        };
        if let Err(e) = socket.send_to(&reply, peer).await {
            tracing::debug!(%peer, error = %e, "CLDAP reply not sent");
        }
    }
}
