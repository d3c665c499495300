//! The gMSA consumers people run against a DC, unmodified, against `adsim serve`: msldap's
//! `gmsa` command (NTLM on ldap:// and ldaps://, Kerberos), bloodyAD `get object` (NTLM sealed,
//! LDAPS, Kerberos), gmsad writing a gMSA keytab from a machine keytab and again after a
//! rollover, and the credentials-fetcher sequence (kinit -kt, sealed `ldapsearch -Y GSSAPI`,
//! decode, kinit as the gMSA, kvno). Each compares what the client derived with adsim's own
//! keytab export. Then LDAP channel binding (`--channel-binding`): ldap3 2.9.1's NTLM sends no
//! binding, msldap's does.
//!
//! msldap, bloodyAD and gmsad reach the KDC on port 88 and LDAP on 389/636 only: those tests
//! run adsim on a loopback alias of their own (127.0.0.2, .4, .5, …) with the standard ports,
//! which needs root; the DC's name resolves through nss_wrapper (the lab's hosts file).

use crate::common;
use crate::e2e_kerberos::impacket_aes256;
use crate::e2e_sasl::{assert_reads_password, Lab, DC, REALM, WEB01_PASSWORD};

use adsim_simulator::kdc::keytab::read_keytab;
use base64::Engine;
use common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// The AES salt of svc-web$ (MS-KILE 3.1.1.2: a computer-style salt).
const GMSA_SALT: &str = "CORP.EXAMPLE.TESThostsvc-web.corp.example.test";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// svc-web$'s keys as adsim exports them: (kvno, etype, key) of every entry.
fn exported_keys(lab: &Lab, name: &str) -> Vec<(u32, i32, Vec<u8>)> {
    account_keys(lab, "svc-web$", name)
}

/// An account's keys as adsim exports them (keytab `name` in the lab): (kvno, etype, key).
fn account_keys(lab: &Lab, account: &str, name: &str) -> Vec<(u32, i32, Vec<u8>)> {
    let keytab = lab.path(name);
    lab.a.cli_ok(&[
        "export",
        "keytab",
        "--principal",
        account,
        "--out",
        keytab.to_str().unwrap(),
    ]);
    read_keytab(&std::fs::read(&keytab).unwrap())
        .unwrap()
        .into_iter()
        .filter(|e| e.components == [account])
        .map(|e| (e.kvno, e.etype, e.key))
        .collect()
}

/// The key of `etype` under the highest kvno adsim exports.
fn current_key(keys: &[(u32, i32, Vec<u8>)], etype: i32) -> Vec<u8> {
    keys.iter()
        .filter(|(_, e, _)| *e == etype)
        .max_by_key(|(kvno, _, _)| *kvno)
        .map(|(_, _, k)| k.clone())
        .unwrap_or_else(|| panic!("no etype {etype} key in {keys:?}"))
}

/// Runs the `msldap` console with `commands` against `url`, as WEB01$ would (the lab's
/// krb5.conf and hosts file); returns its output.
fn msldap(lab: &Lab, url: &str, commands: &[&str]) -> String {
    let mut args = vec![url];
    args.extend_from_slice(commands);
    let o = lab.run("WEB01", "msldap", &args);
    text(&o)
}

/// The NT hash msldap's `gmsa` command prints for svc-web$.
fn msldap_gmsa_nt(out: &str) -> String {
    let section = out
        .split("Username: ")
        .find(|s| s.starts_with("svc-web$"))
        .unwrap_or_else(|| panic!("msldap listed no svc-web$: {out}"));
    section
        .lines()
        .find_map(|l| l.strip_prefix("Password -NT-: "))
        .unwrap_or_else(|| panic!("msldap printed no NT hash: {out}"))
        .trim()
        .to_string()
}

