//! Snapshots over the control API and `adsim ctl`, checked with `adsim export ldif`, and a
//! snapshot file that starts a second `adsim serve --from-snapshot` serving the same
//! passwords (ldapwhoami, kinit) and the same gMSA password (ldapsearch over LDAPS).

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;

/// PowerShell's msDS-GroupMSAMembership for Authenticated Users (the README's example).
const SD_AUTHENTICATED_USERS: &str =
    "AQAEgBQAAAAAAAAAAAAAACQAAAABAgAAAAAABSAAAAAgAgAAAgAcAAEAAAAAABQA/wEPAAEBAAAAAAAFCwAAAA==";
const ALICE_PASSWORD: &str = "Alice-Passw0rd!";
const WEB01_PASSWORD: &str = "Web01-Passw0rd!";

fn fixture() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/users-small.ldif")
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("adsim-e2e-snap-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn admin_ldif(a: &Adsim, tool: &str, ldif: &str) {
    let o = ldap_tool(
        tool,
        &a.ca(),
        &[
            "-x",
            "-H",
            &a.ldaps(),
            "-D",
            "CORP\\Administrator",
            "-w",
            ADMIN_PASSWORD,
        ],
        Some(ldif),
    );
    assert!(o.status.success(), "{tool}: {}", text(&o));
}

