//! A joined Linux host as it lives with AD (issue 15): `realm discover` (realmd over the system
//! D-Bus) finds the domain through DNS and the LDAP ping, and sssd's AD provider, with the
//! keytab `adcli join` wrote, resolves users and groups: a sealed GSS-SPNEGO bind as the host,
//! the rootDSE, the CLDAP ping, user and group searches, tokenGroups (MS-ADTS 3.1.1.4.5.19),
//! the Global Catalog on 3268, SIDs mapped to IDs.
//!
//! Each client runs as the first process of a private mount and PID namespace (`unshare
//! --mount --pid --fork`): its /etc files, /var/lib/sss, /var/log/sssd and /run are bind mounts
//! of a scratch directory seen by nothing else, and every process it starts (sssd and its
//! children, dbus-daemon, realmd, polkitd) ends with it. The machine's own files never change.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{text, unicode_pwd_b64, Adsim, Scratch, ADMIN_PASSWORD};
use crate::e2e_dns::{is_root, with_resolver};

const DOMAIN: &str = "corp.example.test";
const SSSD_ALIAS: &str = "127.0.0.27";
const REALM_ALIAS: &str = "127.0.0.28";

/// sssd's AD provider, when apt could not install it beside Samba 4.22: scripts/sssd-ad.sh
/// unpacks it there with the Samba 4.17 libraries it links.
const SSSD_AD_CACHE: &str = "/var/cache/adsim/sssd-ad";
const LIBDIR: &str = "usr/lib/x86_64-linux-gnu";

/// `script` as the init of a private mount and PID namespace, killed after `seconds`. The
/// script's mounts are private to it, and when it exits the kernel ends every process left in
/// the namespace.
fn in_private_namespace(script: &str, seconds: u32) -> Output {
    Command::new("timeout")
        .args([
            &seconds.to_string(),
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--mount-proc",
            "sh",
            "-c",
            script,
        ])
        .output()
        .expect("unshare (util-linux) runs")
}

/// The sections a script printed as `== <label>`, its lines, then `rc=<status>`.
fn sections(stdout: &str) -> Vec<(String, String, i32)> {
    let mut out = Vec::new();
    for part in stdout.split("== ").skip(1) {
        let (label, rest) = part.split_once('\n').unwrap_or((part, ""));
        let (body, rc) = rest.rsplit_once("rc=").unwrap_or((rest, "-1"));
        out.push((
            label.trim().to_string(),
            body.trim().to_string(),
            rc.trim().parse().unwrap_or(-1),
        ));
    }
    out
}

fn section<'a>(all: &'a [(String, String, i32)], label: &str) -> (&'a str, i32) {
    all.iter()
        .find(|(l, _, _)| l == label)
        .map(|(_, b, rc)| (b.as_str(), *rc))
        .unwrap_or_else(|| panic!("no section {label}: {all:?}"))
}

/// The RID of `dn`'s objectSid, read over LDAPS.
fn rid_of(lab: &Adsim, dn: &str) -> u32 {
    adsim_simulator::security::Sid::from_bytes(&lab.binary_attribute(dn, "objectSid"))
        .unwrap()
        .rid()
        .unwrap()
}

