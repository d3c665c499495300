//! `adsim serve --record FILE`: every LDAP and Kerberos exchange as one JSON line, so a client's
//! session can be inspected and turned into a scenario.
//!
//! ```json
//! {"time":"2026-01-05T10:00:00Z","connection":3,"transport":"ldaps","server":"dc1.corp.example.test",
//!  "principal":"CN=WEB01,CN=Computers,DC=corp,DC=example,DC=test","operation":"search",
//!  "request":{"base":"CN=svc-web,…","scope":"base","filter":"(objectClass=*)","attributes":["msDS-ManagedPassword"]},
//!  "result":{"code":0,"diagnostic":""},"entries":1}
//! {"time":"…","connection":4,"transport":"kerberos/udp","server":"CORP.EXAMPLE.TEST",
//!  "principal":"alice@CORP.EXAMPLE.TEST","operation":"AS",
//!  "request":{"realm":"CORP.EXAMPLE.TEST","cname":"alice","sname":"krbtgt/CORP.EXAMPLE.TEST","etypes":[18,17],"padata":[]},
//!  "result":{"code":25,"diagnostic":"KDC_ERR_PREAUTH_REQUIRED"}}
//! ```
//!
//! Every line also has `peer`, the client's address (keys are written in alphabetical order).
//! `time` is the simulated clock. `principal` is the bound DN (null when anonymous), the name a
//! bind presents, or the Kerberos client (null for a failed TGS exchange: its client is only
//! inside the encrypted ticket). `diagnostic` is the part of the LDAP diagnostic message before
//! its first colon (`0000202D`, `80090308`) or the Kerberos error name.
//!
//! Secrets are never written: no bind passwords or SASL credentials, no extended-operation
//! values, and the values of secret attributes (`unicodePwd`, `userPassword`,
//! `msDS-ManagedPassword`, `msKds-RootKeyData`, …) in adds, modifies, compares and filters
//! become `"<redacted>"`. Search results are counted, never copied.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use base64::Engine as _;
use ldap3_lber::structure::PL;
use ldap3_proto::proto::{LdapModifyType, LdapSearchScope};
use serde_json::{json, Map, Value};

use crate::clock::Clock;
use crate::dsa::Caller;
use crate::kdc::error as krb;
use crate::kdc::messages::{msg_type, KdcRep, KdcReq, KrbError, PrincipalName};
use crate::ldap::codec::ber;
use crate::ldap::codec::{BindAuth, LdapRequest, RequestOp};
use crate::model::filter::Filter;

/// What replaces a secret value.
pub const REDACTED: &str = "<redacted>";

/// Attributes whose values are never recorded (lower case; options are ignored).
const SECRET_ATTRIBUTES: &[&str] = &[
    "unicodepwd",
    "userpassword",
    "unixuserpassword",
    "dbcspwd",
    "ntpwdhistory",
    "lmpwdhistory",
    "supplementalcredentials",
    "currentvalue",
    "priorvalue",
    "trustauthincoming",
    "trustauthoutgoing",
    "initialauthincoming",
    "initialauthoutgoing",
    "msds-managedpassword",
    "mskds-rootkeydata",
];

fn is_secret(attr: &str) -> bool {
    let base = crate::dsa::attrs::base_name(attr).to_ascii_lowercase();
    SECRET_ATTRIBUTES.contains(&base.as_str())
}

/// Where an exchange happened: the connection (one id per TCP connection or UDP datagram), its
/// transport label, the server that answered and the client's address.
pub struct Endpoint<'a> {
    pub connection: u64,
    pub transport: &'a str,
    pub server: &'a str,
    pub peer: SocketAddr,
}

