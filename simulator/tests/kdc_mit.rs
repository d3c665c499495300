//! The KDC against a real client: MIT krb5-user (kinit, kvno, klist) on loopback UDP and TCP,
//! with libfaketime skewing the client. These tests fail, not skip, when the tools are
//! missing (`apt-get install krb5-user faketime`).

use crate::common;
use crate::live;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use adsim_simulator::kdc::KdcConfig;
use common::*;
use live::LiveKdc;

/// One MIT client session: its own credential cache and trace file.
struct Client<'a> {
    conf: PathBuf,
    ccache: PathBuf,
    trace: PathBuf,
    faketime: Option<&'a str>,
}

impl<'a> Client<'a> {
    fn new(kdc: &LiveKdc, conf: &Path, tag: &str) -> Client<'a> {
        Client {
            conf: conf.to_path_buf(),
            ccache: kdc.dir.join(format!("ccache-{tag}")),
            trace: kdc.dir.join(format!("trace-{tag}")),
            faketime: None,
        }
    }

    fn skewed(mut self, offset: &'a str) -> Self {
        self.faketime = Some(offset);
        self
    }

    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = match self.faketime {
            Some(offset) => {
                let mut c = Command::new("faketime");
                c.arg("-f").arg(offset).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args)
            .env("KRB5_CONFIG", &self.conf)
            .env("KRB5CCNAME", format!("FILE:{}", self.ccache.display()))
            .env("KRB5_TRACE", &self.trace)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install krb5-user and faketime (apt-get install krb5-user faketime)")
        });
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{input}\n").as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    fn kinit_password(&self, principal: &str, password: &str) -> Output {
        self.run("kinit", &[principal], Some(password))
    }

    fn trace_text(&self) -> String {
        std::fs::read_to_string(&self.trace).unwrap_or_default()
    }

    fn expect_ok(&self, what: &str, out: &Output) -> String {
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{what} failed: {}\n{}\ntrace:\n{}",
            String::from_utf8_lossy(&out.stderr),
            stdout,
            self.trace_text()
        );
        stdout
    }

    fn expect_err(&self, what: &str, out: &Output, message: &str) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what} unexpectedly succeeded");
        assert!(
            stderr.contains(message),
            "{what}: expected {message:?}, got {stderr:?}"
        );
    }
}

const ALICE: &str = "alice@CORP.EXAMPLE.TEST";
const LDAP_SPN: &str = "ldap/dc1.corp.example.test@CORP.EXAMPLE.TEST";

#[test]
fn kinit_kvno_klist_over_udp() {
    // A KDC allowing large datagrams, and a client sending large requests (a TGS-REQ carries
    // the PAC-bearing TGT) over UDP too, so the whole exchange stays on UDP.
    let kdc = LiveKdc::start(KdcConfig {
        max_datagram_reply_size: 65_000,
        ..KdcConfig::default()
    });
    let conf = kdc.krb5_conf("krb5-udp.conf", &[("udp_preference_limit", "65000")]);
    let client = Client::new(&kdc, &conf, "udp");
    client.expect_ok("kinit", &client.kinit_password(ALICE, ALICE_PASSWORD));
    let kvno = client.expect_ok("kvno", &client.run("kvno", &[LDAP_SPN], None));
    assert!(kvno.contains(&format!("{LDAP_SPN}: kvno = 3")), "{kvno}");
    let klist = client.expect_ok("klist", &client.run("klist", &["-e"], None));
    assert!(klist.contains(&format!("krbtgt/{REALM}@{REALM}")), "{klist}");
    assert!(klist.contains(LDAP_SPN), "{klist}");
    assert!(
        klist.contains("Etype (skey, tkt): aes256-cts-hmac-sha1-96, aes256-cts-hmac-sha1-96"),
        "{klist}"
    );
    let trace = client.trace_text();
    assert!(trace.contains("from dgram"), "answers came over UDP:\n{trace}");
    assert!(!trace.contains("TCP"), "no TCP was needed:\n{trace}");
}

