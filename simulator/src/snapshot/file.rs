//! The snapshot file: a whole forest in one file, so CI can start from a prepared forest
//! (`adsim serve --from-snapshot FILE`).
//!
//! adsim writes version 3, the compact encoding described in [`super::compact`]: its header
//! line, then the content object below (without entries) and the entries as binary records,
//! names and security descriptors written once. Versions 1 and 2, the JSON layouts below that
//! adsim wrote before, are still read ([`encode_json`] still writes version 2; a data
//! directory keeps its records in that JSON shape, see `store::durable`).
//!
//! **The file contains secrets**: every account's NT hash and Kerberos keys, the KDS root keys
//! (from which every gMSA password derives) and the random stream's state. It is written with
//! mode 0600 on Unix; treat it like a keytab.
//!
//! # The JSON layout (version 2)
//!
//! ```json
//! {"format":"adsim-snapshot","version":2,"contains_secrets":true,"sha256":"<64 hex>","content":{
//!   "forest": {"root_dns": "corp.example.test", "root_dn": "DC=corp,…", "config_dn": "…",
//!              "schema_dn": "…", "domains": [{"index": 0, "dns_name": "…", "netbios": "CORP",
//!              "realm": "…", "dn": "…", "sid": "S-1-5-21-…", "parent": null, "dc_name": "DC1",
//!              "dc_fqdn": "…", "dc_dn": "…", "server_dn": "…", "ntds_settings_dn": "…"}]},
//!   "seed": 42,
//!   "clock": {"frozen": true, "ticks": 134120808000000000, "now": "2026-01-05T10:00:00Z"},
//!   "rid_pools": [1105],
//!   "rng": {"seed": "<64 hex>", "stream": 0, "word_pos": "1234"},
//!   "sysvol": {"corp.example.test/Policies/{31B2F340-…}/GPT.INI": "[General]\r\nVersion=3\r\n", …},
//!   "store": {"next_id": 200, "usn": 5000, "entries": [
//!     {"id": 7, "parent": 3, "dn": "CN=alice,CN=Users,…",
//!      "attrs": [{"name": "cn", "values": ["alice"]}, {"name": "objectSid", "values": [{"base64": "AQUAAA…"}]}],
//!      "links": {"member": [9]},
//!      "secrets": {"nt_hash": "<hex>", "aes128": "<hex>", "aes256": "<hex>", "kvno": 1, "previous": null}}]}
//! }}
//! ```
//!
//! * `sha256` is the SHA-256 of the bytes of `content` exactly as they stand in the file; the
//!   header is written byte for byte as above (no spaces), so a reader finds `content` without
//!   re-serialising. A file whose content does not match (a flipped byte, a truncated write, an
//!   edit) is refused: `snapshot file X is corrupt: checksum mismatch`.
//! * Version 1 files (the same content's fields at the top level, beside `format`, `version` and
//!   `contains_secrets`, without a checksum) are still read.
//! * `clock.ticks` is the frozen instant (NTTIME) when `frozen`, else the running clock's offset
//!   from host time in 100 ns ticks (a running forest keeps tracking host time, as Kerberos
//!   clients expect); `now` is informational.
//! * Attribute values are JSON strings when they are UTF-8, else `{"base64": …}`; `links` hold
//!   entry ids (AD's DNTs), which is why `id` and `next_id` are kept.
//! * `sysvol` holds the DCs' SYSVOL files by path below the share, as text (the Default
//!   Domain Policy's GptTmpl.inf with the Kerberos policy, `dsa::gpo`); a file without it
//!   (written before SYSVOL was modelled) restores with the policies' defaults.
//! * `rng` is the ChaCha20 state (key, stream, word position), so SIDs, GUIDs and generated
//!   secrets drawn after a restore are the ones the original forest would have drawn.
//!
//! Readers refuse another `format`, a `version` they do not know, a checksum mismatch, unknown
//! fields and any inconsistent content (dangling links, duplicate DNs, bad hex) with an error,
//! never a panic.
//!
//! Files are written to `<name>.tmp-<16 hex>` beside the target (created new, mode 0600 from the
//! start), synced, then linked to the target name, which must not exist yet: a crash leaves at
//! most a temporary file, which [`remove_stale_temp_files`] deletes when the server next starts.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{Clock, ClockSetting};
use crate::dsa::{DirState, Directory, DomainInfo, ForestInfo, Snapshot};
use crate::model::{AccountSecrets, Attr, Dn, Entry, EntryId};
use crate::security::Sid;
use crate::store::Store;

