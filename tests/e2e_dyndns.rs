//! Secure dynamic DNS update (issue 15) with BIND's `nsupdate -g` (GSS-TSIG, RFC 3645) from
//! computers logged on with their keytabs (`kinit -k`), as a Windows DC's "Secure only"
//! AD-integrated zone takes it: a computer registers and replaces its own A record, which `dig`
//! then answers; an unsigned update is REFUSED; another computer's update of that name is
//! REFUSED (the dnsNode's creator owns it). The names land as dnsNode objects (MS-DNSP 2.3.2).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{text, unicode_pwd_b64, Adsim, Scratch};

const REALM: &str = "CORP.EXAMPLE.TEST";

/// `nsupdate` (with `-g` when `gss`) reading `script`, under `conf` and `ccache`.
fn nsupdate(conf: &Path, ccache: &Path, gss: bool, script: &str) -> Output {
    let mut cmd = Command::new("nsupdate");
    if gss {
        cmd.arg("-g");
    }
    let mut child = cmd
        .args(["-t", "10"])
        .env("KRB5_CONFIG", conf)
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nsupdate runs: apt-get install dnsutils");
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn dig_a(server: &str, name: &str) -> Vec<String> {
    let (host, port) = server.rsplit_once(':').unwrap();
    let out = Command::new("dig")
        .args([
            &format!("@{host}"),
            "-p",
            port,
            "+time=3",
            "+tries=1",
            "+short",
            "A",
            name,
        ])
        .output()
        .expect("dig runs");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Computers HOST1 and HOST2 (as a join leaves them: dNSHostName, a password), their keytabs
/// exported, each logged on with `kinit -k`; returns the krb5.conf and each ccache.
fn joined_hosts(lab: &Adsim, dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let base = lab.base();
    let mut ldif = String::new();
    for h in ["HOST1", "HOST2"] {
        let lower = h.to_lowercase();
        ldif.push_str(&format!(
            "dn: CN={h},CN=Computers,{base}\nobjectClass: computer\nsAMAccountName: {h}$\n\
             dNSHostName: {lower}.corp.example.test\nuserAccountControl: 4096\n\
             servicePrincipalName: host/{lower}.corp.example.test\nunicodePwd:: {}\n\n",
            unicode_pwd_b64(&format!("{h}-Machine-Passw0rd!"))
        ));
    }
    let o = lab.as_admin("ldapadd", &lab.ldaps(), &[], Some(&ldif));
    assert!(o.status.success(), "ldapadd: {}", text(&o));
    let conf = dir.join("krb5.conf");
    lab.cli_ok(&[
        "export",
        "krb5-conf",
        "--out",
        conf.to_str().unwrap(),
        "--set",
        "udp_preference_limit=1",
    ]);
    let mut caches = Vec::new();
    for h in ["HOST1", "HOST2"] {
        let keytab = dir.join(format!("{h}.keytab"));
        lab.cli_ok(&[
            "export",
            "keytab",
            "--principal",
            &format!("{h}$"),
            "--out",
            keytab.to_str().unwrap(),
        ]);
        let cc = dir.join(format!("{h}.cc"));
        let kinit = Command::new("kinit")
            .args(["-k", "-t", keytab.to_str().unwrap(), &format!("{h}$@{REALM}")])
            .env("KRB5_CONFIG", &conf)
            .env("KRB5CCNAME", format!("FILE:{}", cc.display()))
            .output()
            .unwrap();
        assert!(kinit.status.success(), "kinit -k {h}: {}", text(&kinit));
        caches.push(cc);
    }
    (conf, caches)
}

#[test]
fn nsupdate_gss_tsig_registers_a_computers_name_and_only_its_owner_may_change_it() {
    let lab = Adsim::start(&[]);
    let dns = lab.s("dns");
    let (host, port) = dns.rsplit_once(':').unwrap();
    let dir = std::env::temp_dir().join(format!("adsim-e2e-dyndns-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _scratch = Scratch(dir.clone());
    let (conf, cc) = joined_hosts(&lab, &dir);
    let server = format!("server {host} {port}\n");

    // Before any update the name does not exist (a joined computer has no A record).
    assert!(dig_a(&dns, "host1.corp.example.test").is_empty());

    // Unsigned: a secure-only zone refuses it.
    let plain = nsupdate(
        &conf,
        &cc[0],
        false,
        &format!(
            "{server}zone corp.example.test\nupdate add host1.corp.example.test 600 A 127.0.0.26\nsend\n"
        ),
    );
    assert!(text(&plain).contains("REFUSED"), "{}", text(&plain));
    assert!(dig_a(&dns, "host1.corp.example.test").is_empty());

    // HOST1 with GSS-TSIG: TKEY negotiation with its ticket for DNS/dc1, then a signed update.
    let add = nsupdate(
        &conf,
        &cc[0],
        true,
        &format!("{server}update add host1.corp.example.test 600 A 127.0.0.26\nsend\n"),
    );
    assert!(add.status.success(), "{}", text(&add));
    assert_eq!(dig_a(&dns, "host1.corp.example.test"), vec!["127.0.0.26"]);
    // Names compare case-insensitively.
    assert_eq!(dig_a(&dns, "HOST1.Corp.Example.Test"), vec!["127.0.0.26"]);

    // HOST2 may not touch HOST1's name: the node's security descriptor gives its creator
    // full control and everyone else read.
    let steal = nsupdate(
        &conf,
        &cc[1],
        true,
        &format!(
            "{server}update delete host1.corp.example.test A\n\
             update add host1.corp.example.test 600 A 127.0.0.99\nsend\n"
        ),
    );
    assert!(!steal.status.success(), "{}", text(&steal));
    assert!(text(&steal).contains("REFUSED"), "{}", text(&steal));
    assert_eq!(dig_a(&dns, "host1.corp.example.test"), vec!["127.0.0.26"]);
    // Its own name is fine.
    let own = nsupdate(
        &conf,
        &cc[1],
        true,
        &format!("{server}update add host2.corp.example.test 600 A 127.0.0.28\nsend\n"),
    );
    assert!(own.status.success(), "{}", text(&own));
    assert_eq!(dig_a(&dns, "host2.corp.example.test"), vec!["127.0.0.28"]);

    // HOST1 replaces its address, as a DHCP client's update does (delete the RRset, add).
    let replace = nsupdate(
        &conf,
        &cc[0],
        true,
        &format!(
            "{server}update delete host1.corp.example.test A\n\
             update add host1.corp.example.test 600 A 127.0.0.27\nsend\n"
        ),
    );
    assert!(replace.status.success(), "{}", text(&replace));
    assert_eq!(dig_a(&dns, "host1.corp.example.test"), vec!["127.0.0.27"]);

    // The DC's own names are not updatable.
    let dc = nsupdate(
        &conf,
        &cc[0],
        true,
        &format!("{server}update add dc1.corp.example.test 600 A 127.0.0.99\nsend\n"),
    );
    assert!(text(&dc).contains("REFUSED"), "{}", text(&dc));

    // Stored as an AD-integrated zone stores it: a dnsNode under the zone object.
    let base = lab.base();
    let node = lab.as_admin(
        "ldapsearch",
        &lab.ldaps(),
        &[
            "-LLL",
            "-b",
            &format!("DC=host1,DC=corp.example.test,CN=MicrosoftDNS,CN=System,{base}"),
            "-s",
            "base",
            "objectClass",
            "dnsRecord",
            "dNSTombstoned",
        ],
        None,
    );
    let node = text(&node);
    assert!(node.contains("objectClass: dnsNode"), "{node}");
    assert!(node.contains("dnsRecord:: "), "{node}");
    assert!(node.contains("dNSTombstoned: FALSE"), "{node}");

    // HOST1 deletes its name: the node is tombstoned (kept, still HOST1's), the name is gone.
    let delete = nsupdate(
        &conf,
        &cc[0],
        true,
        &format!("{server}update delete host1.corp.example.test\nsend\n"),
    );
    assert!(delete.status.success(), "{}", text(&delete));
    assert!(dig_a(&dns, "host1.corp.example.test").is_empty());
    let steal_after = nsupdate(
        &conf,
        &cc[1],
        true,
        &format!("{server}update add host1.corp.example.test 600 A 127.0.0.99\nsend\n"),
    );
    assert!(text(&steal_after).contains("REFUSED"), "{}", text(&steal_after));
}

const MSKTUTIL_ALIAS: &str = "127.0.0.26";

/// msktutil creates a computer as an administrator (GSS-SPNEGO bind, the Computers container
/// found through `<WKGUID=…>`, SPNs, a keytab), the host logs on with that keytab and registers
/// its name with `nsupdate -g`, which finds the zone, the primary (the SOA's MNAME) and the
/// DNS/<dc> service through adsim's DNS alone (resolv.conf in a private mount namespace).
#[test]
fn msktutil_creates_a_computer_whose_keytab_logs_on_and_registers_its_name() {
    use crate::e2e_dns::{is_root, with_resolver};
    if !is_root() {
        eprintln!("skipped: ports 53/88/389/464 on an alias and a private resolv.conf need root");
        return;
    }
    let _lab = Adsim::start_on_standard_ports(MSKTUTIL_ALIAS, &[]);
    let dir = std::env::temp_dir().join(format!("adsim-e2e-msktutil-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _scratch = Scratch(dir.clone());
    let conf = dir.join("krb5.conf");
    std::fs::write(
        &conf,
        "[libdefaults]\n default_realm = CORP.EXAMPLE.TEST\n dns_lookup_kdc = true\n \
         dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n",
    )
    .unwrap();
    let conf_s = conf.display().to_string();
    let admin_cc = format!("FILE:{}", dir.join("admin.cc").display());
    let envs = [
        ("KRB5_CONFIG", conf_s.as_str()),
        ("KRB5CCNAME", admin_cc.as_str()),
    ];
    let kinit = with_resolver(
        MSKTUTIL_ALIAS,
        &envs,
        &["kinit", "Administrator@CORP.EXAMPLE.TEST"],
        Some(&format!("{}\n", crate::common::ADMIN_PASSWORD)),
    );
    assert!(kinit.status.success(), "{}", text(&kinit));
    let keytab = dir.join("host3.keytab").display().to_string();
    let create = with_resolver(
        MSKTUTIL_ALIAS,
        &envs,
        &[
            "msktutil",
            "--create",
            "--computer-name",
            "HOST3",
            "--hostname",
            "host3.corp.example.test",
            "--server",
            "dc1.corp.example.test",
            "--realm",
            REALM,
            "--keytab",
            &keytab,
            "--no-reverse-lookups",
            "--verbose",
        ],
        None,
    );
    let log = text(&create);
    assert!(create.status.success(), "{log}");
    assert!(log.contains("creating a new one"), "{log}");

    let host_cc = format!("FILE:{}", dir.join("host3.cc").display());
    let envs = [("KRB5_CONFIG", conf_s.as_str()), ("KRB5CCNAME", host_cc.as_str())];
    let kinit = with_resolver(
        MSKTUTIL_ALIAS,
        &envs,
        &["kinit", "-k", "-t", &keytab, "HOST3$@CORP.EXAMPLE.TEST"],
        None,
    );
    assert!(kinit.status.success(), "{}", text(&kinit));
    let update = with_resolver(
        MSKTUTIL_ALIAS,
        &envs,
        &["nsupdate", "-g"],
        Some("update add host3.corp.example.test 600 A 127.0.0.26\nsend\n"),
    );
    assert!(update.status.success(), "{}", text(&update));
    assert_eq!(
        dig_a(&format!("{MSKTUTIL_ALIAS}:53"), "host3.corp.example.test"),
        vec![MSKTUTIL_ALIAS]
    );
}
