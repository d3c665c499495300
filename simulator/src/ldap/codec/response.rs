//! Encoding of server responses (RFC 4511 §4.1.9 and §4.2–§4.13), definite lengths only.

use super::ber::{self, ident};
use super::Control;

/// RFC 4511 §4.4.1: responseName of the unsolicited Notice of Disconnection.
pub const NOTICE_OF_DISCONNECTION_OID: &str = "1.3.6.1.4.1.1466.20036";

/// RFC 4511 §4.1.9 resultCode values, shared with the directory's errors.
pub use crate::dsa::error::code as result_code;

/// RFC 4511 §4.1.9 LDAPResult. `matched_dn` is raw octets because Sicily NTLM (MS-ADTS
/// 5.1.1.1.3, docs/notes/client-interop.md §7b) carries the "NTLM" package list and the binary
/// CHALLENGE_MESSAGE in that field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapResult {
    pub code: u32,
    pub matched_dn: Vec<u8>,
    pub diagnostic: String,
    pub referrals: Vec<String>,
}

impl LdapResult {
    pub fn success() -> Self {
        Self::new(result_code::SUCCESS, "")
    }

    pub fn new(code: u32, diagnostic: impl Into<String>) -> Self {
        LdapResult {
            code,
            matched_dn: Vec::new(),
            diagnostic: diagnostic.into(),
            referrals: Vec::new(),
        }
    }

    pub fn with_matched_dn(mut self, matched_dn: impl Into<Vec<u8>>) -> Self {
        self.matched_dn = matched_dn.into();
        self
    }

    /// resultCode ENUMERATED, matchedDN LDAPDN, diagnosticMessage LDAPString,
    /// referral [3] Referral OPTIONAL (left out when empty; RFC 4511 §4.1.10 wants ≥ 1 URI).
    fn components(&self) -> Vec<Vec<u8>> {
        let mut parts = vec![
            ber::integer_tlv(ident::ENUMERATED, i64::from(self.code)),
            ber::tlv(ident::OCTET_STRING, &self.matched_dn),
            ber::tlv(ident::OCTET_STRING, self.diagnostic.as_bytes()),
        ];
        if !self.referrals.is_empty() {
            parts.push(uri_list(ident::context_constructed(3), &self.referrals));
        }
        parts
    }
}

/// The response operations a server sends (RFC 4511 §4.1.1 `protocolOp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseOp {
    BindResponse {
        result: LdapResult,
        server_sasl_creds: Option<Vec<u8>>,
    },
    SearchResultEntry {
        dn: String,
        attrs: Vec<(String, Vec<Vec<u8>>)>,
    },
    SearchResultReference(Vec<String>),
    SearchResultDone(LdapResult),
    ModifyResponse(LdapResult),
    AddResponse(LdapResult),
    DelResponse(LdapResult),
    ModDnResponse(LdapResult),
    CompareResponse(LdapResult),
    ExtendedResponse {
        result: LdapResult,
        name: Option<String>,
        value: Option<Vec<u8>>,
    },
    IntermediateResponse {
        name: Option<String>,
        value: Option<Vec<u8>>,
    },
    /// RFC 4511 §4.4.1: an ExtendedResponse with responseName 1.3.6.1.4.1.1466.20036, always
    /// sent with messageID 0 whatever `msgid` is given to [`encode_response`] or [`LdapResponse`].
    NoticeOfDisconnection(LdapResult),
}

fn uri_list(id: u8, uris: &[String]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = uris
        .iter()
        .map(|u| ber::tlv(ident::OCTET_STRING, u.as_bytes()))
        .collect();
    ber::tlv_parts(id, &parts)
}

fn result_op(app: u8, result: &LdapResult) -> Vec<u8> {
    ber::tlv_parts(ident::application_constructed(app), &result.components())
}

