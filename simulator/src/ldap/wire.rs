//! One connection's PDU path, sans I/O: the bytes read from the stream become requests, and the
//! session's typed responses become the bytes to write, both through the connection's
//! [`Protection`]. This is the only place where a connection frames requests and encodes
//! responses, so a SASL security layer (RFC 4752 §3.1, MS-ADTS 5.1.1.1.2 signing and sealing:
//! every PDU wrapped and sent behind a 4-byte big-endian length) wraps and unwraps here, as a
//! further kind of protection.

use super::bind::Layer;
use super::codec::{
    decode_request, frame_len, CodecError, LdapRequest, LdapResponse, LdapResult, ResponseOp,
};
use crate::auth::sasl::{frame, try_unframe};

/// What protects a connection's PDUs above the transport.
pub enum Protection {
    /// Plain LDAP: PDUs go as they are.
    None,
    /// TLS under the byte stream (LDAPS, or after StartTLS): PDUs go as they are and the stream
    /// encrypts them.
    Tls,
    /// A SASL security layer (GSSAPI or GSS-SPNEGO sign or seal): each PDU batch travels as a
    /// 4-byte big-endian length and the layer's wrap token.
    Sasl(Layer),
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protection::None => "None",
            Protection::Tls => "Tls",
            Protection::Sasl(_) => "Sasl",
        })
    }
}

/// Two protections are equal when of the same kind (layers are not compared).
impl PartialEq for Protection {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl Eq for Protection {}

/// Bytes in, requests out; responses in, bytes out.
#[derive(Debug)]
pub struct Wire {
    protection: Protection,
    /// LDAP bytes received and not yet taken as requests.
    received: Vec<u8>,
    /// Under a SASL layer: wrapped frames received and not yet unwrapped.
    wrapped: Vec<u8>,
    /// A frame that did not unwrap: the connection closes at the next request.
    broken: Option<CodecError>,
    max_pdu: usize,
}

impl Wire {
    /// A connection protected by `protection` that accepts PDUs of up to `max_pdu` bytes.
    pub fn new(protection: Protection, max_pdu: usize) -> Wire {
        Wire {
            protection,
            received: Vec::new(),
            wrapped: Vec::new(),
            broken: None,
            max_pdu,
        }
    }

    pub fn protection(&self) -> &Protection {
        &self.protection
    }

    /// Changes the largest PDU accepted from here on: the transport lowers it while the
    /// connection is anonymous and raises it after a bind (see `server::ldap`).
    pub fn set_max_pdu(&mut self, max_pdu: usize) {
        self.max_pdu = max_pdu;
    }

    /// Bytes received and not yet taken as requests (framed or still wrapped).
    pub fn buffered(&self) -> usize {
        self.received.len() + self.wrapped.len()
    }

    /// Takes bytes read from the stream.
    pub fn receive(&mut self, bytes: &[u8]) {
        match self.protection {
            Protection::None | Protection::Tls => self.received.extend_from_slice(bytes),
            Protection::Sasl(_) => {
                self.wrapped.extend_from_slice(bytes);
                self.unwrap_frames();
            }
        }
    }

    /// Unwraps every whole frame waiting (RFC 4422 §3.7: the length, then the wrap token).
    fn unwrap_frames(&mut self) {
        let Protection::Sasl(layer) = &mut self.protection else {
            return;
        };
        while self.broken.is_none() {
            // The limit applies to the wrapped frame: its token is the PDU plus a few dozen bytes.
            let (plain, used) = match try_unframe(&self.wrapped, self.max_pdu.saturating_add(1024)) {
                Ok(Some((token, used))) => (layer.unwrap(token), used),
                Ok(None) => return,
                Err(e) => (Err(e), 0),
            };
            match plain {
                Ok(p) => {
                    self.received.extend_from_slice(&p);
                    self.wrapped.drain(..used);
                }
                Err(e) => {
                    tracing::info!(error = %e, "SASL frame refused, closing connection");
                    self.broken = Some(CodecError::new(format!("SASL security layer: {e}")));
                }
            }
        }
    }

