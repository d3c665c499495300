//! Delegated rights with real clients, against `adsim serve` (issue 11): Defender for
//! Identity's action-account rights written as a binary nTSecurityDescriptor with `ldapmodify`
//! and the SD flags control (DACL only), the ACEs built by impacket's `ldaptypes` as dacledit
//! builds them; the grantee (a plain user bound by simple bind) resets a password over LDAPS,
//! sets pwdLastSet=0, disables a user and adds a member, on objects from before the grant and
//! after it; outside the OU it gets 50 and nothing changes. Then impacket `dacledit.py -action
//! write` (ResetPassword, FullControl) and bloodyAD (`add genericAll`, `set password`) writing
//! ACEs and using them. And the self-rename / self-move / self-delete hole closed over the
//! wire (`ldapmodrdn`, `ldapdelete` as a plain user: 50).

use crate::common;
use crate::e2e_sasl::{Lab, DC};

use base64::Engine;
use common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// LDAP_SERVER_SD_FLAGS_OID with DACL_SECURITY_INFORMATION (BER `30 03 02 01 04`), as
/// ldapsearch's `-E` takes a generic control (`[!]oid=::base64`); ldapmodify takes it as an
/// RFC 2849 `control:` line of the change record ([`SD_FLAGS_DACL_LDIF`]).
const SD_FLAGS_DACL: &str = "!1.2.840.113556.1.4.801=::MAMCAQQ=";
const SD_FLAGS_DACL_LDIF: &str = "control: 1.2.840.113556.1.4.801 true:: MAMCAQQ=";
const GRANTEE_PASSWORD: &str = "Mdi-Action-Passw0rd!";
const OUTSIDER_PASSWORD: &str = "Outsider-Passw0rd!";

/// Appends the action account's ACEs to a DACL-only descriptor (base64 in argv[1]) for the SID
/// in argv[2], as impacket's dacledit builds object ACEs: inherit-only, container-inherit, on
/// descendant users (Reset Password; User-Account-Restrictions write) and groups (member write).
const ADD_ACES: &str = r#"
import sys, base64
from impacket.ldap import ldaptypes
from impacket.uuid import string_to_bin
sd = ldaptypes.SR_SECURITY_DESCRIPTOR(data=base64.b64decode(sys.argv[1]))
USER, GROUP = 'bf967aba-0de6-11d0-a285-00aa003049e2', 'bf967a9c-0de6-11d0-a285-00aa003049e2'
def ace(mask, object_type, inherited):
    a = ldaptypes.ACE()
    a['AceType'] = ldaptypes.ACCESS_ALLOWED_OBJECT_ACE.ACE_TYPE
    a['AceFlags'] = 0x02 | 0x08
    d = ldaptypes.ACCESS_ALLOWED_OBJECT_ACE()
    d['Mask'] = ldaptypes.ACCESS_MASK()
    d['Mask']['Mask'] = mask
    d['Flags'] = 0x3
    d['ObjectType'] = string_to_bin(object_type)
    d['InheritedObjectType'] = string_to_bin(inherited)
    d['Sid'] = ldaptypes.LDAP_SID()
    d['Sid'].fromCanonical(sys.argv[2])
    a['Ace'] = d
    return a
for a in [ace(0x100, '00299570-246d-11d0-a768-00aa006e0529', USER),
          ace(0x20, '4c164200-20c0-11d0-a768-00aa006e0529', USER),
          ace(0x20, 'bf9679c0-0de6-11d0-a285-00aa003049e2', GROUP)]:
    sd['Dacl'].aces.insert(0, a)
print(base64.b64encode(sd.getData()).decode())
"#;

fn admin_ok(a: &Adsim, tool: &str, args: &[&str], input: &str) -> String {
    let o = a.as_admin(tool, &a.ldaps(), args, Some(input));
    assert!(o.status.success(), "{tool} {args:?}: {}", text(&o));
    text(&o)
}

/// An OpenLDAP tool bound as `who` (simple bind, `CORP\who`) over LDAPS.
fn as_user(
    a: &Adsim,
    who: &str,
    password: &str,
    tool: &str,
    args: &[&str],
    input: Option<&str>,
) -> std::process::Output {
    let bind = format!("CORP\\{who}");
    let ldaps = a.ldaps();
    let mut all = vec!["-x", "-H", ldaps.as_str(), "-D", bind.as_str(), "-w", password];
    all.extend_from_slice(args);
    ldap_tool(tool, &a.ca(), &all, input)
}

/// The first value of `attr` of `dn` as the Administrator reads it (base64 values decoded as
/// text are not expected here).
fn read_attr(a: &Adsim, dn: &str, attr: &str) -> Option<String> {
    let out = admin_ok(
        a,
        "ldapsearch",
        &["-LLL", "-o", "ldif-wrap=no", "-b", dn, "-s", "base", attr],
        "",
    );
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{attr}: ")))
        .map(str::to_string)
}

