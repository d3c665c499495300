//! LDAP over real sockets for scenario steps, with the `ldap3` client: plain, LDAPS or StartTLS
//! (certificates checked against the forest's CA), a simple bind, one operation, and the
//! result code and diagnostic text as the DC sent them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ldap3::asn1::{StructureTag, PL};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapResult, Mod, Scope as LdapScope};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::ClientConfig;

use super::format::{ModKind, Scope, Transport};

const TIMEOUT: Duration = Duration::from_secs(30);

/// An entry as a search returned it: DN and attributes with raw values.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<Vec<u8>>)>,
}

impl Entry {
    /// Values of `attr` (case-insensitive name), if the entry has it.
    pub fn get(&self, attr: &str) -> Option<&Vec<Vec<u8>>> {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(attr))
            .map(|(_, v)| v)
    }
}

/// What the DC answered to one operation.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub code: u32,
    pub diagnostic: String,
    pub entries: Vec<Entry>,
    /// The bind failed, so the operation was not sent.
    pub bind_failed: bool,
}

impl Outcome {
    fn from_result(r: &LdapResult) -> Outcome {
        Outcome {
            code: r.rc,
            diagnostic: r.text.trim_end_matches(['\n', '\0']).to_string(),
            entries: Vec::new(),
            bind_failed: false,
        }
    }
}

/// A TLS client configuration trusting only `ca_pem` (the forest's CA).
pub fn tls_config(ca_pem: &str) -> Result<Arc<ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("CA certificate: {e}"))?;
    if certs.is_empty() {
        return Err("CA certificate: no PEM certificate found".into());
    }
    for c in certs {
        roots.add(c).map_err(|e| format!("CA certificate: {e}"))?;
    }
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// One LDAP connection.
pub struct Connection {
    ldap: Ldap,
}

