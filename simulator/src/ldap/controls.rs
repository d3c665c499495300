//! Typed values of the LDAP controls adsim understands: decoding of request control values and
//! encoding of response control values. Sources: MS-ADTS 3.1.1.3.4.1 (AD controls), RFC 2696
//! (paged results), RFC 2891 (server-side sort), RFC 3296 (manageDsaIT).
//!
//! A control whose value is malformed gives a [`ControlError`]; the server answers protocolError
//! (2) for it. An OID not known here decodes to `Ok(None)`: the server answers
//! unavailableCriticalExtension (12) if it is critical and ignores it otherwise (RFC 4511 §4.1.11).

use crate::ldap::codec::ber::{self, ident, malformed, BerResult, Fields};
use crate::ldap::codec::Control;

/// Control OIDs (MS-ADTS 3.1.1.3.4.1 table; RFC 2696; RFC 2891; RFC 3296).
pub mod oid {
    pub const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
    pub const SHOW_DELETED: &str = "1.2.840.113556.1.4.417";
    pub const SERVER_SORT_REQUEST: &str = "1.2.840.113556.1.4.473";
    pub const SERVER_SORT_RESPONSE: &str = "1.2.840.113556.1.4.474";
    pub const EXTENDED_DN: &str = "1.2.840.113556.1.4.529";
    pub const LAZY_COMMIT: &str = "1.2.840.113556.1.4.619";
    pub const SD_FLAGS: &str = "1.2.840.113556.1.4.801";
    pub const TREE_DELETE: &str = "1.2.840.113556.1.4.805";
    pub const DOMAIN_SCOPE: &str = "1.2.840.113556.1.4.1339";
    pub const SEARCH_OPTIONS: &str = "1.2.840.113556.1.4.1340";
    pub const PERMISSIVE_MODIFY: &str = "1.2.840.113556.1.4.1413";
    pub const SHOW_DEACTIVATED_LINK: &str = "1.2.840.113556.1.4.2065";
    pub const MANAGE_DSA_IT: &str = "2.16.840.1.113730.3.4.2";
}

/// The `supportedControl` values of the rootDSE: the AD controls adsim implements, in the order
/// a Windows DC lists them. ManageDsaIT is understood but, like AD, not advertised.
pub const SUPPORTED_CONTROLS: &[&str] = &[
    oid::PAGED_RESULTS,
    oid::SD_FLAGS,
    oid::SERVER_SORT_REQUEST,
    oid::SHOW_DELETED,
    oid::LAZY_COMMIT,
    oid::EXTENDED_DN,
    oid::TREE_DELETE,
    oid::SERVER_SORT_RESPONSE,
    oid::DOMAIN_SCOPE,
    oid::SEARCH_OPTIONS,
    oid::PERMISSIVE_MODIFY,
    oid::SHOW_DEACTIVATED_LINK,
];

/// SD flags bits (MS-ADTS 3.1.1.3.4.1.11): which parts of nTSecurityDescriptor to read/write.
pub use crate::dsa::access::sd_flags;

/// Search options bits (MS-ADTS 3.1.1.3.4.1.12).
pub mod search_options {
    pub const DOMAIN_SCOPE: u32 = 0x1;
    pub const PHANTOM_ROOT: u32 = 0x2;
}

/// RFC 2891 §1.2 sortResult values.
pub mod sort_result {
    pub const SUCCESS: u32 = 0;
    pub const OPERATIONS_ERROR: u32 = 1;
    pub const TIME_LIMIT_EXCEEDED: u32 = 3;
    pub const STRONG_AUTH_REQUIRED: u32 = 8;
    pub const ADMIN_LIMIT_EXCEEDED: u32 = 11;
    pub const NO_SUCH_ATTRIBUTE: u32 = 16;
    pub const INAPPROPRIATE_MATCHING: u32 = 18;
    pub const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
    pub const BUSY: u32 = 51;
    pub const UNWILLING_TO_PERFORM: u32 = 53;
    pub const OTHER: u32 = 80;
}

