//! A KDC served on loopback UDP and TCP for tests that drive real clients.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use adsim_simulator::clock::Clock;
use adsim_simulator::kdc::keytab::{entries_for_principal, write_keytab};
use adsim_simulator::kdc::krb5conf::{render_with, RealmKdcs};
use adsim_simulator::kdc::net::{serve_tcp, serve_udp};
use adsim_simulator::kdc::{Kdc, KdcConfig};

use super::common::*;

/// A KDC on UDP and TCP at the same ephemeral loopback port, as `kdc = host:port` expects.
pub struct LiveKdc {
    pub runtime: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    pub clock: Clock,
    pub db: Arc<MemoryDb>,
    pub dir: PathBuf,
}

impl LiveKdc {
    pub fn start(config: KdcConfig) -> LiveKdc {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = standard_db();
        let clock = Clock::system();
        let kdc = Arc::new(Kdc::new(db.clone(), clock.clone(), config));
        let addr = runtime.block_on(async {
            // Bind TCP on an ephemeral port, then UDP on the same number (retry if it is taken).
            for _ in 0..20 {
                let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = tcp.local_addr().unwrap();
                if let Ok(udp) = tokio::net::UdpSocket::bind(addr).await {
                    tokio::spawn(serve_tcp(tcp, kdc.clone()));
                    tokio::spawn(serve_udp(udp, kdc.clone()));
                    return addr;
                }
            }
            panic!("no free port for UDP and TCP");
        });
        let dir = std::env::temp_dir().join(format!("adsim-kdc-mit-{}-{}", std::process::id(), addr.port()));
        std::fs::create_dir_all(&dir).unwrap();
        LiveKdc {
            runtime,
            addr,
            clock,
            db,
            dir,
        }
    }

    /// Writes krb5.conf with extra [libdefaults] and returns its path.
    pub fn krb5_conf(&self, name: &str, libdefaults: &[(&str, &str)]) -> PathBuf {
        let text = render_with(
            &[RealmKdcs {
                realm: REALM.into(),
                kdcs: vec![self.addr.to_string()],
                kpasswd: None,
            }],
            &[(DOMAIN.into(), REALM.into())],
            libdefaults,
        );
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn keytab_for(&self, sam: &str) -> PathBuf {
        let principal = self.db.get(sam);
        let entries = entries_for_principal(&principal, &[], 1_700_000_000);
        let path = self.dir.join(format!("{}.keytab", sam.trim_end_matches('$')));
        std::fs::write(&path, write_keytab(&entries).unwrap()).unwrap();
        path
    }
}

impl Drop for LiveKdc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        // Dropping the runtime stops the listeners.
        let _ = &self.runtime;
    }
}
