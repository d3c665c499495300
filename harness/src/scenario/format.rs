//! The scenario file format (TOML), documented in `scenarios/README.md`: a forest, principals,
//! then ordered `[[step]]`s, each with expectations. Steps stay TOML tables until they run, so
//! `${var}` substitution applies to every string of a step; [`Step::from_table`] types one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::duration::parse_seconds;

/// A scenario that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A whole scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub path: PathBuf,
    pub forest: ForestSpec,
    pub principals: BTreeMap<String, PrincipalSpec>,
    /// The steps as written, in order (typed again after `${var}` substitution).
    pub steps: Vec<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    forest: ForestSpec,
    #[serde(default)]
    principals: BTreeMap<String, PrincipalSpec>,
    #[serde(default, rename = "step")]
    steps: Vec<toml::Table>,
}

/// `[forest]`: what the forest looks like before the first step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForestSpec {
    /// DNS name of the forest root domain (default `corp.example.test`).
    pub domain: Option<String>,
    /// Child domain labels: `child` gives `child.<domain>`.
    #[serde(default)]
    pub children: Vec<String>,
    pub seed: Option<u64>,
    /// RFC 3339: the simulated clock is frozen there at start.
    pub start_time: Option<String>,
    /// `none`, `immediate` or `backdated` (default, as `adsim serve`).
    pub kds_root_key: Option<RootKeyState>,
    pub admin_password: Option<Secret>,
    /// LDIF files, relative to the scenario file.
    #[serde(default)]
    pub fixtures: Vec<String>,
    /// LDIF text applied after the fixture files.
    pub ldif: Option<String>,
    #[serde(default, rename = "user")]
    pub users: Vec<AccountSpec>,
    #[serde(default, rename = "computer")]
    pub computers: Vec<AccountSpec>,
    #[serde(default, rename = "group")]
    pub groups: Vec<GroupSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootKeyState {
    None,
    Immediate,
    Backdated,
}

/// `[[forest.user]]` / `[[forest.computer]]`: an account created before the first step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// The CN; a computer's sAMAccountName is `<name>$`.
    pub name: String,
    /// Sets the password; the account becomes a principal named by its sAMAccountName.
    pub password: Option<Secret>,
    /// Domain label or DNS name (default: the root).
    pub domain: Option<String>,
    #[serde(default)]
    pub spns: Vec<String>,
    /// A computer's dNSHostName (default `<name>.<domain>`, lower-case).
    pub dns_host_name: Option<String>,
    /// Another name for the principal (when two domains hold the same sAMAccountName).
    pub principal: Option<String>,
}

/// `[[forest.group]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub name: String,
    pub domain: Option<String>,
    /// sAMAccountNames (`WEB01$`, `WebServers`) of the group's domain, or DNs.
    #[serde(default)]
    pub members: Vec<String>,
    /// `global` (default), `domain_local` or `universal`.
    pub scope: Option<GroupScope>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupScope {
    Global,
    DomainLocal,
    Universal,
}

impl GroupScope {
    /// groupType of a security group of this scope (MS-ADTS 2.2.12).
    pub fn group_type(self) -> i32 {
        const SECURITY_ENABLED: u32 = 0x8000_0000;
        let scope = match self {
            GroupScope::Global => 0x2,
            GroupScope::DomainLocal => 0x4,
            GroupScope::Universal => 0x8,
        };
        (SECURITY_ENABLED | scope) as i32
    }
}

/// A password from a scenario file; Debug output hides it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `[principals.NAME]`: an account a step may act as.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalSpec {
    /// sAMAccountName (`Administrator`, `DC1$`).
    pub account: String,
    pub domain: Option<String>,
    pub password: Secret,
    /// Set this password during setup, as the domain's Administrator (for accounts that
    /// already exist, such as the DC's computer account).
    #[serde(default)]
    pub reset_password: bool,
}