#[test]
fn large_udp_replies_fall_back_to_tcp() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let conf = kdc.krb5_conf("krb5-default.conf", &[]);
    let client = Client::new(&kdc, &conf, "fallback");
    client.expect_ok("kinit", &client.kinit_password(ALICE, ALICE_PASSWORD));
    let trace = client.trace_text();
    assert!(
        trace.contains("from dgram"),
        "the PREAUTH_REQUIRED error came over UDP:\n{trace}"
    );
    assert!(
        trace.contains("from stream"),
        "the AS-REP came over TCP after RESPONSE_TOO_BIG:\n{trace}"
    );
}

#[test]
fn kinit_kvno_over_tcp_and_service_ticket_etypes() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let conf = kdc.krb5_conf("krb5-tcp.conf", &[("udp_preference_limit", "1")]);
    let client = Client::new(&kdc, &conf, "tcp");
    client.expect_ok("kinit", &client.kinit_password(ALICE, ALICE_PASSWORD));
    client.expect_ok(
        "kvno",
        &client.run("kvno", &["HTTP/WEB01.corp.example.test@CORP.EXAMPLE.TEST"], None),
    );
    // A service account without msDS-SupportedEncryptionTypes gets an RC4 ticket (KB5021131
    // default), with an AES session key.
    client.expect_ok(
        "kvno",
        &client.run(
            "kvno",
            &["MSSQLSvc/sql01.corp.example.test:1433@CORP.EXAMPLE.TEST"],
            None,
        ),
    );
    let klist = client.expect_ok("klist", &client.run("klist", &["-e"], None));
    assert!(
        klist.contains("Etype (skey, tkt): aes256-cts-hmac-sha1-96, DEPRECATED:arcfour-hmac"),
        "{klist}"
    );
    let trace = client.trace_text();
    assert!(
        trace.contains("from stream") && !trace.contains("from dgram"),
        "TCP only:\n{trace}"
    );
    let err = client.run(
        "kvno",
        &["ldap/unknown.corp.example.test@CORP.EXAMPLE.TEST"],
        None,
    );
    client.expect_err("kvno unknown", &err, "Server not found in Kerberos database");
}

#[test]
fn kinit_with_exported_keytabs_for_a_computer_and_a_gmsa() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let conf = kdc.krb5_conf("krb5-kt.conf", &[]);
    for sam in ["WEB01$", "gmsa1$"] {
        let keytab = kdc.keytab_for(sam);
        let client = Client::new(&kdc, &conf, sam.trim_end_matches('$'));
        let principal = format!("{sam}@{REALM}");
        client.expect_ok(
            "kinit -kt",
            &client.run("kinit", &["-kt", keytab.to_str().unwrap(), &principal], None),
        );
        client.expect_ok("kvno", &client.run("kvno", &[LDAP_SPN], None));
        let klist = client.expect_ok("klist", &client.run("klist", &["-e"], None));
        assert!(
            klist.contains(&format!("Default principal: {principal}")),
            "{klist}"
        );
    }
    // After a gMSA rollover the exported keytab holds both passwords' keys and still works.
    kdc.db.update("gmsa1$", |p| {
        p.previous_keys = std::mem::take(&mut p.keys);
        p.keys = derive_keys("gmsa-next", &p.salt, 4);
    });
    let keytab = kdc.keytab_for("gmsa1$");
    let client = Client::new(&kdc, &conf, "gmsa-rolled");
    let principal = format!("gmsa1$@{REALM}");
    client.expect_ok(
        "kinit -kt after rollover",
        &client.run("kinit", &["-kt", keytab.to_str().unwrap(), &principal], None),
    );
    let listing = client.expect_ok(
        "klist -k",
        &client.run("klist", &["-k", keytab.to_str().unwrap()], None),
    );
    assert!(
        listing.contains("   4 gmsa1$@") && listing.contains("   3 gmsa1$@"),
        "{listing}"
    );
    // The keytab lists every etype with its kvno, as klist -k shows it.
    let keytab = kdc.keytab_for("WEB01$");
    let client = Client::new(&kdc, &conf, "ktlist");
    let listing = client.expect_ok(
        "klist -k",
        &client.run("klist", &["-k", "-e", keytab.to_str().unwrap()], None),
    );
    for etype in [
        "aes256-cts-hmac-sha1-96",
        "aes128-cts-hmac-sha1-96",
        "DEPRECATED:arcfour-hmac",
    ] {
        assert!(
            listing.contains(&format!("3 WEB01$@{REALM} ({etype})")),
            "{listing}"
        );
    }
}

