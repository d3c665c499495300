//! The data directory (`store::durable`) in process: after every kind of directory write (add,
//! modify, password set, rename of a subtree, delete with its back-links, a KDS root key, a
//! refused write that drew an id, a clock move, a snapshot restore), the forest read back from
//! the directory is byte for byte the forest in memory; one process at a time.

use std::path::PathBuf;
use std::sync::Arc;

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::request::{ModOp, Modification};
use adsim_simulator::dsa::{Caller, Directory, ForestConfig};
use adsim_simulator::kds::Effective;
use adsim_simulator::snapshot::file;
use adsim_simulator::store::durable::{DataDir, DataDirError};

const BASE: &str = "DC=corp,DC=example,DC=test";

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("adsim-datadir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(v: &str) -> Vec<Vec<u8>> {
    vec![v.as_bytes().to_vec()]
}

fn pwd(p: &str) -> Vec<Vec<u8>> {
    vec![format!("\"{p}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()]
}

fn replace(attr: &str, values: Vec<Vec<u8>>) -> Modification {
    Modification {
        op: ModOp::Replace,
        attr: attr.into(),
        values,
    }
}

/// The forest as a snapshot file's bytes: every entry, secret, counter and the clock.
fn image(dir: &Directory) -> Vec<u8> {
    file::encode(dir, &dir.snapshot())
}

fn reopen(path: &std::path::Path) -> Arc<Directory> {
    let data = DataDir::open(path).unwrap();
    data.load().unwrap().expect("a forest").into_directory()
}

#[test]
fn every_kind_of_write_reads_back_identically() {
    let scratch = Scratch::new("writes");
    let dir = Directory::provision(&ForestConfig {
        seed: Some(5),
        start_time: NtTime::parse_rfc3339("2026-05-01T08:00:00Z"),
        ..Default::default()
    })
    .unwrap();
    let data = Arc::new(DataDir::open(&scratch.0).unwrap());
    assert!(data.load().unwrap().is_none(), "a new directory is empty");
    data.write_all(&dir, &dir.read()).unwrap();
    dir.attach_data_dir(data.clone()).unwrap();
    let sys = Caller::system();
    let ou = format!("OU=Staff,{BASE}");
    let alice = format!("CN=alice,{ou}");
    let bob = format!("CN=bob,{ou}");
    let team = format!("CN=Team,CN=Users,{BASE}");

    dir.add(&sys, &ou, vec![("objectClass".into(), s("organizationalUnit"))])
        .unwrap();
    for (dn, sam) in [(&alice, "alice"), (&bob, "bob")] {
        dir.add(
            &sys,
            dn,
            vec![
                ("objectClass".into(), s("user")),
                ("sAMAccountName".into(), s(sam)),
                ("unicodePwd".into(), pwd("First-Passw0rd!")),
            ],
        )
        .unwrap();
    }
    dir.add(
        &sys,
        &team,
        vec![
            ("objectClass".into(), s("group")),
            (
                "member".into(),
                vec![alice.clone().into_bytes(), bob.clone().into_bytes()],
            ),
        ],
    )
    .unwrap();
    let before_restore = dir.snapshot();
    dir.modify(&sys, &alice, vec![replace("description", s("kept"))])
        .unwrap();
    dir.modify(&sys, &alice, vec![replace("unicodePwd", pwd("Second-Passw0rd!"))])
        .unwrap();
    // A subtree move rewrites every DN below it.
    dir.modify_dn(&sys, &ou, "OU=People", true, None).unwrap();
    let alice = format!("CN=alice,OU=People,{BASE}");
    let bob = format!("CN=bob,OU=People,{BASE}");
    // A delete also takes the deleted entry out of the group's member list.
    dir.delete(&sys, &bob).unwrap();
    dir.add_kds_root_key(&sys, Effective::Immediately).unwrap();
    // Refused: the DN exists (the attempt may still draw an entry id and random bytes).
    assert!(dir
        .add(&sys, &alice, vec![("objectClass".into(), s("user"))])
        .is_err());
    dir.advance_clock(86_400).unwrap();
    let expected = image(&dir);
    drop(dir);
    drop(data);
    let back = reopen(&scratch.0);
    assert_eq!(
        String::from_utf8_lossy(&image(&back)),
        String::from_utf8_lossy(&expected)
    );
    assert!(back
        .read()
        .store
        .get_by_dn(&adsim_simulator::model::Dn::parse(&team).unwrap())
        .is_some_and(|t| t.links.get("member").is_some_and(|m| m.len() == 1)));

    // A restore rewrites the whole forest; later writes follow it.
    let data = Arc::new(DataDir::open(&scratch.0).unwrap());
    let dir = data.load().unwrap().unwrap().into_directory();
    dir.attach_data_dir(data.clone()).unwrap();
    dir.try_restore(&before_restore).unwrap();
    dir.modify(&sys, &team, vec![replace("description", s("after the restore"))])
        .unwrap();
    let expected = image(&dir);
    drop(dir);
    drop(data);
    assert_eq!(image(&reopen(&scratch.0)), expected);
}

#[test]
fn one_process_at_a_time() {
    let scratch = Scratch::new("lock");
    let first = DataDir::open(&scratch.0).unwrap();
    match DataDir::open(&scratch.0) {
        Err(e @ DataDirError::InUse { .. }) => {
            assert!(e.to_string().contains("adsim.redb is locked"), "{e}")
        }
        other => panic!("a second open: {other:?}"),
    }
    drop(first);
    DataDir::open(&scratch.0).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&scratch.0), 0o700);
        assert_eq!(mode(&scratch.0.join("adsim.redb")), 0o600);
    }
}
