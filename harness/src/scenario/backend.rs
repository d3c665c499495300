//! Where a scenario runs: a fresh forest in this process (listeners on ephemeral ports, steps go
//! over real sockets to it), or a running adsim reached through its control API (`--against`).
//! Both answer the same questions: the endpoints, the simulated clock, KDS root keys, keytabs
//! and snapshots.

use std::collections::HashMap;
use std::net::SocketAddr;

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::{Caller, Snapshot};
use adsim_simulator::kdc::keytab::read_keytab;
use adsim_simulator::kdc::KerberosKey;
use adsim_simulator::kds::Effective;
use adsim_simulator::ldif::LdifRecord;
use adsim_simulator::server::kdc::DirectoryKdcDb;
use adsim_simulator::server::RunningForest;
use serde::Deserialize;

use crate::control::{self, Client, Clock, Created};

use super::ldap::Outcome;

/// One domain's DC, as the ready line describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct DomainEndpoint {
    pub domain: String,
    pub netbios: String,
    pub realm: String,
    pub base_dn: String,
    pub ldap_url: String,
    pub ldaps_url: String,
    /// `host:port` of the domain's KDC (TCP and UDP).
    pub kdc: String,
    pub domain_sid: String,
}

/// Every DC of the forest (root first) and the CA their certificates chain to.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub domains: Vec<DomainEndpoint>,
    pub ca_pem: String,
}

#[derive(Deserialize)]
struct ReadyDomains {
    domains: Vec<DomainEndpoint>,
    #[serde(default)]
    ca_pem: Option<String>,
    #[serde(default)]
    ca_cert: Option<String>,
}

impl Endpoints {
    /// From a ready line (`adsim serve`'s first output line or `GET /v1/ready`); the CA comes
    /// from `ca_pem`, else from the file named by `ca_cert`.
    pub fn from_ready_json(v: &serde_json::Value) -> Result<Endpoints, String> {
        let r: ReadyDomains =
            serde_json::from_value(v.clone()).map_err(|e| format!("ready description: {e}"))?;
        if r.domains.is_empty() {
            return Err("ready description lists no domain".into());
        }
        let ca_pem = match (r.ca_pem, r.ca_cert) {
            (Some(p), _) => p,
            (None, Some(path)) => {
                std::fs::read_to_string(&path).map_err(|e| format!("CA certificate {path}: {e}"))?
            }
            (None, None) => return Err("ready description has neither ca_pem nor ca_cert".into()),
        };
        Ok(Endpoints {
            domains: r.domains,
            ca_pem,
        })
    }

    pub fn root(&self) -> &DomainEndpoint {
        &self.domains[0]
    }

    /// A domain by label (`child`), DNS name, NetBIOS name or realm; `None` is the root.
    pub fn domain(&self, name: Option<&str>) -> Result<(usize, &DomainEndpoint), String> {
        let Some(name) = name else {
            return Ok((0, self.root()));
        };
        let n = name.trim_end_matches('.');
        self.domains
            .iter()
            .enumerate()
            .find(|(_, d)| {
                d.domain.eq_ignore_ascii_case(n)
                    || d.netbios.eq_ignore_ascii_case(n)
                    || d.realm.eq_ignore_ascii_case(n)
                    || d.domain.split_once('.').is_some_and(|(label, rest)| {
                        label.eq_ignore_ascii_case(n) && rest.eq_ignore_ascii_case(&self.root().domain)
                    })
            })
            .ok_or_else(|| {
                let known: Vec<&str> = self.domains.iter().map(|d| d.domain.as_str()).collect();
                format!("no domain {name:?} in this forest ({})", known.join(", "))
            })
    }

    /// The domain whose naming context holds `dn` (the longest matching base DN), else the root.
    pub fn domain_of_dn(&self, dn: &str) -> usize {
        let norm = |s: &str| s.replace(' ', "").to_ascii_lowercase();
        let dn = norm(dn);
        self.domains
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                let b = norm(&d.base_dn);
                dn == b || dn.ends_with(&format!(",{b}"))
            })
            .max_by_key(|(_, d)| d.base_dn.len())
            .map_or(0, |(i, _)| i)
    }

    pub fn kdc_addr(&self, domain: usize) -> Result<SocketAddr, String> {
        let d = &self.domains[domain];
        d.kdc
            .parse()
            .map_err(|e| format!("KDC address {:?} of {}: {e}", d.kdc, d.domain))
    }
}