#[test]
fn wrong_password_and_unknown_user() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let conf = kdc.krb5_conf("krb5-bad.conf", &[]);
    let client = Client::new(&kdc, &conf, "bad");
    client.expect_err(
        "kinit",
        &client.kinit_password(ALICE, "wrong"),
        "Password incorrect",
    );
    client.expect_err(
        "kinit",
        &client.kinit_password("nobody@CORP.EXAMPLE.TEST", "x"),
        "not found in Kerberos database",
    );
    client.expect_err(
        "kinit",
        &client.kinit_password("bob@CORP.EXAMPLE.TEST", "Bob-Passw0rd"),
        "revoked",
    );
}

#[test]
fn client_skew_with_kdc_timesync_off() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let conf = kdc.krb5_conf("krb5-notimesync.conf", &[("kdc_timesync", "0")]);
    for offset in ["+4m", "-4m"] {
        let client = Client::new(&kdc, &conf, &format!("ok{offset}")).skewed(offset);
        client.expect_ok(
            &format!("kinit at {offset}"),
            &client.kinit_password(ALICE, ALICE_PASSWORD),
        );
        client.expect_ok(
            &format!("kvno at {offset}"),
            &client.run("kvno", &[LDAP_SPN], None),
        );
    }
    for offset in ["+6m", "-6m"] {
        let client = Client::new(&kdc, &conf, &format!("bad{offset}")).skewed(offset);
        client.expect_err(
            &format!("kinit at {offset}"),
            &client.kinit_password(ALICE, ALICE_PASSWORD),
            "Clock skew too great while getting initial credentials",
        );
    }
    // TGS: a TGT obtained in sync, then kvno from a client 6 minutes ahead.
    let client = Client::new(&kdc, &conf, "tgs");
    client.expect_ok("kinit", &client.kinit_password(ALICE, ALICE_PASSWORD));
    let skewed = Client {
        faketime: Some("+6m"),
        ..Client::new(&kdc, &conf, "tgs")
    };
    skewed.expect_err(
        "kvno at +6m",
        &skewed.run("kvno", &[LDAP_SPN], None),
        "Clock skew too great while getting credentials",
    );
}

#[test]
fn default_timesync_corrects_a_skewed_client_from_stime() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let conf = kdc.krb5_conf("krb5-timesync.conf", &[]);
    for offset in ["+10m", "-10m"] {
        let client = Client::new(&kdc, &conf, &format!("sync{offset}")).skewed(offset);
        client.expect_ok(
            &format!("kinit at {offset}"),
            &client.kinit_password(ALICE, ALICE_PASSWORD),
        );
        client.expect_ok(
            &format!("kvno at {offset}"),
            &client.run("kvno", &[LDAP_SPN], None),
        );
    }
}

#[test]
fn moving_the_kdc_clock_skews_every_client() {
    let kdc = LiveKdc::start(KdcConfig::default());
    let conf = kdc.krb5_conf("krb5-kdcclock.conf", &[("kdc_timesync", "0")]);
    let client = Client::new(&kdc, &conf, "kdcclock");
    kdc.clock.advance_seconds(360);
    client.expect_err(
        "kinit",
        &client.kinit_password(ALICE, ALICE_PASSWORD),
        "Clock skew too great",
    );
    kdc.clock.advance_seconds(-360 - 240);
    client.expect_ok("kinit at KDC -4m", &client.kinit_password(ALICE, ALICE_PASSWORD));
    kdc.clock.advance_seconds(240 - 360);
    client.expect_err(
        "kvno at KDC -6m",
        &client.run("kvno", &[LDAP_SPN], None),
        "Clock skew too great",
    );
}
