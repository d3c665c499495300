//! Differential runs (`adsim scenario run --against-dc ldap://HOST`): the scenario's wire steps
//! also go to a real domain controller (Samba 4.22, Windows), and each step's two answers are
//! compared. This module holds what is peer-specific: how the peer is described (its rootDSE,
//! read as its Administrator), how the scenario's names map to the peer's, which steps only
//! adsim can take, and how two answers are compared.
//!
//! The peer is a test DC: objects with the scenario's names are replaced on it before the run
//! (a crashed run's leftovers, or accounts a provisioning script made) and every object the run
//! adds is deleted afterwards.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::backend::{DomainEndpoint, Endpoints};
use super::format::{Action, Scope, Step, Transport};
use super::ldap::{tls_config, Connection};
use super::report::Mismatch;

/// How to reach and use the peer DC.
#[derive(Debug, Clone, Default)]
pub struct PeerOptions {
    /// `ldap://HOST[:port]`; LDAPS is `ldaps://HOST` (port 636), the KDC `HOST:88`.
    pub url: String,
    /// The peer's administrator: `Administrator`, `NETBIOS\user` or `user@domain`.
    pub user: String,
    pub password: String,
    /// Extra name mappings, scenario name → peer name, applied before the derived ones.
    pub map: Vec<(String, String)>,
    /// The CA the peer's certificate chains to (PEM). Without it the peer's certificate is not
    /// checked (the peer is reached by address, and test DCs use self-made certificates).
    pub ca_pem: Option<String>,
    /// Reset passwords of existing accounts on the peer when a principal asks for it
    /// (`reset_password = true`, e.g. a DC's machine account): for disposable peers only.
    pub reset_passwords: bool,
}

impl PeerOptions {
    /// `user:password` as `--peer-credentials` takes it (the password may hold `:`).
    pub fn parse_credentials(s: &str) -> Result<(String, String), String> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() && !p.is_empty() => Ok((u.to_string(), p.to_string())),
            _ => Err("--peer-credentials wants USER:PASSWORD".into()),
        }
    }

    /// `from=to` as `--peer-map` takes it.
    pub fn parse_map(s: &str) -> Result<(String, String), String> {
        match s.split_once('=') {
            Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                Ok((a.trim().to_string(), b.trim().to_string()))
            }
            _ => Err(format!("--peer-map wants FROM=TO, not {s:?}")),
        }
    }

    /// The simple-bind name of the peer's administrator.
    pub fn bind_name(&self, domain: &str) -> String {
        if self.user.contains('\\') || self.user.contains('@') {
            self.user.clone()
        } else {
            format!("{}@{domain}", self.user)
        }
    }

    /// The sAMAccountName part of the administrator's name.
    pub fn account(&self) -> &str {
        let u = self.user.rsplit('\\').next().unwrap_or(&self.user);
        u.split('@').next().unwrap_or(u)
    }

    fn host(&self) -> Result<(String, Option<u16>), String> {
        let rest = self
            .url
            .strip_prefix("ldap://")
            .ok_or_else(|| format!("--against-dc wants ldap://HOST[:port], not {:?}", self.url))?
            .trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "--against-dc wants ldap://HOST[:port], not {:?}",
                self.url
            ));
        }
        match rest.rsplit_once(':') {
            Some((h, p)) if !h.contains(']') || h.ends_with(']') => {
                let port = p.parse().map_err(|_| format!("port {p:?} in {:?}", self.url))?;
                Ok((h.to_string(), Some(port)))
            }
            _ => Ok((rest.to_string(), None)),
        }
    }

    /// TLS settings for the peer: its CA when given, else no certificate check.
    pub fn tls(&self) -> Result<Arc<ClientConfig>, String> {
        match &self.ca_pem {
            Some(pem) => tls_config(pem),
            None => {
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = ClientConfig::builder_with_provider(provider.clone())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                    .with_no_client_auth();
                Ok(Arc::new(config))
            }
        }
    }
}

