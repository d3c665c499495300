//! Decoding of client requests (RFC 4511 §4.1.1 LDAPMessage and §4.2–§4.12 operations).

use super::ber::{self, ident, malformed, BerResult, Fields};
use super::{CodecError, Control};
use crate::ldap::filter::Filter;
use ldap3_lber::common::TagClass;
use ldap3_lber::structure::{StructureTag, PL};
use ldap3_proto::proto::{
    LdapAddRequest, LdapDerefAliases, LdapModifyDNRequest, LdapModifyRequest, LdapSearchScope,
};
use std::fmt;

/// One decoded LDAPMessage from a client.
#[derive(Debug, Clone, PartialEq)]
pub struct LdapRequest {
    pub msgid: i32,
    pub op: RequestOp,
    pub controls: Vec<Control>,
}

/// The request operations of RFC 4511 §4.1.1 `protocolOp`.
#[derive(Clone, PartialEq)]
pub enum RequestOp {
    Bind(BindRequest),
    Unbind,
    Search(SearchRequest),
    /// Attribute values are raw octets (ldap3_proto keeps them as `Vec<u8>`).
    Modify(LdapModifyRequest),
    Add(LdapAddRequest),
    Delete(String),
    ModifyDn(LdapModifyDNRequest),
    Compare {
        dn: String,
        attr: String,
        value: Vec<u8>,
    },
    Abandon(i32),
    Extended {
        oid: String,
        value: Option<Vec<u8>>,
    },
}

/// RFC 4511 §4.2 BindRequest. `version` is passed through: answering a version other than 3
/// with protocolError is the server's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindRequest {
    pub version: i64,
    pub name: String,
    pub auth: BindAuth,
}

/// RFC 4511 §4.2 AuthenticationChoice, plus Microsoft's Sicily choices (MS-ADTS 5.1.1.1.3,
/// docs/notes/client-interop.md §7b).
#[derive(Clone, PartialEq, Eq)]
pub enum BindAuth {
    /// `simple [0]`: the password octets as sent (AD expects UTF-8; the server decides).
    Simple(Vec<u8>),
    /// `sasl [3]`: credentials are OPTIONAL (absent ≠ empty).
    Sasl {
        mechanism: String,
        credentials: Option<Vec<u8>>,
    },
    /// `sicilyPackageDiscovery [9]`.
    SicilyDiscovery,
    /// `sicilyNegotiate [10]`: an NTLM NEGOTIATE_MESSAGE.
    SicilyNegotiate(Vec<u8>),
    /// `sicilyResponse [11]`: an NTLM AUTHENTICATE_MESSAGE.
    SicilyResponse(Vec<u8>),
    /// Any other context tag (the number is kept); RFC 4511 §4.2.2 wants authMethodNotSupported.
    Unsupported(u8),
}

/// RFC 4511 §4.5.1 SearchRequest with a binary-safe filter.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub base: String,
    pub scope: LdapSearchScope,
    pub deref: LdapDerefAliases,
    pub size_limit: i32,
    pub time_limit: i32,
    pub types_only: bool,
    pub filter: Filter,
    pub attrs: Vec<String>,
}

// Credentials and attribute values (unicodePwd, userPassword, NTLM messages) never reach logs.
impl fmt::Debug for BindAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindAuth::Simple(pw) => write!(f, "Simple(<{} bytes>)", pw.len()),
            BindAuth::Sasl {
                mechanism,
                credentials,
            } => write!(
                f,
                "Sasl {{ mechanism: {mechanism:?}, credentials: {:?} }}",
                credentials.as_ref().map(|c| format!("<{} bytes>", c.len()))
            ),
            BindAuth::SicilyDiscovery => f.write_str("SicilyDiscovery"),
            BindAuth::SicilyNegotiate(m) => write!(f, "SicilyNegotiate(<{} bytes>)", m.len()),
            BindAuth::SicilyResponse(m) => write!(f, "SicilyResponse(<{} bytes>)", m.len()),
            BindAuth::Unsupported(tag) => write!(f, "Unsupported([{tag}])"),
        }
    }
}