impl Scenario {
    /// Reads and checks a scenario file (every step is typed once, with variables unresolved).
    pub fn from_file(path: &Path) -> Result<Scenario, FormatError> {
        let text = std::fs::read_to_string(path).map_err(|source| FormatError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::from_toml_str(&text, path)
    }

    /// Parses scenario text; `path` names it in errors and anchors relative fixture paths.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Scenario, FormatError> {
        let invalid = |message: String| FormatError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let file: ScenarioFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if file.steps.is_empty() {
            return Err(invalid("a scenario needs at least one [[step]]".into()));
        }
        for (i, table) in file.steps.iter().enumerate() {
            Step::from_table(table).map_err(|e| invalid(format!("step {}: {e}", i + 1)))?;
        }
        if let Some(t) = &file.forest.start_time {
            adsim_simulator::clock::NtTime::parse_rfc3339(t)
                .ok_or_else(|| invalid(format!("forest.start_time {t:?} is not RFC 3339")))?;
        }
        let name = file.name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into())
        });
        Ok(Scenario {
            name,
            description: file.description,
            path: path.to_path_buf(),
            forest: file.forest,
            principals: file.principals,
            steps: file.steps,
        })
    }

    /// A fixture path as written, resolved against the scenario's directory.
    pub fn fixture_path(&self, written: &str) -> PathBuf {
        let p = Path::new(written);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        }
    }
}

/// How an LDAP step reaches the DC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Plain,
    Ldaps,
    Starttls,
}

impl Transport {
    pub fn label(self) -> &'static str {
        match self {
            Transport::Plain => "plain LDAP",
            Transport::Ldaps => "LDAPS",
            Transport::Starttls => "StartTLS",
        }
    }
}

/// Who an LDAP step binds as, over what, and at which domain's DC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    /// A principal name; `anonymous` binds nobody.
    pub principal: String,
    pub transport: Transport,
    /// Domain label or DNS name of the DC to talk to (default: the principal's domain).
    pub domain: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Base,
    One,
    Sub,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModKind {
    Add,
    Delete,
    Replace,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub op: ModKind,
    pub attr: String,
    #[serde(default)]
    pub values: Vec<String>,
}

/// When an added KDS root key becomes usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyEffective {
    Immediately,
    /// An RFC 3339 instant.
    At(String),
    /// Seconds from the simulated now (negative = back-dated).
    Offset(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServiceAccount {
    pub conn: Conn,
    pub name: String,
    pub dns_host_name: Option<String>,
    pub allowed: Vec<String>,
    pub interval_days: Option<u32>,
    pub spns: Vec<String>,
    pub restrict_to_outbound_only: bool,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Bind(Conn),
    Search {
        conn: Conn,
        base: String,
        scope: Scope,
        filter: String,
        attrs: Vec<String>,
    },
    Add {
        conn: Conn,
        dn: String,
        attributes: Vec<(String, Vec<String>)>,
    },
    Modify {
        conn: Conn,
        dn: String,
        changes: Vec<Change>,
    },
    Delete {
        conn: Conn,
        dn: String,
    },
    Compare {
        conn: Conn,
        dn: String,
        attr: String,
        value: String,
    },
    /// Search a gMSA's msDS-ManagedPassword and decode the blob (MS-ADTS 2.2.19).
    ReadManagedPassword {
        conn: Conn,
        /// sAMAccountName (`svc-web$`) or DN.
        account: String,
    },
    KerberosAs {
        principal: String,
        client_offset: i64,
        ticket: Option<String>,
    },
    KerberosTgs {
        tgt: String,
        spn: String,
        client_offset: i64,
        ticket: Option<String>,
    },
    ClockAdvance(i64),
    ClockSet(String),
    NewServiceAccount(NewServiceAccount),
    AddGroupMember {
        conn: Conn,
        group: String,
        members: Vec<String>,
    },
    RemoveGroupMember {
        conn: Conn,
        group: String,
        members: Vec<String>,
    },
    AddKdsRootKey(KeyEffective),
    /// Add (or, `revoke`, remove) allow ACEs for `principal` on `dn`'s DACL, read and written
    /// back over LDAP with the SD flags control naming the DACL (`adsim_harness::acl`).
    Grant {
        conn: Conn,
        dn: String,
        principal: String,
        /// Right names as `adsim_harness::acl::Right::parse` reads them.
        rights: Vec<String>,
        /// `this`, `this_and_descendants`, `descendants`, `descendants:<class>`.
        applies_to: String,
        revoke: bool,
    },
    /// Write nTSecurityDescriptor from SDDL with the SD flags control (`sd_flags`, default:
    /// the parts the text has).
    SetSd {
        conn: Conn,
        dn: String,
        sddl: String,
        sd_flags: Option<u32>,
    },
    Snapshot(String),
    Restore(String),
    /// Change the domain's Kerberos policy (its Default Domain Policy), as an administrator
    /// edits the GPO: MS-GPSB 2.2.2 names with their values.
    KerberosPolicy {
        domain: Option<String>,
        changes: Vec<(&'static str, u32)>,
    },
}

impl Action {
    /// The action's name as written in `action = "…"`.
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Bind(_) => "bind",
            Action::Search { .. } => "search",
            Action::Add { .. } => "add",
            Action::Modify { .. } => "modify",
            Action::Delete { .. } => "delete",
            Action::Compare { .. } => "compare",
            Action::ReadManagedPassword { .. } => "read_managed_password",
            Action::KerberosAs { .. } => "kerberos_as",
            Action::KerberosTgs { .. } => "kerberos_tgs",
            Action::ClockAdvance(_) | Action::ClockSet(_) => "clock",
            Action::NewServiceAccount(_) => "new_service_account",
            Action::AddGroupMember { .. } => "add_group_member",
            Action::RemoveGroupMember { .. } => "remove_group_member",
            Action::AddKdsRootKey(_) => "add_kds_root_key",
            Action::Grant { revoke: false, .. } => "grant",
            Action::Grant { revoke: true, .. } => "revoke",
            Action::SetSd { .. } => "set_sd",
            Action::Snapshot(_) => "snapshot",
            Action::Restore(_) => "restore",
            Action::KerberosPolicy { .. } => "kerberos_policy",
        }
    }
}