/// Accepts the peer's certificate unchecked (signatures of the handshake still are).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The peer as one domain: its rootDSE's defaultNamingContext (the domain and realm), its
/// crossRef's nETBIOSName and the domain object's objectSid, read as the administrator.
pub async fn peer_endpoints(opts: &PeerOptions, tls: &Arc<ClientConfig>) -> Result<Endpoints, String> {
    let (host, port) = opts.host()?;
    let ldap_url = match port {
        Some(p) => format!("ldap://{host}:{p}"),
        None => format!("ldap://{host}"),
    };
    let ldaps_url = format!("ldaps://{host}");
    let mut c = Connection::open(&ldap_url, &ldaps_url, Transport::Plain, tls).await?;
    let first = |o: &super::ldap::Outcome, attr: &str| {
        o.entries
            .first()
            .and_then(|e| e.get(attr))
            .and_then(|v| v.first())
            .cloned()
    };
    let root = c
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            &["defaultNamingContext".into()],
        )
        .await?;
    let base_dn = first(&root, "defaultNamingContext")
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(|| format!("{ldap_url}: the rootDSE has no defaultNamingContext"))?;
    let domain = base_dn
        .split(',')
        .filter_map(|rdn| {
            let (t, v) = rdn.trim().split_once('=')?;
            t.eq_ignore_ascii_case("DC").then(|| v.to_ascii_lowercase())
        })
        .collect::<Vec<_>>()
        .join(".");
    let bind = c.bind(&opts.bind_name(&domain), &opts.password).await?;
    if bind.code != 0 {
        return Err(format!(
            "{ldap_url}: bind as {} refused: {} {}",
            opts.bind_name(&domain),
            bind.code,
            bind.diagnostic
        ));
    }
    let xref = c
        .search(
            &format!("CN=Partitions,CN=Configuration,{base_dn}"),
            Scope::One,
            &format!(
                "(&(objectClass=crossRef)(nCName={}))",
                ldap3::ldap_escape(&base_dn)
            ),
            &["nETBIOSName".into()],
        )
        .await?;
    let netbios = first(&xref, "nETBIOSName")
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(|| format!("{ldap_url}: no crossRef with a nETBIOSName for {base_dn}"))?;
    let dom = c
        .search(&base_dn, Scope::Base, "(objectClass=*)", &["objectSid".into()])
        .await?;
    let domain_sid = first(&dom, "objectSid")
        .and_then(|b| adsim_simulator::security::Sid::from_bytes(&b).ok())
        .map(|s| s.to_string())
        .ok_or_else(|| format!("{ldap_url}: {base_dn} has no objectSid"))?;
    c.close().await;
    Ok(Endpoints {
        domains: vec![DomainEndpoint {
            realm: domain.to_ascii_uppercase(),
            domain,
            netbios,
            base_dn,
            ldap_url,
            ldaps_url,
            kdc: format!("{host}:88"),
            domain_sid,
        }],
        ca_pem: opts.ca_pem.clone().unwrap_or_default(),
    })
}

/// Scenario names → the peer's: explicit `--peer-map` pairs first, then the root domain's base
/// DN, DNS name (realm included, case kept: upper stays upper) and NetBIOS name (whole words
/// before `\` or alone only).
#[derive(Debug, Clone, Default)]
pub struct NameMap {
    pairs: Vec<(String, String)>,
    netbios: Option<(String, String)>,
}

impl NameMap {
    pub fn new(explicit: &[(String, String)], ours: &DomainEndpoint, theirs: &DomainEndpoint) -> NameMap {
        let mut pairs = explicit.to_vec();
        let norm = |dn: &str| dn.replace(", ", ",");
        for (a, b) in [
            (norm(&ours.base_dn), norm(&theirs.base_dn)),
            (ours.domain.clone(), theirs.domain.clone()),
        ] {
            if !a.eq_ignore_ascii_case(&b) && !pairs.iter().any(|(x, _)| x.eq_ignore_ascii_case(&a)) {
                pairs.push((a, b));
            }
        }
        NameMap {
            pairs,
            netbios: (!ours.netbios.eq_ignore_ascii_case(&theirs.netbios))
                .then(|| (ours.netbios.clone(), theirs.netbios.clone())),
        }
    }