impl fmt::Debug for RequestOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestOp::Bind(b) => f.debug_tuple("Bind").field(b).finish(),
            RequestOp::Unbind => f.write_str("Unbind"),
            RequestOp::Search(s) => f.debug_tuple("Search").field(s).finish(),
            RequestOp::Modify(m) => {
                let changes: Vec<String> = m
                    .changes
                    .iter()
                    .map(|c| {
                        let (op, a) = (&c.operation, &c.modification);
                        format!("{op:?} {} (<{} values>)", a.atype, a.vals.len())
                    })
                    .collect();
                f.debug_struct("Modify")
                    .field("dn", &m.dn)
                    .field("changes", &changes)
                    .finish()
            }
            RequestOp::Add(a) => {
                let attrs: Vec<String> = a
                    .attributes
                    .iter()
                    .map(|a| format!("{} (<{} values>)", a.atype, a.vals.len()))
                    .collect();
                f.debug_struct("Add")
                    .field("dn", &a.dn)
                    .field("attributes", &attrs)
                    .finish()
            }
            RequestOp::Delete(dn) => f.debug_tuple("Delete").field(dn).finish(),
            RequestOp::ModifyDn(m) => f.debug_tuple("ModifyDn").field(m).finish(),
            RequestOp::Compare { dn, attr, value } => write!(
                f,
                "Compare {{ dn: {dn:?}, attr: {attr:?}, value: <{} bytes> }}",
                value.len()
            ),
            RequestOp::Abandon(id) => write!(f, "Abandon({id})"),
            RequestOp::Extended { oid, value } => write!(
                f,
                "Extended {{ oid: {oid:?}, value: {:?} }}",
                value.as_ref().map(|v| format!("<{} bytes>", v.len()))
            ),
        }
    }
}

/// Decodes one complete LDAPMessage (as delimited by [`super::frame_len`]) sent by a client.
///
/// ```text
/// LDAPMessage ::= SEQUENCE { messageID MessageID, protocolOp CHOICE {…},
///                            controls [0] Controls OPTIONAL }
/// ```
pub fn decode_request(pdu: &[u8]) -> Result<LdapRequest, CodecError> {
    let root = ber::parse_exactly_one(pdu)?;
    let children = ber::constructed(root, ident::SEQUENCE, "LDAPMessage")?;
    let mut fields = Fields::new(children, "LDAPMessage");
    let msgid = ber::int_0_max(&fields.primitive(ident::INTEGER, "messageID")?, "messageID")?;
    let attach = |m: ber::Malformed, op_tag: Option<u8>| CodecError {
        reason: m.0,
        msgid: Some(msgid),
        op_tag,
    };
    let op = fields.next("protocolOp").map_err(|m| attach(m, None))?;
    let op_tag = (op.class == TagClass::Application).then_some(op.id as u8);
    let controls = fields
        .next_if(ident::context_constructed(0))
        .map(decode_controls)
        .transpose()
        .and_then(|c| fields.finish().map(|()| c.unwrap_or_default()))
        .map_err(|m| attach(m, op_tag))?;
    let op = decode_op(op).map_err(|m| attach(m, op_tag))?;
    Ok(LdapRequest { msgid, op, controls })
}

fn decode_op(tag: StructureTag) -> BerResult<RequestOp> {
    if tag.class != TagClass::Application {
        return malformed("protocolOp must be APPLICATION-tagged");
    }
    match (tag.id, tag.payload) {
        (0, PL::C(children)) => bind(children).map(RequestOp::Bind),
        // UnbindRequest ::= [APPLICATION 2] NULL
        (2, PL::P(content)) if content.is_empty() => Ok(RequestOp::Unbind),
        (3, PL::C(children)) => search(children).map(RequestOp::Search),
        (6, PL::C(children)) => {
            with_ldap3_proto(children, 2, "modifyRequest", LdapModifyRequest::try_from).map(RequestOp::Modify)
        }
        (8, PL::C(children)) => {
            with_ldap3_proto(children, 2, "addRequest", LdapAddRequest::try_from).map(RequestOp::Add)
        }
        // DelRequest ::= [APPLICATION 10] LDAPDN
        (10, PL::P(content)) => ber::utf8(content, "delRequest").map(RequestOp::Delete),
        (12, PL::C(children)) => modify_dn(children).map(RequestOp::ModifyDn),
        (14, PL::C(children)) => compare(children),
        // AbandonRequest ::= [APPLICATION 16] MessageID
        (16, PL::P(content)) => ber::int_0_max(&content, "abandonRequest").map(RequestOp::Abandon),
        (23, PL::C(children)) => extended(children),
        (1 | 4 | 5 | 7 | 9 | 11 | 13 | 15 | 19 | 24 | 25, _) => {
            malformed("protocolOp is a response, not a request")
        }
        (0 | 2 | 3 | 6 | 8 | 10 | 12 | 14 | 16 | 23, _) => malformed("protocolOp has the wrong form"),
        (id, _) => malformed(format!("unknown protocolOp [APPLICATION {id}]")),
    }
}

