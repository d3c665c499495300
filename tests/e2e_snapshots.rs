//! Snapshots over the control API and `adsim ctl`, checked with `adsim export ldif`, and a
//! snapshot file that starts a second `adsim serve --from-snapshot` serving the same
//! passwords (ldapwhoami, kinit) and the same gMSA password (ldapsearch over LDAPS).

use crate::common;

use std::path::PathBuf;
use std::process::Command;

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
    kinit_with_password(&conf, &dir.join("ccache"), "alice@CORP.EXAMPLE.TEST", password)
}

/// `adsim ctl snapshot --out NAME` run in `dir` with the given umask.
fn snapshot_out(a: &Adsim, dir: &std::path::Path, name: &str, umask: &str) -> std::process::Output {
    Command::new("sh")
        .args(["-c", "umask \"$1\" && exec \"$0\" ctl snapshot --out \"$2\""])
        .args([env!("CARGO_BIN_EXE_adsim"), umask, name])
        .env("ADSIM_CONTROL_URL", a.control_url())
        .current_dir(dir)
        .output()
        .unwrap()
}

/// `adsim serve --from-snapshot FILE` on ephemeral ports, for files it must refuse.
fn serve_from(file: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args(["serve", "--from-snapshot", file.to_str().unwrap()])
        .args(EPHEMERAL_PORTS)
        .output()
        .unwrap()
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
             sAMAccountName: svc-web$\ndNSHostName: svc-web.corp.example.test\nmsDS-ManagedPasswordInterval: 30\n\
             msDS-GroupMSAMembership:: {SD_AUTHENTICATED_USERS}\n",
            unicode_pwd_b64(ALICE_PASSWORD),
            unicode_pwd_b64(WEB01_PASSWORD),
        ),
    );
    let password_a = gmsa_password(&a);

    // A relative --out is relative to the ctl's directory, not the server's.
    let o = snapshot_out(&a, &dir, "prepared.json", "022");
    assert!(o.status.success(), "{}", text(&o));
    let file = dir.join("prepared.json");
    let answer = json(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(answer["path"], file.to_str().unwrap());
    let saved = std::fs::read(&file).unwrap();
    assert!(saved.starts_with(b"adsim-snapshot 3 "), "the compact format");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0);
        // 0600 from the start, whatever the umask.
        let o = snapshot_out(&a, &dir, "umask0.json", "000");
        assert!(o.status.success(), "{}", text(&o));
        let mode = std::fs::metadata(dir.join("umask0.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // An existing file is never overwritten (nor a pre-created one reused).
    let o = snapshot_out(&a, &dir, "prepared.json", "022");
    assert!(!o.status.success());
    assert!(text(&o).contains("already exists"), "{}", text(&o));
    assert_eq!(std::fs::read(&file).unwrap(), saved);

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
    let o = serve_from(&dir.join("junk.json"));
    assert!(!o.status.success());
    assert!(text(&o).contains("not an adsim snapshot file"), "{}", text(&o));
    // One flipped byte: refused, naming the file.
    let mut damaged = saved.clone();
    let at = saved
        .windows(b"nTSecurityDescriptor".len())
        .position(|w| w == b"nTSecurityDescriptor")
        .unwrap()
        + 40;
    damaged[at] ^= 0x01;
    let flipped = dir.join("flipped.json");
    std::fs::write(&flipped, &damaged).unwrap();
    let o = serve_from(&flipped);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!(
            "snapshot file {} is corrupt: checksum mismatch",
            flipped.display()
        )),
        "{}",
        text(&o)
    );
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

#[test]
fn the_server_writes_snapshot_files_only_into_its_snapshot_directory() {
    let dir = temp_dir("server-dir");
    let snaps = dir.join("snapshots");
    std::fs::create_dir_all(&snaps).unwrap();
    // What a write killed half-way leaves, and a file that is not one of ours.
    let stale = snaps.join("old.json.tmp-0123456789abcdef");
    std::fs::write(&stale, "secret").unwrap();
    std::fs::write(snaps.join("keep.json"), "mine").unwrap();
    let a = Adsim::start(&["--snapshot-dir", snaps.to_str().unwrap()]);
    assert!(!stale.exists(), "the stale temporary file is removed at start");
    assert_eq!(std::fs::read_to_string(snaps.join("keep.json")).unwrap(), "mine");
    let url = a.control_url();
    let post = |path: &str| {
        let body = serde_json::json!({ "path": path }).to_string();
        http_json(&url, "POST", "/v1/snapshots", Some(&body))
    };

    let outside = dir.join("outside.json");
    for bad in [
        outside.to_str().unwrap(),
        "../outside.json",
        "sub/x.json",
        "..",
        ".",
        ".hidden.json",
        "x.json.tmp-0123456789abcdef",
        "a\\b.json",
    ] {
        let (status, v) = post(bad);
        assert_eq!(status, 400, "{bad}: {v}");
        assert!(v["error"].as_str().unwrap().contains("plain file name"), "{v}");
    }
    // Never through a symlink, never over an existing file.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, snaps.join("link.json")).unwrap();
        let (status, v) = post("link.json");
        assert_eq!(status, 409, "{v}");
    }
    assert!(
        !outside.exists(),
        "nothing written outside the snapshot directory"
    );
    let (status, v) = post("keep.json");
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("already exists"), "{v}");
    assert_eq!(std::fs::read_to_string(snaps.join("keep.json")).unwrap(), "mine");

    let (status, v) = post("ok.json");
    assert_eq!(status, 201, "{v}");
    let written = snaps.join("ok.json");
    assert_eq!(v["path"], written.to_str().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&written).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (_, list) = http_json(&url, "GET", "/v1/snapshots", None);
    assert_eq!(
        list["snapshots"].as_array().unwrap().len(),
        1,
        "failed saves keep no snapshot"
    );
    // The same bytes over the API, for a client that writes the file itself.
    let id = v["id"].as_str().unwrap();
    let (status, bytes) = http(&url, "GET", &format!("/v1/snapshots/{id}/file"), None);
    assert_eq!(status, 200);
    assert_eq!(bytes, std::fs::read(&written).unwrap());
    let (status, _) = http(&url, "GET", "/v1/snapshots/snap-99/file", None);
    assert_eq!(status, 404);
    let mut names: Vec<String> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: &[&str] = if cfg!(unix) {
        &["keep.json", "link.json", "ok.json"]
    } else {
        &["keep.json", "ok.json"]
    };
    assert_eq!(names, expected, "no temporary file left");
    std::fs::remove_dir_all(&dir).unwrap();
}
