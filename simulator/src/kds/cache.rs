//! A seed-key cache for the gMSA SD: per (root key, L0) it keeps every L1 and L2 key already
//! derived and walks down only from the nearest cached ancestor. Because keys are derived from
//! index 31 downwards, the key of the *next* interval is an ancestor of the current one, so a
//! rollover costs the password KDF alone, and crossing into a new L1 period one L1 step plus the
//! L2 walk instead of the whole chain.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use uuid::Uuid;

use super::error::KdsError;
use super::gkid::{Gkid, GkidLevel, L1_KEYS, L2_KEYS};
use super::kdf::KdfHash;
use super::root_key::RootKey;
use super::seed::{Chain, SeedKey, GMSA_SECURITY_DESCRIPTOR};

/// How many (root key, L0) entries are kept by default (each at most 33 × 32 keys of 64 bytes).
pub const DEFAULT_CACHE_ENTRIES: usize = 16;

type Row = [Option<SeedKey>; 32];

fn empty_row() -> Row {
    std::array::from_fn(|_| None)
}

struct Entry {
    /// What the keys were derived from; a different key under the same GUID replaces the entry.
    hash: KdfHash,
    root_data: Vec<u8>,
    l1: Row,
    l2: HashMap<i32, Row>,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(Uuid, i32), Entry>,
    clock: u64,
}

/// Thread-safe seed-key cache (gMSA SD only). Same answers as `l1_seed_key`/`l2_seed_key`.
pub struct SeedKeyCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl fmt::Debug for SeedKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedKeyCache")
            .field("entries", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for SeedKeyCache {
    fn default() -> Self {
        SeedKeyCache::new()
    }
}

/// Where a derivation can start from: the wanted key itself, a cached L2 key above it (or the
/// L1 key, given as L2 index 32), a cached L1 key above it, or the root key.
enum Start {
    Exact(SeedKey),
    L2(i32, SeedKey),
    L1(i32, SeedKey),
    Root,
}

/// The cached key with the smallest index ≥ `index`.
fn nearest_at_or_above(row: &Row, index: i32) -> Option<(i32, SeedKey)> {
    (index..32).find_map(|n| row[n as usize].as_ref().map(|k| (n, k.clone())))
}

impl SeedKeyCache {
    pub fn new() -> SeedKeyCache {
        SeedKeyCache::with_capacity(DEFAULT_CACHE_ENTRIES)
    }

    /// A cache holding at most `entries` (root key, L0) entries, least recently used evicted first.
    pub fn with_capacity(entries: usize) -> SeedKeyCache {
        SeedKeyCache {
            inner: Mutex::new(Inner::default()),
            capacity: entries.max(1),
        }
    }

    /// Number of (root key, L0) entries held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The cache holds no invariant a panicking holder could break half-way.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The L2 seed key for `gkid` (gMSA SD).
    pub fn l2_seed_key(&self, root: &RootKey, gkid: Gkid) -> Result<SeedKey, KdsError> {
        gkid.require_l2()?;
        self.derive(root, gkid)
    }

    /// The L1 seed key (L0, L1) (gMSA SD).
    pub fn l1_seed_key(&self, root: &RootKey, l0: i32, l1: i32) -> Result<SeedKey, KdsError> {
        let gkid = Gkid { l0, l1, l2: -1 };
        gkid.validate()?;
        if gkid.level() != GkidLevel::L1 {
            return Err(KdsError::WrongGkidLevel(gkid.triple(), "L1"));
        }
        self.derive(root, gkid)
    }

    fn derive(&self, root: &RootKey, gkid: Gkid) -> Result<SeedKey, KdsError> {
        let chain = Chain::new(root)?;
        let want_l2 = gkid.level() == GkidLevel::L2;
        // Derive outside the lock; collect the new keys and store them afterwards.
        let mut new_l1: Vec<(i32, SeedKey)> = Vec::new();
        let mut new_l2: Vec<(i32, SeedKey)> = Vec::new();
        let (l1_from, l1_key) = match self.find_start(root, gkid, want_l2) {
            Start::Exact(key) => return Ok(key),
            Start::L2(from, key) => {
                let result = chain.walk_l2(gkid.l0, gkid.l1, key, from, gkid.l2, |i, k| {
                    new_l2.push((i, k.clone()))
                });
                self.store(root, gkid, new_l1, new_l2);
                return Ok(result);
            }
            Start::L1(from, key) => (from, key),
            Start::Root => {
                let top = chain.l1_top(gkid.l0, &GMSA_SECURITY_DESCRIPTOR);
                new_l1.push((L1_KEYS - 1, top.clone()));
                (L1_KEYS - 1, top)
            }
        };
        let l1_key = chain.walk_l1(gkid.l0, l1_key, l1_from, gkid.l1, |i, k| {
            new_l1.push((i, k.clone()))
        });
        let result = if want_l2 {
            chain.walk_l2(gkid.l0, gkid.l1, l1_key, L2_KEYS, gkid.l2, |i, k| {
                new_l2.push((i, k.clone()))
            })
        } else {
            l1_key
        };
        self.store(root, gkid, new_l1, new_l2);
        Ok(result)
    }

    /// The nearest cached key at or above the one wanted (the wanted one itself: `Exact`).
    fn find_start(&self, root: &RootKey, gkid: Gkid, want_l2: bool) -> Start {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let Some(entry) = inner.entries.get_mut(&(root.id, gkid.l0)) else {
            return Start::Root;
        };
        if entry.hash != root.hash || entry.root_data != root.root_key_data {
            return Start::Root;
        }
        entry.last_used = now;
        if want_l2 {
            if let Some(row) = entry.l2.get(&gkid.l1) {
                if let Some((n, k)) = nearest_at_or_above(row, gkid.l2) {
                    return if n == gkid.l2 {
                        Start::Exact(k)
                    } else {
                        Start::L2(n, k)
                    };
                }
            }
            // No L2 key of this L1 yet: the L2 walk starts from the L1 key itself.
            if let Some(k) = &entry.l1[gkid.l1 as usize] {
                return Start::L2(L2_KEYS, k.clone());
            }
        }
        match nearest_at_or_above(&entry.l1, gkid.l1) {
            Some((m, k)) if m == gkid.l1 && !want_l2 => Start::Exact(k),
            Some((m, k)) => Start::L1(m, k),
            None => Start::Root,
        }
    }

    fn store(&self, root: &RootKey, gkid: Gkid, new_l1: Vec<(i32, SeedKey)>, new_l2: Vec<(i32, SeedKey)>) {
        if new_l1.is_empty() && new_l2.is_empty() {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let key = (root.id, gkid.l0);
        let stale = inner
            .entries
            .get(&key)
            .is_some_and(|e| e.hash != root.hash || e.root_data != root.root_key_data);
        if stale {
            inner.entries.remove(&key);
        }
        if !inner.entries.contains_key(&key) && inner.entries.len() >= self.capacity {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                inner.entries.remove(&k);
            }
        }
        let entry = inner.entries.entry(key).or_insert_with(|| Entry {
            hash: root.hash,
            root_data: root.root_key_data.clone(),
            l1: empty_row(),
            l2: HashMap::new(),
            last_used: now,
        });
        entry.last_used = now;
        for (i, k) in new_l1 {
            entry.l1[i as usize] = Some(k);
        }
        if !new_l2.is_empty() {
            let row = entry.l2.entry(gkid.l1).or_insert_with(empty_row);
            for (i, k) in new_l2 {
                row[i as usize] = Some(k);
            }
        }
    }
}
