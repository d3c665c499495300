//! The client of adsim's HTTP control API (`adsim serve --control-port`), on `reqwest`: one
//! typed method per route, and [`Client::request`] for any method and path (tests probing error
//! statuses). Used by `adsim ctl` / `adsim export`, the scenario runner's `--against` backend,
//! the end-to-end tests and the benchmarks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), adsim_harness::control::Error> {
//! use adsim_harness::control::{Client, Clock};
//! let api = Client::new("http://127.0.0.1:8389")?;
//! let clock: Clock = api.advance_clock(30 * 86_400).await?.parse()?;
//! println!("{}", clock.now);
//! # Ok(()) }
//! ```

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

/// How long one exchange may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a control-API call failed. The texts are what `adsim ctl` prints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("control URL {0:?} must start with http://")]
    NotHttp(String),
    #[error("control URL {0:?} has no host")]
    NoHost(String),
    #[error("control URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach the control API at {authority}: {reason}")]
    Unreachable { authority: String, reason: String },
    #[error("the control API did not answer within {0:?}")]
    Timeout(Duration),
    #[error("{method} {path}: {reason}")]
    Transport {
        method: String,
        path: String,
        reason: String,
    },
    /// A non-2xx answer to a typed call; `message` is the server's `{"error": …}` text.
    #[error("control API answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("control API answered non-JSON: {0}")]
    NotJson(String),
}

impl Error {
    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An answer: status and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Result<serde_json::Value, Error> {
        self.parse()
    }

    /// The body as `T` (e.g. [`Clock`], [`Created`]).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::NotJson(e.to_string()))
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `error` of an error answer, or the body as text.
    pub fn error_text(&self) -> String {
        self.json()
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| self.text())
    }

    /// Itself when 2xx, else [`Error::Status`].
    pub fn success(self) -> Result<Response, Error> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(Error::Status {
                status: self.status,
                message: self.error_text(),
            })
        }
    }
}

/// `GET`/`POST /v1/clock`.
#[derive(Debug, Clone, Deserialize)]
pub struct Clock {
    /// RFC 3339.
    pub now: String,
    pub nttime: u64,
    pub offset_seconds: i64,
    pub frozen: bool,
}

/// `POST /v1/kds/root-keys` and `POST /v1/snapshots`: what was made.
#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    pub id: String,
}

/// What `POST /v1/cmdlets/{name}` answered: the output and warnings, or the error record.
#[derive(Debug, Clone)]
pub struct CmdletAnswer {
    pub output: Vec<serde_json::Value>,
    pub warnings: Vec<String>,
    pub error: Option<adsim_simulator::cmdlets::record::ErrorRecord>,
}

