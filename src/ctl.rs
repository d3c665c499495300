//! `adsim ctl` and `adsim export`: command-line clients of the control API. The HTTP client is
//! a minimal HTTP/1.1 exchange over a TCP stream (one request per connection): it only ever
//! talks to adsim's own control listener.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Where the control API is.
#[derive(Args, Clone)]
pub struct UrlArg {
    /// Base URL of the control API (the ready line's `control_url`).
    #[arg(long, env = "ADSIM_CONTROL_URL", global = true)]
    url: Option<String>,
}

#[derive(Args)]
pub struct CtlArgs {
    #[command(flatten)]
    url: UrlArg,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Subcommand)]
enum CtlCommand {
    /// Is the server up?
    Health,
    /// Show the simulated clock, or move it (--advance) or set it (--set).
    Clock {
        /// Move the clock by a duration: 30d, 12h, 300s, -6m, 2w (a bare number is seconds).
        #[arg(long, allow_hyphen_values = true, conflicts_with = "set")]
        advance: Option<String>,
        /// Set the clock to an RFC 3339 instant.
        #[arg(long)]
        set: Option<String>,
    },
    /// Add a KDS root key (Add-KdsRootKey) and print its id.
    RootKey {
        /// `immediately`, or the RFC 3339 instant the key becomes usable.
        #[arg(long)]
        effective: String,
    },
    /// Take a snapshot of the whole forest and print its id.
    Snapshot {
        /// Also write it to this new file, for `adsim serve --from-snapshot` (it holds every
        /// secret of the forest: downloaded and written here, mode 0600; an existing file is
        /// refused).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List the snapshots the server holds.
    Snapshots,
    /// Put the forest back exactly as it was when snapshot ID was taken.
    Restore {
        /// A snapshot id, e.g. `snap-1`.
        id: String,
    },
    /// Put the forest back as it was right after start (fixtures included).
    Reset,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    url: UrlArg,
    #[command(subcommand)]
    command: ExportCommand,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// An MIT keytab with every key of an account (all etypes, current and previous).
    Keytab {
        /// sAMAccountName (`alice`, `WEB01$`), UPN or SPN, optionally `@REALM`.
        #[arg(long)]
        principal: String,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The whole directory as LDIF (RFC 2849), deterministic, without secrets.
    Ldif {
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// krb5.conf for the forest's realms and KDCs.
    Krb5Conf {
        /// Extra [libdefaults] relation, e.g. `--set kdc_timesync=0` (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub async fn ctl(args: CtlArgs) -> anyhow::Result<()> {
    let base = ControlUrl::from_arg(&args.url)?;
    let response = match args.command {
        CtlCommand::Health => base.request("GET", "/v1/health", None).await?,
        CtlCommand::Clock { advance, set } => match (advance, set) {
            (None, None) => base.request("GET", "/v1/clock", None).await?,
            (Some(d), None) => {
                let secs = parse_duration(&d)?;
                let body = serde_json::json!({ "advance_seconds": secs });
                base.request("POST", "/v1/clock", Some(&body)).await?
            }
            (None, Some(t)) => {
                let body = serde_json::json!({ "set": t });
                base.request("POST", "/v1/clock", Some(&body)).await?
            }
            (Some(_), Some(_)) => bail!("give --advance or --set, not both"),
        },
        CtlCommand::RootKey { effective } => {
            let body = serde_json::json!({ "effective": effective });
            base.request("POST", "/v1/kds/root-keys", Some(&body)).await?
        }
        CtlCommand::Snapshot { out } => {
            if let Some(p) = out.as_deref().filter(|p| p.symlink_metadata().is_ok()) {
                bail!(
                    "--out {}: the file already exists (snapshot files are never overwritten)",
                    p.display()
                );
            }
            let taken = base
                .request("POST", "/v1/snapshots", Some(&serde_json::json!({})))
                .await?;
            match out {
                Some(p) => save_snapshot(&base, &taken, &p).await?,
                None => taken,
            }
        }
        CtlCommand::Snapshots => base.request("GET", "/v1/snapshots", None).await?,
        CtlCommand::Restore { id } => {
            let path = format!("/v1/snapshots/{}/restore", percent_encode(&id));
            base.request("POST", &path, Some(&serde_json::json!({}))).await?
        }
        CtlCommand::Reset => {
            base.request("POST", "/v1/reset", Some(&serde_json::json!({})))
                .await?
        }
    };
    println!("{}", String::from_utf8_lossy(&response).trim_end());
    Ok(())
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let base = ControlUrl::from_arg(&args.url)?;
    let (bytes, out) = match args.command {
        ExportCommand::Keytab { principal, out } => {
            let path = format!("/v1/keytab?principal={}", percent_encode(&principal));
            (base.request("GET", &path, None).await?, out)
        }
        ExportCommand::Ldif { out } => (base.request("GET", "/v1/export.ldif", None).await?, out),
        ExportCommand::Krb5Conf { set, out } => {
            let mut query = Vec::new();
            for relation in &set {
                let (k, v) = relation
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--set {relation:?}: expected NAME=VALUE"))?;
                query.push(format!("{}={}", percent_encode(k), percent_encode(v)));
            }
            let path = if query.is_empty() {
                "/v1/krb5.conf".to_string()
            } else {
                format!("/v1/krb5.conf?{}", query.join("&"))
            };
            (base.request("GET", &path, None).await?, out)
        }
    };
    match out {
        Some(path) => std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}

/// Downloads the snapshot `taken` (`POST /v1/snapshots`'s answer) names and writes it to the
/// new file `out` (mode 0600, never over an existing file); the answer gains `"path"`.
async fn save_snapshot(base: &ControlUrl, taken: &[u8], out: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let mut answer: serde_json::Value = serde_json::from_slice(taken).context("POST /v1/snapshots answer")?;
    let id = answer["id"]
        .as_str()
        .ok_or_else(|| anyhow!("POST /v1/snapshots answered no id"))?;
    let bytes = base
        .request("GET", &format!("/v1/snapshots/{}/file", percent_encode(id)), None)
        .await?;
    let path = std::path::absolute(out).with_context(|| format!("--out {}", out.display()))?;
    adsim_simulator::snapshot::file::write_new(&path, &bytes)?;
    answer["path"] = path.to_string_lossy().into();
    Ok(answer.to_string().into_bytes())
}

/// `+6m`, `-6m`, `30d`, `12h`, `300s`, `2w` or bare seconds, as signed seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let (digits, unit) = match rest.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => rest.split_at(i),
        None => (rest, "s"),
    };
    let scale: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => bail!("duration {text:?}: unit must be s, m, h, d or w"),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| anyhow!("duration {text:?}: expected a number then a unit, e.g. 30d"))?;
    n.checked_mul(scale)
        .map(|v| v * sign)
        .ok_or_else(|| anyhow!("duration {text:?} is too large"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
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

/// `http://host:port[/prefix]`.
struct ControlUrl {
    authority: String,
    prefix: String,
}

impl ControlUrl {
    fn from_arg(arg: &UrlArg) -> anyhow::Result<ControlUrl> {
        let url = arg.url.as_deref().ok_or_else(|| {
            anyhow!("no control URL: pass --url (the ready line's control_url) or set ADSIM_CONTROL_URL")
        })?;
        ControlUrl::parse(url)
    }

    fn parse(url: &str) -> anyhow::Result<ControlUrl> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("control URL {url:?} must start with http://"))?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            bail!("control URL {url:?} has no host");
        }
        // Without a port, HTTP's default (an IPv6 literal ends in ']').
        let authority = if authority.ends_with(']') || !authority.contains(':') {
            format!("{authority}:80")
        } else {
            authority.to_string()
        };
        Ok(ControlUrl {
            authority,
            prefix: prefix.to_string(),
        })
    }

    /// Sends one request; a 2xx answer gives its body, anything else an error with the
    /// server's `{"error": …}` message.
    async fn request(
        &self,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> anyhow::Result<Vec<u8>> {
        let exchange = async {
            let mut stream = TcpStream::connect(&self.authority)
                .await
                .with_context(|| format!("cannot reach the control API at {}", self.authority))?;
            let body = json.map(|j| j.to_string()).unwrap_or_default();
            let mut head = format!(
                "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: */*\r\n",
                self.prefix, self.authority
            );
            if json.is_some() {
                head.push_str("Content-Type: application/json\r\n");
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await?;
            anyhow::Ok(raw)
        };
        let raw = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| anyhow!("the control API did not answer within {TIMEOUT:?}"))??;
        let (status, body) = parse_response(&raw)?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        bail!("control API answered {status}: {message}")
    }
}

/// Status code and body of an HTTP/1.1 response read to the end of the connection.
fn parse_response(raw: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("truncated HTTP response"))?;
    let head = std::str::from_utf8(&raw[..split]).context("HTTP response head is not text")?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("malformed HTTP status line"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else {
        match length {
            Some(n) if n <= body.len() => body[..n].to_vec(),
            Some(_) => bail!("HTTP body shorter than its Content-Length"),
            None => body.to_vec(),
        }
    };
    Ok((status, body))
}

/// Decodes a chunked body (RFC 9112 §7.1).
fn dechunk(mut data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow!("truncated chunk size"))?;
        let size_text = std::str::from_utf8(&data[..eol])?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).context("bad chunk size")?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_duration("12h").unwrap(), 43_200);
        assert_eq!(parse_duration("300s").unwrap(), 300);
        assert_eq!(parse_duration("-6m").unwrap(), -360);
        assert_eq!(parse_duration("+6m").unwrap(), 360);
        assert_eq!(parse_duration("2w").unwrap(), 14 * 86_400);
        assert_eq!(parse_duration("45").unwrap(), 45);
        for bad in ["", "d", "6y", "1.5h", "--6m", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        let u = ControlUrl::parse("http://127.0.0.1:8389").unwrap();
        assert_eq!((u.authority.as_str(), u.prefix.as_str()), ("127.0.0.1:8389", ""));
        let u = ControlUrl::parse("http://[::1]/adsim/").unwrap();
        assert_eq!((u.authority.as_str(), u.prefix.as_str()), ("[::1]:80", "/adsim"));
        assert!(ControlUrl::parse("https://x").is_err());
        assert!(ControlUrl::parse("http:///v1").is_err());
    }

    #[test]
    fn responses() {
        let (s, b) = parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi").unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"hi"[..]));
        let (s, b) = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((s, b.as_slice()), (404, &b"abcd"[..]));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhi").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
    }

    #[test]
    fn encoding() {
        assert_eq!(percent_encode("WEB01$@CORP"), "WEB01%24%40CORP");
        assert_eq!(percent_encode("HTTP/a b"), "HTTP%2Fa%20b");
    }
}
