//! Directory semantics shared by every front end (LDAP, GC, KDC, control API): add, modify,
//! delete, rename, search and compare with validation, defaults, constructed attributes,
//! access checks and Windows-shaped errors. Front ends translate; they never decide.

pub mod access;
pub mod account_state;
pub mod add;
pub mod attrs;
pub mod bind;
pub mod caller;
pub mod compare;
pub mod cursor;
pub mod delete;
pub mod error;
pub mod fixtures;
pub mod forest;
pub mod gmsa;
pub mod gpo;
pub mod inherit;
pub mod matching;
pub mod modify;
pub mod password;
pub mod password_policy;
mod prologue;
pub mod provision;
pub mod rename;
pub mod request;
pub mod sdprop;
pub mod search;
pub mod spn;
#[cfg(test)]
pub(crate) mod testing;
pub mod token;

use std::ops::{Deref, DerefMut};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub use caller::Caller;
pub use error::{DsError, DsResult};
pub use forest::{ChildDomainConfig, DomainInfo, ForestConfig, ForestInfo, KdsRootKeyMode};

use crate::clock::{Clock, ClockSetting, NtTime};
use crate::model::{AccountSecrets, Entry};
use crate::store::durable::DataDir;
use crate::store::Store;

/// Everything that changes: the entries, the RID pools and the random stream. Cloning it is an
/// O(1) point-in-time snapshot (the store is persistent).
#[derive(Clone)]
pub struct DirState {
    pub store: Store,
    /// Next RID to hand out, per domain index.
    pub next_rid: Vec<u32>,
    pub rng: ChaCha20Rng,
    /// The DCs' SYSVOL share: the Default Domain Policy's templates ([`gpo`]).
    pub sysvol: gpo::Sysvol,
}

/// A snapshot of a forest: its state and the clock reading it was taken at.
#[derive(Clone)]
pub struct Snapshot {
    pub state: DirState,
    pub clock_at: NtTime,
    /// The clock's setting (frozen instant or offset from host time), which a restore puts back.
    pub clock: ClockSetting,
}

/// One forest's directory.
pub struct Directory {
    pub forest: ForestInfo,
    pub clock: Clock,
    pub seed: u64,
    /// GKDI seed keys already derived (MS-GKDI): a rollover costs a few KDF calls, not 64.
    pub seed_cache: crate::kds::SeedKeyCache,
    /// The DC's event log (KdsSvc operational events), outside the directory's state: a
    /// snapshot restore does not rewind it.
    pub events: crate::events::EventLog,
    state: RwLock<DirState>,
    /// Where every write is made durable before it is answered (`adsim serve --data-dir`);
    /// unset, the forest lives in memory only.
    data_dir: OnceLock<Arc<DataDir>>,
    /// When SDProp's next hourly pass is due (NTTIME ticks on the simulated clock).
    sdprop_next: AtomicU64,
    /// Class default descriptors and the last new descriptor built (`inherit::new_descriptor`):
    /// derived from the immutable forest, so never part of the state.
    sd_cache: inherit::DescriptorCache,
    /// Counts the write locks taken ([`Directory::write`]): a reader that sees the same value
    /// under its read lock sees the same state, so caches of derived data (the KDC's principals)
    /// key on it.
    generation: AtomicU64,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("root", &self.forest.root_dns)
            .finish()
    }
}

