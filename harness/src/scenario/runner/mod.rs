//! Runs a scenario: starts (or attaches to) a forest, sets it up, carries out each step over
//! real sockets, checks its expectations and records what came back.
//!
//! [`Run`] carries the run's state; its steps are in `steps`, the forest's set-up in `populate`,
//! the checks of expectations in `expect`, and what a step observed in `observed`.

mod expect;
mod observed;
mod populate;
mod steps;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use adsim_simulator::security::Sid;
use adsim_simulator::server::{RunningForest, ServerConfig};
use rustls::ClientConfig;

use super::backend::{remote_snapshot, Backend, Endpoints};
use super::format::{Conn, Scenario, Scope, Step, Transport, ADMINISTRATOR};
use super::kerberos::Credential;
use super::ldap::{tls_config, Connection, Entry, Outcome};
use super::peer::{self, NameMap, PeerOptions};
use super::report::{PeerStep, PeerVerdict, ScenarioReport, StepReport, StepStatus};
use super::setup::{self, Principal};
use super::vars::Vars;
use crate::control::Client;
use observed::{describe_outcome, Kind, Observed};

/// How scenarios run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Base URL of a running adsim's control API; `None` starts a forest in process.
    pub against: Option<String>,
    /// With `against`: do not snapshot the server before each scenario and restore it after.
    pub keep_changes: bool,
    /// A differential run: every wire step also goes to this DC, and the answers are compared.
    pub peer: Option<PeerOptions>,
}

/// Reads and runs one scenario file; a file that cannot be read is a failed report.
pub async fn run_file(path: &std::path::Path, options: &RunOptions) -> ScenarioReport {
    match Scenario::from_file(path) {
        Ok(s) => run(&s, options).await,
        Err(e) => ScenarioReport {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: path.display().to_string(),
            setup_error: Some(e.to_string()),
            steps: Vec::new(),
            duration: std::time::Duration::ZERO,
            peer: options.peer.as_ref().map(|p| p.url.clone()),
            peer_notes: Vec::new(),
        },
    }
}

/// Runs a scenario against a fresh in-process forest or, with `options.against`, a running
/// adsim. Never panics on a bad scenario or answer: problems are in the report.
pub async fn run(s: &Scenario, options: &RunOptions) -> ScenarioReport {
    let started = Instant::now();
    let mut report = ScenarioReport {
        name: s.name.clone(),
        path: s.path.display().to_string(),
        setup_error: None,
        steps: Vec::new(),
        duration: std::time::Duration::ZERO,
        peer: options.peer.as_ref().map(|p| p.url.clone()),
        peer_notes: Vec::new(),
    };
    let mut run = match Run::start(s, options).await {
        Ok(r) => r,
        Err(e) => {
            report.setup_error = Some(e);
            report.steps = skipped_steps(s);
            report.duration = started.elapsed();
            return report;
        }
    };
    if let Err(e) = run.populate().await {
        report.setup_error = Some(e);
        report.steps = skipped_steps(s);
    } else {
        // The peer is set up once adsim is; a peer that cannot be set up makes every step
        // adsim only, with the reason.
        let mut peer_run = match &options.peer {
            None => None,
            Some(p) => Some(match Run::start_peer(s, p, &run.eps).await {
                Ok(mut pr) => match pr.populate().await {
                    Ok(()) => Ok(pr),
                    Err(e) => {
                        report.peer_notes.extend(pr.cleanup().await);
                        Err(e)
                    }
                },
                Err(e) => Err(e),
            }),
        };
        if let Some(Err(e)) = &peer_run {
            report.peer_notes.push(format!("set-up refused: {e}"));
        }
        for (i, table) in s.steps.iter().enumerate() {
            let (mut step_report, obs) = run.step(i + 1, table).await;
            step_report.peer = match &mut peer_run {
                None => None,
                Some(Err(e)) => Some(PeerStep {
                    verdict: PeerVerdict::AdsimOnly(format!(
                        "the peer could not be set up for this scenario: {e}"
                    )),
                    observed: Vec::new(),
                }),
                Some(Ok(pr)) => Some(pr.peer_step(i + 1, table, &step_report, obs.as_ref()).await),
            };
            report.steps.push(step_report);
        }
        if let Some(Ok(pr)) = peer_run {
            report.peer_notes.extend(pr.cleanup().await);
        }
    }
    if let Err(e) = run.backend.finish().await {
        report
            .setup_error
            .get_or_insert(format!("restoring the server afterwards: {e}"));
    }
    report.duration = started.elapsed();
    report
}