fn export(a: &Adsim) -> String {
    a.cli_ok(&["export", "ldif"])
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn restore_and_reset_over_the_control_api_give_identical_exports() {
    let a = Adsim::start(&["--start-time", "2026-01-05T10:00:00Z", "--fixture", fixture()]);
    let base = a.base();
    let at_start = export(&a);
    assert!(at_start.contains("CN=Alice Adams"));

    let snap = json(&a.cli_ok(&["ctl", "snapshot"]));
    let id = snap["id"].as_str().unwrap().to_string();
    assert_eq!(snap["time"], "2026-01-05T10:00:00Z");

    // Writes of every kind, and a clock move.
    admin_ldif(
        &a,
        "ldapadd",
        &format!(
            "dn: CN=Temp,CN=Users,{base}\nobjectClass: user\nsAMAccountName: temp\nuserAccountControl: 512\nunicodePwd:: {}\n",
            unicode_pwd_b64("Temp-Passw0rd!")
        ),
    );
    admin_ldif(
        &a,
        "ldapmodify",
        &format!(
            "dn: CN=Carol Chen,OU=Sales,OU=Staff,{base}\nchangetype: modify\nreplace: title\ntitle: Director\n\n\
             dn: CN=Dave Diaz,OU=Sales,OU=Staff,{base}\nchangetype: delete\n"
        ),
    );
    a.cli_ok(&["ctl", "clock", "--advance", "30d"]);
    a.cli_ok(&["ctl", "root-key", "--effective", "immediately"]);
    let changed = export(&a);
    assert_ne!(changed, at_start);

    let restored = json(&a.cli_ok(&["ctl", "restore", &id]));
    assert_eq!(restored["restored"], id.as_str());
    assert_eq!(
        restored["now"], "2026-01-05T10:00:00Z",
        "the clock comes back too"
    );
    assert_eq!(export(&a), at_start, "export before == export after restore");
    let whoami = ldap_tool(
        "ldapwhoami",
        &a.ca(),
        &["-x", "-H", &a.ldap(), "-D", "CORP\\temp", "-w", "Temp-Passw0rd!"],
        None,
    );
    assert!(
        !whoami.status.success(),
        "the account added after the snapshot is gone"
    );

    // The listing, a second snapshot, reset to the start state (fixtures included).
    let second = json(&a.cli_ok(&["ctl", "snapshot"]))["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(second, id);
    let list = json(&a.cli_ok(&["ctl", "snapshots"]));
    let ids: Vec<&str> = list["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), second.as_str()]);
    admin_ldif(
        &a,
        "ldapmodify",
        &format!(
            "dn: CN=Carol Chen,OU=Sales,OU=Staff,{base}\nchangetype: modify\nreplace: title\ntitle: CEO\n"
        ),
    );
    assert_ne!(export(&a), at_start);
    a.cli_ok(&["ctl", "reset"]);
    assert_eq!(export(&a), at_start);

    // Errors: unknown ids, bad bodies.
    let o = a.cli(&["ctl", "restore", "snap-42"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("404"), "{}", text(&o));
    let url = a.control_url();
    let (status, body) = http_json(&url, "POST", "/v1/snapshots/nonsense/restore", Some("{}"));
    assert_eq!(status, 404, "{body}");
    let (status, body) = http_json(&url, "POST", "/v1/snapshots", Some(r#"{"pathh": "x"}"#));
    assert_eq!(status, 400, "{body}");
    let (status, body) = http_json(
        &url,
        "POST",
        "/v1/snapshots",
        Some(r#"{"path": "/nonexistent-dir/adsim/snap.json"}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("/nonexistent-dir/adsim/snap.json"));
    let (_, list) = http_json(&url, "GET", "/v1/snapshots", None);
    assert_eq!(
        list["snapshots"].as_array().unwrap().len(),
        2,
        "a failed save keeps no snapshot"
    );
    let (status, _) = http_json(&url, "DELETE", &format!("/v1/snapshots/{second}"), None);
    assert_eq!(status, 200);
    let (status, _) = http_json(
        &url,
        "POST",
        &format!("/v1/snapshots/{second}/restore"),
        Some("{}"),
    );
    assert_eq!(status, 404);
}

/// The current password of the msDS-ManagedPassword blob (MS-ADTS 2.2.19) a host reads over
/// LDAPS; the intervals after it depend on the moment of the read.
fn gmsa_password(a: &Adsim) -> Vec<u8> {
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &[
            "-x",
            "-LLL",
            "-H",
            &a.ldaps(),
            "-D",
            "CORP\\WEB01$",
            "-w",
            WEB01_PASSWORD,
            "-b",
            &format!("CN=svc-web,CN=Managed Service Accounts,{}", a.base()),
            "-s",
            "base",
            "msDS-ManagedPassword",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).replace("\n ", "");
    let b64 = out
        .lines()
        .find_map(|l| l.strip_prefix("msDS-ManagedPassword:: "))
        .unwrap_or_else(|| panic!("no password in {out}"));
    use base64::Engine;
    let blob = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let current = u16::from_le_bytes([blob[8], blob[9]]) as usize;
    blob[current..current + 256].to_vec()
}

fn kinit(a: &Adsim, dir: &std::path::Path, password: &str) -> std::process::Output {
    let conf = dir.join(format!("krb5-{}.conf", a.kdc().replace(':', "_")));
    a.cli_ok(&["export", "krb5-conf", "--out", conf.to_str().unwrap()]);
    let mut child = Command::new("kinit")
        .arg("alice@CORP.EXAMPLE.TEST")
        .env("KRB5_CONFIG", &conf)
        .env("KRB5CCNAME", format!("FILE:{}", dir.join("ccache").display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kinit (krb5-user) is installed");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_persisted_snapshot_starts_an_identical_server() {
    let dir = temp_dir("persist");
    // Host time (no --start-time), so kinit's clock agrees with both KDCs.
    let a = Adsim::start(&["--child-domain", "child"]);
    let base = a.base();
    admin_ldif(
        &a,
        "ldapadd",
        &format!(
            "dn: CN=Alice,CN=Users,{base}\nobjectClass: user\nsAMAccountName: alice\n\
             userPrincipalName: alice@corp.example.test\nuserAccountControl: 512\nunicodePwd:: {}\n\n\
             dn: CN=WEB01,CN=Computers,{base}\nobjectClass: computer\nsAMAccountName: WEB01$\n\
             userAccountControl: 4096\nunicodePwd:: {}\n\n\
             dn: CN=svc-web,CN=Managed Service Accounts,{base}\nobjectClass: msDS-GroupManagedServiceAccount\n\
             sAMAccountName: svc-web$\ndNSHostName: svc-web.corp.example.test\n\
             msDS-GroupMSAMembership:: {SD_AUTHENTICATED_USERS}\n",
            unicode_pwd_b64(ALICE_PASSWORD),
            unicode_pwd_b64(WEB01_PASSWORD),
        ),
    );
    let password_a = gmsa_password(&a);

    // A relative --out is relative to the ctl's directory, not the server's.
    let o = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args(["ctl", "snapshot", "--out", "prepared.json"])
        .env("ADSIM_CONTROL_URL", a.control_url())
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let file = dir.join("prepared.json");
    let answer = json(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(answer["path"], file.to_str().unwrap());
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.starts_with(r#"{"format":"adsim-snapshot","version":1,"contains_secrets":true"#));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0);
    }

    let b = Adsim::start_unseeded(&["--from-snapshot", file.to_str().unwrap()]);
    assert_eq!(b.ready["admin_password_source"], "snapshot");
    assert_eq!(b.ready["domains"].as_array().unwrap().len(), 2);
    assert_ne!(b.ldap(), a.ldap());
    assert_eq!(export(&b), export(&a));
    assert_eq!(gmsa_password(&b), password_a, "the same gMSA password");

    for (server, name) in [(&a, "a"), (&b, "b")] {
        let ok = ldap_tool(
            "ldapwhoami",
            &server.ca(),
            &[
                "-x",
                "-H",
                &server.ldaps(),
                "-D",
                "alice@corp.example.test",
                "-w",
                ALICE_PASSWORD,
            ],
            None,
        );
        assert!(ok.status.success(), "{name}: {}", text(&ok));
        assert!(text(&ok).contains("u:CORP\\alice"), "{}", text(&ok));
        let bad = ldap_tool(
            "ldapwhoami",
            &server.ca(),
            &[
                "-x",
                "-H",
                &server.ldaps(),
                "-D",
                "alice@corp.example.test",
                "-w",
                "nope",
            ],
            None,
        );
        assert!(!bad.status.success());
        let k = kinit(server, &dir, ALICE_PASSWORD);
        assert!(k.status.success(), "kinit on {name}: {}", text(&k));
        let k = kinit(server, &dir, "wrong-password");
        assert!(!k.status.success(), "kinit with a wrong password on {name}");
    }
    drop(b);

    // A file that is not a snapshot: serve refuses to start and says why.
    std::fs::write(dir.join("junk.json"), "{\"format\":\"other\"}").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args([
            "serve",
            "--from-snapshot",
            dir.join("junk.json").to_str().unwrap(),
        ])
        .args([
            "--ldap-port",
            "0",
            "--ldaps-port",
            "0",
            "--gc-port",
            "0",
            "--kdc-port",
            "0",
            "--control-port",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("not an adsim snapshot file"), "{}", text(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args(["serve", "--from-snapshot", "x.json", "--seed", "3"])
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "--from-snapshot excludes the forest settings"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
