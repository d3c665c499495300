//! The scenario library through the `adsim scenario run` binary: every scenario passes, a wrong
//! expectation fails with a readable report and a non-zero exit, the JUnit XML is well-formed
//! and its counts match, and `--against` replays against a running `adsim serve`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::{text, Adsim};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn scenario_run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adsim"))
        .arg("scenario")
        .arg("run")
        .args(args)
        .output()
        .expect("adsim runs")
}

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("adsim-e2e-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A parsed XML element: name, attributes, children.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
}

impl Element {
    fn attr(&self, k: &str) -> &str {
        self.attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("<{}> has no {k}", self.name))
    }
    fn num(&self, k: &str) -> usize {
        self.attr(k).parse().unwrap()
    }
    fn all<'a>(&'a self, name: &str) -> Vec<&'a Element> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
}

/// A small XML 1.0 reader, strict enough to reject what CI parsers reject: one root element,
/// balanced and matching tags, quoted attributes, only the five predefined entities or
/// character references, no `<` in text or attribute values.
fn parse_xml(doc: &str) -> Result<Element, String> {
    fn check_text(t: &str) -> Result<(), String> {
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let end = rest[i..].find(';').ok_or("unterminated entity")? + i;
            let ent = &rest[i + 1..end];
            let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                || ent
                    .strip_prefix('#')
                    .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty());
            if !ok {
                return Err(format!("bad entity &{ent};"));
            }
            rest = &rest[end + 1..];
        }
        if t.chars()
            .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err("control character".into());
        }
        Ok(())
    }
    let mut s = doc.trim_start();
    if let Some(rest) = s.strip_prefix("<?xml") {
        s = &rest[rest.find("?>").ok_or("unterminated XML declaration")? + 2..];
    }
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let lt = match s.find('<') {
            Some(i) => i,
            None => {
                if !s.trim().is_empty() {
                    return Err("text after the root element".into());
                }
                break;
            }
        };
        let text_part = &s[..lt];
        if stack.is_empty() && !text_part.trim().is_empty() {
            return Err("text outside the root element".into());
        }
        check_text(text_part)?;
        s = &s[lt + 1..];
        let gt = s.find('>').ok_or("unterminated tag")?;
        let tag = &s[..gt];
        s = &s[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or("close tag without open tag")?;
            if open.name != name.trim() {
                return Err(format!("</{name}> closes <{}>", open.name));
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(open),
                None if root.is_none() => root = Some(open),
                None => return Err("two root elements".into()),
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
        let name = &body[..name_end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!("bad element name {name:?}"));
        }
        let mut attrs = Vec::new();
        let mut a = body[name_end..].trim();
        while !a.is_empty() {
            let eq = a
                .find('=')
                .ok_or(format!("attribute without value in <{name}>"))?;
            let key = a[..eq].trim().to_string();
            let rest = a[eq + 1..].trim_start();
            let quote = rest.chars().next().ok_or("missing attribute value")?;
            if quote != '"' && quote != '\'' {
                return Err(format!("unquoted attribute {key}"));
            }
            let close = rest[1..].find(quote).ok_or("unterminated attribute value")? + 1;
            let value = &rest[1..close];
            if value.contains('<') {
                return Err("< in an attribute value".into());
            }
            check_text(value)?;
            if attrs.iter().any(|(k, _)| *k == key) {
                return Err(format!("duplicate attribute {key}"));
            }
            attrs.push((key, value.to_string()));
            a = rest[close + 1..].trim_start();
        }
        let el = Element {
            name: name.to_string(),
            attrs,
            children: Vec::new(),
        };
        if self_closing {
            match stack.last_mut() {
                Some(parent) => parent.children.push(el),
                None if root.is_none() => root = Some(el),
                None => return Err("two root elements".into()),
            }
        } else {
            stack.push(el);
        }
    }
    if !stack.is_empty() {
        return Err(format!("<{}> never closed", stack[0].name));
    }
    root.ok_or_else(|| "no root element".into())
}

#[test]
fn the_xml_reader_rejects_malformed_documents() {
    for bad in [
        "<a><b></a></b>",
        "<a>x & y</a>",
        "<a b=c/>",
        "<a></a><b/>",
        "<a>",
        "<a b=\"<\"/>",
        "text",
    ] {
        assert!(parse_xml(bad).is_err(), "{bad} accepted");
    }
    let ok = parse_xml("<?xml version=\"1.0\"?>\n<a x=\"1 &amp; 2\"><b/><c>t&lt;</c></a>").unwrap();
    assert_eq!(ok.children.len(), 2);
}

