//! A provisioned forest for the operations' unit tests. It is provisioned once per test binary
//! (PBKDF2 and the KDS are slow in debug builds) and every test gets its own independent copy
//! (the state is persistent, so a copy is O(1)).

use std::sync::{Arc, OnceLock};

use super::caller::Caller;
use super::error::DsError;
use super::request::{ModOp, Modification};
use super::{fixtures, ChildDomainConfig, Directory, ForestConfig};
use crate::clock::{Clock, NtTime};
use crate::model::{Dn, Entry};
use crate::security::{sddl, AliasDomains, Sid};

pub const BASE: &str = "DC=corp,DC=example,DC=test";
pub const CHILD_BASE: &str = "DC=child,DC=corp,DC=example,DC=test";
pub const ALICE: &str = "CN=alice,CN=Users,DC=corp,DC=example,DC=test";
pub const OPS: &str = "CN=ops,CN=Users,DC=corp,DC=example,DC=test";
pub const ADMINISTRATOR: &str = "CN=Administrator,CN=Users,DC=corp,DC=example,DC=test";
pub const WEB01: &str = "CN=WEB01,CN=Computers,DC=corp,DC=example,DC=test";
pub const WEB02: &str = "CN=WEB02,CN=Computers,DC=corp,DC=example,DC=test";
pub const SVC_WEB: &str = "CN=svc-web,CN=Managed Service Accounts,DC=corp,DC=example,DC=test";
pub const ALICE_PW: &str = "Alice-Passw0rd!";

pub fn s(v: &str) -> Vec<Vec<u8>> {
    vec![v.as_bytes().to_vec()]
}

/// `"pw"` as UTF-16LE, the unicodePwd value format.
pub fn quoted(pw: &str) -> Vec<Vec<u8>> {
    vec![format!("\"{pw}\"")
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect()]
}

pub fn m(op: ModOp, attr: &str, values: Vec<Vec<u8>>) -> Modification {
    Modification {
        op,
        attr: attr.into(),
        values,
    }
}

/// A fresh copy of the test forest: corp.example.test with child.corp.example.test; users
/// alice (password [`ALICE_PW`]) and ops (an Account Operator); computers WEB01 and WEB02;
/// gMSA svc-web whose password WEB01 may retrieve.
pub fn forest() -> Arc<Directory> {
    static TEMPLATE: OnceLock<Arc<Directory>> = OnceLock::new();
    let t = TEMPLATE.get_or_init(provision);
    let snap = t.snapshot();
    Directory::from_state(
        t.forest.clone(),
        t.seed,
        Clock::from_setting(snap.clock),
        snap.state,
    )
}

fn provision() -> Arc<Directory> {
    let dir = Directory::provision(&ForestConfig {
        seed: Some(9),
        start_time: NtTime::parse_rfc3339("2026-03-01T12:00:00Z"),
        children: vec![ChildDomainConfig {
            label: "child".into(),
            netbios: None,
        }],
        ..Default::default()
    })
    .expect("provision");
    let a = Caller::system();
    for (dn, pw) in [(ALICE, Some(ALICE_PW)), (OPS, None)] {
        let cn = Dn::parse(dn).unwrap().rdn().unwrap().value.clone();
        let mut attrs = vec![
            ("objectClass".to_string(), s("user")),
            ("sAMAccountName".to_string(), s(&cn)),
        ];
        if let Some(pw) = pw {
            attrs.push(("unicodePwd".into(), quoted(pw)));
        }
        dir.add(&a, dn, attrs).expect("add user");
    }
    dir.modify(
        &a,
        &format!("CN=Account Operators,CN=Builtin,{BASE}"),
        vec![m(ModOp::Add, "member", s(OPS))],
    )
    .expect("ops into Account Operators");
    for (dn, sam) in [(WEB01, "WEB01$"), (WEB02, "WEB02$")] {
        dir.add(
            &a,
            dn,
            vec![
                ("objectClass".into(), s("computer")),
                ("sAMAccountName".into(), s(sam)),
            ],
        )
        .expect("add computer");
    }
    let web01 = sid_of(&dir, WEB01);
    let ctx = AliasDomains::single(dir.forest.root().sid.clone());
    let sd = sddl::parse(&format!("O:S-1-5-32-544D:(A;;0x0f01ff;;;{web01})"), &ctx)
        .unwrap()
        .to_bytes()
        .unwrap();
    dir.add(
        &a,
        SVC_WEB,
        vec![
            ("objectClass".into(), s("msDS-GroupManagedServiceAccount")),
            ("sAMAccountName".into(), s("svc-web$")),
            ("msDS-GroupMSAMembership".into(), vec![sd]),
            ("msDS-ManagedPasswordInterval".into(), s("30")),
        ],
    )
    .expect("add gMSA");
    dir
}

/// The entry at `dn` as it is now.
pub fn entry(dir: &Directory, dn: &str) -> Arc<Entry> {
    let st = dir.read();
    st.store
        .get_by_dn(&Dn::parse(dn).unwrap())
        .expect("entry")
        .clone()
}

pub fn sid_of(dir: &Directory, dn: &str) -> Sid {
    Sid::from_bytes(entry(dir, dn).first("objectSid").unwrap()).unwrap()
}

/// The caller bound as the account at `dn`, over an encrypted connection.
pub fn caller(dir: &Directory, dn: &str) -> Caller {
    let st = dir.read();
    let id = st.store.lookup(&Dn::parse(dn).unwrap()).expect("account");
    dir.caller_for(&st, id).with_encryption(true)
}

pub fn admin(dir: &Directory) -> Caller {
    caller(dir, ADMINISTRATOR)
}

/// Everything a refused operation must leave alone: the LDIF export (every entry, links
/// included) and every account's keys.
pub fn fingerprint(dir: &Directory) -> String {
    let mut out = fixtures::export(dir);
    let st = dir.read();
    for e in st.store.iter() {
        if let Some(k) = &e.secrets {
            out.push_str(&format!("{} {:02x?} {}\n", e.dn, k.nt_hash, k.kvno));
        }
    }
    out
}

/// Runs an operation that must fail with `code` and a diagnostic starting with `prefix`, and
/// checks that it changed nothing.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(
    dir: &Directory,
    code: u32,
    prefix: &str,
    op: impl FnOnce() -> Result<T, DsError>,
) -> DsError {
    let before = fingerprint(dir);
    let err = op().expect_err("the operation must be refused");
    assert_eq!(err.code, code, "{err:?}");
    assert!(
        err.text.starts_with(prefix),
        "{err:?} does not start with {prefix}"
    );
    assert!(
        before == fingerprint(dir),
        "a refused operation changed the directory"
    );
    err
}

/// Whether an entry exists at `dn`.
pub fn exists(dir: &Directory, dn: &str) -> bool {
    fixtures::exists(dir, dn)
}