fn extended_op(result: &LdapResult, name: Option<&str>, value: Option<&[u8]>) -> Vec<u8> {
    // ExtendedResponse ::= [APPLICATION 24] SEQUENCE { COMPONENTS OF LDAPResult,
    //     responseName [10] LDAPOID OPTIONAL, responseValue [11] OCTET STRING OPTIONAL }
    let mut parts = result.components();
    if let Some(name) = name {
        parts.push(ber::tlv(ident::context(10), name.as_bytes()));
    }
    if let Some(value) = value {
        parts.push(ber::tlv(ident::context(11), value));
    }
    ber::tlv_parts(ident::application_constructed(24), &parts)
}

fn encode_op(op: &ResponseOp) -> Vec<u8> {
    match op {
        ResponseOp::BindResponse {
            result,
            server_sasl_creds,
        } => {
            // BindResponse ::= [APPLICATION 1] SEQUENCE { COMPONENTS OF LDAPResult,
            //     serverSaslCreds [7] OCTET STRING OPTIONAL }
            let mut parts = result.components();
            if let Some(creds) = server_sasl_creds {
                parts.push(ber::tlv(ident::context(7), creds));
            }
            ber::tlv_parts(ident::application_constructed(1), &parts)
        }
        ResponseOp::SearchResultEntry { dn, attrs } => {
            // SearchResultEntry ::= [APPLICATION 4] SEQUENCE { objectName LDAPDN,
            //     attributes PartialAttributeList }
            // PartialAttribute ::= SEQUENCE { type AttributeDescription, vals SET OF value }
            let attributes: Vec<Vec<u8>> = attrs
                .iter()
                .map(|(name, values)| {
                    let values: Vec<Vec<u8>> =
                        values.iter().map(|v| ber::tlv(ident::OCTET_STRING, v)).collect();
                    ber::tlv_parts(
                        ident::SEQUENCE,
                        &[
                            ber::tlv(ident::OCTET_STRING, name.as_bytes()),
                            ber::tlv_parts(ident::SET, &values),
                        ],
                    )
                })
                .collect();
            ber::tlv_parts(
                ident::application_constructed(4),
                &[
                    ber::tlv(ident::OCTET_STRING, dn.as_bytes()),
                    ber::tlv_parts(ident::SEQUENCE, &attributes),
                ],
            )
        }
        // SearchResultReference ::= [APPLICATION 19] SEQUENCE SIZE (1..MAX) OF uri URI
        ResponseOp::SearchResultReference(uris) => uri_list(ident::application_constructed(19), uris),
        ResponseOp::SearchResultDone(r) => result_op(5, r),
        ResponseOp::ModifyResponse(r) => result_op(7, r),
        ResponseOp::AddResponse(r) => result_op(9, r),
        ResponseOp::DelResponse(r) => result_op(11, r),
        ResponseOp::ModDnResponse(r) => result_op(13, r),
        ResponseOp::CompareResponse(r) => result_op(15, r),
        ResponseOp::ExtendedResponse { result, name, value } => {
            extended_op(result, name.as_deref(), value.as_deref())
        }
        ResponseOp::IntermediateResponse { name, value } => {
            // IntermediateResponse ::= [APPLICATION 25] SEQUENCE {
            //     responseName [0] LDAPOID OPTIONAL, responseValue [1] OCTET STRING OPTIONAL }
            let mut parts = Vec::new();
            if let Some(name) = name {
                parts.push(ber::tlv(ident::context(0), name.as_bytes()));
            }
            if let Some(value) = value {
                parts.push(ber::tlv(ident::context(1), value));
            }
            ber::tlv_parts(ident::application_constructed(25), &parts)
        }
        ResponseOp::NoticeOfDisconnection(result) => {
            extended_op(result, Some(NOTICE_OF_DISCONNECTION_OID), None)
        }
    }
}

/// One response LDAPMessage (RFC 4511 §4.2.1): what the session answers, encoded only at the
/// connection's edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapResponse {
    pub msgid: i32,
    pub op: ResponseOp,
    /// Response controls, sent in `[0] Controls` when not empty.
    pub controls: Vec<Control>,
}

impl LdapResponse {
    pub fn new(msgid: i32, op: ResponseOp) -> Self {
        LdapResponse {
            msgid,
            op,
            controls: Vec::new(),
        }
    }

    pub fn with_controls(mut self, controls: Vec<Control>) -> Self {
        self.controls = controls;
        self
    }