pub const FORMAT: &str = "adsim-snapshot";
/// The version written (the compact encoding, [`super::compact`]); versions 1 (JSON, no
/// checksum) and 2 (JSON with a checksum) are still read.
pub const VERSION: u32 = super::compact::VERSION;
/// The JSON layout's version, still written by [`encode_json`] (and the data directory's
/// records) and read.
pub const JSON_VERSION: u32 = 2;

/// The bytes every version 2 file starts with, then the checksum's 64 hex digits, then
/// [`CONTENT_KEY`], the content and a closing `}`.
const V2_HEAD: &[u8] = br#"{"format":"adsim-snapshot","version":2,"contains_secrets":true,"sha256":""#;
const CONTENT_KEY: &[u8] = br#"","content":"#;
/// What identifies a version 2 file: [`V2_HEAD`] up to the version number.
const V2_PREFIX: &[u8] = br#"{"format":"adsim-snapshot","version":2,"#;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("not an adsim snapshot file: {0}")]
    NotASnapshot(String),
    #[error("snapshot file version {0} is not supported (this adsim reads versions 1, {JSON_VERSION} and {VERSION})")]
    UnsupportedVersion(u32),
    #[error("snapshot file {file} is corrupt: {reason}")]
    Corrupt { file: String, reason: String },
    #[error("malformed snapshot file: {0}")]
    Malformed(String),
}

pub(super) fn malformed(what: impl Into<String>) -> SnapshotFileError {
    SnapshotFileError::Malformed(what.into())
}

/// A forest read back from a file, ready to serve.
pub struct SavedForest {
    pub forest: ForestInfo,
    pub seed: u64,
    pub clock: ClockSetting,
    pub state: DirState,
}

impl SavedForest {
    pub fn into_directory(self) -> Arc<Directory> {
        Directory::from_state(
            self.forest,
            self.seed,
            Clock::from_setting(self.clock),
            self.state,
        )
    }
}

/// Encodes a snapshot of `dir` (its forest shape and seed come from `dir`) in the compact
/// format (version 3, [`super::compact`]); the bytes [`write`] puts in a file.
pub fn encode(dir: &Directory, snap: &Snapshot) -> Vec<u8> {
    let mut body = Vec::new();
    // Writing into memory cannot fail.
    let _ = write_body(&mut body, dir, snap);
    let sum = hex::encode(Sha256::digest(&body));
    let mut out = super::compact::header(sum.as_bytes());
    out.extend_from_slice(&body);
    out
}

/// Encodes a snapshot in the JSON layout of version 2 (what adsim wrote before the compact
/// format; still read, and kept for tools that want JSON).
pub fn encode_json(dir: &Directory, snap: &Snapshot) -> Vec<u8> {
    seal(&content_json(dir, snap, true))
}

/// The compact body (version 3): the content object without entries, then every entry in id
/// order, each written from the snapshot's O(1) copy of the store as it comes.
fn write_body(out: &mut impl std::io::Write, dir: &Directory, snap: &Snapshot) -> std::io::Result<()> {
    let store = &snap.state.store;
    let mut w = super::compact::Writer::start(&content_json(dir, snap, false));
    // (id, entry) pairs sorted in one contiguous vector: no lookup per entry, no pointer
    // chased per comparison.
    let mut entries: Vec<(EntryId, &Arc<Entry>)> = store.iter().map(|e| (e.id, e)).collect();
    entries.sort_unstable_by_key(|&(id, _)| id);
    for (_, e) in entries {
        w.entry(out, e)?;
    }
    w.finish(out)
}

