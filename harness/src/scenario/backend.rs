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
use serde_json::json;

use super::http::{encode_query_value, ControlClient};
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
        client: ControlClient,
        /// Scenario snapshot names → the server's snapshot ids.
        snapshots: HashMap<String, String>,
        /// Taken before the scenario, restored after it (unless changes are kept).
        initial: Option<String>,
    },
}

impl Backend {
    /// The server's description of itself: `GET /v1/ready`.
    pub async fn remote_endpoints(client: &ControlClient) -> Result<Endpoints, String> {
        let r = client.get("/v1/ready").await?;
        if r.status == 404 {
            return Err(
                "the server has no GET /v1/ready (an adsim without the scenario control endpoint)".into(),
            );
        }
        if !r.is_success() {
            return Err(format!("GET /v1/ready: {} {}", r.status, r.error_text()));
        }
        Endpoints::from_ready_json(&r.json()?)
    }

    /// The simulated time.
    pub async fn now(&self) -> Result<NtTime, String> {
        match self {
            Backend::InProcess { forest, .. } => Ok(forest.dir.clock.now()),
            Backend::Remote { client, .. } => {
                let r = client.get("/v1/clock").await?;
                let v = r.json()?;
                v["nttime"]
                    .as_u64()
                    .map(NtTime)
                    .ok_or_else(|| format!("GET /v1/clock: {} {}", r.status, r.error_text()))
            }
        }
    }

    pub async fn advance_clock(&self, seconds: i64) -> Result<NtTime, String> {
        match self {
            Backend::InProcess { forest, .. } => {
                forest.dir.clock.advance_seconds(seconds);
                Ok(forest.dir.clock.now())
            }
            Backend::Remote { client, .. } => {
                Self::remote_clock(client, json!({ "advance_seconds": seconds })).await
            }
        }
    }

    pub async fn set_clock(&self, at: NtTime) -> Result<NtTime, String> {
        match self {
            Backend::InProcess { forest, .. } => {
                forest.dir.clock.set(at);
                Ok(forest.dir.clock.now())
            }
            Backend::Remote { client, .. } => {
                Self::remote_clock(client, json!({ "set": at.to_rfc3339() })).await
            }
        }
    }

    async fn remote_clock(client: &ControlClient, body: serde_json::Value) -> Result<NtTime, String> {
        let r = client.post_json("/v1/clock", &body).await?;
        if !r.is_success() {
            return Err(format!("POST /v1/clock: {} {}", r.status, r.error_text()));
        }
        r.json()?["nttime"]
            .as_u64()
            .map(NtTime)
            .ok_or_else(|| "POST /v1/clock: no nttime in the answer".into())
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
                let r = client
                    .post_json("/v1/kds/root-keys", &json!({ "effective": eff }))
                    .await?;
                if r.is_success() {
                    let id = r.json()?["id"].as_str().map(str::to_string);
                    return Ok((Outcome::default(), id));
                }
                let code = match r.status {
                    403 => 50,
                    404 => 32,
                    400 => return Err(format!("POST /v1/kds/root-keys: {}", r.error_text())),
                    _ => 53,
                };
                Ok((
                    Outcome {
                        code,
                        diagnostic: r.error_text(),
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
                let q = encode_query_value(&format!("{principal}@{realm}"));
                let r = client.get(&format!("/v1/keytab?principal={q}")).await?;
                if !r.is_success() {
                    return Err(format!("keytab for {principal}: {} {}", r.status, r.error_text()));
                }
                r.body
            }
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
            Backend::Remote { .. } => Err("records go over LDAP to a remote forest".into()),
        }
    }

    /// Leaves a remote server as the scenario found it (restores the initial snapshot).
    pub async fn finish(self) -> Result<(), String> {
        match self {
            Backend::InProcess { .. } => Ok(()),
            Backend::Remote { client, initial, .. } => match initial {
                Some(id) => remote_restore(&client, &id).await,
                None => Ok(()),
            },
        }
    }
}

/// `POST /v1/snapshots` → `{"id": …}`.
pub async fn remote_snapshot(client: &ControlClient) -> Result<String, String> {
    let r = client.post_json("/v1/snapshots", &json!({})).await?;
    if !r.is_success() {
        return Err(format!("POST /v1/snapshots: {} {}", r.status, r.error_text()));
    }
    r.json()?["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "POST /v1/snapshots: no id in the answer".into())
}

/// `POST /v1/snapshots/{id}/restore`.
pub async fn remote_restore(client: &ControlClient, id: &str) -> Result<(), String> {
    let path = format!("/v1/snapshots/{}/restore", encode_query_value(id));
    let r = client.post_json(&path, &json!({})).await?;
    if !r.is_success() {
        return Err(format!("POST {path}: {} {}", r.status, r.error_text()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
