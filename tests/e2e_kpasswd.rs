//! kpasswd (RFC 3244) and AD's password policy with real clients: MIT `kpasswd` through the
//! exported krb5.conf (`kpasswd_server`), impacket's `changepasswd.py -protocol kpasswd` for a
//! change and an administrator's set (on the standard ports 88 and 464: it reaches no other),
//! and an LDAP unicodePwd change the policy refuses.

use crate::common;

use std::process::{Command, Output};

use common::*;

const REALM: &str = "CORP.EXAMPLE.TEST";
pub(crate) const ALICE_PW: &str = "Original-Passw0rd";
const BOB_PW: &str = "Bobs-Own-Passw0rd";

/// alice and bob (enabled, with passwords) added over LDAPS as the Administrator; with
/// `no_min_age` the domain's minPwdAge goes to 0 so a password set at start may change at once
/// (AD's default of one day would refuse it: the simulated clock stays with the host's).
pub(crate) fn add_users(a: &Adsim, no_min_age: bool) {
    let base = a.base();
    let ldif = format!(
        "dn: CN=Alice,CN=Users,{base}\nobjectClass: user\nsAMAccountName: alice\n\
         userPrincipalName: alice@corp.example.test\nuserAccountControl: 512\nunicodePwd:: {}\n\n\
         dn: CN=Bob,CN=Users,{base}\nobjectClass: user\nsAMAccountName: bob\n\
         userAccountControl: 512\nunicodePwd:: {}\n",
        unicode_pwd_b64(ALICE_PW),
        unicode_pwd_b64(BOB_PW),
    );
    let o = a.as_admin("ldapadd", &a.ldaps(), &[], Some(&ldif));
    assert!(o.status.success(), "ldapadd: {}", text(&o));
    if no_min_age {
        let ldif = format!("dn: {base}\nchangetype: modify\nreplace: minPwdAge\nminPwdAge: 0\n");
        let o = a.as_admin("ldapmodify", &a.ldaps(), &[], Some(&ldif));
        assert!(o.status.success(), "minPwdAge: {}", text(&o));
    }
}

