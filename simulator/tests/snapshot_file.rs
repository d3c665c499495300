//! The snapshot file: a forest written and read back is the same forest (entries, secrets, RID
//! pools, random stream, clock), the bytes are deterministic, damaged files are refused with an
//! error (a checksum catches what still parses), and files are written new, 0600, whole.

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

/// An encoder of snapshot files: the compact one adsim writes, or the JSON one it wrote before.
type Encoder = fn(&Directory, &adsim_simulator::dsa::Snapshot) -> Vec<u8>;

#[test]
fn a_forest_survives_the_file() {
    let compact: (Encoder, &[u8]) = (file::encode, b"adsim-snapshot 3 ");
    let json: (Encoder, &[u8]) = (
        file::encode_json,
        br#"{"format":"adsim-snapshot","version":2,"contains_secrets":true,"sha256":""#,
    );
    for (encode, head) in [compact, json] {
        survives(encode, head);
    }
}

fn survives(encode: Encoder, head: &[u8]) {
    let dir = forest();
    let snap = dir.snapshot();
    let bytes = encode(&dir, &snap);
    assert_eq!(bytes, encode(&dir, &snap), "deterministic");
    assert!(bytes.starts_with(head));

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
    // A re-encoded copy is byte-identical.
    assert_eq!(encode(&back, &back.snapshot()), encode(&dir, &dir.snapshot()));
    // The password still works, through the same bind path clients use (last: a wrong
    // password is recorded in badPwdCount, so the copies differ afterwards).
    back.simple_bind("CORP\\alice", b"Alice-Passw0rd!").unwrap();
    assert!(back.simple_bind("CORP\\alice", b"Alice-Passw0rd?").is_err());
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

/// The test forest's file in the JSON layout (version 2, what adsim wrote before the compact
/// format, and still reads), encoded once.
fn encoded() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = forest();
        file::encode_json(&dir, &dir.snapshot())
    })
}

/// The file's `content` (what the checksum covers).
fn content() -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(encoded()).unwrap();
    v["content"].clone()
}