/// Writes exchanges as JSON lines. Shared by every listener of one forest.
pub struct Recorder {
    out: Mutex<Box<dyn std::io::Write + Send>>,
    clock: Clock,
    next_connection: AtomicU64,
    failed: AtomicBool,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Records into `path` (created or truncated), stamping lines with `clock`.
    pub fn create(path: &Path, clock: Clock) -> std::io::Result<Recorder> {
        let file = File::create(path)?;
        Ok(Recorder::to_writer(Box::new(file), clock))
    }

    pub fn to_writer(out: Box<dyn std::io::Write + Send>, clock: Clock) -> Recorder {
        Recorder {
            out: Mutex::new(out),
            clock,
            next_connection: AtomicU64::new(1),
            failed: AtomicBool::new(false),
        }
    }

    /// A new connection id (one per TCP connection or UDP datagram, across every listener).
    pub fn open_connection(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    fn write(&self, record: Value) {
        let mut line = record.to_string();
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // One write per line, flushed, so a reader sees whole lines while the server runs.
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|_| out.flush()) {
            if !self.failed.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "cannot write the recording");
            }
        }
    }

    fn base(&self, at: &Endpoint<'_>) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("time".into(), json!(self.clock.now().to_rfc3339()));
        m.insert("connection".into(), json!(at.connection));
        m.insert("transport".into(), json!(at.transport));
        m.insert("server".into(), json!(at.server));
        m.insert("peer".into(), json!(at.peer.to_string()));
        m
    }

    /// Records one LDAP request and its answer (`responses` as sent; the last holds the result).
    pub fn ldap(&self, at: &Endpoint<'_>, pending: LdapPending, responses: &[Vec<u8>]) {
        let mut m = self.base(at);
        m.insert(
            "principal".into(),
            pending.principal.map_or(Value::Null, Value::String),
        );
        m.insert("operation".into(), json!(pending.operation));
        m.insert("request".into(), Value::Object(pending.request));
        let result = responses.last().and_then(|r| ldap_result(r));
        m.insert(
            "result".into(),
            result.map_or(
                Value::Null,
                |(code, diagnostic)| json!({ "code": code, "diagnostic": diagnostic }),
            ),
        );
        if pending.operation == "search" {
            // Entries are SearchResultEntry PDUs ([APPLICATION 4], constructed: 0x64).
            let entries = responses.iter().filter(|r| first_op_tag(r) == Some(0x64)).count();
            m.insert("entries".into(), json!(entries));
        }
        self.write(Value::Object(m));
    }

    /// Records one Kerberos request and the KDC's reply (`None` when it was dropped).
    pub fn kerberos(
        &self,
        connection: u64,
        transport: &str,
        peer: SocketAddr,
        request: &[u8],
        reply: Option<&[u8]>,
    ) {
        let req = KdcReq::from_der(request).ok();
        let server = req.as_ref().map(|r| r.req_body.realm.clone()).unwrap_or_default();
        let mut m = self.base(&Endpoint {
            connection,
            transport,
            server: &server,
            peer,
        });
        let operation = match req.as_ref().map(|r| r.msg_type) {
            Some(msg_type::AS_REQ) => "AS",
            Some(msg_type::TGS_REQ) => "TGS",
            _ => "undecodable",
        };
        let mut principal = req.as_ref().and_then(|r| {
            (r.msg_type == msg_type::AS_REQ)
                .then(|| r.req_body.cname.as_ref().map(|c| full_name(c, &r.req_body.realm)))
                .flatten()
        });
        let result = match reply {
            None => Value::Null,
            Some(bytes) => match KdcRep::from_der(bytes) {
                Ok(rep) => {
                    principal = Some(full_name(&rep.cname, &rep.crealm));
                    json!({ "code": 0, "diagnostic": "" })
                }
                Err(_) => match KrbError::from_der(bytes) {
                    Ok(err) => {
                        if principal.is_none() {
                            principal = err
                                .cname
                                .as_ref()
                                .map(|c| full_name(c, err.crealm.as_deref().unwrap_or(&err.realm)));
                        }
                        json!({ "code": err.error_code, "diagnostic": krb_error_name(err.error_code) })
                    }
                    Err(_) => json!({ "code": null, "diagnostic": "undecodable reply" }),
                },
            },
        };
        m.insert("principal".into(), principal.map_or(Value::Null, Value::String));
        m.insert("operation".into(), json!(operation));
        let request = match &req {
            Some(r) => json!({
                "realm": r.req_body.realm,
                "cname": r.req_body.cname.as_ref().map(PrincipalName::joined),
                "sname": r.req_body.sname.as_ref().map(PrincipalName::joined),
                "etypes": r.req_body.etypes,
                "padata": r.padata.iter().map(|p| p.padata_type).collect::<Vec<_>>(),
                "kdc_options": format!("0x{:08x}", r.req_body.kdc_options),
            }),
            None => json!({ "length": request.len() }),
        };
        m.insert("request".into(), request);
        m.insert("result".into(), result);
        self.write(Value::Object(m));
    }
}

