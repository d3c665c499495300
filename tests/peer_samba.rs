//! adsim next to a live peer: Samba 4.22 as an AD DC, provisioned by `scripts/samba-peer.sh`
//! (issue 14). As root only; without root, or when the script exits 3 (the bookworm-backports
//! suite that carries Samba 4.22 cannot be reached), the tests print why and return.
//!
//! * `the_scenario_library_runs_against_samba`: every scenario of `scenarios/` in a differential
//!   run; every step gets a verdict (same / different / adsim only) and every step marked
//!   `must_match_peer` is the same on both sides.
//! * `samba_gmsa_password_derives_with_adsim_engine`: Samba's KDS root key, a gMSA's objectSid
//!   and msDS-ManagedPasswordId, read as Administrator, derive with adsim's KDS/gMSA engine into
//!   the msDS-ManagedPassword blob Samba serves to WEB01$, byte for byte.

use std::path::{Path, PathBuf};
use std::time::Instant;

use adsim_harness::scenario::format::{Scope, Transport};
use adsim_harness::scenario::ldap::Connection;
use adsim_harness::scenario::{run_file, PeerOptions, PeerVerdict, RunOptions};
use adsim_simulator::clock::NtTime;
use adsim_simulator::gmsa::{password_for, ManagedPasswordBlob, ManagedPasswordId};
use adsim_simulator::kds::{hash_from_kdf_param, RootKey};
use adsim_simulator::security::Sid;

#[path = "../benches/binds/peer.rs"]
#[allow(dead_code)]
mod samba_peer;

/// A Samba for one test; stopped and its files removed when dropped.
struct Peer {
    samba: Option<samba_peer::Samba>,
    prefix: PathBuf,
}

impl std::ops::Deref for Peer {
    type Target = samba_peer::Samba;
    fn deref(&self) -> &samba_peer::Samba {
        self.samba.as_ref().expect("running")
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.samba.take());
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}

/// A Samba for one test, on its own loopback alias (the `binds` bench uses 127.0.0.10), or
/// `None` after printing why there is none.
fn samba(ip: &str) -> Option<Peer> {
    // The effective uid: the second number of /proc/self/status's "Uid:" line.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("");
    if euid != "0" {
        println!(
            "SKIPPED: the Samba peer needs root (scripts/samba-peer.sh adds a loopback alias and runs samba)"
        );
        return None;
    }
    let prefix = std::env::temp_dir().join(format!("adsim-peer-{}-{ip}", std::process::id()));
    let started = Instant::now();
    match samba_peer::Samba::start(&prefix, ip) {
        Ok(s) => {
            println!(
                "Samba {} provisioned and started on {ip} in {:.1} s",
                s.fact("version").unwrap_or_default(),
                started.elapsed().as_secs_f64()
            );
            Some(Peer {
                samba: Some(s),
                prefix,
            })
        }
        Err(e) if e.to_string().ends_with("(exit 3)") => {
            println!("SKIPPED: no Samba 4.22 peer: {e}");
            let _ = std::fs::remove_dir_all(&prefix);
            None
        }
        Err(e) => panic!("scripts/samba-peer.sh failed: {e:#}"),
    }
}

