//! What the authentication-engine tests share: the DC's keys as a `ServiceKeys`, alice's ticket
//! for the DC's LDAP service from the in-process KDC, the DC's NTLM names, and the runner of the
//! Python client scripts beside this file.

use std::process::Command;

use adsim_simulator::auth::gss_krb5::ServiceKeys;
use adsim_simulator::auth::ntlm::ServerNames;
use adsim_simulator::kdc::client::Credential;
use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::messages::PrincipalName;

use crate::common::*;

/// The DC account's keys, whatever the service name asked for.
pub struct DcKeys(pub Vec<adsim_simulator::kdc::KerberosKey>);

impl ServiceKeys for DcKeys {
    fn key(&self, _sname: &PrincipalName, _realm: &str, etype: i32, _kvno: Option<u32>) -> Option<Vec<u8>> {
        self.0.iter().find(|k| k.etype == etype).map(|k| k.key.clone())
    }
}

/// alice's service ticket for `ldap/dc1.corp.example.test` (AES256 TGT, frozen clock at T0),
/// and the keys the DC opens it with.
pub fn ldap_ticket() -> (Credential, DcKeys) {
    let db = standard_db();
    let (kdc, _) = frozen_kdc(db.clone());
    let tgt = get_tgt(
        &kdc,
        "alice",
        ALICE_PASSWORD,
        &format!("{REALM}alice"),
        Etype::Aes256,
    )
    .unwrap();
    let cred = get_service_ticket(
        &kdc,
        &tgt,
        &TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0),
    )
    .unwrap();
    (cred, DcKeys(db.get("DC1$").keys))
}

/// The names the DC puts in its NTLM CHALLENGE.
pub fn names() -> ServerNames {
    ServerNames {
        nb_domain: "CORP".into(),
        nb_computer: "DC1".into(),
        dns_domain: "corp.example.test".into(),
        dns_computer: "dc1.corp.example.test".into(),
        dns_tree: "corp.example.test".into(),
    }
}

/// Runs a Python client script with `args`; its trimmed standard output (it must succeed).
pub fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
