//! Runs a scenario: starts (or attaches to) a forest, sets it up, carries out each step over
//! real sockets, checks its expectations and records what came back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use adsim_simulator::clock::NtTime;
use adsim_simulator::gmsa::ManagedPasswordBlob;
use adsim_simulator::kdc::ticket::logon_info_from_ticket;
use adsim_simulator::kds::Effective;
use adsim_simulator::ldif::{LdifChange, LdifRecord};
use adsim_simulator::security::{sddl, AliasDomains, Sid};
use adsim_simulator::server::{RunningForest, ServerConfig};
use rustls::ClientConfig;
use sha2::{Digest, Sha256};

use super::backend::{remote_snapshot, Backend, Endpoints};
use super::duration::{format_seconds, format_ticks, parse_seconds};
use super::format::{
    Action, CodeSpec, Conn, Expect, KeyEffective, ModKind, NewServiceAccount, RootKeyState, Scenario, Scope,
    Step, Transport, ADMINISTRATOR,
};
use super::kerberos::{self, error_code_by_name, error_name, Credential, KdcAnswer};
use super::ldap::{result_code_by_name, result_name, tls_config, unicode_pwd, Connection, Entry, Outcome};
use super::report::{Mismatch, ScenarioReport, StepReport, StepStatus};
use super::setup::{self, Principal};
use super::vars::Vars;
use crate::control::Client;

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

/// A fingerprint of a secret for reports: enough to tell two apart, nothing to recover it.
fn fingerprint(secret_hex: &str) -> String {
    let d = Sha256::digest(secret_hex.as_bytes());
    format!("password#{}", hex::encode(&d[..4]))
}

/// How a step's answer is judged when `expect` says nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An LDAP-shaped result: success expected.
    Ldap,
    /// compareTrue expected.
    Compare,
    /// A ticket expected.
    Kerberos,
    /// Clock, snapshot, restore: no answer to judge.
    Control,
}

/// What a step observed.
struct Observed {
    kind: Kind,
    summary: String,
    lines: Vec<String>,
    ldap: Option<Outcome>,
    blob: Option<ManagedPasswordBlob>,
    krb_error: Option<i32>,
    /// The client's domain SID and the PAC's group SIDs, when decoded.
    pac_groups: Option<(Sid, Vec<Sid>)>,
    /// The domain a ticket's client belongs to (for group names).
    ticket_domain: usize,
    /// The step's main value for `capture`.
    value: Option<String>,
}

impl Observed {
    fn new(kind: Kind, summary: String) -> Observed {
        Observed {
            kind,
            summary,
            lines: Vec::new(),
            ldap: None,
            blob: None,
            krb_error: None,
            pac_groups: None,
            ticket_domain: 0,
            value: None,
        }
    }

    fn with_ldap(mut self, o: Outcome) -> Observed {
        self.lines.insert(0, describe_outcome(&o));
        self.ldap = Some(o);
        self
    }
}

fn describe_code(code: u32) -> String {
    match result_name(code) {
        "" => code.to_string(),
        n => format!("{code} ({n})"),
    }
}

fn describe_outcome(o: &Outcome) -> String {
    let mut s = String::new();
    if o.bind_failed {
        s.push_str("bind failed: ");
    }
    s.push_str(&describe_code(o.code));
    if !o.diagnostic.is_empty() {
        s.push_str(&format!(" \"{}\"", o.diagnostic));
    }
    if !o.entries.is_empty() {
        s.push_str(&format!(", {} entries", o.entries.len()));
    }
    s
}

/// A value as a report or a `values` expectation shows it: SIDs as S-1-…, GUIDs as text,
/// UTF-8 as is, anything else as hex.
fn render_value(attr: &str, v: &[u8]) -> String {
    let a = attr.to_ascii_lowercase();
    if matches!(
        a.as_str(),
        "objectsid"
            | "sidhistory"
            | "tokengroups"
            | "tokengroupsglobalanduniversal"
            | "tokengroupsnogcacceptable"
    ) {
        if let Ok(sid) = Sid::from_bytes(v) {
            return sid.to_string();
        }
    }
    if a == "objectguid" && v.len() == 16 {
        if let Ok(b) = <[u8; 16]>::try_from(v) {
            return uuid::Uuid::from_bytes_le(b).to_string();
        }
    }
    match std::str::from_utf8(v) {
        Ok(s) if !s.chars().any(|c| c.is_control()) => s.to_string(),
        _ => format!("hex:{}", hex::encode(v)),
    }
}

/// A client clock offset: `in sync`, `+6m`, `-4m`.
fn format_offset(secs: i64) -> String {
    match secs {
        0 => "in sync".into(),
        s if s > 0 => format!("+{}", format_seconds(s)),
        s => format_seconds(s),
    }
}

