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
use std::sync::Arc;
use std::time::Instant;

use adsim_simulator::security::Sid;
use adsim_simulator::server::{RunningForest, ServerConfig};
use rustls::ClientConfig;

use super::backend::{remote_snapshot, Backend, Endpoints};
use super::format::{Conn, Scenario, Scope, Step, Transport, ADMINISTRATOR};
use super::kerberos::Credential;
use super::ldap::{tls_config, Connection, Entry, Outcome};
use super::report::{ScenarioReport, StepReport, StepStatus};
use super::setup::{self, Principal};
use super::vars::Vars;
use crate::control::Client;
use observed::describe_outcome;

/// How scenarios run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Base URL of a running adsim's control API; `None` starts a forest in process.
    pub against: Option<String>,
    /// With `against`: do not snapshot the server before each scenario and restore it after.
    pub keep_changes: bool,
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
        for (i, table) in s.steps.iter().enumerate() {
            report.steps.push(run.step(i + 1, table).await);
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
            }
        })
        .collect()
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
        Ok(Run {
            scenario: s,
            backend,
            eps,
            tls,
            principals,
            vars,
            tickets: HashMap::new(),
            admin_password: setup::admin_password(&s.forest),
        })
    }

    /// The domain's Administrator (same password as the root's in adsim), bound.
    async fn admin_connection(&self, domain: usize, transport: Transport) -> Result<Connection, String> {
        let d = &self.eps.domains[domain];
        let mut c = Connection::open(&d.ldap_url, &d.ldaps_url, transport, &self.tls).await?;
        let name = format!("{}\\{ADMINISTRATOR}", d.netbios);
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

    async fn step(&mut self, index: usize, table: &toml::Table) -> StepReport {
        let started = Instant::now();
        let title = step_title(table);
        let mut report = StepReport {
            index,
            title: title.clone(),
            summary: title,
            observed: Vec::new(),
            status: StepStatus::Passed,
            duration: std::time::Duration::ZERO,
        };
        let step = match self
            .vars
            .substitute_table(table)
            .and_then(|t| Step::from_table(&t))
        {
            Ok(s) => s,
            Err(e) => {
                report.status = StepStatus::Error(e);
                report.duration = started.elapsed();
                return report;
            }
        };
        match self.execute(&step).await {
            Ok(obs) => {
                report.summary = obs.summary.clone();
                if step.name.is_none() {
                    report.title = obs.summary.clone();
                }
                let mut mismatches = self.check(&step.expect, &obs).await;
                mismatches.extend(self.capture(&step, &obs));
                report.observed = obs.lines;
                if !mismatches.is_empty() {
                    report.status = StepStatus::Failed(mismatches);
                }
            }
            Err(e) => report.status = StepStatus::Error(e),
        }
        report.duration = started.elapsed();
        report
    }
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