impl Directory {
    /// Provisions a new forest (deterministic for a given seed and start time).
    pub fn provision(config: &ForestConfig) -> DsResult<Arc<Directory>> {
        let seed = config.seed.unwrap_or_else(|| rand::rngs::OsRng.next_u64());
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let clock = match config.start_time {
            Some(t) => Clock::frozen(t),
            None => Clock::system(),
        };
        let forest = provision::plan_forest(config, &mut rng);
        let dir = Directory {
            forest,
            clock,
            seed,
            seed_cache: crate::kds::SeedKeyCache::new(),
            events: Default::default(),
            state: RwLock::new(DirState {
                store: Store::new(),
                next_rid: Vec::new(),
                rng: ChaCha20Rng::seed_from_u64(0),
                sysvol: Default::default(),
            }),
            data_dir: OnceLock::new(),
            sdprop_next: AtomicU64::new(0),
            sd_cache: Default::default(),
            generation: AtomicU64::new(0),
        };
        let mut st = DirState {
            store: Store::new(),
            next_rid: Vec::new(),
            rng: ChaCha20Rng::seed_from_u64(0),
            sysvol: Default::default(),
        };
        provision::Provisioner {
            dir: &dir,
            rng: &mut rng,
        }
        .provision(&mut st, config)?;
        st.rng = rng;
        dir.provision_root_key(&mut st, config.kds_root_key)?;
        // The first SDProp pass protects the built-in administrators (MS-ADTS 3.1.1.6.1).
        dir.sdprop_in(&mut st);
        dir.sdprop_next.store(
            sdprop::next_due(dir.clock.now()),
            std::sync::atomic::Ordering::SeqCst,
        );
        st.store.take_touched();
        *dir.state.write().expect("fresh lock") = st;
        Ok(Arc::new(dir))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, DirState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The state's generation: it changes whenever the write lock has been taken, so data derived
    /// from the state under a read lock stays valid while the generation, read under a read
    /// lock too, is the same.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The directory's one commit point: every change is made through this guard. When a data
    /// directory is attached, [`DirWrite::commit`] (or, on an early return, dropping the guard)
    /// writes the entries the write touched and the counters durably before the lock is
    /// released — and so before any answer is sent.
    pub fn write(&self) -> DirWrite<'_> {
        let guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        // Before any change, under the lock: a reader holding the read lock sees a generation
        // that names exactly the state it reads.
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        // A clone is O(1) (persistent maps): what a failed durable write rolls back to.
        let before = self.data_dir.get().map(|_| (guard.clone(), self.clock.setting()));
        DirWrite {
            dir: self,
            guard,
            before,
            replaced: false,
            done: false,
        }
    }

    /// Makes every later write durable in `data` (which already holds the present state).
    /// Once only: a second data directory is refused.
    pub fn attach_data_dir(&self, data: Arc<DataDir>) -> Result<(), Arc<DataDir>> {
        self.write().store.take_touched();
        self.data_dir.set(data)
    }

    /// The attached data directory, if any.
    pub fn data_dir(&self) -> Option<&Arc<DataDir>> {
        self.data_dir.get()
    }

    /// Moves the simulated clock by `secs` seconds, durably when a data directory is attached.
    pub fn advance_clock(&self, secs: i64) -> DsResult<()> {
        let st = self.write();
        self.clock.advance_seconds(secs);
        st.commit()?;
        self.sdprop_if_due();
        Ok(())
    }

    /// Sets the simulated clock to `at`, durably when a data directory is attached.
    pub fn set_clock(&self, at: NtTime) -> DsResult<()> {
        let st = self.write();
        self.clock.set(at);
        st.commit()?;
        self.sdprop_if_due();
        Ok(())
    }

    pub fn snapshot(&self) -> Snapshot {
        // The clock is read under the lock, so no write slips between state and time.
        let st = self.read();
        Snapshot {
            state: st.clone(),
            clock_at: self.clock.now(),
            clock: self.clock.setting(),
        }
    }

    /// Puts back a snapshot's entries, RID pools, random stream and clock setting (a frozen
    /// clock its instant, a running clock its offset from host time), atomically for readers.
    pub fn restore(&self, snap: &Snapshot) {
        // Without a data directory nothing can fail; with one, a failure is logged and rolled
        // back (use `try_restore` to see it).
        let _ = self.try_restore(snap);
    }

    /// [`Directory::restore`], reporting a data directory that could not be written (the
    /// forest then stays as it was).
    pub fn try_restore(&self, snap: &Snapshot) -> DsResult<()> {
        let mut st = self.write();
        st.replace(snap.state.clone());
        self.clock.apply_setting(snap.clock);
        st.commit()
    }

