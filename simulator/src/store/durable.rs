//! A data directory (`adsim serve --data-dir DIR`): the forest kept on disk so that every
//! acknowledged write survives a crash or `kill -9`, and a restart serves the same forest with
//! the same CA.
//!
//! The store is one [redb](https://docs.rs/redb) file, `DIR/adsim.redb` (mode 0600, the
//! directory 0700: it holds every secret a snapshot file holds, and the TLS keys). redb is an
//! embedded, ACID, crash-safe B-tree store: a committed transaction is fsynced before `commit`
//! returns, a crash before that leaves the previous commit, and the file is locked while one
//! process has it open (a second server on the same directory is refused). See
//! docs/architecture.md for why redb and not a hand-made journal.
//!
//! Two tables, every value a SHA-256 checksum (of table name, key and payload) followed by the
//! payload, so a flipped byte is refused at start instead of being served:
//!
//! * `entries`: entry id → the entry as JSON, exactly as a snapshot file writes one
//!   (`snapshot::file`): DN, parent, attributes, links, secrets.
//! * `meta`: `format` (`adsim-data-dir 1`); `content`, the snapshot file's content object with
//!   no entries (forest shape, seed, clock setting, RID pools, random stream, next entry id,
//!   highest USN); `tls`, the CA and DC certificates with their keys (`server::tls::TlsIdentity`).
//!
//! Every directory write ([`crate::dsa::Directory::write`]) ends with one transaction holding the
//! entries it touched and the `content` record: a write costs O(entries it changed), not
//! O(forest). A snapshot restore or reset rewrites every entry.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use redb::{Database, ReadableTable, TableDefinition};
use sha2::{Digest, Sha256};

use crate::dsa::{DirState, Directory, Snapshot};
use crate::model::EntryId;
use crate::server::tls::TlsIdentity;
use crate::snapshot::file::{self, SavedForest};

/// The store's file name inside the data directory.
pub const FILE_NAME: &str = "adsim.redb";
const FORMAT: &[u8] = b"adsim-data-dir 1";

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("data directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("data directory {dir} is in use by another adsim process ({file} is locked)")]
    InUse { dir: PathBuf, file: PathBuf },
    #[error("{file} is corrupt: {reason}; adsim will not serve it (restore the directory from a backup, or move it away to start a new forest)")]
    Corrupt { file: PathBuf, reason: String },
    #[error("{file} could not be written: {reason}")]
    Write { file: PathBuf, reason: String },
}

/// An open data directory. Holds the file's lock until dropped.
pub struct DataDir {
    dir: PathBuf,
    file: PathBuf,
    db: Database,
    /// What the last transaction wrote of the counters and clock: a write that touched no
    /// entry and moved none of them (a refused request, a search's rollover check) costs no
    /// transaction.
    last: Mutex<Option<Counters>>,
}

impl std::fmt::Debug for DataDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataDir").field("file", &self.file).finish()
    }
}

/// Everything in the `content` record that can change between two writes.
#[derive(Clone, PartialEq, Eq)]
struct Counters {
    clock: crate::clock::ClockSetting,
    next_rid: Vec<u32>,
    rng: ([u8; 32], u64, u128),
    sysvol: crate::dsa::gpo::Sysvol,
    next_id: u64,
    usn: u64,
}

impl Counters {
    fn of(dir: &Directory, st: &DirState) -> Counters {
        Counters {
            clock: dir.clock.setting(),
            next_rid: st.next_rid.clone(),
            rng: (st.rng.get_seed(), st.rng.get_stream(), st.rng.get_word_pos()),
            sysvol: st.sysvol.clone(),
            next_id: st.store.next_id(),
            usn: st.store.highest_usn(),
        }
    }
}

/// Runs `f`, turning a panic into `Err` without printing it: redb asserts on some damaged
/// files, and the refusal says what happened. (Only at start, before any listener runs: the
/// panic hook is process-wide.)
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result
}

/// The checksum a record is stored under: SHA-256 of table, key and payload, so a record
/// moved to another key fails too.
fn checksum(table: &str, key: &[u8], payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(table.as_bytes());
    h.update([0]);
    h.update(key);
    h.update([0]);
    h.update(payload);
    h.finalize().into()
}

fn seal(table: &str, key: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + payload.len());
    out.extend_from_slice(&checksum(table, key, payload));
    out.extend_from_slice(payload);
    out
}