impl crate::kdc::net::ExchangeObserver for Recorder {
    fn open_connection(&self) -> u64 {
        Recorder::open_connection(self)
    }

    fn exchange(
        &self,
        connection: u64,
        transport: crate::kdc::Transport,
        peer: SocketAddr,
        request: &[u8],
        reply: Option<&[u8]>,
    ) {
        let label = match transport {
            crate::kdc::Transport::Udp => "kerberos/udp",
            crate::kdc::Transport::Tcp => "kerberos/tcp",
        };
        self.kerberos(connection, label, peer, request, reply);
    }
}

fn full_name(name: &PrincipalName, realm: &str) -> String {
    format!("{}@{}", name.joined(), realm)
}

/// An LDAP request summarised before the session consumes it.
pub struct LdapPending {
    principal: Option<String>,
    operation: &'static str,
    request: Map<String, Value>,
}

impl LdapPending {
    /// `caller` is the connection's identity before the request (a bind names its own).
    pub fn new(req: &LdapRequest, caller: &Caller) -> LdapPending {
        let bound = (!caller.dn.is_empty()).then(|| caller.dn.clone());
        let mut request = Map::new();
        let mut principal = bound;
        let operation = match &req.op {
            RequestOp::Bind(b) => {
                principal = (!b.name.is_empty()).then(|| b.name.clone());
                request.insert("name".into(), json!(b.name));
                request.insert("version".into(), json!(b.version));
                let auth = match &b.auth {
                    BindAuth::Simple(pw) if pw.is_empty() => "anonymous".to_string(),
                    BindAuth::Simple(_) => "simple".to_string(),
                    BindAuth::Sasl { mechanism, .. } => format!("sasl:{mechanism}"),
                    BindAuth::SicilyDiscovery => "sicily-discovery".to_string(),
                    BindAuth::SicilyNegotiate(_) => "sicily-negotiate".to_string(),
                    BindAuth::SicilyResponse(_) => "sicily-response".to_string(),
                    BindAuth::Unsupported(t) => format!("unsupported:{t}"),
                };
                request.insert("auth".into(), json!(auth));
                "bind"
            }
            RequestOp::Unbind => "unbind",
            RequestOp::Abandon(id) => {
                request.insert("message_id".into(), json!(id));
                "abandon"
            }
            RequestOp::Search(s) => {
                request.insert("base".into(), json!(s.base));
                let scope = match s.scope {
                    LdapSearchScope::Base => "base",
                    LdapSearchScope::OneLevel => "one",
                    _ => "sub",
                };
                request.insert("scope".into(), json!(scope));
                request.insert("filter".into(), json!(redact_filter(&s.filter).to_string()));
                request.insert("attributes".into(), json!(s.attrs));
                if s.size_limit > 0 {
                    request.insert("size_limit".into(), json!(s.size_limit));
                }
                "search"
            }
            RequestOp::Add(a) => {
                request.insert("dn".into(), json!(a.dn));
                let attrs: Vec<Value> = a
                    .attributes
                    .iter()
                    .map(|pa| json!({ "name": pa.atype, "values": values(&pa.atype, &pa.vals) }))
                    .collect();
                request.insert("attributes".into(), Value::Array(attrs));
                "add"
            }
            RequestOp::Modify(m) => {
                request.insert("dn".into(), json!(m.dn));
                let changes: Vec<Value> = m
                    .changes
                    .iter()
                    .map(|c| {
                        let op = match c.operation {
                            LdapModifyType::Add => "add",
                            LdapModifyType::Delete => "delete",
                            LdapModifyType::Replace => "replace",
                            LdapModifyType::Increment => "increment",
                        };
                        let a = &c.modification;
                        json!({ "op": op, "attr": a.atype, "values": values(&a.atype, &a.vals) })
                    })
                    .collect();
                request.insert("changes".into(), Value::Array(changes));
                "modify"
            }
            RequestOp::Delete(dn) => {
                request.insert("dn".into(), json!(dn));
                "delete"
            }
            RequestOp::ModifyDn(m) => {
                request.insert("dn".into(), json!(m.dn));
                request.insert("new_rdn".into(), json!(m.newrdn));
                request.insert("delete_old_rdn".into(), json!(m.deleteoldrdn));
                request.insert("new_superior".into(), json!(m.new_superior));
                "modifyDN"
            }
            RequestOp::Compare { dn, attr, value } => {
                request.insert("dn".into(), json!(dn));
                request.insert("attr".into(), json!(attr));
                let v = values(attr, std::slice::from_ref(value));
                request.insert("value".into(), v.into_iter().next().unwrap_or(Value::Null));
                "compare"
            }
            // The value may carry a password (RFC 3062 password modify): only the OID is kept.
            RequestOp::Extended { oid, .. } => {
                request.insert("oid".into(), json!(oid));
                "extended"
            }
        };
        if !req.controls.is_empty() {
            let oids: Vec<&str> = req.controls.iter().map(|c| c.oid.as_str()).collect();
            request.insert("controls".into(), json!(oids));
        }
        LdapPending {
            principal,
            operation,
            request,
        }
    }
}