/// An LDAP result code by number or by RFC 4511 name (`operationsError`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CodeSpec {
    Number(i64),
    Name(String),
}

/// Expected answers of a step; what is not named is not checked, except that LDAP, Kerberos
/// and cmdlet steps expect success unless `result` / `krb_error` say otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub result: Option<CodeSpec>,
    /// Prefix of the diagnostic message, e.g. `0000202D`.
    pub diagnostic: Option<String>,
    /// Number of entries a search returns.
    pub entries: Option<usize>,
    /// Attributes the (first) entry has.
    #[serde(default)]
    pub present: Vec<String>,
    /// Attributes the (first) entry does not have.
    #[serde(default)]
    pub absent: Vec<String>,
    /// Exact value sets of the (first) entry, compared case-insensitively.
    #[serde(default)]
    pub values: BTreeMap<String, Vec<String>>,
    /// The managed password equals / differs from a captured one.
    pub password_equals: Option<String>,
    pub password_differs: Option<String>,
    /// The previous managed password equals a captured one.
    pub previous_equals: Option<String>,
    /// `present` or `absent`.
    pub previous: Option<String>,
    /// The blob's intervals, as durations (`30d`, `29d23h55m`).
    pub query_interval: Option<String>,
    pub unchanged_interval: Option<String>,
    /// A Kerberos error code, by number or RFC 4120 name (`KRB_AP_ERR_SKEW`); see
    /// `krb_error_code`.
    pub krb_error: Option<CodeSpec>,
    /// Groups in the service ticket's PAC: names, SIDs or RIDs of the client's domain.
    #[serde(default)]
    pub groups_include: Vec<String>,
    #[serde(default)]
    pub groups_exclude: Vec<String>,
}

impl Expect {
    /// The Kerberos error expected: `None` for a ticket; names are those of
    /// `adsim_simulator::kdc::error` (all of RFC 4120 §7.5.9), case-insensitive.
    pub fn krb_error_code(&self) -> Result<Option<i32>, String> {
        match &self.krb_error {
            None => Ok(None),
            Some(CodeSpec::Number(n)) => i32::try_from(*n).map(Some).map_err(|_| format!("krb_error {n}")),
            Some(CodeSpec::Name(n)) => adsim_simulator::kdc::error::error_code(n)
                .map(Some)
                .ok_or_else(|| format!("unknown Kerberos error name {n:?}")),
        }
    }
}

