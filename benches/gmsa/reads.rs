//! The measured reads: a base-object search of the gMSA for one attribute, in closed loops for
//! throughput, and one at a time around clock moves for the rollover latency.

use crate::control;
use crate::entry;
use crate::lab::{self, GMSA_SAM};
use crate::tls::LdapsConn;
use crate::wire::{self, Scope};
use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

/// The attribute a read asks for.
#[derive(Clone, Copy, Debug)]
pub enum Attr {
    /// The constructed password blob: an access check on the membership descriptor, then the
    /// GKDI derivation of the password (docs/notes/gmsa-gkdi.md §5).
    ManagedPassword,
    /// A stored attribute of the same entry: the baseline.
    SamAccountName,
}

impl Attr {
    pub fn name(self) -> &'static str {
        match self {
            Attr::ManagedPassword => "msDS-ManagedPassword",
            Attr::SamAccountName => "sAMAccountName",
        }
    }

    /// A cheap check of every answer: the value must be there and look right.
    fn check(self, value: &[u8]) -> Result<()> {
        let ok = match self {
            // 290 bytes without a previous password, 548 with one (MS-ADTS 2.2.19: 16-byte
            // header, 256-byte passwords each with a 2-byte terminator, two 8-byte intervals).
            Attr::ManagedPassword => value.len() >= 290,
            Attr::SamAccountName => value == GMSA_SAM.as_bytes(),
        };
        if !ok {
            bail!("unexpected {} value ({} bytes)", self.name(), value.len());
        }
        Ok(())
    }
}

/// One read of `attr` from the gMSA entry; returns the value.
pub async fn read(conn: &mut LdapsConn, attr: Attr) -> Result<Vec<u8>> {
    let mut value = None;
    let entries = conn
        .search_each(
            &lab::gmsa_dn(),
            Scope::Base,
            &wire::filter_present("objectClass"),
            &[attr.name()],
            |pdu| {
                value = Some(entry::single(pdu, attr.name())?.to_vec());
                Ok(())
            },
        )
        .await
        .with_context(|| format!("reading {}", attr.name()))?;
    match value {
        Some(v) if entries == 1 => {
            attr.check(&v)?;
            Ok(v)
        }
        _ => bail!(
            "{} entries for the gMSA, expected 1 with {}",
            entries,
            attr.name()
        ),
    }
}

pub struct Window {
    pub warmup: Duration,
    pub measure: Duration,
}

/// Reads per second of `attr` by the given bound connections, each sending one search at a
/// time. Only reads that start after the warm-up and finish inside the window count. The
/// connections are handed back for the next case.
pub async fn throughput(conns: Vec<LdapsConn>, attr: Attr, window: &Window) -> Result<(Vec<LdapsConn>, f64)> {
    let barrier = Arc::new(Barrier::new(conns.len()));
    let (warmup, measure) = (window.warmup, window.measure);
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let count_from = Instant::now() + warmup;
                let end = count_from + measure;
                let mut counted = 0u64;
                loop {
                    let started = Instant::now();
                    if started >= end {
                        break;
                    }
                    read(&mut conn, attr).await?;
                    if started >= count_from && Instant::now() <= end {
                        counted += 1;
                    }
                }
                anyhow::Ok((conn, counted))
            })
        })
        .collect();
    let mut conns = Vec::new();
    let mut total = 0;
    for task in tasks {
        let (conn, counted) = task.await??;
        conns.push(conn);
        total += counted;
    }
    Ok((conns, total as f64 / measure.as_secs_f64()))
}

/// Latency samples around clock moves.
#[derive(Default)]
pub struct Latencies {
    /// The first msDS-ManagedPassword read after each move: it rolls the password over.
    pub rollover: Vec<Duration>,
    /// The msDS-ManagedPassword read right after that one (no rollover due).
    pub steady: Vec<Duration>,
    /// A sAMAccountName read of the same entry right after that.
    pub plain: Vec<Duration>,
}

/// The gMSA's default `msDS-ManagedPasswordInterval` (30 days), in seconds.
pub const INTERVAL_SECONDS: u64 = 30 * 86_400;

async fn timed(conn: &mut LdapsConn, attr: Attr) -> Result<(Vec<u8>, Duration)> {
    let started = Instant::now();
    let value = read(conn, attr).await?;
    Ok((value, started.elapsed()))
}

/// `cycles` times: move the clock 30 days on (past the end of the current password's
/// interval), then time the first password read (which rolls over), a second password read and a
/// sAMAccountName read, all on `conn`. Every rollover is checked: a new current password, the
/// old one now the previous.
pub async fn rollover_latencies(
    conn: &mut LdapsConn,
    control: SocketAddr,
    cycles: usize,
) -> Result<Latencies> {
    let mut samples = Latencies::default();
    let mut before = lab::blob(&read(conn, Attr::ManagedPassword).await?)?;
    for cycle in 0..cycles {
        control::advance_clock(control, INTERVAL_SECONDS).await?;
        let (value, took) = timed(conn, Attr::ManagedPassword).await?;
        let after = lab::blob(&value)?;
        if after.current == before.current || after.previous.as_ref() != Some(&before.current) {
            bail!("cycle {cycle}: the first read after +30 days did not roll the password over");
        }
        samples.rollover.push(took);
        let (value, took) = timed(conn, Attr::ManagedPassword).await?;
        if lab::blob(&value)?.current != after.current {
            bail!("cycle {cycle}: the password changed again without a clock move");
        }
        samples.steady.push(took);
        let (_, took) = timed(conn, Attr::SamAccountName).await?;
        samples.plain.push(took);
        before = after;
    }
    Ok(samples)
}