/// The library's files and how many steps each has.
fn library() -> Vec<(PathBuf, usize)> {
    let mut out: Vec<(PathBuf, usize)> = std::fs::read_dir(repo("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let table: toml::Table = toml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let steps = table["step"].as_array().map_or(0, Vec::len);
            (p, steps)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_scenario_library_passes() {
    let lib = library();
    assert!(lib.len() >= 11, "the library has {} scenarios", lib.len());
    let junit = temp_file("library.xml");
    let started = Instant::now();
    let o = scenario_run(&[
        repo("scenarios").to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let wall = started.elapsed();
    let out = text(&o);
    assert!(o.status.success(), "the library failed:\n{out}");
    eprintln!(
        "scenario library: {} scenarios, {} steps, wall time {:.2} s (debug build)",
        lib.len(),
        lib.iter().map(|(_, n)| n).sum::<usize>(),
        wall.as_secs_f64()
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!("scenarios: {} passed, 0 failed", lib.len())),
        "{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");

    let xml = std::fs::read_to_string(&junit).unwrap();
    let root = parse_xml(&xml).unwrap_or_else(|e| panic!("JUnit XML: {e}\n{xml}"));
    assert_eq!(root.name, "testsuites");
    let suites = root.all("testsuite");
    assert_eq!(suites.len(), lib.len());
    let total: usize = lib.iter().map(|(_, n)| n).sum();
    assert_eq!(root.num("tests"), total);
    assert_eq!((root.num("failures"), root.num("errors")), (0, 0));
    for ((path, steps), suite) in lib.iter().zip(&suites) {
        assert_eq!(suite.num("tests"), *steps, "{}", path.display());
        assert_eq!(suite.all("testcase").len(), *steps, "{}", path.display());
        assert_eq!(suite.num("failures"), 0);
        assert!(suite
            .attr("file")
            .ends_with(path.file_name().unwrap().to_str().unwrap()));
    }
}

#[test]
fn a_wrong_expectation_fails_with_expected_and_actual() {
    let junit = temp_file("wrong.xml");
    let path = repo("tests/scenarios/wrong-expectation.toml");
    let o = scenario_run(&[path.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(out.starts_with("FAIL deliberately wrong expectations"), "{out}");
    // The plain-LDAP read: expected success, got operationsError 0000202D.
    assert!(
        out.contains("FAIL  2. WRONG: expects the password over plain LDAP"),
        "{out}"
    );
    assert!(out.contains("expected: 0 (success)"), "{out}");
    assert!(out.contains("actual:   1 (operationsError) \"0000202D"), "{out}");
    assert!(out.contains("actual:   no entry returned"), "{out}");
    // The skewed AS exchange: expected a ticket, got KRB-ERROR 37.
    assert!(out.contains("FAIL  4."), "{out}");
    assert!(
        out.contains("expected: a ticket") && out.contains("actual:   KRB-ERROR 37 KRB_AP_ERR_SKEW"),
        "{out}"
    );
    assert!(out.contains("ok    3. right: LDAPS returns it"), "{out}");
    assert!(
        out.contains("ERR   5.") && out.contains("never_captured"),
        "{out}"
    );
    assert!(out.contains("scenarios: 0 passed, 1 failed"), "{out}");
    // No secret reaches the report: passwords show as fingerprints only.
    assert!(!out.contains("Web01-Passw0rd!"), "{out}");

    let xml = std::fs::read_to_string(&junit).unwrap();
    let root = parse_xml(&xml).unwrap_or_else(|e| panic!("JUnit XML: {e}\n{xml}"));
    let suite = &root.all("testsuite")[0];
    assert_eq!(
        (suite.num("tests"), suite.num("failures"), suite.num("errors")),
        (5, 2, 1)
    );
    let cases = suite.all("testcase");
    assert_eq!(cases.len(), 5);
    let failure = &cases[1].all("failure")[0];
    assert_eq!(failure.attr("type"), "expectation");
    assert!(failure.attr("message").contains("result code"), "{xml}");
    assert_eq!(cases[4].all("error").len(), 1);
    assert!(cases[2].children.is_empty());
}

#[test]
fn an_unreadable_scenario_is_an_error() {
    let bad = temp_file("bad.toml");
    std::fs::write(&bad, "[forest]\nseed = 1\n[[step]]\naction = \"fly\"\n").unwrap();
    let o = scenario_run(&[bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o);
    assert!(
        out.contains("setup ERROR") && out.contains("unknown action \"fly\""),
        "{out}"
    );
}

#[test]
fn scenarios_replay_against_a_running_server() {
    let server = Adsim::start(&[]);
    let url = server.control_url();
    let o = scenario_run(&[
        "--against",
        &url,
        "--keep-changes",
        repo("scenarios/gmsa-allowed-host.toml").to_str().unwrap(),
        repo("scenarios/kerberos-clock-skew.toml").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("scenarios: 2 passed, 0 failed"), "{out}");
    // The scenario's accounts are on the server now (changes kept), over plain LDAP.
    let found = common::ldap_tool(
        "ldapsearch",
        &server.ca(),
        &[
            "-x",
            "-LLL",
            "-H",
            &server.ldap(),
            "-D",
            "CORP\\WEB01$",
            "-w",
            "Web01-Passw0rd!",
            "-b",
            &server.base(),
            "(sAMAccountName=svc-web$)",
            "dn",
        ],
        None,
    );
    assert!(
        text(&found).contains("CN=svc-web,CN=Managed Service Accounts"),
        "{}",
        text(&found)
    );
}

#[test]
fn the_ready_endpoint_describes_every_dc() {
    let server = Adsim::start(&["--child-domain", "child"]);
    let (status, v) = common::http_json(&server.control_url(), "GET", "/v1/ready", None);
    assert_eq!(status, 200);
    assert_eq!(v["domains"].as_array().unwrap().len(), 2);
    assert_eq!(v["ldap_url"], server.ready["ldap_url"]);
    assert!(v["ca_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        v["ca_pem"].as_str().unwrap().trim(),
        std::fs::read_to_string(server.ca()).unwrap().trim()
    );
}

/// Without `--keep-changes`, each scenario runs between a snapshot and its restore: the server
/// ends exactly as it started.
#[test]
fn replay_against_a_server_leaves_it_unchanged() {
    let server = Adsim::start(&[]);
    let before = server.cli_ok(&["export", "ldif"]);
    let o = scenario_run(&[
        "--against",
        &server.control_url(),
        repo("scenarios/gmsa-allowed-host.toml").to_str().unwrap(),
        repo("scenarios/nested-groups.toml").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("scenarios: 2 passed, 0 failed"),
        "{}",
        text(&o)
    );
    let after = server.cli_ok(&["export", "ldif"]);
    assert!(before == after, "the server was left changed by the replay");
}