/// One step, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: Option<String>,
    pub action: Action,
    pub expect: Expect,
    /// Variable that receives the step's main value (see scenarios/README.md).
    pub capture: Option<String>,
    /// Variable that receives the previous managed password.
    pub capture_previous: Option<String>,
    /// Variables that receive attribute values of the first entry: `{ var = "attr" }`.
    pub captures: BTreeMap<String, String>,
    /// In a differential run (`--against-dc`), a difference from the peer DC fails the step.
    pub must_match_peer: bool,
}

/// Keys every step may have.
const COMMON_KEYS: &[&str] = &[
    "name",
    "action",
    "expect",
    "capture",
    "capture_previous",
    "captures",
    "must_match_peer",
];
/// Keys of steps that talk LDAP.
const CONN_KEYS: &[&str] = &["as", "transport", "domain"];

fn allowed_keys(action: &str) -> Option<Vec<&'static str>> {
    let with_conn = |extra: &[&'static str]| {
        let mut v = CONN_KEYS.to_vec();
        v.extend_from_slice(extra);
        v
    };
    Some(match action {
        "bind" => with_conn(&[]),
        "search" => with_conn(&["base", "scope", "filter", "attrs"]),
        "add" => with_conn(&["dn", "attributes"]),
        "modify" => with_conn(&["dn", "changes"]),
        "delete" => with_conn(&["dn"]),
        "compare" => with_conn(&["dn", "attr", "value"]),
        "read_managed_password" => with_conn(&["account"]),
        "kerberos_as" => vec!["as", "client_offset", "ticket"],
        "kerberos_tgs" => vec!["tgt", "spn", "client_offset", "ticket"],
        "clock" => vec!["advance", "set"],
        "new_service_account" => with_conn(&[
            "account",
            "dns_host_name",
            "allowed",
            "interval_days",
            "spns",
            "restrict_to_outbound_only",
        ]),
        "add_group_member" | "remove_group_member" => with_conn(&["group", "members"]),
        "add_kds_root_key" => vec!["effective"],
        "grant" | "revoke" => with_conn(&["dn", "principal", "rights", "applies_to"]),
        "set_sd" => with_conn(&["dn", "sddl", "sd_flags"]),
        "snapshot" | "restore" => vec!["snapshot"],
        "kerberos_policy" => vec![
            "domain",
            "max_ticket_age",
            "max_renew_age",
            "max_service_age",
            "max_clock_skew",
            "ticket_validate_client",
        ],
        _ => return None,
    })
}

/// Every key a step table may hold, flat; which ones apply is checked per action.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<String>,
    /// Read from the table before typing (it decides which keys apply).
    #[allow(dead_code)]
    action: String,
    #[serde(default)]
    expect: Expect,
    capture: Option<String>,
    capture_previous: Option<String>,
    #[serde(default)]
    captures: BTreeMap<String, String>,
    #[serde(default)]
    must_match_peer: bool,
    #[serde(rename = "as")]
    principal: Option<String>,
    transport: Option<Transport>,
    domain: Option<String>,
    base: Option<String>,
    scope: Option<Scope>,
    filter: Option<String>,
    attrs: Option<Vec<String>>,
    dn: Option<String>,
    attributes: Option<BTreeMap<String, OneOrMany>>,
    changes: Option<Vec<Change>>,
    attr: Option<String>,
    value: Option<String>,
    account: Option<String>,
    client_offset: Option<String>,
    ticket: Option<String>,
    tgt: Option<String>,
    spn: Option<String>,
    advance: Option<String>,
    set: Option<String>,
    dns_host_name: Option<String>,
    allowed: Option<Vec<String>>,
    interval_days: Option<u32>,
    spns: Option<Vec<String>>,
    restrict_to_outbound_only: Option<bool>,
    group: Option<String>,
    members: Option<Vec<String>>,
    effective: Option<String>,
    snapshot: Option<String>,
    #[serde(rename = "principal")]
    grantee: Option<String>,
    rights: Option<OneOrMany>,
    applies_to: Option<String>,
    sddl: Option<String>,
    sd_flags: Option<u32>,
    max_ticket_age: Option<u32>,
    max_renew_age: Option<u32>,
    max_service_age: Option<u32>,
    max_clock_skew: Option<u32>,
    ticket_validate_client: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The administrator every scenario has: the root domain's Administrator.
