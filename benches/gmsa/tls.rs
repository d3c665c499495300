//! LDAPS client connections (RFC 4513 §3.1.3 — TLS from the first byte, the certificate checked
//! against the CA file adsim wrote and the loopback address in its subjectAltName), with rustls
//! on the ring provider.

use crate::conn::{self, Conn};
use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

pub type LdapsConn = Conn<TlsStream<TcpStream>>;

pub struct Ldaps {
    connector: TlsConnector,
    addr: SocketAddr,
}

impl Ldaps {
    /// Trusts only the certificates in `ca_pem`.
    pub fn new(addr: SocketAddr, ca_pem: &Path) -> Result<Ldaps> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca_pem).with_context(|| format!("{}", ca_pem.display()))? {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Ldaps {
            connector: TlsConnector::from(Arc::new(config)),
            addr,
        })
    }

    /// A new connection with its TLS handshake done (and the server's certificate verified).
    pub async fn connect(&self) -> Result<LdapsConn> {
        let tcp = conn::tcp(self.addr).await?;
        let name = ServerName::IpAddress(self.addr.ip().into());
        let tls = self.connector.connect(name, tcp).await.context("TLS handshake")?;
        Ok(Conn::new(tls))
    }

    /// A connection bound with a simple bind.
    pub async fn bound(&self, name: &str, password: &str) -> Result<LdapsConn> {
        let mut conn = self.connect().await?;
        conn.bind(name, password).await?;
        Ok(conn)
    }
}
