//! End-to-end: OpenLDAP's ldap-utils and python ldap3 against `adsim serve`.

use crate::common;

use common::*;

#[test]
fn anonymous_root_dse_over_ldap_ldaps_and_starttls_with_verified_certificates() {
    let a = Adsim::start(&[]);
    for (url, extra) in [(a.ldap(), None), (a.ldaps(), None), (a.ldap(), Some("-ZZ"))] {
        let mut args = vec![
            "-x",
            "-H",
            url.as_str(),
            "-b",
            "",
            "-s",
            "base",
            "(objectClass=*)",
            "defaultNamingContext",
            "supportedControl",
        ];
        if let Some(z) = extra {
            args.insert(0, z);
        }
        let o = ldap_tool("ldapsearch", &a.ca(), &args, None);
        let t = text(&o);
        assert!(o.status.success(), "{url} {extra:?}: {t}");
        assert!(
            t.contains("defaultNamingContext: DC=corp,DC=example,DC=test"),
            "{t}"
        );
        assert!(t.contains("supportedControl: 1.2.840.113556.1.4.319"), "{t}");
    }
    // Anonymous may read only the rootDSE (AD: operationsError 000004DC).
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &["-x", "-H", &a.ldap(), "-b", &a.base(), "-s", "base"],
        None,
    );
    let t = text(&o);
    assert!(
        t.contains("result: 1 Operations error") && t.contains("000004DC"),
        "{t}"
    );
}

#[test]
fn administrator_binds_by_dn_upn_and_down_level_name() {
    let a = Adsim::start(&[]);
    for who in [
        "CN=Administrator,CN=Users,DC=corp,DC=example,DC=test",
        "Administrator@corp.example.test",
        "CORP\\Administrator",
    ] {
        let o = ldap_tool(
            "ldapwhoami",
            &a.ca(),
            &["-x", "-H", &a.ldaps(), "-D", who, "-w", ADMIN_PASSWORD],
            None,
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "u:CORP\\Administrator",
            "{who}: {}",
            text(&o)
        );
    }
    let o = ldap_tool(
        "ldapwhoami",
        &a.ca(),
        &["-x", "-H", &a.ldap(), "-D", "CORP\\Administrator", "-w", "nope"],
        None,
    );
    let t = text(&o);
    assert!(
        t.contains("Invalid credentials (49)") && t.contains("AcceptSecurityContext error, data 52e"),
        "{t}"
    );
}

#[test]
fn add_user_and_computer_with_unicode_pwd_then_bind_as_them() {
    let a = Adsim::start(&[]);
    let base = a.base();
    let ldif = format!(
        "dn: CN=Alice Example,CN=Users,{base}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\nsAMAccountName: alice\nuserPrincipalName: alice@corp.example.test\nuserAccountControl: 512\nunicodePwd:: {}\n\n\
         dn: CN=WEB01,CN=Computers,{base}\nobjectClass: computer\nsAMAccountName: WEB01$\ndNSHostName: web01.corp.example.test\nuserAccountControl: 4096\nunicodePwd:: {}\n",
        unicode_pwd_b64("Alice-Passw0rd!"),
        unicode_pwd_b64("Web01-Passw0rd!")
    );
    let o = a.as_admin("ldapadd", &a.ldaps(), &[], Some(&ldif));
    assert!(o.status.success(), "{}", text(&o));
    for (who, pw, expect) in [
        ("alice@corp.example.test", "Alice-Passw0rd!", "u:CORP\\alice"),
        ("CORP\\WEB01$", "Web01-Passw0rd!", "u:CORP\\WEB01$"),
    ] {
        let o = ldap_tool(
            "ldapwhoami",
            &a.ca(),
            &["-x", "-ZZ", "-H", &a.ldap(), "-D", who, "-w", pw],
            None,
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), expect, "{}", text(&o));
    }
    // unicodePwd on a plain connection is refused and the entry is not created.
    let ldif2 = format!(
        "dn: CN=Bob,CN=Users,{base}\nobjectClass: user\nunicodePwd:: {}\n",
        unicode_pwd_b64("x-Passw0rd!")
    );
    let o = a.as_admin("ldapadd", &a.ldap(), &[], Some(&ldif2));
    assert!(
        text(&o).contains("Server is unwilling to perform (53)"),
        "{}",
        text(&o)
    );
    let o = a.as_admin("ldapsearch", &a.ldap(), &["-b", &base, "(cn=Bob)", "1.1"], None);
    assert!(!text(&o).contains("numEntries"), "{}", text(&o));
    // Duplicate sAMAccountName: 68 with ERROR_USER_EXISTS.
    let dup = format!("dn: CN=Alice Two,CN=Users,{base}\nobjectClass: user\nsAMAccountName: ALICE\n");
    let o = a.as_admin("ldapadd", &a.ldap(), &[], Some(&dup));
    assert!(
        text(&o).contains("Already exists (68)") && text(&o).contains("00000524"),
        "{}",
        text(&o)
    );
}

