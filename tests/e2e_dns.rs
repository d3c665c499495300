//! Finding the domain as Linux hosts do (issue 15): BIND's `dig` for every record a DC
//! registers (MS-ADTS 6.3.2), `adcli info` through DNS and the CLDAP ping (MS-ADTS 6.3.3), and
//! MIT `kinit` with `dns_lookup_kdc = true` and no `[realms]` entry. Resolvers that read
//! /etc/resolv.conf run in a private mount namespace (`unshare -m`) with a resolv.conf naming
//! adsim's DNS on an alias address: the machine's resolver is never touched.

use std::process::{Command, Output};

use crate::common::{text, Adsim, ADMIN_PASSWORD};

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

/// An objectGUID read with ldapsearch (base64 in LDIF), in its string form.
fn guid_of(lab: &Adsim, dn: &str) -> String {
    let out = lab.as_admin(
        "ldapsearch",
        &lab.ldap(),
        &["-o", "ldif-wrap=no", "-b", dn, "-s", "base", "objectGUID"],
        None,
    );
    let ldif = text(&out);
    let b64 = ldif
        .lines()
        .find_map(|l| l.strip_prefix("objectGUID:: "))
        .unwrap_or_else(|| panic!("objectGUID of {dn}: {ldif}"));
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
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

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

/// `args` run in a private mount namespace whose /etc/resolv.conf names only `nameserver`
/// (`unshare -m` and a bind mount; root only).
fn with_resolver(nameserver: &str, envs: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
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