/// The content object of a snapshot file (see the format above) as JSON, with every entry or
/// with `store.entries` empty (a data directory keeps its entries one record each, see
/// `store::durable`).
pub(crate) fn content_json(dir: &Directory, snap: &Snapshot, with_entries: bool) -> Vec<u8> {
    let st = &snap.state;
    let mut entries: Vec<&Arc<Entry>> = if with_entries {
        st.store.iter().collect()
    } else {
        Vec::new()
    };
    entries.sort_by_key(|e| e.id);
    let content = ContentRef {
        forest: forest_out(&dir.forest),
        seed: dir.seed,
        clock: ClockOut {
            frozen: snap.clock.frozen,
            ticks: snap.clock.ticks,
            now: snap.clock_at.to_rfc3339(),
        },
        rid_pools: st.next_rid.clone(),
        rng: RngOut {
            seed: hex::encode(st.rng.get_seed()),
            stream: st.rng.get_stream(),
            word_pos: st.rng.get_word_pos().to_string(),
        },
        sysvol: st.sysvol.files(),
        store: StoreOut {
            next_id: st.store.next_id(),
            usn: st.store.highest_usn(),
            entries: entries.into_iter().map(|e| entry_out(e)).collect(),
        },
    };
    // Serializing plain data into memory cannot fail.
    serde_json::to_vec(&content).unwrap_or_default()
}

/// One entry as it stands in a snapshot file's `store.entries`, as JSON.
pub(crate) fn entry_json(e: &Entry) -> Vec<u8> {
    serde_json::to_vec(&entry_out(e)).unwrap_or_default()
}

/// A forest from a content object whose `store.entries` is empty and the entries given apart
/// (each as [`entry_json`] wrote it), checked as a whole file's content is.
pub(crate) fn decode_parts<'a>(
    content: &[u8],
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<SavedForest, SnapshotFileError> {
    let mut content: ContentIn = serde_json::from_slice(content).map_err(|e| malformed(e.to_string()))?;
    if !content.store.entries.is_empty() {
        return Err(malformed("the content holds entries of its own"));
    }
    for e in entries {
        content
            .store
            .entries
            .push(serde_json::from_slice(e).map_err(|e| malformed(format!("entry: {e}")))?);
    }
    decode_content(content)
}

/// A version 2 file around `content` (a JSON object's bytes): the header and its checksum.
pub fn seal(content: &[u8]) -> Vec<u8> {
    let sum = hex::encode(Sha256::digest(content));
    let mut out = Vec::with_capacity(V2_HEAD.len() + sum.len() + CONTENT_KEY.len() + content.len() + 1);
    out.extend_from_slice(V2_HEAD);
    out.extend_from_slice(sum.as_bytes());
    out.extend_from_slice(CONTENT_KEY);
    out.extend_from_slice(content);
    out.push(b'}');
    out
}

/// Writes the snapshot to `path`, a new file readable by the owner only (see [`write_new`]),
/// entry by entry through a buffer from the snapshot's O(1) copy of the store: the document is
/// never whole in memory. The checksum, which the header carries before the content, takes its
/// place last. The bytes are those [`encode`] gives.
pub fn write(dir: &Directory, snap: &Snapshot, path: &Path) -> Result<(), SnapshotFileError> {
    write_new_with(path, |f| write_streamed(f, dir, snap))
}

fn write_streamed(f: &mut std::fs::File, dir: &Directory, snap: &Snapshot) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    f.write_all(&super::compact::header(&[b'0'; 64]))?;
    // The body's writer hands on chunks of 128 KiB: no buffer in between.
    let mut body = Hashing {
        inner: &mut *f,
        sum: Sha256::new(),
    };
    write_body(&mut body, dir, snap)?;
    let sum = hex::encode(body.sum.finalize());
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&super::compact::header(sum.as_bytes()))
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    sum: Sha256,
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `bytes` to `path`, which must not exist yet (an existing file or symlink is refused,
/// never followed or overwritten): first to `<name>.tmp-<16 hex>` in the same directory, created
/// new with mode 0600 (whatever the umask) and synced, then linked to `path`, so `path` only
/// ever appears whole.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), SnapshotFileError> {
    write_new_with(path, |f| f.write_all(bytes))
}