/// Values as JSON: text when UTF-8, else `{"base64": …}`; secret attributes redacted.
fn values(attr: &str, vals: &[Vec<u8>]) -> Vec<Value> {
    vals.iter()
        .map(|v| {
            if is_secret(attr) {
                json!(REDACTED)
            } else {
                match std::str::from_utf8(v) {
                    Ok(t) => json!(t),
                    Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(v) }),
                }
            }
        })
        .collect()
}

/// The filter with assertion values on secret attributes replaced (a client may probe them).
fn redact_filter(f: &Filter) -> Filter {
    let hide = |attr: &str, v: &[u8]| {
        if is_secret(attr) {
            REDACTED.as_bytes().to_vec()
        } else {
            v.to_vec()
        }
    };
    match f {
        Filter::And(list) => Filter::And(list.iter().map(redact_filter).collect()),
        Filter::Or(list) => Filter::Or(list.iter().map(redact_filter).collect()),
        Filter::Not(inner) => Filter::Not(Box::new(redact_filter(inner))),
        Filter::EqualityMatch(a, v) => Filter::EqualityMatch(a.clone(), hide(a, v)),
        Filter::GreaterOrEqual(a, v) => Filter::GreaterOrEqual(a.clone(), hide(a, v)),
        Filter::LessOrEqual(a, v) => Filter::LessOrEqual(a.clone(), hide(a, v)),
        Filter::ApproxMatch(a, v) => Filter::ApproxMatch(a.clone(), hide(a, v)),
        Filter::Present(a) => Filter::Present(a.clone()),
        Filter::Substrings { attr, .. } => {
            if is_secret(attr) {
                Filter::Substrings {
                    attr: attr.clone(),
                    initial: None,
                    any: vec![REDACTED.as_bytes().to_vec()],
                    final_: None,
                }
            } else {
                f.clone()
            }
        }
        Filter::ExtensibleMatch {
            rule,
            attr,
            value,
            dn_attributes,
        } => Filter::ExtensibleMatch {
            rule: rule.clone(),
            attr: attr.clone(),
            value: match attr {
                Some(a) => hide(a, value),
                None => REDACTED.as_bytes().to_vec(),
            },
            dn_attributes: *dn_attributes,
        },
    }
}