impl CmdletAnswer {
    pub fn from_response(r: &Response) -> Result<CmdletAnswer, Error> {
        let v = r.json()?;
        let warnings = v["warnings"]
            .as_array()
            .map(|a| a.iter().filter_map(|w| w.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if r.is_success() {
            return Ok(CmdletAnswer {
                output: v["output"].as_array().cloned().unwrap_or_default(),
                warnings,
                error: None,
            });
        }
        match adsim_simulator::cmdlets::record::ErrorRecord::from_json(&v["error_record"]) {
            Some(rec) => Ok(CmdletAnswer {
                output: Vec::new(),
                warnings,
                error: Some(rec),
            }),
            None => Err(Error::Status {
                status: r.status,
                message: r.error_text(),
            }),
        }
    }
}

/// The control API at a base URL `http://host[:port][/prefix]`.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `http://host:port/prefix`, without a trailing slash.
    base: String,
    /// `host:port` (port 80 when the URL has none), for messages.
    authority: String,
}

impl Client {
    pub fn new(url: &str) -> Result<Client, Error> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| Error::NotHttp(url.to_string()))?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(Error::NoHost(url.to_string()));
        }
        // Without a port, HTTP's default (an IPv6 literal ends in ']').
        let authority = if authority.ends_with(']') || !authority.contains(':') {
            format!("{authority}:80")
        } else {
            authority.to_string()
        };
        let base = format!("http://{authority}{prefix}");
        reqwest::Url::parse(&base).map_err(|e| Error::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // Only ever adsim's own listener: never through a proxy from the environment.
            .no_proxy()
            .build()
            .map_err(|e| Error::BadUrl {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            http,
            base,
            authority,
        })
    }

    /// `host:port` of the server.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// One request, whatever the answer's status. `path` starts with `/` and may carry a query;
    /// a body is sent as given (it may be deliberately malformed), as `application/json`.
    pub async fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<Response, Error> {
        let transport = |reason: String| Error::Transport {
            method: method.to_string(),
            path: path.to_string(),
            reason,
        };
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| transport(e.to_string()))?;
        let mut req = self.http.request(m.clone(), format!("{}{path}", self.base));
        // The control API takes a state-changing request only as JSON (so a web page's plain
        // form post cannot make one): every method but GET and HEAD says so, body or none.
        if body.is_some() || !matches!(m, reqwest::Method::GET | reqwest::Method::HEAD) {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                Error::Timeout(TIMEOUT)
            } else if e.is_connect() {
                Error::Unreachable {
                    authority: self.authority.clone(),
                    reason: root_cause(&e),
                }
            } else {
                transport(root_cause(&e))
            }
        };
        let answer = req.send().await.map_err(classify)?;
        let status = answer.status().as_u16();
        let body = answer.bytes().await.map_err(classify)?.to_vec();
        Ok(Response { status, body })
    }

    async fn get(&self, path: &str) -> Result<Response, Error> {
        self.request("GET", path, None).await?.success()
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> Result<Response, Error> {
        self.request("POST", path, Some(&body.to_string()))
            .await?
            .success()
    }

    /// `GET /v1/health`.
    pub async fn health(&self) -> Result<Response, Error> {
        self.get("/v1/health").await
    }

    /// `GET /v1/ready`: the ready line (endpoints of every DC, the CA).
    pub async fn ready(&self) -> Result<Response, Error> {
        self.get("/v1/ready").await
    }

    /// `GET /v1/clock` ([`Clock`]).
    pub async fn clock(&self) -> Result<Response, Error> {
        self.get("/v1/clock").await
    }

    /// Moves the simulated clock by signed seconds ([`Clock`]).
    pub async fn advance_clock(&self, seconds: i64) -> Result<Response, Error> {
        self.post("/v1/clock", json!({ "advance_seconds": seconds }))
            .await
    }

    /// Sets the simulated clock to an RFC 3339 instant ([`Clock`]).
    pub async fn set_clock(&self, rfc3339: &str) -> Result<Response, Error> {
        self.post("/v1/clock", json!({ "set": rfc3339 })).await
    }

    /// `GET /v1/policies`: the DC's LDAP signing and channel binding policies.
    pub async fn policies(&self) -> Result<Response, Error> {
        self.get("/v1/policies").await
    }

    /// `PUT /v1/policies`: changes the named policies (`ldap_signing`: `none`|`required`,
    /// `channel_binding`: `never`|`when-supported`|`always`) for the binds that follow.
    pub async fn set_policies(
        &self,
        ldap_signing: Option<&str>,
        channel_binding: Option<&str>,
    ) -> Result<Response, Error> {
        let mut change = serde_json::Map::new();
        if let Some(v) = ldap_signing {
            change.insert("ldap_signing".into(), json!(v));
        }
        if let Some(v) = channel_binding {
            change.insert("channel_binding".into(), json!(v));
        }
        self.request(
            "PUT",
            "/v1/policies",
            Some(&serde_json::Value::Object(change).to_string()),
        )
        .await?
        .success()
    }

    /// `GET /v1/domains/{domain}/kerberos-policy`: the domain's Default Domain Policy's
    /// [Kerberos Policy] (MaxTicketAge hours, MaxRenewAge days, MaxServiceAge and MaxClockSkew
    /// minutes, TicketValidateClient).
    pub async fn kerberos_policy(&self, domain: &str) -> Result<Response, Error> {
        self.get(&format!("/v1/domains/{domain}/kerberos-policy")).await
    }

    /// `PUT /v1/domains/{domain}/kerberos-policy`: changes the settings `changes` names
    /// (`{"MaxTicketAge": 1}`); the KDC applies them at its next request.
    pub async fn set_kerberos_policy(
        &self,
        domain: &str,
        changes: &serde_json::Value,
    ) -> Result<Response, Error> {
        self.request(
            "PUT",
            &format!("/v1/domains/{domain}/kerberos-policy"),
            Some(&changes.to_string()),
        )
        .await?
        .success()
    }

    /// Add-KdsRootKey: `effective` is `immediately` or an RFC 3339 instant ([`Created`]).
    pub async fn add_root_key(&self, effective: &str) -> Result<Response, Error> {
        self.post("/v1/kds/root-keys", json!({ "effective": effective }))
            .await
    }

    /// krb5.conf for the forest, with extra `[libdefaults]` relations.
    pub async fn krb5_conf(&self, relations: &[(&str, &str)]) -> Result<Response, Error> {
        let query: Vec<String> = relations
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect();
        if query.is_empty() {
            self.get("/v1/krb5.conf").await
        } else {
            self.get(&format!("/v1/krb5.conf?{}", query.join("&"))).await
        }
    }

    /// The directory as LDIF.
    pub async fn export_ldif(&self) -> Result<Response, Error> {
        self.get("/v1/export.ldif").await
    }

    /// An MIT keytab with every key of `principal`.
    pub async fn keytab(&self, principal: &str) -> Result<Response, Error> {
        self.get(&format!("/v1/keytab?principal={}", encode_component(principal)))
            .await
    }

    /// `GET /v1/snapshots`.
    pub async fn snapshots(&self) -> Result<Response, Error> {
        self.get("/v1/snapshots").await
    }

    /// Takes a snapshot ([`Created`]), also written by the server to `path` when given.
    pub async fn create_snapshot(&self, path: Option<&str>) -> Result<Response, Error> {
        let body = match path {
            Some(p) => json!({ "path": p }),
            None => json!({}),
        };
        self.post("/v1/snapshots", body).await
    }

    /// Puts the forest back as it was when snapshot `id` was taken.
    pub async fn restore_snapshot(&self, id: &str) -> Result<Response, Error> {
        self.post(
            &format!("/v1/snapshots/{}/restore", encode_component(id)),
            json!({}),
        )
        .await
    }

    /// Forgets snapshot `id`.
    pub async fn delete_snapshot(&self, id: &str) -> Result<Response, Error> {
        let r = self
            .request("DELETE", &format!("/v1/snapshots/{}", encode_component(id)), None)
            .await?;
        r.success()
    }

    /// Puts the forest back as it was right after start.
    pub async fn reset(&self) -> Result<Response, Error> {
        self.post("/v1/reset", json!({})).await
    }

    /// Runs SDProp now (`POST /v1/sdprop`): members of the protected groups get adminCount=1
    /// and AdminSDHolder's DACL. Answers `{"protected": N, "updated": M}`.
    pub async fn sdprop(&self) -> Result<Response, Error> {
        self.post("/v1/sdprop", json!({})).await
    }

    /// `POST /v1/cmdlets/{name}`: one cmdlet with named and positional parameters, on `host`
    /// (the member host it runs on) or none. Any status: a PowerShell error is a 422 whose
    /// `error_record` is the record ([`CmdletAnswer::from_response`]).
    pub async fn cmdlet(
        &self,
        name: &str,
        parameters: &serde_json::Map<String, serde_json::Value>,
        positional: &[serde_json::Value],
        host: Option<&str>,
    ) -> Result<Response, Error> {
        let mut body = json!({ "parameters": parameters, "positional": positional });
        if let Some(h) = host {
            body["host"] = json!(h);
        }
        self.request(
            "POST",
            &format!("/v1/cmdlets/{}", encode_component(name)),
            Some(&body.to_string()),
        )
        .await
    }

    /// `GET /v1/hosts`: the member hosts seen, their ticket caches and installed accounts.
    pub async fn hosts(&self) -> Result<Response, Error> {
        self.get("/v1/hosts").await
    }

    /// `klist -lh 0 -li 0x3e7 purge` on `host`.
    pub async fn klist_purge(&self, host: &str) -> Result<Response, Error> {
        self.post(
            &format!("/v1/hosts/{}/klist-purge", encode_component(host)),
            json!({}),
        )
        .await
    }

    /// Reboots `host` (its ticket cache is empty afterwards).
    pub async fn restart_host(&self, host: &str) -> Result<Response, Error> {
        self.post(
            &format!("/v1/hosts/{}/restart", encode_component(host)),
            json!({}),
        )
        .await
    }

    /// `GET /v1/events?after=N`: the DC's event log records after record id `after`.
    pub async fn events(&self, after: u64) -> Result<Response, Error> {
        self.get(&format!("/v1/events?after={after}")).await
    }
}