#[test]
fn binary_sid_string_sid_and_in_chain_filters() {
    let a = Adsim::start(&[]);
    let base = a.base();
    let sid = a.ready["domains"][0]["domain_sid"].as_str().unwrap().to_string() + "-500";
    let bind = [
        "-x",
        "-H",
        a.ldap().leak() as &str,
        "-D",
        "CORP\\Administrator",
        "-w",
        ADMIN_PASSWORD,
        "-b",
        base.clone().leak() as &str,
    ];
    // String SID form, as AD accepts it.
    let f = format!("(objectSid={sid})");
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &[&bind[..], &[f.as_str(), "sAMAccountName"]].concat(),
        None,
    );
    assert!(text(&o).contains("sAMAccountName: Administrator"), "{}", text(&o));
    // Binary SID with every byte escaped (RFC 4515).
    let parsed: Vec<u32> = sid.split('-').skip(3).map(|x| x.parse().unwrap()).collect();
    let mut bytes = vec![1u8, parsed.len() as u8, 0, 0, 0, 0, 0, 5];
    for s in &parsed {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    let esc: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    let f = format!("(objectSid={esc})");
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &[&bind[..], &[f.as_str(), "sAMAccountName"]].concat(),
        None,
    );
    assert!(text(&o).contains("sAMAccountName: Administrator"), "{}", text(&o));
    // In-chain: everything transitively in BUILTIN\Administrators.
    let f = format!("(memberOf:1.2.840.113556.1.4.1941:=CN=Administrators,CN=Builtin,{base})");
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &[&bind[..], &[f.as_str(), "1.1"]].concat(),
        None,
    );
    let t = text(&o);
    assert!(
        t.contains("dn: CN=Administrator,CN=Users") && t.contains("dn: CN=Domain Admins,CN=Users"),
        "{t}"
    );
    // Bitwise AND on userAccountControl: disabled accounts (Guest, krbtgt).
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &[
            &bind[..],
            &["(userAccountControl:1.2.840.113556.1.4.803:=2)", "sAMAccountName"],
        ]
        .concat(),
        None,
    );
    let t = text(&o);
    assert!(
        t.contains("sAMAccountName: krbtgt")
            && t.contains("sAMAccountName: Guest")
            && !t.contains("sAMAccountName: Administrator"),
        "{t}"
    );
}

#[test]
fn paged_search_over_two_thousand_entries() {
    let a = Adsim::start(&[]);
    let base = a.base();
    let mut ldif = format!("dn: OU=Bulk,{base}\nobjectClass: organizationalUnit\n\n");
    for i in 0..2000 {
        ldif.push_str(&format!(
            "dn: CN=bulk{i:05},OU=Bulk,{base}\nobjectClass: user\nsAMAccountName: bulk{i:05}\n\n"
        ));
    }
    let o = a.as_admin("ldapadd", &a.ldap(), &[], Some(&ldif));
    assert!(o.status.success(), "{}", text(&o));
    let ou = format!("OU=Bulk,{base}");
    let o = a.as_admin(
        "ldapsearch",
        &a.ldap(),
        &[
            "-b",
            &ou,
            "-E",
            "pr=300/noprompt",
            "(objectClass=user)",
            "sAMAccountName",
        ],
        None,
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert_eq!(t.matches("sAMAccountName: bulk").count(), 2000);
    // Without paging AD stops at MaxPageSize (1000) with sizeLimitExceeded.
    let o = a.as_admin(
        "ldapsearch",
        &a.ldap(),
        &["-b", &ou, "(objectClass=user)", "1.1"],
        None,
    );
    let t = text(&o);
    assert!(t.contains("result: 4 Size limit exceeded"), "{t}");
    assert_eq!(t.matches("dn: CN=bulk").count(), 1000);
}

#[test]
fn two_domain_forest_serves_both_domains_and_refers_across() {
    let a = Adsim::start(&["--child-domain", "child"]);
    let child = &a.ready["domains"][1];
    assert_eq!(child["domain"], "child.corp.example.test");
    let child_url = child["ldap_url"].as_str().unwrap();
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &[
            "-x",
            "-H",
            child_url,
            "-D",
            "CHILD\\Administrator",
            "-w",
            ADMIN_PASSWORD,
            "-b",
            "DC=child,DC=corp,DC=example,DC=test",
            "(sAMAccountName=Administrator)",
            "objectSid",
        ],
        None,
    );
    assert!(
        text(&o).contains("dn: CN=Administrator,CN=Users,DC=child,DC=corp,DC=example,DC=test"),
        "{}",
        text(&o)
    );
    // The root DC refers a search for the child's NC to the child's DC.
    let o = a.as_admin(
        "ldapsearch",
        &a.ldap(),
        &["-b", "CN=Users,DC=child,DC=corp,DC=example,DC=test", "-s", "base"],
        None,
    );
    let t = text(&o);
    assert!(t.contains("result: 10 Referral") && t.contains(child_url), "{t}");
    // The Global Catalog answers across domains.
    let o = a.as_admin(
        "ldapsearch",
        &a.s("gc_url"),
        &[
            "-b",
            "DC=corp,DC=example,DC=test",
            "(sAMAccountName=Administrator)",
            "1.1",
        ],
        None,
    );
    let t = text(&o);
    assert!(
        t.contains("dn: CN=Administrator,CN=Users,DC=corp")
            && t.contains("dn: CN=Administrator,CN=Users,DC=child"),
        "{t}"
    );
    // The same catalogue over TLS (3269), the certificate verifying against the CA; its
    // rootDSE says it is a GC.
    let gcs = a.s("gcs_url");
    assert!(gcs.starts_with("ldaps://"), "{gcs}");
    let o = a.as_admin(
        "ldapsearch",
        &gcs,
        &[
            "-b",
            "DC=corp,DC=example,DC=test",
            "(sAMAccountName=Administrator)",
            "1.1",
        ],
        None,
    );
    assert_eq!(
        text(&o),
        t.replace(&a.s("gc_url"), &gcs),
        "GC over TLS answers as the GC"
    );
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &["-x", "-H", &gcs, "-b", "", "-s", "base", "isGlobalCatalogReady"],
        None,
    );
    assert!(text(&o).contains("isGlobalCatalogReady: TRUE"), "{}", text(&o));
}