/// [`write_new`] with the bytes written by `fill` into the new temporary file.
fn write_new_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), SnapshotFileError> {
    let io = |source| SnapshotFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| io(std::io::Error::other("the path names no file")))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!("{TEMP_MARK}{:016x}", rand::random::<u64>()));
    let tmp = path.with_file_name(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = options
        .open(&tmp)
        .and_then(|mut f| fill(&mut f).and_then(|_| f.sync_all()))
        .and_then(|_| publish(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    result.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => io(std::io::Error::new(
            e.kind(),
            "the file already exists (snapshot files are never overwritten)",
        )),
        _ => io(e),
    })
}

/// Gives the finished temporary file its name without replacing anything: a hard link fails
/// when the name exists; where links are not supported, a rename after checking.
fn publish(tmp: &Path, path: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => match std::fs::symlink_metadata(path) {
            Ok(_) => Err(std::io::ErrorKind::AlreadyExists.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::rename(tmp, path),
            Err(e) => Err(e),
        },
    }
}

const TEMP_MARK: &str = ".tmp-";

/// Whether `name` is one of [`write_new`]'s temporary files: `<name>.tmp-<16 lowercase hex>`.
pub fn is_temp_name(name: &str) -> bool {
    name.rsplit_once(TEMP_MARK).is_some_and(|(stem, suffix)| {
        !stem.is_empty()
            && suffix.len() == 16
            && suffix.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Removes the temporary files an interrupted [`write_new`] left in `dir` (regular files named
/// `<name>.tmp-<16 hex>`; symlinks and anything else stay). Returns how many went.
pub fn remove_stale_temp_files(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ours = entry.file_name().to_str().is_some_and(is_temp_name);
        if ours && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Reads a snapshot file. A version 2 file is read in two streaming passes — the checksum,
/// then the content parsed from a buffered reader — so its bytes are never whole in memory;
/// a version 1 file (older, no checksum) is read whole.
pub fn read(path: &Path) -> Result<SavedForest, SnapshotFileError> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| SnapshotFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path.display().to_string();
    let corrupt = |reason: &str| SnapshotFileError::Corrupt {
        file: name.clone(),
        reason: reason.to_string(),
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let head_len = V2_HEAD.len() + 64 + CONTENT_KEY.len();
    let mut head = Vec::with_capacity(head_len);
    (&mut f)
        .take(head_len as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    if head.starts_with(super::compact::MAGIC) {
        let sum = match super::compact::parse_header(&head) {
            super::compact::Header::V3 { sum } => sum.to_vec(),
            super::compact::Header::Other(v) => return Err(SnapshotFileError::UnsupportedVersion(v)),
            super::compact::Header::Damaged => return Err(corrupt("checksum mismatch")),
        };
        fn body(f: &mut std::fs::File) -> std::io::Result<std::io::BufReader<&mut std::fs::File>> {
            f.seek(SeekFrom::Start(super::compact::HEAD_LEN as u64))?;
            Ok(std::io::BufReader::with_capacity(256 * 1024, f))
        }
        let mut hasher = Sha256::new();
        std::io::copy(&mut body(&mut f).map_err(io)?, &mut HashSink(&mut hasher)).map_err(io)?;
        if hex::encode(hasher.finalize()).as_bytes() != sum.as_slice() {
            return Err(corrupt("checksum mismatch"));
        }
        return decode_compact_body(body(&mut f).map_err(io)?);
    }
    if !head.starts_with(V2_PREFIX) {
        let mut bytes = head;
        f.read_to_end(&mut bytes).map_err(io)?;
        return decode_named(&bytes, &name);
    }
    // The same checks, in the same order, as `decode_named`.
    let rest = head
        .strip_prefix(V2_HEAD)
        .ok_or_else(|| corrupt("damaged header"))?;
    let (sum, key) = rest
        .split_at_checked(64)
        .ok_or_else(|| corrupt("checksum mismatch"))?;
    if key != CONTENT_KEY {
        return Err(corrupt("checksum mismatch"));
    }
    // The content ends before the closing `}` (and any trailing whitespace).
    let tail_len = (len - head_len as u64).min(4096);
    let mut tail = Vec::new();
    f.seek(SeekFrom::Start(len - tail_len)).map_err(io)?;
    f.read_to_end(&mut tail).map_err(io)?;
    let kept = tail
        .trim_ascii_end()
        .strip_suffix(b"}")
        .ok_or_else(|| corrupt("checksum mismatch"))?
        .len() as u64;
    let content_len = len - tail_len + kept - head_len as u64;
    fn content(
        f: &mut std::fs::File,
        start: u64,
        len: u64,
    ) -> std::io::Result<std::io::BufReader<std::io::Take<&mut std::fs::File>>> {
        f.seek(SeekFrom::Start(start))?;
        Ok(std::io::BufReader::with_capacity(256 * 1024, f.take(len)))
    }
    let mut hasher = Sha256::new();
    {
        let mut reader = content(&mut f, head_len as u64, content_len).map_err(io)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    if hex::encode(hasher.finalize()).as_bytes() != sum {
        return Err(corrupt("checksum mismatch"));
    }
    let parsed: ContentIn =
        serde_json::from_reader(content(&mut f, head_len as u64, content_len).map_err(io)?)
            .map_err(|e| malformed(e.to_string()))?;
    decode_content(parsed)
}

/// Decodes a snapshot file's bytes.
pub fn decode(bytes: &[u8]) -> Result<SavedForest, SnapshotFileError> {
    decode_named(bytes, "(in memory)")
}

/// Decodes a snapshot file's bytes; `file` names them in errors.
pub fn decode_named(bytes: &[u8], file: &str) -> Result<SavedForest, SnapshotFileError> {
    let corrupt = |reason: &str| SnapshotFileError::Corrupt {
        file: file.to_string(),
        reason: reason.to_string(),
    };
    if bytes.starts_with(super::compact::MAGIC) {
        return match super::compact::parse_header(bytes) {
            super::compact::Header::V3 { sum } => {
                let body = &bytes[super::compact::HEAD_LEN..];
                if hex::encode(Sha256::digest(body)).as_bytes() != sum {
                    return Err(corrupt("checksum mismatch"));
                }
                decode_compact_body(body)
            }
            super::compact::Header::Other(v) => Err(SnapshotFileError::UnsupportedVersion(v)),
            super::compact::Header::Damaged => Err(corrupt("checksum mismatch")),
        };
    }
    // A version 2 header, even a damaged one, is judged by its checksum: a truncated file is
    // then "corrupt" rather than "not JSON". The prefix goes as far as the version number, so
    // a version 1 file, written compactly in the same field order, is not taken for one.
    if bytes.starts_with(V2_PREFIX) {
        let rest = bytes
            .strip_prefix(V2_HEAD)
            .ok_or_else(|| corrupt("damaged header"))?;
        let (sum, rest) = rest
            .split_at_checked(64)
            .ok_or_else(|| corrupt("checksum mismatch"))?;
        let content = rest
            .strip_prefix(CONTENT_KEY)
            .and_then(|c| c.trim_ascii_end().strip_suffix(b"}"))
            .ok_or_else(|| corrupt("checksum mismatch"))?;
        if hex::encode(Sha256::digest(content)).as_bytes() != sum {
            return Err(corrupt("checksum mismatch"));
        }
        let content: ContentIn = serde_json::from_slice(content).map_err(|e| malformed(e.to_string()))?;
        return decode_content(content);
    }
    let header: Header =
        serde_json::from_slice(bytes).map_err(|e| SnapshotFileError::NotASnapshot(e.to_string()))?;
    if header.format.as_deref() != Some(FORMAT) {
        return Err(SnapshotFileError::NotASnapshot(format!(
            "\"format\" is {:?}, expected {FORMAT:?}",
            header.format
        )));
    }
    match header.version {
        Some(1) => {}
        // Reformatted or edited: the checksum cannot be checked.
        Some(JSON_VERSION) => return Err(corrupt("not in the layout adsim writes (edited?)")),
        Some(v) => return Err(SnapshotFileError::UnsupportedVersion(v)),
        None => return Err(SnapshotFileError::NotASnapshot("no \"version\"".into())),
    }
    // Version 1: the content's fields beside the header's, no checksum.
    let mut v1: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    for key in ["format", "version", "contains_secrets"] {
        v1.remove(key);
    }
    let content: ContentIn =
        serde_json::from_value(serde_json::Value::Object(v1)).map_err(|e| malformed(e.to_string()))?;
    decode_content(content)
}

/// A writer that only hashes.
struct HashSink<'a>(&'a mut Sha256);

impl std::io::Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A compact (version 3) body whose checksum was checked: the content object, then the entries.
fn decode_compact_body(body: impl std::io::BufRead) -> Result<SavedForest, SnapshotFileError> {
    let (content, entries) = super::compact::read_body(body)?;
    let content: ContentIn = serde_json::from_slice(&content).map_err(|e| malformed(e.to_string()))?;
    if !content.store.entries.is_empty() {
        return Err(malformed("the content holds entries of its own"));
    }
    assemble(content, entries)
}

fn decode_content(mut file: ContentIn) -> Result<SavedForest, SnapshotFileError> {
    let entries = std::mem::take(&mut file.store.entries)
        .into_iter()
        .map(entry_in)
        .collect::<Result<Vec<_>, _>>()?;
    assemble(file, entries)
}

/// The forest from a content object (its `store.entries` already taken out) and its entries,
/// checked as a whole.
fn assemble(file: ContentIn, entries: Vec<Entry>) -> Result<SavedForest, SnapshotFileError> {
    let forest = forest_in(file.forest)?;
    if file.rid_pools.len() != forest.domains.len() {
        return Err(malformed("rid_pools must have one entry per domain"));
    }
    let rng = rng_in(&file.rng)?;
    let mut ids = std::collections::HashSet::new();
    if let Some(e) = entries
        .iter()
        .find(|e| e.id.0 >= file.store.next_id || !ids.insert(e.id))
    {
        return Err(malformed(format!(
            "{}: entry id {} is repeated or not below next_id",
            e.dn, e.id.0
        )));
    }
    let store = Store::from_entries(entries, file.store.next_id, file.store.usn)
        .map_err(|e| malformed(format!("entries: {e}")))?;
    for nc in forest.naming_contexts() {
        if store.lookup(&nc).is_none() {
            return Err(malformed(format!("naming context {nc} has no entry")));
        }
    }
    let clock = ClockSetting {
        frozen: file.clock.frozen,
        ticks: file.clock.ticks,
    };
    if clock.frozen && clock.ticks < 0 {
        return Err(malformed("a frozen clock needs a non-negative instant"));
    }
    Ok(SavedForest {
        forest,
        seed: file.seed,
        clock,
        state: DirState {
            store,
            next_rid: file.rid_pools,
            rng,
            sysvol: crate::dsa::gpo::Sysvol::from_files(file.sysvol),
        },
    })
}

// ---- the JSON shapes (written from borrowed data, read into owned data) ----

#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u32>,
}

/// The content, written (version 2's `content`).
#[derive(Serialize)]
struct ContentRef<'a> {
    forest: ForestOut,
    seed: u64,
    clock: ClockOut,
    rid_pools: Vec<u32>,
    rng: RngOut,
    sysvol: &'a BTreeMap<String, String>,
    store: StoreOut<'a>,
}

/// The content, read (version 2's `content`; version 1's top level without the header fields).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContentIn {
    forest: ForestOut,
    seed: u64,
    clock: ClockOut,
    rid_pools: Vec<u32>,
    rng: RngOut,
    /// Absent from files written before SYSVOL was modelled: the policies' defaults apply.
    #[serde(default)]
    sysvol: BTreeMap<String, String>,
    store: StoreIn,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockOut {
    frozen: bool,
    ticks: i64,
    now: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RngOut {
    seed: String,
    stream: u64,
    /// A u128, as text (JSON numbers lose precision beyond 2^53 in many readers).
    word_pos: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForestOut {
    root_dns: String,
    root_dn: String,
    config_dn: String,
    schema_dn: String,
    domains: Vec<DomainOut>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainOut {
    index: usize,
    dns_name: String,
    netbios: String,
    realm: String,
    dn: String,
    sid: String,
    parent: Option<usize>,
    dc_name: String,
    dc_fqdn: String,
    dc_dn: String,
    server_dn: String,
    ntds_settings_dn: String,
}

#[derive(Serialize)]
struct StoreOut<'a> {
    next_id: u64,
    usn: u64,
    entries: Vec<EntryOut<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreIn {
    next_id: u64,
    usn: u64,
    entries: Vec<EntryIn>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    id: u64,
    parent: Option<u64>,
    dn: String,
    attrs: Vec<AttrOut<'a>>,
    links: BTreeMap<&'a str, Vec<u64>>,
    secrets: Option<SecretsOut>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn {
    id: u64,
    parent: Option<u64>,
    dn: String,
    attrs: Vec<AttrIn>,
    links: BTreeMap<String, Vec<u64>>,
    secrets: Option<SecretsOut>,
}

#[derive(Serialize)]
struct AttrOut<'a> {
    name: &'a str,
    values: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttrIn {
    name: String,
    values: Vec<Value>,
}

/// An attribute value: text when it is UTF-8, else base64.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Value {
    Text(String),
    Binary { base64: String },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsOut {
    nt_hash: String,
    aes128: Option<String>,
    aes256: Option<String>,
    kvno: u32,
    previous: Option<Box<SecretsOut>>,
    /// ntPwdHistory, hex NT hashes newest first (absent in files written before it existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    history: Vec<String>,
}

fn forest_out(f: &ForestInfo) -> ForestOut {
    ForestOut {
        root_dns: f.root_dns.clone(),
        root_dn: f.root_dn.to_string(),
        config_dn: f.config_dn.to_string(),
        schema_dn: f.schema_dn.to_string(),
        domains: f
            .domains
            .iter()
            .map(|d| DomainOut {
                index: d.index,
                dns_name: d.dns_name.clone(),
                netbios: d.netbios.clone(),
                realm: d.realm.clone(),
                dn: d.dn.to_string(),
                sid: d.sid.to_string(),
                parent: d.parent,
                dc_name: d.dc_name.clone(),
                dc_fqdn: d.dc_fqdn.clone(),
                dc_dn: d.dc_dn.to_string(),
                server_dn: d.server_dn.to_string(),
                ntds_settings_dn: d.ntds_settings_dn.to_string(),
            })
            .collect(),
    }
}

fn dn_in(text: &str) -> Result<Dn, SnapshotFileError> {
    Dn::parse(text).map_err(|e| malformed(format!("{text:?}: {e}")))
}

fn forest_in(f: ForestOut) -> Result<ForestInfo, SnapshotFileError> {
    if f.domains.is_empty() {
        return Err(malformed("a forest needs at least one domain"));
    }
    let mut domains = Vec::with_capacity(f.domains.len());
    for (i, d) in f.domains.into_iter().enumerate() {
        // Domains are addressed by index everywhere (RID pools, listeners, KDCs).
        if d.index != i || d.parent.is_some_and(|p| p >= i) {
            return Err(malformed(format!("domain {i}: bad index or parent")));
        }
        domains.push(DomainInfo {
            index: d.index,
            sid: d
                .sid
                .parse::<Sid>()
                .map_err(|e| malformed(format!("domain SID {:?}: {e:?}", d.sid)))?,
            dn: dn_in(&d.dn)?,
            dc_dn: dn_in(&d.dc_dn)?,
            server_dn: dn_in(&d.server_dn)?,
            ntds_settings_dn: dn_in(&d.ntds_settings_dn)?,
            dns_name: d.dns_name,
            netbios: d.netbios,
            realm: d.realm,
            parent: d.parent,
            dc_name: d.dc_name,
            dc_fqdn: d.dc_fqdn,
        });
    }
    Ok(ForestInfo {
        root_dn: dn_in(&f.root_dn)?,
        config_dn: dn_in(&f.config_dn)?,
        schema_dn: dn_in(&f.schema_dn)?,
        root_dns: f.root_dns,
        domains,
    })
}

fn rng_in(r: &RngOut) -> Result<ChaCha20Rng, SnapshotFileError> {
    let seed: [u8; 32] = hex::decode(&r.seed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| malformed("rng.seed must be 64 hex digits"))?;
    let word_pos: u128 = r
        .word_pos
        .parse()
        .map_err(|_| malformed("rng.word_pos must be a decimal number"))?;
    let mut rng = ChaCha20Rng::from_seed(seed);
    rng.set_stream(r.stream);
    rng.set_word_pos(word_pos);
    Ok(rng)
}

fn entry_out(e: &Entry) -> EntryOut<'_> {
    EntryOut {
        id: e.id.0,
        parent: e.parent.map(|p| p.0),
        dn: e.dn.to_string(),
        attrs: e
            .attrs
            .values()
            .map(|a| AttrOut {
                name: a.name,
                values: a
                    .values
                    .iter()
                    .map(|v| match std::str::from_utf8(v) {
                        Ok(t) => Value::Text(t.to_string()),
                        Err(_) => Value::Binary {
                            base64: base64::engine::general_purpose::STANDARD.encode(v),
                        },
                    })
                    .collect(),
            })
            .collect(),
        links: e
            .links
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(|t| t.0).collect()))
            .collect(),
        secrets: e.secrets.as_deref().map(secrets_out),
    }
}

fn entry_in(e: EntryIn) -> Result<Entry, SnapshotFileError> {
    let dn = dn_in(&e.dn)?;
    let mut entry = Entry::new(EntryId(e.id), dn, e.parent.map(EntryId));
    for a in e.attrs {
        let key = a.name.to_ascii_lowercase();
        if a.name.is_empty() || a.values.is_empty() || entry.attrs.contains_key(key.as_str()) {
            return Err(malformed(format!(
                "{}: attribute {:?} is empty or repeated",
                e.dn, a.name
            )));
        }
        let values = a
            .values
            .into_iter()
            .map(|v| match v {
                Value::Text(t) => Ok(t.into_bytes()),
                Value::Binary { base64 } => base64::engine::general_purpose::STANDARD
                    .decode(base64)
                    .map_err(|_| malformed(format!("{}: {}: bad base64", e.dn, a.name))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        entry.insert_attr(Attr {
            name: a.name.into(),
            values,
        });
    }
    for (name, targets) in e.links {
        if name != name.to_ascii_lowercase() || targets.is_empty() {
            return Err(malformed(format!("{}: link {name:?}", e.dn)));
        }
        entry
            .links
            .insert(name, targets.into_iter().map(EntryId).collect());
    }
    entry.secrets = e.secrets.map(|s| secrets_in(&s)).transpose()?.map(Arc::new);
    Ok(entry)
}

fn secrets_out(s: &AccountSecrets) -> SecretsOut {
    SecretsOut {
        nt_hash: hex::encode(s.nt_hash),
        aes128: s.aes128.map(hex::encode),
        aes256: s.aes256.map(hex::encode),
        kvno: s.kvno,
        previous: s.previous.as_deref().map(|p| Box::new(secrets_out(p))),
        history: s.history.iter().map(hex::encode).collect(),
    }
}

fn key<const N: usize>(text: &str) -> Result<[u8; N], SnapshotFileError> {
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| malformed(format!("a key must be {} hex digits", 2 * N)))
}

fn secrets_in(s: &SecretsOut) -> Result<AccountSecrets, SnapshotFileError> {
    Ok(AccountSecrets {
        nt_hash: key::<16>(&s.nt_hash)?,
        aes128: s.aes128.as_deref().map(key::<16>).transpose()?,
        aes256: s.aes256.as_deref().map(key::<32>).transpose()?,
        kvno: s.kvno,
        previous: s.previous.as_deref().map(secrets_in).transpose()?.map(Box::new),
        history: s
            .history
            .iter()
            .map(|h| key::<16>(h))
            .collect::<Result<Vec<_>, _>>()?,
    })
}
