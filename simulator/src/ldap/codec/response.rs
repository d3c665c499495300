//! Encoding of server responses (RFC 4511 §4.1.9 and §4.2–§4.13), definite lengths only.

use super::ber::{self, ident};
use super::Control;

/// RFC 4511 §4.4.1: responseName of the unsolicited Notice of Disconnection.
pub const NOTICE_OF_DISCONNECTION_OID: &str = "1.3.6.1.4.1.1466.20036";

/// RFC 4511 §4.1.9 resultCode values, shared with the directory's errors.
pub use crate::dsa::error::code as result_code;

/// RFC 4511 §4.1.9 LDAPResult. `matched_dn` is raw octets because Sicily NTLM (MS-ADTS
/// 5.1.1.1.3, client-interop §7b) carries the "NTLM" package list and the binary
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
    /// sent with messageID 0 whatever `msgid` is given to [`encode_response`].
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

/// Encodes one LDAPMessage carrying a response; `controls` go in `[0] Controls` when not empty.
pub fn encode_response(msgid: i32, op: ResponseOp, controls: &[Control]) -> Vec<u8> {
    // RFC 4511 §4.4: unsolicited notifications use messageID 0.
    let msgid = if matches!(op, ResponseOp::NoticeOfDisconnection(_)) {
        0
    } else {
        msgid
    };
    let mut parts = vec![ber::integer_tlv(ident::INTEGER, i64::from(msgid)), encode_op(&op)];
    if !controls.is_empty() {
        let list: Vec<Vec<u8>> = controls.iter().map(Control::to_ber).collect();
        parts.push(ber::tlv_parts(ident::context_constructed(0), &list));
    }
    ber::tlv_parts(ident::SEQUENCE, &parts)
}
