//! The snapshot file: a forest written and read back is the same forest (entries, secrets, RID
//! pools, random stream, clock), the bytes are deterministic, and damaged files are refused
//! with an error.

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::{fixtures, Caller, ChildDomainConfig, Directory, ForestConfig};
use adsim_simulator::snapshot::file::{self, SnapshotFileError};
use rand::RngCore;

fn forest() -> std::sync::Arc<Directory> {
    let dir = Directory::provision(&ForestConfig {
        seed: Some(21),
        start_time: NtTime::parse_rfc3339("2026-03-01T12:00:00Z"),
        children: vec![ChildDomainConfig {
            label: "child".into(),
            netbios: None,
        }],
        ..Default::default()
    })
    .unwrap();
    let pwd: Vec<u8> = "\"Alice-Passw0rd!\""
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let s = |v: &str| vec![v.as_bytes().to_vec()];
    let sys = Caller::system();
    dir.add(
        &sys,
        "CN=Alice \\, \"Q\" Adams,CN=Users,DC=corp,DC=example,DC=test",
        vec![
            ("objectClass".into(), s("user")),
            ("sAMAccountName".into(), s("alice")),
            ("userAccountControl".into(), s("512")),
            ("jpegPhoto".into(), vec![vec![0xff, 0x00, 0x80]]),
            ("unicodePwd".into(), vec![pwd]),
        ],
    )
    .unwrap();
    dir.add(
        &sys,
        "CN=Team,CN=Users,DC=corp,DC=example,DC=test",
        vec![
            ("objectClass".into(), s("group")),
            (
                "member".into(),
                s("CN=Alice \\, \"Q\" Adams,CN=Users,DC=corp,DC=example,DC=test"),
            ),
        ],
    )
    .unwrap();
    dir
}

#[test]
fn a_forest_survives_the_file() {
    let dir = forest();
    let snap = dir.snapshot();
    let bytes = file::encode(&dir, &snap);
    assert_eq!(bytes, file::encode(&dir, &snap), "deterministic");
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with(r#"{"format":"adsim-snapshot","version":1,"contains_secrets":true"#));

    let back = file::decode(&bytes).unwrap().into_directory();
    assert_eq!(fixtures::export(&back), fixtures::export(&dir));
    assert_eq!(back.clock.now(), dir.clock.now());
    assert!(back.clock.is_frozen());
    assert_eq!(back.seed, 21);
    assert_eq!(back.forest.domains.len(), 2);
    assert_eq!(back.forest.domains[1].sid, dir.forest.domains[1].sid);
    {
        let (a, b) = (dir.read(), back.read());
        assert_eq!(a.next_rid, b.next_rid);
        assert_eq!(a.store.len(), b.store.len());
        assert_eq!(a.store.next_id(), b.store.next_id());
        assert_eq!(a.store.highest_usn(), b.store.highest_usn());
        for e in a.store.iter() {
            let other = b.store.get(e.id).expect("same ids");
            assert_eq!(other.dn, e.dn);
            assert_eq!(other.attrs, e.attrs);
            assert_eq!(other.links, e.links);
            assert_eq!(other.secrets, e.secrets, "{}", e.dn);
        }
    }
    // The random stream continues where it was.
    assert_eq!(dir.write().rng.next_u64(), back.write().rng.next_u64());
    // The password still works, through the same bind path clients use.
    back.simple_bind("CORP\\alice", b"Alice-Passw0rd!").unwrap();
    assert!(back.simple_bind("CORP\\alice", b"Alice-Passw0rd?").is_err());
    // And a re-encoded copy is byte-identical.
    assert_eq!(
        file::encode(&back, &back.snapshot()),
        file::encode(&dir, &dir.snapshot())
    );
}

#[test]
fn a_running_clock_keeps_its_offset_from_host_time() {
    let dir = Directory::provision(&ForestConfig {
        seed: Some(2),
        ..Default::default()
    })
    .unwrap();
    dir.clock.advance_seconds(-7 * 86_400);
    let back = file::decode(&file::encode(&dir, &dir.snapshot()))
        .unwrap()
        .into_directory();
    assert!(!back.clock.is_frozen());
    let behind = NtTime::from_system_time(std::time::SystemTime::now()).unix_seconds()
        - back.clock.now().unix_seconds();
    assert!((7 * 86_400 - 5..=7 * 86_400 + 5).contains(&behind), "{behind}");
}

/// The test forest's file, encoded once.
fn encoded() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = forest();
        file::encode(&dir, &dir.snapshot())
    })
}