/// realmd's `realm discover`, as on a host about to join: the client asks realmd over the
/// system bus (D-Bus activation starts realmd, which asks polkitd whether discovery is
/// allowed), and realmd finds the domain through `_ldap._tcp` SRV records, a rootDSE read and
/// the CLDAP ping (MS-ADTS 6.3.3), answering as it does for a Windows DC.
#[test]
fn join_realm_discover_finds_the_domain_as_active_directory() {
    if !is_root() {
        eprintln!("skipped: DNS on port 53 and a private /run/dbus need root");
        return;
    }
    for tool in ["realm", "dbus-daemon"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success()),
            "{tool} is missing: apt-get install realmd dbus (scripts/test.sh)"
        );
    }
    let lab = Adsim::start_on_standard_ports(REALM_ALIAS, &[]);
    let s = Scratch::new("join-realm");
    let resolv = s.write(
        "resolv.conf",
        &format!("nameserver {REALM_ALIAS}\noptions timeout:2 attempts:1\n"),
    );
    let script = format!(
        "set -e\n\
         mount -t tmpfs tmpfs /run\n\
         mkdir -p /run/dbus\n\
         mount --bind {resolv} /etc/resolv.conf\n\
         set +e\n\
         dbus-daemon --system --nofork --nopidfile 2>/dev/null &\n\
         i=0; while [ ! -S /run/dbus/system_bus_socket ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n\
         echo '== discover'; timeout 60 realm discover -v {DOMAIN} 2>&1; echo \"rc=$?\"\n\
         echo '== nosuch'; timeout 60 realm discover nosuch.example.test 2>&1; echo \"rc=$?\"\n"
    );
    let out = in_private_namespace(&script, 150);
    let all = sections(&String::from_utf8_lossy(&out.stdout));
    let (discover, rc) = section(&all, "discover");
    assert_eq!(rc, 0, "{}", text(&out));
    for line in [
        "* Resolving: _ldap._tcp.corp.example.test",
        "* Successfully discovered: corp.example.test",
        "type: kerberos",
        "realm-name: CORP.EXAMPLE.TEST",
        "domain-name: corp.example.test",
        "configured: no",
        "server-software: active-directory",
        "client-software: sssd",
    ] {
        assert!(discover.contains(line), "{line}: {discover}");
    }
    // A name outside adsim's zones: REFUSED, so no realm.
    let (nosuch, rc) = section(&all, "nosuch");
    assert_ne!(rc, 0, "{nosuch}");
    assert!(nosuch.contains("No such realm found"), "{nosuch}");
    drop(lab);
}

/// Where sssd's AD provider is: the machine's (sssd-ad from apt), or scripts/sssd-ad.sh's
/// unpacked copy with the Samba 4.17 libraries for LD_LIBRARY_PATH.
fn sssd_ad_provider() -> (PathBuf, Option<String>) {
    let system = Path::new("/").join(LIBDIR).join("sssd/libsss_ad.so");
    if system.exists() {
        return (system, None);
    }
    let cache = Path::new(SSSD_AD_CACHE);
    let unpacked = cache.join(LIBDIR).join("sssd/libsss_ad.so");
    assert!(
        unpacked.exists(),
        "sssd's AD provider is missing: run scripts/sssd-ad.sh (scripts/test.sh does)"
    );
    let libs = cache.join(LIBDIR);
    (
        unpacked,
        Some(format!("{}:{}", libs.display(), libs.join("samba").display())),
    )
}

/// The sssd configuration of the joined host: the AD provider with the host's keytab, SIDs
/// mapped to IDs, no GPO access control and no machine password renewal (the test ends first).
fn sssd_conf(server: &str, keytab: &str) -> String {
    format!(
        "[sssd]\nservices = nss\ndomains = {DOMAIN}\n\n[nss]\n\n[domain/{DOMAIN}]\n\
         debug_level = 8\nid_provider = ad\naccess_provider = permit\nad_domain = {DOMAIN}\n\
         ad_server = {server}\nad_hostname = host1.{DOMAIN}\nkrb5_realm = CORP.EXAMPLE.TEST\n\
         krb5_keytab = {keytab}\nldap_id_mapping = true\n\
         ad_maximum_machine_account_password_age = 0\nad_gpo_access_control = disabled\n\
         dyndns_update = false\ncache_credentials = false\nuse_fully_qualified_names = true\n"
    )
}

