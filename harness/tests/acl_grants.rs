//! The grant/revoke helpers (`adsim_harness::acl`) and SDDL in LDIF fixtures, on an
//! in-process forest: Defender for Identity's action-account rights delegated on an OU, used
//! by a plain user on objects that existed before the grant and on ones created after, refused
//! outside the OU; the helper itself needs WRITE_DAC as its caller.

use adsim_harness::acl;
use adsim_harness::cmdlets::{CmdletError, Cmdlets};
use adsim_harness::fixtures;
use adsim_harness::ldif;
use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::request::{ModOp, Modification};
use adsim_simulator::dsa::{Caller, Directory, DsError, ForestConfig};
use std::sync::Arc;

const BASE: &str = "DC=corp,DC=example,DC=test";

fn forest() -> Arc<Directory> {
    Directory::provision(&ForestConfig {
        seed: Some(12),
        start_time: NtTime::parse_rfc3339("2026-05-01T08:00:00Z"),
        ..Default::default()
    })
    .unwrap()
}

fn s(v: &str) -> Vec<Vec<u8>> {
    vec![v.as_bytes().to_vec()]
}

fn caller(dir: &Directory, sam: &str) -> Caller {
    let st = dir.read();
    let id = dir.resolve_account(&st, &format!("CORP\\{sam}")).unwrap();
    dir.caller_for(&st, id).with_encryption(true)
}

fn add_user(dir: &Directory, dn: &str, sam: &str) {
    dir.add(
        &Caller::system(),
        dn,
        vec![
            ("objectClass".into(), s("user")),
            ("sAMAccountName".into(), s(sam)),
            ("userAccountControl".into(), s("512")),
            ("unicodePwd".into(), vec![pwd("Initial-Pass-1")]),
        ],
    )
    .unwrap();
}

fn pwd(p: &str) -> Vec<u8> {
    format!("\"{p}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn m(op: ModOp, attr: &str, values: Vec<Vec<u8>>) -> Vec<Modification> {
    vec![Modification {
        op,
        attr: attr.into(),
        values,
    }]
}

fn value(dir: &Directory, dn: &str, attr: &str) -> Option<String> {
    let st = dir.read();
    let id = st.store.lookup(&adsim_simulator::model::Dn::parse(dn).unwrap())?;
    st.store.get(id)?.first_str(attr).map(str::to_string)
}

/// The four actions of the action account on a user and a group, as `who`.
/// What each refused [`act`] answers: the password reset takes the SAM path (00000005), the
/// attribute and member writes the directory's access check (00002098).
fn act_refusals() -> [DsError; 4] {
    [
        DsError::access_denied(),
        DsError::insufficient_access(),
        DsError::insufficient_access(),
        DsError::insufficient_access(),
    ]
}

fn act(dir: &Directory, who: &Caller, user: &str, group: &str, member: &str) -> Vec<Result<(), DsError>> {
    vec![
        dir.modify(
            who,
            user,
            m(ModOp::Replace, "unicodePwd", vec![pwd("Reset-By-Mdi-1")]),
        ),
        dir.modify(who, user, m(ModOp::Replace, "pwdLastSet", s("0"))),
        dir.modify(who, user, m(ModOp::Replace, "userAccountControl", s("514"))),
        dir.modify(who, group, m(ModOp::Add, "member", s(member))),
    ]
}

#[test]
fn delegated_action_account_rights_on_an_ou() {
    let dir = forest();
    let sys = Caller::system();
    let ou = format!("OU=Tier2,{BASE}");
    dir.add(&sys, &ou, vec![("objectClass".into(), s("organizationalUnit"))])
        .unwrap();
    add_user(&dir, &format!("CN=mdi-action,CN=Users,{BASE}"), "mdi-action");
    add_user(&dir, &format!("CN=before,{ou}"), "before");
    add_user(&dir, &format!("CN=outside,CN=Users,{BASE}"), "outside");
    let group = format!("CN=Tier2-Staff,{ou}");
    dir.add(
        &sys,
        &group,
        vec![
            ("objectClass".into(), s("group")),
            ("sAMAccountName".into(), s("Tier2-Staff")),
        ],
    )
    .unwrap();
    let grantee = caller(&dir, "mdi-action");
    let before = format!("CN=before,{ou}");
    // Without the grant: all four refused.
    for (r, want) in act(&dir, &grantee, &before, &group, &before)
        .into_iter()
        .zip(act_refusals())
    {
        assert_eq!(r.unwrap_err(), want);
    }

    // A plain user may not grant itself anything (WRITE_DAC on the OU).
    let err = Cmdlets::new(&dir, grantee.clone())
        .grant(&ou, "mdi-action", "GenericAll", "this_and_descendants")
        .unwrap_err();
    assert!(matches!(err, CmdletError::Directory(e) if e == DsError::access_denied()));

    let admin = Cmdlets::new(&dir, caller(&dir, "Administrator"));
    admin
        .grant(
            &ou,
            "mdi-action",
            "ResetPassword,WriteProperty:User-Account-Restrictions",
            "descendants:user",
        )
        .unwrap();
    admin
        .grant(
            &ou,
            "CORP\\mdi-action",
            "WriteProperty:member",
            "descendants:group",
        )
        .unwrap();
    add_user(&dir, &format!("CN=after,{ou}"), "after");
    let after = format!("CN=after,{ou}");

    for user in [&before, &after] {
        for r in act(&dir, &grantee, user, &group, user) {
            r.unwrap();
        }
        assert_eq!(value(&dir, user, "pwdLastSet").as_deref(), Some("0"));
        assert_eq!(value(&dir, user, "userAccountControl").as_deref(), Some("514"));
    }
    // The grant names users: the group's description is still refused, and outside the OU
    // nothing is granted — and nothing changes.
    let outside = format!("CN=outside,CN=Users,{BASE}");
    let uac = value(&dir, &outside, "userAccountControl");
    for (r, want) in act(
        &dir,
        &grantee,
        &outside,
        &format!("CN=Domain Users,CN=Users,{BASE}"),
        &outside,
    )
    .into_iter()
    .zip(act_refusals())
    {
        assert_eq!(r.unwrap_err(), want);
    }
    assert_eq!(value(&dir, &outside, "userAccountControl"), uac);
    assert_eq!(
        dir.modify(&grantee, &group, m(ModOp::Replace, "description", s("x")))
            .unwrap_err(),
        DsError::insufficient_access()
    );

    // Revoke removes what grant added: the inherited ACEs go from the children too.
    let n = admin
        .revoke(
            &ou,
            "mdi-action",
            "ResetPassword,WriteProperty:User-Account-Restrictions",
            "descendants:user",
        )
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        dir.modify(&grantee, &before, m(ModOp::Replace, "pwdLastSet", s("-1")))
            .unwrap_err(),
        DsError::insufficient_access()
    );
    // Group writes stay granted.
    dir.modify(&grantee, &group, m(ModOp::Delete, "member", s(&before)))
        .unwrap();
}