fn scratch(a: &Adsim, tag: &str) -> Scratch {
    let port = a.kpasswd().rsplit_once(':').unwrap().1.to_string();
    let dir = std::env::temp_dir().join(format!("adsim-e2e-kpasswd-{tag}-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// A simple bind over LDAPS as `user` with `password` succeeds.
pub(crate) fn binds(a: &Adsim, user: &str, password: &str) -> bool {
    let upn = format!("{user}@corp.example.test");
    ldap_tool(
        "ldapwhoami",
        &a.ca(),
        &["-x", "-H", &a.ldaps(), "-D", &upn, "-w", password],
        None,
    )
    .status
    .success()
}

/// MIT kpasswd changes alice's password through `kpasswd_server`; kinit then takes the new
/// password and refuses the old; a password too short is refused with MIT's rendering of AD's
/// policy blob, and changes nothing.
#[test]
fn mit_kpasswd_changes_a_password_and_reports_the_policy() {
    let a = Adsim::start(&[]);
    add_users(&a, true);
    let s = scratch(&a, "mit");
    let conf = s.0.join("krb5.conf");
    a.cli_ok(&["export", "krb5-conf", "--out", conf.to_str().unwrap()]);
    let conf_text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        conf_text.contains(&format!("kpasswd_server = {}", a.kpasswd())),
        "{conf_text}"
    );
    let cc = s.0.join("cc");
    let principal = format!("alice@{REALM}");
    let new = "Changed-Passw0rd";

    let o = krb5_tool(
        "kpasswd",
        &[&principal],
        &conf,
        &cc,
        &format!("{ALICE_PW}\n{new}\n{new}\n"),
    );
    assert!(o.status.success(), "kpasswd: {}", text(&o));
    assert!(text(&o).contains("Password changed."), "{}", text(&o));

    let o = kinit_with_password(&conf, &cc, &principal, new);
    assert!(o.status.success(), "kinit with the new password: {}", text(&o));
    let o = kinit_with_password(&conf, &cc, &principal, ALICE_PW);
    assert!(!o.status.success(), "kinit with the old password worked");
    assert!(binds(&a, "alice", new) && !binds(&a, "alice", ALICE_PW));

    // Too short: KRB5_KPASSWD_SOFTERROR with AD's policy, as MIT words it.
    let o = krb5_tool(
        "kpasswd",
        &[&principal],
        &conf,
        &cc,
        &format!("{new}\nAb1!\nAb1!\n"),
    );
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("Password change rejected"), "{out}");
    assert!(
        out.contains("The password must contain at least 7 characters."),
        "{out}"
    );
    assert!(
        out.contains("The password must be different from the previous 24 passwords."),
        "{out}"
    );
    assert!(binds(&a, "alice", new), "the refused change changed the password");
}

fn changepasswd(args: &[&str]) -> Output {
    Command::new("changepasswd.py")
        .args(args)
        .output()
        .expect("changepasswd.py (impacket 0.13.1, tests/requirements.txt)")
}

/// impacket's changepasswd.py over kpasswd: alice changes her own password (version 0xff80
/// without a target), the Administrator sets bob's (with a target: a reset), and alice may not
/// set bob's (access denied). impacket reaches only ports 88 and 464.
#[test]
fn impacket_changepasswd_changes_and_sets_over_kpasswd() {
    let addr = "127.0.0.24";
    let a = Adsim::start_on_standard_ports(addr, &[]);
    assert_eq!(a.kpasswd(), format!("{addr}:464"));
    add_users(&a, true);
    let domain = "corp.example.test";

    let new = "Impacket-Passw0rd";
    let o = changepasswd(&[
        "-protocol",
        "kpasswd",
        &format!("{domain}/alice:{ALICE_PW}@{addr}"),
        "-newpass",
        new,
        "-dc-ip",
        addr,
    ]);
    assert!(
        text(&o).contains("Password was changed successfully"),
        "{}",
        text(&o)
    );
    assert!(binds(&a, "alice", new) && !binds(&a, "alice", ALICE_PW));

    // alice has no Reset Password right on bob: KRB5_KPASSWD_ACCESSDENIED.
    let o = changepasswd(&[
        "-reset",
        "-protocol",
        "kpasswd",
        &format!("{domain}/bob@{addr}"),
        "-newpass",
        "Not-Allowed-Passw0rd",
        "-altuser",
        &format!("{domain}/alice"),
        "-altpass",
        new,
        "-dc-ip",
        addr,
    ]);
    assert!(text(&o).contains("access denied"), "{}", text(&o));
    assert!(binds(&a, "bob", BOB_PW));

    let reset = "Reset-By-Admin-Passw0rd";
    let o = changepasswd(&[
        "-reset",
        "-protocol",
        "kpasswd",
        &format!("{domain}/bob@{addr}"),
        "-newpass",
        reset,
        "-altuser",
        &format!("{domain}/Administrator"),
        "-altpass",
        ADMIN_PASSWORD,
        "-dc-ip",
        addr,
    ]);
    assert!(text(&o).contains("Password was set successfully"), "{}", text(&o));
    assert!(binds(&a, "bob", reset) && !binds(&a, "bob", BOB_PW));

    // A change the policy refuses: impacket decodes AD's blob.
    let o = changepasswd(&[
        "-protocol",
        "kpasswd",
        &format!("{domain}/alice:{new}@{addr}"),
        "-newpass",
        "short",
        "-dc-ip",
        addr,
    ]);
    let out = text(&o);
    assert!(out.contains("KRB5_KPASSWD_SOFTERROR"), "{out}");
    assert!(out.contains("Minimum length: 7"), "{out}");
    assert!(binds(&a, "alice", new));
}

/// An LDAP unicodePwd change (delete the old value, add the new) that breaks the policy gets
/// 19 with ERROR_PASSWORD_RESTRICTION on unicodePwd and changes nothing; so does a change within
/// minPwdAge (AD's default: one day).
#[test]
fn an_ldap_password_change_against_the_policy_is_refused() {
    let a = Adsim::start(&[]);
    add_users(&a, false);
    let change = |old: &str, new: &str| {
        format!(
            "dn: CN=Alice,CN=Users,{}\nchangetype: modify\ndelete: unicodePwd\nunicodePwd:: {}\n-\n\
             add: unicodePwd\nunicodePwd:: {}\n-\n",
            a.base(),
            unicode_pwd_b64(old),
            unicode_pwd_b64(new)
        )
    };
    let as_alice = |ldif: &str| {
        ldap_tool(
            "ldapmodify",
            &a.ca(),
            &[
                "-x",
                "-H",
                &a.ldaps(),
                "-D",
                "alice@corp.example.test",
                "-w",
                ALICE_PW,
            ],
            Some(ldif),
        )
    };
    for new in ["short", "alice-Passw0rd", "Good-Enough-Passw0rd"] {
        let o = as_alice(&change(ALICE_PW, new));
        let out = text(&o);
        assert!(!o.status.success(), "{new}: {out}");
        assert!(out.contains("Constraint violation (19)"), "{new}: {out}");
        assert!(out.contains("0000052D"), "{new}: {out}");
        assert!(out.contains("unicodePwd"), "{new}: {out}");
    }
    assert!(binds(&a, "alice", ALICE_PW));
    assert!(!binds(&a, "alice", "Good-Enough-Passw0rd"));
}