    /// A directory from saved parts (a snapshot file): the forest's shape, seed, clock and state.
    pub fn from_state(forest: ForestInfo, seed: u64, clock: Clock, mut state: DirState) -> Arc<Directory> {
        state.store.take_touched();
        let next = sdprop::next_due(clock.now());
        Arc::new(Directory {
            forest,
            clock,
            seed,
            seed_cache: crate::kds::SeedKeyCache::new(),
            events: Default::default(),
            state: RwLock::new(state),
            data_dir: OnceLock::new(),
            sdprop_next: AtomicU64::new(next),
            sd_cache: Default::default(),
            generation: AtomicU64::new(0),
        })
    }

    /// Sets an account's password: the NT hash and Kerberos keys (MS-SAMR 3.1.1.8.9 semantics:
    /// pwdLastSet moves, the key version number increments). `password` is UTF-8.
    pub fn apply_password(&self, entry: &mut Entry, realm: &str, password: &[u8], now: NtTime) {
        let utf16: Vec<u8> = String::from_utf8_lossy(password)
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let salt = self.salt_for(entry, realm);
        let kvno = entry.secrets.as_ref().map_or(1, |s| s.kvno + 1);
        let mut secrets = password_secrets(&utf16, &salt, kvno, None);
        // ntPwdHistory: the new hash first, then the ones before it (MS-SAMR 3.1.1.8.9).
        secrets.history = std::iter::once(secrets.nt_hash)
            .chain(entry.secrets.iter().flat_map(|s| s.history.iter().copied()))
            .take(crate::model::secrets::PASSWORD_HISTORY_MAX)
            .collect();
        entry.secrets = Some(Arc::new(secrets));
        entry.set_str("pwdLastSet", now.0.to_string());
    }

    /// The Kerberos salt AD uses for an account (MS-KILE 3.1.1.2; docs/notes/gmsa-gkdi.md §6).
    pub fn salt_for(&self, entry: &Entry, realm: &str) -> String {
        let sam = entry.first_str("sAMAccountName").unwrap_or_default();
        let uac = entry.first_i64("userAccountControl").unwrap_or(0) as u32;
        let machine =
            uac & (provision::uac::WORKSTATION_TRUST_ACCOUNT | provision::uac::SERVER_TRUST_ACCOUNT) != 0;
        if machine {
            let dns = realm.to_ascii_lowercase();
            format!(
                "{}host{}.{}",
                realm.to_uppercase(),
                sam.trim_end_matches('$').to_lowercase(),
                dns
            )
        } else {
            format!("{}{}", realm.to_uppercase(), sam)
        }
    }

    /// The objectGUID of the entry at `dn` (stored little-endian, MS-DTYP 2.3.4.2), if any.
    pub fn object_guid(&self, dn: &crate::model::Dn) -> Option<uuid::Uuid> {
        let st = self.read();
        let bytes = st.store.get(st.store.lookup(dn)?)?.first("objectGUID")?;
        Some(uuid::Uuid::from_bytes_le(bytes.try_into().ok()?))
    }

    /// Draws 16 bytes from the forest's seeded random stream.
    pub fn random_guid(st: &mut DirState) -> uuid::Uuid {
        let mut b = [0u8; 16];
        st.rng.fill_bytes(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid()
    }
}

/// Write access to the directory's state (see [`Directory::write`]). Derefs to [`DirState`].
pub struct DirWrite<'a> {
    dir: &'a Directory,
    guard: RwLockWriteGuard<'a, DirState>,
    /// The state and clock before the write, kept only with a data directory.
    before: Option<(DirState, ClockSetting)>,
    /// The whole state was swapped (a snapshot restore): every entry is written again.
    replaced: bool,
    done: bool,
}