/// The test forest's content edited, in a file with a valid checksum: what the structural
/// checks behind the checksum see.
fn edited(edit: impl Fn(&mut serde_json::Value)) -> Result<(), SnapshotFileError> {
    let mut v = content();
    edit(&mut v);
    file::decode(&file::seal(&serde_json::to_vec(&v).unwrap())).map(|_| ())
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
    let mut v: serde_json::Value = serde_json::from_slice(encoded()).unwrap();
    v["version"] = 3.into();
    assert!(matches!(
        file::decode(&serde_json::to_vec(&v).unwrap()),
        Err(SnapshotFileError::UnsupportedVersion(3))
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

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("adsim-snapfile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn corrupt_message(r: Result<file::SavedForest, SnapshotFileError>) -> String {
    match r {
        Err(e @ SnapshotFileError::Corrupt { .. }) => e.to_string(),
        Err(e) => panic!("not reported as corrupt: {e}"),
        Ok(_) => panic!("a damaged file was loaded"),
    }
}

/// Where an nTSecurityDescriptor's value starts in the file.
const SD_VALUE: &str = r#"{"name":"nTSecurityDescriptor","values":[{"base64":""#;

#[test]
fn a_flipped_byte_in_a_security_descriptor_is_refused() {
    let dir = temp_dir("flip");
    let path = dir.join("forest.json");
    std::fs::write(&path, encoded()).unwrap();
    assert!(file::read(&path).is_ok());

    // One base64 character of the domain head's nTSecurityDescriptor, changed to another valid
    // one: still JSON, still base64, still a security descriptor shape.
    let text = String::from_utf8(encoded().to_vec()).unwrap();
    let at = text.find(SD_VALUE).unwrap() + SD_VALUE.len() + 8;
    let mut bytes = encoded().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&path, &bytes).unwrap();
    let message = corrupt_message(file::read(&path));
    assert_eq!(
        message,
        format!("snapshot file {} is corrupt: checksum mismatch", path.display())
    );
    // The same change with the checksum left out of the picture: the structure is fine, so
    // only the checksum can catch it.
    let mut v = content();
    let s = serde_json::to_string(&v).unwrap();
    let i = s.find(SD_VALUE).unwrap() + SD_VALUE.len() + 8;
    let mut flipped = s.into_bytes();
    flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
    v = serde_json::from_slice(&flipped).unwrap();
    assert!(file::decode(&file::seal(&serde_json::to_vec(&v).unwrap())).is_ok());

    // A flipped byte in the checksum itself, or in the header.
    let mut bytes = encoded().to_vec();
    let sum_at = br#"{"format":"adsim-snapshot","version":2,"contains_secrets":true,"sha256":""#.len();
    bytes[sum_at] = if bytes[sum_at] == b'0' { b'1' } else { b'0' };
    assert!(corrupt_message(file::decode(&bytes)).ends_with("is corrupt: checksum mismatch"));
    let mut bytes = encoded().to_vec();
    bytes[45] ^= 0x20;
    assert!(file::decode(&bytes).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_truncated_file_is_refused_as_corrupt() {
    let bytes = encoded();
    for cut in [bytes.len() - 1, bytes.len() - 2, bytes.len() / 2, 200] {
        let message = corrupt_message(file::decode_named(&bytes[..cut], "prepared.json"));
        assert_eq!(
            message, "snapshot file prepared.json is corrupt: checksum mismatch",
            "cut at {cut}"
        );
    }
    // Reformatted (by jq, an editor…): the checksum cannot be checked, so it is refused too.
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let pretty = serde_json::to_vec_pretty(&v).unwrap();
    assert!(corrupt_message(file::decode(&pretty)).contains("not in the layout adsim writes"));
}

#[test]
fn version_1_files_are_still_read() {
    let mut v1 = serde_json::json!({"format": "adsim-snapshot", "version": 1, "contains_secrets": true});
    for (k, val) in content().as_object().unwrap() {
        v1[k] = val.clone();
    }
    let back = file::decode(&serde_json::to_vec(&v1).unwrap())
        .unwrap()
        .into_directory();
    let dir = file::decode(encoded()).unwrap().into_directory();
    assert_eq!(fixtures::export(&back), fixtures::export(&dir));
    // In the field order version 1 was written in (format and version first, compact): not
    // taken for a damaged version 2 header (found by the fuzz corpus check).
    let content = serde_json::to_vec(&content()).unwrap();
    let mut compact = br#"{"format":"adsim-snapshot","version":1,"contains_secrets":true,"#.to_vec();
    compact.extend_from_slice(&content[1..]);
    let back = file::decode(&compact).unwrap().into_directory();
    assert_eq!(fixtures::export(&back), fixtures::export(&dir));
    v1["surprise"] = true.into();
    assert!(matches!(
        file::decode(&serde_json::to_vec(&v1).unwrap()),
        Err(SnapshotFileError::Malformed(_))
    ));
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn files_are_written_new_owner_only_and_leave_no_temporary_file() {
    let dir = temp_dir("new");
    let path = dir.join("snap.json");
    file::write_new(&path, b"first").unwrap();
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);

    // An existing name is refused, and the file stays as it was.
    let e = file::write_new(&path, b"second").unwrap_err();
    assert!(
        matches!(&e, SnapshotFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
        "{e}"
    );
    assert!(e.to_string().contains("never overwritten"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"first");

    // A pre-created file with wider permissions is not reused either.
    let open = dir.join("open.json");
    std::fs::write(&open, b"").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    assert!(file::write_new(&open, b"secret").is_err());
    assert_eq!(std::fs::read(&open).unwrap(), b"");

    // A symlink at the name is not followed, not even a dangling one.
    #[cfg(unix)]
    {
        let target = dir.join("elsewhere.json");
        std::os::unix::fs::symlink(&target, dir.join("link.json")).unwrap();
        assert!(file::write_new(&dir.join("link.json"), b"secret").is_err());
        assert!(!target.exists(), "nothing written through the link");
    }

    // No directory: an error naming the path.
    let e = file::write_new(&dir.join("missing").join("x.json"), b"x").unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: &[&str] = if cfg!(unix) {
        &["link.json", "open.json", "snap.json"]
    } else {
        &["open.json", "snap.json"]
    };
    assert_eq!(names, expected, "no temporary file is left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stale_temporary_files_are_removed_and_nothing_else() {
    let dir = temp_dir("stale");
    let stale = ["snap.json.tmp-0123456789abcdef", "x.tmp-ffffffffffffffff"];
    let kept = [
        "snap.json",
        "notes.tmp-0123",
        "x.tmp-0123456789ABCDEF",
        ".tmp-0123456789abcdef",
        "x.tmp-0123456789abcdef0",
    ];
    for n in stale.iter().chain(&kept) {
        std::fs::write(dir.join(n), b"secret").unwrap();
    }
    std::fs::create_dir(dir.join("sub.tmp-0123456789abcdee")).unwrap();
    assert_eq!(file::remove_stale_temp_files(&dir).unwrap(), stale.len());
    for n in stale {
        assert!(!dir.join(n).exists(), "{n} removed");
    }
    for n in kept {
        assert!(dir.join(n).exists(), "{n} kept");
    }
    assert!(
        dir.join("sub.tmp-0123456789abcdee").is_dir(),
        "directories are not ours"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_kerberos_policy_travels_in_the_file_and_old_files_get_the_defaults() {
    use adsim_simulator::dsa::gpo::KerberosPolicy;
    let dir = forest();
    let tight = KerberosPolicy {
        max_ticket_age_hours: 2,
        max_service_age_minutes: 30,
        max_clock_skew_minutes: 1,
        ..Default::default()
    };
    dir.set_kerberos_policy(&Caller::system(), 1, tight).unwrap();
    let back = file::decode(&file::encode(&dir, &dir.snapshot()))
        .unwrap()
        .into_directory();
    assert_eq!(back.kerberos_policy(1), tight, "the child domain's policy");
    assert_eq!(back.kerberos_policy(0), KerberosPolicy::default());
    // The container's version moved with the template (MS-GPOL: GPT.INI and versionNumber).
    let st = back.read();
    let gpc = adsim_simulator::dsa::gpo::container_dn(&back.forest.domains[1].dn);
    let version = st.store.get_by_dn(&gpc).unwrap().first_i64("versionNumber");
    assert_eq!(version, Some(4));
    let ini = adsim_simulator::dsa::gpo::gpt_ini_path(&back.forest.domains[1].dns_name);
    assert_eq!(st.sysvol.get(&ini), Some("[General]\r\nVersion=4\r\n"));
    drop(st);

    // A file written before SYSVOL was modelled: no `sysvol`, the defaults apply.
    let mut v = content();
    v.as_object_mut().unwrap().remove("sysvol");
    let old = file::decode(&file::seal(&serde_json::to_vec(&v).unwrap()))
        .unwrap()
        .into_directory();
    assert_eq!(old.kerberos_policy(0), KerberosPolicy::default());
}

/// The streamed writer gives the bytes `encode` gives (the compact format), and the streamed
/// reader refuses what `decode` refuses, with the same messages: a truncated file, a flipped
/// byte, a damaged header; version 2 and version 1 files are still read from disk.
#[test]
fn streamed_files_are_the_encoded_bytes_and_are_checked_alike() {
    let dir = forest();
    let snap = dir.snapshot();
    let tmp = temp_dir("stream");
    let path = tmp.join("forest.snap");
    file::write(&dir, &snap, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes, file::encode(&dir, &snap));
    assert!(bytes.starts_with(b"adsim-snapshot 3 "));
    let back = file::read(&path).unwrap().into_directory();
    assert_eq!(fixtures::export(&back), fixtures::export(&dir));
    let damaged = tmp.join("damaged.snap");
    let expect = format!(
        "snapshot file {} is corrupt: checksum mismatch",
        damaged.display()
    );
    let mut flipped = bytes.clone();
    let at = bytes.len() / 2;
    flipped[at] ^= 0x01;
    let mut with_byte = bytes.clone();
    with_byte.push(b'\n');
    for (what, content) in [
        ("last byte cut", bytes[..bytes.len() - 1].to_vec()),
        ("half", bytes[..bytes.len() / 2].to_vec()),
        ("header only", bytes[..83].to_vec()),
        ("header cut", bytes[..50].to_vec()),
        ("flipped", flipped),
        ("a byte more", with_byte),
    ] {
        std::fs::write(&damaged, &content).unwrap();
        assert_eq!(corrupt_message(file::read(&damaged)), expect, "{what}");
        assert!(
            corrupt_message(file::decode(&content)).ends_with("is corrupt: checksum mismatch"),
            "{what}"
        );
        std::fs::remove_file(&damaged).unwrap();
    }
    // Another version in the same kind of header: named, not guessed at.
    let mut v4 = bytes.clone();
    v4[b"adsim-snapshot ".len()] = b'4';
    std::fs::write(&damaged, &v4).unwrap();
    assert!(matches!(
        file::read(&damaged),
        Err(SnapshotFileError::UnsupportedVersion(4))
    ));
    std::fs::remove_file(&damaged).unwrap();

    // The JSON layout (version 2) as before.
    let path = tmp.join("forest.json");
    let bytes = encoded().to_vec();
    let dir = file::decode(&bytes).unwrap().into_directory();
    std::fs::write(&path, &bytes).unwrap();
    let back = file::read(&path).unwrap().into_directory();
    assert_eq!(fixtures::export(&back), fixtures::export(&dir));

    let damaged = tmp.join("damaged.json");
    let expect = format!(
        "snapshot file {} is corrupt: checksum mismatch",
        damaged.display()
    );
    let text = String::from_utf8(bytes.clone()).unwrap();
    let flip_at = text.find(SD_VALUE).unwrap() + SD_VALUE.len() + 8;
    let mut flipped = bytes.clone();
    flipped[flip_at] = if flipped[flip_at] == b'A' { b'B' } else { b'A' };
    let mut with_space = bytes.clone();
    with_space.extend_from_slice(b"\n");
    for (what, content) in [
        ("last byte cut", bytes[..bytes.len() - 1].to_vec()),
        ("half", bytes[..bytes.len() / 2].to_vec()),
        ("header only", bytes[..150].to_vec()),
        ("flipped", flipped),
    ] {
        std::fs::write(&damaged, &content).unwrap();
        assert_eq!(corrupt_message(file::read(&damaged)), expect, "{what}");
        std::fs::remove_file(&damaged).unwrap();
    }
    std::fs::write(&damaged, &with_space).unwrap();
    assert!(file::read(&damaged).is_ok(), "trailing whitespace is allowed");
    std::fs::remove_file(&damaged).unwrap();
    let mut header = bytes.clone();
    header[45] ^= 0x20;
    std::fs::write(&damaged, &header).unwrap();
    assert!(file::read(&damaged).is_err());
    std::fs::remove_file(&damaged).unwrap();

    let mut v1 = serde_json::json!({"format": "adsim-snapshot", "version": 1, "contains_secrets": true});
    for (k, val) in content().as_object().unwrap() {
        v1[k] = val.clone();
    }
    std::fs::write(&damaged, serde_json::to_vec(&v1).unwrap()).unwrap();
    assert!(file::read(&damaged).is_ok());
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// A compact (version 3) file: `body` behind a header with its checksum, as adsim writes it.
fn sealed_compact(body: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut out = format!("adsim-snapshot 3 {}\n", hex::encode(sha2::Sha256::digest(body))).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Adds `n` users `{prefix}0`, `{prefix}1`, … under CN=Users, each also with `more`.
fn add_users(dir: &Directory, prefix: &str, n: usize, more: &[(&str, &[u8])]) {
    for i in 0..n {
        let mut attrs: Vec<(String, Vec<Vec<u8>>)> = vec![
            ("objectClass".into(), vec![b"user".to_vec()]),
            ("sAMAccountName".into(), vec![format!("{prefix}{i}").into_bytes()]),
        ];
        attrs.extend(more.iter().map(|(a, v)| (a.to_string(), vec![v.to_vec()])));
        dir.add(
            &Caller::system(),
            &format!("CN={prefix}{i},CN=Users,DC=corp,DC=example,DC=test"),
            attrs,
        )
        .unwrap();
    }
}

/// The compact format writes each distinct security descriptor and each attribute name once
/// (100 users created alike cost one descriptor, not 100), is several times smaller than the
/// JSON layout, and a body that passes the checksum but is not what adsim writes (cut short
/// anywhere, an unknown record, a reference to an undefined name or descriptor, bytes after
/// the end) is refused as malformed, never half-read or a panic.
#[test]
fn compact_files_share_descriptors_and_refuse_bad_bodies() {
    let dir = forest();
    let sd_count = |bytes: &[u8]| {
        let d = file::decode(bytes).unwrap().into_directory();
        let st = d.read();
        let mut distinct: Vec<Vec<u8>> = st
            .store
            .iter()
            .filter_map(|e| e.first("nTSecurityDescriptor").map(<[u8]>::to_vec))
            .collect();
        distinct.sort();
        distinct.dedup();
        distinct.len()
    };
    let before = file::encode(&dir, &dir.snapshot());
    add_users(&dir, "bulk", 100, &[]);
    let after = file::encode(&dir, &dir.snapshot());
    let json = file::encode_json(&dir, &dir.snapshot());
    assert!(
        sd_count(&after) <= sd_count(&before) + 1,
        "the users share one descriptor"
    );
    let per_user = (after.len() - before.len()) / 100;
    assert!(per_user < 600, "{per_user} bytes per user");
    assert!(after.len() * 3 < json.len(), "{} vs {}", after.len(), json.len());
    // Read back, the users share one stored descriptor again.
    let back = file::decode(&after).unwrap().into_directory();
    {
        let st = back.read();
        let sd = |n: u32| {
            let dn =
                adsim_simulator::model::Dn::parse(&format!("CN=bulk{n},CN=Users,DC=corp,DC=example,DC=test"))
                    .unwrap();
            st.store
                .get_by_dn(&dn)
                .unwrap()
                .get_shared("nTSecurityDescriptor")
                .unwrap()
                .clone()
        };
        assert!(std::sync::Arc::ptr_eq(&sd(1), &sd(99)));
    }
    assert_eq!(fixtures::export(&back), fixtures::export(&dir));

    let body = &after[b"adsim-snapshot 3 \n".len() + 64..];
    let malformed = |b: &[u8]| {
        matches!(
            file::decode(&sealed_compact(b)),
            Err(SnapshotFileError::Malformed(_))
        )
    };
    assert!(file::decode(&sealed_compact(body)).is_ok());
    for cut in (0..body.len()).step_by(body.len() / 300 + 1) {
        assert!(malformed(&body[..cut]), "cut at {cut}");
    }
    let mut extra = body.to_vec();
    extra.push(0);
    assert!(malformed(&extra), "bytes after the end");
    // The content object's length, then the first record: an unknown tag, and an entry that
    // names attribute #200 when no name is defined.
    let len_bytes = body.iter().position(|b| b & 0x80 == 0).unwrap() + 1;
    let content_len = body[..len_bytes]
        .iter()
        .rev()
        .fold(0usize, |acc, b| (acc << 7) | usize::from(b & 0x7f));
    let first = len_bytes + content_len;
    assert!(content_len > 100 && body[first] == 1, "a name record comes first");
    let mut unknown = body.to_vec();
    unknown[first] = 9;
    assert!(malformed(&unknown));
    let mut undefined = body[..first].to_vec();
    undefined.extend_from_slice(&[3, 1, 0, 7]);
    undefined.extend_from_slice(b"DC=x,DC=y");
    undefined.extend_from_slice(&[1, 200, 1, 1, b'x', 0, 0, 0]);
    assert!(malformed(&undefined));
}

/// An attribute whose values repeat from one entry to the next (here a `description` fifty
/// users share; in a real forest the class chain, the SAM defaults, timestamps of one second)
/// is written once more as a shared record and then referred to by number; read back, the
/// forest is the same, and re-encoding gives the same bytes.
#[test]
fn repeated_attribute_values_are_written_once() {
    let dir = forest();
    let marker = b"a description fifty users share";
    add_users(&dir, "same", 50, &[("description", marker)]);
    let bytes = file::encode(&dir, &dir.snapshot());
    let count = bytes.windows(marker.len()).filter(|w| w == marker).count();
    // The first user's copy, written before it repeats, and the shared record: not fifty.
    assert_eq!(count, 2, "the description is written {count} times");
    let back = file::decode(&bytes).unwrap().into_directory();
    assert_eq!(fixtures::export(&back), fixtures::export(&dir));
    assert_eq!(file::encode(&back, &back.snapshot()), bytes);
}
