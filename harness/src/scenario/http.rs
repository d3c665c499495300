//! A minimal HTTP/1.1 client for adsim's control API: one request per connection
//! (`Connection: close`), JSON or binary bodies, `Content-Length` or chunked replies.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_BODY: usize = 64 << 20;

/// An answer: status and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("control API answered non-JSON: {e}"))
    }

    /// The `error` of an error answer, or the body as text.
    pub fn error_text(&self) -> String {
        self.json()
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The control API at a base URL `http://host:port[/prefix]`.
#[derive(Debug, Clone)]
pub struct ControlClient {
    host_port: String,
    prefix: String,
}

impl ControlClient {
    pub fn new(url: &str) -> Result<ControlClient, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?}: the control API URL must start with http://"))?;
        let (host_port, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if host_port.is_empty() {
            return Err(format!("{url:?}: no host"));
        }
        let host_port = if host_port.contains(':') && !host_port.ends_with(']') {
            host_port.to_string()
        } else {
            format!("{host_port}:80")
        };
        Ok(ControlClient {
            host_port,
            prefix: prefix.to_string(),
        })
    }

    pub async fn get(&self, path: &str) -> Result<Response, String> {
        self.request("GET", path, None).await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<Response, String> {
        self.request("POST", path, Some(body.to_string().into_bytes()))
            .await
    }

    async fn request(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Result<Response, String> {
        let target = format!("{}{}", self.prefix, path);
        let work = async {
            let mut s = TcpStream::connect(&self.host_port)
                .await
                .map_err(|e| format!("control API {}: {e}", self.host_port))?;
            let body = body.unwrap_or_default();
            let head = format!(
                "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: */*\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                self.host_port,
                body.len()
            );
            s.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
            s.write_all(&body).await.map_err(|e| e.to_string())?;
            let mut raw = Vec::new();
            s.take(MAX_BODY as u64)
                .read_to_end(&mut raw)
                .await
                .map_err(|e| e.to_string())?;
            parse_response(&raw)
        };
        tokio::time::timeout(TIMEOUT, work)
            .await
            .map_err(|_| format!("control API {}: no answer within {TIMEOUT:?}", self.host_port))?
            .map_err(|e| format!("{method} {target}: {e}"))
    }
}

/// Parses a whole HTTP/1.1 response (the server closed the connection after it).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("response without a header end")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            }
        }
    }
    let rest = &raw[split + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else {
        match length {
            Some(n) => rest
                .get(..n)
                .ok_or("response body shorter than Content-Length")?
                .to_vec(),
            None => rest.to_vec(),
        }
    };
    Ok(Response { status, body })
}

/// Chunked transfer coding (RFC 9112 §7.1), without trailers of interest.
fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&b[..eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(b.get(..size).ok_or("truncated chunk")?);
        b = b.get(size + 2..).ok_or("truncated chunk end")?;
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn encode_query_value(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
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

    #[test]
    fn parses_length_and_chunked_bodies() {
        let r = parse_response(b"HTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\n{}xx").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, &b"{}xx"[..]));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"abcde");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn urls_and_query_values() {
        let c = ControlClient::new("http://127.0.0.1:8389/").unwrap();
        assert_eq!((c.host_port.as_str(), c.prefix.as_str()), ("127.0.0.1:8389", ""));
        assert!(ControlClient::new("https://x").is_err());
        assert_eq!(encode_query_value("HTTP/web01$@X"), "HTTP%2Fweb01%24%40X");
    }
}
