//! `adsim serve --record FILE` with real clients: ldapwhoami, ldapadd, ldapsearch (plain, LDAPS,
//! StartTLS), kinit and kvno. Every exchange is a JSON line with the documented fields, and no
//! password, key or managed password ever reaches the file.

use crate::common;

use std::process::Stdio;

use base64::Engine;
use common::*;

const SD_AUTHENTICATED_USERS: &str =
    "AQAEgBQAAAAAAAAAAAAAACQAAAABAgAAAAAABSAAAAAgAgAAAgAcAAEAAAAAABQA/wEPAAEBAAAAAAAFCwAAAA==";
const ALICE_PASSWORD: &str = "Alice-Secret-7781!";
const WEB01_PASSWORD: &str = "Web01-Secret-4410!";

#[test]
fn every_exchange_is_recorded_and_no_secret_is() {
    let dir = std::env::temp_dir().join(format!("adsim-e2e-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("session.jsonl");
    let a = Adsim::start(&["--record", record.to_str().unwrap()]);
    let base = a.base();
    let ca = a.ca();
    let admin = ["-x", "-D", "CORP\\Administrator", "-w", ADMIN_PASSWORD];
    let alice_pwd_b64 = unicode_pwd_b64(ALICE_PASSWORD);
    let web01_pwd_b64 = unicode_pwd_b64(WEB01_PASSWORD);

    let ldif = format!(
        "dn: CN=Alice,CN=Users,{base}\nobjectClass: user\nsAMAccountName: alice\n\
         userPrincipalName: alice@corp.example.test\nuserAccountControl: 512\nunicodePwd:: {alice_pwd_b64}\n\n\
         dn: CN=WEB01,CN=Computers,{base}\nobjectClass: computer\nsAMAccountName: WEB01$\n\
         userAccountControl: 4096\nunicodePwd:: {web01_pwd_b64}\n\n\
         dn: CN=svc-web,CN=Managed Service Accounts,{base}\nobjectClass: msDS-GroupManagedServiceAccount\n\
         sAMAccountName: svc-web$\ndNSHostName: svc-web.corp.example.test\nmsDS-ManagedPasswordInterval: 30\n\
         msDS-GroupMSAMembership:: {SD_AUTHENTICATED_USERS}\n"
    );
    let ldaps_url = a.ldaps();
    let mut args = vec!["-H", ldaps_url.as_str()];
    args.extend(admin);
    let o = ldap_tool("ldapadd", &ca, &args, Some(&ldif));
    assert!(o.status.success(), "{}", text(&o));

    // A bad password, a good one, then the gMSA over plain LDAP (refused), LDAPS and StartTLS.
    let o = ldap_tool(
        "ldapwhoami",
        &ca,
        &[
            "-x",
            "-H",
            &a.ldap(),
            "-D",
            "alice@corp.example.test",
            "-w",
            "Not-Alice-Pw!",
        ],
        None,
    );
    assert!(!o.status.success());
    let o = ldap_tool(
        "ldapwhoami",
        &ca,
        &[
            "-x",
            "-H",
            &a.ldap(),
            "-D",
            "alice@corp.example.test",
            "-w",
            ALICE_PASSWORD,
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let gmsa_dn = format!("CN=svc-web,CN=Managed Service Accounts,{base}");
    let search = |url: &str, starttls: bool| {
        let mut args = vec![
            "-x",
            "-LLL",
            "-H",
            url,
            "-D",
            "CORP\\WEB01$",
            "-w",
            WEB01_PASSWORD,
        ];
        if starttls {
            args.push("-ZZ");
        }
        args.extend([
            "-b",
            &gmsa_dn,
            "-s",
            "base",
            "(objectClass=*)",
            "msDS-ManagedPassword",
        ]);
        ldap_tool("ldapsearch", &ca, &args, None)
    };
    let plain = search(&a.ldap(), false);
    assert!(text(&plain).contains("0000202D"), "{}", text(&plain));
    let ldaps = search(&a.ldaps(), false);
    assert!(ldaps.status.success(), "{}", text(&ldaps));
    let blob_b64 = String::from_utf8_lossy(&ldaps.stdout)
        .replace("\n ", "")
        .lines()
        .find_map(|l| l.strip_prefix("msDS-ManagedPassword:: ").map(str::to_string))
        .expect("the host reads the password");
    let starttls = search(&a.ldap(), true);
    assert!(starttls.status.success(), "{}", text(&starttls));

    // Kerberos: AS (with the pre-authentication round trip) and TGS.
    let conf = dir.join("krb5.conf");
    a.cli_ok(&["export", "krb5-conf", "--out", conf.to_str().unwrap()]);
    let ccache = dir.join("ccache");
    let o = krb5_tool(
        "kinit",
        &["alice@CORP.EXAMPLE.TEST"],
        &conf,
        &ccache,
        &format!("{ALICE_PASSWORD}\n"),
    );
    assert!(o.status.success(), "kinit: {}", text(&o));
    let o = krb5_tool("kvno", &["ldap/dc1.corp.example.test"], &conf, &ccache, "");
    assert!(o.status.success(), "kvno: {}", text(&o));
    let o = krb5_tool("kvno", &["HTTP/nowhere.corp.example.test"], &conf, &ccache, "");
    assert!(!o.status.success());

    // The file is written as the server goes: whole lines, each a JSON object.
    let content = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<serde_json::Value> = content
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for l in &lines {
        for field in [
            "time",
            "connection",
            "transport",
            "server",
            "peer",
            "principal",
            "operation",
            "request",
            "result",
        ] {
            assert!(l.get(field).is_some(), "{field} missing in {l}");
        }
        let t = l["time"].as_str().unwrap();
        assert!(adsim_simulator::clock::NtTime::parse_rfc3339(t).is_some(), "{t}");
    }
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| pred(l)).collect()
    };

    // Binds: the name presented, the result and the AD diagnostic prefix.
    let binds = find(&|l| l["operation"] == "bind" && l["principal"] == "alice@corp.example.test");
    assert_eq!(binds.len(), 2, "{binds:?}");
    assert_eq!(binds[0]["result"]["code"], 49);
    assert_eq!(binds[0]["result"]["diagnostic"], "80090308");
    assert_eq!(binds[0]["request"]["auth"], "simple");
    assert_eq!(binds[1]["result"]["code"], 0);

    // The add, with its attributes and the password redacted.
    let add = find(&|l| {
        l["operation"] == "add"
            && l["request"]["dn"]
                .as_str()
                .is_some_and(|d| d.starts_with("CN=Alice"))
    });
    assert_eq!(add.len(), 1);
    assert_eq!(add[0]["transport"], "ldaps");
    assert_eq!(add[0]["principal"], format!("CN=Administrator,CN=Users,{base}"));
    let attrs = add[0]["request"]["attributes"].as_array().unwrap();
    let pwd = attrs.iter().find(|a| a["name"] == "unicodePwd").unwrap();
    assert_eq!(pwd["values"], serde_json::json!(["<redacted>"]));
    let sam = attrs.iter().find(|a| a["name"] == "sAMAccountName").unwrap();
    assert_eq!(sam["values"], serde_json::json!(["alice"]));

    // The gMSA reads: refused in plain, served over LDAPS and after StartTLS.
    let reads = find(&|l| l["operation"] == "search" && l["request"]["base"] == gmsa_dn.as_str());
    let by_transport = |t: &str| {
        reads
            .iter()
            .find(|l| l["transport"] == t)
            .copied()
            .unwrap_or_else(|| panic!("no {t} read in {reads:?}"))
    };
    let refused = by_transport("ldap");
    assert_eq!(refused["result"]["code"], 1);
    assert_eq!(refused["result"]["diagnostic"], "0000202D");
    assert_eq!(refused["principal"], format!("CN=WEB01,CN=Computers,{base}"));
    assert_eq!(refused["request"]["scope"], "base");
    assert_eq!(refused["request"]["filter"], "(objectClass=*)");
    assert_eq!(
        refused["request"]["attributes"],
        serde_json::json!(["msDS-ManagedPassword"])
    );
    for t in ["ldaps", "ldap+starttls"] {
        assert_eq!(by_transport(t)["result"]["code"], 0);
        assert_eq!(by_transport(t)["entries"], 1);
    }
    assert!(
        !find(&|l| l["operation"] == "extended" && l["request"]["oid"] == "1.3.6.1.4.1.1466.20037")
            .is_empty()
    );

    // Kerberos: AS without pre-authentication, then with it; TGS for a known and an unknown SPN.
    let as_ = find(&|l| l["operation"] == "AS");
    assert!(as_.len() >= 2, "{as_:?}");
    assert_eq!(as_[0]["principal"], "alice@CORP.EXAMPLE.TEST");
    assert_eq!(as_[0]["result"]["code"], 25);
    assert_eq!(as_[0]["result"]["diagnostic"], "KDC_ERR_PREAUTH_REQUIRED");
    assert_eq!(as_[0]["request"]["sname"], "krbtgt/CORP.EXAMPLE.TEST");
    assert!(as_.iter().any(|l| l["result"]["code"] == 0));
    assert!(as_[0]["transport"].as_str().unwrap().starts_with("kerberos/"));
    let tgs = find(&|l| l["operation"] == "TGS");
    let ok = tgs
        .iter()
        .find(|l| l["request"]["sname"] == "ldap/dc1.corp.example.test")
        .unwrap();
    assert_eq!(ok["result"]["code"], 0);
    assert_eq!(ok["principal"], "alice@CORP.EXAMPLE.TEST");
    let unknown = tgs
        .iter()
        .find(|l| l["request"]["sname"] == "HTTP/nowhere.corp.example.test")
        .unwrap();
    assert_eq!(unknown["result"]["diagnostic"], "KDC_ERR_S_PRINCIPAL_UNKNOWN");

    // No secret in any form.
    let blob = base64::engine::general_purpose::STANDARD
        .decode(&blob_b64)
        .unwrap();
    let current_password_b64 = base64::engine::general_purpose::STANDARD.encode(&blob[16..16 + 256]);
    for secret in [
        ALICE_PASSWORD,
        WEB01_PASSWORD,
        ADMIN_PASSWORD,
        "Not-Alice-Pw!",
        &alice_pwd_b64,
        &web01_pwd_b64,
        &blob_b64,
        &current_password_b64[..40],
    ] {
        assert!(!content.contains(secret), "{secret:?} leaked into the recording");
    }
    drop(a);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Names from clients cannot forge log lines or send terminal controls (issue 13 item 7): a
/// Kerberos request whose realm holds a newline, a carriage return, an ANSI sequence and a
/// bidi override is logged on one line, escaped.
#[test]
fn hostile_names_stay_on_their_log_line() {
    let dir = std::env::temp_dir().join(format!("adsim-e2e-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let a = Adsim::start_with_stderr(&["--seed", "1"], Stdio::from(log));
    let realm = "EVIL\n2026-01-01T00:00:00.000000Z  INFO adsim: forged-line\r\x1b[2J\u{202e}";
    let request = adsim_simulator::kdc::client::AsRequest::new(realm, "mallory\nforged-name", 1_767_607_200)
        .encode()
        .unwrap();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.send_to(&request, a.s("kdc")).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 2048];
    socket.recv_from(&mut buf).expect("a KRB-ERROR (wrong realm)");
    let text = (0..50)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::fs::read_to_string(&log_path).unwrap()
        })
        .find(|t| t.contains("forged-line"))
        .expect("the refusal is logged");
    drop(a);
    for line in text.lines().filter(|l| l.contains("forged")) {
        assert!(line.contains("KDC refusal"), "a forged line: {line:?}");
    }
    assert!(
        !text.contains('\x1b') && !text.contains('\r') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert!(text.contains("EVIL\\n2026"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