#[test]
fn msldap_gmsa_reads_the_nt_hash_over_ntlm_ldap_ldaps_and_kerberos() {
    let lab = Lab::start_on_standard_ports("127.0.0.2", &[]);
    let nt = hex(&current_key(&exported_keys(&lab, "svc-web.keytab"), 23));
    let user = "CORP%5CWEB01$";
    let pw = "Web01-Passw0rd%21";
    for url in [
        format!("ldap+ntlm-password://{user}:{pw}@{DC}"),
        format!("ldaps+ntlm-password://{user}:{pw}@{DC}"),
        format!("ldap+kerberos-password://{REALM}%5CWEB01$:{pw}@{DC}/?dc=127.0.0.2"),
    ] {
        let out = msldap(&lab, &url, &["login", "gmsa"]);
        assert_eq!(msldap_gmsa_nt(&out), nt, "{url}: {out}");
    }
    // WEB02$ is not allowed: msldap gets no password.
    let out = msldap(
        &lab,
        &format!("ldap+ntlm-password://CORP%5CWEB02$:Web02-Passw0rd%21@{DC}"),
        &["login", "gmsa"],
    );
    assert!(
        out.contains("Username: svc-web$") && out.contains("Password: <EMPTY>"),
        "{out}"
    );
}

/// `bloodyAD … get object svc-web$ --attr msDS-ManagedPassword` as WEB01$: the NT hash and the
/// current password (UTF-16LE) it prints (`msDS-ManagedPassword.NT:` and `.B64ENCODED:`; its
/// `--json` output loses the formatted value).
fn bloodyad_read(lab: &Lab, mode: &[&str], secret: &str) -> (String, Vec<u8>) {
    // adsim's clock is 31 days ahead (see the caller): so is bloodyAD's, for Kerberos.
    let mut args = vec![
        "-f",
        "+31d",
        "bloodyAD",
        "--host",
        DC,
        "-d",
        "corp.example.test",
        "-u",
        "WEB01$",
        "-p",
        secret,
    ];
    args.extend_from_slice(mode);
    args.extend(["get", "object", "svc-web$", "--attr", "msDS-ManagedPassword"]);
    let o = lab.run("WEB01", "faketime", &args);
    let out = text(&o);
    assert!(o.status.success(), "bloodyAD {mode:?}: {out}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("msDS-ManagedPassword.{name}: ")))
            .unwrap_or_else(|| panic!("bloodyAD {mode:?} printed no {name}: {out}"))
            .trim()
            .to_string()
    };
    (field("NT"), B64.decode(field("B64ENCODED")).unwrap())
}

#[test]
fn bloodyad_reads_the_managed_password_sealed_over_ldaps_and_with_kerberos() {
    let lab = Lab::start_on_standard_ports("127.0.0.4", &[]);
    // bloodyAD 2.5.7 parses the blob with a fixed layout (current password, previous password,
    // intervals, each found by NUL-NUL rather than by the offsets of MS-ADTS 2.2.19), which
    // only fits a blob with a previous password: read it after the first rollover, as the
    // password of a gMSA in service is. (A new gMSA's blob comes back unformatted, base64.)
    lab.a.cli_ok(&["ctl", "clock", "--advance", "31d"]);
    let keys = exported_keys(&lab, "svc-web.keytab");
    let (nt, aes256) = (hex(&current_key(&keys, 23)), current_key(&keys, 18));
    // With -k, the machine's AES key as tools take it (`-f aes`): kerbad salts a password as a
    // user's (REALM + name), which is not a computer's salt (MS-KILE 3.1.1.2), on AD as here.
    let web01_aes = hex(&current_key(&account_keys(&lab, "WEB01$", "WEB01.keytab"), 18));
    let kerberos = ["-k", "kdc=127.0.0.4", "-f", "aes"];
    for mode in [&[][..], &["-s"][..], &kerberos[..]] {
        let secret = if mode.contains(&"-k") {
            web01_aes.as_str()
        } else {
            WEB01_PASSWORD
        };
        let (got_nt, password) = bloodyad_read(&lab, mode, secret);
        assert_eq!(got_nt, nt, "{mode:?}");
        assert_eq!(password.len(), 256, "{mode:?}");
        assert_eq!(impacket_aes256(&password, GMSA_SALT), aes256, "{mode:?}");
    }
}

/// gmsad as its daemon starts: load the configuration, open the keytabs, update each gMSA
/// once (`gmsad.run` then loops forever; a restart does this again).
const GMSAD_ONCE: &str = r#"
import sys, logging
logging.basicConfig(level=logging.DEBUG)
from gmsad.config import load_config
from gmsad import init_state
for gmsa in init_state(load_config(sys.argv[1])).values():
    gmsa.update()
