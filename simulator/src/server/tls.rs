//! TLS material generated at start: a forest CA and one DC certificate whose SANs cover every
//! DC FQDN, the domains, the machine's host name, `localhost` and the listen address; and the
//! certificate's `tls-server-end-point` channel binding (RFC 5929 §4.1), computed once.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType,
    SignatureAlgorithm,
};
use sha2::Digest;

use crate::auth::ntlm::{channel_binding_hash, tls_server_end_point};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

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
}

pub fn generate(forest_name: &str, dns_names: &[String], ips: &[IpAddr]) -> Result<TlsMaterial, TlsError> {
    let ca_key = KeyPair::generate_for(CA_ALGORITHM)?;
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
    let ca_cert = ca.self_signed(&ca_key)?;

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

    let end_point = end_point_hash(CA_ALGORITHM, cert.der()).ok_or(TlsError::NoEndPointHash)?;
    let channel_binding = channel_binding_hash(&tls_server_end_point(&end_point));
    let chain = vec![
        CertificateDer::from(cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(config),
        channel_binding,
    })
}