/// The identifier octet of a response PDU's protocolOp.
fn first_op_tag(pdu: &[u8]) -> Option<u8> {
    let (_, len, header) = ber::read_header(pdu).ok()??;
    let body = pdu.get(header..header + len)?;
    let (_, id_len, id_header) = ber::read_header(body).ok()??;
    body.get(id_header + id_len).copied()
}

/// resultCode and the diagnostic prefix of an LDAPResult-carrying response PDU.
fn ldap_result(pdu: &[u8]) -> Option<(i64, String)> {
    let tag = ber::parse_exactly_one(pdu).ok()?;
    let PL::C(message) = tag.payload else { return None };
    let PL::C(fields) = &message.get(1)?.payload else {
        return None;
    };
    let PL::P(code) = &fields.first()?.payload else {
        return None;
    };
    let code = ber::integer(code, "resultCode").ok()?;
    let diagnostic = match &fields.get(2)?.payload {
        PL::P(text) => String::from_utf8_lossy(text).into_owned(),
        PL::C(_) => return None,
    };
    Some((code, diagnostic_prefix(&diagnostic)))
}

/// `0000202D: SvcErr: …` → `0000202D`; a message without such a prefix is kept whole.
pub fn diagnostic_prefix(text: &str) -> String {
    let text = text.trim_end_matches(['\0', '\n']);
    match text.split_once(':') {
        Some((head, _)) if head.len() == 8 && head.bytes().all(|b| b.is_ascii_hexdigit()) => head.to_string(),
        _ => text.to_string(),
    }
}

/// The RFC 4120 §7.5.9 name of a Kerberos error (`kdc::error`'s table), or `error N`.
pub fn krb_error_name(code: i32) -> String {
    krb::error_name(code).map_or_else(|| format!("error {code}"), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldap::codec::{encode_response, LdapResult, ResponseOp};

    #[test]
    fn diagnostic_prefixes() {
        assert_eq!(
            diagnostic_prefix("0000202D: SvcErr: DSID-0C090D8A, problem 5012\0"),
            "0000202D"
        );
        assert_eq!(
            diagnostic_prefix("unsupported LDAP version"),
            "unsupported LDAP version"
        );
        assert_eq!(diagnostic_prefix("x: y"), "x: y");
    }

    #[test]
    fn results_are_read_from_the_last_pdu() {
        let pdu = encode_response(
            7,
            ResponseOp::SearchResultDone(LdapResult::new(1, "0000202D: SvcErr: DSID, problem 5012")),
            &[],
        );
        assert_eq!(ldap_result(&pdu), Some((1, "0000202D".to_string())));
        let entry = encode_response(
            7,
            ResponseOp::SearchResultEntry {
                dn: "CN=x".into(),
                attrs: vec![],
            },
            &[],
        );
        assert_eq!(first_op_tag(&entry), Some(0x64));
        assert_eq!(first_op_tag(&pdu), Some(0x65));
        assert_eq!(ldap_result(b"\x30\x01"), None);
    }

    #[test]
    fn secret_filter_values_are_hidden() {
        let f = crate::ldap::filter::Filter::parse(
            "(&(unicodePwd=\"hunter2\")(cn=alice)(userPassword=*hunter2*))",
        )
        .unwrap();
        let text = redact_filter(&f).to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("(cn=alice)"), "{text}");
    }
}
