//! Directory semantics shared by every front end (LDAP, GC, KDC, control API): add, modify,
//! delete, rename, search and compare with validation, defaults, constructed attributes,
//! access checks and Windows-shaped errors. Front ends translate; they never decide.

pub mod access;
pub mod add;
pub mod attrs;
pub mod bind;
pub mod caller;
pub mod compare;
pub mod delete;
pub mod error;
pub mod fixtures;
pub mod forest;
pub mod gmsa;
pub mod matching;
pub mod modify;
pub mod password;
mod prologue;
pub mod provision;
pub mod rename;
pub mod request;
pub mod search;
pub mod spn;
#[cfg(test)]
mod testing;
pub mod token;

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub use caller::Caller;
pub use error::{DsError, DsResult};
pub use forest::{ChildDomainConfig, DomainInfo, ForestConfig, ForestInfo, KdsRootKeyMode};

use crate::clock::{Clock, ClockSetting, NtTime};
use crate::model::{AccountSecrets, Entry};
use crate::store::Store;

/// Everything that changes: the entries, the RID pools and the random stream. Cloning it is an
/// O(1) point-in-time snapshot (the store is persistent).
#[derive(Clone)]
pub struct DirState {
    pub store: Store,
    /// Next RID to hand out, per domain index.
    pub next_rid: Vec<u32>,
    pub rng: ChaCha20Rng,
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
    state: RwLock<DirState>,
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
            state: RwLock::new(DirState {
                store: Store::new(),
                next_rid: Vec::new(),
                rng: ChaCha20Rng::seed_from_u64(0),
            }),
        };
        let mut st = DirState {
            store: Store::new(),
            next_rid: Vec::new(),
            rng: ChaCha20Rng::seed_from_u64(0),
        };
        provision::Provisioner {
            dir: &dir,
            rng: &mut rng,
        }
        .provision(&mut st, config)?;
        st.rng = rng;
        dir.provision_root_key(&mut st, config.kds_root_key)?;
        *dir.state.write().expect("fresh lock") = st;
        Ok(Arc::new(dir))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, DirState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, DirState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
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
        let mut st = self.write();
        *st = snap.state.clone();
        self.clock.apply_setting(snap.clock);
    }

    /// A directory from saved parts (a snapshot file): the forest's shape, seed, clock and state.
    pub fn from_state(forest: ForestInfo, seed: u64, clock: Clock, state: DirState) -> Arc<Directory> {
        Arc::new(Directory {
            forest,
            clock,
            seed,
            seed_cache: crate::kds::SeedKeyCache::new(),
            state: RwLock::new(state),
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
        let secrets = password_secrets(&utf16, &salt, kvno, None);
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

    /// Draws 16 bytes from the forest's seeded random stream.
    pub fn random_guid(st: &mut DirState) -> uuid::Uuid {
        let mut b = [0u8; 16];
        st.rng.fill_bytes(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid()
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
