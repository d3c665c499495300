//! The one control-API call the benchmark makes: `POST /v1/clock {"advance_seconds": N}`, which
//! moves adsim's simulated clock (what `adsim ctl clock --advance` sends), through the
//! harness's control-API client.

use adsim_harness::control::{Client, Clock};
use anyhow::Result;
use std::net::SocketAddr;

/// Moves the clock forward by `seconds`; returns the new simulated time (RFC 3339).
pub async fn advance_clock(control: SocketAddr, seconds: u64) -> Result<String> {
    let api = Client::new(&format!("http://{control}"))?;
    let clock: Clock = api.advance_clock(i64::try_from(seconds)?).await?.parse()?;
    Ok(clock.now)
}