    /// One string mapped: every pair in one left-to-right pass (a mapped part is not mapped
    /// again), case-insensitively.
    pub fn apply(&self, s: &str) -> String {
        let lower = s.to_ascii_lowercase();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        'outer: while i < s.len() {
            for (from, to) in &self.pairs {
                if !from.is_empty() && lower[i..].starts_with(&from.to_ascii_lowercase()) {
                    let found = &s[i..i + from.len()];
                    let upper = found.chars().any(|c| c.is_ascii_alphabetic())
                        && !found.chars().any(|c| c.is_ascii_lowercase());
                    out.push_str(&if upper {
                        to.to_ascii_uppercase()
                    } else {
                        to.clone()
                    });
                    i += from.len();
                    continue 'outer;
                }
            }
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
        match &self.netbios {
            Some((from, to)) if out.eq_ignore_ascii_case(from) => to.clone(),
            Some((from, to)) => match out.split_once('\\') {
                Some((nb, rest)) if nb.eq_ignore_ascii_case(from) => format!("{to}\\{rest}"),
                _ => out,
            },
            None => out,
        }
    }

    pub fn apply_value(&self, v: &toml::Value) -> toml::Value {
        match v {
            toml::Value::String(s) => toml::Value::String(self.apply(s)),
            toml::Value::Array(a) => toml::Value::Array(a.iter().map(|x| self.apply_value(x)).collect()),
            toml::Value::Table(t) => toml::Value::Table(self.apply_table(t)),
            other => other.clone(),
        }
    }

    /// A step table with every string value mapped (keys are names of attributes or settings).
    pub fn apply_table(&self, t: &toml::Table) -> toml::Table {
        t.iter().map(|(k, v)| (k.clone(), self.apply_value(v))).collect()
    }

    /// An LDIF record's DN and UTF-8 values mapped (binary values kept).
    pub fn apply_record(&self, r: &adsim_simulator::ldif::LdifRecord) -> adsim_simulator::ldif::LdifRecord {
        use adsim_simulator::ldif::{LdifChange, LdifRecord};
        let val = |v: &Vec<u8>| match std::str::from_utf8(v) {
            Ok(s) => self.apply(s).into_bytes(),
            Err(_) => v.clone(),
        };
        let pairs = |a: &[(String, Vec<u8>)]| a.iter().map(|(n, v)| (n.clone(), val(v))).collect();
        match r {
            LdifRecord::Content { dn, attrs } => LdifRecord::Content {
                dn: self.apply(dn),
                attrs: pairs(attrs),
            },
            LdifRecord::Change { dn, controls, change } => LdifRecord::Change {
                dn: self.apply(dn),
                controls: controls.clone(),
                change: match change {
                    LdifChange::Add(a) => LdifChange::Add(pairs(a)),
                    LdifChange::Modify(mods) => LdifChange::Modify(
                        mods.iter()
                            .map(|m| {
                                let mut m = m.clone();
                                m.values = m.values.iter().map(val).collect();
                                m
                            })
                            .collect(),
                    ),
                    other => other.clone(),
                },
            },
        }
    }
}

/// Why a step is not sent to the peer, or `None` when it is: the simulated clock, KDS root keys
/// added through adsim's control API (possibly effective in the past) and snapshots exist only
/// in adsim.
pub fn adsim_only(action: &Action) -> Option<&'static str> {
    match action {
        Action::ClockAdvance(_) | Action::ClockSet(_) => Some("moves adsim's simulated clock"),
        Action::AddKdsRootKey(_) => Some("adds a KDS root key through adsim's control API"),
        Action::Snapshot(_) => Some("takes an adsim snapshot"),
        Action::Restore(_) => Some("restores an adsim snapshot"),
        Action::KerberosPolicy { .. } => Some(
            "changes the domain's Kerberos policy through adsim's control API (a real DC reads it from the Default Domain Policy in SYSVOL)",
        ),
        _ => None,
    }
}

