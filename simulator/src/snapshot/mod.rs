//! Named point-in-time snapshots of one forest, and its reset point.
//!
//! A snapshot is the directory's whole changing state (entries with their secrets, KDS root
//! keys, RID pools, the seeded random stream, USN and entry-id counters) plus the clock's
//! setting. Taking one is O(1) (the store is persistent); restoring swaps it in under the
//! directory's write lock, so every reader sees either the state before or the state after.
//! [`file`] writes a snapshot to disk and reads it back.

pub mod compact;
pub mod file;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::NtTime;
use crate::dsa::{Directory, Snapshot};

/// Names a snapshot held by [`Snapshots`]: `snap-1`, `snap-2`, … in the order taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotId(u64);

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "snap-{}", self.0)
    }
}

impl FromStr for SnapshotId {
    type Err = SnapshotError;

    fn from_str(s: &str) -> Result<SnapshotId, SnapshotError> {
        s.strip_prefix("snap-")
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .map(SnapshotId)
            .ok_or_else(|| SnapshotError::UnknownId(s.to_string()))
    }
}

/// What a listing shows of one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub id: SnapshotId,
    /// The simulated time when it was taken.
    pub time: NtTime,
    /// How many entries the directory held.
    pub entries: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("no snapshot {0:?}")]
    UnknownId(String),
    #[error(transparent)]
    File(#[from] file::SnapshotFileError),
    /// The data directory could not take the restored state (the forest stayed as it was).
    #[error(transparent)]
    Directory(#[from] crate::dsa::DsError),
}

/// The snapshots of one running forest, shared by the control API and the embedding API.
pub struct Snapshots {
    dir: Arc<Directory>,
    inner: Mutex<Registry>,
}

struct Registry {
    /// What `reset` returns to: the forest right after start, fixtures included.
    reset_point: Snapshot,
    taken: BTreeMap<SnapshotId, Snapshot>,
    next: u64,
}

impl fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshots")
            .field("taken", &self.list().len())
            .finish()
    }
}

impl Snapshots {
    /// Starts the registry with the directory's present state as the reset point.
    pub fn new(dir: Arc<Directory>) -> Snapshots {
        let reset_point = dir.snapshot();
        Snapshots {
            dir,
            inner: Mutex::new(Registry {
                reset_point,
                taken: BTreeMap::new(),
                next: 1,
            }),
        }
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a snapshot of the present state.
    pub fn take(&self) -> SnapshotId {
        let snap = self.dir.snapshot();
        let mut reg = self.lock();
        let id = SnapshotId(reg.next);
        reg.next += 1;
        reg.taken.insert(id, snap);
        id
    }

    /// Puts the forest back exactly as it was when `id` was taken. The snapshot stays, so a
    /// test suite can restore the same one before every test.
    pub fn restore(&self, id: SnapshotId) -> Result<(), SnapshotError> {
        let snap = self.get(id)?;
        self.dir.try_restore(&snap)?;
        Ok(())
    }

    /// Back to the reset point (the state right after start, fixtures included).
    pub fn reset(&self) {
        let _ = self.try_reset();
    }

    /// [`Snapshots::reset`], reporting a data directory that could not be written.
    pub fn try_reset(&self) -> Result<(), SnapshotError> {
        let snap = self.lock().reset_point.clone();
        self.dir.try_restore(&snap)?;
        Ok(())
    }

    /// Makes the present state the reset point (called once start-up fixtures are loaded).
    pub fn set_reset_point(&self) {
        let snap = self.dir.snapshot();
        self.lock().reset_point = snap;
    }

    /// Forgets a snapshot.
    pub fn remove(&self, id: SnapshotId) -> Result<(), SnapshotError> {
        self.lock()
            .taken
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| SnapshotError::UnknownId(id.to_string()))
    }

    /// The snapshots held, oldest first.
    pub fn list(&self) -> Vec<SnapshotInfo> {
        self.lock()
            .taken
            .iter()
            .map(|(id, s)| SnapshotInfo {
                id: *id,
                time: s.clock_at,
                entries: s.state.store.len(),
            })
            .collect()
    }

    fn get(&self, id: SnapshotId) -> Result<Snapshot, SnapshotError> {
        self.lock()
            .taken
            .get(&id)
            .cloned()
            .ok_or_else(|| SnapshotError::UnknownId(id.to_string()))
    }

    /// Snapshot `id` as a snapshot file's bytes (see [`file`]; they hold secrets).
    pub fn encode(&self, id: SnapshotId) -> Result<Vec<u8>, SnapshotError> {
        Ok(file::encode(&self.dir, &self.get(id)?))
    }

    /// Writes snapshot `id` to `path`, a new file with mode 0600 (see [`file::write_new`]; an
    /// existing file is refused; the file holds secrets).
    pub fn save(&self, id: SnapshotId, path: &Path) -> Result<(), SnapshotError> {
        file::write(&self.dir, &self.get(id)?, path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse() {
        let id: SnapshotId = "snap-12".parse().unwrap();
        assert_eq!(id.to_string(), "snap-12");
        for bad in ["", "snap-", "12", "snap-x", "snap--1", "snap-+1"] {
            assert!(bad.parse::<SnapshotId>().is_err(), "{bad:?}");
        }
    }
}
