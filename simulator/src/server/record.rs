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
//!
//! Client-supplied values are capped: a string keeps its first 1,024 bytes and says its length
//! (`…<9437184 bytes>`), a list its first 64 items, and a line that would still exceed 64 KiB
//! keeps everything but its request, which becomes `{"left_out": …}`.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use base64::Engine as _;
use ldap3_proto::proto::{LdapModifyType, LdapSearchScope};
use serde_json::{json, Map, Value};

use crate::clock::Clock;
use crate::dsa::Caller;
use crate::kdc::error as krb;
use crate::kdc::messages::PrincipalName;
use crate::kdc::{Exchange, ExchangeKind};
use crate::ldap::codec::{BindAuth, LdapRequest, LdapResponse, RequestOp, ResponseOp};
use crate::model::filter::Filter;

/// Longest client-supplied string kept in a recording, in bytes; a longer one keeps its first
/// bytes and says how long it was (a 9 MB filter must not become a 15 MB line).
pub const MAX_RECORDED_STRING: usize = 1024;
/// Most items of a list kept (attributes, values).
pub const MAX_RECORDED_ITEMS: usize = 64;
/// Longest line: beyond it the request is left out, the rest of the line kept.
pub const MAX_LINE: usize = 64 * 1024;

/// Caps every string and list in `v`, in place ([`MAX_RECORDED_STRING`], [`MAX_RECORDED_ITEMS`]).
fn cap_value(v: &mut Value) {
    match v {
        Value::String(text) if text.len() > MAX_RECORDED_STRING => {
            let mut end = MAX_RECORDED_STRING;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let total = text.len();
            text.truncate(end);
            text.push_str(&format!("…<{total} bytes>"));
        }
        Value::Array(items) => {
            if items.len() > MAX_RECORDED_ITEMS {
                let total = items.len();
                items.truncate(MAX_RECORDED_ITEMS);
                items.push(json!(format!("…<{total} items>")));
            }
            items.iter_mut().for_each(cap_value);
        }
        Value::Object(m) => m.values_mut().for_each(cap_value),
        _ => {}
    }
}

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

    fn write(&self, mut record: Value) {
        cap_value(&mut record);
        let mut line = record.to_string();
        if line.len() > MAX_LINE {
            // Still too big after capping each value (many attributes with many values): keep
            // the line's frame and say what was left out.
            if let Some(m) = record.as_object_mut() {
                m.insert(
                    "request".into(),
                    json!({ "left_out": format!("request of {} bytes in the recording", line.len()) }),
                );
            }
            line = record.to_string();
        }
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

    /// Records one LDAP request and its answer (`responses` as the session gave them; the last
    /// holds the result).
    pub fn ldap(&self, at: &Endpoint<'_>, pending: LdapPending, responses: &[LdapResponse]) {
        let mut m = self.base(at);
        m.insert(
            "principal".into(),
            pending.principal.map_or(Value::Null, Value::String),
        );
        m.insert("operation".into(), json!(pending.operation));
        m.insert("request".into(), Value::Object(pending.request));
        let result = responses.last().and_then(ldap_result);
        m.insert(
            "result".into(),
            result.map_or(
                Value::Null,
                |(code, diagnostic)| json!({ "code": code, "diagnostic": diagnostic }),
            ),
        );
        if pending.operation == "search" {
            let entries = responses.iter().filter(|r| is_entry(r)).count();
            m.insert("entries".into(), json!(entries));
        }
        self.write(Value::Object(m));
    }

    /// Records one Kerberos exchange from the KDC's account of it (`request` as received).
    pub fn kerberos(
        &self,
        connection: u64,
        transport: &str,
        peer: SocketAddr,
        request: &[u8],
        exchange: &Exchange,
    ) {
        let req = exchange.request.as_ref();
        let mut m = self.base(&Endpoint {
            connection,
            transport,
            server: req.map_or("", |r| r.realm.as_str()),
            peer,
        });
        let operation = match req.map(|r| r.kind) {
            Some(ExchangeKind::As) => "AS",
            Some(ExchangeKind::Tgs) => "TGS",
            None => "undecodable",
        };
        let principal = exchange.reply.as_ref().and_then(|r| r.client.clone());
        let result = match &exchange.reply {
            None => Value::Null,
            Some(reply) if reply.code == 0 => json!({ "code": 0, "diagnostic": "" }),
            Some(reply) => json!({ "code": reply.code, "diagnostic": krb_error_name(reply.code) }),
        };
        m.insert("principal".into(), principal.map_or(Value::Null, Value::String));
        m.insert("operation".into(), json!(operation));
        let request = match req {
            Some(r) => json!({
                "realm": r.realm,
                "cname": r.cname.as_ref().map(PrincipalName::joined),
                "sname": r.sname.as_ref().map(PrincipalName::joined),
                "etypes": r.etypes,
                "padata": r.padata_types,
                "kdc_options": format!("0x{:08x}", r.kdc_options),
            }),
            None => json!({ "length": request.len() }),
        };
        m.insert("request".into(), request);
        m.insert("result".into(), result);
        self.write(Value::Object(m));
    }
}