/// The value of a request control was not what its definition says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed value of control {oid}: {reason}")]
pub struct ControlError {
    pub oid: String,
    pub reason: String,
}

/// RFC 2891 §1.1 SortKey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub attr: String,
    pub ordering_rule: Option<String>,
    pub reverse: bool,
}

/// A request control with its value decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestControl {
    /// RFC 2696: page `size` and the `cookie` of the previous page (empty on the first).
    PagedResults {
        size: i32,
        cookie: Vec<u8>,
    },
    /// MS-ADTS 3.1.1.3.4.1.11: `SEQUENCE { Flags INTEGER }`, see [`sd_flags`].
    SdFlags {
        flags: u32,
    },
    /// MS-ADTS 3.1.1.3.4.1.12: `SEQUENCE { Flags INTEGER }`, see [`search_options`].
    SearchOptions {
        flags: u32,
    },
    ShowDeleted,
    ShowDeactivatedLink,
    /// RFC 2891 §1.1 SortKeyList.
    ServerSort(Vec<SortKey>),
    DomainScope,
    ManageDsaIt,
    PermissiveModify,
    TreeDelete,
    LazyCommit,
    /// MS-ADTS 3.1.1.3.4.1.5: optional `SEQUENCE { ValueFlag INTEGER }`; 0 (hexadecimal GUID and
    /// SID, the default when the value is absent) or 1 (string forms).
    ExtendedDn {
        value_flag: i64,
    },
}

impl RequestControl {
    /// Decodes the value of `control`; `Ok(None)` when its OID is not one of [`oid`].
    pub fn decode(control: &Control) -> Result<Option<RequestControl>, ControlError> {
        let value = control.value.as_deref();
        let decoded = match control.oid.as_str() {
            oid::PAGED_RESULTS => required(value).and_then(paged_results),
            oid::SD_FLAGS => required(value)
                .and_then(flags_sequence)
                .map(|flags| RequestControl::SdFlags { flags }),
            oid::SEARCH_OPTIONS => required(value)
                .and_then(flags_sequence)
                .map(|flags| RequestControl::SearchOptions { flags }),
            oid::SERVER_SORT_REQUEST => required(value)
                .and_then(sort_keys)
                .map(RequestControl::ServerSort),
            // MS-ADTS: an empty value is treated like an absent one.
            oid::EXTENDED_DN => match value {
                None | Some([]) => Ok(RequestControl::ExtendedDn { value_flag: 0 }),
                Some(bytes) => extended_dn(bytes),
            },
            // These carry no value (MS-ADTS: "the controlValue field … is omitted"); a value
            // sent anyway is ignored, as a DC does.
            oid::SHOW_DELETED => Ok(RequestControl::ShowDeleted),
            oid::SHOW_DEACTIVATED_LINK => Ok(RequestControl::ShowDeactivatedLink),
            oid::DOMAIN_SCOPE => Ok(RequestControl::DomainScope),
            oid::MANAGE_DSA_IT => Ok(RequestControl::ManageDsaIt),
            oid::PERMISSIVE_MODIFY => Ok(RequestControl::PermissiveModify),
            oid::TREE_DELETE => Ok(RequestControl::TreeDelete),
            oid::LAZY_COMMIT => Ok(RequestControl::LazyCommit),
            _ => return Ok(None),
        };
        decoded.map(Some).map_err(|m| ControlError {
            oid: control.oid.clone(),
            reason: m.0,
        })
    }
}

fn required(value: Option<&[u8]>) -> BerResult<&[u8]> {
    value.map_or_else(|| malformed("the control needs a value"), Ok)
}

/// realSearchControlValue ::= SEQUENCE { size INTEGER (0..maxInt), cookie OCTET STRING }
fn paged_results(value: &[u8]) -> BerResult<RequestControl> {
    let mut fields = sequence(value, "paged results value")?;
    let size = ber::int_0_max(&fields.primitive(ident::INTEGER, "size")?, "size")?;
    let cookie = fields.octets("cookie")?;
    fields.finish()?;
    Ok(RequestControl::PagedResults { size, cookie })
}