#[test]
fn malformed_ber_closes_one_connection_not_the_server() {
    use std::io::{Read, Write};
    let mut a = Adsim::start(&[]);
    let addr = a.ldap().trim_start_matches("ldap://").to_string();
    for garbage in [
        &b"\x30\x84\xff\xff\xff\xff\x02\x01"[..],
        b"\x04\x03abc",
        b"\x30\x05\x02\x01\x01\x63\x00",
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        s.write_all(garbage).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf); // closed by the server (with a notice of disconnection)
    }
    assert!(a.is_running());
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &["-x", "-H", &a.ldap(), "-b", "", "-s", "base", "dnsHostName"],
        None,
    );
    assert!(
        text(&o).contains("dnsHostName: dc1.corp.example.test"),
        "{}",
        text(&o)
    );
}

#[test]
fn python_ldap3_binds_over_ldaps_and_reads_the_root_dse() {
    let a = Adsim::start(&[]);
    let script = r#"
import sys, ssl
from ldap3 import Server, Connection, Tls, ALL, SUBTREE
url, ca, base = sys.argv[1], sys.argv[2], sys.argv[3]
tls = Tls(ca_certs_file=ca, validate=ssl.CERT_REQUIRED)
srv = Server(url, use_ssl=True, tls=tls, get_info=ALL)
c = Connection(srv, user='CORP\\Administrator', password='Adsim-Passw0rd!', auto_bind=True)
assert srv.info.other['defaultNamingContext'][0] == base, srv.info
assert srv.schema is not None and 'msDS-ManagedPassword' in srv.schema.attribute_types, 'schema not loaded'
assert srv.schema.object_classes['msDS-GroupManagedServiceAccount'].superior == ['computer']
c.search(base, '(sAMAccountName=Administrator)', SUBTREE, attributes=['objectSid', 'memberOf'])
e = c.entries[0]
print('SID', e.objectSid.value)
print('OK')
"#;
    let o = python(script, &[&a.ldaps(), &a.ca(), &a.base()]);
    let t = text(&o);
    assert!(o.status.success() && t.contains("OK"), "{t}");
    assert!(t.contains("SID S-1-5-21-"), "{t}");
}

#[test]
fn unknown_critical_control_gets_12_and_ad_controls_are_accepted() {
    let a = Adsim::start(&[]);
    let base = a.base();
    let bind = [
        "-x",
        "-H",
        a.ldap().leak() as &str,
        "-D",
        "CORP\\Administrator",
        "-w",
        ADMIN_PASSWORD,
        "-b",
        base.clone().leak() as &str,
        "-s",
        "base",
    ];
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &[&bind[..], &["-e", "!1.2.3.4.5.6.7"]].concat(),
        None,
    );
    assert!(
        text(&o).contains("result: 12 Critical extension is unavailable"),
        "{}",
        text(&o)
    );
    // bloodyAD sends SD flags, show-deleted and show-deactivated-link critical on every search.
    let script = r#"
