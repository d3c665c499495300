//! The control API over HTTP and its command-line client `adsim ctl` / `adsim export`, against
//! `adsim serve`: the simulated clock, KDS root keys (checked over LDAP), artifacts, and the
//! JSON errors for bad input.

use crate::common;

use adsim_simulator::kdc::keytab::read_keytab;
use common::*;

const START: &str = "2026-01-05T10:00:00Z";
/// NTTIME of START: (1767607200 + 11644473600) * 10^7.
const START_NTTIME: u64 = 134_120_808_000_000_000;

fn frozen() -> Adsim {
    Adsim::start(&["--start-time", START])
}

fn json_out(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// The rootDSE's currentTime (MS-ADTS 3.1.1.3.2.1): the directory reads the same clock.
fn ldap_current_time(a: &Adsim) -> String {
    let o = ldap_tool(
        "ldapsearch",
        &a.ca(),
        &[
            "-x",
            "-LLL",
            "-H",
            &a.ldap(),
            "-b",
            "",
            "-s",
            "base",
            "currentTime",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("currentTime: ").map(str::to_string))
        .expect("currentTime")
}

#[test]
fn clock_get_advance_and_set_round_trip() {
    let a = frozen();
    let url = a.control_url();
    let (status, clock) = http_json(&url, "GET", "/v1/clock", None);
    assert_eq!(status, 200);
    assert_eq!(clock["now"], START);
    assert_eq!(clock["nttime"], START_NTTIME);
    assert_eq!(clock["frozen"], true);
    assert!(clock["offset_seconds"].is_i64());

    let (status, clock) = http_json(&url, "POST", "/v1/clock", Some(r#"{"advance_seconds": 2592000}"#));
    assert_eq!(status, 200);
    assert_eq!(clock["now"], "2026-02-04T10:00:00Z");
    assert_eq!(clock["nttime"], START_NTTIME + 2_592_000 * 10_000_000);
    assert_eq!(ldap_current_time(&a), "20260204100000.0Z");

    // The same through `adsim ctl`, with durations and RFC 3339.
    let clock = json_out(&a.cli_ok(&["ctl", "clock", "--advance", "-6m"]));
    assert_eq!(clock["now"], "2026-02-04T09:54:00Z");
    let clock = json_out(&a.cli_ok(&["ctl", "clock", "--set", "2030-01-01T00:00:00Z"]));
    assert_eq!(clock["now"], "2030-01-01T00:00:00Z");
    let clock = json_out(&a.cli_ok(&["ctl", "--url", &url, "clock"]));
    assert_eq!(clock["now"], "2030-01-01T00:00:00Z");
    assert_eq!(ldap_current_time(&a), "20300101000000.0Z");
    let (_, clock) = http_json(
        &url,
        "POST",
        "/v1/clock",
        Some(r#"{"set": "2026-01-05T10:00:00Z"}"#),
    );
    assert_eq!(clock["nttime"], START_NTTIME);
}

#[test]
fn a_running_clock_reports_its_offset() {
    let a = Adsim::start(&[]);
    let clock = json_out(&a.cli_ok(&["ctl", "clock", "--advance", "12h"]));
    assert_eq!(clock["frozen"], false);
    assert_eq!(clock["offset_seconds"], 43_200);
    let clock = json_out(&a.cli_ok(&["ctl", "clock", "--advance", "-12h"]));
    assert_eq!(clock["offset_seconds"], 0);
}

/// `adsim ctl` reads durations as scenarios do (`10h05m`), and a bare number as seconds.
#[test]
fn ctl_takes_the_scenario_duration_forms() {
    let a = frozen();
    let clock = json_out(&a.cli_ok(&["ctl", "clock", "--advance", "10h05m"]));
    assert_eq!(clock["now"], "2026-01-05T20:05:00Z");
    let clock = json_out(&a.cli_ok(&["ctl", "clock", "--advance", "-1d2h"]));
    assert_eq!(clock["now"], "2026-01-04T18:05:00Z");
    let clock = json_out(&a.cli_ok(&["ctl", "clock", "--advance", "45"]));
    assert_eq!(clock["now"], "2026-01-04T18:05:45Z");
    let o = a.cli(&["ctl", "clock", "--advance", "5m1h"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("expected a number then a unit"), "{}", text(&o));
}

#[test]
fn health_and_artifacts() {
    let a = frozen();
    let health = json_out(&a.cli_ok(&["ctl", "health"]));
    assert_eq!(health["status"], "ok");
    assert_eq!(health["realm"], "CORP.EXAMPLE.TEST");

    let conf = a.cli_ok(&["export", "krb5-conf", "--set", "kdc_timesync=0"]);
    assert!(conf.contains("default_realm = CORP.EXAMPLE.TEST"), "{conf}");
    assert!(conf.contains(&format!("kdc = {}", a.kdc())), "{conf}");
    assert!(conf.contains("kdc_timesync = 0"), "{conf}");
    let (status, body) = http(&a.control_url(), "GET", "/v1/krb5.conf", None);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("dns_lookup_kdc = false"));

    // The DC's keytab: its account and every SPN, each etype, one key version.
    let (status, bytes) = http(&a.control_url(), "GET", "/v1/keytab?principal=DC1%24", None);
    assert_eq!(status, 200);
    let entries = read_keytab(&bytes).expect("an MIT keytab");
    let dc = entries
        .iter()
        .filter(|e| e.components == ["DC1$"])
        .map(|e| e.etype)
        .collect::<Vec<_>>();
    assert_eq!(dc, vec![18, 17, 23]);
    assert!(entries
        .iter()
        .any(|e| e.components == ["ldap", "dc1.corp.example.test"] && e.etype == 18));
    let t = i64::from(entries[0].timestamp);
    assert_eq!(t, 1_767_607_200, "written at the simulated time");
}

/// Needs the real `Directory::add_kds_root_key` (the lead's dsa/gmsa.rs); this branch has a
/// shim that refuses. Un-ignore on merge.
#[test]
fn root_key_creation_returns_an_id_visible_over_ldap() {
    let a = frozen();
    let out = a.cli_ok(&["ctl", "root-key", "--effective", "immediately"]);
    let id = json_out(&out)["id"].as_str().expect("id").to_string();
    assert!(uuid_shaped(&id), "{id}");
    let (status, v) = http_json(
        &a.control_url(),
        "POST",
        "/v1/kds/root-keys",
        Some(r#"{"effective": "2026-01-05T00:00:00Z"}"#),
    );
    assert_eq!(status, 201);
    let backdated = v["id"].as_str().unwrap().to_string();
    assert!(uuid_shaped(&backdated) && backdated != id);

    let config = "CN=Configuration,DC=corp,DC=example,DC=test";
    for (key, use_start) in [
        (&id, START_NTTIME),
        (&backdated, START_NTTIME - 10 * 3600 * 10_000_000),
    ] {
        let dn =
            format!("CN={key},CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,{config}");
        let o = a.as_admin(
            "ldapsearch",
            &a.ldaps(),
            &[
                "-LLL",
                "-b",
                &dn,
                "-s",
                "base",
                "objectClass",
                "msKds-UseStartTime",
                "msKds-CreateTime",
                "msKds-RootKeyData",
            ],
            None,
        );
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(out.contains("objectClass: msKds-ProvRootKey"), "{out}");
        assert!(out.contains(&format!("msKds-UseStartTime: {use_start}")), "{out}");
        assert!(
            out.contains(&format!("msKds-CreateTime: {START_NTTIME}")),
            "{out}"
        );
        assert!(out.contains("msKds-RootKeyData:: "), "{out}");
    }
}

fn uuid_shaped(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn bad_input_gets_json_errors() {
    let a = frozen();
    let url = a.control_url();
    let cases: &[(&str, &str, Option<&str>, u16, &str)] = &[
        ("POST", "/v1/clock", Some("{}"), 400, "exactly one"),
        (
            "POST",
            "/v1/clock",
            Some(r#"{"advance_seconds": 1, "set": "2030-01-01T00:00:00Z"}"#),
            400,
            "exactly one",
        ),
        (
            "POST",
            "/v1/clock",
            Some(r#"{"set": "yesterday"}"#),
            400,
            "RFC 3339",
        ),
        (
            "POST",
            "/v1/clock",
            Some(r#"{"advance_seconds": "10"}"#),
            400,
            "invalid JSON",
        ),
        (
            "POST",
            "/v1/clock",
            Some(r#"{"advance_seconds": 9223372036854775807}"#),
            400,
            "within",
        ),
        ("POST", "/v1/clock", Some("{not json"), 400, "invalid JSON"),
        (
            "POST",
            "/v1/clock",
            Some(r#"{"advance": 5}"#),
            400,
            "unknown field",
        ),
        (
            "POST",
            "/v1/kds/root-keys",
            Some(r#"{"effective": "tomorrow"}"#),
            400,
            "immediately",
        ),
        ("POST", "/v1/kds/root-keys", Some("{}"), 400, "missing field"),
        ("GET", "/v1/keytab", None, 400, "principal"),
        ("GET", "/v1/keytab?principal=", None, 400, "empty"),
        (
            "GET",
            "/v1/keytab?principal=ghost%24",
            None,
            404,
            "no account named ghost$",
        ),
        (
            "GET",
            "/v1/krb5.conf?kdc_timesync=0%0A%5Brealms%5D",
            None,
            400,
            "not allowed",
        ),
        ("GET", "/v1/krb5.conf?bad%20name=1", None, 400, "not allowed"),
        ("GET", "/v1/nothing", None, 404, "no such endpoint"),
        ("DELETE", "/v1/clock", None, 405, "method not allowed"),
    ];
    for (method, path, body, status, message) in cases {
        let (got, v) = http_json(&url, method, path, *body);
        assert_eq!(got, *status, "{method} {path} {body:?}: {v}");
        let error = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: {v}"));
        assert!(
            error.contains(message),
            "{method} {path}: {error:?} lacks {message:?}"
        );
    }
    // Nothing moved.
    let (_, clock) = http_json(&url, "GET", "/v1/clock", None);
    assert_eq!(clock["nttime"], START_NTTIME);

    // The command-line client reports errors in one line and exits 1.
    for (args, message) in [
        (&["ctl", "clock", "--advance", "5y"][..], "unit must be"),
        (
            &["export", "keytab", "--principal", "ghost$"][..],
            "404: no account named ghost$",
        ),
        (
            &["export", "krb5-conf", "--set", "novalue"][..],
            "expected NAME=VALUE",
        ),
    ] {
        let o = a.cli(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(message) && !err.contains("backtrace"),
            "{args:?}: {err}"
        );
    }
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args(["ctl", "health"])
        .env_remove("ADSIM_CONTROL_URL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("ADSIM_CONTROL_URL"), "{}", text(&o));
}

#[test]
fn the_control_api_listens_on_the_listen_address_only() {
    let a = frozen();
    let url = a.control_url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let port = url.rsplit_once(':').unwrap().1;
    // Another loopback address on the same port: nothing listens there.
    assert!(std::net::TcpStream::connect(format!("127.0.0.2:{port}")).is_err());
}

#[test]
fn listening_on_every_address_keeps_the_control_api_on_loopback() {
    let a = Adsim::start(&["--listen", "0.0.0.0"]);
    let url = a.control_url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let port = url.rsplit_once(':').unwrap().1;
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.2:{port}")).is_err(),
        "the control API is not on every address"
    );
    // LDAP is.
    let ldap_port = a.ldap().rsplit_once(':').unwrap().1.to_string();
    assert!(std::net::TcpStream::connect(format!("127.0.0.2:{ldap_port}")).is_ok());
    let (status, _) = http_json(&url, "GET", "/v1/health", None);
    assert_eq!(status, 200);

    // Unless asked.
    let b = Adsim::start(&["--listen", "0.0.0.0", "--control-listen", "127.0.0.2"]);
    let url = b.control_url();
    assert!(url.starts_with("http://127.0.0.2:"), "{url}");
    let (status, _) = http_json(&url, "GET", "/v1/health", None);
    assert_eq!(status, 200);
}

#[test]
fn requests_a_web_page_could_send_are_refused() {
    let a = frozen();
    let url = a.control_url();
    let authority = url.trim_start_matches("http://").to_string();
    let port = authority.rsplit_once(':').unwrap().1.to_string();
    let host = format!("Host: {authority}");
    let json = "Content-Type: application/json";

    // DNS rebinding: a name that resolves to 127.0.0.1 but is not the listener's address.
    for bad in [
        format!("Host: evil.example:{port}"),
        format!("Host: 127.0.0.1.nip.io:{port}"),
        "Host: 127.0.0.1:1".to_string(),
        "Host: 127.0.0.1".to_string(),
        format!("Host: 127.0.0.2:{port}"),
    ] {
        for path in ["/v1/keytab?principal=krbtgt", "/v1/ready", "/v1/health"] {
            let (status, v) = http_headers(&url, "GET", path, &[&bad], "");
            assert_eq!(status, 421, "{bad} {path}: {v}");
            assert!(v["error"].as_str().unwrap().contains("Host"), "{v}");
        }
    }
    let (status, v) = http_headers(&url, "GET", "/v1/health", &[], "");
    assert_eq!(status, 421, "no Host at all: {v}");
    for good in [
        host.clone(),
        format!("Host: localhost:{port}"),
        format!("Host: LOCALHOST:{port}"),
    ] {
        let (status, v) = http_headers(&url, "GET", "/v1/health", &[&good], "");
        assert_eq!(status, 200, "{good}: {v}");
    }

    // Another origin (a web page's fetch or form), or an opaque one: 403.
    for origin in [
        "Origin: http://evil.example".to_string(),
        "Origin: null".to_string(),
        format!("Origin: https://{authority}"),
        format!("Origin: http://localhost:{port}"),
    ] {
        let (status, v) = http_headers(&url, "POST", "/v1/reset", &[&host, &origin, json], "{}");
        assert_eq!(status, 403, "{origin}: {v}");
        assert!(v["error"].as_str().unwrap().contains("cross-origin"), "{v}");
        let (status, _) = http_headers(&url, "GET", "/v1/keytab?principal=krbtgt", &[&host, &origin], "");
        assert_eq!(status, 403, "{origin}");
    }
    let same = format!("Origin: http://{authority}");
    let (status, v) = http_headers(&url, "GET", "/v1/clock", &[&host, &same], "");
    assert_eq!(status, 200, "same origin: {v}");

    // A simple cross-site form (no preflight) cannot change anything: 415.
    for ct in [
        "Content-Type: application/x-www-form-urlencoded",
        "Content-Type: text/plain",
        "Content-Type: multipart/form-data; boundary=x",
    ] {
        for (path, body) in [
            ("/v1/clock", r#"{"advance_seconds": 86400}"#),
            ("/v1/reset", "{}"),
            ("/v1/kds/root-keys", r#"{"effective": "immediately"}"#),
            ("/v1/snapshots", "{}"),
        ] {
            let (status, v) = http_headers(&url, "POST", path, &[&host, ct], body);
            assert_eq!(status, 415, "{ct} {path}: {v}");
            assert!(v["error"].as_str().unwrap().contains("application/json"), "{v}");
        }
    }
    let (status, _) = http_headers(
        &url,
        "POST",
        "/v1/clock",
        &[&host],
        r#"{"advance_seconds": 86400}"#,
    );
    assert_eq!(status, 415, "no Content-Type");
    let (status, _) = http_headers(&url, "DELETE", "/v1/snapshots/snap-1", &[&host], "");
    assert_eq!(status, 415, "DELETE without Content-Type");
    let (_, clock) = http_json(&url, "GET", "/v1/clock", None);
    assert_eq!(clock["nttime"], START_NTTIME, "nothing moved");
    let (_, list) = http_json(&url, "GET", "/v1/snapshots", None);
    assert_eq!(list["snapshots"], serde_json::json!([]), "nothing taken");
    let (status, v) = http_headers(
        &url,
        "POST",
        "/v1/clock",
        &[&host, "Content-Type: application/json; charset=utf-8"],
        r#"{"advance_seconds": 60}"#,
    );
    assert_eq!(status, 200, "{v}");
}