impl DirWrite<'_> {
    /// Ends the write: with a data directory, the touched entries and the counters are written
    /// and synced in one transaction. If that fails the write is undone in memory as well, and
    /// the caller gets operationsError with ERROR_DS_DATABASE_ERROR (0x20D9, what AD reports
    /// when its database cannot be written; inferred, docs/fidelity.md).
    pub fn commit(mut self) -> DsResult<()> {
        self.finish()
    }

    /// Replaces the whole state (a snapshot restore).
    pub fn replace(&mut self, state: DirState) {
        *self.guard = state;
        self.replaced = true;
    }

    fn finish(&mut self) -> DsResult<()> {
        self.done = true;
        let touched = self.guard.store.take_touched();
        let Some(data) = self.dir.data_dir.get() else {
            return Ok(());
        };
        let written = if self.replaced {
            data.write_all(self.dir, &self.guard)
        } else {
            data.write_changes(self.dir, &self.guard, &touched)
        };
        written.map_err(|e| {
            tracing::error!(error = %e, "a directory write could not be made durable; undone");
            if let Some((state, clock)) = self.before.take() {
                *self.guard = state;
                self.dir.clock.apply_setting(clock);
            }
            DsError::svc(
                error::code::OPERATIONS_ERROR,
                error::win32::ERROR_DS_DATABASE_ERROR,
                5012,
                "DIR_ERROR",
                0,
            )
        })
    }
}

impl Deref for DirWrite<'_> {
    type Target = DirState;
    fn deref(&self) -> &DirState {
        &self.guard
    }
}

impl DerefMut for DirWrite<'_> {
    fn deref_mut(&mut self) -> &mut DirState {
        &mut self.guard
    }
}

impl Drop for DirWrite<'_> {
    /// A write that returned early (a refused request may still have drawn ids or random
    /// bytes) is made durable too; a failure is logged and undone.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if std::thread::panicking() {
            // A write that panicked half-way is neither kept in memory nor written.
            if let Some((state, clock)) = self.before.take() {
                *self.guard = state;
                self.dir.clock.apply_setting(clock);
            }
            self.guard.store.take_touched();
            return;
        }
        let _ = self.finish();
    }
}

/// NT hash and Kerberos keys of a password given as UTF-16LE (MS-KILE 3.1.5.2; the AES keys
/// from its munged UTF-8 form, docs/notes/gmsa-gkdi.md §6).
pub fn password_secrets(
    utf16le: &[u8],
    salt: &str,
    kvno: u32,
    previous: Option<Box<AccountSecrets>>,
) -> AccountSecrets {
    let k = crate::keys::derive_from_utf16(utf16le, salt);
    AccountSecrets {
        nt_hash: k.nt_hash,
        aes128: Some(k.aes128),
        aes256: Some(k.aes256),
        kvno,
        previous,
        history: Vec::new(),
    }
}

impl Directory {
    /// The subschema entry's DN (MS-ADTS 3.1.1.3.2.6: CN=Aggregate in the schema NC).
    pub fn subschema_dn(&self) -> String {
        self.forest.schema_dn.child("CN", "Aggregate").to_string()
    }
}

impl Directory {
    /// The KDS root key a new forest starts with. `Backdated` moves UseStartTime back by
    /// 10 h 05 min (KEY_CYCLE + MAX_SKEW), the age the creation rule requires (docs/notes/gmsa-gkdi.md §1
    /// rule 1), so gMSAs can be created at once; the lab practice writes −10 h.
    fn provision_root_key(&self, st: &mut DirState, mode: KdsRootKeyMode) -> DsResult<()> {
        use rand::RngCore;
        let now = self.clock.now();
        let effective = match mode {
            KdsRootKeyMode::None => return Ok(()),
            KdsRootKeyMode::Immediate => crate::kds::Effective::Immediately,
            KdsRootKeyMode::Backdated => crate::kds::Effective::At(NtTime(
                now.0.saturating_sub(crate::kds::KEY_CYCLE + crate::kds::MAX_SKEW),
            )),
        };
        let mut data = [0u8; 64];
        st.rng.fill_bytes(&mut data);
        let id = Directory::random_guid(st);
        let key = crate::kds::RootKey::new_add_kds_root_key(
            id,
            data,
            now,
            effective,
            &self.forest.root().dc_dn.to_string(),
        );
        let entry = self.root_key_entry(st, &Caller::system(), &key)?;
        st.store.insert(entry).map_err(|_| DsError::dn_exists())?;
        Ok(())
    }
}
