//! Finding the domain as Linux hosts do (issue 15): BIND's `dig` for every record a DC
//! registers (MS-ADTS 6.3.2), `adcli info` through DNS and the CLDAP ping (MS-ADTS 6.3.3), and
//! MIT `kinit` with `dns_lookup_kdc = true` and no `[realms]` entry. Resolvers that read
//! /etc/resolv.conf run in a private mount namespace (`unshare -m`) with a resolv.conf naming
//! adsim's DNS on an alias address: the machine's resolver is never touched.

use std::process::{Command, Output};

use crate::common::{gmsa_membership_b64, text, Adsim, ADMIN_PASSWORD};

/// `dig` against `server` (`host:port`) with `args`; standard output.
fn dig(server: &str, args: &[&str]) -> String {
    let (host, port) = server.rsplit_once(':').expect("host:port");
    let out = Command::new("dig")
        .args([&format!("@{host}"), "-p", port, "+time=3", "+tries=1"])
        .args(args)
        .output()
        .expect("dig runs: apt-get install dnsutils");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn short(server: &str, rtype: &str, name: &str) -> Vec<String> {
    let mut lines: Vec<String> = dig(server, &["+short", rtype, name])
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn port_of(url: &str) -> String {
    url.rsplit(':').next().unwrap().to_string()
}

/// An objectGUID read with ldapsearch (base64 in LDIF, over LDAPS), in its string form.
fn guid_of(lab: &Adsim, dn: &str) -> String {
    let b = lab.binary_attribute(dn, "objectGUID");
    // Little-endian first three fields (MS-DTYP 2.3.4.2).
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}-{}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        hex::encode(&b[8..10]),
        hex::encode(&b[10..16])
    )
}

