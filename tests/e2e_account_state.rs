//! Account state and protected accounts with real clients (issue 11 items 3 and 4):
//! OpenLDAP's ldapwhoami / ldapmodify / ldapsearch and MIT kinit against `adsim serve` —
//! pwdLastSet = 0 (49 `data 773`, KDC_ERR_KEY_EXPIRED, MIT's "Password expired"), disabled (533, revoked), expired
//! account (701, revoked), lockout on the simulated clock (775, then free after
//! lockoutDuration), and SDProp through `adsim ctl sdprop` (adminCount=1 and AdminSDHolder's
//! protected DACL, read with the SD flags control).

use std::path::PathBuf;

use crate::common::{kinit_with_password, ldap_tool, python, text, unicode_pwd_b64, Adsim};

const REALM: &str = "CORP.EXAMPLE.TEST";
const PW: &str = "Bob-Passw0rd!";

struct Lab {
    adsim: Adsim,
    dir: PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Lab {
    fn start() -> Lab {
        let adsim = Adsim::start(&[]);
        let port = adsim.kdc().rsplit_once(':').unwrap().1.to_string();
        let dir = std::env::temp_dir().join(format!("adsim-e2e-state-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab { adsim, dir };
        let ldif = format!(
            "dn: {}\nobjectClass: user\nsAMAccountName: bob\nuserAccountControl: 512\nunicodePwd:: {}\n",
            lab.bob(),
            unicode_pwd_b64(PW)
        );
        lab.admin("ldapadd", &ldif);
        lab
    }

    fn bob(&self) -> String {
        format!("CN=Bob,CN=Users,{}", self.adsim.base())
    }

    fn admin(&self, tool: &str, ldif: &str) {
        let o = self.adsim.as_admin(tool, &self.adsim.ldaps(), &[], Some(ldif));
        assert!(o.status.success(), "{tool}: {}", text(&o));
    }

    fn set(&self, dn: &str, attr: &str, value: &str) {
        self.admin(
            "ldapmodify",
            &format!("dn: {dn}\nchangetype: modify\nreplace: {attr}\n{attr}: {value}\n-\n"),
        );
    }

    /// `ldapwhoami -x` as bob with `password`: Ok(authzid) or Err(output).
    fn whoami(&self, password: &str) -> Result<String, String> {
        let o = ldap_tool(
            "ldapwhoami",
            &self.adsim.ca(),
            &["-x", "-H", &self.adsim.ldap(), "-D", &self.bob(), "-w", password],
            None,
        );
        if o.status.success() {
            Ok(text(&o))
        } else {
            assert_eq!(o.status.code(), Some(49), "{}", text(&o));
            Err(text(&o))
        }
    }

    fn refused_with(&self, data: &str) {
        let out = self.whoami(PW).expect_err("bind refused");
        assert!(
            out.contains(&format!("data {data},")),
            "expected data {data}: {out}"
        );
    }

    fn kinit(&self, tag: &str) -> std::process::Output {
        let conf = self.dir.join("krb5.conf");
        if !conf.exists() {
            self.adsim
                .cli_ok(&["export", "krb5-conf", "--out", conf.to_str().unwrap()]);
        }
        kinit_with_password(
            &conf,
            &self.dir.join(format!("cc-{tag}")),
            &format!("bob@{REALM}"),
            PW,
        )
    }

    fn kinit_fails_with(&self, tag: &str, message: &str) {
        let o = self.kinit(tag);
        assert!(!o.status.success(), "kinit {tag} unexpectedly succeeded");
        assert!(
            text(&o).contains(message),
            "kinit {tag}: expected {message:?}: {}",
            text(&o)
        );
    }

    fn search(&self, base: &str, attr: &str, extra: &[&str]) -> String {
        let mut args = vec!["-LLL", "-o", "ldif-wrap=no", "-b", base, "-s", "base"];
        args.extend_from_slice(extra);
        args.extend(["(objectClass=*)", attr]);
        let o = self
            .adsim
            .as_admin("ldapsearch", &self.adsim.ldaps(), &args, None);
        assert!(o.status.success(), "ldapsearch: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

#[test]
fn must_change_disabled_and_expired_accounts_are_refused_by_ldap_and_the_kdc() {
    let lab = Lab::start();
    let bob = lab.bob();
    assert!(lab.whoami(PW).unwrap().contains("CORP\\bob"));
    assert!(lab.kinit("ok").status.success(), "{}", text(&lab.kinit("ok")));

    // An unsupported pwdLastSet value is refused (80, WERR_INVALID_PARAMETER) and changes nothing.
    let o = lab.adsim.as_admin(
        "ldapmodify",
        &lab.adsim.ldaps(),
        &[],
        Some(&format!(
            "dn: {bob}\nchangetype: modify\nreplace: pwdLastSet\npwdLastSet: 42\n-\n"
        )),
    );
    assert_eq!(o.status.code(), Some(80), "{}", text(&o));
    assert!(text(&o).contains("00000057"), "{}", text(&o));
    lab.whoami(PW).unwrap();

    lab.set(&bob, "pwdLastSet", "0");
    lab.refused_with("773");
    // KDC_ERR_KEY_EXPIRED; MIT then gets a kadmin/changepw ticket (the KDC still issues it)
    // and asks for a new password, which closed stdin cannot give.
    lab.kinit_fails_with("must-change", "Password expired.  You must change it now.");
    lab.kinit_fails_with("must-change-2", "Enter new password");
    lab.set(&bob, "pwdLastSet", "-1");
    lab.whoami(PW).unwrap();

    lab.set(&bob, "userAccountControl", "514");
    lab.refused_with("533");
    lab.kinit_fails_with("disabled", "Client's credentials have been revoked");
    lab.set(&bob, "userAccountControl", "512");

    // accountExpires: 2000-01-01, long past.
    lab.set(&bob, "accountExpires", "125911584000000000");
    lab.refused_with("701");
    lab.kinit_fails_with("expired", "Client's credentials have been revoked");
    lab.set(&bob, "accountExpires", "0");
    lab.whoami(PW).unwrap();
    assert!(lab.kinit("again").status.success());
}

#[test]
fn three_bad_passwords_lock_the_account_until_the_duration_passes() {
    let lab = Lab::start();
    lab.set(&lab.adsim.base(), "lockoutThreshold", "3");
    for _ in 0..3 {
        let out = lab.whoami("wrong").expect_err("bad password");
        assert!(out.contains("data 52e,"), "{out}");
    }
    lab.refused_with("775");
    lab.kinit_fails_with("locked", "Client's credentials have been revoked");
    let entry = lab.search(&lab.bob(), "badPwdCount", &[]);
    assert!(entry.contains("badPwdCount: 3"), "{entry}");
    // lockoutDuration is 30 minutes by default.
    lab.adsim.cli_ok(&["ctl", "clock", "--advance", "31m"]);
    lab.whoami(PW).unwrap();
    let entry = lab.search(&lab.bob(), "badPwdCount", &[]);
    assert!(entry.contains("badPwdCount: 0"), "{entry}");
    // A wrong Kerberos pre-authentication counts too.
    let conf = lab.dir.join("krb5.conf");
    lab.adsim
        .cli_ok(&["export", "krb5-conf", "--out", conf.to_str().unwrap()]);
    for i in 0..3 {
        let o = kinit_with_password(
            &conf,
            &lab.dir.join(format!("bad-{i}")),
            &format!("bob@{REALM}"),
            "nope",
        );
        assert!(!o.status.success());
    }
    lab.refused_with("775");
}

/// ldap3's Sicily NTLM bind as bob: prints `true`, or the result code and message.
const LDAP3_NTLM_BIND: &str = r#"
import sys
from ldap3 import Server, Connection, NTLM
host, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = Connection(Server(host, port=port), user="CORP\\bob", password=pw, authentication=NTLM)
print("true" if c.bind() else "%s %s" % (c.result["result"], c.result["message"]))
"#;

#[test]
fn wrong_ntlm_responses_count_towards_the_lockout_and_a_locked_account_refuses_ntlm() {
    let lab = Lab::start();
    lab.set(&lab.adsim.base(), "lockoutThreshold", "3");
    let url = lab.adsim.ldap();
    let (host, port) = url.trim_start_matches("ldap://").rsplit_once(':').unwrap();
    let ntlm = |pw: &str| {
        let o = python(LDAP3_NTLM_BIND, &[host, port, pw]);
        assert!(o.status.success(), "ldap3: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(ntlm(PW), "true");
    for _ in 0..2 {
        let out = ntlm("wrong");
        assert!(out.starts_with("49 ") && out.contains("data 52e,"), "{out}");
    }
    let entry = lab.search(&lab.bob(), "badPwdCount", &[]);
    assert!(entry.contains("badPwdCount: 2"), "{entry}");
    // The third wrong NTLM response locks bob out, for simple binds and the KDC too; the right
    // password over NTLM is refused with 775 and does not reset the count.
    assert!(ntlm("wrong").contains("data 52e,"));
    lab.refused_with("775");
    lab.kinit_fails_with("locked", "Client's credentials have been revoked");
    let out = ntlm(PW);
    assert!(out.starts_with("49 ") && out.contains("data 775,"), "{out}");
    let entry = lab.search(&lab.bob(), "badPwdCount", &[]);
    assert!(entry.contains("badPwdCount: 3"), "{entry}");
    lab.adsim.cli_ok(&["ctl", "clock", "--advance", "31m"]);
    assert_eq!(ntlm(PW), "true");
    let entry = lab.search(&lab.bob(), "badPwdCount", &[]);
    assert!(entry.contains("badPwdCount: 0"), "{entry}");
}

#[test]
fn sdprop_gives_a_new_domain_admin_the_admin_sd_holder_dacl() {
    let lab = Lab::start();
    let base = lab.adsim.base();
    let bob = lab.bob();
    assert!(!lab.search(&bob, "adminCount", &[]).contains("adminCount"));
    lab.admin(
        "ldapmodify",
        &format!("dn: CN=Domain Admins,CN=Users,{base}\nchangetype: modify\nadd: member\nmember: {bob}\n-\n"),
    );
    let out = lab.adsim.cli_ok(&["ctl", "sdprop"]);
    assert!(out.contains("\"updated\""), "{out}");
    assert!(lab.search(&bob, "adminCount", &[]).contains("adminCount: 1"));
    // The DACL alone (SD flags control, DACL_SECURITY_INFORMATION) equals AdminSDHolder's.
    let dacl_only = ["-E", "1.2.840.113556.1.4.801=::MAMCAQQ="];
    let value = |dn: &str| {
        let text = lab.search(dn, "nTSecurityDescriptor", &dacl_only);
        text.lines()
            .find_map(|l| l.strip_prefix("nTSecurityDescriptor:: "))
            .unwrap_or_else(|| panic!("no nTSecurityDescriptor: {text}"))
            .to_string()
    };
    let holder = value(&format!("CN=AdminSDHolder,CN=System,{base}"));
    assert_eq!(value(&bob), holder);
}
