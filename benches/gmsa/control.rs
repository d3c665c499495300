//! The one control-API call the benchmark makes: `POST /v1/clock {"advance_seconds": N}`, which
//! moves adsim's simulated clock (what `adsim ctl clock --advance` sends). Plain HTTP/1.1 with
//! `Connection: close`, so the answer ends where the stream ends.

use anyhow::{anyhow, bail, Context, Result};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Moves the clock forward by `seconds`; returns the new simulated time (RFC 3339).
pub async fn advance_clock(control: SocketAddr, seconds: u64) -> Result<String> {
    let body = format!("{{\"advance_seconds\": {seconds}}}");
    let request = format!(
        "POST /v1/clock HTTP/1.1\r\nHost: {control}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(control).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("no HTTP header in the control API's answer"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let answer = String::from_utf8_lossy(&raw[split + 4..]);
    if head.split(' ').nth(1) != Some("200") {
        bail!("POST /v1/clock: {head} {answer}");
    }
    let json: serde_json::Value = serde_json::from_str(&answer).context("clock answer")?;
    json["now"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no \"now\" in {answer}"))
}