#[test]
fn dig_finds_every_record_a_dc_registers_with_the_ports_adsim_listens_on() {
    let lab = Adsim::start(&[]);
    let dns = lab.s("dns");
    let ldap = port_of(&lab.ldap());
    let kdc = port_of(&lab.kdc());
    let gc = port_of(&lab.s("gc_url"));
    let kpasswd = port_of(&lab.s("kpasswd"));
    let forest = "corp.example.test";
    let dc = "dc1.corp.example.test.";
    let site = "Default-First-Site-Name";
    let domain_guid = guid_of(&lab, &lab.base());
    let rootdse = text(&lab.as_admin(
        "ldapsearch",
        &lab.ldap(),
        &["-o", "ldif-wrap=no", "-b", "", "-s", "base", "dsServiceName"],
        None,
    ));
    let dsa_dn = rootdse
        .lines()
        .find_map(|l| l.strip_prefix("dsServiceName: "))
        .expect("dsServiceName")
        .to_string();
    let dsa_guid = guid_of(&lab, &dsa_dn);
    let srv = [
        (format!("_ldap._tcp.{forest}"), &ldap),
        (format!("_ldap._tcp.{site}._sites.{forest}"), &ldap),
        (format!("_ldap._tcp.dc._msdcs.{forest}"), &ldap),
        (format!("_ldap._tcp.{site}._sites.dc._msdcs.{forest}"), &ldap),
        (format!("_ldap._tcp.{domain_guid}.domains._msdcs.{forest}"), &ldap),
        (format!("_ldap._tcp.pdc._msdcs.{forest}"), &ldap),
        (format!("_kerberos._tcp.{forest}"), &kdc),
        (format!("_kerberos._udp.{forest}"), &kdc),
        (format!("_kerberos._tcp.{site}._sites.{forest}"), &kdc),
        (format!("_kerberos._tcp.dc._msdcs.{forest}"), &kdc),
        (format!("_kerberos._tcp.{site}._sites.dc._msdcs.{forest}"), &kdc),
        (format!("_ldap._tcp.gc._msdcs.{forest}"), &gc),
        (format!("_ldap._tcp.{site}._sites.gc._msdcs.{forest}"), &gc),
        (format!("_gc._tcp.{forest}"), &gc),
        (format!("_gc._tcp.{site}._sites.{forest}"), &gc),
        (format!("_kpasswd._tcp.{forest}"), &kpasswd),
        (format!("_kpasswd._udp.{forest}"), &kpasswd),
    ];
    for (name, port) in &srv {
        assert_eq!(
            short(&dns, "SRV", name),
            vec![format!("0 100 {port} {dc}")],
            "{name}"
        );
    }
    for name in [dc, forest, &format!("gc._msdcs.{forest}")] {
        assert_eq!(short(&dns, "A", name), vec!["127.0.0.1".to_string()], "{name}");
    }
    // The nTDSDSA GUID's alias names the DC; the same over TCP.
    let cname = format!("{dsa_guid}._msdcs.{forest}");
    assert_eq!(short(&dns, "CNAME", &cname), vec![dc.to_string()]);
    assert_eq!(
        dig(
            &dns,
            &[
                "+tcp",
                "+short",
                "SRV",
                &format!("_LDAP._TCP.DC._MSDCS.{}", forest.to_uppercase())
            ]
        )
        .trim(),
        format!("0 100 {ldap} {dc}")
    );
    // SOA and NS of both zones.
    for zone in [forest.to_string(), format!("_msdcs.{forest}")] {
        assert_eq!(short(&dns, "NS", &zone), vec![dc.to_string()], "{zone}");
        let soa = short(&dns, "SOA", &zone);
        assert!(
            soa[0].starts_with(&format!("{dc} hostmaster.{zone}. ")),
            "{zone}: {soa:?}"
        );
    }
    // NXDOMAIN, NODATA (NOERROR with no answer, the zone's SOA for negative caching), REFUSED
    // outside the zones without recursion (RA clear), and no zone transfer.
    let nx = dig(&dns, &["A", &format!("nosuch.{forest}")]);
    assert!(
        nx.contains("status: NXDOMAIN") && nx.contains("flags: qr aa rd;"),
        "{nx}"
    );
    let nodata = dig(&dns, &["A", &format!("_ldap._tcp.{forest}")]);
    assert!(
        nodata.contains("status: NOERROR") && nodata.contains("ANSWER: 0"),
        "{nodata}"
    );
    assert!(nodata.contains("IN\tSOA"), "{nodata}");
    let ent = dig(&dns, &["SRV", &format!("_tcp.{forest}")]);
    assert!(
        ent.contains("status: NOERROR") && ent.contains("ANSWER: 0"),
        "{ent}"
    );
    let outside = dig(&dns, &["A", "example.com"]);
    assert!(
        outside.contains("status: REFUSED") && !outside.contains(" ra"),
        "{outside}"
    );
    let axfr = dig(&dns, &["AXFR", forest]);
    assert!(
        axfr.contains("Transfer failed") || axfr.contains("REFUSED"),
        "{axfr}"
    );
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

/// `args` run in a private mount namespace whose /etc/resolv.conf names only `nameserver`
/// (`unshare -m` and a bind mount; root only).
pub(crate) fn with_resolver(
    nameserver: &str,
    envs: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let dir = std::env::temp_dir().join(format!("adsim-resolv-{}-{nameserver}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let resolv = dir.join("resolv.conf");
    std::fs::write(
        &resolv,
        format!("nameserver {nameserver}\noptions timeout:2 attempts:1\n"),
    )
    .unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-m",
        "sh",
        "-c",
        "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"",
    ])
    .arg(&resolv)
    .args(args)
    .envs(envs.iter().copied())
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("unshare runs");
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

const ALIAS: &str = "127.0.0.21";

#[test]
fn adcli_and_kinit_find_the_dc_through_dns_srv_records_and_the_ldap_ping() {
    if !is_root() {
        eprintln!("skipped: DNS on port 53 and a private resolv.conf need root");
        return;
    }
    let lab = Adsim::start_on_standard_ports(ALIAS, &[]);
    assert_eq!(lab.s("dns"), format!("{ALIAS}:53"));

    // adcli info: DNS SRV look-up, the DC's A record, then the CLDAP ping to UDP 389.
    let out = with_resolver(ALIAS, &[], &["adcli", "info", "corp.example.test"], None);
    let info = text(&out);
    assert!(out.status.success(), "{info}");
    for line in [
        "domain-name = corp.example.test",
        "domain-short = CORP",
        "domain-forest = corp.example.test",
        "domain-controller = dc1.corp.example.test",
        "domain-controller-site = Default-First-Site-Name",
        "domain-controller-usable = yes",
        "domain-controllers = dc1.corp.example.test",
    ] {
        assert!(info.contains(line), "{line}: {info}");
    }
    // The DC's flags as adcli names them.
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("domain-controller-flags = "))
        .unwrap_or_else(|| panic!("{info}"));
    for f in [
        "pdc",
        "gc",
        "ldap",
        "ds",
        "kdc",
        "closest",
        "writable",
        "full-secret",
    ] {
        assert!(flags.split_whitespace().any(|x| x == f), "{f}: {flags}");
    }

    // Without DNS: the ping straight to the DC.
    let direct = Command::new("adcli")
        .args(["info", "--domain-controller", ALIAS, "corp.example.test"])
        .output()
        .unwrap();
    let direct_text = text(&direct);
    assert!(direct.status.success(), "{direct_text}");
    assert!(direct_text.contains("domain-short = CORP"), "{direct_text}");
    // Pinging a DC by address, adcli names no domain (only NtVer): the DC answers with its own.
    let other = Command::new("adcli")
        .args(["info", "--domain-controller", ALIAS, "other.example.test"])
        .output()
        .unwrap();
    assert!(
        text(&other).contains("domain-name = corp.example.test"),
        "{}",
        text(&other)
    );

    // MIT kinit with no [realms] entry: the KDC comes from _kerberos._udp.CORP.EXAMPLE.TEST.
    let dir = std::env::temp_dir().join(format!("adsim-dns-kinit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("krb5.conf");
    std::fs::write(
        &conf,
        "[libdefaults]\n default_realm = CORP.EXAMPLE.TEST\n dns_lookup_kdc = true\n \
         dns_lookup_realm = false\n rdns = false\n",
    )
    .unwrap();
    let ccache = format!("FILE:{}", dir.join("cc").display());
    let conf_s = conf.display().to_string();
    let envs = [("KRB5_CONFIG", conf_s.as_str()), ("KRB5CCNAME", ccache.as_str())];
    let kinit = with_resolver(
        ALIAS,
        &envs,
        &["kinit", "Administrator@CORP.EXAMPLE.TEST"],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    assert!(kinit.status.success(), "{}", text(&kinit));
    let klist = Command::new("klist").envs(envs).output().unwrap();
    assert!(
        text(&klist).contains("krbtgt/CORP.EXAMPLE.TEST@CORP.EXAMPLE.TEST"),
        "{}",
        text(&klist)
    );
    // The same kinit without adsim's DNS finds no KDC: the SRV records did the work.
    let blind = with_resolver(
        "127.0.0.22",
        &envs,
        &["kinit", "Administrator@CORP.EXAMPLE.TEST"],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    assert!(!blind.status.success(), "{}", text(&blind));
    let _ = std::fs::remove_dir_all(&dir);
}

const JOIN_ALIAS: &str = "127.0.0.25";

/// `adcli join` as realmd runs it, finding the DC through DNS and the LDAP ping: once with
/// the Administrator's password (GSS-SPNEGO bind, computer created, SPNs and dNSHostName
/// written, password set over kpasswd), once with a one-time password after `adcli
/// preset-computer` (the host changes its own password over kpasswd). Each host then logs on
/// with the keytab adcli wrote (`kinit -k`) and, bound with GSSAPI (sealed), reads the
/// password of a gMSA whose PrincipalsAllowedToRetrieveManagedPassword is Domain Computers.
#[test]
fn adcli_joins_with_a_password_and_a_one_time_password_and_the_host_reads_a_gmsa() {
    if !is_root() {
        eprintln!("skipped: ports 53/88/389/464 on an alias and a private resolv.conf need root");
        return;
    }
    let lab = Adsim::start_on_standard_ports(JOIN_ALIAS, &[]);
    let base = lab.base();
    let domain_sid: adsim_simulator::security::Sid = lab.ready["domains"][0]["domain_sid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let gmsa_ldif = format!(
        "dn: CN=svc-hosts,CN=Managed Service Accounts,{base}\nobjectClass: msDS-GroupManagedServiceAccount\n\
         sAMAccountName: svc-hosts$\ndNSHostName: svc-hosts.corp.example.test\n\
         msDS-ManagedPasswordInterval: 30\nmsDS-GroupMSAMembership:: {}\n",
        gmsa_membership_b64(&domain_sid.with_rid(515))
    );
    let o = lab.as_admin("ldapadd", &lab.ldaps(), &[], Some(&gmsa_ldif));
    assert!(o.status.success(), "{}", text(&o));

    let dir = std::env::temp_dir().join(format!("adsim-join-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("krb5.conf");
    std::fs::write(
        &conf,
        "[libdefaults]\n default_realm = CORP.EXAMPLE.TEST\n dns_lookup_kdc = true\n \
         dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n",
    )
    .unwrap();
    let conf_s = conf.display().to_string();
    let domain = "corp.example.test";

    // Administrator joins HOST1.
    let keytab1 = dir.join("host1.keytab").display().to_string();
    let cc = format!("FILE:{}", dir.join("admin.cc").display());
    let envs = [("KRB5_CONFIG", conf_s.as_str()), ("KRB5CCNAME", cc.as_str())];
    let join = with_resolver(
        JOIN_ALIAS,
        &envs,
        &[
            "adcli",
            "join",
            "--domain",
            domain,
            "-U",
            "Administrator",
            "--stdin-password",
            "--host-fqdn",
            "host1.corp.example.test",
            "--computer-name",
            "HOST1",
            "--host-keytab",
            &keytab1,
            "-v",
        ],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    let log = text(&join);
    assert!(join.status.success(), "{log}");
    for line in [
        "Using GSS-SPNEGO for SASL bind",
        "Created computer account: CN=HOST1,CN=Computers,",
        "Set computer password",
        "Added host/host1.corp.example.test",
    ] {
        assert!(log.contains(line), "{line}: {log}");
    }
    let host1 = lab.as_admin(
        "ldapsearch",
        &lab.ldaps(),
        &[
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-b",
            &format!("CN=HOST1,CN=Computers,{base}"),
            "-s",
            "base",
            "dNSHostName",
            "servicePrincipalName",
            "userAccountControl",
        ],
        None,
    );
    let host1 = text(&host1);
    for line in [
        "dNSHostName: host1.corp.example.test",
        "servicePrincipalName: host/host1.corp.example.test",
        "servicePrincipalName: RestrictedKrbHost/HOST1",
        // WORKSTATION_TRUST_ACCOUNT | DONT_EXPIRE_PASSWORD, as adcli writes it.
        "userAccountControl: 69632",
    ] {
        assert!(host1.contains(line), "{line}: {host1}");
    }

    // A one-time password: the Administrator presets HOST2, the host joins with the OTP alone.
    let preset = with_resolver(
        JOIN_ALIAS,
        &envs,
        &[
            "adcli",
            "preset-computer",
            "--domain",
            domain,
            "-U",
            "Administrator",
            "--stdin-password",
            "--one-time-password=Host2-OTP-Passw0rd",
            "HOST2",
        ],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    assert!(preset.status.success(), "{}", text(&preset));
    let keytab2 = dir.join("host2.keytab").display().to_string();
    let cc2 = format!("FILE:{}", dir.join("host2-join.cc").display());
    let join2 = with_resolver(
        JOIN_ALIAS,
        &[("KRB5_CONFIG", conf_s.as_str()), ("KRB5CCNAME", cc2.as_str())],
        &[
            "adcli",
            "join",
            "--domain",
            domain,
            "--one-time-password=Host2-OTP-Passw0rd",
            "--host-fqdn",
            "host2.corp.example.test",
            "--computer-name",
            "HOST2",
            "--host-keytab",
            &keytab2,
            "-v",
        ],
        None,
    );
    assert!(join2.status.success(), "{}", text(&join2));

    // Each host: kinit with its keytab, then a sealed GSSAPI bind that reads the gMSA.
    for (host, keytab) in [("HOST1", &keytab1), ("HOST2", &keytab2)] {
        let cc = format!("FILE:{}", dir.join(format!("{host}.cc")).display());
        let envs = [("KRB5_CONFIG", conf_s.as_str()), ("KRB5CCNAME", cc.as_str())];
        let principal = format!("{host}$@CORP.EXAMPLE.TEST");
        let kinit = with_resolver(
            JOIN_ALIAS,
            &envs,
            &["kinit", "-k", "-t", keytab, &principal],
            None,
        );
        assert!(kinit.status.success(), "{host}: {}", text(&kinit));
        let read = with_resolver(
            JOIN_ALIAS,
            &envs,
            &[
                "ldapsearch",
                "-Y",
                "GSSAPI",
                "-N",
                "-H",
                "ldap://dc1.corp.example.test",
                "-LLL",
                "-b",
                &format!("CN=svc-hosts,CN=Managed Service Accounts,{base}"),
                "-s",
                "base",
                "msDS-ManagedPassword",
            ],
            None,
        );
        let out = text(&read);
        assert!(read.status.success(), "{host}: {out}");
        assert!(
            out.contains("SASL data security layer installed"),
            "{host}: {out}"
        );
        assert!(out.contains("msDS-ManagedPassword::"), "{host}: {out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