fn peer_options(s: &samba_peer::Samba) -> PeerOptions {
    PeerOptions {
        url: s.fact("ldap_url").unwrap(),
        user: "Administrator".into(),
        password: s.fact("admin_password").unwrap(),
        // The peer is disposable: the DC's machine account may get a known password.
        reset_passwords: true,
        ..PeerOptions::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_scenario_library_runs_against_samba() {
    let Some(samba) = samba("127.0.0.41") else { return };
    let options = RunOptions {
        peer: Some(peer_options(&samba)),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let rt = runtime();
    let mut problems = Vec::new();
    let (mut same, mut different, mut only, mut must) = (0, 0, 0, 0);
    for f in scenario_files() {
        let report = rt.block_on(run_file(&f, &options));
        print!("{}", report.to_text());
        if report.setup_error.is_some() || !report.passed() {
            problems.push(format!("{} did not pass:\n{}", f.display(), report.to_text()));
        }
        let counts = report.peer_counts();
        same += counts.0;
        different += counts.1;
        only += counts.2;
        for s in &report.steps {
            match (&s.peer, s.must_match_peer) {
                (None, _) => problems.push(format!("{} step {}: no peer verdict", f.display(), s.index)),
                (Some(p), true) => {
                    must += 1;
                    if p.verdict != PeerVerdict::Same {
                        problems.push(format!(
                            "{} step {} ({}) is marked must_match_peer: {:?}",
                            f.display(),
                            s.index,
                            s.title,
                            p.verdict
                        ));
                    }
                }
                (Some(_), false) => {}
            }
        }
    }
    println!(
        "peer run: {same} same, {different} different, {only} adsim only ({must} must match) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The same through the command line, with JUnit: adsim-only steps are <skipped> with the
    // reason, and the run exits 0 (every must_match_peer step is the same).
    let junit = std::env::temp_dir().join(format!("adsim-peer-{}.xml", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args(["scenario", "run"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/gmsa-custom-interval.toml"))
        .args(["--against-dc", &samba.fact("ldap_url").unwrap()])
        .arg("--junit")
        .arg(&junit)
        .env(
            "ADSIM_PEER_CREDENTIALS",
            format!("Administrator:{}", samba.fact("admin_password").unwrap()),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("peer: 3 steps same, 4 different, 2 adsim only"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let _ = std::fs::remove_file(&junit);
    assert_eq!(
        xml.matches("<skipped message=\"adsim only: moves adsim&apos;s simulated clock\"/>")
            .count(),
        2,
        "{xml}"
    );
    assert!(
        same >= 50 && must >= 50,
        "a differential run that compares little: {same} same, {must} marked must_match_peer"
    );
}

/// The first value of `attr` in the first entry of `o`.
fn first(o: &adsim_harness::scenario::ldap::Outcome, attr: &str) -> Vec<u8> {
    o.entries
        .first()
        .and_then(|e| e.get(attr))
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_else(|| panic!("{attr} not returned: {} {:?}", o.code, o.diagnostic))
}

fn text(o: &adsim_harness::scenario::ldap::Outcome, attr: &str) -> String {
    String::from_utf8(first(o, attr)).unwrap()
}

#[test]
fn samba_gmsa_password_derives_with_adsim_engine() {
    let Some(samba) = samba("127.0.0.42") else { return };
    let opts = peer_options(&samba);
    let tls = opts.tls().unwrap();
    let base = samba.fact("base_dn").unwrap();
    let realm = samba.fact("realm").unwrap();
    let ldap = samba.fact("ldap_url").unwrap();
    let ldaps = samba.fact("ldaps_url").unwrap();
    let rt = runtime();
    rt.block_on(async {
        // As Administrator: the root key, the gMSA's SID and password ids.
        let mut admin = Connection::open(&ldap, &ldaps, Transport::Ldaps, &tls).await.unwrap();
        let bind = admin
            .bind(&format!("Administrator@{realm}"), &opts.password)
            .await
            .unwrap();
        assert_eq!(bind.code, 0, "{}", bind.diagnostic);
        let gmsa_dn = samba.fact("gmsa_dn").unwrap();
        let g = admin
            .search(
                &gmsa_dn,
                Scope::Base,
                "(objectClass=*)",
                &[
                    "objectSid".into(),
                    "msDS-ManagedPasswordId".into(),
                    "msDS-ManagedPasswordPreviousId".into(),
                ],
            )
            .await
            .unwrap();
        let sid = Sid::from_bytes(&first(&g, "objectSid")).unwrap();
        let current_id = ManagedPasswordId::decode(&first(&g, "msDS-ManagedPasswordId")).unwrap();
        let previous_id = g.entries[0]
            .get("msDS-ManagedPasswordPreviousId")
            .and_then(|v| v.first())
            .map(|b| ManagedPasswordId::decode(b).unwrap());
        let keys = admin
            .search(
                &format!(
                    "CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,{base}"
                ),
                Scope::One,
                "(objectClass=msKds-ProvRootKey)",
                &["*".into()],
            )
            .await
            .unwrap();
        assert_eq!(keys.code, 0, "{}", keys.diagnostic);
        let root_of = |id: &ManagedPasswordId| -> RootKey {
            let e = keys
                .entries
                .iter()
                .find(|e| {
                    e.get("cn")
                        .and_then(|v| v.first())
                        .is_some_and(|cn| cn.eq_ignore_ascii_case(id.root_key_id.to_string().as_bytes()))
                })
                .unwrap_or_else(|| panic!("no root key {} on the peer", id.root_key_id));
            let o = adsim_harness::scenario::ldap::Outcome {
                entries: vec![e.clone()],
                ..Default::default()
            };
            let int = |a: &str| text(&o, a).parse::<u64>().unwrap();
            let kdf_param = e
                .get("msKds-KDFParam")
                .and_then(|v| v.first())
                .cloned()
                .unwrap_or_default();
            let key = RootKey {
                id: id.root_key_id,
                version: int("msKds-Version") as u32,
                kdf_algorithm: text(&o, "msKds-KDFAlgorithmID"),
                hash: hash_from_kdf_param(&kdf_param).unwrap(),
                kdf_param,
                secret_agreement_algorithm: text(&o, "msKds-SecretAgreementAlgorithmID"),
                secret_agreement_param: e
                    .get("msKds-SecretAgreementParam")
                    .and_then(|v| v.first())
                    .cloned()
                    .unwrap_or_default(),
                public_key_length: int("msKds-PublicKeyLength") as u32,
                private_key_length: int("msKds-PrivateKeyLength") as u32,
                root_key_data: first(&o, "msKds-RootKeyData"),
                create_time: NtTime(int("msKds-CreateTime")),
                use_start_time: NtTime(int("msKds-UseStartTime")),
                domain_id: text(&o, "msKds-DomainID"),
            };
            key.validate().unwrap();
            key
        };
        admin.close().await;

        // As WEB01$ (in the gMSA's msDS-GroupMSAMembership), over LDAPS: the blob Samba serves.
        let mut reader = Connection::open(&ldap, &ldaps, Transport::Ldaps, &tls).await.unwrap();
        let bind = reader
            .bind(
                &format!("{}@{realm}", samba.fact("reader").unwrap()),
                &samba.fact("reader_password").unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(bind.code, 0, "{}", bind.diagnostic);
        let served = first(
            &reader
                .search(&gmsa_dn, Scope::Base, "(objectClass=*)", &["msDS-ManagedPassword".into()])
                .await
                .unwrap(),
            "msDS-ManagedPassword",
        );
        reader.close().await;
        let blob = ManagedPasswordBlob::decode(&served).unwrap();

        // adsim's engine: the current (and previous) password from the root key, GKID and SID.
        let current = password_for(&root_of(&current_id), current_id.gkid, &sid, None).unwrap();
        let previous = previous_id
            .as_ref()
            .map(|id| password_for(&root_of(id), id.gkid, &sid, None).unwrap());
        assert_eq!(
            blob.current_nt_hash(),
            current.nt_hash(),
            "the current password Samba serves is not the one adsim derives"
        );
        assert_eq!(blob.previous.is_some(), previous.is_some());
        // The whole blob, byte for byte: the intervals count from Samba's clock at the read, so
        // they are taken from the served blob; everything else is derived here.
        let ours = ManagedPasswordBlob::new(
            &current,
            previous.as_ref(),
            blob.query_interval,
            blob.unchanged_interval,
        )
        .encode()
        .unwrap();
        assert_eq!(ours, served, "the blob differs from the one Samba serves");
        println!(
            "Samba's msDS-ManagedPassword for {} (GKID {:?}, root key {}) derives with adsim's engine, {} bytes equal{}",
            samba.fact("gmsa").unwrap(),
            current_id.gkid,
            current_id.root_key_id,
            served.len(),
            if previous.is_some() { ", previous password included" } else { "" }
        );
    });
}
