//! The scenario runner in process, on features the library does not use: fixture files and
//! inline LDIF, captures into later steps, values, compare, delete, anonymous binds, clock set,
//! snapshot and restore, child domains, user SPNs; and failures it must report.

use std::path::PathBuf;

use adsim_harness::scenario::{run, RunOptions, Scenario, StepStatus};

fn scenario(text: &str) -> Scenario {
    let dir = std::env::temp_dir().join(format!("adsim-scenario-runner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ou.ldif"),
        "dn: OU=Servers,DC=corp,DC=example,DC=test\nobjectClass: organizationalUnit\ndescription: from a file\n",
    )
    .unwrap();
    let path: PathBuf = dir.join("inline.toml");
    Scenario::from_toml_str(text, &path).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

const FEATURES: &str = r#"
[forest]
seed = 4
start_time = "2026-01-05T12:00:00Z"
children = ["child"]
fixtures = ["ou.ldif"]
ldif = """
dn: CN=SRV01,OU=Servers,DC=corp,DC=example,DC=test
objectClass: computer
sAMAccountName: SRV01$
"""

[[forest.user]]
name = "svc_sql"
password = "Sql-Passw0rd!"
spns = ["MSSQLSvc/sql01.corp.example.test:1433"]

[[forest.user]]
name = "bob"
domain = "child"
password = "Bob-Passw0rd!"

[[forest.group]]
name = "SqlUsers"
members = ["svc_sql"]

[[step]]
name = "the fixture file's OU"
action = "search"
base = "OU=Servers,${base_dn}"
scope = "base"
attrs = ["description", "objectGUID"]
captures = { ou_guid = "objectGUID" }
expect = { values = { description = ["From a file"] } }

[[step]]
name = "the inline LDIF's computer, found by the captured GUID"
action = "search"
base = "${base_dn}"
filter = "(sAMAccountName=SRV01$)"
attrs = ["objectSid"]
capture = "srv_dn"
captures = { srv_sid = "objectSid" }
expect = { entries = 1 }

[[step]]
name = "captured values substitute into later steps"
action = "search"
base = "${srv_dn}"
scope = "base"
attrs = ["objectSid"]
expect = { values = { objectSid = ["${srv_sid}"] } }

[[step]]
action = "compare"
dn = "OU=Servers,${base_dn}"
attr = "description"
value = "something else"
expect = { result = "compareFalse" }

[[step]]
name = "anonymous may read the rootDSE only"
action = "search"
as = "anonymous"
transport = "plain"
base = ""
scope = "base"
attrs = ["defaultNamingContext"]
expect = { values = { defaultNamingContext = ["${base_dn}"] } }

[[step]]
action = "search"
as = "anonymous"
transport = "plain"
base = "${base_dn}"
scope = "base"
expect = { result = "operationsError", diagnostic = "000004DC" }

[[step]]
name = "a child-domain user binds at its DC"
action = "bind"
as = "bob"
transport = "starttls"

[[step]]
name = "a wrong password is 49 52e"
action = "bind"
as = "alice-typo"
expect = { result = "invalidCredentials", diagnostic = "80090308" }

[[step]]
action = "snapshot"
snapshot = "before-delete"

[[step]]
action = "delete"
dn = "${srv_dn}"

[[step]]
action = "search"
base = "${srv_dn}"
scope = "base"
expect = { result = "noSuchObject" }

[[step]]
action = "clock"
set = "2027-01-01T00:00:00Z"

[[step]]
action = "restore"
snapshot = "before-delete"

[[step]]
name = "the restore brought the computer back"
action = "search"
base = "${srv_dn}"
scope = "base"
expect = { entries = 1 }

[[step]]
action = "kerberos_as"
as = "bob"

[[step]]
name = "a user's TGT at its own domain's KDC"
action = "kerberos_as"
as = "svc_sql"
ticket = "sql"

[[step]]
name = "a ticket to a user's SPN carries the client's groups"
action = "kerberos_tgs"
tgt = "sql"
spn = "MSSQLSvc/sql01.corp.example.test:1433"
expect = { groups_include = ["SqlUsers", "513", "Domain Users@corp.example.test"], groups_exclude = ["512"] }

[principals.alice-typo]
account = "svc_sql"
password = "wrong"
"#;

#[test]
fn format_features_work_in_process() {
    let s = scenario(FEATURES);
    let report = runtime().block_on(run(&s, &RunOptions::default()));
    assert!(report.passed(), "{}", report.to_text());
    assert_eq!(report.steps.len(), s.steps.len());
}

#[test]
fn failures_are_reported_not_panicked() {
    let s = scenario(
        r#"
[forest]
seed = 5
[[step]]
name = "unknown principal"
action = "bind"
as = "nobody"
[[step]]
name = "a ticket that was never obtained"
action = "kerberos_tgs"
tgt = "none"
spn = "HOST/x"
[[step]]
name = "groups without a ticket"
action = "kerberos_as"
as = "Administrator"
client_offset = "+10m"
expect = { krb_error = 37, groups_include = ["512"] }
[[step]]
name = "a restore of a snapshot never taken"
action = "restore"
snapshot = "nope"
[[step]]
name = "a capture with nothing to capture"
action = "search"
base = "${base_dn}"
scope = "base"
captures = { x = "noSuchAttribute" }
[[step]]
name = "an unknown Kerberos error name"
action = "kerberos_as"
as = "Administrator"
expect = { krb_error = "KRB_NOT_A_THING" }
"#,
    );
    let report = runtime().block_on(run(&s, &RunOptions::default()));
    let status: Vec<&StepStatus> = report.steps.iter().map(|s| &s.status).collect();
    assert!(matches!(status[0], StepStatus::Error(e) if e.contains("no principal named \"nobody\"")));
    assert!(matches!(status[1], StepStatus::Error(e) if e.contains("no ticket named")));
    assert!(matches!(status[2], StepStatus::Failed(m) if m.len() == 1 && m[0].what == "ticket groups"));
    assert!(matches!(status[3], StepStatus::Error(e) if e.contains("no snapshot named")));
    assert!(matches!(status[4], StepStatus::Failed(m) if m[0].what.contains("capture x")));
    assert!(matches!(status[5], StepStatus::Failed(m) if m[0].expected.contains("KRB_NOT_A_THING")));
    assert!(!report.passed());
}

#[test]
fn a_forest_that_cannot_start_skips_every_step() {
    let s = scenario(
        "[forest]\ndomain = \"not a domain\"\n[[step]]\naction = \"bind\"\n[[step]]\naction = \"clock\"\nadvance = \"1d\"\n",
    );
    let report = runtime().block_on(run(&s, &RunOptions::default()));
    assert!(report.setup_error.is_some(), "{}", report.to_text());
    assert!(report.steps.iter().all(|s| s.status == StepStatus::Skipped));
    assert_eq!(report.errors(), 1);
}