/// Runs one of ldap3_proto's conversions over the operation's components, after checking
/// their count (ldap3_proto ignores extra components).
fn with_ldap3_proto<T, E: fmt::Display>(
    children: Vec<StructureTag>,
    count: usize,
    what: &str,
    convert: impl FnOnce(Vec<StructureTag>) -> Result<T, E>,
) -> BerResult<T> {
    if children.len() != count {
        return malformed(format!("{what}: expected {count} components"));
    }
    convert(children).or_else(|e| malformed(format!("{what}: {e}")))
}

/// BindRequest ::= [APPLICATION 0] SEQUENCE { version INTEGER (1..127), name LDAPDN,
/// authentication AuthenticationChoice }
fn bind(children: Vec<StructureTag>) -> BerResult<BindRequest> {
    let mut fields = Fields::new(children, "bindRequest");
    let version = ber::integer(
        &fields.primitive(ident::INTEGER, "version")?,
        "bindRequest version",
    )?;
    let name = fields.string("name")?;
    let auth = fields.next("authentication")?;
    fields.finish()?;
    if auth.class != TagClass::Context {
        return malformed("bindRequest authentication must be context-tagged");
    }
    let auth = match (auth.id, auth.payload) {
        (0, PL::P(password)) => BindAuth::Simple(password),
        (3, PL::C(sasl)) => {
            // SaslCredentials ::= SEQUENCE { mechanism LDAPString, credentials OCTET STRING OPTIONAL }
            let mut fields = Fields::new(sasl, "SaslCredentials");
            let mechanism = fields.string("mechanism")?;
            let credentials = fields
                .next_if(ident::OCTET_STRING)
                .map(|t| ber::primitive(t, ident::OCTET_STRING, "SaslCredentials credentials"))
                .transpose()?;
            fields.finish()?;
            BindAuth::Sasl {
                mechanism,
                credentials,
            }
        }
        (9, PL::P(_)) => BindAuth::SicilyDiscovery,
        (10, PL::P(negotiate)) => BindAuth::SicilyNegotiate(negotiate),
        (11, PL::P(authenticate)) => BindAuth::SicilyResponse(authenticate),
        (0 | 3 | 9 | 10 | 11, _) => return malformed("bindRequest authentication has the wrong form"),
        (id, _) => BindAuth::Unsupported(id as u8),
    };
    Ok(BindRequest { version, name, auth })
}

/// SearchRequest ::= [APPLICATION 3] SEQUENCE { baseObject LDAPDN, scope ENUMERATED,
/// derefAliases ENUMERATED, sizeLimit INTEGER (0..maxInt), timeLimit INTEGER (0..maxInt),
/// typesOnly BOOLEAN, filter Filter, attributes AttributeSelection }
fn search(children: Vec<StructureTag>) -> BerResult<SearchRequest> {
    let mut fields = Fields::new(children, "searchRequest");
    let base = fields.string("baseObject")?;
    let scope = ber::integer(
        &fields.primitive(ident::ENUMERATED, "scope")?,
        "searchRequest scope",
    )?;
    let scope = LdapSearchScope::try_from(scope).or_else(|_| malformed("searchRequest: unknown scope"))?;
    let deref = ber::integer(
        &fields.primitive(ident::ENUMERATED, "derefAliases")?,
        "derefAliases",
    )?;
    let deref =
        LdapDerefAliases::try_from(deref).or_else(|_| malformed("searchRequest: unknown derefAliases"))?;
    let size_limit = ber::int_0_max(&fields.primitive(ident::INTEGER, "sizeLimit")?, "sizeLimit")?;
    let time_limit = ber::int_0_max(&fields.primitive(ident::INTEGER, "timeLimit")?, "timeLimit")?;
    let types_only = ber::boolean(&fields.primitive(ident::BOOLEAN, "typesOnly")?, "typesOnly")?;
    let filter = Filter::from_tag(fields.next("filter")?, ber::MAX_DEPTH)?;
    let selectors = ber::constructed(fields.next("attributes")?, ident::SEQUENCE, "attributes")?;
    fields.finish()?;
    let attrs = selectors
        .into_iter()
        .map(|t| {
            ber::utf8(
                ber::primitive(t, ident::OCTET_STRING, "attribute selector")?,
                "attribute selector",
            )
        })
        .collect::<BerResult<Vec<String>>>()?;
    Ok(SearchRequest {
        base,
        scope,
        deref,
        size_limit,
        time_limit,
        types_only,
        filter,
        attrs,
    })
}

