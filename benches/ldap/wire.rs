//! The few LDAP PDUs the `ldap` and `gmsa` benchmarks send, encoded by hand (RFC 4511 §4, BER
//! per X.690 with definite lengths), and a reader for the responses they need: the message id,
//! the operation tag and, for a result, its code and diagnostic message.
//!
//! Kept minimal on purpose: the client shares two cores with the server it measures, so it does
//! as little work per request as it can.

use anyhow::{anyhow, bail, Result};

/// protocolOp tags (RFC 4511 Appendix B: [APPLICATION n], constructed unless noted).
pub mod op {
    pub const BIND_REQUEST: u8 = 0x60;
    pub const BIND_RESPONSE: u8 = 0x61;
    /// UnbindRequest ::= [APPLICATION 2] NULL, primitive.
    pub const UNBIND_REQUEST: u8 = 0x42;
    pub const SEARCH_REQUEST: u8 = 0x63;
    pub const SEARCH_RESULT_ENTRY: u8 = 0x64;
    pub const SEARCH_RESULT_DONE: u8 = 0x65;
    pub const SEARCH_RESULT_REFERENCE: u8 = 0x73;
    pub const ADD_REQUEST: u8 = 0x68;
    pub const ADD_RESPONSE: u8 = 0x69;
    pub const MODIFY_REQUEST: u8 = 0x66;
    pub const MODIFY_RESPONSE: u8 = 0x67;
}

const INTEGER: u8 = 0x02;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const ENUMERATED: u8 = 0x0a;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
/// AuthenticationChoice simple [0] OCTET STRING, primitive.
const AUTH_SIMPLE: u8 = 0x80;
/// Filter equalityMatch [3] AttributeValueAssertion, constructed.
const FILTER_EQUALITY: u8 = 0xa3;
/// Filter present [7] AttributeDescription, primitive.
const FILTER_PRESENT: u8 = 0x87;

/// SearchRequest scope (RFC 4511 §4.5.1.2).
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    Base = 0,
    Subtree = 2,
}

/// X.690 8.1.3: short form below 128, else the long form with the fewest octets.
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