"#;

#[test]
fn gmsad_writes_the_gmsa_keytab_from_a_machine_keytab_and_adds_the_new_kvno_after_a_rollover() {
    let lab = Lab::start_on_standard_ports("127.0.0.5", &[]);
    let machine = lab.path("WEB01.keytab");
    lab.a.cli_ok(&[
        "export",
        "keytab",
        "--principal",
        "WEB01$",
        "--out",
        machine.to_str().unwrap(),
    ]);
    let gmsa_keytab = lab.path("gmsa.keytab");
    let conf = lab.path("gmsad.conf");
    std::fs::write(
        &conf,
        format!(
            "[gmsad]\nloglevel = DEBUG\n\n[svc-web]\nprincipal = WEB01$@{REALM}\nkeytab = {}\n\
             gMSA_sAMAccountName = svc-web$\ngMSA_domain = {REALM}\ngMSA_keytab = {}\n\
             host = {DC}\ntls_ca_certs_file = {}\n",
            machine.display(),
            gmsa_keytab.display(),
            lab.a.ca()
        ),
    )
    .unwrap();
    // `who` has its own credential cache; `later` runs gmsad with the host clock moved as far
    // as adsim's (libfaketime), as on a host that lived through those days.
    let run = |who: &str, later: &str| {
        let o = lab.run(
            who,
            "faketime",
            &["-f", later, "python3", "-c", GMSAD_ONCE, conf.to_str().unwrap()],
        );
        assert!(o.status.success(), "gmsad: {}", text(&o));
        let out = text(&o);
        assert!(
            !out.contains("ERROR") && !out.contains("CRITICAL"),
            "gmsad: {out}"
        );
        read_keytab(&std::fs::read(&gmsa_keytab).unwrap_or_else(|e| panic!("no keytab ({e}): {out}")))
            .unwrap()
    };
    let key = |entries: &[adsim_simulator::kdc::keytab::KeytabEntry], kvno: u32, etype: i32| {
        entries
            .iter()
            .find(|e| e.components == ["svc-web$"] && e.kvno == kvno && e.etype == etype)
            .map(|e| e.key.clone())
            .unwrap_or_else(|| panic!("no kvno {kvno} etype {etype} in {entries:?}"))
    };
    let adsim_key = |keys: &[(u32, i32, Vec<u8>)], kvno: u32, etype: i32| {
        keys.iter()
            .find(|(v, e, _)| *v == kvno && *e == etype)
            .map(|(_, _, k)| k.clone())
            .unwrap_or_else(|| panic!("adsim exports no kvno {kvno} etype {etype}: {keys:?}"))
    };

    let first = run("WEB01", "+0d");
    let keys1 = exported_keys(&lab, "svc-web-1.keytab");
    for etype in [17, 18] {
        assert_eq!(
            key(&first, 1, etype),
            adsim_key(&keys1, 1, etype),
            "etype {etype}"
        );
    }
    // 31 days on, the password has rolled over: gmsad (restarted) writes kvno 2 and keeps 1.
    lab.a.cli_ok(&["ctl", "clock", "--advance", "31d"]);
    let second = run("WEB01-later", "+31d");
    let keys2 = exported_keys(&lab, "svc-web-2.keytab");
    for etype in [17, 18] {
        assert_eq!(
            key(&second, 2, etype),
            adsim_key(&keys2, 2, etype),
            "etype {etype}"
        );
        assert_eq!(key(&second, 1, etype), key(&first, 1, etype), "etype {etype}");
    }
    assert_ne!(key(&second, 2, 18), key(&first, 1, 18));
}

/// MS-ADTS 2.2.19 MSDS-MANAGEDPASSWORD_BLOB, decoded as credentials-fetcher does: the current
/// password (UTF-16LE, NUL-terminated at the offset in bytes 8..10) as the UTF-8 string
/// Windows derives keys from (unpaired surrogates replaced).
const DECODE_BLOB: &str = r#"
import sys, base64, struct
blob = base64.b64decode(sys.argv[1])
off = struct.unpack_from('<H', blob, 8)[0]
end = off
while blob[end:end + 2] != b'\0\0':
    end += 2
