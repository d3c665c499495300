//! What the benchmark asks of a server: load the users, then run closed-loop clients (searches,
//! modifies, adds) for a fixed time and count the answers.

use crate::conn::Conn;
use crate::servers::Server;
use crate::wire::{self, Scope};
use anyhow::{bail, Context, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

pub const USERS: usize = 10_000;

/// The two directories name and shape the same users differently.
#[derive(Clone, Copy, Debug)]
pub enum Dialect {
    /// AD: `CN=userNNNNN,CN=Users,<domain>`, class user, found by sAMAccountName.
    Adsim,
    /// OpenLDAP: `uid=userNNNNN,ou=people,<suffix>`, class inetOrgPerson, found by uid.
    Slapd,
}

/// An entry's attributes for an AddRequest: names and their values.
type Attributes = Vec<(&'static str, Vec<String>)>;

fn user_name(i: usize) -> String {
    format!("user{i:05}")
}

impl Dialect {
    pub fn key_attribute(self) -> &'static str {
        match self {
            Dialect::Adsim => "sAMAccountName",
            Dialect::Slapd => "uid",
        }
    }

    fn user_dn(self, base: &str, name: &str) -> String {
        match self {
            Dialect::Adsim => format!("CN={name},CN=Users,{base}"),
            Dialect::Slapd => format!("uid={name},ou=people,{base}"),
        }
    }

    fn user_attributes(self, name: &str) -> Attributes {
        match self {
            // adsim fills in the rest as AD does (cn from the RDN, SID, GUID, UAC, …).
            Dialect::Adsim => vec![
                ("objectClass", vec!["user".into()]),
                ("sAMAccountName", vec![name.into()]),
            ],
            Dialect::Slapd => vec![
                (
                    "objectClass",
                    ["top", "person", "organizationalPerson", "inetOrgPerson"]
                        .map(String::from)
                        .to_vec(),
                ),
                ("uid", vec![name.into()]),
                ("cn", vec![name.into()]),
                ("sn", vec![name.into()]),
            ],
        }
    }

    /// Entries that must exist before the users: an empty slapd has not even its suffix entry.
    fn parents(self, base: &str) -> Vec<(String, Attributes)> {
        match self {
            Dialect::Adsim => Vec::new(),
            Dialect::Slapd => vec![
                (
                    base.to_string(),
                    vec![
                        (
                            "objectClass",
                            ["top", "dcObject", "organization"].map(String::from).to_vec(),
                        ),
                        ("dc", vec!["corp".into()]),
                        ("o", vec!["corp".into()]),
                    ],
                ),
                (
                    format!("ou=people,{base}"),
                    vec![
                        ("objectClass", vec!["organizationalUnit".into()]),
                        ("ou", vec!["people".into()]),
                    ],
                ),
            ],
        }
    }

    fn user_search_attributes(self) -> [&'static str; 2] {
        ["cn", self.key_attribute()]
    }
}

async fn bound(server: &Server) -> Result<Conn> {
    let mut conn = Conn::connect(server.addr).await?;
    conn.bind(&server.bind_dn, &server.password).await?;
    Ok(conn)
}

/// Adds the users over LDAP from `conns` bound connections; returns the time it took.
pub async fn load_users(server: &Server, dialect: Dialect, conns: usize) -> Result<Duration> {
    let mut admin = bound(server).await?;
    for (dn, attrs) in dialect.parents(&server.base) {
        admin.add(&dn, &attrs).await?;
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..conns {
        let mut conn = bound(server).await?;
        let base = server.base.clone();
        tasks.push(tokio::spawn(async move {
            for i in (worker..USERS).step_by(conns) {
                let name = user_name(i);
                let dn = dialect.user_dn(&base, &name);
                conn.add(&dn, &dialect.user_attributes(&name)).await?;
            }
            conn.unbind().await;
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    // The searches measured later must find exactly one entry per user, and none for a stranger.
    for (name, expected) in [
        (user_name(0), 1),
        (user_name(USERS - 1), 1),
        ("nobody".to_string(), 0),
    ] {
        let filter = wire::filter_equality(dialect.key_attribute(), &name);
        let found = admin
            .search(&server.base, Scope::Subtree, &filter, &["cn"])
            .await?;
        if found != expected {
            bail!("search for {name} found {found} entries, expected {expected}");
        }
    }
    admin.unbind().await;
    Ok(elapsed)
}

/// The operations whose throughput is measured.
#[derive(Clone, Copy, Debug)]
pub enum Query {
    /// Base-object search of the rootDSE for two attributes every server has.
    RootDse,
    /// Subtree search from the naming context for one random user by an indexed attribute.
    UserByKey,
    /// Replace the `description` of one random user (both classes allow it: AD's user, and
    /// inetOrgPerson through person, RFC 4519 §2.5).
    ModifyDescription,
    /// Add one more user shaped as the loaded ones, with a name never used before.
    AddUser,
}

/// Users added by [`Query::AddUser`] are numbered across the whole run, so no name repeats
/// between rounds, connections or servers.
static EXTRA_USERS: AtomicU64 = AtomicU64::new(0);

/// xorshift64 (Marsaglia 2003): spreads the user numbers; quality hardly matters here.
struct Picker(u64);

impl Picker {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % USERS as u64) as usize
    }
}

pub struct Window {
    pub warmup: Duration,
    pub measure: Duration,
}

/// Requests per second completed by `conns` bound connections, each sending one search at a time.
/// Only searches that start after the warm-up and finish inside the window count.
pub async fn throughput(
    server: &Server,
    dialect: Dialect,
    query: Query,
    conns: usize,
    window: &Window,
) -> Result<f64> {
    let barrier = Arc::new(Barrier::new(conns));
    let mut tasks = Vec::new();
    for worker in 0..conns {
        let mut conn = bound(server).await?;
        let barrier = barrier.clone();
        let base = server.base.clone();
        let (warmup, measure) = (window.warmup, window.measure);
        tasks.push(tokio::spawn(async move {
            let mut picker = Picker(0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(worker as u64 + 1));
            let root_filter = wire::filter_present("objectClass");
            barrier.wait().await;
            let count_from = Instant::now() + warmup;
            let end = count_from + measure;
            let mut counted = 0u64;
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let entries = match query {
                    Query::ModifyDescription => {
                        let dn = dialect.user_dn(&base, &user_name(picker.next()));
                        let value = format!("changed {counted} by {worker}");
                        conn.modify_replace(&dn, "description", &[value.as_bytes()])
                            .await?;
                        1
                    }
                    Query::AddUser => {
                        let name = format!("x{}", EXTRA_USERS.fetch_add(1, Ordering::Relaxed));
                        let dn = dialect.user_dn(&base, &name);
                        conn.add(&dn, &dialect.user_attributes(&name)).await?;
                        1
                    }
                    Query::RootDse => {
                        conn.search(
                            "",
                            Scope::Base,
                            &root_filter,
                            &["namingContexts", "supportedLDAPVersion"],
                        )
                        .await?
                    }
                    Query::UserByKey => {
                        let name = user_name(picker.next());
                        let filter = wire::filter_equality(dialect.key_attribute(), &name);
                        conn.search(&base, Scope::Subtree, &filter, &dialect.user_search_attributes())
                            .await
                            .with_context(|| format!("search for {name}"))?
                    }
                };
                if entries != 1 {
                    bail!("{query:?} returned {entries} entries, expected 1");
                }
                if started >= count_from && Instant::now() <= end {
                    counted += 1;
                }
            }
            conn.unbind().await;
            anyhow::Ok(counted)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total as f64 / window.measure.as_secs_f64())
}