fn sid_of(a: &Adsim, dn: &str) -> String {
    adsim_simulator::security::Sid::from_bytes(&a.binary_attribute(dn, "objectSid"))
        .unwrap()
        .to_string()
}

fn user_ldif(dn: &str, sam: &str, password: &str) -> String {
    format!(
        "dn: {dn}\nobjectClass: user\nsAMAccountName: {sam}\nuserAccountControl: 512\nunicodePwd:: {}\n\n",
        unicode_pwd_b64(password)
    )
}

/// The four actions as the grantee: reset, pwdLastSet=0, disable, add `member` to `group`.
/// Returns each ldapmodify's exit status (the LDAP result code).
fn four_actions(a: &Adsim, user: &str, group: &str, member: &str) -> Vec<i32> {
    let changes = [
        format!(
            "dn: {user}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n",
            unicode_pwd_b64("Reset-By-Mdi-1!")
        ),
        format!("dn: {user}\nchangetype: modify\nreplace: pwdLastSet\npwdLastSet: 0\n"),
        format!("dn: {user}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n"),
        format!("dn: {group}\nchangetype: modify\nadd: member\nmember: {member}\n"),
    ];
    changes
        .iter()
        .map(|c| {
            let o = as_user(a, "mdi-action", GRANTEE_PASSWORD, "ldapmodify", &[], Some(c));
            o.status.code().unwrap_or(-1)
        })
        .collect()
}