/// ModifyDNRequest ::= [APPLICATION 12] SEQUENCE { entry LDAPDN, newrdn RelativeLDAPDN,
/// deleteoldrdn BOOLEAN, newSuperior [0] LDAPDN OPTIONAL }. Decoded here because ldap3_proto
/// turns a newSuperior that is not UTF-8 into "no new superior".
fn modify_dn(children: Vec<StructureTag>) -> BerResult<LdapModifyDNRequest> {
    let mut fields = Fields::new(children, "modDNRequest");
    let dn = fields.string("entry")?;
    let newrdn = fields.string("newrdn")?;
    let deleteoldrdn = ber::boolean(&fields.primitive(ident::BOOLEAN, "deleteoldrdn")?, "deleteoldrdn")?;
    let new_superior = fields
        .next_if(ident::context(0))
        .map(|t| {
            ber::utf8(
                ber::primitive(t, ident::context(0), "newSuperior")?,
                "newSuperior",
            )
        })
        .transpose()?;
    fields.finish()?;
    Ok(LdapModifyDNRequest {
        dn,
        newrdn,
        deleteoldrdn,
        new_superior,
    })
}

/// CompareRequest ::= [APPLICATION 14] SEQUENCE { entry LDAPDN, ava AttributeValueAssertion }
fn compare(children: Vec<StructureTag>) -> BerResult<RequestOp> {
    let mut fields = Fields::new(children, "compareRequest");
    let dn = fields.string("entry")?;
    let ava = ber::constructed(fields.next("ava")?, ident::SEQUENCE, "compareRequest ava")?;
    fields.finish()?;
    let mut ava = Fields::new(ava, "compareRequest ava");
    let attr = ava.string("attributeDesc")?;
    let value = ava.octets("assertionValue")?;
    ava.finish()?;
    Ok(RequestOp::Compare { dn, attr, value })
}

/// ExtendedRequest ::= [APPLICATION 23] SEQUENCE { requestName [0] LDAPOID,
/// requestValue [1] OCTET STRING OPTIONAL }
fn extended(children: Vec<StructureTag>) -> BerResult<RequestOp> {
    let mut fields = Fields::new(children, "extendedReq");
    let oid = ber::utf8(fields.primitive(ident::context(0), "requestName")?, "requestName")?;
    let value = fields
        .next_if(ident::context(1))
        .map(|t| ber::primitive(t, ident::context(1), "requestValue"))
        .transpose()?;
    fields.finish()?;
    Ok(RequestOp::Extended { oid, value })
}

/// Controls ::= SEQUENCE OF control Control (RFC 4511 §4.1.11), kept raw.
fn decode_controls(tag: StructureTag) -> BerResult<Vec<Control>> {
    let PL::C(list) = tag.payload else {
        return malformed("controls must be constructed");
    };
    list.into_iter().map(decode_control).collect()
}

fn decode_control(tag: StructureTag) -> BerResult<Control> {
    let mut fields = Fields::new(ber::constructed(tag, ident::SEQUENCE, "control")?, "control");
    let oid = fields.string("controlType")?;
    if oid.is_empty() {
        return malformed("control: empty controlType");
    }
    let critical = match fields.next_if(ident::BOOLEAN) {
        Some(t) => ber::boolean(
            &ber::primitive(t, ident::BOOLEAN, "criticality")?,
            "control criticality",
        )?,
        None => false,
    };
    let value = fields
        .next_if(ident::OCTET_STRING)
        .map(|t| ber::primitive(t, ident::OCTET_STRING, "controlValue"))
        .transpose()?;
    fields.finish()?;
    Ok(Control { oid, critical, value })
}