fn edited(edit: impl Fn(&mut serde_json::Value)) -> Result<(), SnapshotFileError> {
    let mut v: serde_json::Value = serde_json::from_slice(encoded()).unwrap();
    edit(&mut v);
    file::decode(&serde_json::to_vec(&v).unwrap()).map(|_| ())
}

fn entry_with<'a>(v: &'a mut serde_json::Value, dn_prefix: &str) -> &'a mut serde_json::Value {
    v["store"]["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["dn"].as_str().unwrap().starts_with(dn_prefix))
        .unwrap()
}

#[test]
fn damaged_files_are_refused() {
    assert!(matches!(
        file::decode(b"not json"),
        Err(SnapshotFileError::NotASnapshot(_))
    ));
    assert!(matches!(
        file::decode(br#"{"format":"something-else","version":1}"#),
        Err(SnapshotFileError::NotASnapshot(_))
    ));
    assert!(matches!(
        edited(|v| v["version"] = 2.into()),
        Err(SnapshotFileError::UnsupportedVersion(2))
    ));
    let malformed = |r: Result<(), SnapshotFileError>| matches!(r, Err(SnapshotFileError::Malformed(_)));
    assert!(malformed(edited(|v| v["surprise"] = true.into())));
    assert!(malformed(edited(|v| v["rng"]["seed"] = "00".into())));
    assert!(malformed(edited(|v| v["rid_pools"] = serde_json::json!([1]))));
    assert!(malformed(edited(
        |v| v["forest"]["domains"][1]["sid"] = "S-1-x".into()
    )));
    assert!(malformed(edited(|v| {
        entry_with(v, "CN=Alice")["secrets"]["nt_hash"] = "abcd".into();
    })));
    assert!(malformed(edited(|v| {
        entry_with(v, "CN=Team")["links"]["member"] = serde_json::json!([999_999]);
    })));
    assert!(malformed(edited(|v| {
        let id = entry_with(v, "CN=Alice")["id"].clone();
        entry_with(v, "CN=Team")["id"] = id;
    })));
    assert!(malformed(edited(|v| {
        entry_with(v, "CN=Team")["parent"] = serde_json::json!(999_999);
    })));
    assert!(malformed(edited(|v| {
        let entries = v["store"]["entries"].as_array_mut().unwrap();
        entries.retain(|e| !e["dn"].as_str().unwrap().starts_with("CN=Configuration"));
    })));
    assert!(malformed(edited(|v| {
        entry_with(v, "CN=Alice")["attrs"][0]["values"] = serde_json::json!([{"base64": "!!"}]);
    })));

    // Truncated anywhere: an error, never a panic.
    let bytes = encoded();
    for cut in (0..bytes.len()).step_by(bytes.len() / 40 + 1) {
        assert!(file::decode(&bytes[..cut]).is_err());
    }
}

#[test]
fn write_then_read() {
    let dir = forest();
    let path = std::env::temp_dir().join(format!("adsim-snapfile-{}.json", std::process::id()));
    file::write(&dir, &dir.snapshot(), &path).unwrap();
    let back = file::read(&path).unwrap().into_directory();
    assert_eq!(fixtures::export(&back), fixtures::export(&dir));
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(file::read(&path), Err(SnapshotFileError::Io { .. })));
}
