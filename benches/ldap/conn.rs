//! One LDAP connection over tokio: send a request, read responses until its result. Requests are
//! issued one at a time (no pipelining), as ordinary clients do. The stream is plain TCP (the
//! `ldap` benchmark) or TLS over TCP (LDAPS, the `gmsa` benchmark).

use crate::wire::{self, op, Outcome, Response, Scope};
use adsim_simulator::ldap::codec::frame_len;
use anyhow::{anyhow, bail, Context, Result};
use std::net::SocketAddr;
use std::ops::Range;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response PDU accepted; the benchmark's responses are a few hundred bytes.
const MAX_PDU: usize = 1 << 20;

pub struct Conn<S = TcpStream> {
    stream: S,
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    pos: usize,
    next_msgid: i32,
}

/// A TCP connection to a loopback address, with Nagle's algorithm off (one small request at a
/// time must not wait for an acknowledgement).
pub async fn tcp(addr: SocketAddr) -> Result<TcpStream> {
    if !addr.ip().is_loopback() {
        bail!("the benchmark only talks to loopback addresses, not {addr}");
    }
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

impl Conn<TcpStream> {
    pub async fn connect(addr: SocketAddr) -> Result<Conn> {
        Ok(Conn::new(tcp(addr).await?))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(stream: S) -> Conn<S> {
        Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            pos: 0,
            next_msgid: 1,
        }
    }

    fn msgid(&mut self) -> i32 {
        let id = self.next_msgid;
        self.next_msgid = if id == i32::MAX { 1 } else { id + 1 };
        id
    }

    /// The next complete response PDU, reading from the socket as needed; also where its bytes
    /// are in `buf` (valid until the next read).
    async fn next_response(&mut self) -> Result<(Response, Range<usize>)> {
        loop {
            let unread = &self.buf[self.pos..];
            if let Some(len) = frame_len(unread, MAX_PDU)? {
                let response = wire::parse_response(&unread[..len])?;
                let at = self.pos..self.pos + len;
                self.pos += len;
                return Ok((response, at));
            }
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                bail!("server closed the connection");
            }
        }
    }

    /// Sends one request and reads until its final response, counting search entries on the way
    /// and handing each entry's PDU to `on_entry`.
    async fn exchange(
        &mut self,
        msgid: i32,
        pdu: &[u8],
        done_op: u8,
        mut on_entry: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<(Outcome, usize)> {
        self.stream.write_all(pdu).await?;
        let mut entries = 0;
        loop {
            let (r, at) = self.next_response().await?;
            if r.msgid != msgid {
                bail!("response for message {} while waiting for {msgid}", r.msgid);
            }
            match (r.op, r.outcome) {
                (op::SEARCH_RESULT_ENTRY, _) => {
                    entries += 1;
                    on_entry(&self.buf[at])?;
                }
                (op::SEARCH_RESULT_REFERENCE, _) => {}
                (got, Some(outcome)) if got == done_op => return Ok((outcome, entries)),
                (got, _) => bail!("unexpected response op 0x{got:02x}"),
            }
        }
    }

    pub async fn bind(&mut self, name: &str, password: &str) -> Result<()> {
        let id = self.msgid();
        let pdu = wire::bind_simple(id, name, password);
        let (outcome, _) = self.exchange(id, &pdu, op::BIND_RESPONSE, ignore).await?;
        check(&outcome).with_context(|| format!("simple bind as {name}"))
    }

    /// A search that must succeed; returns the number of entries.
    pub async fn search(&mut self, base: &str, scope: Scope, filter: &[u8], attrs: &[&str]) -> Result<usize> {
        self.search_each(base, scope, filter, attrs, ignore).await
    }

    /// A search that must succeed, each entry's PDU (an LDAPMessage) handed to `on_entry`;
    /// returns the number of entries.
    pub async fn search_each(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &[u8],
        attrs: &[&str],
        on_entry: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<usize> {
        let id = self.msgid();
        let pdu = wire::search(id, base, scope, filter, attrs);
        let (outcome, entries) = self.exchange(id, &pdu, op::SEARCH_RESULT_DONE, on_entry).await?;
        check(&outcome).context("search")?;
        Ok(entries)
    }

    pub async fn add<V: AsRef<[u8]>>(&mut self, dn: &str, attrs: &[(&str, Vec<V>)]) -> Result<()> {
        let id = self.msgid();
        let pdu = wire::add(id, dn, attrs);
        let (outcome, _) = self.exchange(id, &pdu, op::ADD_RESPONSE, ignore).await?;
        check(&outcome).with_context(|| format!("add {dn}"))
    }

    /// Replaces every value of `attr` of the entry at `dn`; the modify must succeed.
    pub async fn modify_replace(&mut self, dn: &str, attr: &str, values: &[&[u8]]) -> Result<()> {
        let id = self.msgid();
        let pdu = wire::modify_replace(id, dn, attr, values);
        let (outcome, _) = self.exchange(id, &pdu, op::MODIFY_RESPONSE, ignore).await?;
        check(&outcome).with_context(|| format!("modify {dn}"))
    }

    /// Polite close (RFC 4511 §4.3): the server may then close its side.
    pub async fn unbind(mut self) {
        let id = self.msgid();
        let _ = self.stream.write_all(&wire::unbind(id)).await;
        let _ = self.stream.shutdown().await;
    }
}

/// An `on_entry` for requests whose entries are only counted.
fn ignore(_: &[u8]) -> Result<()> {
    Ok(())
}

fn check(outcome: &Outcome) -> Result<()> {
    if outcome.code == 0 {
        Ok(())
    } else {
        Err(anyhow!("resultCode {} ({})", outcome.code, outcome.diagnostic))
    }
}