impl Connection {
    /// Connects to the DC: `ldap_url` for plain and StartTLS, `ldaps_url` for LDAPS.
    pub async fn open(
        ldap_url: &str,
        ldaps_url: &str,
        transport: Transport,
        tls: &Arc<ClientConfig>,
    ) -> Result<Connection, String> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(TIMEOUT)
            .set_config(tls.clone())
            .set_starttls(transport == Transport::Starttls);
        let url = match transport {
            Transport::Ldaps => ldaps_url,
            Transport::Plain | Transport::Starttls => ldap_url,
        };
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, url)
            .await
            .map_err(|e| format!("cannot connect to {url} over {}: {e}", transport.label()))?;
        // The driver ends when the last handle is dropped; the server's disconnect after an
        // unbind is not an error worth logging.
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        ldap.with_timeout(TIMEOUT);
        Ok(Connection { ldap })
    }

    /// A simple bind (RFC 4511 §4.2).
    pub async fn bind(&mut self, name: &str, password: &str) -> Result<Outcome, String> {
        let r = self
            .ldap
            .simple_bind(name, password)
            .await
            .map_err(|e| format!("bind: {e}"))?;
        Ok(Outcome::from_result(&r))
    }

    pub async fn search(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[String],
    ) -> Result<Outcome, String> {
        let scope = match scope {
            Scope::Base => LdapScope::Base,
            Scope::One => LdapScope::OneLevel,
            Scope::Sub => LdapScope::Subtree,
        };
        let attrs: Vec<&str> = attrs.iter().map(String::as_str).collect();
        let res = self
            .ldap
            .with_timeout(TIMEOUT)
            .search(base, scope, filter, attrs)
            .await
            .map_err(|e| format!("search: {e}"))?;
        let mut out = Outcome::from_result(&res.1);
        for re in res.0 {
            if re.is_ref() || re.is_intermediate() {
                continue;
            }
            out.entries
                .push(decode_entry(&re.0).ok_or("search: malformed SearchResultEntry")?);
        }
        Ok(out)
    }

    pub async fn add(&mut self, dn: &str, attrs: Vec<(String, Vec<Vec<u8>>)>) -> Result<Outcome, String> {
        let attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = attrs
            .into_iter()
            .map(|(n, v)| (n.into_bytes(), v.into_iter().collect()))
            .collect();
        let r = self.ldap.add(dn, attrs).await.map_err(|e| format!("add: {e}"))?;
        Ok(Outcome::from_result(&r))
    }

    pub async fn modify(
        &mut self,
        dn: &str,
        changes: Vec<(ModKind, String, Vec<Vec<u8>>)>,
    ) -> Result<Outcome, String> {
        let mods: Vec<Mod<Vec<u8>>> = changes
            .into_iter()
            .map(|(kind, attr, values)| {
                let (a, v) = (attr.into_bytes(), values.into_iter().collect());
                match kind {
                    ModKind::Add => Mod::Add(a, v),
                    ModKind::Delete => Mod::Delete(a, v),
                    ModKind::Replace => Mod::Replace(a, v),
                }
            })
            .collect();
        let r = self
            .ldap
            .modify(dn, mods)
            .await
            .map_err(|e| format!("modify: {e}"))?;
        Ok(Outcome::from_result(&r))
    }

    pub async fn delete(&mut self, dn: &str) -> Result<Outcome, String> {
        let r = self.ldap.delete(dn).await.map_err(|e| format!("delete: {e}"))?;
        Ok(Outcome::from_result(&r))
    }

    pub async fn compare(&mut self, dn: &str, attr: &str, value: &[u8]) -> Result<Outcome, String> {
        let r = self
            .ldap
            .compare(dn, attr, value)
            .await
            .map_err(|e| format!("compare: {e}"))?;
        Ok(Outcome::from_result(&r.0))
    }

    /// nTSecurityDescriptor of `dn` with the SD flags control (MS-ADTS 3.1.1.3.4.1.11) naming
    /// the parts `flags` asks for; the value is absent when the caller may not read it.
    pub async fn read_sd(&mut self, dn: &str, flags: u32) -> Result<(Outcome, Option<Vec<u8>>), String> {
        let res = self
            .ldap
            .with_controls(sd_flags_control(flags))
            .with_timeout(TIMEOUT)
            .search(
                dn,
                LdapScope::Base,
                "(objectClass=*)",
                vec!["nTSecurityDescriptor"],
            )
            .await
            .map_err(|e| format!("search: {e}"))?;
        let out = Outcome::from_result(&res.1);
        let mut sd = None;
        for re in res.0 {
            if re.is_ref() || re.is_intermediate() {
                continue;
            }
            let e = decode_entry(&re.0).ok_or("search: malformed SearchResultEntry")?;
            sd = e.get("nTSecurityDescriptor").and_then(|v| v.first().cloned());
        }
        Ok((out, sd))
    }

    /// Replaces nTSecurityDescriptor of `dn` with the SD flags control naming `flags`.
    pub async fn write_sd(&mut self, dn: &str, sd: Vec<u8>, flags: u32) -> Result<Outcome, String> {
        let value: HashSet<Vec<u8>> = [sd].into_iter().collect();
        let r = self
            .ldap
            .with_controls(sd_flags_control(flags))
            .modify(dn, vec![Mod::Replace(b"nTSecurityDescriptor".to_vec(), value)])
            .await
            .map_err(|e| format!("modify: {e}"))?;
        Ok(Outcome::from_result(&r))
    }

    /// Ends the connection by dropping it (the server sees the client go, as after an
    /// unbind); errors are of no interest once the step has its answer.
    pub async fn close(self) {
        drop(self.ldap);
    }
}

/// LDAP_SERVER_SD_FLAGS_OID (MS-ADTS 3.1.1.3.4.1.11): `SDFlagsRequestValue ::= SEQUENCE {
/// Flags INTEGER }`, critical as Windows tools send it. `flags` holds the four low bits.
fn sd_flags_control(flags: u32) -> ldap3::controls::RawControl {
    ldap3::controls::RawControl {
        ctype: "1.2.840.113556.1.4.801".into(),
        crit: true,
        val: Some(vec![0x30, 0x03, 0x02, 0x01, (flags & 0x0f) as u8]),
    }
}