/// The Windows error code of a diagnostic (`0000202D: …` → `0000202D`), upper-case.
pub fn windows_code(diagnostic: &str) -> Option<String> {
    let head = diagnostic.get(..9)?;
    let (code, colon) = head.split_at(8);
    (colon == ":" && code.chars().all(|c| c.is_ascii_hexdigit())).then(|| code.to_ascii_uppercase())
}

/// The attributes a step's answer is compared on: those it asks for by name and those its
/// expectations name.
pub fn compared_attributes(step: &Step) -> Vec<String> {
    let mut out: Vec<String> = match &step.action {
        Action::Search { attrs, .. } => attrs
            .iter()
            .filter(|a| !matches!(a.as_str(), "*" | "+" | "1.1"))
            .cloned()
            .collect(),
        Action::ReadManagedPassword { .. } => vec!["msDS-ManagedPassword".into()],
        _ => Vec::new(),
    };
    for a in step.expect.present.iter().chain(&step.expect.absent) {
        if !out.iter().any(|x| x.eq_ignore_ascii_case(a)) {
            out.push(a.clone());
        }
    }
    out
}

/// One side's answer as the comparison sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// `None` for a step that is not an LDAP operation.
    pub ldap_code: Option<u32>,
    pub bind_failed: bool,
    pub diagnostic: String,
    pub entries: Option<usize>,
    /// Per compared attribute: present in the first entry.
    pub attributes: Vec<(String, bool)>,
    /// Managed password decoded: whether it has a previous password. (The intervals are not
    /// compared: they count from each side's own clock and key interval boundaries.)
    pub password_previous: Option<bool>,
    /// `Some(None)` for a ticket, `Some(Some(code))` for a KRB-ERROR.
    pub kerberos: Option<Option<i32>>,
    /// The step's failed expectations (names only; the texts are in the observed lines).
    pub failed_expectations: Vec<String>,
    /// The step could not be carried out.
    pub error: Option<String>,
}