pub const ADMINISTRATOR: &str = "Administrator";

impl Step {
    /// Types a step table. Keys that do not apply to the step's action are errors.
    pub fn from_table(table: &toml::Table) -> Result<Step, String> {
        let action = table
            .get("action")
            .and_then(|v| v.as_str())
            .ok_or("missing action = \"…\"")?;
        let allowed = allowed_keys(action).ok_or_else(|| format!("unknown action {action:?}"))?;
        for key in table.keys() {
            if !COMMON_KEYS.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
                return Err(format!("key {key:?} does not apply to action {action:?}"));
            }
        }
        let raw: RawStep = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_string())?;
        let need = |v: Option<String>, key: &str| v.ok_or_else(|| format!("{action} needs {key}"));
        let conn = Conn {
            principal: raw.principal.clone().unwrap_or_else(|| ADMINISTRATOR.into()),
            transport: raw.transport.unwrap_or(Transport::Ldaps),
            domain: raw.domain.clone(),
        };
        let offset = |v: &Option<String>| {
            v.as_deref()
                .map(parse_seconds)
                .transpose()
                .map(|o| o.unwrap_or(0))
        };
        let action = match action {
            "bind" => Action::Bind(conn),
            "search" => Action::Search {
                conn,
                base: need(raw.base, "base")?,
                scope: raw.scope.unwrap_or(Scope::Sub),
                filter: raw.filter.unwrap_or_else(|| "(objectClass=*)".into()),
                attrs: raw.attrs.unwrap_or_default(),
            },
            "add" => Action::Add {
                conn,
                dn: need(raw.dn, "dn")?,
                attributes: raw
                    .attributes
                    .ok_or("add needs attributes = { … }")?
                    .into_iter()
                    .map(|(k, v)| {
                        let values = match v {
                            OneOrMany::One(s) => vec![s],
                            OneOrMany::Many(v) => v,
                        };
                        (k, values)
                    })
                    .collect(),
            },
            "modify" => Action::Modify {
                conn,
                dn: need(raw.dn, "dn")?,
                changes: raw.changes.ok_or("modify needs changes = [ … ]")?,
            },
            "delete" => Action::Delete {
                conn,
                dn: need(raw.dn, "dn")?,
            },
            "compare" => Action::Compare {
                conn,
                dn: need(raw.dn, "dn")?,
                attr: need(raw.attr, "attr")?,
                value: need(raw.value, "value")?,
            },
            "read_managed_password" => Action::ReadManagedPassword {
                conn,
                account: need(raw.account, "account")?,
            },
            "kerberos_as" => Action::KerberosAs {
                principal: need(raw.principal, "as")?,
                client_offset: offset(&raw.client_offset)?,
                ticket: raw.ticket,
            },
            "kerberos_tgs" => Action::KerberosTgs {
                tgt: need(raw.tgt, "tgt")?,
                spn: need(raw.spn, "spn")?,
                client_offset: offset(&raw.client_offset)?,
                ticket: raw.ticket,
            },
            "clock" => match (raw.advance, raw.set) {
                (Some(a), None) => Action::ClockAdvance(parse_seconds(&a)?),
                (None, Some(s)) => Action::ClockSet(s),
                _ => return Err("clock needs exactly one of advance or set".into()),
            },
            "new_service_account" => Action::NewServiceAccount(NewServiceAccount {
                conn,
                name: need(raw.account, "account")?,
                dns_host_name: raw.dns_host_name,
                allowed: raw.allowed.unwrap_or_default(),
                interval_days: raw.interval_days,
                spns: raw.spns.unwrap_or_default(),
                restrict_to_outbound_only: raw.restrict_to_outbound_only.unwrap_or(false),
            }),
            "add_group_member" | "remove_group_member" => {
                let group = need(raw.group, "group")?;
                let members = raw.members.ok_or("needs members = [ … ]")?;
                if action == "add_group_member" {
                    Action::AddGroupMember { conn, group, members }
                } else {
                    Action::RemoveGroupMember { conn, group, members }
                }
            }
            "add_kds_root_key" => Action::AddKdsRootKey(match raw.effective.as_deref() {
                None | Some("immediately") => KeyEffective::Immediately,
                Some(t) if t.starts_with(['-', '+']) => KeyEffective::Offset(parse_seconds(t)?),
                Some(t) => KeyEffective::At(t.to_string()),
            }),
            "grant" | "revoke" => {
                let rights = match raw.rights.ok_or("needs rights = [ … ]")? {
                    OneOrMany::One(s) => vec![s],
                    OneOrMany::Many(v) => v,
                };
                let applies_to = raw.applies_to.unwrap_or_else(|| "this".into());
                // Checked now, so a typo fails when the file is read (variables may not
                // appear in right names).
                for r in &rights {
                    crate::acl::Right::parse_list(r).map_err(|e| e.to_string())?;
                }
                if !applies_to.contains("${") {
                    crate::acl::AppliesTo::parse(&applies_to).map_err(|e| e.to_string())?;
                }
                Action::Grant {
                    conn,
                    dn: need(raw.dn, "dn")?,
                    principal: need(raw.grantee, "principal")?,
                    rights,
                    applies_to,
                    revoke: action == "revoke",
                }
            }
            "set_sd" => Action::SetSd {
                conn,
                dn: need(raw.dn, "dn")?,
                sddl: need(raw.sddl, "sddl")?,
                sd_flags: raw.sd_flags,
            },
            "snapshot" => Action::Snapshot(need(raw.snapshot, "snapshot")?),
            "restore" => Action::Restore(need(raw.snapshot, "snapshot")?),
            "kerberos_policy" => {
                let changes: Vec<(&'static str, u32)> = [
                    ("MaxTicketAge", raw.max_ticket_age),
                    ("MaxRenewAge", raw.max_renew_age),
                    ("MaxServiceAge", raw.max_service_age),
                    ("MaxClockSkew", raw.max_clock_skew),
                    ("TicketValidateClient", raw.ticket_validate_client.map(u32::from)),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
                if changes.is_empty() {
                    return Err("kerberos_policy needs at least one of max_ticket_age, max_renew_age, max_service_age, max_clock_skew, ticket_validate_client".into());
                }
                Action::KerberosPolicy {
                    domain: raw.domain.clone(),
                    changes,
                }
            }
            other => return Err(format!("unknown action {other:?}")),
        };
        if let Some(p) = &raw.expect.previous {
            if p != "present" && p != "absent" {
                return Err(format!(
                    "expect.previous must be \"present\" or \"absent\", not {p:?}"
                ));
            }
        }
        for d in [&raw.expect.query_interval, &raw.expect.unchanged_interval]
            .into_iter()
            .flatten()
        {
            parse_seconds(d)?;
        }
        Ok(Step {
            name: raw.name,
            action,
            expect: raw.expect,
            capture: raw.capture,
            capture_previous: raw.capture_previous,
            captures: raw.captures,
            must_match_peer: raw.must_match_peer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(text: &str) -> Result<Step, String> {
        let table: toml::Table = toml::from_str(text).unwrap();
        Step::from_table(&table)
    }

    #[test]
    fn grant_and_set_sd_steps() {
        let ok = step(
            "action = \"grant\"\ndn = \"OU=x\"\nprincipal = \"bob\"\nrights = [\"ResetPassword\", \"WriteProperty:pwdLastSet\"]\napplies_to = \"descendants:user\"",
        )
        .unwrap();
        assert_eq!(ok.action.keyword(), "grant");
        let revoke =
            step("action = \"revoke\"\ndn = \"OU=x\"\nprincipal = \"bob\"\nrights = \"GenericAll\"").unwrap();
        assert!(
            matches!(revoke.action, Action::Grant { revoke: true, ref applies_to, .. } if applies_to == "this")
        );
        // A misspelt right or scope fails when the file is read.
        let err = step("action = \"grant\"\ndn = \"OU=x\"\nprincipal = \"bob\"\nrights = \"Frobnicate\"")
            .unwrap_err();
        assert!(err.contains("Frobnicate"), "{err}");
        let err = step("action = \"grant\"\ndn = \"OU=x\"\nprincipal = \"bob\"\nrights = \"GenericAll\"\napplies_to = \"sideways\"")
            .unwrap_err();
        assert!(err.contains("sideways"), "{err}");
        let sd = step("action = \"set_sd\"\ndn = \"OU=x\"\nsddl = \"D:(A;;GA;;;DA)\"\nsd_flags = 4").unwrap();
        assert!(matches!(
            sd.action,
            Action::SetSd {
                sd_flags: Some(4),
                ..
            }
        ));
        assert!(step("action = \"set_sd\"\ndn = \"OU=x\"").is_err());
    }

    #[test]
    fn types_a_search_with_defaults() {
        let s = step("action = \"search\"\nbase = \"DC=x\"\nexpect = { result = \"operationsError\", diagnostic = \"0000202D\" }").unwrap();
        let Action::Search {
            conn, scope, filter, ..
        } = &s.action
        else {
            panic!("{s:?}")
        };
        assert_eq!(conn.principal, ADMINISTRATOR);
        assert_eq!(conn.transport, Transport::Ldaps);
        assert_eq!(*scope, Scope::Sub);
        assert_eq!(filter, "(objectClass=*)");
        assert_eq!(s.expect.result, Some(CodeSpec::Name("operationsError".into())));
    }

    #[test]
    fn refuses_keys_of_other_actions_and_unknown_actions() {
        assert!(step("action = \"clock\"\nadvance = \"1d\"\nbase = \"x\"")
            .unwrap_err()
            .contains("does not apply"));
        assert!(step("action = \"fly\"").unwrap_err().contains("unknown action"));
        assert!(step("action = \"clock\"").is_err());
        assert!(step("action = \"clock\"\nadvance = \"soon\"").is_err());
        assert!(step("action = \"search\"").unwrap_err().contains("base"));
        assert!(step("action = \"bind\"\nexpect = { resultt = 0 }").is_err());
    }

    #[test]
    fn root_key_effective_forms() {
        let eff = |e: &str| match step(&format!("action = \"add_kds_root_key\"\neffective = \"{e}\""))
            .unwrap()
            .action
        {
            Action::AddKdsRootKey(k) => k,
            other => panic!("{other:?}"),
        };
        assert_eq!(eff("immediately"), KeyEffective::Immediately);
        assert_eq!(eff("-10h05m"), KeyEffective::Offset(-36_300));
        assert_eq!(
            eff("2026-01-01T00:00:00Z"),
            KeyEffective::At("2026-01-01T00:00:00Z".into())
        );
    }

    #[test]
    fn kerberos_errors_by_name_or_number() {
        let krb = |e: &str| {
            step(&format!(
                "action = \"kerberos_as\"\nas = \"alice\"\nexpect = {{ krb_error = {e} }}"
            ))
            .unwrap()
            .expect
            .krb_error_code()
        };
        // The KDC sends KDC_ERR_NEVER_VALID for a ticket that would already be expired.
        assert_eq!(krb("\"KDC_ERR_NEVER_VALID\""), Ok(Some(11)));
        assert_eq!(krb("\"krb_ap_err_skew\""), Ok(Some(37)));
        assert_eq!(krb("24"), Ok(Some(24)));
        assert!(krb("\"KRB_NOT_A_THING\"")
            .unwrap_err()
            .contains("unknown Kerberos error name"));
        assert!(krb("4294967296").is_err());
        assert_eq!(
            step("action = \"kerberos_as\"\nas = \"alice\"")
                .unwrap()
                .expect
                .krb_error_code(),
            Ok(None)
        );
    }

    #[test]
    fn a_scenario_without_steps_is_invalid() {
        let e = Scenario::from_toml_str("[forest]\nseed = 1\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("at least one"), "{e}");
    }
}