/// sssd in a private namespace with `conf`: started in the foreground (`sssd -i`), asked
/// through NSS (getent, id) once its nss responder listens, then ended with the namespace.
/// Returns the sections and the domain's log.
fn run_sssd(
    s: &Scratch,
    tag: &str,
    conf: &str,
    queries: &[(&str, &str)],
) -> (Vec<(String, String, i32)>, String) {
    let (provider, ld_path) = sssd_ad_provider();
    let root = tag.to_string();
    for d in [
        "etc/conf.d",
        "lib/db",
        "lib/pipes/private",
        "lib/mc",
        "lib/pubconf/krb5.include.d",
        "lib/gpo_cache",
        "lib/secrets",
        "lib/deskprofile",
        "log",
        "plugins",
    ] {
        std::fs::create_dir_all(s.0.join(&root).join(d)).unwrap();
    }
    let conf_path = s.write(&format!("{root}/etc/sssd.conf"), conf);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&conf_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dir = s.path(&root);
    // The provider goes into sssd's plugin directory only inside the namespace: a copy of the
    // installed directory plus libsss_ad.so, bind-mounted over it.
    let plugins = if ld_path.is_some() {
        let copy = Command::new("cp")
            .args(["-a", &format!("/{LIBDIR}/sssd/."), &format!("{dir}/plugins/")])
            .status()
            .unwrap();
        assert!(copy.success());
        std::fs::copy(&provider, format!("{dir}/plugins/libsss_ad.so")).unwrap();
        format!("mount --bind {dir}/plugins /{LIBDIR}/sssd\n")
    } else {
        String::new()
    };
    let env = ld_path
        .map(|p| format!("LD_LIBRARY_PATH={p} "))
        .unwrap_or_default();
    let mut asks = String::new();
    for (label, command) in queries {
        asks.push_str(&format!(
            "echo '== {label}'; timeout 60 {command} 2>&1; echo \"rc=$?\"\n"
        ));
    }
    let script = format!(
        "set -e\n\
         mount --bind {dir}/etc /etc/sssd\n\
         mount --bind {dir}/lib /var/lib/sss\n\
         mount --bind {dir}/log /var/log/sssd\n\
         mount --bind {base}/krb5.conf /etc/krb5.conf\n\
         mount --bind {base}/nsswitch.conf /etc/nsswitch.conf\n\
         mount --bind {base}/hosts /etc/hosts\n\
         mount --bind {base}/resolv.conf /etc/resolv.conf\n\
         mount -t tmpfs tmpfs /run\n\
         {plugins}\
         set +e\n\
         {env}sssd -i --logger=files 2>{dir}/sssd.stderr &\n\
         i=0; while [ ! -S /var/lib/sss/pipes/nss ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n\
         {asks}",
        base = s.0.display(),
    );
    let out = in_private_namespace(&script, 240);
    let log = std::fs::read_to_string(format!("{dir}/log/sssd_{DOMAIN}.log")).unwrap_or_default();
    let all = sections(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        all.len(),
        queries.len(),
        "{}\n{}",
        text(&out),
        std::fs::read_to_string(format!("{dir}/sssd.stderr")).unwrap_or_default()
    );
    (all, log)
}

/// `getent passwd` as fields.
fn passwd_fields(line: &str) -> Vec<&str> {
    line.lines().next().unwrap_or_default().split(':').collect()
}