/// The differences between adsim's answer and the peer's (`expected` = adsim, `actual` = peer).
/// Diagnostics compare on their Windows code only (the texts are shown side by side: Samba's
/// texts are not Windows'). Expectations that need what the peer cannot give (PAC groups: the
/// peer exports no keytab) are left out by the caller.
pub fn compare(a: &Answer, p: &Answer) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut diff = |what: &str, x: String, y: String| {
        if x != y {
            out.push(Mismatch {
                what: what.into(),
                expected: x,
                actual: y,
            });
        }
    };
    let show = |e: &Option<String>| e.clone().unwrap_or_else(|| "carried out".into());
    diff("step", show(&a.error), show(&p.error));
    if a.error.is_some() || p.error.is_some() {
        return out;
    }
    let code = |x: &Answer| {
        x.ldap_code.map_or("-".to_string(), |c| {
            format!(
                "{}{c} {}",
                if x.bind_failed { "bind failed: " } else { "" },
                super::ldap::result_name(c)
            )
        })
    };
    diff("result code", code(a), code(p));
    // A success carries no error code (Windows sends no text; Samba sometimes "00000000:
    // Success").
    if a.ldap_code != Some(0) || p.ldap_code != Some(0) {
        let wc = |x: &Answer| windows_code(&x.diagnostic).unwrap_or_else(|| "none".into());
        diff("Windows error code", wc(a), wc(p));
    }
    let n = |x: &Answer| x.entries.map_or("-".into(), |n| n.to_string());
    diff("entries", n(a), n(p));
    for ((name, x), (_, y)) in a.attributes.iter().zip(&p.attributes) {
        let word = |b: &bool| if *b { "present" } else { "absent" }.to_string();
        diff(&format!("attribute {name}"), word(x), word(y));
    }
    let shape = |x: &Answer| match x.password_previous {
        None => "-".to_string(),
        Some(true) => "previous password present".into(),
        Some(false) => "no previous password".into(),
    };
    diff("managed password", shape(a), shape(p));
    let krb = |x: &Answer| match x.kerberos {
        None => "-".into(),
        Some(None) => "ticket".into(),
        Some(Some(c)) => format!("KRB-ERROR {c} {}", super::kerberos::error_name(c)),
    };
    diff("Kerberos answer", krb(a), krb(p));
    diff(
        "expectations not met",
        a.failed_expectations.join(", "),
        p.failed_expectations.join(", "),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(domain: &str, netbios: &str) -> DomainEndpoint {
        DomainEndpoint {
            domain: domain.into(),
            netbios: netbios.into(),
            realm: domain.to_uppercase(),
            base_dn: domain
                .split('.')
                .map(|l| format!("DC={l}"))
                .collect::<Vec<_>>()
                .join(","),
            ldap_url: String::new(),
            ldaps_url: String::new(),
            kdc: String::new(),
            domain_sid: String::new(),
        }
    }

    #[test]
    fn names_map_to_the_peer_once_and_keep_case() {
        let m = NameMap::new(
            &[],
            &ep("corp.example.test", "CORP"),
            &ep("samba.example.test", "SAMBA"),
        );
        assert_eq!(
            m.apply("CN=svc,CN=Users,DC=corp,DC=example,DC=test"),
            "CN=svc,CN=Users,DC=samba,DC=example,DC=test"
        );
        assert_eq!(
            m.apply("HTTP/web01.corp.example.test"),
            "HTTP/web01.samba.example.test"
        );
        assert_eq!(m.apply("krbtgt/CORP.EXAMPLE.TEST"), "krbtgt/SAMBA.EXAMPLE.TEST");
        assert_eq!(m.apply("CORP\\alice"), "SAMBA\\alice");
        assert_eq!(m.apply("corp"), "SAMBA");
        // Not a NetBIOS name: a word that merely contains it.
        assert_eq!(m.apply("CorpAdmins"), "CorpAdmins");
        // Explicit pairs win, and a mapped part is not mapped again.
        let m = NameMap::new(
            &[("corp.example.test".into(), "x.corp.example.test".into())],
            &ep("corp.example.test", "CORP"),
            &ep("samba.example.test", "SAMBA"),
        );
        assert_eq!(m.apply("a.corp.example.test"), "a.x.corp.example.test");
    }

    #[test]
    fn windows_codes_and_comparison() {
        assert_eq!(windows_code("0000202d: SvcErr").as_deref(), Some("0000202D"));
        assert_eq!(windows_code("no code"), None);
        assert_eq!(windows_code("00002014"), None);
        let a = Answer {
            ldap_code: Some(19),
            diagnostic: "00000523: SysErr: DSID-031A1256, problem 22 (Invalid argument)".into(),
            ..Answer::default()
        };
        let mut p = a.clone();
        p.diagnostic = "00000523: a different text".into();
        assert!(compare(&a, &p).is_empty(), "texts differ, codes agree");
        p.diagnostic = "00002014: objectclass".into();
        let d = compare(&a, &p);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].what, "Windows error code");
        p.ldap_code = Some(65);
        assert_eq!(compare(&a, &p).len(), 2);
    }

    #[test]
    fn credentials_and_urls() {
        assert_eq!(
            PeerOptions::parse_credentials("Administrator:a:b").unwrap(),
            ("Administrator".into(), "a:b".into())
        );
        assert!(PeerOptions::parse_credentials("Administrator").is_err());
        let o = PeerOptions {
            url: "ldap://127.0.0.41:3890".into(),
            user: "SAMBA\\Administrator".into(),
            ..PeerOptions::default()
        };
        assert_eq!(o.host().unwrap(), ("127.0.0.41".into(), Some(3890)));
        assert_eq!(o.account(), "Administrator");
        assert_eq!(o.bind_name("samba.example.test"), "SAMBA\\Administrator");
        let o = PeerOptions {
            url: "ldaps://x".into(),
            ..PeerOptions::default()
        };
        assert!(o.host().is_err());
    }
}