#[test]
fn delegated_rights_written_as_a_binary_sd_with_ldapmodify_and_used_over_ldaps() {
    let a = Adsim::start(&[]);
    let base = a.base();
    let ou = format!("OU=Tier2,{base}");
    let group = format!("CN=Tier2-Helpdesk,{ou}");
    let before = format!("CN=before,{ou}");
    let outsider = format!("CN=outsider,CN=Users,{base}");
    admin_ok(
        &a,
        "ldapadd",
        &[],
        &format!(
            "dn: {ou}\nobjectClass: organizationalUnit\n\n\
             dn: {group}\nobjectClass: group\nsAMAccountName: Tier2-Helpdesk\n\n{}{}{}",
            user_ldif(&before, "t2-before", "Before-Passw0rd!"),
            user_ldif(
                &format!("CN=mdi-action,CN=Users,{base}"),
                "mdi-action",
                GRANTEE_PASSWORD
            ),
            user_ldif(&outsider, "outsider", OUTSIDER_PASSWORD),
        ),
    );
    // Without the grant: all four refused.
    assert_eq!(four_actions(&a, &before, &group, &before), vec![50; 4]);

    // The OU's DACL, read and written with the SD flags control (DACL only).
    let out = admin_ok(
        &a,
        "ldapsearch",
        &[
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-E",
            SD_FLAGS_DACL,
            "-b",
            &ou,
            "-s",
            "base",
            "nTSecurityDescriptor",
        ],
        "",
    );
    let dacl = out
        .lines()
        .find_map(|l| l.strip_prefix("nTSecurityDescriptor:: "))
        .unwrap_or_else(|| panic!("{out}"));
    // DACL only: no owner, no group (offsets 0 at bytes 4..12).
    let raw = B64.decode(dacl).unwrap();
    assert_eq!(
        &raw[4..12],
        &[0; 8],
        "the SD flags control leaves the owner and group out"
    );
    let grantee_sid = sid_of(&a, &format!("CN=mdi-action,CN=Users,{base}"));
    let o = python(ADD_ACES, &[dacl, &grantee_sid]);
    assert!(o.status.success(), "impacket ldaptypes: {}", text(&o));
    let new_sd = String::from_utf8(o.stdout).unwrap().trim().to_string();
    // A plain user may not write the DACL (WRITE_DAC).
    let change = format!(
        "dn: {ou}\n{SD_FLAGS_DACL_LDIF}\nchangetype: modify\nreplace: nTSecurityDescriptor\nnTSecurityDescriptor:: {new_sd}\n"
    );
    let o = as_user(
        &a,
        "mdi-action",
        GRANTEE_PASSWORD,
        "ldapmodify",
        &[],
        Some(&change),
    );
    assert_eq!(o.status.code(), Some(50), "{}", text(&o));
    admin_ok(&a, "ldapmodify", &[], &change);
    // The owner survived the DACL-only write.
    let full = admin_ok(
        &a,
        "ldapsearch",
        &[
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-b",
            &ou,
            "-s",
            "base",
            "nTSecurityDescriptor",
        ],
        "",
    );
    let full = B64
        .decode(
            full.lines()
                .find_map(|l| l.strip_prefix("nTSecurityDescriptor:: "))
                .unwrap(),
        )
        .unwrap();
    assert_ne!(&full[4..8], &[0; 4], "owner kept");

    let after = format!("CN=after,{ou}");
    admin_ok(
        &a,
        "ldapadd",
        &[],
        &user_ldif(&after, "t2-after", "After-Passw0rd!"),
    );
    for user in [&before, &after] {
        assert_eq!(four_actions(&a, user, &group, user), vec![0; 4], "{user}");
        assert_eq!(read_attr(&a, user, "pwdLastSet").as_deref(), Some("0"));
        assert_eq!(read_attr(&a, user, "userAccountControl").as_deref(), Some("514"));
    }
    let members = admin_ok(
        &a,
        "ldapsearch",
        &["-LLL", "-o", "ldif-wrap=no", "-b", &group, "-s", "base", "member"],
        "",
    );
    assert!(members.contains(&before) && members.contains(&after), "{members}");

    // What the actions did to the accounts: disabled (533); once re-enabled, the password the
    // grantee set works but must be changed first (pwdLastSet 0: 773).
    let bind_error = |sam: &str, pw: &str| text(&as_user(&a, sam, pw, "ldapwhoami", &[], None));
    assert!(bind_error("t2-before", "Reset-By-Mdi-1!").contains("data 533"));
    admin_ok(
        &a,
        "ldapmodify",
        &[],
        &format!("dn: {before}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n"),
    );
    assert!(bind_error("t2-before", "Reset-By-Mdi-1!").contains("data 773"));

    // A protected account inside the OU: once it is a Domain Admin and SDProp has run, it has
    // AdminSDHolder's protected DACL, the OU's inherited grant is gone, and the writes on it are
    // refused (the reason an action account cannot reset a domain admin's password).
    let admin2 = format!("CN=t2-admin,{ou}");
    admin_ok(
        &a,
        "ldapadd",
        &[],
        &user_ldif(&admin2, "t2-admin", "Tier2-Adm1n-Passw0rd!"),
    );
    admin_ok(
        &a,
        "ldapmodify",
        &[],
        &format!("dn: CN=Domain Admins,CN=Users,{base}\nchangetype: modify\nadd: member\nmember: {admin2}\n"),
    );
    a.cli_ok(&["ctl", "sdprop"]);
    assert_eq!(read_attr(&a, &admin2, "adminCount").as_deref(), Some("1"));
    // Reset, pwdLastSet and disable refused; adding it to the (unprotected) Tier2 group is a
    // write on the group, which the grant still allows.
    assert_eq!(four_actions(&a, &admin2, &group, &admin2), vec![50, 50, 50, 0]);
    assert_eq!(
        read_attr(&a, &admin2, "userAccountControl").as_deref(),
        Some("512")
    );
    let o = as_user(&a, "t2-admin", "Tier2-Adm1n-Passw0rd!", "ldapwhoami", &[], None);
    assert!(o.status.success(), "{}", text(&o));

    // Outside the OU: 50 for all four, and nothing changed (the outsider still binds).
    let domain_users = format!("CN=Domain Users,CN=Users,{base}");
    assert_eq!(four_actions(&a, &outsider, &domain_users, &before), vec![50; 4]);
    assert_eq!(
        read_attr(&a, &outsider, "userAccountControl").as_deref(),
        Some("512")
    );
    let o = as_user(&a, "outsider", OUTSIDER_PASSWORD, "ldapwhoami", &[], None);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_plain_user_cannot_rename_move_or_delete_itself() {
    let a = Adsim::start(&[]);
    let base = a.base();
    let me = format!("CN=outsider,CN=Users,{base}");
    admin_ok(&a, "ldapadd", &[], &user_ldif(&me, "outsider", OUTSIDER_PASSWORD));
    let attempts: [(&str, Vec<String>); 4] = [
        ("ldapmodrdn", vec![me.clone(), "CN=renamed".into()]),
        (
            "ldapmodrdn",
            vec![
                "-s".into(),
                format!("OU=Domain Controllers,{base}"),
                me.clone(),
                "CN=outsider".into(),
            ],
        ),
        (
            "ldapmodrdn",
            vec![
                "-s".into(),
                format!("CN=Builtin,{base}"),
                me.clone(),
                "CN=outsider".into(),
            ],
        ),
        ("ldapdelete", vec![me.clone()]),
    ];
    for (tool, args) in &attempts {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = as_user(&a, "outsider", OUTSIDER_PASSWORD, tool, &args, None);
        assert_eq!(o.status.code(), Some(50), "{tool} {args:?}: {}", text(&o));
        assert!(text(&o).contains("INSUFF_ACCESS_RIGHTS"), "{}", text(&o));
    }
    // Still there, still itself.
    assert_eq!(read_attr(&a, &me, "sAMAccountName").as_deref(), Some("outsider"));
}

/// impacket's dacledit.py as Administrator (NTLM over LDAP to the standard port).
fn dacledit(lab: &Lab, args: &[&str]) -> String {
    let mut all = vec![
        "-dc-ip",
        "127.0.0.31",
        "-action",
        "write",
        "-principal",
        "mdi-action",
    ];
    all.extend_from_slice(args);
    let identity = format!("corp.example.test/Administrator:{ADMIN_PASSWORD}");
    all.push(&identity);
    let o = lab.run("admin", "dacledit.py", &all);
    let out = text(&o);
    assert!(
        o.status.success() && out.contains("DACL modified successfully"),
        "dacledit {args:?}: {out}"
    );
    out
}

fn bloodyad(lab: &Lab, user: &str, password: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "--host",
        DC,
        "-d",
        "corp.example.test",
        "-u",
        user,
        "-p",
        password,
        "-s",
    ];
    all.extend_from_slice(args);
    lab.run(user, "bloodyAD", &all)
}