impl DataDir {
    /// Opens (creating when needed) the data directory `dir` and locks its store.
    pub fn open(dir: &Path) -> Result<DataDir, DataDirError> {
        let io = |source| DataDirError::Io {
            path: dir.to_path_buf(),
            source,
        };
        if !dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(dir).map_err(io)?;
        }
        let file = dir.join(FILE_NAME);
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let handle = options.open(&file).map_err(|source| DataDirError::Io {
            path: file.clone(),
            source,
        })?;
        // redb panics on some damaged files instead of answering an error; either way the
        // file is refused with its name.
        let opened = quietly(|| Database::builder().create_file(handle));
        let mut db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                return Err(DataDirError::InUse {
                    dir: dir.to_path_buf(),
                    file,
                })
            }
            Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(source))))
                if source.kind() != std::io::ErrorKind::UnexpectedEof =>
            {
                return Err(DataDirError::Io { path: file, source })
            }
            Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(_)))) => {
                return Err(DataDirError::Corrupt {
                    file,
                    reason: "the file is truncated".into(),
                })
            }
            Ok(Err(e)) => {
                return Err(DataDirError::Corrupt {
                    file,
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(DataDirError::Corrupt {
                    file,
                    reason: "the store cannot be read".into(),
                })
            }
        };
        // Every page's checksum, whether or not the last stop was clean. Commits are two-phase
        // (see `transaction`), so a damaged last commit is an error here, never a silent
        // fall-back to the one before it.
        match quietly(|| db.check_integrity()) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(DataDirError::Corrupt {
                    file,
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(DataDirError::Corrupt {
                    file,
                    reason: "the store cannot be read".into(),
                })
            }
        }
        Ok(DataDir {
            dir: dir.to_path_buf(),
            file,
            db,
            last: Mutex::new(None),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn corrupt(&self, reason: impl std::fmt::Display) -> DataDirError {
        DataDirError::Corrupt {
            file: self.file.clone(),
            reason: reason.to_string(),
        }
    }

    fn write_error(&self, reason: impl std::fmt::Display) -> DataDirError {
        DataDirError::Write {
            file: self.file.clone(),
            reason: reason.to_string(),
        }
    }

    /// The forest the directory holds, or `None` for a new (empty) directory. Every record's
    /// checksum and the whole forest's consistency are checked: a damaged store is refused.
    pub fn load(&self) -> Result<Option<SavedForest>, DataDirError> {
        let loaded = quietly(|| self.load_inner());
        loaded.unwrap_or_else(|_| Err(self.corrupt("the store cannot be read")))
    }

    fn load_inner(&self) -> Result<Option<SavedForest>, DataDirError> {
        let txn = self.db.begin_read().map_err(|e| self.corrupt(e))?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.corrupt(e)),
        };
        let get = |key: &str| -> Result<Option<Vec<u8>>, DataDirError> {
            let Some(v) = meta.get(key).map_err(|e| self.corrupt(e))? else {
                return Ok(None);
            };
            self.unseal("meta", key.as_bytes(), v.value()).map(Some)
        };
        let Some(content) = get("content")? else {
            return Ok(None);
        };
        match get("format")? {
            Some(f) if f == FORMAT => {}
            Some(f) => {
                return Err(self.corrupt(format!(
                    "format {:?} is not {:?}",
                    String::from_utf8_lossy(&f),
                    String::from_utf8_lossy(FORMAT)
                )))
            }
            None => return Err(self.corrupt("no format record")),
        }
        let table = txn.open_table(ENTRIES).map_err(|e| self.corrupt(e))?;
        let mut entries = Vec::new();
        for item in table.iter().map_err(|e| self.corrupt(e))? {
            let (k, v) = item.map_err(|e| self.corrupt(e))?;
            entries.push(self.unseal("entries", &k.value().to_be_bytes(), v.value())?);
        }
        let saved =
            file::decode_parts(&content, entries.iter().map(Vec::as_slice)).map_err(|e| self.corrupt(e))?;
        Ok(Some(saved))
    }

    fn unseal(&self, table: &str, key: &[u8], value: &[u8]) -> Result<Vec<u8>, DataDirError> {
        let name = || match table {
            "entries" => format!(
                "entries/{}",
                u64::from_be_bytes(key.try_into().unwrap_or_default())
            ),
            _ => format!("{table}/{}", String::from_utf8_lossy(key)),
        };
        let Some((sum, payload)) = value.split_at_checked(32) else {
            return Err(self.corrupt(format!("record {} is truncated", name())));
        };
        if sum != checksum(table, key, payload) {
            return Err(self.corrupt(format!("record {} fails its checksum", name())));
        }
        Ok(payload.to_vec())
    }

    /// The saved CA and DC certificate, if any.
    pub fn tls(&self) -> Result<Option<TlsIdentity>, DataDirError> {
        let txn = self.db.begin_read().map_err(|e| self.corrupt(e))?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.corrupt(e)),
        };
        let Some(v) = meta.get("tls").map_err(|e| self.corrupt(e))? else {
            return Ok(None);
        };
        let payload = self.unseal("meta", b"tls", v.value())?;
        serde_json::from_slice(&payload)
            .map(Some)
            .map_err(|e| self.corrupt(format!("record meta/tls: {e}")))
    }

    /// Saves the CA and DC certificate (durably, before the server answers anything).
    pub fn set_tls(&self, id: &TlsIdentity) -> Result<(), DataDirError> {
        let payload = serde_json::to_vec(id).map_err(|e| self.write_error(e))?;
        self.transaction(|txn| {
            let mut meta = txn.open_table(META)?;
            meta.insert("tls", seal("meta", b"tls", &payload).as_slice())?;
            Ok(())
        })
    }

    /// Writes the whole forest (a new directory, a snapshot restore): every entry and the
    /// `content` record, in one transaction.
    pub fn write_all(&self, dir: &Directory, st: &DirState) -> Result<(), DataDirError> {
        let counters = Counters::of(dir, st);
        let content = self.content(dir, st);
        self.transaction(|txn| {
            let mut entries = txn.open_table(ENTRIES)?;
            entries.retain(|_, _| false)?;
            for e in st.store.iter() {
                let key = e.id.0;
                let payload = file::entry_json(e);
                entries.insert(key, seal("entries", &key.to_be_bytes(), &payload).as_slice())?;
            }
            let mut meta = txn.open_table(META)?;
            meta.insert("format", seal("meta", b"format", FORMAT).as_slice())?;
            meta.insert("content", seal("meta", b"content", &content).as_slice())?;
            Ok(())
        })?;
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(counters);
        Ok(())
    }

    /// Writes the entries `touched` names (present ones as they are now, absent ones removed)
    /// and the `content` record, in one transaction; nothing when nothing changed.
    pub fn write_changes(
        &self,
        dir: &Directory,
        st: &DirState,
        touched: &[EntryId],
    ) -> Result<(), DataDirError> {
        let counters = Counters::of(dir, st);
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if touched.is_empty() && last.as_ref() == Some(&counters) {
            return Ok(());
        }
        let content = self.content(dir, st);
        self.transaction(|txn| {
            let mut entries = txn.open_table(ENTRIES)?;
            for id in touched {
                let key = id.0;
                match st.store.get(*id) {
                    Some(e) => {
                        let payload = file::entry_json(e);
                        entries.insert(key, seal("entries", &key.to_be_bytes(), &payload).as_slice())?;
                    }
                    None => {
                        entries.remove(key)?;
                    }
                }
            }
            let mut meta = txn.open_table(META)?;
            meta.insert("content", seal("meta", b"content", &content).as_slice())?;
            Ok(())
        })?;
        *last = Some(counters);
        Ok(())
    }

    /// The snapshot file's content object for the present state, without entries.
    fn content(&self, dir: &Directory, st: &DirState) -> Vec<u8> {
        let snap = Snapshot {
            // O(1): the store's maps are persistent.
            state: st.clone(),
            clock_at: dir.clock.now(),
            clock: dir.clock.setting(),
        };
        file::content_json(dir, &snap, false)
    }

    /// One write transaction, synced to disk before `commit` returns (redb's default
    /// durability) and two-phase: the data is synced before the commit slot that names it, so
    /// the newest commit is always whole and redb never has to fall back to the previous one —
    /// which, at start, lets damage be told from a crash (one more fsync per write; figures in
    /// docs/benchmarks.md).
    fn transaction(
        &self,
        body: impl FnOnce(&redb::WriteTransaction) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
    ) -> Result<(), DataDirError> {
        let mut txn = self.db.begin_write().map_err(|e| self.write_error(e))?;
        txn.set_two_phase_commit(true);
        body(&txn).map_err(|e| self.write_error(e))?;
        txn.commit().map_err(|e| self.write_error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_under_another_key_fails_its_checksum() {
        let sealed = seal("entries", &7u64.to_be_bytes(), b"{}");
        assert_eq!(&sealed[32..], b"{}");
        assert_ne!(
            checksum("entries", &8u64.to_be_bytes(), b"{}"),
            checksum("entries", &7u64.to_be_bytes(), b"{}")
        );
    }
}