import sys, ssl
from ldap3 import Server, Connection, Tls, BASE
from ldap3.protocol.microsoft import security_descriptor_control
url, ca, base = sys.argv[1], sys.argv[2], sys.argv[3]
srv = Server(url, use_ssl=True, tls=Tls(ca_certs_file=ca, validate=ssl.CERT_REQUIRED))
c = Connection(srv, user='CORP\\Administrator', password='Adsim-Passw0rd!', auto_bind=True)
ctrls = security_descriptor_control(sdflags=0x07) + [('1.2.840.113556.1.4.417', True, None), ('1.2.840.113556.1.4.2065', True, None)]
ok = c.search(base, '(objectClass=*)', BASE, attributes=['nTSecurityDescriptor'], controls=ctrls)
assert ok, c.result
sd = c.entries[0].entry_attributes_as_dict['nTSecurityDescriptor'][0]
assert sd[0] == 1, sd[:4]
print('SD', len(sd))
"#;
    let o = python(script, &[&a.ldaps(), &a.ca(), &base]);
    assert!(o.status.success() && text(&o).contains("SD "), "{}", text(&o));
}

/// docs/notes/client-interop.md §1: clients such as impacket need 389/636/3268/88 on an alias address.
#[test]
fn standard_ports_on_an_alias_address() {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let mut args = vec!["serve"];
    args.extend(standard_ports("127.0.0.3"));
    if !root {
        // Unprivileged: a clear refusal, not a hang.
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_adsim"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            !o.status.success() && text(&o).contains("cannot listen on 127.0.0.3:389"),
            "{}",
            text(&o)
        );
        return;
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["ldaps_url"], "ldaps://127.0.0.3:636");
    assert_eq!(ready["kdc"], "127.0.0.3:88");
    let o = ldap_tool(
        "ldapsearch",
        ready["ca_cert"].as_str().unwrap(),
        &[
            "-x",
            "-H",
            "ldaps://127.0.0.3",
            "-b",
            "",
            "-s",
            "base",
            "dnsHostName",
        ],
        None,
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        text(&o).contains("dnsHostName: dc1.corp.example.test"),
        "{}",
        text(&o)
    );
}

/// MS-ADTS 3.1.1.3.1.5.1: a user changes its own password by deleting the old value and adding
/// the new one; a replace is a reset, which needs the reset right.
#[test]
fn own_password_change_needs_the_old_password() {
    let a = Adsim::start(&[]);
    let base = a.base();
    let add = format!(
        "dn: CN=Carol,CN=Users,{base}\nobjectClass: user\nsAMAccountName: carol\nuserAccountControl: 512\nunicodePwd:: {}\n",
        unicode_pwd_b64("Carol-Old-Passw0rd!")
    );
    let o = a.as_admin("ldapadd", &a.ldaps(), &[], Some(&add));
    assert!(o.status.success(), "{}", text(&o));
    let change = |old: &str, new: &str| {
        format!(
            "dn: CN=Carol,CN=Users,{base}\nchangetype: modify\ndelete: unicodePwd\nunicodePwd:: {}\n-\nadd: unicodePwd\nunicodePwd:: {}\n-\n",
            unicode_pwd_b64(old),
            unicode_pwd_b64(new)
        )
    };
    let as_carol = |pw: &str, ldif: &str| {
        ldap_tool(
            "ldapmodify",
            &a.ca(),
            &["-x", "-H", &a.ldaps(), "-D", "CORP\\carol", "-w", pw],
            Some(ldif),
        )
    };
    // The new password may not hold the account name (complexity), and the change waits for
    // minPwdAge (one day) after the password was set: AD's default domain policy.
    a.cli_ok(&["ctl", "clock", "--advance", "1d"]);
    let o = as_carol("Carol-Old-Passw0rd!", &change("wrong-old", "Brand-New-Passw0rd!"));
    let t = text(&o);
    assert!(
        t.contains("Constraint violation (19)")
            && t.contains("00000056")
            && t.contains("Att 9005a (unicodePwd)"),
        "{t}"
    );
    let reset = format!(
        "dn: CN=Carol,CN=Users,{base}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n-\n",
        unicode_pwd_b64("Reset-By-Admin-Passw0rd!")
    );
    let o = as_carol("Carol-Old-Passw0rd!", &reset);
    assert!(text(&o).contains("Insufficient access (50)"), "{}", text(&o));
    let o = as_carol(
        "Carol-Old-Passw0rd!",
        &change("Carol-Old-Passw0rd!", "Brand-New-Passw0rd!"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = ldap_tool(
        "ldapwhoami",
        &a.ca(),
        &[
            "-x",
            "-H",
            &a.ldaps(),
            "-D",
            "CORP\\carol",
            "-w",
            "Brand-New-Passw0rd!",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "u:CORP\\carol",
        "{}",
        text(&o)
    );
    // An administrator resets with a replace.
    let o = a.as_admin("ldapmodify", &a.ldaps(), &[], Some(&reset));
    assert!(o.status.success(), "{}", text(&o));
}