/// `SEQUENCE { Flags INTEGER }` with a 32-bit flag set; a sender may encode a set high bit as
/// a negative number.
fn flags_sequence(value: &[u8]) -> BerResult<u32> {
    let mut fields = sequence(value, "flags value")?;
    let flags = ber::integer(&fields.primitive(ident::INTEGER, "Flags")?, "Flags")?;
    fields.finish()?;
    u32::try_from(flags)
        .or_else(|_| i32::try_from(flags).map(|f| f as u32))
        .or_else(|_| malformed("Flags does not fit in 32 bits"))
}

/// SortKeyList ::= SEQUENCE OF SEQUENCE { attributeType AttributeDescription,
///     orderingRule [0] MatchingRuleId OPTIONAL, reverseOrder [1] BOOLEAN DEFAULT FALSE }
fn sort_keys(value: &[u8]) -> BerResult<Vec<SortKey>> {
    let list = ber::constructed(ber::parse_exactly_one(value)?, ident::SEQUENCE, "SortKeyList")?;
    if list.is_empty() {
        return malformed("SortKeyList is empty");
    }
    list.into_iter()
        .map(|key| {
            let mut fields = Fields::new(ber::constructed(key, ident::SEQUENCE, "SortKey")?, "SortKey");
            let attr = fields.string("attributeType")?;
            let ordering_rule = fields
                .next_if(ident::context(0))
                .map(|t| {
                    ber::utf8(
                        ber::primitive(t, ident::context(0), "orderingRule")?,
                        "orderingRule",
                    )
                })
                .transpose()?;
            let reverse = match fields.next_if(ident::context(1)) {
                Some(t) => ber::boolean(
                    &ber::primitive(t, ident::context(1), "reverseOrder")?,
                    "reverseOrder",
                )?,
                None => false,
            };
            fields.finish()?;
            Ok(SortKey {
                attr,
                ordering_rule,
                reverse,
            })
        })
        .collect()
}

/// ExtendedDNRequestValue ::= SEQUENCE { ValueFlag INTEGER }
fn extended_dn(value: &[u8]) -> BerResult<RequestControl> {
    let mut fields = sequence(value, "extended DN value")?;
    let value_flag = ber::integer(&fields.primitive(ident::INTEGER, "ValueFlag")?, "ValueFlag")?;
    fields.finish()?;
    Ok(RequestControl::ExtendedDn { value_flag })
}

fn sequence(value: &[u8], what: &'static str) -> BerResult<Fields> {
    let children = ber::constructed(ber::parse_exactly_one(value)?, ident::SEQUENCE, what)?;
    Ok(Fields::new(children, what))
}

/// A response control the server attaches to a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseControl {
    /// RFC 2696: `size` is the server's estimate of the total (0 if unknown); an empty
    /// `cookie` ends the paged search.
    PagedResults { size: i32, cookie: Vec<u8> },
    /// RFC 2891 §1.2 SortResult ::= SEQUENCE { sortResult ENUMERATED,
    /// attributeType [0] AttributeDescription OPTIONAL }; see [`sort_result`].
    SortResult { result: u32, attr: Option<String> },
}

impl ResponseControl {
    /// The control as sent; response controls are not critical.
    pub fn to_control(&self) -> Control {
        let (oid, value) = match self {
            ResponseControl::PagedResults { size, cookie } => (
                oid::PAGED_RESULTS,
                ber::tlv_parts(
                    ident::SEQUENCE,
                    &[
                        ber::integer_tlv(ident::INTEGER, i64::from(*size)),
                        ber::tlv(ident::OCTET_STRING, cookie),
                    ],
                ),
            ),
            ResponseControl::SortResult { result, attr } => {
                let mut parts = vec![ber::integer_tlv(ident::ENUMERATED, i64::from(*result))];
                if let Some(attr) = attr {
                    parts.push(ber::tlv(ident::context(0), attr.as_bytes()));
                }
                (oid::SERVER_SORT_RESPONSE, ber::tlv_parts(ident::SEQUENCE, &parts))
            }
        };
        Control {
            oid: oid.to_string(),
            critical: false,
            value: Some(value),
        }
    }
}