/// SearchResultEntry ::= [APPLICATION 4] SEQUENCE { objectName, attributes SEQUENCE OF
/// PartialAttribute { type, vals SET OF value } } (RFC 4511 §4.5.2); `None` when malformed.
fn decode_entry(tag: &StructureTag) -> Option<Entry> {
    let primitive = |t: &StructureTag| match &t.payload {
        PL::P(b) => Some(b.clone()),
        PL::C(_) => None,
    };
    let constructed = |t: &StructureTag| match &t.payload {
        PL::C(v) => Some(v.clone()),
        PL::P(_) => None,
    };
    if tag.id != 4 {
        return None;
    }
    let parts = constructed(tag)?;
    let dn = String::from_utf8(primitive(parts.first()?)?).ok()?;
    let mut attrs = Vec::new();
    for pa in constructed(parts.get(1)?)? {
        let pa = constructed(&pa)?;
        let name = String::from_utf8(primitive(pa.first()?)?).ok()?;
        let values = constructed(pa.get(1)?)?
            .iter()
            .map(primitive)
            .collect::<Option<Vec<_>>>()?;
        attrs.push((name, values));
    }
    Some(Entry { dn, attrs })
}

/// RFC 4511 result code names, for expectations and reports.
const RESULT_NAMES: &[(u32, &str)] = &[
    (0, "success"),
    (1, "operationsError"),
    (2, "protocolError"),
    (3, "timeLimitExceeded"),
    (4, "sizeLimitExceeded"),
    (5, "compareFalse"),
    (6, "compareTrue"),
    (7, "authMethodNotSupported"),
    (8, "strongerAuthRequired"),
    (10, "referral"),
    (11, "adminLimitExceeded"),
    (12, "unavailableCriticalExtension"),
    (13, "confidentialityRequired"),
    (14, "saslBindInProgress"),
    (16, "noSuchAttribute"),
    (17, "undefinedAttributeType"),
    (18, "inappropriateMatching"),
    (19, "constraintViolation"),
    (20, "attributeOrValueExists"),
    (21, "invalidAttributeSyntax"),
    (32, "noSuchObject"),
    (33, "aliasProblem"),
    (34, "invalidDNSyntax"),
    (36, "aliasDereferencingProblem"),
    (48, "inappropriateAuthentication"),
    (49, "invalidCredentials"),
    (50, "insufficientAccessRights"),
    (51, "busy"),
    (52, "unavailable"),
    (53, "unwillingToPerform"),
    (54, "loopDetect"),
    (64, "namingViolation"),
    (65, "objectClassViolation"),
    (66, "notAllowedOnNonLeaf"),
    (67, "notAllowedOnRDN"),
    (68, "entryAlreadyExists"),
    (69, "objectClassModsProhibited"),
    (71, "affectsMultipleDSAs"),
    (80, "other"),
];

pub fn result_name(code: u32) -> &'static str {
    RESULT_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("", |(_, n)| n)
}

pub fn result_code_by_name(name: &str) -> Option<u32> {
    RESULT_NAMES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(c, _)| *c)
}

/// `unicodePwd` as AD wants it: the password in double quotes, UTF-16LE (MS-ADTS 3.1.1.3.1.5.1).
pub fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_names_both_ways() {
        assert_eq!(result_code_by_name("operationserror"), Some(1));
        assert_eq!(result_name(68), "entryAlreadyExists");
        assert_eq!(result_name(9), "");
    }

    #[test]
    fn malformed_entries_are_refused() {
        let p = |b: &[u8]| StructureTag {
            class: ldap3::asn1::TagClass::Universal,
            id: 4,
            payload: PL::P(b.to_vec()),
        };
        let c = |id: u64, v: Vec<StructureTag>| StructureTag {
            class: ldap3::asn1::TagClass::Application,
            id,
            payload: PL::C(v),
        };
        assert!(decode_entry(&p(b"x")).is_none());
        assert!(decode_entry(&c(4, vec![])).is_none());
        assert!(decode_entry(&c(5, vec![p(b"dn"), c(16, vec![])])).is_none());
        let ok = decode_entry(&c(
            4,
            vec![
                p(b"CN=x"),
                c(16, vec![c(16, vec![p(b"cn"), c(17, vec![p(b"x")])])]),
            ],
        ))
        .unwrap();
        assert_eq!(ok.dn, "CN=x");
        assert_eq!(ok.get("CN"), Some(&vec![b"x".to_vec()]));
    }

    #[test]
    fn unicode_pwd_is_quoted_utf16() {
        assert_eq!(unicode_pwd("a"), vec![b'"', 0, b'a', 0, b'"', 0]);
    }
}
