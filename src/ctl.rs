//! `adsim ctl` and `adsim export`: command-line clients of the control API, through
//! [`adsim_harness::control::Client`].

use std::io::Write as _;
use std::path::PathBuf;

use adsim_harness::control::{encode_component, Client, Response};
use adsim_harness::scenario::duration::{parse_duration, BareNumber, DurationErrorKind};
use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};

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
        /// Move the clock by a duration: 30d, 12h, 10h05m, 300s, -6m, 2w (a bare number is
        /// seconds).
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
    /// Run SDProp now: members of the protected groups get adminCount=1 and AdminSDHolder's
    /// DACL (it also runs every simulated hour).
    Sdprop,
    /// Put the forest back exactly as it was when snapshot ID was taken.
    Restore {
        /// A snapshot id, e.g. `snap-1`.
        id: String,
    },
    /// Put the forest back as it was right after start (fixtures included).
    Reset,
    /// Run one ActiveDirectory-module cmdlet with PowerShell parameters, e.g.
    /// `adsim ctl cmdlet Get-ADServiceAccount -Identity svc -Properties '*'` (what `adsim ps
    /// -c` runs; values as PowerShell reads them).
    Cmdlet {
        /// The member host it runs on (Test-/Install-ADServiceAccount).
        #[arg(long = "host", value_name = "NAME")]
        host: Option<String>,
        /// The cmdlet and its parameters.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        line: Vec<String>,
    },
    /// `klist -lh 0 -li 0x3e7 purge` on a member host: its SYSTEM session's tickets go.
    KlistPurge {
        /// The host's computer name (`WEB01`).
        host: String,
    },
    /// Reboot a member host (its ticket cache is empty afterwards).
    RestartHost { host: String },
    /// The member hosts seen: ticket cache, installed service accounts.
    Hosts,
    /// The DC's event log (KdsSvc operational events, e.g. 4004 for a new root key).
    Events {
        /// Only records after this record id.
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
    /// Show a domain's Kerberos policy (its Default Domain Policy), or change the settings
    /// given; the KDC applies them at its next request.
    KerberosPolicy {
        /// The domain (DNS or NetBIOS name); the forest root when absent.
        #[arg(long)]
        domain: Option<String>,
        /// Maximum lifetime for user ticket, hours (0: never expires).
        #[arg(long)]
        max_ticket_age: Option<u32>,
        /// Maximum lifetime for user ticket renewal, days.
        #[arg(long)]
        max_renew_age: Option<u32>,
        /// Maximum lifetime for service ticket, minutes (10 to MaxTicketAge).
        #[arg(long)]
        max_service_age: Option<u32>,
        /// Maximum tolerance for computer clock synchronization, minutes.
        #[arg(long)]
        max_clock_skew: Option<u32>,
        /// Enforce user logon restrictions.
        #[arg(long)]
        ticket_validate_client: Option<bool>,
    },
    /// Show the DC's LDAP signing and channel binding policies, or change them for the binds
    /// that follow (as an administrator changes the Domain Controllers' policy).
    Policies {
        /// `none` or `required` ("LDAP server signing requirements").
        #[arg(long)]
        ldap_signing: Option<String>,
        /// `never`, `when-supported` or `always` ("LDAP server channel binding token
        /// requirements").
        #[arg(long)]
        channel_binding: Option<String>,
    },
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
    let api = client(&args.url)?;
    let response = match args.command {
        CtlCommand::Health => api.health().await?,
        CtlCommand::Clock { advance, set } => match (advance, set) {
            (None, None) => api.clock().await?,
            (Some(d), None) => api.advance_clock(advance_seconds(&d)?).await?,
            (None, Some(t)) => api.set_clock(&t).await?,
            (Some(_), Some(_)) => bail!("give --advance or --set, not both"),
        },
        CtlCommand::RootKey { effective } => api.add_root_key(&effective).await?,
        CtlCommand::Sdprop => api.sdprop().await?,
        CtlCommand::Snapshot { out } => {
            if let Some(p) = out.as_deref().filter(|p| p.symlink_metadata().is_ok()) {
                bail!(
                    "--out {}: the file already exists (snapshot files are never overwritten)",
                    p.display()
                );
            }
            let taken = api.create_snapshot(None).await?;
            match out {
                Some(p) => save_snapshot(&api, &taken, &p).await?,
                None => taken,
            }
        }
        CtlCommand::Snapshots => api.snapshots().await?,
        CtlCommand::Restore { id } => api.restore_snapshot(&id).await?,
        CtlCommand::Reset => api.reset().await?,
        CtlCommand::Cmdlet { host, line } => {
            let code = crate::ps_cmd::run_line(api, host, &line).await?;
            if code != 0 {
                std::process::exit(code);
            }
            return Ok(());
        }
        CtlCommand::KlistPurge { host } => api.klist_purge(&host).await?,
        CtlCommand::RestartHost { host } => api.restart_host(&host).await?,
        CtlCommand::Hosts => api.hosts().await?,
        CtlCommand::Events { after } => api.events(after).await?,
        CtlCommand::KerberosPolicy {
            domain,
            max_ticket_age,
            max_renew_age,
            max_service_age,
            max_clock_skew,
            ticket_validate_client,
        } => {
            let domain = match domain {
                Some(d) => d,
                None => api.health().await?.json()?["domain"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            };
            let mut changes = serde_json::Map::new();
            for (key, v) in [
                ("MaxTicketAge", max_ticket_age),
                ("MaxRenewAge", max_renew_age),
                ("MaxServiceAge", max_service_age),
                ("MaxClockSkew", max_clock_skew),
            ] {
                if let Some(v) = v {
                    changes.insert(key.into(), v.into());
                }
            }
            if let Some(b) = ticket_validate_client {
                changes.insert("TicketValidateClient".into(), b.into());
            }
            if changes.is_empty() {
                api.kerberos_policy(&domain).await?
            } else {
                api.set_kerberos_policy(&domain, &serde_json::Value::Object(changes))
                    .await?
            }
        }
        CtlCommand::Policies {
            ldap_signing,
            channel_binding,
        } => match (&ldap_signing, &channel_binding) {
            (None, None) => api.policies().await?,
            _ => {
                api.set_policies(ldap_signing.as_deref(), channel_binding.as_deref())
                    .await?
            }
        },
    };
    println!("{}", response.text().trim_end());
    Ok(())
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let api = client(&args.url)?;
    let (response, out) = match args.command {
        ExportCommand::Keytab { principal, out } => (api.keytab(&principal).await?, out),
        ExportCommand::Ldif { out } => (api.export_ldif().await?, out),
        ExportCommand::Krb5Conf { set, out } => {
            let mut relations = Vec::new();
            for relation in &set {
                relations.push(
                    relation
                        .split_once('=')
                        .ok_or_else(|| anyhow!("--set {relation:?}: expected NAME=VALUE"))?,
                );
            }
            (api.krb5_conf(&relations).await?, out)
        }
    };
    match out {
        Some(path) => {
            std::fs::write(&path, &response.body).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().write_all(&response.body)?,
    }
    Ok(())
}

/// Downloads the snapshot `taken` (`POST /v1/snapshots`'s answer) names and writes it to the
/// new file `out` (mode 0600, never over an existing file); the answer gains `"path"`.
async fn save_snapshot(api: &Client, taken: &Response, out: &std::path::Path) -> anyhow::Result<Response> {
    let mut answer = taken.json().context("POST /v1/snapshots answer")?;
    let id = answer["id"]
        .as_str()
        .ok_or_else(|| anyhow!("POST /v1/snapshots answered no id"))?;
    let bytes = api
        .request(
            "GET",
            &format!("/v1/snapshots/{}/file", encode_component(id)),
            None,
        )
        .await?
        .success()?
        .body;
    let path = std::path::absolute(out).with_context(|| format!("--out {}", out.display()))?;
    adsim_simulator::snapshot::file::write_new(&path, &bytes)?;
    answer["path"] = path.to_string_lossy().into();
    Ok(Response {
        status: taken.status,
        body: answer.to_string().into_bytes(),
    })
}

/// The client for `--url` / `ADSIM_CONTROL_URL`.
fn client(arg: &UrlArg) -> anyhow::Result<Client> {
    let url = arg.url.as_deref().ok_or_else(|| {
        anyhow!("no control URL: pass --url (the ready line's control_url) or set ADSIM_CONTROL_URL")
    })?;
    Ok(Client::new(url)?)
}

/// `--advance`: the scenarios' durations (`30d`, `10h05m`, `-6m`, `2w`), or bare seconds.
fn advance_seconds(text: &str) -> anyhow::Result<i64> {
    parse_duration(text, BareNumber::Seconds).map_err(|e| match e.kind {
        DurationErrorKind::UnknownUnit => anyhow!("duration {text:?}: unit must be s, m, h, d or w"),
        DurationErrorKind::Malformed => {
            anyhow!("duration {text:?}: expected a number then a unit, e.g. 30d")
        }
        DurationErrorKind::TooLarge => anyhow!("duration {text:?} is too large"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(advance_seconds("30d").unwrap(), 30 * 86_400);
        assert_eq!(advance_seconds("12h").unwrap(), 43_200);
        assert_eq!(advance_seconds("300s").unwrap(), 300);
        assert_eq!(advance_seconds("-6m").unwrap(), -360);
        assert_eq!(advance_seconds("+6m").unwrap(), 360);
        assert_eq!(advance_seconds("2w").unwrap(), 14 * 86_400);
        assert_eq!(advance_seconds("45").unwrap(), 45);
        assert_eq!(advance_seconds("10h05m").unwrap(), 36_300);
        for bad in ["", "d", "6y", "1.5h", "--6m", "99999999999999999999d"] {
            assert!(advance_seconds(bad).is_err(), "{bad:?}");
        }
        assert!(advance_seconds("5y")
            .unwrap_err()
            .to_string()
            .contains("unit must be s, m, h, d or w"));
    }
}