    /// The LDAPResult this response carries (none for entries, references and intermediate
    /// responses).
    pub fn result(&self) -> Option<&LdapResult> {
        match &self.op {
            ResponseOp::BindResponse { result, .. } | ResponseOp::ExtendedResponse { result, .. } => {
                Some(result)
            }
            ResponseOp::SearchResultDone(r)
            | ResponseOp::ModifyResponse(r)
            | ResponseOp::AddResponse(r)
            | ResponseOp::DelResponse(r)
            | ResponseOp::ModDnResponse(r)
            | ResponseOp::CompareResponse(r)
            | ResponseOp::NoticeOfDisconnection(r) => Some(r),
            ResponseOp::SearchResultEntry { .. }
            | ResponseOp::SearchResultReference(_)
            | ResponseOp::IntermediateResponse { .. } => None,
        }
    }

    /// The LDAPMessage in BER.
    pub fn to_ber(&self) -> Vec<u8> {
        encode_message(self.msgid, &self.op, &self.controls)
    }
}

/// Encodes one LDAPMessage carrying a response; `controls` go in `[0] Controls` when not empty.
pub fn encode_response(msgid: i32, op: ResponseOp, controls: &[Control]) -> Vec<u8> {
    encode_message(msgid, &op, controls)
}

fn encode_message(msgid: i32, op: &ResponseOp, controls: &[Control]) -> Vec<u8> {
    // RFC 4511 §4.4: unsolicited notifications use messageID 0.
    let msgid = if matches!(op, ResponseOp::NoticeOfDisconnection(_)) {
        0
    } else {
        msgid
    };
    let mut parts = vec![ber::integer_tlv(ident::INTEGER, i64::from(msgid)), encode_op(op)];
    if !controls.is_empty() {
        let list: Vec<Vec<u8>> = controls.iter().map(Control::to_ber).collect();
        parts.push(ber::tlv_parts(ident::context_constructed(0), &list));
    }
    ber::tlv_parts(ident::SEQUENCE, &parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identifier octet of a response PDU's protocolOp.
    fn first_op_tag(pdu: &[u8]) -> Option<u8> {
        let (_, len, header) = ber::read_header(pdu).ok()??;
        let body = pdu.get(header..header + len)?;
        let (_, id_len, id_header) = ber::read_header(body).ok()??;
        body.get(id_header + id_len).copied()
    }

    #[test]
    fn entries_and_done_have_their_application_tags() {
        let pdu = LdapResponse::new(
            7,
            ResponseOp::SearchResultDone(LdapResult::new(1, "0000202D: SvcErr: DSID, problem 5012")),
        )
        .to_ber();
        let entry = LdapResponse::new(
            7,
            ResponseOp::SearchResultEntry {
                dn: "CN=x".into(),
                attrs: vec![],
            },
        )
        .to_ber();
        assert_eq!(first_op_tag(&entry), Some(0x64));
        assert_eq!(first_op_tag(&pdu), Some(0x65));
    }

    #[test]
    fn typed_responses_encode_as_encode_response_does() {
        let ctrl = Control {
            oid: "1.2.840.113556.1.4.319".into(),
            critical: false,
            value: Some(vec![0x30, 0x00]),
        };
        let done = LdapResponse::new(4, ResponseOp::SearchResultDone(LdapResult::success()))
            .with_controls(vec![ctrl.clone()]);
        assert_eq!(
            done.to_ber(),
            encode_response(4, done.op.clone(), std::slice::from_ref(&ctrl))
        );
        assert_eq!(done.result(), Some(&LdapResult::success()));
        let notice = LdapResponse::new(4, ResponseOp::NoticeOfDisconnection(LdapResult::new(2, "x")));
        // msgid 0 whatever was given (RFC 4511 §4.4).
        assert_eq!(&notice.to_ber()[2..5], &[0x02, 0x01, 0x00]);
        let reference = LdapResponse::new(4, ResponseOp::SearchResultReference(vec!["ldap://x/".into()]));
        assert_eq!(reference.result(), None);
    }
}