/// The host joins with adcli (keytab written), then sssd's AD provider resolves alice, her
/// groups (Domain Users as primary group, Engineers through tokenGroups) and Engineers'
/// members as the directory holds them, with IDs mapped from the SIDs (the RID is the ID's
/// offset in the domain's slice); a user the directory lacks is not found. Once with the DC
/// named, once found through DNS SRV records and the CLDAP ping (`ad_server = _srv_`).
#[test]
fn join_sssd_resolves_users_and_groups_of_a_joined_host() {
    if !is_root() {
        eprintln!("skipped: ports 53/88/389/3268 on an alias and private mounts need root");
        return;
    }
    assert!(
        Path::new("/usr/sbin/sssd").exists(),
        "sssd is missing: apt-get install sssd-common sssd-ldap libnss-sss sssd-tools (scripts/test.sh)"
    );
    let lab = Adsim::start_on_standard_ports(SSSD_ALIAS, &[]);
    let base = lab.base();
    let ldif = format!(
        "dn: CN=Alice,CN=Users,{base}\nobjectClass: user\nsAMAccountName: alice\n\
         userPrincipalName: alice@{DOMAIN}\nuserAccountControl: 512\nunicodePwd:: {}\n\n\
         dn: CN=Engineers,CN=Users,{base}\nobjectClass: group\nsAMAccountName: engineers\n\
         member: CN=Alice,CN=Users,{base}\n\n\
         dn: CN=Auditors,CN=Users,{base}\nobjectClass: group\nsAMAccountName: auditors\n",
        unicode_pwd_b64("Alice-Passw0rd!")
    );
    let o = lab.as_admin("ldapadd", &lab.ldaps(), &[], Some(&ldif));
    assert!(o.status.success(), "{}", text(&o));
    let alice_rid = rid_of(&lab, &format!("CN=Alice,CN=Users,{base}"));
    let engineers_rid = rid_of(&lab, &format!("CN=Engineers,CN=Users,{base}"));

    let s = Scratch::new("join-sssd");
    let conf = s.write(
        "krb5.conf",
        "[libdefaults]\n default_realm = CORP.EXAMPLE.TEST\n dns_lookup_kdc = true\n \
         dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n",
    );
    s.write(
        "nsswitch.conf",
        "passwd: files sss\ngroup: files sss\nshadow: files\nhosts: files dns\n",
    );
    s.write("hosts", "127.0.0.1 localhost\n");
    s.write(
        "resolv.conf",
        &format!("nameserver {SSSD_ALIAS}\noptions timeout:2 attempts:1\n"),
    );

    // The join: the Administrator creates HOST1; adcli writes its keytab.
    let keytab = s.path("krb5.keytab");
    let cc = format!("FILE:{}", s.path("admin.cc"));
    let join = with_resolver(
        SSSD_ALIAS,
        &[("KRB5_CONFIG", conf.as_str()), ("KRB5CCNAME", cc.as_str())],
        &[
            "adcli",
            "join",
            "--domain",
            DOMAIN,
            "-U",
            "Administrator",
            "--stdin-password",
            "--host-fqdn",
            &format!("host1.{DOMAIN}"),
            "--computer-name",
            "HOST1",
            "--host-keytab",
            &keytab,
        ],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    assert!(join.status.success(), "{}", text(&join));

    let alice = format!("alice@{DOMAIN}");
    let queries = [
        ("passwd", format!("getent passwd {alice}")),
        ("id", format!("id {alice}")),
        ("group", format!("getent group engineers@{DOMAIN}")),
        ("auditors", format!("getent group auditors@{DOMAIN}")),
        ("missing", format!("getent passwd nosuch@{DOMAIN}")),
    ];
    let queries: Vec<(&str, &str)> = queries.iter().map(|(l, c)| (*l, c.as_str())).collect();
    for (tag, server) in [("named", format!("dc1.{DOMAIN}")), ("srv", "_srv_".to_string())] {
        let (all, log) = run_sssd(&s, tag, &sssd_conf(&server, &keytab), &queries);
        let (passwd, rc) = section(&all, "passwd");
        assert_eq!(rc, 0, "{tag}: {passwd}\n{log}");
        let f = passwd_fields(passwd);
        assert_eq!(f[0], alice, "{tag}: {passwd}");
        let uid: u32 = f[2].parse().unwrap();
        let gid: u32 = f[3].parse().unwrap();
        // sssd's ID mapping: a slice of 200,000 IDs per domain SID, the RID the offset in it.
        assert_eq!(uid % 200_000, alice_rid, "{tag}: {passwd}");
        assert_eq!((gid % 200_000, gid - gid % 200_000), (513, uid - uid % 200_000));
        assert_eq!(f[4], "Alice", "{tag}: the cn: {passwd}");

        let (id, rc) = section(&all, "id");
        assert_eq!(rc, 0, "{tag}: {id}");
        let engineers_gid = uid - uid % 200_000 + engineers_rid;
        for part in [
            format!("uid={uid}({alice})"),
            format!("gid={gid}(domain users@{DOMAIN})"),
            format!("{engineers_gid}(engineers@{DOMAIN})"),
        ] {
            assert!(id.contains(&part), "{tag}: {part}: {id}");
        }
        assert!(!id.contains("auditors"), "{tag}: {id}");
        let (group, rc) = section(&all, "group");
        assert_eq!(rc, 0, "{tag}: {group}");
        assert_eq!(group, format!("engineers@{DOMAIN}:*:{engineers_gid}:{alice}"));
        let (auditors, rc) = section(&all, "auditors");
        assert_eq!(rc, 0, "{tag}: {auditors}");
        assert!(auditors.ends_with(':'), "no members: {auditors}");
        let (missing, rc) = section(&all, "missing");
        assert_eq!((rc, missing), (2, ""), "{tag}: not found");

        // What sssd did on the wire: a sealed bind as the host, tokenGroups, the GC.
        for seen in [
            "Executing sasl bind mech: GSS-SPNEGO, user: HOST1$",
            "Requesting attrs: [tokenGroups]",
            "Searching 127.0.0.27:3268",
        ] {
            assert!(log.contains(seen), "{tag}: {seen} not in sssd's log");
        }
        if tag == "srv" {
            assert!(
                log.contains("Trying to resolve SRV record of '_ldap._tcp.corp.example.test'"),
                "no SRV look-up"
            );
            assert!(log.contains("Sending CLDAP ping"), "no CLDAP ping");
        }
    }
    drop(lab);
}