#[test]
fn sddl_in_fixtures_and_set_sddl() {
    let dir = forest();
    let alice_sid = {
        add_user(&dir, &format!("CN=alice,CN=Users,{BASE}"), "alice");
        let st = dir.read();
        let id = dir.resolve_account(&st, "CORP\\alice").unwrap();
        adsim_simulator::security::Sid::from_bytes(st.store.get(id).unwrap().first("objectSid").unwrap())
            .unwrap()
    };
    let text = format!(
        "dn: OU=Delegated,{BASE}\nobjectClass: organizationalUnit\n\
nTSecurityDescriptor: O:DAG:DAD:(A;;RPWPCCDCLCLORCWDWOSDDTSWCR;;;DA)(A;CI;GA;;;{alice_sid})\n\n\
dn: CN=bob,OU=Delegated,{BASE}\nobjectClass: user\nsAMAccountName: bob\n"
    );
    fixtures::apply(&dir, &ldif::parse(&text).unwrap()).unwrap();
    let alice = caller(&dir, "alice");
    // The SDDL grant is inherited by bob: alice has full control over it.
    dir.modify(
        &alice,
        &format!("CN=bob,OU=Delegated,{BASE}"),
        m(ModOp::Replace, "description", s("granted by a fixture")),
    )
    .unwrap();
    // A modify record with SDDL text replaces the parts the text has (the DACL here); the
    // owner stays.
    let change = format!(
        "dn: OU=Delegated,{BASE}\nchangetype: modify\nreplace: nTSecurityDescriptor\n\
nTSecurityDescriptor: D:(A;;RPWPCCDCLCLORCWDWOSDDTSWCR;;;DA)\n-\n"
    );
    fixtures::apply(&dir, &ldif::parse(&change).unwrap()).unwrap();
    let sd = Cmdlets::system(&dir)
        .get_acl(&format!("OU=Delegated,{BASE}"))
        .unwrap();
    assert_eq!(acl::allow_aces_of(&sd, &alice_sid).count(), 0);
    assert_eq!(
        dir.modify(
            &alice,
            &format!("CN=bob,OU=Delegated,{BASE}"),
            m(ModOp::Replace, "description", s("x")),
        )
        .unwrap_err(),
        DsError::insufficient_access()
    );
    // Bad SDDL: a clear error naming the entry.
    let bad =
        format!("dn: OU=Bad,{BASE}\nobjectClass: organizationalUnit\nnTSecurityDescriptor: D:(A;;XX;;;DA)\n");
    let err = fixtures::apply(&dir, &ldif::parse(&bad).unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("OU=Bad") && err.to_string().contains("nTSecurityDescriptor"),
        "{err}"
    );

    // set_sddl as an administrator, DACL only.
    Cmdlets::new(&dir, caller(&dir, "Administrator"))
        .set_sddl(
            &format!("OU=Delegated,{BASE}"),
            &format!("D:(A;;RPWPCCDCLCLORCWDWOSDDTSWCR;;;DA)(A;CI;GA;;;{alice_sid})"),
            acl::DACL_ONLY,
        )
        .unwrap();
    dir.modify(
        &alice,
        &format!("CN=bob,OU=Delegated,{BASE}"),
        m(ModOp::Replace, "description", s("y")),
    )
    .unwrap();
}
