//! The binds real clients make beyond simple bind, against `adsim serve`: Sicily NTLM from
//! python ldap3, SASL GSSAPI from OpenLDAP's ldapsearch (Cyrus SASL's GSSAPI plugin over MIT
//! Kerberos, host names through nss_wrapper), and GSS-SPNEGO with NTLM from impacket, each
//! followed by the searches those clients make; and what a DC that requires LDAP signing
//! (`--ldap-signing required`) lets each of them do. Missing tools fail the tests
//! (`./scripts/test.sh` installs them).

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use adsim_simulator::security::Sid;
use base64::Engine;
use common::*;

pub(crate) const REALM: &str = "CORP.EXAMPLE.TEST";
pub(crate) const DC: &str = "dc1.corp.example.test";
pub(crate) const WEB01_PASSWORD: &str = "Web01-Passw0rd!";
pub(crate) const WEB02_PASSWORD: &str = "Web02-Passw0rd!";

/// A server with the group WebHosts (WEB01$ in it, WEB02$ not) allowed to read the gMSA
/// svc-web's password, plus krb5.conf, keytabs and an nss_wrapper hosts file in a scratch
/// directory.
pub(crate) struct Lab {
    pub(crate) a: Adsim,
    pub(crate) base: String,
    dir: PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Lab {
    pub(crate) fn start() -> Lab {
        Lab::start_with(&[])
    }

    /// [`Lab::start`] with extra `adsim serve` flags.
    pub(crate) fn start_with(extra: &[&str]) -> Lab {
        Lab::around(Adsim::start(extra))
    }

    /// The lab on `addr` (a loopback alias) with the standard ports 389, 636, 3268 and 88, for
    /// clients that reach no other port (needs root).
    pub(crate) fn start_on_standard_ports(addr: &str, extra: &[&str]) -> Lab {
        Lab::around(Adsim::start_on_standard_ports(addr, extra))
    }

    fn around(a: Adsim) -> Lab {
        let base = a.base();
        // The control port is ephemeral even when the others are standard: one directory each.
        let port = a
            .control_url()
            .rsplit_once(':')
            .unwrap()
            .1
            .trim_end_matches('/')
            .to_string();
        let dir = std::env::temp_dir().join(format!("adsim-e2e-sasl-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab { a, base, dir };
        let base = &lab.base;
        lab.admin_ok(
            "ldapadd",
            &format!(
                "dn: CN=WebHosts,CN=Users,{base}\nobjectClass: group\n\n\
                 dn: CN=WEB01,CN=Computers,{base}\nobjectClass: computer\nsAMAccountName: WEB01$\n\
                 userAccountControl: 4096\nmsDS-SupportedEncryptionTypes: 24\nunicodePwd:: {}\n\n\
                 dn: CN=WEB02,CN=Computers,{base}\nobjectClass: computer\nsAMAccountName: WEB02$\n\
                 userAccountControl: 4096\nmsDS-SupportedEncryptionTypes: 24\nunicodePwd:: {}\n",
                unicode_pwd_b64(WEB01_PASSWORD),
                unicode_pwd_b64(WEB02_PASSWORD)
            ),
        );
        lab.add_member("WEB01");
        let o = lab.a.as_admin(
            "ldapsearch",
            &lab.a.ldaps(),
            &[
                "-LLL",
                "-b",
                &format!("CN=WebHosts,CN=Users,{base}"),
                "-s",
                "base",
                "objectSid",
            ],
            None,
        );
        let out = text(&o).replace("\n ", "");
        let sid_b64 = out
            .lines()
            .find_map(|l| l.strip_prefix("objectSid:: "))
            .unwrap_or_else(|| panic!("{out}"));
        let group_sid = Sid::from_bytes(&B64.decode(sid_b64).unwrap()).unwrap();
        lab.admin_ok(
            "ldapadd",
            &format!(
                "dn: CN=svc-web,CN=Managed Service Accounts,{base}\nobjectClass: msDS-GroupManagedServiceAccount\n\
                 sAMAccountName: svc-web$\ndNSHostName: svc-web.corp.example.test\n\
                 msDS-SupportedEncryptionTypes: 28\nmsDS-ManagedPasswordInterval: 30\nmsDS-GroupMSAMembership:: {}\n",
                gmsa_membership_b64(&group_sid)
            ),
        );
        // The DC's name resolves to the address it listens on.
        let ldap = lab.a.ldap();
        let addr = ldap.trim_start_matches("ldap://").rsplit_once(':').unwrap().0;
        std::fs::write(lab.dir.join("hosts"), format!("{addr} {DC}\n")).unwrap();
        lab.a.cli_ok(&[
            "export",
            "krb5-conf",
            "--out",
            lab.path("krb5.conf").to_str().unwrap(),
            "--set",
            "rdns=false",
            "--set",
            "dns_canonicalize_hostname=false",
        ]);
        lab
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// An OpenLDAP tool bound as Administrator over LDAPS; asserts success.
    pub(crate) fn admin_ok(&self, tool: &str, input: &str) {
        let o = self.a.as_admin(tool, &self.a.ldaps(), &[], Some(input));
        assert!(o.status.success(), "{tool}: {}", text(&o));
    }

    pub(crate) fn add_member(&self, computer: &str) {
        let base = &self.base;
        self.admin_ok(
            "ldapmodify",
            &format!(
                "dn: CN=WebHosts,CN=Users,{base}\nchangetype: modify\nadd: member\nmember: CN={computer},CN=Computers,{base}\n"
            ),
        );
    }

    /// `ldap://dc1.corp.example.test:<port>` (or ldaps), the name the DC's SPN carries.
    pub(crate) fn url(&self, secure: bool) -> String {
        let url = if secure { self.a.ldaps() } else { self.a.ldap() };
        let port = url.rsplit_once(':').unwrap().1.to_string();
        format!("{}://{DC}:{port}", if secure { "ldaps" } else { "ldap" })
    }

    /// Runs a Kerberos or LDAP client as `who` (its own credential cache), with the exported
    /// krb5.conf and the DC's name resolved by nss_wrapper.
    pub(crate) fn run(&self, who: &str, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            // In the lab's directory: tools that leave files behind (dacledit.py's backups)
            // leave them there, not in the checkout.
            .current_dir(self.path("."))
            .env("KRB5_CONFIG", self.path("krb5.conf"))
            .env("KRB5CCNAME", format!("FILE:{}", self.path(&format!("ccache-{who}")).display()))
            .env("LD_PRELOAD", "libnss_wrapper.so")
            .env("NSS_WRAPPER_HOSTS", self.path("hosts"))
            .env("LDAPTLS_CACERT", self.a.ca())
            .env("LDAPTLS_REQCERT", "demand")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("{program} ({e}): apt-get install krb5-user ldap-utils libsasl2-modules-gssapi-mit libnss-wrapper")
            })
    }

    /// `kinit -kt` for a computer account with a keytab exported through the control API.
    pub(crate) fn kinit(&self, computer: &str) {
        let principal = format!("{computer}$");
        let keytab = self.path(&format!("{computer}.keytab"));
        self.a.cli_ok(&[
            "export",
            "keytab",
            "--principal",
            &principal,
            "--out",
            keytab.to_str().unwrap(),
        ]);
        let o = self.run(
            computer,
            "kinit",
            &["-kt", keytab.to_str().unwrap(), &format!("{principal}@{REALM}")],
        );
        assert!(o.status.success(), "kinit {principal}: {}", text(&o));
    }

    /// `ldapsearch -Y GSSAPI -N` of svc-web as `who`, with extra options.
    pub(crate) fn gssapi_read_gmsa(&self, who: &str, secure: bool, extra: &[&str]) -> String {
        let url = self.url(secure);
        let base = format!("CN=svc-web,CN=Managed Service Accounts,{}", self.base);
        let mut args = vec!["-Y", "GSSAPI", "-N", "-H", &url];
        args.extend_from_slice(extra);
        args.extend([
            "-LLL",
            "-b",
            &base,
            "-s",
            "base",
            "(objectClass=*)",
            "sAMAccountName",
            "msDS-ManagedPassword",
        ]);
        text(&self.run(who, "ldapsearch", &args))
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub(crate) fn assert_reads_password(what: &str, out: &str) {
    assert!(
        out.contains("sAMAccountName: svc-web$") && out.contains("msDS-ManagedPassword:: "),
        "{what}: {out}"
    );
}

fn assert_no_password(what: &str, out: &str) {
    assert!(
        out.contains("sAMAccountName: svc-web$") && !out.contains("msDS-ManagedPassword"),
        "{what}: {out}"
    );
}

/// ldap3's Sicily NTLM: the bind as Administrator and as a computer, a pass-the-hash bind, the
/// searches afterwards (get_info=ALL after the bind, WhoAmI), and 49 / 52e for a wrong password.
const LDAP3_NTLM: &str = r#"
import json, sys, hashlib
from ldap3 import Server, Connection, NTLM, ALL
from Crypto.Hash import MD4
host, port, base, admin_pw, web_pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
out = {}
def bind(user, pw):
    c = Connection(Server(host, port=port, get_info=ALL), user=user, password=pw, authentication=NTLM)
    return c, c.bind()
c, ok = bind("CORP\\Administrator", admin_pw)
out["admin_bind"] = ok
out["admin_whoami"] = c.extend.standard.who_am_i()
c.search(base, "(sAMAccountName=krbtgt)", attributes=["sAMAccountName"])
out["admin_search"] = [str(e.sAMAccountName) for e in c.entries]
out["sasl_mechanisms"] = list(c.server.info.supported_sasl_mechanisms or [])
out["naming_context"] = str(c.server.info.other.get("defaultNamingContext", [""])[0])
c.unbind()
c, ok = bind("CORP\\WEB01$", web_pw)
out["computer_bind"] = ok
out["computer_whoami"] = c.extend.standard.who_am_i()
c.unbind()
nt = MD4.new("Web01-Passw0rd!".encode("utf-16-le")).hexdigest()
c, ok = bind("corp.example.test\\WEB01$", "aad3b435b51404eeaad3b435b51404ee:" + nt)
out["hash_bind"] = ok
c, ok = bind("CORP\\Administrator", "wrong")
out["wrong_bind"] = ok
out["wrong_result"] = c.result["result"]
out["wrong_message"] = c.result["message"]
c, ok = bind("CORP\\nobody", "wrong")
out["unknown_result"] = c.result["result"]
print(json.dumps(out))
"#;

#[test]
fn ldap3_sicily_ntlm_binds_searches_and_refuses_a_wrong_password_with_52e() {
    let lab = Lab::start();
    let url = lab.a.ldap();
    let (host, port) = url.trim_start_matches("ldap://").rsplit_once(':').unwrap();
    let o = python(
        LDAP3_NTLM,
        &[host, port, &lab.base, ADMIN_PASSWORD, WEB01_PASSWORD],
    );
    assert!(o.status.success(), "ldap3: {}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["admin_bind"], true, "{v}");
    assert_eq!(v["admin_whoami"], "u:CORP\\Administrator", "{v}");
    assert_eq!(v["admin_search"], serde_json::json!(["krbtgt"]), "{v}");
    assert_eq!(
        v["sasl_mechanisms"],
        serde_json::json!(["GSSAPI", "GSS-SPNEGO"]),
        "{v}"
    );
    assert_eq!(v["naming_context"], lab.base, "{v}");
    assert_eq!(v["computer_bind"], true, "{v}");
    assert_eq!(v["computer_whoami"], "u:CORP\\WEB01$", "{v}");
    assert_eq!(v["hash_bind"], true, "{v}");
    assert_eq!(v["wrong_bind"], false, "{v}");
    assert_eq!(v["wrong_result"], 49, "{v}");
    assert!(
        v["wrong_message"].as_str().unwrap().starts_with(
            "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1"
        ),
        "{v}"
    );
    assert_eq!(v["unknown_result"], 49, "{v}");
}

#[test]
fn ldapsearch_gssapi_seals_by_default_and_reads_the_gmsa_password_and_tls_takes_no_layer() {
    let lab = Lab::start();
    lab.kinit("WEB01");
    // ldap:// with Cyrus' default: confidentiality (the password is served sealed).
    let out = lab.gssapi_read_gmsa("WEB01", false, &[]);
    assert!(out.contains("SASL data security layer installed"), "{out}");
    assert_reads_password("GSSAPI sealed", &out);
    // Integrity only: not encrypted, so the confidentiality rule refuses (0000202D).
    let out = lab.gssapi_read_gmsa("WEB01", false, &["-O", "minssf=1,maxssf=1"]);
    assert!(out.contains("SASL data security layer installed"), "{out}");
    assert!(
        out.contains("Operations error (1)") && out.contains("0000202D"),
        "{out}"
    );
    // ldaps:// without a layer: TLS protects the password.
    let out = lab.gssapi_read_gmsa("WEB01", true, &["-O", "maxssf=0"]);
    assert_reads_password("GSSAPI over TLS", &out);
    // ldaps:// asking for a layer: refused as Samba/AD do.
    let out = lab.gssapi_read_gmsa("WEB01", true, &[]);
    assert!(
        out.contains("Server is unwilling to perform (53)")
            && out.contains("Sign or Seal are not allowed if TLS is used"),
        "{out}"
    );
    // The identity is the ticket's.
    let url = lab.url(false);
    let o = lab.run("WEB01", "ldapwhoami", &["-Y", "GSSAPI", "-N", "-H", &url]);
    assert!(text(&o).contains("u:CORP\\WEB01$"), "{}", text(&o));
}

#[test]
fn gssapi_token_groups_come_from_the_ticket_so_a_new_member_needs_a_new_tgt() {
    let lab = Lab::start();
    lab.kinit("WEB02");
    assert_no_password(
        "WEB02 outside the group",
        &lab.gssapi_read_gmsa("WEB02", false, &[]),
    );
    lab.add_member("WEB02");
    // The TGT (and the service ticket from it) still carry the old groups.
    assert_no_password(
        "WEB02 with its old TGT",
        &lab.gssapi_read_gmsa("WEB02", false, &[]),
    );
    let o = lab.run("WEB02", "kdestroy", &[]);
    assert!(o.status.success(), "kdestroy: {}", text(&o));
    lab.kinit("WEB02");
    assert_reads_password("WEB02 with a new TGT", &lab.gssapi_read_gmsa("WEB02", false, &[]));
}

/// impacket's LDAPConnection with SASL GSS-SPNEGO, `login` (NTLM) or `kerberosLogin` (a raw
/// krb5 AP-REQ without mutual authentication): sealed on ldap://, no layer on ldaps://. It
/// connects to the standard ports only, so the script maps the DC's name to 127.0.0.1 and 88,
/// 389 and 636 to the server's ports in `socket.getaddrinfo`; the client code is untouched.
const IMPACKET: &str = r#"
import json, sys, socket
from impacket.ldap import ldap, ldapasn1
mode, kdc_port, ldap_port, ldaps_port, base, dc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
real = socket.getaddrinfo
def patched(h, port, *a, **k):
    h = "127.0.0.1" if h == dc else h
    return real(h, {88: kdc_port, 389: ldap_port, 636: ldaps_port}.get(port, port), *a, **k)
socket.getaddrinfo = patched
def read(url, user, password):
    c = ldap.LDAPConnection(url, base)
    if mode == "kerberos":
        c.kerberosLogin(user, password, "CORP.EXAMPLE.TEST", kdcHost=dc)
    else:
        c.login(user, password, "CORP")
    res = c.search(searchBase=base, searchFilter="(sAMAccountName=svc-web$)",
                   attributes=["sAMAccountName", "msDS-ManagedPassword"])
    attrs = {}
    for e in res:
        if isinstance(e, ldapasn1.SearchResultEntry):
            for a in e["attributes"]:
                attrs[str(a["type"])] = len(a["vals"])
    return attrs
out = {}
out["sealed"] = read("ldap://" + dc, "WEB01$", "Web01-Passw0rd!")
out["tls"] = read("ldaps://" + dc, "WEB01$", "Web01-Passw0rd!")
out["refused_host"] = read("ldap://" + dc, "WEB02$", "Web02-Passw0rd!")
try:
    read("ldap://" + dc, "WEB01$", "wrong")
    out["wrong"] = "bound"
except Exception as e:
    out["wrong"] = str(e)
print(json.dumps(out))
"#;

/// Runs [`IMPACKET`] in `mode` and checks what WEB01$ (allowed) and WEB02$ (not) read, sealed
/// and over TLS; returns the answer to a wrong password.
fn impacket_reads(lab: &Lab, mode: &str) -> String {
    let port = |u: String| u.rsplit_once(':').unwrap().1.to_string();
    let o = python(
        IMPACKET,
        &[
            mode,
            &port(lab.a.kdc()),
            &port(lab.a.ldap()),
            &port(lab.a.ldaps()),
            &lab.base,
            DC,
        ],
    );
    assert!(o.status.success(), "impacket {mode}: {}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let read = serde_json::json!({"sAMAccountName": 1, "msDS-ManagedPassword": 1});
    assert_eq!(v["sealed"], read, "{mode}: {v}");
    assert_eq!(v["tls"], read, "{mode}: {v}");
    assert_eq!(
        v["refused_host"],
        serde_json::json!({"sAMAccountName": 1}),
        "{mode}: {v}"
    );
    v["wrong"].as_str().unwrap().to_string()
}

#[test]
fn impacket_gss_spnego_ntlm_seals_on_ldap_and_binds_over_ldaps() {
    let lab = Lab::start();
    let wrong = impacket_reads(&lab, "ntlm");
    assert!(wrong.contains("data 52e"), "{wrong}");
}

#[test]
fn impacket_gss_spnego_kerberos_seals_on_ldap_and_binds_over_ldaps() {
    let lab = Lab::start();
    // impacket asks for RC4 first; an AES-only DC account gives an AES session key, so the
    // layer uses RFC 4121 Wrap tokens.
    lab.admin_ok(
        "ldapmodify",
        &format!(
            "dn: CN=DC1,OU=Domain Controllers,{}\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 24\n",
            lab.base
        ),
    );
    // A wrong password fails at the KDC, before any bind.
    let wrong = impacket_reads(&lab, "kerberos");
    assert!(wrong.contains("KDC_ERR_PREAUTH_FAILED"), "{wrong}");
}

/// With the DC account's default encryption types (RC4 and AES), impacket's service ticket has
/// an RC4-HMAC session key: every PDU is sealed with RFC 4757 Wrap tokens (as Windows accepts).
#[test]
fn impacket_gss_spnego_kerberos_with_an_rc4_session_key_seals_with_rfc_4757_tokens() {
    let lab = Lab::start();
    let wrong = impacket_reads(&lab, "kerberos");
    assert!(wrong.contains("KDC_ERR_PREAUTH_FAILED"), "{wrong}");
}

/// AD's refusal of a bind without integrity on plain LDAP (windows-behaviour.md row 19).
const INTEGRITY_REQUIRED: &str = "00002028: LdapErr: DSID-0C090256, comment: The server requires binds to turn on integrity checking if SSL\\TLS are not already active on the connection, data 0, v3839";

/// The policies change while the DC runs (issue 10 item 6: "as flags and in the control API"):
/// `adsim ctl policies --ldap-signing required` makes the next simple bind on plain LDAP get 8,
/// a sealed GSSAPI bind still works, and `none` lets simple binds in again; a bad value is
/// refused and changes nothing.
#[test]
fn the_signing_policy_changes_at_run_time_through_the_control_api() {
    let lab = Lab::start();
    let whoami = || {
        let args = [
            "-H",
            &lab.a.ldap(),
            "-x",
            "-D",
            "CORP\\Administrator",
            "-w",
            ADMIN_PASSWORD,
        ];
        text(&ldap_tool("ldapwhoami", &lab.a.ca(), &args, None))
    };
    assert!(whoami().contains("u:CORP\\Administrator"));
    let shown: serde_json::Value = serde_json::from_str(&lab.a.cli_ok(&["ctl", "policies"])).unwrap();
    assert_eq!(
        shown,
        serde_json::json!({"ldap_signing": "none", "channel_binding": "when-supported"})
    );

    let set: serde_json::Value =
        serde_json::from_str(&lab.a.cli_ok(&["ctl", "policies", "--ldap-signing", "required"])).unwrap();
    assert_eq!(set["ldap_signing"], "required");
    let refused = whoami();
    assert!(
        refused.contains("Strong(er) authentication required (8)") && refused.contains(INTEGRITY_REQUIRED),
        "{refused}"
    );
    lab.kinit("WEB01");
    assert_reads_password(
        "sealed GSSAPI under required signing",
        &lab.gssapi_read_gmsa("WEB01", false, &[]),
    );

    let o = lab.a.cli(&["ctl", "policies", "--ldap-signing", "sometimes"]);
    assert!(
        !o.status.success() && text(&o).contains("is not one of none, required"),
        "{}",
        text(&o)
    );
    let shown: serde_json::Value = serde_json::from_str(&lab.a.cli_ok(&["ctl", "policies"])).unwrap();
    assert_eq!(
        shown["ldap_signing"], "required",
        "a refused change changes nothing"
    );

    lab.a.cli_ok(&["ctl", "policies", "--ldap-signing", "none"]);
    assert!(whoami().contains("u:CORP\\Administrator"));
}

#[test]
fn signing_required_refuses_simple_binds_on_plain_ldap_and_allows_them_over_tls() {
    let lab = Lab::start_with(&["--ldap-signing", "required"]);
    let whoami = |url: &str, extra: &[&str]| {
        let mut args = vec!["-H", url, "-x", "-D", "CORP\\Administrator", "-w", ADMIN_PASSWORD];
        args.extend_from_slice(extra);
        text(&ldap_tool("ldapwhoami", &lab.a.ca(), &args, None))
    };
    let plain = whoami(&lab.a.ldap(), &[]);
    assert!(
        plain.contains("Strong(er) authentication required (8)") && plain.contains(INTEGRITY_REQUIRED),
        "{plain}"
    );
    let ldaps = whoami(&lab.a.ldaps(), &[]);
    assert!(ldaps.contains("u:CORP\\Administrator"), "{ldaps}");
    let start_tls = whoami(&lab.a.ldap(), &["-ZZ"]);
    assert!(start_tls.contains("u:CORP\\Administrator"), "{start_tls}");
    // Anonymous binds and rootDSE reads stay allowed.
    let o = ldap_tool("ldapwhoami", &lab.a.ca(), &["-H", &lab.a.ldap(), "-x"], None);
    assert!(
        o.status.success() && text(&o).contains("anonymous"),
        "{}",
        text(&o)
    );
    let o = ldap_tool(
        "ldapsearch",
        &lab.a.ca(),
        &[
            "-H",
            &lab.a.ldap(),
            "-x",
            "-LLL",
            "-b",
            "",
            "-s",
            "base",
            "defaultNamingContext",
        ],
        None,
    );
    assert!(
        text(&o).contains(&format!("defaultNamingContext: {}", lab.base)),
        "{}",
        text(&o)
    );
}

#[test]
fn signing_required_accepts_sealed_gssapi_and_refuses_gssapi_without_a_layer_on_plain_ldap() {
    let lab = Lab::start_with(&["--ldap-signing", "required"]);
    lab.kinit("WEB01");
    let url = lab.url(false);
    let o = lab.run("WEB01", "ldapwhoami", &["-Y", "GSSAPI", "-N", "-H", &url]);
    assert!(
        o.status.success() && text(&o).contains("u:CORP\\WEB01$"),
        "{}",
        text(&o)
    );
    let signed = lab.run(
        "WEB01",
        "ldapwhoami",
        &["-Y", "GSSAPI", "-N", "-H", &url, "-O", "minssf=1,maxssf=1"],
    );
    assert!(text(&signed).contains("u:CORP\\WEB01$"), "{}", text(&signed));
    let o = lab.run(
        "WEB01",
        "ldapwhoami",
        &["-Y", "GSSAPI", "-N", "-H", &url, "-O", "maxssf=0"],
    );
    let out = text(&o);
    assert!(
        !o.status.success() && out.contains("(8)") && out.contains(INTEGRITY_REQUIRED),
        "{out}"
    );
    // Over TLS, no layer is needed.
    assert_reads_password(
        "GSSAPI over TLS",
        &lab.gssapi_read_gmsa("WEB01", true, &["-O", "maxssf=0"]),
    );
}

/// ldap3's Sicily NTLM bind as Administrator (ldap3 never signs), then WhoAmI on the same
/// connection.
const LDAP3_NTLM_BIND: &str = r#"
import json, sys
from ldap3 import Server, Connection, NTLM
host, port, admin_pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = Connection(Server(host, port=port), user="CORP\\Administrator", password=admin_pw, authentication=NTLM)
ok = c.bind()
out = {"bound": ok, "result": c.result["result"], "message": c.result["message"]}
out["whoami"] = c.extend.standard.who_am_i()
print(json.dumps(out))
"#;

#[test]
fn signing_required_refuses_ldap3_sicily_ntlm_on_plain_ldap_and_leaves_the_connection_anonymous() {
    let lab = Lab::start_with(&["--ldap-signing", "required"]);
    let url = lab.a.ldap();
    let (host, port) = url.trim_start_matches("ldap://").rsplit_once(':').unwrap();
    let o = python(LDAP3_NTLM_BIND, &[host, port, ADMIN_PASSWORD]);
    assert!(o.status.success(), "ldap3: {}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["bound"], false, "{v}");
    assert_eq!(v["result"], 8, "{v}");
    assert!(
        v["message"].as_str().unwrap().starts_with(INTEGRITY_REQUIRED),
        "{v}"
    );
    assert!(
        v["whoami"].is_null() || v["whoami"] == "",
        "the refused bind left a caller: {v}"
    );
}

/// A large sealed answer (the whole subschema's attributeTypes, some hundreds of KB in one
/// wrapped frame) reaches Cyrus intact.
#[test]
fn a_large_sealed_answer_arrives_whole() {
    let lab = Lab::start();
    lab.kinit("WEB01");
    let url = lab.url(false);
    let subschema = format!("CN=Aggregate,CN=Schema,CN=Configuration,{}", lab.base);
    let o = lab.run(
        "WEB01",
        "ldapsearch",
        &[
            "-Y",
            "GSSAPI",
            "-N",
            "-H",
            &url,
            "-LLL",
            "-b",
            &subschema,
            "-s",
            "base",
            "(objectClass=*)",
            "attributeTypes",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("SASL data security layer installed"), "{out}");
    assert!(
        out.matches("attributeTypes: ").count() > 1000,
        "{}",
        &out[..out.len().min(2000)]
    );
    assert!(
        out.contains("'msDS-ManagedPassword'"),
        "the last attributes arrived too"
    );
}