impl Recorder {
    /// Records one kpasswd exchange from the service's summary: who, whose password and the
    /// RFC 3244 result, never the password (`request` only for its length).
    pub fn kpasswd(
        &self,
        connection: u64,
        transport: &str,
        realm: &str,
        peer: SocketAddr,
        request: &[u8],
        summary: &crate::kpasswd::Summary,
    ) {
        let mut m = self.base(&Endpoint {
            connection,
            transport,
            server: realm,
            peer,
        });
        let operation = match (summary.version, &summary.target) {
            (None, _) => "undecodable",
            (_, Some(_)) => "set-password",
            _ => "change-password",
        };
        m.insert(
            "principal".into(),
            summary.client.clone().map_or(Value::Null, Value::String),
        );
        m.insert("operation".into(), json!(operation));
        m.insert(
            "request".into(),
            json!({
                "length": request.len(),
                "version": summary.version.map(|v| format!("0x{v:04x}")),
                "target": summary.target,
            }),
        );
        let diagnostic = summary.krb_error.map(krb_error_name).unwrap_or_default();
        m.insert(
            "result".into(),
            json!({ "code": summary.result, "diagnostic": diagnostic }),
        );
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
        exchange: &Exchange,
    ) {
        let label = match transport {
            crate::kdc::Transport::Udp => "kerberos/udp",
            crate::kdc::Transport::Tcp => "kerberos/tcp",
        };
        self.kerberos(connection, label, peer, request, exchange);
    }
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

/// Whether a response is a search result entry (search records count them).
fn is_entry(response: &LdapResponse) -> bool {
    matches!(response.op, ResponseOp::SearchResultEntry { .. })
}

/// resultCode and the diagnostic prefix of an LDAPResult-carrying response.
fn ldap_result(response: &LdapResponse) -> Option<(u32, String)> {
    let result = response.result()?;
    Some((result.code, diagnostic_prefix(&result.diagnostic)))
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
    use crate::ldap::codec::LdapResult;

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

    /// A hostile request cannot make the recording grow by its own size (issue 13 item 8).
    #[test]
    fn long_values_and_long_lists_are_capped() {
        let mut v = json!({
            "request": {
                "filter": "(cn=".to_string() + &"é".repeat(600_000) + ")",
                "attributes": (0..10_000).map(|i| format!("a{i}")).collect::<Vec<_>>(),
            }
        });
        cap_value(&mut v);
        let filter = v["request"]["filter"].as_str().unwrap();
        assert!(filter.len() < MAX_RECORDED_STRING + 32, "{}", filter.len());
        assert!(
            filter.ends_with("…<1200005 bytes>"),
            "{}",
            &filter[filter.len() - 30..]
        );
        let attrs = v["request"]["attributes"].as_array().unwrap();
        assert_eq!(attrs.len(), MAX_RECORDED_ITEMS + 1);
        assert_eq!(attrs[MAX_RECORDED_ITEMS], "…<10000 items>");

        // Many capped values together still stay within one line's budget.
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let recorder = Recorder::to_writer(Box::new(Shared(out.clone())), Clock::system());
        let values: Vec<String> = (0..64).map(|_| "x".repeat(5000)).collect();
        let attrs: Vec<Value> = (0..64)
            .map(|i| json!({"name": format!("a{i}"), "values": values}))
            .collect();
        recorder.write(json!({"operation": "add", "request": {"attributes": attrs}}));
        let line = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert!(line.len() <= MAX_LINE, "{}", line.len());
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["operation"], "add");
        assert!(parsed["request"]["left_out"]
            .as_str()
            .unwrap()
            .starts_with("request of "));
    }

    #[test]
    fn results_are_read_from_the_last_pdu() {
        let pdu = LdapResponse::new(
            7,
            ResponseOp::SearchResultDone(LdapResult::new(1, "0000202D: SvcErr: DSID, problem 5012")),
        );
        assert_eq!(ldap_result(&pdu), Some((1, "0000202D".to_string())));
        let entry = LdapResponse::new(
            7,
            ResponseOp::SearchResultEntry {
                dn: "CN=x".into(),
                attrs: vec![],
            },
        );
        // The protocolOp tags of these two (0x64, 0x65) are asserted with the encoder.
        assert!(is_entry(&entry));
        assert!(!is_entry(&pdu));
        assert_eq!(ldap_result(&entry), None);
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