#[test]
fn dacledit_and_bloodyad_write_aces_that_the_grantee_then_uses() {
    let lab = Lab::start_on_standard_ports("127.0.0.31", &[]);
    let a = &lab.a;
    let base = a.base();
    let (t1, t2, t3) = (
        format!("CN=target1,CN=Users,{base}"),
        format!("CN=target2,CN=Users,{base}"),
        format!("CN=target3,CN=Users,{base}"),
    );
    admin_ok(
        a,
        "ldapadd",
        &[],
        &format!(
            "{}{}{}{}",
            user_ldif(
                &format!("CN=mdi-action,CN=Users,{base}"),
                "mdi-action",
                GRANTEE_PASSWORD
            ),
            user_ldif(&t1, "target1", "Target1-Passw0rd!"),
            user_ldif(&t2, "target2", "Target2-Passw0rd!"),
            user_ldif(&t3, "target3", "Target3-Passw0rd!"),
        ),
    );
    let reset = |dn: &str, pw: &str| {
        let change = format!(
            "dn: {dn}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n",
            unicode_pwd_b64(pw)
        );
        as_user(
            a,
            "mdi-action",
            GRANTEE_PASSWORD,
            "ldapmodify",
            &[],
            Some(&change),
        )
        .status
        .code()
    };
    let binds = |sam: &str, pw: &str| as_user(a, sam, pw, "ldapwhoami", &[], None).status.success();
    // Before any ACE: refused.
    assert_eq!(reset(&t1, "Reset-One-Passw0rd!"), Some(50));

    // dacledit -rights ResetPassword on target1: the reset works, target1 binds with it.
    dacledit(&lab, &["-target", "target1", "-rights", "ResetPassword"]);
    assert_eq!(reset(&t1, "Reset-One-Passw0rd!"), Some(0));
    assert!(binds("target1", "Reset-One-Passw0rd!"));
    // It names target1 only.
    assert_eq!(reset(&t2, "Reset-Two-Passw0rd!"), Some(50));

    // dacledit -rights FullControl on target2: description and the password.
    dacledit(&lab, &["-target-dn", &t2, "-rights", "FullControl"]);
    let desc = format!("dn: {t2}\nchangetype: modify\nreplace: description\ndescription: managed\n");
    let o = as_user(a, "mdi-action", GRANTEE_PASSWORD, "ldapmodify", &[], Some(&desc));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(reset(&t2, "Reset-Two-Passw0rd!"), Some(0));

    // bloodyAD: the grantee cannot give itself GenericAll on target3; the Administrator can,
    // then the grantee sets target3's password with bloodyAD.
    let o = bloodyad(
        &lab,
        "mdi-action",
        GRANTEE_PASSWORD,
        &["set", "password", "target3", "Bloody-Passw0rd-3!"],
    );
    assert!(!o.status.success(), "{}", text(&o));
    let o = bloodyad(
        &lab,
        "mdi-action",
        GRANTEE_PASSWORD,
        &["add", "genericAll", "target3", "mdi-action"],
    );
    assert!(!o.status.success(), "{}", text(&o));
    let o = bloodyad(
        &lab,
        "Administrator",
        ADMIN_PASSWORD,
        &["add", "genericAll", "target3", "mdi-action"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = bloodyad(
        &lab,
        "mdi-action",
        GRANTEE_PASSWORD,
        &["set", "password", "target3", "Bloody-Passw0rd-3!"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(binds("target3", "Bloody-Passw0rd-3!"));
    assert!(!binds("target3", "Target3-Passw0rd!"));
}