sys.stdout.buffer.write(blob[off:end].decode('utf-16-le', 'replace').encode('utf-8'))
"#;

#[test]
fn credentials_fetcher_sequence_kinit_sealed_gssapi_read_decode_kinit_as_the_gmsa_and_kvno() {
    let lab = Lab::start();
    // The host's keytab, a sealed GSSAPI search on ldap:// (e2e_sasl checks the layer itself).
    lab.kinit("WEB01");
    let out = lab
        .gssapi_read_gmsa("WEB01", false, &["-o", "ldif-wrap=no"])
        .replace("\n ", "");
    assert_reads_password("credentials-fetcher read", &out);
    let blob = out
        .lines()
        .find_map(|l| l.strip_prefix("msDS-ManagedPassword:: "))
        .unwrap();
    let o = python(DECODE_BLOB, &[blob]);
    assert!(o.status.success(), "decode: {}", text(&o));
    let password = o.stdout;
    assert!(
        !password.contains(&b'\n') && !password.contains(&0),
        "the seeded password has no byte kinit's prompt would cut at"
    );
    // kinit as the gMSA with the decoded password, then a service ticket.
    let gmsa = format!("svc-web$@{REALM}");
    let mut kinit = std::process::Command::new("kinit")
        .arg(&gmsa)
        .env("KRB5_CONFIG", lab.path("krb5.conf"))
        .env(
            "KRB5CCNAME",
            format!("FILE:{}", lab.path("ccache-gmsa").display()),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kinit");
    {
        use std::io::Write;
        let mut stdin = kinit.stdin.take().unwrap();
        stdin.write_all(&password).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    let o = kinit.wait_with_output().unwrap();
    assert!(o.status.success(), "kinit {gmsa}: {}", text(&o));
    let spn = format!("ldap/{DC}");
    let o = lab.run("gmsa", "kvno", &[&spn]);
    assert!(
        o.status.success() && text(&o).contains(&format!("{spn}@{REALM}: kvno = ")),
        "kvno: {}",
        text(&o)
    );
    let o = lab.run("gmsa", "klist", &[]);
    assert!(
        text(&o).contains(&format!("Default principal: {gmsa}")),
        "{}",
        text(&o)
    );
}

/// ldap3 2.9.1's Sicily NTLM bind as WEB01$ over LDAPS (`ldaps`) or after StartTLS on 389
/// (`starttls`): the result code and message.
const LDAP3_NTLM_TLS: &str = r#"
import json, sys, ssl
from ldap3 import Server, Connection, NTLM, Tls
mode, host, ca, pw = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca)
if mode == "ldaps":
    server = Server(host, port=636, use_ssl=True, tls=tls)
else:
    server = Server(host, port=389, tls=tls)
c = Connection(server, user="CORP\\WEB01$", password=pw, authentication=NTLM)
c.open()
if mode == "starttls":
    assert c.start_tls(), c.result
ok = c.bind()
print(json.dumps({"bound": ok, "result": c.result["result"], "message": c.result["message"]}))
"#;

fn ldap3_ntlm_over_ldaps(lab: &Lab) -> serde_json::Value {
    ldap3_ntlm_over_tls(lab, "ldaps")
}

fn ldap3_ntlm_over_tls(lab: &Lab, mode: &str) -> serde_json::Value {
    let ca = lab.a.ca();
    let args = ["-c", LDAP3_NTLM_TLS, mode, DC, &ca, WEB01_PASSWORD];
    let o = lab.run("WEB01", "python3", &args);
    assert!(o.status.success(), "ldap3 {mode}: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
}

/// AD's refusal of a missing or wrong channel binding (SEC_E_BAD_BINDINGS, KB4520412).
const BAD_BINDINGS: &str =
    "80090346: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 80090346";

#[test]
fn channel_binding_always_refuses_ldap3_ntlm_over_ldaps_and_accepts_msldap_which_binds() {
    let lab = Lab::start_on_standard_ports("127.0.0.6", &["--channel-binding", "always"]);
    assert_eq!(lab.a.ready["channel_binding"], "always");
    let v = ldap3_ntlm_over_ldaps(&lab);
    assert_eq!(v["bound"], false, "{v}");
    assert_eq!(v["result"], 49, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with(BAD_BINDINGS), "{v}");
    // StartTLS makes the connection a TLS one for the policy too.
    let v = ldap3_ntlm_over_tls(&lab, "starttls");
    assert_eq!(v["result"], 49, "StartTLS: {v}");
    assert!(
        v["message"].as_str().unwrap().starts_with(BAD_BINDINGS),
        "StartTLS: {v}"
    );
    // msldap sends tls-server-end-point bindings, with NTLM and with Kerberos.
    let nt = hex(&current_key(&exported_keys(&lab, "svc-web.keytab"), 23));
    for url in [
        format!("ldaps+ntlm-password://CORP%5CWEB01$:Web01-Passw0rd%21@{DC}"),
        format!("ldaps+kerberos-password://{REALM}%5CWEB01$:Web01-Passw0rd%21@{DC}/?dc=127.0.0.6"),
    ] {
        let out = msldap(&lab, &url, &["login", "gmsa"]);
        assert_eq!(msldap_gmsa_nt(&out), nt, "{url}: {out}");
    }
    // Plain LDAP has no channel: ldap3's NTLM binds there.
    let url = lab.a.ldap();
    let (host, port) = url.trim_start_matches("ldap://").rsplit_once(':').unwrap();
    let o = python(
        "import sys\nfrom ldap3 import Server, Connection, NTLM\n\
         c = Connection(Server(sys.argv[1], port=int(sys.argv[2])), user='CORP\\\\WEB01$', password=sys.argv[3], authentication=NTLM)\n\
         print(c.bind(), c.result['result'])\n",
        &[host, port, WEB01_PASSWORD],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "True 0",
        "{}",
        text(&o)
    );
}

#[test]
fn channel_binding_never_and_when_supported_accept_ldap3_ntlm_without_bindings() {
    for (addr, policy) in [("127.0.0.7", "never"), ("127.0.0.8", "when-supported")] {
        let lab = Lab::start_on_standard_ports(addr, &["--channel-binding", policy]);
        assert_eq!(lab.a.ready["channel_binding"], policy);
        let v = ldap3_ntlm_over_ldaps(&lab);
        assert_eq!(v["bound"], true, "{policy}: {v}");
        let out = msldap(
            &lab,
            &format!("ldaps+ntlm-password://CORP%5CWEB01$:Web01-Passw0rd%21@{DC}"),
            &["login", "whoami"],
        );
        assert!(out.contains("CORP\\WEB01$"), "{policy}: {out}");
    }
}

#[test]
fn dc_profile_2025_requires_signing_and_an_explicit_flag_overrides_it() {
    let a = Adsim::start(&["--dc-profile", "2025"]);
    assert_eq!(a.ready["ldap_signing"], "required");
    assert_eq!(a.ready["channel_binding"], "when-supported");
    let o = ldap_tool(
        "ldapwhoami",
        &a.ca(),
        &[
            "-H",
            &a.ldap(),
            "-x",
            "-D",
            "CORP\\Administrator",
            "-w",
            ADMIN_PASSWORD,
        ],
        None,
    );
    assert!(
        text(&o).contains("Strong(er) authentication required (8)"),
        "{}",
        text(&o)
    );
    let b = Adsim::start(&[
        "--dc-profile",
        "2025",
        "--ldap-signing",
        "none",
        "--channel-binding",
        "always",
    ]);
    assert_eq!(b.ready["ldap_signing"], "none");
    assert_eq!(b.ready["channel_binding"], "always");
    let o = b.as_admin("ldapwhoami", &b.ldap(), &[], None);
    assert!(text(&o).contains("u:CORP\\Administrator"), "{}", text(&o));
    // Without a profile: adsim's defaults.
    let c = Adsim::start(&[]);
    assert_eq!(c.ready["ldap_signing"], "none");
    assert_eq!(c.ready["channel_binding"], "when-supported");
}
