//! TLS material generated at start: a forest CA and one DC certificate whose SANs cover every
//! DC FQDN, the domains, the machine's host name, `localhost` and the listen address; and the
//! certificate's `tls-server-end-point` channel binding (RFC 5929 §4.1), computed once. With a
//! data directory the CA and the DC certificate are kept ([`TlsIdentity`]) and reused.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType,
    SignatureAlgorithm,
};
use sha2::Digest;

use crate::auth::ntlm::{channel_binding_hash, tls_server_end_point};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct TlsMaterial {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
    /// The DC certificate's channel binding as NTLM and Kerberos carry it: MD5 of the
    /// gss_channel_bindings_struct with `tls-server-end-point:` + the certificate hash.
    pub channel_binding: [u8; 16],
}

/// The key (and so signature) algorithm of the CA, which signs the DC certificate.
static CA_ALGORITHM: &SignatureAlgorithm = &rcgen::PKCS_ECDSA_P256_SHA256;

/// A hash over a DER certificate.
type CertificateHash = fn(&[u8]) -> Vec<u8>;

/// RFC 5929 §4.1: the certificate hash uses the hash of the certificate's signatureAlgorithm
/// (SHA-256 in place of MD5 and SHA-1); one row per algorithm the CA may sign with.
const END_POINT_HASH: &[(&SignatureAlgorithm, CertificateHash)] = &[
    (&rcgen::PKCS_ECDSA_P256_SHA256, |der| {
        sha2::Sha256::digest(der).to_vec()
    }),
    (&rcgen::PKCS_ECDSA_P384_SHA384, |der| {
        sha2::Sha384::digest(der).to_vec()
    }),
];

/// The `tls-server-end-point` certificate hash of a certificate signed with `alg`.
fn end_point_hash(alg: &SignatureAlgorithm, der: &[u8]) -> Option<Vec<u8>> {
    END_POINT_HASH
        .iter()
        .find(|(a, _)| *a == alg)
        .map(|(_, hash)| hash(der))
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("no tls-server-end-point hash for the certificate's signature algorithm")]
    NoEndPointHash,
    #[error("saved TLS material is unreadable: {0}")]
    Pem(String),
}

/// A CA and the DC certificate with their keys, as PEM: what `adsim serve --data-dir` keeps so
/// clients that trust `ca.pem` keep trusting the server across restarts. Holds private keys.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsIdentity {
    pub ca_key: String,
    pub ca_cert: String,
    pub key: String,
    pub cert: String,
    /// The names and addresses the DC certificate covers.
    pub dns_names: Vec<String>,
    pub ips: Vec<IpAddr>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("dns_names", &self.dns_names)
            .field("ips", &self.ips)
            .finish_non_exhaustive()
    }
}

/// A new CA and DC certificate, ready to serve.
pub fn generate(forest_name: &str, dns_names: &[String], ips: &[IpAddr]) -> Result<TlsMaterial, TlsError> {
    material(&issue(forest_name, dns_names, ips, None)?)
}

/// The CA's fixed subject and usages: re-creating them with the same key gives an issuer whose
/// certificates verify under the CA certificate first written.
fn ca_params(forest_name: &str) -> CertificateParams {
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("{forest_name} adsim CA"));
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca
}

/// Issues a DC certificate for `dns_names` and `ips`, signed by the CA of `keep_ca` (a saved
/// identity, whose CA certificate stays as it is) or by a new CA.
pub fn issue(
    forest_name: &str,
    dns_names: &[String],
    ips: &[IpAddr],
    keep_ca: Option<&TlsIdentity>,
) -> Result<TlsIdentity, TlsError> {
    let ca_key = match keep_ca {
        Some(saved) => KeyPair::from_pem(&saved.ca_key)?,
        None => KeyPair::generate_for(CA_ALGORITHM)?,
    };
    let ca_cert = ca_params(forest_name).self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        dns_names.first().cloned().unwrap_or_else(|| "localhost".into()),
    );
    params.distinguished_name = dn;
    let mut sans = Vec::new();
    for n in dns_names {
        if let Ok(ia5) = n.clone().try_into() {
            sans.push(SanType::DnsName(ia5));
        }
    }
    for ip in ips {
        sans.push(SanType::IpAddress(*ip));
    }
    params.subject_alt_names = sans;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
    Ok(TlsIdentity {
        ca_key: ca_key.serialize_pem(),
        ca_cert: match keep_ca {
            Some(saved) => saved.ca_cert.clone(),
            None => ca_cert.pem(),
        },
        key: key.serialize_pem(),
        cert: cert.pem(),
        dns_names: dns_names.to_vec(),
        ips: ips.to_vec(),
    })
}

/// The rustls configuration serving `id`'s DC certificate (chain: DC, CA), and its channel
/// binding.
pub fn material(id: &TlsIdentity) -> Result<TlsMaterial, TlsError> {
    let pem = |what: &str, text: &str| -> Result<CertificateDer<'static>, TlsError> {
        CertificateDer::from_pem_slice(text.as_bytes()).map_err(|e| TlsError::Pem(format!("{what}: {e}")))
    };
    let cert = pem("certificate", &id.cert)?;
    // The CA's key algorithm is the DC certificate's signature algorithm.
    let ca_algorithm = KeyPair::from_pem(&id.ca_key)?.algorithm();
    let end_point = end_point_hash(ca_algorithm, &cert).ok_or(TlsError::NoEndPointHash)?;
    let channel_binding = channel_binding_hash(&tls_server_end_point(&end_point));
    let chain = vec![cert, pem("CA certificate", &id.ca_cert)?];
    let key_der =
        PrivateKeyDer::from_pem_slice(id.key.as_bytes()).map_err(|e| TlsError::Pem(format!("key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    Ok(TlsMaterial {
        ca_pem: id.ca_cert.clone(),
        server_config: Arc::new(config),
        channel_binding,
    })
}