fn tlv(id: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(id);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

fn tlv_parts(id: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(id, &parts.concat())
}

/// X.690 8.3: two's complement in the fewest octets.
fn integer(id: u8, value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let redundant = (bytes[start] == 0x00 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    tlv(id, &bytes[start..])
}

fn octets(value: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, value)
}

/// LDAPMessage ::= SEQUENCE { messageID, protocolOp } (no controls).
fn message(msgid: i32, op: Vec<u8>) -> Vec<u8> {
    tlv_parts(SEQUENCE, &[integer(INTEGER, i64::from(msgid)), op])
}

/// BindRequest with version 3 and simple authentication (RFC 4511 §4.2).
pub fn bind_simple(msgid: i32, name: &str, password: &str) -> Vec<u8> {
    let op = tlv_parts(
        op::BIND_REQUEST,
        &[
            integer(INTEGER, 3),
            octets(name.as_bytes()),
            tlv(AUTH_SIMPLE, password.as_bytes()),
        ],
    );
    message(msgid, op)
}

pub fn unbind(msgid: i32) -> Vec<u8> {
    message(msgid, vec![op::UNBIND_REQUEST, 0x00])
}

/// `(attr=value)`.
pub fn filter_equality(attr: &str, value: &str) -> Vec<u8> {
    tlv_parts(
        FILTER_EQUALITY,
        &[octets(attr.as_bytes()), octets(value.as_bytes())],
    )
}

/// `(attr=*)`.
pub fn filter_present(attr: &str) -> Vec<u8> {
    tlv(FILTER_PRESENT, attr.as_bytes())
}

/// SearchRequest with derefAliases never, no size or time limit, typesOnly false (§4.5.1).
pub fn search(msgid: i32, base: &str, scope: Scope, filter: &[u8], attrs: &[&str]) -> Vec<u8> {
    let attrs: Vec<Vec<u8>> = attrs.iter().map(|a| octets(a.as_bytes())).collect();
    let op = tlv_parts(
        op::SEARCH_REQUEST,
        &[
            octets(base.as_bytes()),
            integer(ENUMERATED, scope as i64),
            integer(ENUMERATED, 0),
            integer(INTEGER, 0),
            integer(INTEGER, 0),
            tlv(BOOLEAN, &[0x00]),
            filter.to_vec(),
            tlv_parts(SEQUENCE, &attrs),
        ],
    );
    message(msgid, op)
}

/// AddRequest (§4.7): the entry's DN and its attributes with their values (text or binary).
pub fn add<V: AsRef<[u8]>>(msgid: i32, dn: &str, attrs: &[(&str, Vec<V>)]) -> Vec<u8> {
    let attrs: Vec<Vec<u8>> = attrs
        .iter()
        .map(|(name, values)| {
            let values: Vec<Vec<u8>> = values.iter().map(|v| octets(v.as_ref())).collect();
            tlv_parts(SEQUENCE, &[octets(name.as_bytes()), tlv_parts(SET, &values)])
        })
        .collect();
    let op = tlv_parts(
        op::ADD_REQUEST,
        &[octets(dn.as_bytes()), tlv_parts(SEQUENCE, &attrs)],
    );
    message(msgid, op)
}

/// ModifyRequest (§4.6) with one change: replace every value of `attr` by `values`.
pub fn modify_replace(msgid: i32, dn: &str, attr: &str, values: &[&[u8]]) -> Vec<u8> {
    /// ModifyRequest's operation `replace` (§4.6).
    const REPLACE: i64 = 2;
    let values: Vec<Vec<u8>> = values.iter().map(|v| octets(v)).collect();
    let change = tlv_parts(
        SEQUENCE,
        &[
            integer(ENUMERATED, REPLACE),
            tlv_parts(SEQUENCE, &[octets(attr.as_bytes()), tlv_parts(SET, &values)]),
        ],
    );
    let op = tlv_parts(
        op::MODIFY_REQUEST,
        &[octets(dn.as_bytes()), tlv_parts(SEQUENCE, &[change])],
    );
    message(msgid, op)
}

/// One element at the start of `buf`: its identifier octet, its content and what follows.
pub fn read_tlv(buf: &[u8]) -> Result<(u8, &[u8], &[u8])> {
    let (&id, rest) = buf.split_first().ok_or_else(|| anyhow!("empty element"))?;
    let (&first, rest) = rest.split_first().ok_or_else(|| anyhow!("missing length"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            bail!("unsupported or truncated length");
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        bail!("truncated element");
    }
    Ok((id, &rest[..len], &rest[len..]))
}

fn read_integer(content: &[u8]) -> Result<i64> {
    if content.is_empty() || content.len() > 8 {
        bail!("bad integer length {}", content.len());
    }
    let first = i64::from(content[0] as i8);
    Ok(content[1..]
        .iter()
        .fold(first, |acc, &b| (acc << 8) | i64::from(b)))
}

/// An LDAPResult (§4.1.9): resultCode and diagnosticMessage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: i64,
    pub diagnostic: String,
}

/// What the benchmark reads from a response PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub msgid: i32,
    pub op: u8,
    /// Present for the operations that end with an LDAPResult.
    pub outcome: Option<Outcome>,
}

pub fn parse_response(pdu: &[u8]) -> Result<Response> {
    let (id, body, _) = read_tlv(pdu)?;
    if id != SEQUENCE {
        bail!("LDAPMessage is not a SEQUENCE");
    }
    let (id, msgid, rest) = read_tlv(body)?;
    if id != INTEGER {
        bail!("messageID is not an INTEGER");
    }
    let msgid = i32::try_from(read_integer(msgid)?)?;
    let (op, content, _) = read_tlv(rest)?;
    let outcome = match op {
        op::BIND_RESPONSE | op::SEARCH_RESULT_DONE | op::ADD_RESPONSE | op::MODIFY_RESPONSE => {
            let (id, code, rest) = read_tlv(content)?;
            if id != ENUMERATED {
                bail!("resultCode is not ENUMERATED");
            }
            let (_, _matched_dn, rest) = read_tlv(rest)?;
            let (_, diagnostic, _) = read_tlv(rest)?;
            Some(Outcome {
                code: read_integer(code)?,
                diagnostic: String::from_utf8_lossy(diagnostic).into_owned(),
            })
        }
        _ => None,
    };
    Ok(Response { msgid, op, outcome })
}
