//! One connection's PDU path, sans I/O: the bytes read from the stream become requests, and the
//! session's typed responses become the bytes to write, both through the connection's
//! [`Protection`]. This is the only place where a connection frames requests and encodes
//! responses, so a SASL security layer (RFC 4752 §3.1, MS-ADTS 5.1.1.1.2 signing and sealing:
//! every PDU wrapped and sent behind a 4-byte big-endian length) wraps and unwraps here, as a
//! further kind of protection.

use super::codec::{
    decode_request, frame_len, CodecError, LdapRequest, LdapResponse, LdapResult, ResponseOp,
};

/// What protects a connection's PDUs above the transport.
#[derive(Debug, PartialEq, Eq)]
pub enum Protection {
    /// Plain LDAP: PDUs go as they are.
    None,
    /// TLS under the byte stream (LDAPS, or after StartTLS): PDUs go as they are and the stream
    /// encrypts them.
    Tls,
}

/// Bytes in, requests out; responses in, bytes out.
#[derive(Debug)]
pub struct Wire {
    protection: Protection,
    /// LDAP bytes received and not yet taken as requests.
    received: Vec<u8>,
    max_pdu: usize,
}

impl Wire {
    /// A connection protected by `protection` that accepts PDUs of up to `max_pdu` bytes.
    pub fn new(protection: Protection, max_pdu: usize) -> Wire {
        Wire {
            protection,
            received: Vec::new(),
            max_pdu,
        }
    }

    pub fn protection(&self) -> &Protection {
        &self.protection
    }

    /// Takes bytes read from the stream.
    pub fn receive(&mut self, bytes: &[u8]) {
        match self.protection {
            Protection::None | Protection::Tls => self.received.extend_from_slice(bytes),
        }
    }

    /// Whether part of a PDU is waiting for the rest (the read timeout applies, not the idle
    /// one).
    pub fn mid_pdu(&self) -> bool {
        !self.received.is_empty()
    }

    /// The next whole request received, `None` while more bytes are needed. An error closes the
    /// connection, after [`Wire::notice_of_disconnection`].
    pub fn next_request(&mut self) -> Result<Option<LdapRequest>, CodecError> {
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
        match self.protection {
            Protection::None | Protection::Tls => response.to_ber(),
        }
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
    fn start_tls_needs_an_empty_buffer() {
        let mut wire = Wire::new(Protection::None, 100);
        wire.receive(&UNBIND[..2]);
        assert!(!wire.start_tls());
        assert_eq!(wire.protection(), &Protection::None);
        let mut wire = Wire::new(Protection::None, 100);
        assert!(wire.start_tls());
        assert_eq!(wire.protection(), &Protection::Tls);
    }
}