/// The forest a scenario runs against.
pub enum Backend {
    InProcess {
        forest: Box<RunningForest>,
        snapshots: HashMap<String, Snapshot>,
    },
    Remote {
        client: Client,
        /// Scenario snapshot names → the server's snapshot ids.
        snapshots: HashMap<String, String>,
        /// Taken before the scenario, restored after it (unless changes are kept).
        initial: Option<String>,
    },
    /// A real DC in a differential run: the wire steps only; its clock is the real one, and it
    /// has no snapshots, control API or keytab export.
    Peer,
}

/// What a peer DC cannot do.
fn not_on_peer(what: &str) -> String {
    format!("the peer DC cannot {what} (adsim only)")
}

impl Backend {
    /// The server's description of itself: `GET /v1/ready`.
    pub async fn remote_endpoints(client: &Client) -> Result<Endpoints, String> {
        let r = client.ready().await.map_err(|e| match e.status() {
            Some(404) => {
                "the server has no GET /v1/ready (an adsim without the scenario control endpoint)".into()
            }
            _ => failed("GET /v1/ready", e),
        })?;
        Endpoints::from_ready_json(&r.json().map_err(|e| e.to_string())?)
    }

    /// The simulated time.
    pub async fn now(&self) -> Result<NtTime, String> {
        match self {
            Backend::InProcess { forest, .. } => Ok(forest.dir.clock.now()),
            Backend::Remote { client, .. } => Self::remote_clock("GET /v1/clock", client.clock().await),
            Backend::Peer => Ok(NtTime::from_system_time(std::time::SystemTime::now())),
        }
    }

    pub async fn advance_clock(&self, seconds: i64) -> Result<NtTime, String> {
        match self {
            Backend::InProcess { forest, .. } => {
                forest.dir.clock.advance_seconds(seconds);
                Ok(forest.dir.clock.now())
            }
            Backend::Remote { client, .. } => {
                Self::remote_clock("POST /v1/clock", client.advance_clock(seconds).await)
            }
            Backend::Peer => Err(not_on_peer("move its clock")),
        }
    }

    pub async fn set_clock(&self, at: NtTime) -> Result<NtTime, String> {
        match self {
            Backend::InProcess { forest, .. } => {
                forest.dir.clock.set(at);
                Ok(forest.dir.clock.now())
            }
            Backend::Remote { client, .. } => {
                Self::remote_clock("POST /v1/clock", client.set_clock(&at.to_rfc3339()).await)
            }
            Backend::Peer => Err(not_on_peer("set its clock")),
        }
    }

    /// The simulated time in a clock answer.
    fn remote_clock(call: &str, answer: Result<control::Response, control::Error>) -> Result<NtTime, String> {
        let clock: Clock = answer.and_then(|r| r.parse()).map_err(|e| failed(call, e))?;
        Ok(NtTime(clock.nttime))
    }

