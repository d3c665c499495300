//! Kerberos end to end: `adsim serve` with accounts added over LDAPS, krb5.conf and keytabs
//! exported through the control API, and real clients — MIT krb5-user (kinit, kvno, klist)
//! skewed with libfaketime, impacket and minikerberos. Missing tools fail the tests
//! (`./scripts/test.sh` installs them).

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

const REALM: &str = "CORP.EXAMPLE.TEST";
const ALICE_PASSWORD: &str = "Alice-Passw0rd!";
const WEB01_PASSWORD: &str = "Web01-Machine-Passw0rd!";
const LDAP_SPN: &str = "ldap/dc1.corp.example.test";
const HTTP_SPN: &str = "HTTP/web01.corp.example.test";

/// A running server with alice and WEB01$ (AES-only, with SPNs) added over LDAPS.
struct Forest {
    adsim: Adsim,
    dir: PathBuf,
}

impl Drop for Forest {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Forest {
    fn start(extra: &[&str]) -> Forest {
        let adsim = Adsim::start(extra);
        let base = adsim.base();
        let ldif = format!(
            "dn: CN=Alice,CN=Users,{base}\nobjectClass: user\nsAMAccountName: alice\n\
             userPrincipalName: alice@corp.example.test\nuserAccountControl: 512\nunicodePwd:: {}\n\n\
             dn: CN=WEB01,CN=Computers,{base}\nobjectClass: computer\nsAMAccountName: WEB01$\n\
             dNSHostName: web01.corp.example.test\nuserAccountControl: 4096\n\
             msDS-SupportedEncryptionTypes: 24\nservicePrincipalName: {HTTP_SPN}\n\
             servicePrincipalName: HOST/web01.corp.example.test\nunicodePwd:: {}\n",
            unicode_pwd_b64(ALICE_PASSWORD),
            unicode_pwd_b64(WEB01_PASSWORD),
        );
        let o = adsim.as_admin("ldapadd", &adsim.ldaps(), &[], Some(&ldif));
        assert!(o.status.success(), "ldapadd: {}", text(&o));
        let port = adsim.kdc().rsplit_once(':').unwrap().1.to_string();
        let dir = std::env::temp_dir().join(format!("adsim-e2e-krb-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Forest { adsim, dir }
    }

    /// krb5.conf exported through the control API, with extra [libdefaults] relations.
    fn krb5_conf(&self, name: &str, relations: &[&str]) -> PathBuf {
        let path = self.dir.join(name);
        let mut args = vec!["export", "krb5-conf", "--out", path.to_str().unwrap()];
        for r in relations {
            args.extend(["--set", r]);
        }
        self.adsim.cli_ok(&args);
        path
    }

    fn keytab(&self, principal: &str) -> PathBuf {
        let path = self
            .dir
            .join(format!("{}.keytab", principal.trim_end_matches('$')));
        self.adsim.cli_ok(&[
            "export",
            "keytab",
            "--principal",
            principal,
            "--out",
            path.to_str().unwrap(),
        ]);
        path
    }

    fn client(&self, conf: &Path, tag: &str) -> Client {
        Client {
            conf: conf.to_path_buf(),
            ccache: self.dir.join(format!("ccache-{tag}")),
            trace: self.dir.join(format!("trace-{tag}")),
            faketime: None,
        }
    }
}

/// One MIT client: its own credential cache and trace, optionally under libfaketime.
struct Client {
    conf: PathBuf,
    ccache: PathBuf,
    trace: PathBuf,
    faketime: Option<String>,
}

impl Client {
    fn skewed(mut self, offset: &str) -> Client {
        self.faketime = Some(offset.to_string());
        self
    }

    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = match &self.faketime {
            Some(offset) => {
                let mut c = Command::new("faketime");
                c.args(["-f", offset, program]);
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
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program} ({e}): apt-get install krb5-user faketime"));
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            pipe.write_all(format!("{input}\n").as_bytes()).unwrap();
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    fn kinit_alice(&self) -> Output {
        self.run("kinit", &[&format!("alice@{REALM}")], Some(ALICE_PASSWORD))
    }

    fn trace_text(&self) -> String {
        std::fs::read_to_string(&self.trace).unwrap_or_default()
    }

    fn ok(&self, what: &str, out: &Output) -> String {
        assert!(
            out.status.success(),
            "{what} failed: {}\ntrace:\n{}",
            text(out),
            self.trace_text()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn fails_with(&self, what: &str, out: &Output, message: &str) {
        assert!(!out.status.success(), "{what} unexpectedly succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(message),
            "{what}: expected {message:?}, got {stderr:?}"
        );
    }
}

#[test]
fn kinit_kvno_and_klist_over_udp_then_tcp_only() {
    let f = Forest::start(&[]);

    // Default client settings: small requests go over UDP; a reply above the DC's 1465-byte
    // datagram limit comes back as RESPONSE_TOO_BIG and the client retries over TCP.
    let conf = f.krb5_conf("krb5-default.conf", &[]);
    let c = f.client(&conf, "udp");
    c.ok("kinit", &c.kinit_alice());
    c.ok("kvno", &c.run("kvno", &[LDAP_SPN], None));
    let trace = c.trace_text();
    assert!(
        trace.contains("from dgram"),
        "the UDP listener answered:\n{trace}"
    );

    // udp_preference_limit = 1: everything over TCP.
    let conf = f.krb5_conf("krb5-tcp.conf", &["udp_preference_limit=1"]);
    let c = f.client(&conf, "tcp");
    c.ok("kinit", &c.kinit_alice());
    let kvno = c.ok("kvno", &c.run("kvno", &[LDAP_SPN, HTTP_SPN], None));
    assert!(kvno.contains(&format!("{LDAP_SPN}@{REALM}: kvno = ")), "{kvno}");
    assert!(kvno.contains(&format!("{HTTP_SPN}@{REALM}: kvno = 1")), "{kvno}");
    let trace = c.trace_text();
    assert!(
        trace.contains("from stream") && !trace.contains("from dgram"),
        "TCP only:\n{trace}"
    );
    // The DC (msDS-SupportedEncryptionTypes 28) and WEB01$ (24) get AES256 tickets; the
    // session keys follow the client's preference, AES256 first.
    let klist = c.ok("klist", &c.run("klist", &["-e"], None));
    assert!(
        klist.contains(&format!("Default principal: alice@{REALM}")),
        "{klist}"
    );
    assert!(klist.contains(&format!("krbtgt/{REALM}@{REALM}")), "{klist}");
    assert!(klist.contains(&format!("{LDAP_SPN}@{REALM}")), "{klist}");
    assert_eq!(
        klist
            .matches("Etype (skey, tkt): aes256-cts-hmac-sha1-96, aes256-cts-hmac-sha1-96")
            .count(),
        3,
        "{klist}"
    );

    // A wrong password and an unknown account.
    let c = f.client(&conf, "bad");
    c.fails_with(
        "kinit with a wrong password",
        &c.run("kinit", &[&format!("alice@{REALM}")], Some("nope")),
        "Password incorrect",
    );
    c.fails_with(
        "kinit nobody",
        &c.run("kinit", &[&format!("nobody@{REALM}")], Some("x")),
        "not found in Kerberos database",
    );
}

#[test]
fn exported_keytab_logs_in_the_computer_and_opens_its_tickets() {
    let f = Forest::start(&[]);
    let conf = f.krb5_conf("krb5.conf", &["udp_preference_limit=1"]);
    let keytab = f.keytab("WEB01$");
    let kt = keytab.to_str().unwrap();

    let c = f.client(&conf, "web01");
    let listing = c.ok("klist -k", &c.run("klist", &["-k", "-e", kt], None));
    for etype in [
        "aes256-cts-hmac-sha1-96",
        "aes128-cts-hmac-sha1-96",
        "DEPRECATED:arcfour-hmac",
    ] {
        for name in ["WEB01$", HTTP_SPN, "HOST/web01.corp.example.test"] {
            assert!(
                listing.contains(&format!("   1 {name}@{REALM} ({etype})")),
                "{name} {etype}:\n{listing}"
            );
        }
    }
    let principal = format!("WEB01$@{REALM}");
    c.ok("kinit -kt", &c.run("kinit", &["-kt", kt, &principal], None));
    c.ok("kvno", &c.run("kvno", &[LDAP_SPN], None));
    let klist = c.ok("klist", &c.run("klist", &["-e"], None));
    assert!(
        klist.contains(&format!("Default principal: {principal}")),
        "{klist}"
    );

    // alice's ticket for WEB01's SPN decrypts with the exported keys (kvno -k verifies it).
    let alice = f.client(&conf, "alice-to-web01");
    alice.ok("kinit", &alice.kinit_alice());
    let out = alice.ok("kvno -k", &alice.run("kvno", &["-k", kt, HTTP_SPN], None));
    assert!(out.contains("keytab entry valid"), "{out}");

    // A keytab of someone else's keys does not verify it.
    let other = f.keytab("alice");
    let out = alice.run("kvno", &["-k", other.to_str().unwrap(), HTTP_SPN], None);
    assert!(!out.status.success(), "alice's keys must not open WEB01's ticket");
}

/// `kvno cifs/dc1…` works although the DC registers no `cifs/` SPN: the forest's sPNMappings
/// make its `HOST/` SPNs answer for cifs, http and fifty other classes (MS-DRSR 4.1.4.2.19);
/// a class outside the list is unknown (7, "Server not found in Kerberos database").
#[test]
fn kvno_of_a_host_alias_uses_the_dc_account_through_spn_mappings() {
    let f = Forest::start(&[]);
    let conf = f.krb5_conf("krb5-alias.conf", &["udp_preference_limit=1"]);
    let c = f.client(&conf, "alias");
    c.ok("kinit", &c.kinit_alice());
    let host = c.ok("kvno", &c.run("kvno", &["host/dc1.corp.example.test"], None));
    let cifs = c.ok(
        "kvno",
        &c.run(
            "kvno",
            &["cifs/dc1.corp.example.test", "HTTP/dc1.corp.example.test"],
            None,
        ),
    );
    // Same account, same key version.
    let kvno_of = |out: &str| out.rsplit("kvno = ").next().unwrap().trim().to_string();
    assert!(
        cifs.contains(&format!(
            "cifs/dc1.corp.example.test@{REALM}: kvno = {}",
            kvno_of(&host)
        )),
        "{cifs}"
    );
    assert!(
        cifs.contains(&format!("HTTP/dc1.corp.example.test@{REALM}: kvno = ")),
        "{cifs}"
    );
    c.fails_with(
        "kvno",
        &c.run("kvno", &["nosuch/dc1.corp.example.test"], None),
        "Server not found in Kerberos database",
    );
}

#[test]
fn five_minute_skew_rule_with_faketime_and_with_the_adsim_clock() {
    let f = Forest::start(&[]);
    let conf = f.krb5_conf(
        "krb5-notimesync.conf",
        &["kdc_timesync=0", "udp_preference_limit=1"],
    );
    for offset in ["+4m", "-4m"] {
        let c = f.client(&conf, &format!("ok{offset}")).skewed(offset);
        c.ok(&format!("kinit at {offset}"), &c.kinit_alice());
        c.ok(&format!("kvno at {offset}"), &c.run("kvno", &[LDAP_SPN], None));
    }
    for offset in ["+6m", "-6m"] {
        let c = f.client(&conf, &format!("bad{offset}")).skewed(offset);
        c.fails_with(
            &format!("kinit at {offset}"),
            &c.kinit_alice(),
            "Clock skew too great while getting initial credentials",
        );
    }

    // The same through the simulated clock: every client is skewed at once.
    let c = f.client(&conf, "kdc-clock");
    let ctl_clock = |d: &str| f.adsim.cli_ok(&["ctl", "clock", "--advance", d]);
    ctl_clock("6m");
    c.fails_with("kinit, adsim +6m", &c.kinit_alice(), "Clock skew too great");
    ctl_clock("-2m");
    c.ok("kinit, adsim +4m", &c.kinit_alice());
    ctl_clock("-8m");
    c.ok("kinit, adsim -4m", &c.kinit_alice());
    ctl_clock("-2m");
    c.fails_with("kinit, adsim -6m", &c.kinit_alice(), "Clock skew too great");
    // A TGT got in sync, then the KDC moves: the TGS exchange checks the authenticator too.
    ctl_clock("6m");
    c.ok("kinit, adsim back in sync", &c.kinit_alice());
    ctl_clock("-6m");
    c.fails_with(
        "kvno, adsim -6m",
        &c.run("kvno", &[LDAP_SPN], None),
        "Clock skew too great while getting credentials",
    );
    ctl_clock("6m");
    c.ok("kvno, adsim back in sync", &c.run("kvno", &[LDAP_SPN], None));

    // With MIT's default kdc_timesync the client corrects itself from the error's stime.
    let conf = f.krb5_conf("krb5-timesync.conf", &["udp_preference_limit=1"]);
    let c = f.client(&conf, "timesync").skewed("+10m");
    c.ok("kinit at +10m with kdc_timesync", &c.kinit_alice());
}

#[test]
fn max_skew_minutes_sets_the_tolerance() {
    let f = Forest::start(&["--max-skew-minutes", "10"]);
    // MIT checks the reply's time against its own `clockskew` (300 s) too: widen it so only
    // the KDC's tolerance decides.
    let conf = f.krb5_conf(
        "krb5.conf",
        &["kdc_timesync=0", "udp_preference_limit=1", "clockskew=900"],
    );
    let c = f.client(&conf, "p6").skewed("+6m");
    c.ok("kinit at +6m with a 10-minute tolerance", &c.kinit_alice());
    let c = f.client(&conf, "p11").skewed("+11m");
    c.fails_with("kinit at +11m", &c.kinit_alice(), "Clock skew too great");
}

/// The KDC's port, for the python clients that take one.
fn kdc_port(f: &Forest) -> String {
    f.adsim.kdc().rsplit_once(':').unwrap().1.to_string()
}

#[test]
fn impacket_gets_a_tgt_and_a_service_ticket_with_a_password() {
    let f = Forest::start(&[]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/simulator/tests/kdc/impacket_client.py"
    );
    let ccache = f.dir.join("impacket.ccache");
    let run = |password: &str| {
        Command::new("python3")
            .arg(script)
            .arg(kdc_port(&f))
            .arg(REALM)
            .arg("alice")
            .args(["--password", password])
            .arg(LDAP_SPN)
            .arg(&ccache)
            .output()
            .expect("python3 runs")
    };
    let out = run(ALICE_PASSWORD);
    assert!(out.status.success(), "impacket: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("TGT etype=18") && stdout.contains("ccache saved"),
        "{stdout}"
    );
    assert!(stdout.contains("TGS etype="), "{stdout}");
    let out = run("wrong");
    assert!(
        !out.status.success() && text(&out).contains("KDC_ERR_PREAUTH_FAILED"),
        "{}",
        text(&out)
    );
}

#[test]
fn minikerberos_gets_a_tgt_with_a_password() {
    let f = Forest::start(&[]);
    let ccache = f.dir.join("minikerberos.ccache");
    let url = format!(
        "kerberos+password://{REALM}\\alice:{ALICE_PASSWORD}@127.0.0.1:{}",
        kdc_port(&f)
    );
    let out = Command::new("minikerberos-getTGT")
        .arg("--ccache")
        .arg(&ccache)
        .arg(&url)
        .output()
        .expect("minikerberos-getTGT runs (pip install minikerberos)");
    assert!(out.status.success(), "{}", text(&out));
    let written = std::fs::read(&ccache).expect("minikerberos wrote a ccache");
    assert_eq!(&written[..2], &[0x05, 0x04], "ccache version 4");
}

#[test]
fn each_domain_has_its_own_kdc_and_realm() {
    let f = Forest::start(&["--child-domain", "eu"]);
    let domains = f.adsim.ready["domains"].as_array().unwrap().clone();
    assert_eq!(domains.len(), 2);
    let child_kdc = domains[1]["kdc"].as_str().unwrap().to_string();
    assert_eq!(domains[0]["kdc"].as_str().unwrap(), f.adsim.kdc());
    assert_ne!(child_kdc, f.adsim.kdc());
    let conf = f.krb5_conf("krb5.conf", &["udp_preference_limit=1"]);
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains(&format!("EU.CORP.EXAMPLE.TEST = {{\n        kdc = {child_kdc}\n")),
        "{text}"
    );
    for realm in [REALM, "EU.CORP.EXAMPLE.TEST"] {
        let c = f.client(&conf, realm);
        let admin = format!("Administrator@{realm}");
        c.ok(
            &format!("kinit {admin}"),
            &c.run("kinit", &[&admin], Some(ADMIN_PASSWORD)),
        );
        let dc = if realm == REALM { "dc1" } else { "dc2" };
        let spn = format!("ldap/{dc}.{}@{realm}", realm.to_lowercase());
        c.ok("kvno", &c.run("kvno", &[&spn], None));
        let trace = c.trace_text();
        let port = if realm == REALM {
            f.adsim.kdc()
        } else {
            child_kdc.clone()
        };
        assert!(
            trace.contains(&format!("stream {port}")),
            "{realm} answered by {port}:\n{trace}"
        );
    }
    // alice lives in the root domain: the child's KDC does not know her.
    let c = f.client(&conf, "alice-eu");
    c.fails_with(
        "kinit alice in the child realm",
        &c.run("kinit", &["alice@EU.CORP.EXAMPLE.TEST"], Some(ALICE_PASSWORD)),
        "not found in Kerberos database",
    );
}

/// `msDS-ManagedPassword` of a gMSA read over LDAPS as Administrator: (current, previous)
/// passwords as UTF-16LE bytes (MS-ADTS 2.2.19: offsets at 8 and 10, NUL-terminated).
fn managed_passwords(f: &Forest, dn: &str) -> (Vec<u8>, Option<Vec<u8>>) {
    use base64::Engine;
    let o = ldap_tool(
        "ldapsearch",
        &f.adsim.ca(),
        &[
            "-x",
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-H",
            &f.adsim.ldaps(),
            "-D",
            "CORP\\Administrator",
            "-w",
            ADMIN_PASSWORD,
            "-b",
            dn,
            "-s",
            "base",
            "msDS-ManagedPassword",
        ],
        None,
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let b64 = out
        .lines()
        .find_map(|l| l.strip_prefix("msDS-ManagedPassword:: "))
        .unwrap_or_else(|| panic!("no msDS-ManagedPassword: {}", text(&o)));
    let blob = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let password_at = |offset: usize| -> Vec<u8> {
        let units = blob[offset..].chunks(2).take_while(|u| u != &[0, 0]);
        units.flatten().copied().collect()
    };
    let u16_at = |i: usize| usize::from(u16::from_le_bytes([blob[i], blob[i + 1]]));
    let previous = u16_at(10);
    (
        password_at(u16_at(8)),
        (previous != 0).then(|| password_at(previous)),
    )
}

/// The AES256 key of a UTF-16LE password, derived by impacket (RFC 3962 string-to-key over the
/// UTF-8 form with unpaired surrogates replaced), independently of adsim's own code.
pub(crate) fn impacket_aes256(password_utf16: &[u8], salt: &str) -> Vec<u8> {
    let script = "import sys\nfrom impacket.krb5.crypto import _AES256CTS\n\
                  pw = bytes.fromhex(sys.argv[1]).decode('utf-16-le', 'replace').encode('utf-8')\n\
                  print(_AES256CTS.string_to_key(pw, sys.argv[2].encode(), None).contents.hex())\n";
    let hex_pw: String = password_utf16.iter().map(|b| format!("{b:02x}")).collect();
    let o = python(script, &[&hex_pw, salt]);
    assert!(o.status.success(), "{}", text(&o));
    let hex_key = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (0..hex_key.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex_key[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn gmsa_keytab_follows_the_managed_password_across_a_rollover() {
    use adsim_simulator::kdc::keytab::read_keytab;
    use adsim_simulator::security::{sddl, AliasDomains, Sid};
    use base64::Engine;

    let f = Forest::start(&[]);
    let base = f.adsim.base();
    let domain_sid: Sid = f.adsim.ready["domains"][0]["domain_sid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // PrincipalsAllowedToRetrieveManagedPassword = Domain Admins (as the cmdlet writes it).
    let sd = sddl::parse(
        &format!("O:S-1-5-32-544D:(A;;0x0f01ff;;;{})", domain_sid.with_rid(512)),
        &AliasDomains::single(domain_sid.clone()),
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    let dn = format!("CN=svc-web,CN=Managed Service Accounts,{base}");
    let ldif = format!(
        "dn: {dn}\nobjectClass: msDS-GroupManagedServiceAccount\nsAMAccountName: svc-web$\n\
         dNSHostName: svc-web.corp.example.test\nservicePrincipalName: HTTP/svc-web.corp.example.test\nmsDS-ManagedPasswordInterval: 30\n\
         msDS-GroupMSAMembership:: {}\n",
        base64::engine::general_purpose::STANDARD.encode(sd)
    );
    let o = ldap_tool(
        "ldapadd",
        &f.adsim.ca(),
        &[
            "-x",
            "-H",
            &f.adsim.ldaps(),
            "-D",
            "CORP\\Administrator",
            "-w",
            ADMIN_PASSWORD,
        ],
        Some(&ldif),
    );
    assert!(o.status.success(), "ldapadd gMSA: {}", text(&o));
    let salt = "CORP.EXAMPLE.TESThostsvc-web.corp.example.test";
    let principal = format!("svc-web$@{REALM}");
    let aes256 = |keytab: &Path, kvno: u32| -> Vec<u8> {
        let entries = read_keytab(&std::fs::read(keytab).unwrap()).unwrap();
        entries
            .iter()
            .find(|e| e.components == ["svc-web$"] && e.etype == 18 && e.kvno == kvno)
            .unwrap_or_else(|| panic!("no kvno {kvno} AES256 key in {entries:?}"))
            .key
            .clone()
    };

    let (first, previous) = managed_passwords(&f, &dn);
    assert!(previous.is_none(), "a new gMSA has no previous password");
    let keytab1 = f.keytab("svc-web$");
    assert_eq!(aes256(&keytab1, 1), impacket_aes256(&first, salt));
    let conf = f.krb5_conf("krb5.conf", &["udp_preference_limit=1"]);
    let c = f.client(&conf, "gmsa");
    c.ok(
        "kinit -kt gMSA",
        &c.run("kinit", &["-kt", keytab1.to_str().unwrap(), &principal], None),
    );
    c.ok("kvno as the gMSA", &c.run("kvno", &[LDAP_SPN], None));

    // 30 days later the password has rolled over: new keys under kvno 2, the old ones kept.
    // The export comes first, so the KDC's own look-up performs the lazy rollover.
    f.adsim.cli_ok(&["ctl", "clock", "--advance", "30d"]);
    let keytab2 = f.keytab("svc-web$");
    let (current, previous) = managed_passwords(&f, &dn);
    assert_ne!(current, first);
    assert_eq!(previous.as_deref(), Some(first.as_slice()));
    assert_eq!(aes256(&keytab2, 2), impacket_aes256(&current, salt));
    assert_eq!(aes256(&keytab2, 1), aes256(&keytab1, 1));
    let c = f.client(&conf, "gmsa-rolled").skewed("+30d");
    c.ok(
        "kinit -kt after the rollover",
        &c.run("kinit", &["-kt", keytab2.to_str().unwrap(), &principal], None),
    );
    c.ok("kvno after the rollover", &c.run("kvno", &[LDAP_SPN], None));
}

/// Seconds since 1970 of klist's `MM/DD/YY HH:MM:SS` (C locale; the year in two or four digits).
fn klist_time(date: &str, time: &str) -> i64 {
    let d: Vec<i64> = date.split('/').map(|x| x.parse().unwrap()).collect();
    let t: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    let (m, day, y) = (d[0], d[1], if d[2] < 100 { 2000 + d[2] } else { d[2] });
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]
}

/// The lifetime and the renewable lifetime (from the start) klist shows for `service`.
fn klist_lifetimes(klist: &str, service: &str) -> (i64, Option<i64>) {
    let lines: Vec<&str> = klist.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.split_whitespace().nth(4) == Some(service))
        .unwrap_or_else(|| panic!("no {service} in klist:\n{klist}"));
    let w: Vec<&str> = lines[i].split_whitespace().collect();
    let start = klist_time(w[0], w[1]);
    let end = klist_time(w[2], w[3]);
    let renew = lines
        .get(i + 1)
        .and_then(|l| l.trim().strip_prefix("renew until "))
        .map(|r| {
            let r: Vec<&str> = r.split_whitespace().collect();
            klist_time(r[0], r[1]) - start
        });
    (end - start, renew)
}

#[test]
fn the_domain_kerberos_policy_sets_lifetimes_and_the_skew() {
    let f = Forest::start(&[]);
    let tgt = format!("krbtgt/{REALM}@{REALM}");
    let ldap = format!("{LDAP_SPN}@{REALM}");
    // MIT's own limits (ticket_lifetime 1 day, clockskew 300 s) must not be what decides.
    let conf = f.krb5_conf(
        "krb5.conf",
        &[
            "kdc_timesync=0",
            "udp_preference_limit=1",
            "clockskew=1800",
            "ticket_lifetime=30d",
            "renew_lifetime=30d",
        ],
    );
    let shown = f.adsim.cli_ok(&["ctl", "kerberos-policy"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        (
            &v["MaxTicketAge"],
            &v["MaxRenewAge"],
            &v["MaxServiceAge"],
            &v["MaxClockSkew"]
        ),
        (&10.into(), &7.into(), &600.into(), &5.into()),
        "a new domain's Default Domain Policy: {shown}"
    );

    // Defaults: a 20-hour, 10-day request gets 10 hours, renewable for 7 days.
    let c = f.client(&conf, "defaults");
    let kinit = |c: &Client| {
        c.run(
            "kinit",
            &["-l", "20h", "-r", "10d", &format!("alice@{REALM}")],
            Some(ALICE_PASSWORD),
        )
    };
    c.ok("kinit -l 20h -r 10d", &kinit(&c));
    c.ok("kvno", &c.run("kvno", &[LDAP_SPN], None));
    let klist = c.ok("klist", &c.run("klist", &[], None));
    assert_eq!(
        klist_lifetimes(&klist, &tgt),
        (36_000, Some(7 * 86_400)),
        "{klist}"
    );
    assert_eq!(klist_lifetimes(&klist, &ldap).0, 36_000, "{klist}");

    // Tightened through the control API: TGTs for 2 hours, renewable for a day, service
    // tickets for 30 minutes.
    f.adsim.cli_ok(&[
        "ctl",
        "kerberos-policy",
        "--max-ticket-age",
        "2",
        "--max-renew-age",
        "1",
        "--max-service-age",
        "30",
    ]);
    let c = f.client(&conf, "tight");
    c.ok("kinit under the new policy", &kinit(&c));
    c.ok("kvno under the new policy", &c.run("kvno", &[LDAP_SPN], None));
    let klist = c.ok("klist", &c.run("klist", &[], None));
    assert_eq!(klist_lifetimes(&klist, &tgt), (7200, Some(86_400)), "{klist}");
    assert_eq!(klist_lifetimes(&klist, &ldap).0, 1800, "{klist}");
    // A service age above the ticket age is refused, and nothing changes.
    let refused = f
        .adsim
        .cli(&["ctl", "kerberos-policy", "--max-service-age", "121"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("must not exceed MaxTicketAge"),
        "{}",
        text(&refused)
    );

    // The skew moves with MaxClockSkew, set here through `adsim ps`: 10 minutes lets a
    // client 6 minutes ahead in, 2 minutes keeps one 3 minutes ahead out.
    let ps = |line: &str| f.adsim.cli_ok(&["ps", "-c", line]);
    ps("Set-AdsimKerberosPolicy -MaxClockSkew 10");
    let c = f.client(&conf, "p6").skewed("+6m");
    c.ok("kinit at +6m, MaxClockSkew 10", &c.kinit_alice());
    c.ok("kvno at +6m, MaxClockSkew 10", &c.run("kvno", &[LDAP_SPN], None));
    let shown = ps("Set-AdsimKerberosPolicy -MaxClockSkew 2 -PassThru");
    assert!(
        shown
            .lines()
            .any(|l| l.split_once(':').map(|(k, v)| (k.trim(), v.trim())) == Some(("MaxClockSkew", "2"))),
        "{shown}"
    );
    c.fails_with(
        "kvno at +6m, MaxClockSkew 2",
        &c.run("kvno", &[HTTP_SPN], None),
        "Clock skew too great",
    );
    let c = f.client(&conf, "p3").skewed("+3m");
    c.fails_with(
        "kinit at +3m, MaxClockSkew 2",
        &c.kinit_alice(),
        "Clock skew too great",
    );
    let c = f.client(&conf, "p1").skewed("+1m");
    c.ok("kinit at +1m, MaxClockSkew 2", &c.kinit_alice());
}