    /// Whether part of a PDU is waiting for the rest (the read timeout applies, not the idle
    /// one).
    pub fn mid_pdu(&self) -> bool {
        !self.received.is_empty() || !self.wrapped.is_empty()
    }

    /// The next whole request received, `None` while more bytes are needed. An error closes the
    /// connection, after [`Wire::notice_of_disconnection`].
    pub fn next_request(&mut self) -> Result<Option<LdapRequest>, CodecError> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        let len = match frame_len(&self.received, self.max_pdu) {
            Ok(Some(len)) => len,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::info!(reason = %e.reason, "malformed LDAP framing, closing connection");
                return Err(e);
            }
        };
        let request = decode_request(&self.received[..len]);
        self.received.drain(..len);
        match request {
            Ok(r) => Ok(Some(r)),
            Err(e) => {
                tracing::info!(reason = %e.reason, "malformed LDAP PDU, closing connection");
                Err(e)
            }
        }
    }

    /// One response as the bytes to write.
    pub fn encode(&mut self, response: &LdapResponse) -> Vec<u8> {
        self.encode_all(std::slice::from_ref(response))
    }

    /// The responses to one request as the bytes to write. Under a SASL layer they go in one
    /// wrapped frame: impacket reads one frame per burst and Cyrus parses PDUs out of each
    /// unwrapped buffer, so one frame per answer suits both.
    pub fn encode_all(&mut self, responses: &[LdapResponse]) -> Vec<u8> {
        let ber: Vec<u8> = responses.iter().flat_map(|r| r.to_ber()).collect();
        match &mut self.protection {
            Protection::None | Protection::Tls => ber,
            Protection::Sasl(_) if ber.is_empty() => ber,
            Protection::Sasl(layer) => match layer.wrap(&ber) {
                Ok(token) => frame(&token),
                Err(e) => {
                    // Only a layer that cannot wrap at all gets here; the client sees nothing.
                    tracing::warn!(error = %e, "SASL wrap failed");
                    Vec::new()
                }
            },
        }
    }

    /// Switches the SASL layer on, right after the final bind response was encoded: every byte
    /// received after it, already read or not, is a wrapped frame.
    pub fn install_layer(&mut self, layer: Layer) {
        self.wrapped = std::mem::take(&mut self.received);
        self.protection = Protection::Sasl(layer);
        self.unwrap_frames();
    }

    /// RFC 4511 §4.4.1: the unsolicited notice that tells the client why it is disconnected.
    pub fn notice_of_disconnection(&mut self, reason: &str) -> Vec<u8> {
        self.encode(&LdapResponse::new(
            0,
            ResponseOp::NoticeOfDisconnection(LdapResult::new(2, reason.to_string())),
        ))
    }

    /// After StartTLS's handshake: the stream is encrypted from here on. Refused (`false`)
    /// while bytes are waiting: RFC 4511 §4.14.2 lets no PDU follow the StartTLS request
    /// before the handshake.
    pub fn start_tls(&mut self) -> bool {
        if self.mid_pdu() {
            return false;
        }
        self.protection = Protection::Tls;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldap::codec::{encode_response, RequestOp};

    /// UnbindRequest, message 1.
    const UNBIND: [u8; 7] = [0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00];

    #[test]
    fn requests_are_framed_across_reads() {
        let mut wire = Wire::new(Protection::None, 100);
        assert_eq!(wire.next_request(), Ok(None));
        assert!(!wire.mid_pdu());
        wire.receive(&UNBIND[..3]);
        assert_eq!(wire.next_request(), Ok(None));
        assert!(wire.mid_pdu());
        let mut rest = UNBIND[3..].to_vec();
        rest.extend_from_slice(&UNBIND);
        wire.receive(&rest);
        for _ in 0..2 {
            let req = wire.next_request().unwrap().expect("a whole request");
            assert_eq!((req.msgid, req.op), (1, RequestOp::Unbind));
        }
        assert_eq!(wire.next_request(), Ok(None));
        assert!(!wire.mid_pdu());
    }

    #[test]
    fn bad_framing_and_bad_pdus_are_errors() {
        let mut wire = Wire::new(Protection::Tls, 100);
        wire.receive(&[0x31, 0x00]);
        assert!(wire.next_request().is_err());
        let mut wire = Wire::new(Protection::None, 4);
        wire.receive(&UNBIND);
        assert!(wire.next_request().unwrap_err().reason.contains("exceeds"));
        let mut wire = Wire::new(Protection::None, 100);
        wire.receive(&[0x30, 0x03, 0x02, 0x01, 0x01]);
        assert!(wire.next_request().is_err());
    }

    #[test]
    fn responses_are_encoded_once_here() {
        let done = LdapResponse::new(3, ResponseOp::SearchResultDone(LdapResult::success()));
        for protection in [Protection::None, Protection::Tls] {
            let mut wire = Wire::new(protection, 100);
            assert_eq!(wire.encode(&done), encode_response(3, done.op.clone(), &[]));
        }
        let notice = Wire::new(Protection::None, 100).notice_of_disconnection("bad");
        assert_eq!(
            notice,
            encode_response(
                9,
                ResponseOp::NoticeOfDisconnection(LdapResult::new(2, "bad")),
                &[]
            )
        );
    }

    #[test]
    fn the_limit_can_change_between_requests() {
        let mut wire = Wire::new(Protection::None, 4);
        wire.set_max_pdu(100);
        wire.receive(&UNBIND);
        assert!(wire.next_request().unwrap().is_some());
        wire.set_max_pdu(4);
        // Refused from the header alone: nothing of the body needs to be buffered.
        wire.receive(&UNBIND[..2]);
        assert!(wire.next_request().unwrap_err().reason.contains("exceeds"));
    }

    #[test]
    fn start_tls_needs_an_empty_buffer() {
        let mut wire = Wire::new(Protection::None, 100);
        wire.receive(&UNBIND[..2]);
        assert!(!wire.start_tls());
        assert_eq!(wire.protection(), &Protection::None);
        let mut wire = Wire::new(Protection::None, 100);
        assert!(wire.start_tls());
        assert_eq!(wire.protection(), &Protection::Tls);
    }

    #[test]
    fn a_sasl_layer_wraps_every_pdu_after_it_is_installed() {
        use crate::auth::ntlm::{flags, NtlmSession, Role};
        use crate::auth::sasl::{NtlmLayer, SecurityLayer};
        let f =
            flags::SIGN | flags::SEAL | flags::EXTENDED_SESSIONSECURITY | flags::NEG_128 | flags::KEY_EXCH;
        let key = [7u8; 16];
        let layer = |role| NtlmLayer {
            session: NtlmSession::new(&key, f, role).unwrap(),
            seal: true,
        };
        let mut client = layer(Role::Client);
        let mut wire = Wire::new(Protection::None, 100);
        // The first wrapped request may arrive in the same read as the bind's last bytes.
        let wrapped = frame(&client.wrap(&UNBIND).unwrap());
        wire.receive(&wrapped[..5]);
        wire.install_layer(Box::new(layer(Role::Server)));
        assert!(matches!(wire.protection(), Protection::Sasl(_)));
        assert_eq!(wire.next_request(), Ok(None));
        assert!(wire.mid_pdu());
        wire.receive(&wrapped[5..]);
        let req = wire.next_request().unwrap().expect("the unwrapped request");
        assert_eq!((req.msgid, req.op), (1, RequestOp::Unbind));
        // Every response to a request goes in one frame.
        let done = LdapResponse::new(3, ResponseOp::SearchResultDone(LdapResult::success()));
        let bytes = wire.encode_all(&[done.clone(), done.clone()]);
        let (token, used) = try_unframe(&bytes, 1000).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(
            client.unwrap(token).unwrap(),
            [done.to_ber(), done.to_ber()].concat()
        );
        // A frame that fails its signature closes the connection.
        let mut bad = frame(&client.wrap(&UNBIND).unwrap());
        let last = bad.len() - 1;
        bad[last] ^= 1;
        wire.receive(&bad);
        assert!(wire.next_request().unwrap_err().reason.contains("SASL"));
    }
}