fn utf16_hex(units_le: &[u8]) -> String {
    hex::encode(units_le)
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

/// An LDAP operation on one DN.
enum WriteOp {
    Add(Vec<(String, Vec<Vec<u8>>)>),
    Modify(Vec<(ModKind, String, Vec<Vec<u8>>)>),
    Delete,
    Compare(String, Vec<u8>),
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

    /// Fixtures, accounts, groups, password resets, and for a remote forest the clock and root
    /// key the scenario starts from.
    async fn populate(&mut self) -> Result<(), String> {
        let s = self.scenario;
        if let Backend::Remote { .. } = self.backend {
            if let Some(t) = &s.forest.start_time {
                let at = NtTime::parse_rfc3339(t).ok_or_else(|| format!("start_time {t:?}"))?;
                self.backend.set_clock(at).await?;
            }
            self.match_root_key_state().await?;
        }
        let mut records = setup::fixture_records(s)?;
        records.extend(setup::account_records(&s.forest, &self.eps)?);
        match self.backend {
            Backend::InProcess { .. } => self.backend.apply_as_system(&records)?,
            Backend::Remote { .. } => self.apply_over_ldap(&records).await?,
        }
        for (name, p) in &s.principals {
            if !p.reset_password {
                continue;
            }
            let domain = self.eps.domain(p.domain.as_deref())?.0;
            let (dn, _, _) = self.resolve(&p.account, domain).await?;
            let mut c = self.admin_connection(domain, Transport::Ldaps).await?;
            let o = c
                .modify(
                    &dn,
                    vec![(
                        ModKind::Replace,
                        "unicodePwd".into(),
                        vec![unicode_pwd(&p.password.0)],
                    )],
                )
                .await?;
            c.close().await;
            if o.code != 0 {
                return Err(format!(
                    "resetting the password of principal {name}: {}",
                    describe_outcome(&o)
                ));
            }
        }
        Ok(())
    }

    /// A remote forest must already have, or be given, the root key state the scenario wants:
    /// `none` needs a server without keys; `backdated` needs a key usable for new gMSAs now
    /// (UseStartTime at least 10 h 05 min back, gmsa-gkdi §1 rule 1) and adds one otherwise;
    /// `immediate` needs that no key is usable yet and adds one effective now if there is none.
    async fn match_root_key_state(&mut self) -> Result<(), String> {
        const WAIT_SECONDS: i64 = 10 * 3600 + 5 * 60;
        let want = self
            .scenario
            .forest
            .kds_root_key
            .unwrap_or(RootKeyState::Backdated);
        let container = format!(
            "CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,{}",
            self.eps.root().base_dn
        );
        let mut c = self.admin_connection(0, Transport::Ldaps).await?;
        let o = c
            .search(
                &container,
                Scope::One,
                "(objectClass=msKds-ProvRootKey)",
                &["msKds-UseStartTime".to_string()],
            )
            .await?;
        c.close().await;
        let starts: Vec<u64> = o
            .entries
            .iter()
            .filter_map(|e| e.get("msKds-UseStartTime")?.first().cloned())
            .filter_map(|v| String::from_utf8(v).ok()?.parse().ok())
            .collect();
        let now = self.backend.now().await?;
        let usable_from = now.saturating_add_seconds(-WAIT_SECONDS);
        let any_usable = starts.iter().any(|s| *s <= usable_from.0);
        match want {
            RootKeyState::None if !o.entries.is_empty() => Err(format!(
                "the scenario starts without a KDS root key, and the server has {}",
                o.entries.len()
            )),
            RootKeyState::Immediate if any_usable => Err(
                "the scenario starts with a root key effective now, and the server already has one usable for new gMSAs"
                    .into(),
            ),
            RootKeyState::Immediate if o.entries.is_empty() => self.add_key(Effective::Immediately).await,
            // As `adsim serve --kds-root-key backdated`: usable for gMSAs at once.
            RootKeyState::Backdated if !any_usable => self.add_key(Effective::At(usable_from)).await,
            _ => Ok(()),
        }
    }

    async fn add_key(&self, e: Effective) -> Result<(), String> {
        let (o, _) = self.backend.add_kds_root_key(e).await?;
        if o.code != 0 {
            return Err(format!("adding the KDS root key: {}", describe_outcome(&o)));
        }
        Ok(())
    }

    async fn apply_over_ldap(&self, records: &[LdifRecord]) -> Result<(), String> {
        for r in records {
            let domain = self.eps.domain_of_dn(r.dn());
            let mut c = self.admin_connection(domain, Transport::Ldaps).await?;
            let group = |pairs: &[(String, Vec<u8>)]| {
                let mut out: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
                for (n, v) in pairs {
                    match out.iter_mut().find(|(x, _)| x.eq_ignore_ascii_case(n)) {
                        Some((_, vs)) => vs.push(v.clone()),
                        None => out.push((n.clone(), vec![v.clone()])),
                    }
                }
                out
            };
            let o = match r {
                LdifRecord::Content { dn, attrs }
                | LdifRecord::Change {
                    dn,
                    change: LdifChange::Add(attrs),
                    ..
                } => c.add(dn, group(attrs)).await?,
                LdifRecord::Change {
                    dn,
                    change: LdifChange::Delete,
                    ..
                } => c.delete(dn).await?,
                LdifRecord::Change {
                    dn,
                    change: LdifChange::Modify(mods),
                    ..
                } => {
                    let mut changes = Vec::new();
                    for m in mods {
                        let kind = match m.op {
                            adsim_simulator::ldif::ModOp::Add => ModKind::Add,
                            adsim_simulator::ldif::ModOp::Delete => ModKind::Delete,
                            adsim_simulator::ldif::ModOp::Replace => ModKind::Replace,
                            adsim_simulator::ldif::ModOp::Increment => {
                                return Err(format!("{dn}: increment is not supported over LDAP setup"))
                            }
                        };
                        changes.push((kind, m.attr.clone(), m.values.clone()));
                    }
                    c.modify(dn, changes).await?
                }
                LdifRecord::Change { dn, .. } => {
                    return Err(format!("{dn}: modrdn records are not supported over LDAP setup"))
                }
            };
            c.close().await;
            if o.code != 0 {
                return Err(format!("setup {}: {}", r.dn(), describe_outcome(&o)));
            }
        }
        Ok(())
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

    async fn execute(&mut self, step: &Step) -> Result<Observed, String> {
        match &step.action {
            Action::Bind(conn) => {
                let (session, where_) = self.session(conn, None).await?;
                let o = match session {
                    Session::Ready(c) => {
                        c.close().await;
                        Outcome::default()
                    }
                    Session::BindFailed(o) => Outcome {
                        bind_failed: false,
                        ..o
                    },
                };
                Ok(Observed::new(Kind::Ldap, format!("bind {where_}")).with_ldap(o))
            }
            Action::Search {
                conn,
                base,
                scope,
                filter,
                attrs,
            } => {
                let (session, where_) = self.session(conn, Some(base)).await?;
                let summary = format!("search {base} {filter} {where_}");
                let o = match session {
                    Session::Ready(mut c) => {
                        let o = c.search(base, *scope, filter, attrs).await?;
                        c.close().await;
                        o
                    }
                    Session::BindFailed(o) => o,
                };
                let mut obs = Observed::new(Kind::Ldap, summary);
                obs.value = o.entries.first().map(|e| e.dn.clone());
                Ok(obs.with_ldap(o))
            }
            Action::Add { conn, dn, attributes } => {
                let attrs = attributes
                    .iter()
                    .map(|(n, vs)| {
                        let values = vs
                            .iter()
                            .map(|v| {
                                if n.eq_ignore_ascii_case("unicodePwd") {
                                    unicode_pwd(v)
                                } else {
                                    v.as_bytes().to_vec()
                                }
                            })
                            .collect();
                        (n.clone(), values)
                    })
                    .collect();
                self.write_op(conn, dn, "add", WriteOp::Add(attrs)).await
            }
            Action::Modify { conn, dn, changes } => {
                let changes: Vec<_> = changes
                    .iter()
                    .map(|ch| {
                        let values = ch
                            .values
                            .iter()
                            .map(|v| {
                                if ch.attr.eq_ignore_ascii_case("unicodePwd") {
                                    unicode_pwd(v)
                                } else {
                                    v.as_bytes().to_vec()
                                }
                            })
                            .collect();
                        (ch.op, ch.attr.clone(), values)
                    })
                    .collect();
                self.write_op(conn, dn, "modify", WriteOp::Modify(changes)).await
            }
            Action::Delete { conn, dn } => self.write_op(conn, dn, "delete", WriteOp::Delete).await,
            Action::Compare {
                conn,
                dn,
                attr,
                value,
            } => {
                let mut obs = self
                    .write_op(
                        conn,
                        dn,
                        &format!("compare {attr}"),
                        WriteOp::Compare(attr.clone(), value.as_bytes().to_vec()),
                    )
                    .await?;
                obs.kind = Kind::Compare;
                Ok(obs)
            }
            Action::ReadManagedPassword { conn, account } => self.read_managed_password(conn, account).await,
            Action::KerberosAs {
                principal,
                client_offset,
                ticket,
            } => {
                self.kerberos_as(principal, *client_offset, ticket.as_deref())
                    .await
            }
            Action::KerberosTgs {
                tgt,
                spn,
                client_offset,
                ticket,
            } => {
                let wants_groups =
                    !step.expect.groups_include.is_empty() || !step.expect.groups_exclude.is_empty();
                self.kerberos_tgs(tgt, spn, *client_offset, ticket.as_deref(), wants_groups)
                    .await
            }
            Action::ClockAdvance(secs) => {
                let now = self.backend.advance_clock(*secs).await?;
                let mut obs =
                    Observed::new(Kind::Control, format!("clock advance {}", format_seconds(*secs)));
                obs.lines.push(format!("now {}", now.to_rfc3339()));
                obs.value = Some(now.to_rfc3339());
                Ok(obs)
            }
            Action::ClockSet(t) => {
                let at =
                    NtTime::parse_rfc3339(t).ok_or_else(|| format!("clock set: {t:?} is not RFC 3339"))?;
                let now = self.backend.set_clock(at).await?;
                let mut obs = Observed::new(Kind::Control, format!("clock set {t}"));
                obs.value = Some(now.to_rfc3339());
                Ok(obs)
            }
            Action::NewServiceAccount(p) => self.new_service_account(p).await,
            Action::AddGroupMember { conn, group, members } => {
                self.group_change(conn, group, members, ModKind::Add).await
            }
            Action::RemoveGroupMember { conn, group, members } => {
                self.group_change(conn, group, members, ModKind::Delete).await
            }
            Action::AddKdsRootKey(eff) => {
                let (effective, text) = match eff {
                    KeyEffective::Immediately => (Effective::Immediately, "immediately".to_string()),
                    KeyEffective::At(t) => (
                        Effective::At(
                            NtTime::parse_rfc3339(t)
                                .ok_or_else(|| format!("effective {t:?} is not RFC 3339"))?,
                        ),
                        t.clone(),
                    ),
                    KeyEffective::Offset(secs) => {
                        let now = self.backend.now().await?;
                        let at = now.saturating_add_seconds(*secs);
                        (
                            Effective::At(at),
                            format!("{} ({})", format_seconds(*secs), at.to_rfc3339()),
                        )
                    }
                };
                let (o, id) = self.backend.add_kds_root_key(effective).await?;
                let mut obs = Observed::new(Kind::Ldap, format!("Add-KdsRootKey effective {text}"));
                obs.value = id;
                Ok(obs.with_ldap(o))
            }
            Action::Snapshot(name) => {
                let id = self.backend.snapshot(name).await?;
                let mut obs = Observed::new(Kind::Control, format!("snapshot {name}"));
                obs.value = Some(id);
                Ok(obs)
            }
            Action::Restore(name) => {
                self.backend.restore(name).await?;
                let now = self.backend.now().await?;
                let mut obs = Observed::new(Kind::Control, format!("restore {name}"));
                obs.lines.push(format!("clock back at {}", now.to_rfc3339()));
                Ok(obs)
            }
        }
    }

    /// One LDAP write (or compare) on `dn` as the step's principal.
    async fn write_op(&self, conn: &Conn, dn: &str, what: &str, op: WriteOp) -> Result<Observed, String> {
        let (session, where_) = self.session(conn, Some(dn)).await?;
        let o = match session {
            Session::Ready(mut c) => {
                let o = match op {
                    WriteOp::Add(attrs) => c.add(dn, attrs).await?,
                    WriteOp::Modify(changes) => c.modify(dn, changes).await?,
                    WriteOp::Delete => c.delete(dn).await?,
                    WriteOp::Compare(attr, value) => c.compare(dn, &attr, &value).await?,
                };
                c.close().await;
                o
            }
            Session::BindFailed(o) => o,
        };
        let mut obs = Observed::new(Kind::Ldap, format!("{what} {dn} {where_}"));
        obs.value = Some(dn.to_string());
        Ok(obs.with_ldap(o))
    }

    async fn read_managed_password(&self, conn: &Conn, account: &str) -> Result<Observed, String> {
        let default_domain = match &conn.domain {
            Some(d) => self.eps.domain(Some(d))?.0,
            None => 0,
        };
        let (dn, _, _) = self.resolve(account, default_domain).await?;
        let (session, where_) = self.session(conn, Some(&dn)).await?;
        let mut obs = Observed::new(
            Kind::Ldap,
            format!("read msDS-ManagedPassword of {account} {where_}"),
        );
        let o = match session {
            Session::Ready(mut c) => {
                let o = c
                    .search(
                        &dn,
                        Scope::Base,
                        "(objectClass=*)",
                        &["msDS-ManagedPassword".to_string()],
                    )
                    .await?;
                c.close().await;
                o
            }
            Session::BindFailed(o) => o,
        };
        if o.code == 0 {
            match o
                .entries
                .first()
                .and_then(|e| e.get("msDS-ManagedPassword"))
                .and_then(|v| v.first())
            {
                Some(bytes) => {
                    let blob = ManagedPasswordBlob::decode(bytes)
                        .map_err(|e| format!("msDS-ManagedPassword: {e}"))?;
                    let current = utf16_hex(&blob.current);
                    obs.lines.push(format!(
                        "current {}, previous {}, query {}, unchanged {}",
                        fingerprint(&current),
                        blob.previous
                            .as_deref()
                            .map_or("none".to_string(), |p| fingerprint(&utf16_hex(p))),
                        format_ticks(blob.query_interval),
                        format_ticks(blob.unchanged_interval)
                    ));
                    obs.value = Some(current);
                    obs.blob = Some(blob);
                }
                None => obs.lines.push("msDS-ManagedPassword not returned".into()),
            }
        }
        Ok(obs.with_ldap(o))
    }

    async fn kerberos_as(
        &mut self,
        name: &str,
        offset: i64,
        ticket: Option<&str>,
    ) -> Result<Observed, String> {
        let p = self.principal(name)?.clone();
        let password = p
            .password
            .clone()
            .ok_or_else(|| format!("principal {name} has no password"))?;
        let d = &self.eps.domains[p.domain];
        let kdc = self.eps.kdc_addr(p.domain)?;
        let now = self.backend.now().await?;
        let client_time = now.unix_seconds() + offset;
        let mut obs = Observed::new(
            Kind::Kerberos,
            format!(
                "AS-REQ for {}@{} with the client clock {}",
                p.account,
                d.realm,
                format_offset(offset)
            ),
        );
        let answer = kerberos::as_exchange(kdc, &d.realm, &p.account, &password, client_time)
            .await
            .map_err(|e| e.to_string())?;
        self.record_answer(&mut obs, answer, ticket.unwrap_or(name));
        obs.ticket_domain = p.domain;
        Ok(obs)
    }

    fn record_answer(&mut self, obs: &mut Observed, answer: KdcAnswer, store_as: &str) {
        match answer {
            KdcAnswer::Ticket(cred) => {
                obs.lines.push(format!(
                    "ticket for {}@{} (valid until {})",
                    cred.ticket.sname.joined(),
                    cred.ticket.realm,
                    NtTime::from_unix_seconds(cred.endtime).to_rfc3339()
                ));
                self.tickets.insert(store_as.to_string(), *cred);
            }
            KdcAnswer::Error(e) => {
                obs.lines
                    .push(format!("KRB-ERROR {} {}", e.error_code, error_name(e.error_code)));
                obs.krb_error = Some(e.error_code);
            }
        }
    }

    async fn kerberos_tgs(
        &mut self,
        tgt_name: &str,
        spn: &str,
        offset: i64,
        ticket: Option<&str>,
        wants_groups: bool,
    ) -> Result<Observed, String> {
        let tgt = self
            .tickets
            .get(tgt_name)
            .cloned()
            .ok_or_else(|| format!("no ticket named {tgt_name:?} (a kerberos_as step stores one)"))?;
        let (domain, d) = self.eps.domain(Some(&tgt.ticket.realm))?;
        let realm = d.realm.clone();
        let kdc = self.eps.kdc_addr(domain)?;
        let now = self.backend.now().await?;
        let mut obs = Observed::new(
            Kind::Kerberos,
            format!(
                "TGS-REQ for {spn} with ticket {tgt_name}, client clock {}",
                format_offset(offset)
            ),
        );
        obs.ticket_domain = self.eps.domain(Some(&tgt.crealm)).map_or(domain, |x| x.0);
        let answer = kerberos::tgs_exchange(kdc, &tgt, spn, now.unix_seconds() + offset)
            .await
            .map_err(|e| e.to_string())?;
        let service_ticket = match &answer {
            KdcAnswer::Ticket(c) => Some(c.ticket.clone()),
            KdcAnswer::Error(_) => None,
        };
        let store_as = ticket.map_or_else(|| format!("{tgt_name}→{spn}"), str::to_string);
        self.record_answer(&mut obs, answer, &store_as);
        if let (Some(t), true) = (service_ticket, wants_groups) {
            // Open the ticket as the service would, with its keys (the keytab export).
            let keys = self.backend.keytab_keys(spn, &realm).await?;
            let info = logon_info_from_ticket(&t, &keys).map_err(|e| format!("service ticket PAC: {e}"))?;
            let groups = info.group_sids();
            let shown: Vec<String> = groups
                .iter()
                .map(|s| match (s.parent(), s.rid()) {
                    (Some(p), Some(rid)) if p == info.logon_domain_id => rid.to_string(),
                    _ => s.to_string(),
                })
                .collect();
            obs.lines.push(format!(
                "PAC groups (RIDs of {}): {}",
                info.logon_domain_id,
                shown.join(", ")
            ));
            obs.pac_groups = Some((info.logon_domain_id.clone(), groups));
        }
        Ok(obs)
    }

    async fn new_service_account(&self, p: &NewServiceAccount) -> Result<Observed, String> {
        // New-ADServiceAccount's parameter sets need -DNSHostName unless the account is for
        // outbound authentication only; the DC itself does not.
        if p.dns_host_name.is_none() && !p.restrict_to_outbound_only {
            return Err(
                "New-ADServiceAccount: dns_host_name is required unless restrict_to_outbound_only".into(),
            );
        }
        let (domain, d) = self.eps.domain(p.conn.domain.as_deref())?;
        let dn = format!("CN={},CN=Managed Service Accounts,{}", p.name, d.base_dn);
        let s = |v: &str| vec![v.as_bytes().to_vec()];
        let mut attrs: Vec<(String, Vec<Vec<u8>>)> = vec![
            ("objectClass".into(), s("msDS-GroupManagedServiceAccount")),
            ("sAMAccountName".into(), s(&format!("{}$", p.name))),
            // -KerberosEncryptionType default: RC4, AES128, AES256.
            ("msDS-SupportedEncryptionTypes".into(), s("28")),
        ];
        if let Some(h) = &p.dns_host_name {
            attrs.push(("dNSHostName".into(), s(h)));
        }
        if let Some(days) = p.interval_days {
            attrs.push(("msDS-ManagedPasswordInterval".into(), s(&days.to_string())));
        }
        if !p.spns.is_empty() {
            attrs.push((
                "servicePrincipalName".into(),
                p.spns.iter().map(|x| x.as_bytes().to_vec()).collect(),
            ));
        }
        if !p.allowed.is_empty() {
            // PrincipalsAllowedToRetrieveManagedPassword as PowerShell writes it.
            let mut sddl_text = String::from("O:S-1-5-32-544D:");
            for name in &p.allowed {
                let (_, sid, _) = self.resolve(name, domain).await?;
                let sid = sid.ok_or_else(|| format!("{name} has no objectSid"))?;
                sddl_text.push_str(&format!("(A;;0x0f01ff;;;{sid})"));
            }
            let sd = sddl::parse(&sddl_text, &AliasDomains::none()).map_err(|e| e.to_string())?;
            attrs.push((
                "msDS-GroupMSAMembership".into(),
                vec![sd.to_bytes().map_err(|e| e.to_string())?],
            ));
        }
        let mut obs = self
            .write_op(&p.conn, &dn, "New-ADServiceAccount", WriteOp::Add(attrs))
            .await?;
        obs.summary = format!(
            "New-ADServiceAccount {} (allowed: {}) {}",
            p.name,
            p.allowed.join(", "),
            obs.summary
                .split_once(" as ")
                .map_or(String::new(), |x| format!("as {}", x.1))
        );
        Ok(obs)
    }

    async fn group_change(
        &self,
        conn: &Conn,
        group: &str,
        members: &[String],
        op: ModKind,
    ) -> Result<Observed, String> {
        let default_domain = match &conn.domain {
            Some(d) => self.eps.domain(Some(d))?.0,
            None => 0,
        };
        let (group_dn, _, group_domain) = self.resolve(group, default_domain).await?;
        let mut values = Vec::new();
        for m in members {
            values.push(self.resolve(m, group_domain).await?.0.into_bytes());
        }
        let verb = if op == ModKind::Add {
            "Add-ADGroupMember"
        } else {
            "Remove-ADGroupMember"
        };
        let mut obs = self
            .write_op(
                conn,
                &group_dn,
                verb,
                WriteOp::Modify(vec![(op, "member".into(), values)]),
            )
            .await?;
        obs.summary = format!(
            "{verb} {group} {} {}",
            members.join(", "),
            obs.summary
                .split_once(" as ")
                .map_or(String::new(), |x| format!("as {}", x.1))
        );
        Ok(obs)
    }

    /// Compares what was observed with what the step expects.
    async fn check(&self, e: &Expect, obs: &Observed) -> Vec<Mismatch> {
        let mut out = Vec::new();
        let mut push = |what: &str, expected: String, actual: String| {
            out.push(Mismatch {
                what: what.to_string(),
                expected,
                actual,
            })
        };
        if matches!(obs.kind, Kind::Ldap | Kind::Compare) {
            let o = obs.ldap.clone().unwrap_or_default();
            let want = match &e.result {
                None if obs.kind == Kind::Compare => Ok(6),
                None => Ok(0),
                Some(CodeSpec::Number(n)) => u32::try_from(*n).map_err(|_| format!("result {n}")),
                Some(CodeSpec::Name(n)) => {
                    result_code_by_name(n).ok_or_else(|| format!("unknown result name {n:?}"))
                }
            };
            match want {
                Ok(w) if w != o.code => push("result code", describe_code(w), describe_outcome(&o)),
                Ok(_) => {}
                Err(msg) => push("result code", msg, describe_outcome(&o)),
            }
            if let Some(prefix) = &e.diagnostic {
                if !o
                    .diagnostic
                    .to_ascii_lowercase()
                    .starts_with(&prefix.to_ascii_lowercase())
                {
                    push(
                        "diagnostic",
                        format!("starts with {prefix:?}"),
                        format!("{:?}", o.diagnostic),
                    );
                }
            }
            if let Some(n) = e.entries {
                if o.entries.len() != n {
                    push("entries", n.to_string(), o.entries.len().to_string());
                }
            }
            let entry = o.entries.first();
            let needs_entry = !e.present.is_empty() || !e.absent.is_empty() || !e.values.is_empty();
            match entry {
                None if needs_entry => push("entry", "an entry".into(), "no entry returned".into()),
                None => {}
                Some(entry) => {
                    let names: Vec<&str> = entry.attrs.iter().map(|(n, _)| n.as_str()).collect();
                    for a in &e.present {
                        if entry.get(a).is_none() {
                            push(
                                &format!("attribute {a}"),
                                "present".into(),
                                format!("absent (entry has {})", names.join(", ")),
                            );
                        }
                    }
                    for a in &e.absent {
                        if entry.get(a).is_some() {
                            push(&format!("attribute {a}"), "absent".into(), "present".into());
                        }
                    }
                    for (a, want) in &e.values {
                        let got: Vec<String> = entry
                            .get(a)
                            .map(|vs| vs.iter().map(|v| render_value(a, v)).collect())
                            .unwrap_or_default();
                        let norm = |v: &[String]| {
                            let mut x: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
                            x.sort();
                            x
                        };
                        if norm(want) != norm(&got) {
                            push(&format!("values of {a}"), format!("{want:?}"), format!("{got:?}"));
                        }
                    }
                }
            }
        }
        self.check_password(e, obs, &mut out);
        if obs.kind == Kind::Kerberos {
            let want = match &e.krb_error {
                None => Ok(None),
                Some(CodeSpec::Number(n)) => {
                    i32::try_from(*n).map(Some).map_err(|_| format!("krb_error {n}"))
                }
                Some(CodeSpec::Name(n)) => error_code_by_name(n)
                    .map(Some)
                    .ok_or_else(|| format!("unknown Kerberos error name {n:?}")),
            };
            let show = |c: Option<i32>| match c {
                None => "a ticket".to_string(),
                Some(c) => format!("KRB-ERROR {c} {}", error_name(c)),
            };
            match want {
                Ok(w) if w != obs.krb_error => out.push(Mismatch {
                    what: "Kerberos answer".into(),
                    expected: show(w),
                    actual: show(obs.krb_error),
                }),
                Ok(_) => {}
                Err(msg) => out.push(Mismatch {
                    what: "Kerberos answer".into(),
                    expected: msg,
                    actual: show(obs.krb_error),
                }),
            }
        }
        if !e.groups_include.is_empty() || !e.groups_exclude.is_empty() {
            out.extend(self.check_groups(e, obs).await);
        }
        out
    }

    fn check_password(&self, e: &Expect, obs: &Observed, out: &mut Vec<Mismatch>) {
        let wants = e.password_equals.is_some()
            || e.password_differs.is_some()
            || e.previous_equals.is_some()
            || e.previous.is_some()
            || e.query_interval.is_some()
            || e.unchanged_interval.is_some();
        if !wants {
            return;
        }
        let mut push = |what: &str, expected: String, actual: String| {
            out.push(Mismatch {
                what: what.into(),
                expected,
                actual,
            })
        };
        let Some(blob) = &obs.blob else {
            push(
                "managed password",
                "msDS-ManagedPassword returned".into(),
                "not returned".into(),
            );
            return;
        };
        let current = utf16_hex(&blob.current);
        let previous = blob.previous.as_deref().map(utf16_hex);
        let var = |name: &str| self.vars.get(name).map(str::to_string);
        let show = |v: Option<&String>| v.map_or("none".to_string(), |x| fingerprint(x));
        if let Some(name) = &e.password_equals {
            match var(name) {
                Some(v) if v == current => {}
                v => push(
                    "current password",
                    format!("equal to ${{{name}}} ({})", show(v.as_ref())),
                    fingerprint(&current),
                ),
            }
        }
        if let Some(name) = &e.password_differs {
            match var(name) {
                Some(v) if v != current => {}
                v => push(
                    "current password",
                    format!("different from ${{{name}}} ({})", show(v.as_ref())),
                    fingerprint(&current),
                ),
            }
        }
        if let Some(name) = &e.previous_equals {
            let v = var(name);
            if v.is_none() || v != previous {
                push(
                    "previous password",
                    format!("equal to ${{{name}}} ({})", show(v.as_ref())),
                    show(previous.as_ref()),
                );
            }
        }
        if let Some(p) = &e.previous {
            let has = previous.is_some();
            if (p == "present") != has {
                push(
                    "previous password",
                    p.clone(),
                    if has { "present" } else { "absent" }.into(),
                );
            }
        }
        // The blob's intervals, to the second (a running clock moves between steps).
        for (what, want, got) in [
            ("query password interval", &e.query_interval, blob.query_interval),
            (
                "unchanged password interval",
                &e.unchanged_interval,
                blob.unchanged_interval,
            ),
        ] {
            let Some(want) = want else { continue };
            let Ok(secs) = parse_seconds(want) else { continue };
            let want_ticks = i128::from(secs) * 10_000_000;
            if (want_ticks - i128::from(got)).abs() > 10_000_000 {
                push(what, want.clone(), format_ticks(got));
            }
        }
    }

    async fn check_groups(&self, e: &Expect, obs: &Observed) -> Vec<Mismatch> {
        let mut out = Vec::new();
        let Some((domain_sid, groups)) = &obs.pac_groups else {
            out.push(Mismatch {
                what: "ticket groups".into(),
                expected: "a service ticket with a PAC (a kerberos_tgs step that succeeds)".into(),
                actual: obs.lines.join("; "),
            });
            return out;
        };
        for (include, list) in [(true, &e.groups_include), (false, &e.groups_exclude)] {
            for g in list {
                let sid = match self.group_sid(g, domain_sid, obs.ticket_domain).await {
                    Ok(s) => s,
                    Err(err) => {
                        out.push(Mismatch {
                            what: format!("ticket group {g}"),
                            expected: "a known group".into(),
                            actual: err,
                        });
                        continue;
                    }
                };
                if groups.contains(&sid) != include {
                    out.push(Mismatch {
                        what: format!("ticket group {g} ({sid})"),
                        expected: if include { "in the PAC" } else { "not in the PAC" }.into(),
                        actual: if include { "missing" } else { "present" }.into(),
                    });
                }
            }
        }
        out
    }

    /// A group given as a SID, a RID of the client's domain, or a name.
    async fn group_sid(&self, g: &str, domain_sid: &Sid, domain: usize) -> Result<Sid, String> {
        if g.starts_with("S-") {
            return g.parse::<Sid>().map_err(|e| format!("{g}: {e:?}"));
        }
        if let Ok(rid) = g.parse::<u32>() {
            return Ok(domain_sid.with_rid(rid));
        }
        let (_, sid, _) = self.resolve(g, domain).await?;
        sid.ok_or_else(|| format!("{g} has no objectSid"))
    }

    /// Stores the step's values in variables; a value that is not there is a mismatch.
    fn capture(&mut self, step: &Step, obs: &Observed) -> Vec<Mismatch> {
        let mut out = Vec::new();
        if let Some(var) = &step.capture {
            match &obs.value {
                Some(v) => self.vars.set(var, v.clone()),
                None => out.push(Mismatch {
                    what: format!("capture {var}"),
                    expected: "a value to capture".into(),
                    actual: "the step returned none".into(),
                }),
            }
        }
        if let Some(var) = &step.capture_previous {
            match obs.blob.as_ref().and_then(|b| b.previous.as_deref()) {
                Some(p) => self.vars.set(var, utf16_hex(p)),
                None => out.push(Mismatch {
                    what: format!("capture_previous {var}"),
                    expected: "a previous managed password".into(),
                    actual: "none returned".into(),
                }),
            }
        }
        let entry = obs.ldap.as_ref().and_then(|o| o.entries.first());
        for (var, attr) in &step.captures {
            match entry.and_then(|e| e.get(attr)).and_then(|v| v.first()) {
                Some(v) => self.vars.set(var, render_value(attr, v)),
                None => out.push(Mismatch {
                    what: format!("capture {var} from {attr}"),
                    expected: format!("{attr} in the first entry"),
                    actual: "absent".into(),
                }),
            }
        }
        out
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