fn skipped_steps(s: &Scenario) -> Vec<StepReport> {
    s.steps
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let title = step_title(t);
            StepReport {
                index: i + 1,
                summary: title.clone(),
                title,
                observed: Vec::new(),
                status: StepStatus::Skipped,
                duration: std::time::Duration::ZERO,
                peer: None,
                must_match_peer: must_match_peer(t),
            }
        })
        .collect()
}

fn must_match_peer(t: &toml::Table) -> bool {
    t.get("must_match_peer")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

fn step_title(t: &toml::Table) -> String {
    t.get("name")
        .and_then(|v| v.as_str())
        .or_else(|| t.get("action").and_then(|v| v.as_str()))
        .unwrap_or("step")
        .to_string()
}

struct Run<'a> {
    scenario: &'a Scenario,
    backend: Backend,
    eps: Endpoints,
    tls: Arc<ClientConfig>,
    principals: HashMap<String, Principal>,
    vars: Vars,
    tickets: HashMap<String, Credential>,
    admin_password: String,
    /// The administrator's bind name when it is not `NETBIOS\Administrator` (a peer's).
    admin_bind: Option<String>,
    /// A peer run: the scenario's names → the peer's, applied to every step and record.
    map: Option<NameMap>,
    /// A peer run: its options.
    peer: Option<PeerOptions>,
    /// A peer run: the DNs the run added, deleted afterwards.
    created: Mutex<Vec<String>>,
    /// A peer run: the first adsim-only step (after it, adsim's state differs by design).
    diverged: Option<(usize, &'static str)>,
}

/// A connection ready for the operation, or the failed bind's answer.
enum Session {
    Ready(Connection),
    BindFailed(Outcome),
}

impl<'a> Run<'a> {
    async fn start(s: &'a Scenario, options: &RunOptions) -> Result<Run<'a>, String> {
        let (backend, eps) = match &options.against {
            None => {
                let config = ServerConfig {
                    forest: setup::forest_config(&s.forest)?,
                    ..ServerConfig::default()
                };
                let forest = RunningForest::start(config)
                    .await
                    .map_err(|e| format!("cannot start the forest: {e}"))?;
                let mut ready = serde_json::to_value(&forest.ready).map_err(|e| e.to_string())?;
                ready["ca_pem"] = forest.ca_pem.clone().into();
                let eps = Endpoints::from_ready_json(&ready)?;
                (
                    Backend::InProcess {
                        forest: Box::new(forest),
                        snapshots: HashMap::new(),
                    },
                    eps,
                )
            }
            Some(url) => {
                let client = Client::new(url).map_err(|e| e.to_string())?;
                let eps = Backend::remote_endpoints(&client).await?;
                check_forest_matches(s, &eps)?;
                let initial = if options.keep_changes {
                    None
                } else {
                    Some(remote_snapshot(&client).await.map_err(|e| {
                        format!("{e} (the server cannot snapshot; --keep-changes runs without isolation)")
                    })?)
                };
                (
                    Backend::Remote {
                        client,
                        snapshots: HashMap::new(),
                        initial,
                    },
                    eps,
                )
            }
        };
        let tls = tls_config(&eps.ca_pem)?;
        let principals = setup::principals(s, &eps)?;
        Ok(Run {
            scenario: s,
            backend,
            vars: vars_for(&eps),
            eps,
            tls,
            principals,
            tickets: HashMap::new(),
            admin_password: setup::admin_password(&s.forest),
            admin_bind: None,
            map: None,
            peer: None,
            created: Mutex::new(Vec::new()),
            diverged: None,
        })
    }

    /// The same scenario on a peer DC: its one domain stands for the scenario's root domain,
    /// the scenario's Administrator is the peer's.
    async fn start_peer(s: &'a Scenario, opts: &PeerOptions, ours: &Endpoints) -> Result<Run<'a>, String> {
        let tls = opts.tls()?;
        let eps = peer::peer_endpoints(opts, &tls).await?;
        if !s.forest.children.is_empty() {
            return Err(format!(
                "the scenario's forest has child domains ({}), the peer is one domain",
                s.forest.children.join(", ")
            ));
        }
        let mut principals = setup::principals(s, &eps)?;
        for p in principals.values_mut() {
            if p.domain == 0 && p.account.eq_ignore_ascii_case(ADMINISTRATOR) {
                p.account = opts.account().to_string();
                p.password = Some(opts.password.clone());
            }
        }
        let map = NameMap::new(&opts.map, ours.root(), eps.root());
        Ok(Run {
            scenario: s,
            backend: Backend::Peer,
            vars: vars_for(&eps),
            admin_bind: Some(opts.bind_name(&eps.root().domain)),
            eps,
            tls,
            principals,
            tickets: HashMap::new(),
            admin_password: opts.password.clone(),
            map: Some(map),
            peer: Some(opts.clone()),
            created: Mutex::new(Vec::new()),
            diverged: None,
        })
    }

    /// The domain's Administrator (same password as the root's in adsim), bound.
    async fn admin_connection(&self, domain: usize, transport: Transport) -> Result<Connection, String> {
        let d = &self.eps.domains[domain];
        let mut c = Connection::open(&d.ldap_url, &d.ldaps_url, transport, &self.tls).await?;
        let name = self
            .admin_bind
            .clone()
            .unwrap_or_else(|| format!("{}\\{ADMINISTRATOR}", d.netbios));
        let o = c.bind(&name, &self.admin_password).await?;
        if o.code != 0 {
            return Err(format!("bind as {name}: {}", describe_outcome(&o)));
        }
        Ok(c)
    }
    /// Finds an account or group by DN, `name@domain` or a name in `default_domain` (a missing
    /// trailing `$` is tried too): its DN, SID and domain.
    async fn resolve(
        &self,
        name: &str,
        default_domain: usize,
    ) -> Result<(String, Option<Sid>, usize), String> {
        let sid_of = |e: &Entry| {
            e.get("objectSid")
                .and_then(|v| v.first())
                .and_then(|b| Sid::from_bytes(b).ok())
        };
        let attrs = ["objectSid".to_string()];
        if name.contains('=') {
            let domain = self.eps.domain_of_dn(name);
            let mut c = self.admin_connection(domain, Transport::Plain).await?;
            let o = c.search(name, Scope::Base, "(objectClass=*)", &attrs).await?;
            c.close().await;
            let e = o.entries.first().ok_or_else(|| format!("no object {name}"))?;
            return Ok((e.dn.clone(), sid_of(e), domain));
        }
        let (sam, domain) = match name.rsplit_once('@') {
            Some((n, d)) => (n, self.eps.domain(Some(d))?.0),
            None => (name, default_domain),
        };
        let base = self.eps.domains[domain].base_dn.clone();
        let mut c = self.admin_connection(domain, Transport::Plain).await?;
        let mut candidates = vec![sam.to_string()];
        if !sam.ends_with('$') {
            candidates.push(format!("{sam}$"));
        }
        for cand in candidates {
            let filter = format!("(sAMAccountName={})", ldap3::ldap_escape(&cand));
            let o = c.search(&base, Scope::Sub, &filter, &attrs).await?;
            if let Some(e) = o.entries.first() {
                let found = (e.dn.clone(), sid_of(e), domain);
                c.close().await;
                return Ok(found);
            }
        }
        c.close().await;
        Err(format!(
            "no account or group named {sam:?} in {}",
            self.eps.domains[domain].domain
        ))
    }

    fn principal(&self, name: &str) -> Result<&Principal, String> {
        self.principals.get(&name.to_ascii_lowercase()).ok_or_else(|| {
            let mut known: Vec<&String> = self.principals.keys().collect();
            known.sort();
            format!("no principal named {name:?} (known: {known:?})")
        })
    }

    /// Connects as the step's principal to the DC of `conn.domain`, else of `target_dn`, else
    /// of the principal's domain, and binds.
    async fn session(&self, conn: &Conn, target_dn: Option<&str>) -> Result<(Session, String), String> {
        let p = self.principal(&conn.principal)?.clone();
        let domain = match (&conn.domain, target_dn) {
            (Some(d), _) => self.eps.domain(Some(d))?.0,
            (None, Some(dn)) => self.eps.domain_of_dn(dn),
            (None, None) => p.domain,
        };
        let d = &self.eps.domains[domain];
        let who = if p.password.is_some() {
            p.bind_name(&self.eps)
        } else {
            "anonymous".into()
        };
        let where_ = format!("as {who} over {} at {}", conn.transport.label(), d.domain);
        let mut c = Connection::open(&d.ldap_url, &d.ldaps_url, conn.transport, &self.tls).await?;
        if let Some(pw) = &p.password {
            let o = c.bind(&p.bind_name(&self.eps), pw).await?;
            if o.code != 0 {
                c.close().await;
                return Ok((
                    Session::BindFailed(Outcome {
                        bind_failed: true,
                        ..o
                    }),
                    where_,
                ));
            }
        }
        Ok((Session::Ready(c), where_))
    }

    /// Carries out one step and checks it; also returns what it observed (for the peer
    /// comparison). A peer run maps the scenario's names first.
    async fn step(&mut self, index: usize, table: &toml::Table) -> (StepReport, Option<Observed>) {
        let started = Instant::now();
        let title = step_title(table);
        let mut report = StepReport {
            index,
            title: title.clone(),
            summary: title,
            observed: Vec::new(),
            status: StepStatus::Passed,
            duration: std::time::Duration::ZERO,
            peer: None,
            must_match_peer: must_match_peer(table),
        };
        let mapped = self.map.as_ref().map(|m| m.apply_table(table));
        let step = match self
            .vars
            .substitute_table(mapped.as_ref().unwrap_or(table))
            .and_then(|t| Step::from_table(&t))
        {
            Ok(s) => s,
            Err(e) => {
                report.status = StepStatus::Error(e);
                report.duration = started.elapsed();
                return (report, None);
            }
        };
        let mut observed = None;
        match self.execute(&step).await {
            Ok(obs) => {
                report.summary = obs.summary.clone();
                if step.name.is_none() {
                    report.title = obs.summary.clone();
                }
                let mut mismatches = self.check(&step.expect, &obs).await;
                mismatches.extend(self.capture(&step, &obs));
                report.observed = obs.lines.clone();
                if !mismatches.is_empty() {
                    report.status = StepStatus::Failed(mismatches);
                }
                observed = Some(obs);
            }
            Err(e) => report.status = StepStatus::Error(e),
        }
        report.duration = started.elapsed();
        (report, observed)
    }

    /// The peer's side of a step adsim has taken: adsim only, or the peer's answer compared
    /// with adsim's.
    async fn peer_step(
        &mut self,
        index: usize,
        table: &toml::Table,
        ours: &StepReport,
        our_obs: Option<&Observed>,
    ) -> PeerStep {
        // Typed as written (variables unresolved), as the scenario was checked on loading.
        let typed = Step::from_table(table).ok();
        if let Some(why) = typed.as_ref().and_then(|t| peer::adsim_only(&t.action)) {
            self.diverged.get_or_insert((index, why));
            return PeerStep {
                verdict: PeerVerdict::AdsimOnly(why.to_string()),
                observed: Vec::new(),
            };
        }
        let (theirs, their_obs) = self.step(index, table).await;
        let mut observed = vec![theirs.summary.clone()];
        observed.extend(theirs.observed.iter().cloned());
        match &theirs.status {
            StepStatus::Failed(ms) => observed.extend(ms.iter().map(|m| {
                format!(
                    "expectation {}: expected {}, peer {}",
                    m.what, m.expected, m.actual
                )
            })),
            StepStatus::Error(e) => observed.push(format!("error: {e}")),
            StepStatus::Passed | StepStatus::Skipped => {}
        }
        let a = answer(typed.as_ref(), ours, our_obs);
        let p = answer(typed.as_ref(), &theirs, their_obs.as_ref());
        let diffs = peer::compare(&a, &p);
        if let (false, Some((n, why))) = (diffs.is_empty(), self.diverged) {
            observed.push(format!(
                "note: after adsim-only step {n} ({why}) the two sides no longer start from the same state"
            ));
        }
        PeerStep {
            verdict: if diffs.is_empty() {
                PeerVerdict::Same
            } else {
                PeerVerdict::Different(diffs)
            },
            observed,
        }
    }

    /// Deletes what a peer run added (last first), at most 1000 objects; returns the problems.
    async fn cleanup(&self) -> Vec<String> {
        let dns: Vec<String> = std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()));
        let mut notes = Vec::new();
        if dns.is_empty() {
            return notes;
        }
        let mut c = match self.admin_connection(0, Transport::Ldaps).await {
            Ok(c) => c,
            Err(e) => return vec![format!("clean-up: {e}; left behind: {}", dns.join("; "))],
        };
        for dn in dns.iter().rev().take(1000) {
            match c.delete(dn).await {
                Ok(o) if o.code == 0 || o.code == 32 => {}
                Ok(o) => notes.push(format!("clean-up: delete {dn}: {}", describe_outcome(&o))),
                Err(e) => notes.push(format!("clean-up: delete {dn}: {e}")),
            }
        }
        c.close().await;
        notes
    }

    /// Deletes `dn` on a peer if it exists (a leftover or a provisioning script's object with
    /// the scenario's name); noSuchObject is fine.
    async fn remove_existing(&self, c: &mut Connection, dn: &str) -> Result<(), String> {
        let o = c.delete(dn).await?;
        match o.code {
            0 | 32 => Ok(()),
            _ => Err(format!(
                "removing the existing {dn} from the peer: {}",
                describe_outcome(&o)
            )),
        }
    }
}

/// One side's answer to a step, as the peer comparison sees it. PAC groups are left out: the
/// peer exports no keytab, so its service tickets are not opened.
fn answer(step: Option<&Step>, report: &StepReport, obs: Option<&Observed>) -> peer::Answer {
    let mut a = peer::Answer::default();
    if let StepStatus::Error(e) = &report.status {
        a.error = Some(e.clone());
        return a;
    }
    if let StepStatus::Failed(ms) = &report.status {
        a.failed_expectations = ms
            .iter()
            .filter(|m| !m.what.starts_with("ticket group"))
            .map(|m| m.what.clone())
            .collect();
    }
    let Some(obs) = obs else { return a };
    if let Some(o) = &obs.ldap {
        a.ldap_code = Some(o.code);
        a.bind_failed = o.bind_failed;
        a.diagnostic = o.diagnostic.clone();
        let searches = step.is_some_and(|s| {
            matches!(
                s.action,
                super::format::Action::Search { .. } | super::format::Action::ReadManagedPassword { .. }
            )
        });
        if searches {
            a.entries = Some(o.entries.len());
            let first = o.entries.first();
            a.attributes = step
                .map(peer::compared_attributes)
                .unwrap_or_default()
                .into_iter()
                .map(|n| {
                    let present = first.is_some_and(|e| e.get(&n).is_some());
                    (n, present)
                })
                .collect();
        }
    }
    if let Some(b) = &obs.blob {
        a.password_previous = Some(b.previous.is_some());
    }
    if obs.kind == Kind::Kerberos {
        a.kerberos = Some(obs.krb_error);
    }
    a
}

/// The `${…}` variables of a forest: `base_dn`, `domain`, `realm`, `netbios`, `domain_sid` of
/// the root, and each domain's with a `.label` suffix.
fn vars_for(eps: &Endpoints) -> Vars {
    let mut vars = Vars::default();
    for (i, d) in eps.domains.iter().enumerate() {
        let label = d.domain.split('.').next().unwrap_or_default().to_string();
        let mut suffixes = vec![format!(".{label}")];
        if i == 0 {
            suffixes.push(String::new());
        }
        for sfx in suffixes {
            vars.set(&format!("base_dn{sfx}"), d.base_dn.clone());
            vars.set(&format!("domain{sfx}"), d.domain.clone());
            vars.set(&format!("realm{sfx}"), d.realm.clone());
            vars.set(&format!("netbios{sfx}"), d.netbios.clone());
            vars.set(&format!("domain_sid{sfx}"), d.domain_sid.clone());
        }
    }
    vars
}

/// With `--against`, the server's forest must have the scenario's domains.
fn check_forest_matches(s: &Scenario, eps: &Endpoints) -> Result<(), String> {
    let root = s.forest.domain.as_deref().unwrap_or("corp.example.test");
    if !eps.root().domain.eq_ignore_ascii_case(root) {
        return Err(format!(
            "the scenario's forest is {root}, the server's is {}",
            eps.root().domain
        ));
    }
    for c in &s.forest.children {
        eps.domain(Some(c))
            .map_err(|e| format!("the scenario needs child domain {c}: {e}"))?;
    }
    Ok(())
}
