//! LDAP wire layer for the server side (RFC 4511), sans I/O: find PDU boundaries in a byte
//! stream ([`frame_len`]), decode client requests ([`decode_request`]) and encode server
//! responses ([`LdapResponse::to_ber`], [`encode_response`]).
//!
//! Bytes are read with a strict BER reader into ldap3_lber's tree. Filters, compare assertions,
//! bind credentials (including Microsoft's Sicily NTLM choices) and controls are decoded here with
//! binary-safe values; Modify and Add are handed to ldap3_proto, whose attribute values are
//! already raw octets. Responses are encoded here so that any result code and a binary matchedDN
//! (the Sicily NTLM challenge) can be sent.

pub(crate) mod ber;
mod request;
mod response;

pub use request::{decode_request, BindAuth, BindRequest, LdapRequest, RequestOp, SearchRequest};
pub use response::{
    encode_response, result_code, LdapResponse, LdapResult, ResponseOp, NOTICE_OF_DISCONNECTION_OID,
};

use ber::{ident, Malformed};

/// A PDU that is not acceptable. `reason` is short and safe to log (it never quotes values).
///
/// `msgid` and `op_tag` (the protocolOp's APPLICATION tag number) are filled in when they could
/// be read, so a server may answer that operation with protocolError instead of only
/// disconnecting (RFC 4511 §4.1.1 leaves the choice to it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed LDAP message: {reason}")]
pub struct CodecError {
    pub reason: String,
    pub msgid: Option<i32>,
    pub op_tag: Option<u8>,
}

impl CodecError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        CodecError {
            reason: reason.into(),
            msgid: None,
            op_tag: None,
        }
    }
}

impl From<Malformed> for CodecError {
    fn from(m: Malformed) -> Self {
        CodecError::new(m.0)
    }
}

/// A control as sent on the wire (RFC 4511 §4.1.11), kept raw: the server needs every control,
/// known or not, to answer unavailableCriticalExtension (12) to an unknown critical one.
/// `crate::ldap::controls` gives the typed values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Control {
    pub oid: String,
    pub critical: bool,
    pub value: Option<Vec<u8>>,
}

impl Control {
    /// Control ::= SEQUENCE { controlType LDAPOID, criticality BOOLEAN DEFAULT FALSE,
    /// controlValue OCTET STRING OPTIONAL }; a FALSE criticality is left out.
    pub(crate) fn to_ber(&self) -> Vec<u8> {
        let mut parts = vec![ber::tlv(ident::OCTET_STRING, self.oid.as_bytes())];
        if self.critical {
            parts.push(ber::boolean_tlv(ident::BOOLEAN, true));
        }
        if let Some(value) = &self.value {
            parts.push(ber::tlv(ident::OCTET_STRING, value));
        }
        ber::tlv_parts(ident::SEQUENCE, &parts)
    }
}

/// Given the bytes received so far, the total length of the first LDAPMessage if all of it is
/// there, `None` if more bytes are needed.
///
/// Errors (the connection should be closed): a first octet other than SEQUENCE (0x30), an
/// indefinite length (RFC 4511 §5.1), a length of more than 4 octets, or a PDU longer than
/// `max_pdu` — the last is reported as soon as the header is readable, before any body is
/// buffered.
pub fn frame_len(buf: &[u8], max_pdu: usize) -> Result<Option<usize>, CodecError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if first != ident::SEQUENCE {
        return Err(CodecError::new(format!(
            "LDAPMessage must start with a SEQUENCE tag (0x30), got 0x{first:02x}"
        )));
    }
    let Some((_, content_len, header_len)) = ber::read_header(buf)? else {
        return Ok(None);
    };
    let total = header_len.saturating_add(content_len);
    if total > max_pdu {
        return Err(CodecError::new(format!(
            "PDU of {total} bytes exceeds the limit of {max_pdu}"
        )));
    }
    Ok((buf.len() >= total).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_len_waits_for_header_and_body() {
        let pdu = [0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00];
        assert_eq!(frame_len(&[], 100), Ok(None));
        assert_eq!(frame_len(&pdu[..1], 100), Ok(None));
        assert_eq!(frame_len(&pdu[..6], 100), Ok(None));
        assert_eq!(frame_len(&pdu, 100), Ok(Some(7)));
        let mut two = pdu.to_vec();
        two.extend_from_slice(&pdu);
        assert_eq!(frame_len(&two, 100), Ok(Some(7)));
    }

    #[test]
    fn frame_len_long_form() {
        assert_eq!(frame_len(&[0x30, 0x82, 0x01], 1000), Ok(None));
        assert_eq!(frame_len(&[0x30, 0x82, 0x01, 0x00], 1000), Ok(None));
        let mut pdu = vec![0x30, 0x82, 0x01, 0x00];
        pdu.resize(4 + 256, 0);
        assert_eq!(frame_len(&pdu, 1000), Ok(Some(260)));
        assert_eq!(frame_len(&[0x30, 0x81, 0x05, 1, 2, 3, 4, 5], 1000), Ok(Some(8)));
    }

    #[test]
    fn frame_len_refuses_bad_headers_early() {
        assert!(frame_len(&[0x31], 100).is_err());
        assert!(frame_len(&[0x60, 0x00], 100).is_err());
        assert!(frame_len(&[0x30, 0x80], 100).is_err());
        assert!(frame_len(&[0x30, 0x85], 100).is_err());
        assert!(frame_len(&[0x30, 0xff], 100).is_err());
        // 0x30 0x84 + 4-byte length of 4 GiB - 1: refused from the 6-byte header alone.
        let err = frame_len(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], 1 << 20).unwrap_err();
        assert!(err.reason.contains("exceeds"), "{err}");
        // Exactly at the limit is fine, one over is not.
        assert_eq!(frame_len(&[0x30, 0x03, 0, 0, 0], 5), Ok(Some(5)));
        assert!(frame_len(&[0x30, 0x04], 5).is_err());
    }
}