    /// Changes the Kerberos policy of `domain` (DNS or NetBIOS name; the forest root when
    /// `None`) as the control API does: `changes` in MS-GPSB 2.2.2 names (`{"MaxTicketAge": 1}`).
    /// Answers the policy as it now stands, as JSON text.
    pub async fn set_kerberos_policy(
        &self,
        domain: Option<&str>,
        changes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, String> {
        match self {
            Backend::InProcess { forest, .. } => {
                let dir = &forest.dir;
                let d = match domain {
                    None => 0,
                    Some(name) => {
                        dir.forest
                            .domain_by_name(name)
                            .ok_or_else(|| format!("no domain {name:?} in this forest"))?
                            .index
                    }
                };
                let policy = dir.kerberos_policy(d).changed_by(changes)?;
                dir.set_kerberos_policy(&Caller::system(), d, policy)
                    .map_err(|e| e.text.trim_end_matches(['\n', '\0']).to_string())?;
                Ok(dir.kerberos_policy(d).to_json().to_string())
            }
            Backend::Remote { client, .. } => {
                let call = "PUT /v1/domains/{d}/kerberos-policy";
                let domain = match domain {
                    Some(d) => d.to_string(),
                    None => {
                        let health = client
                            .health()
                            .await
                            .and_then(|r| r.json())
                            .map_err(|e| failed("GET /v1/health", e))?;
                        health["domain"].as_str().unwrap_or_default().to_string()
                    }
                };
                client
                    .set_kerberos_policy(&domain, &serde_json::Value::Object(changes.clone()))
                    .await
                    .map(|r| r.text())
                    .map_err(|e| failed(call, e))
            }
            Backend::Peer => Err(not_on_peer("change its Kerberos policy through a control API")),
        }
    }

    /// Add-KdsRootKey as the DC itself. A refusal is an LDAP-shaped outcome; remotely the code
    /// is derived from the HTTP status (403 → 50, 404 → 32, else 53) and the text is exact.
    pub async fn add_kds_root_key(&self, effective: Effective) -> Result<(Outcome, Option<String>), String> {
        match self {
            Backend::InProcess { forest, .. } => {
                match forest.dir.add_kds_root_key(&Caller::system(), effective) {
                    Ok(id) => Ok((Outcome::default(), Some(id.to_string()))),
                    Err(e) => Ok((
                        Outcome {
                            code: e.code,
                            diagnostic: e.text.trim_end_matches(['\n', '\0']).to_string(),
                            ..Outcome::default()
                        },
                        None,
                    )),
                }
            }
            Backend::Peer => Err(not_on_peer("add KDS root keys through a control API")),
            Backend::Remote { client, .. } => {
                let eff = match effective {
                    Effective::Immediately => "immediately".to_string(),
                    Effective::At(t) => t.to_rfc3339(),
                    Effective::Default => {
                        return Err(
                            "the control API adds root keys effective immediately or at a time".into(),
                        )
                    }
                };
                let (status, message) = match client.add_root_key(&eff).await {
                    Ok(r) => {
                        let id = r.json().map_err(|e| e.to_string())?["id"]
                            .as_str()
                            .map(str::to_string);
                        return Ok((Outcome::default(), id));
                    }
                    Err(control::Error::Status { status, message }) => (status, message),
                    Err(e) => return Err(e.to_string()),
                };
                let code = match status {
                    403 => 50,
                    404 => 32,
                    400 => return Err(format!("POST /v1/kds/root-keys: {message}")),
                    _ => 53,
                };
                Ok((
                    Outcome {
                        code,
                        diagnostic: message,
                        ..Outcome::default()
                    },
                    None,
                ))
            }
        }
    }

    /// A point-in-time snapshot under `name`; returns its id.
    pub async fn snapshot(&mut self, name: &str) -> Result<String, String> {
        match self {
            Backend::InProcess { forest, snapshots } => {
                snapshots.insert(name.to_string(), forest.dir.snapshot());
                Ok(name.to_string())
            }
            Backend::Remote {
                client, snapshots, ..
            } => {
                let id = remote_snapshot(client).await?;
                snapshots.insert(name.to_string(), id.clone());
                Ok(id)
            }
            Backend::Peer => Err(not_on_peer("take snapshots")),
        }
    }

    /// Puts the forest back to the snapshot `name` (entries, root keys, RID pools, clock).
    pub async fn restore(&mut self, name: &str) -> Result<(), String> {
        let unknown = || format!("no snapshot named {name:?} was taken earlier");
        match self {
            Backend::InProcess { forest, snapshots } => {
                let snap = snapshots.get(name).ok_or_else(unknown)?;
                forest.dir.restore(snap);
                Ok(())
            }
            Backend::Remote {
                client, snapshots, ..
            } => {
                let id = snapshots.get(name).ok_or_else(unknown)?.clone();
                remote_restore(client, &id).await
            }
            Backend::Peer => Err(not_on_peer("restore snapshots")),
        }
    }

    /// Every key of a principal (`HTTP/web01.corp.example.test@REALM`, `WEB01$@REALM`), as the
    /// keytab export gives them: what a service uses to open its tickets.
    pub async fn keytab_keys(&self, principal: &str, realm: &str) -> Result<Vec<KerberosKey>, String> {
        let bytes = match self {
            Backend::InProcess { forest, .. } => DirectoryKdcDb::for_realm(forest.dir.clone(), realm)
                .and_then(|db| db.keytab(principal))
                .map_err(|e| format!("keytab for {principal}: {e}"))?,
            Backend::Remote { client, .. } => {
                client
                    .keytab(&format!("{principal}@{realm}"))
                    .await
                    .map_err(|e| failed(&format!("keytab for {principal}"), e))?
                    .body
            }
            Backend::Peer => return Err(not_on_peer("export keytabs")),
        };
        let entries = read_keytab(&bytes).map_err(|e| format!("keytab for {principal}: {e}"))?;
        Ok(entries
            .into_iter()
            .map(|e| KerberosKey {
                etype: e.etype,
                kvno: e.kvno,
                key: e.key,
            })
            .collect())
    }

    /// Applies LDIF records as the DC itself (in-process only; a remote forest gets them over
    /// LDAP from the runner).
    pub fn apply_as_system(&self, records: &[LdifRecord]) -> Result<(), String> {
        match self {
            Backend::InProcess { forest, .. } => adsim_simulator::dsa::fixtures::apply(&forest.dir, records)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Backend::Remote { .. } | Backend::Peer => Err("records go over LDAP to a remote forest".into()),
        }
    }

    /// Leaves a remote server as the scenario found it (restores the initial snapshot).
    pub async fn finish(self) -> Result<(), String> {
        match self {
            Backend::InProcess { .. } | Backend::Peer => Ok(()),
            Backend::Remote { client, initial, .. } => match initial {
                Some(id) => remote_restore(&client, &id).await,
                None => Ok(()),
            },
        }
    }
}

/// `POST /v1/snapshots` → `{"id": …}`.
pub async fn remote_snapshot(client: &Client) -> Result<String, String> {
    let created: Created = client
        .create_snapshot(None)
        .await
        .and_then(|r| r.parse())
        .map_err(|e| failed("POST /v1/snapshots", e))?;
    Ok(created.id)
}

/// `POST /v1/snapshots/{id}/restore`.
pub async fn remote_restore(client: &Client, id: &str) -> Result<(), String> {
    client.restore_snapshot(id).await.map(|_| ()).map_err(|e| {
        failed(
            &format!("POST /v1/snapshots/{}/restore", control::encode_component(id)),
            e,
        )
    })
}

/// A failed control-API call as the runner reports it: `POST /v1/clock: 400 <the server's
/// message>`, or what kept the call from being answered.
fn failed(call: &str, e: control::Error) -> String {
    match e {
        control::Error::Status { status, message } => format!("{call}: {status} {message}"),
        other => format!("{call}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eps() -> Endpoints {
        let d = |dns: &str, nb: &str| {
            json!({"domain": dns, "netbios": nb, "realm": dns.to_uppercase(),
                   "base_dn": dns.split('.').map(|l| format!("DC={l}")).collect::<Vec<_>>().join(","),
                   "ldap_url": "ldap://x", "ldaps_url": "ldaps://x", "kdc": "127.0.0.1:88", "domain_sid": "S-1-5-21-1-2-3"})
        };
        Endpoints::from_ready_json(&json!({
            "domains": [d("corp.example.test", "CORP"), d("child.corp.example.test", "CHILD")],
            "ca_pem": "x"
        }))
        .unwrap()
    }

    #[test]
    fn finds_domains_by_any_name_and_dns_by_suffix() {
        let e = eps();
        assert_eq!(e.domain(None).unwrap().0, 0);
        for n in [
            "child",
            "CHILD",
            "child.corp.example.test",
            "CHILD.CORP.EXAMPLE.TEST",
        ] {
            assert_eq!(e.domain(Some(n)).unwrap().0, 1, "{n}");
        }
        assert!(e.domain(Some("other")).is_err());
        assert_eq!(e.domain_of_dn("CN=x,DC=child,DC=corp,DC=example,DC=test"), 1);
        assert_eq!(e.domain_of_dn("CN=x, DC=corp,DC=example,DC=test"), 0);
        assert_eq!(e.domain_of_dn("CN=Configuration,DC=corp,DC=example,DC=test"), 0);
        assert_eq!(e.domain_of_dn("DC=child,DC=corp,DC=example,DC=test"), 1);
    }

    #[test]
    fn a_ready_line_without_ca_is_refused() {
        assert!(Endpoints::from_ready_json(&json!({"domains": []})).is_err());
        let e = Endpoints::from_ready_json(&json!({"domains": [{"domain": "a.b"}]}));
        assert!(e.is_err());
    }
}
