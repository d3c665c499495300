//! The KDC against python clients: impacket 0.13 (getKerberosTGT/getKerberosTGS, saving a
//! ccache) and minikerberos 0.4.9 (`minikerberos-getTGT`). They fail, not skip, when the
//! packages are missing (`pip install impacket==0.13.1 minikerberos==0.4.9`).

use crate::common;
use crate::live;

use std::process::{Command, Output};

use adsim_simulator::kdc::KdcConfig;
use common::*;
use live::LiveKdc;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kdc/impacket_client.py");

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {what} ({e}): pip install impacket==0.13.1 minikerberos==0.4.9")
    });
    out
}

fn assert_ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn impacket(kdc: &LiveKdc, user: &str, secret: (&str, &str), spn: &str) -> Output {
    let ccache = kdc
        .dir
        .join(format!("impacket-{}.ccache", user.trim_end_matches('$')));
    run(
        Command::new("python3")
            .arg(SCRIPT)
            .arg(kdc.addr.port().to_string())
            .arg(REALM)
            .arg(user)
            .arg(secret.0)
            .arg(secret.1)
            .arg(spn)
            .arg(ccache),
        "python3 with impacket",
    )
}

#[test]
fn impacket_gets_tgt_ccache_and_service_ticket_with_a_password() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let out = impacket(
        &kdc,
        "alice",
        ("--password", ALICE_PASSWORD),
        "ldap/dc1.corp.example.test",
    );
    let text = assert_ok(&out, "impacket password");
    assert!(text.contains("TGT etype=18"), "{text}");
    assert!(text.contains("ccache saved"), "{text}");
    assert!(text.contains("TGS etype="), "{text}");
}

#[test]
fn impacket_gets_a_gmsa_tgt_with_its_aes_key() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let aes = kdc.db.get("gmsa1$").key(18).unwrap().key.clone();
    let out = impacket(
        &kdc,
        "gmsa1$",
        ("--aes-key", &hex::encode(aes)),
        "ldap/dc1.corp.example.test",
    );
    let text = assert_ok(&out, "impacket -aesKey");
    // impacket lists RC4 first in its TGS-REQ etypes: the session key follows the client's
    // order among those the DC account allows (0x1C), RFC 4120 §3.3.3.
    assert!(
        text.contains("TGT etype=18") && text.contains("TGS etype=23"),
        "{text}"
    );
}

#[test]
fn impacket_reports_a_wrong_password() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let out = impacket(
        &kdc,
        "alice",
        ("--password", "wrong"),
        "ldap/dc1.corp.example.test",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("KDC_ERR_PREAUTH_FAILED"), "{stderr}");
}

#[test]
fn minikerberos_gets_a_tgt() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let ccache = kdc.dir.join("minikerberos.ccache");
    let url = format!(
        "kerberos+password://{REALM}\\alice:{ALICE_PASSWORD}@127.0.0.1:{}",
        kdc.addr.port()
    );
    let out = run(
        Command::new("minikerberos-getTGT")
            .arg("--ccache")
            .arg(&ccache)
            .arg(&url),
        "minikerberos-getTGT",
    );
    assert_ok(&out, "minikerberos-getTGT");
    let written = std::fs::read(&ccache).expect("minikerberos wrote a ccache");
    assert_eq!(&written[..2], &[0x05, 0x04], "ccache version 4");
}