/// The innermost cause of an error (`Connection refused (os error 111)`), not reqwest's
/// "error sending request for url …" wrapping.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Percent-encodes everything but RFC 3986 unreserved characters (a path segment or a query
/// name or value).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn urls() {
        let c = Client::new("http://127.0.0.1:8389").unwrap();
        assert_eq!(
            (c.authority.as_str(), c.base.as_str()),
            ("127.0.0.1:8389", "http://127.0.0.1:8389")
        );
        let c = Client::new("http://127.0.0.1:8389/").unwrap();
        assert_eq!(
            (c.authority.as_str(), c.base.as_str()),
            ("127.0.0.1:8389", "http://127.0.0.1:8389")
        );
        let c = Client::new("http://[::1]/adsim/").unwrap();
        assert_eq!(
            (c.authority.as_str(), c.base.as_str()),
            ("[::1]:80", "http://[::1]:80/adsim")
        );
        assert!(matches!(Client::new("https://x"), Err(Error::NotHttp(_))));
        assert!(matches!(Client::new("http:///v1"), Err(Error::NoHost(_))));
    }

    #[test]
    fn encoding() {
        assert_eq!(encode_component("WEB01$@CORP"), "WEB01%24%40CORP");
        assert_eq!(encode_component("HTTP/a b"), "HTTP%2Fa%20b");
        assert_eq!(encode_component("HTTP/web01$@X"), "HTTP%2Fweb01%24%40X");
    }

    /// Serves `raw` as the whole answer to one request, then closes; returns what the client
    /// made of it.
    async fn answer_with(raw: &'static [u8]) -> Result<Response, Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let _ = s.read(&mut buf).await;
            s.write_all(raw).await.unwrap();
            s.shutdown().await.unwrap();
        });
        let r = Client::new(&url).unwrap().request("GET", "/v1/x", None).await;
        server.await.unwrap();
        r
    }

    #[tokio::test]
    async fn reads_length_and_chunked_bodies_of_any_status() {
        let r = answer_with(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi")
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hi"[..]));
        let r = answer_with(b"HTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\n{}xx")
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, &b"{}xx"[..]));
        let r = answer_with(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abcd"[..]));
        let r = answer_with(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
        assert_eq!(r.body, b"abcde");
    }

    #[tokio::test]
    async fn refuses_truncated_or_malformed_answers() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhi",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"garbage\r\n\r\n",
        ] {
            let r = answer_with(raw).await;
            assert!(
                matches!(r, Err(Error::Transport { .. })),
                "{:?}: {r:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[tokio::test]
    async fn typed_calls_turn_error_answers_into_the_servers_message() {
        let e = answer_with(
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 35\r\n\r\n{\"error\":\"no account named ghost$\"}",
        )
        .await
        .unwrap()
        .success()
        .unwrap_err();
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.to_string(), "control API answered 404: no account named ghost$");
    }

    #[tokio::test]
    async fn an_absent_server_is_unreachable() {
        // A port just freed: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = Client::new(&format!("http://127.0.0.1:{port}"))
            .unwrap()
            .health()
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("cannot reach the control API at 127.0.0.1:{port}: ")),
            "{e}"
        );
    }
}
