//! Closed-loop load: N client threads, each with its own user, sending one exchange at a time
//! for a fixed window and counting the answered ones. Both KDCs get the same stream: the same
//! principals, enctypes and options, and the same nonce sequence per client.

use crate::client::{self, Kdc, Tgt, User};
use adsim_simulator::kdc::messages::PrincipalName;
use anyhow::{anyhow, Context, Result};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// What each request is.
#[derive(Clone, Copy, Debug)]
pub enum Exchange {
    /// AS-REQ with PA-ENC-TIMESTAMP (AES256) for a TGT.
    As,
    /// TGS-REQ with the client's TGT for the service ticket.
    Tgs,
}

pub struct Window {
    pub warmup: Duration,
    pub measure: Duration,
}

/// One client's identity at one KDC: its user and the TGT it got there.
pub struct Client<'a> {
    pub user: &'a User,
    pub tgt: Tgt,
}

/// Reply sizes seen while logging on, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct ReplySizes {
    pub as_rep: usize,
    pub tgs_rep: usize,
}

/// Logs every client on (one AS exchange each, for the TGTs the TGS rows use) and gets one
/// service ticket with each TGT: a first check that the KDC knows every principal.
pub fn log_on<'a>(
    kdc: Kdc,
    users: &'a [User],
    service: &PrincipalName,
) -> Result<(Vec<Client<'a>>, ReplySizes)> {
    let mut sizes = None;
    let mut clients = Vec::new();
    for user in users {
        let tgt = client::as_exchange(kdc, user, 1)?;
        let tgs_rep = client::tgs_exchange(kdc, &tgt, service, 2)?;
        sizes.get_or_insert(ReplySizes {
            as_rep: tgt.reply_len,
            tgs_rep,
        });
        clients.push(Client { user, tgt });
    }
    let sizes = sizes.ok_or_else(|| anyhow!("no users"))?;
    Ok((clients, sizes))
}

/// Exchanges per second answered for `clients[..n]`, each sending one at a time. Only exchanges
/// that start after the warm-up and finish inside the window count.
pub fn throughput(
    kdc: Kdc,
    exchange: Exchange,
    clients: &[Client],
    n: usize,
    service: &PrincipalName,
    window: &Window,
) -> Result<f64> {
    let clients = clients
        .get(..n)
        .ok_or_else(|| anyhow!("only {} clients", clients.len()))?;
    let barrier = Barrier::new(n);
    let counts: Vec<Result<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let barrier = &barrier;
                scope.spawn(move || -> Result<u64> {
                    // Nonces: the client's number in the top byte, a counter below it.
                    let mut nonce = (i as u32 + 1) << 24;
                    barrier.wait();
                    let count_from = Instant::now() + window.warmup;
                    let end = count_from + window.measure;
                    let mut counted = 0;
                    loop {
                        let started = Instant::now();
                        if started >= end {
                            break;
                        }
                        nonce += 1;
                        match exchange {
                            Exchange::As => client::as_exchange(kdc, c.user, nonce).map(drop),
                            Exchange::Tgs => client::tgs_exchange(kdc, &c.tgt, service, nonce).map(drop),
                        }
                        .with_context(|| format!("client {i}, {exchange:?} exchange"))?;
                        if started >= count_from && Instant::now() <= end {
                            counted += 1;
                        }
                    }
                    Ok(counted)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("client thread panicked")))
            })
            .collect()
    });
    let mut total = 0;
    for count in counts {
        total += count?;
    }
    Ok(total as f64 / window.measure.as_secs_f64())
}
