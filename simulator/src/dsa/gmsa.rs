//! The gMSA life cycle in the directory: KDS root keys as `msKds-ProvRootKey` objects, the rules
//! of creating an `msDS-GroupManagedServiceAccount`, the lazy rollover a writable DC performs
//! on the first read or use after the interval (docs/notes/gmsa-gkdi.md §3), and the constructed
//! `msDS-ManagedPassword` (§5; who may read it is decided in `dsa::access`).

use std::sync::Arc;

use rand::RngCore;
use uuid::Uuid;

use super::caller::Caller;
use super::error::{code, win32, DsError, DsResult};
use super::{access, DirState, Directory};
use crate::clock::NtTime;
use crate::gmsa::{self, rollover, ManagedPasswordId, PasswordRef, RolloverInput};
use crate::kds::{self, Effective, RootKey};
use crate::model::{AccountSecrets, Dn, Entry, EntryId};
use crate::security::{SecurityDescriptor, Sid};

pub const GMSA_CLASS: &str = "msDS-GroupManagedServiceAccount";

/// New-ADServiceAccount's `-ManagedPasswordIntervalInDays` when not given or 0 ("If set to 0
/// then the default is used", Microsoft Learn New-ADServiceAccount).
pub const DEFAULT_INTERVAL_DAYS: i64 = 30;

/// NTE_NO_KEY: no root key can serve (docs/notes/windows-behaviour.md row 12; the add fails with 53).
pub fn no_root_key() -> DsError {
    DsError::new(
        code::UNWILLING_TO_PERFORM,
        win32::NTE_NO_KEY,
        "8009000D: SvcErr: DSID-031A1254, problem 5003 (WILL_NOT_PERFORM), data 0, Key does not exist.\n",
    )
}

fn gmsa_failure(e: gmsa::GmsaError) -> DsError {
    match e {
        gmsa::GmsaError::Kds(kds::KdsError::NoKey) => no_root_key(),
        other => DsError::operations(win32::ERROR_DS_OPERATIONS_ERROR, &other.to_string()),
    }
}

impl Directory {
    /// `CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,…`.
    pub fn root_key_container(&self) -> Dn {
        self.forest
            .config_dn
            .child("CN", "Services")
            .child("CN", "Group Key Distribution Service")
            .child("CN", "Master Root Keys")
    }

    /// Add-KdsRootKey. Enterprise Admins or the root domain's Domain Admins only (the
    /// configuration NC's default security).
    pub fn add_kds_root_key(&self, caller: &Caller, effective: Effective) -> DsResult<Uuid> {
        access::require_bound(caller)?;
        let mut st = self.write();
        let (id, data) = {
            let mut data = [0u8; 64];
            st.rng.fill_bytes(&mut data);
            (Directory::random_guid(&mut st), data)
        };
        let key = RootKey::new_add_kds_root_key(
            id,
            data,
            self.clock.now(),
            effective,
            &self.forest.root().dc_dn.to_string(),
        );
        let entry = self.root_key_entry(&mut st, caller, &key)?;
        st.store.insert(entry).map_err(|_| DsError::dn_exists())?;
        st.commit()?;
        // KdsSvc logs 4004 for every master root key it creates (crate::events).
        self.events.kds(
            self.clock.now(),
            crate::events::KDS_ROOT_KEY_CREATED,
            &[id.hyphenated().to_string()],
        );
        Ok(id)
    }

    /// The msKds-ProvRootKey entry for `key`, checked like any add (docs/notes/gmsa-gkdi.md §1 table).
    pub(super) fn root_key_entry(
        &self,
        st: &mut DirState,
        caller: &Caller,
        key: &RootKey,
    ) -> DsResult<Entry> {
        let dn = self
            .root_key_container()
            .child("CN", &key.id.hyphenated().to_string());
        let s = |v: String| vec![v.into_bytes()];
        let attrs = vec![
            (
                "objectClass".to_string(),
                vec![b"top".to_vec(), b"msKds-ProvRootKey".to_vec()],
            ),
            ("msKds-Version".into(), s(key.version.to_string())),
            ("msKds-RootKeyData".into(), vec![key.root_key_data.clone()]),
            ("msKds-KDFAlgorithmID".into(), s(key.kdf_algorithm.clone())),
            ("msKds-KDFParam".into(), vec![key.kdf_param.clone()]),
            ("msKds-CreateTime".into(), s(key.create_time.0.to_string())),
            ("msKds-UseStartTime".into(), s(key.use_start_time.0.to_string())),
            ("msKds-DomainID".into(), s(key.domain_id.clone())),
            (
                "msKds-SecretAgreementAlgorithmID".into(),
                s(key.secret_agreement_algorithm.clone()),
            ),
            (
                "msKds-SecretAgreementParam".into(),
                vec![key.secret_agreement_param.clone()],
            ),
            (
                "msKds-PublicKeyLength".into(),
                s(key.public_key_length.to_string()),
            ),
            (
                "msKds-PrivateKeyLength".into(),
                s(key.private_key_length.to_string()),
            ),
        ];
        self.build_new_entry(st, caller, &dn, attrs)
            .map(|(entry, _)| entry)
    }

    /// Every root key in the forest. An object that does not parse as a key is skipped, as the
    /// KDS skips children whose RDN is not a GUID (docs/notes/gmsa-gkdi.md §1).
    pub fn root_keys(&self, st: &DirState) -> Vec<RootKey> {
        let Some(container) = st.store.lookup(&self.root_key_container()) else {
            return Vec::new();
        };
        st.store
            .children(container)
            .filter_map(|id| st.store.get(id))
            .filter_map(|e| parse_root_key(e))
            .collect()
    }

    /// gMSA part of an add, run after the SID is allocated: interval, root key, first password
    /// id and keys (docs/notes/gmsa-gkdi.md §3 "Creation"; §5 creation rules).
    pub(super) fn init_gmsa(&self, st: &DirState, e: &mut Entry, domain: usize) -> DsResult<()> {
        // sAMAccountName ends in `$` like every machine account (MS-SAMR 3.1.1.8.10 for
        // computer-derived classes; inferred for an explicit name without it).
        if e.first_str("sAMAccountName")
            .is_some_and(|sam| !sam.ends_with('$'))
        {
            return Err(DsError::constraint(0x523, "sAMAccountName"));
        }
        // msDS-ManagedPasswordInterval is the class's systemMustContain (MS-ADSC 2.140): an add
        // without it is refused like any missing mandatory attribute (65 `0000207C`; Samba 4.22
        // refuses it too, with 65 `00002014`). New-ADServiceAccount supplies the default 30.
        let Some(days) = e.first_i64("msDS-ManagedPasswordInterval") else {
            let attr = crate::schema::Schema::ad()
                .attribute("msDS-ManagedPasswordInterval")
                .expect("msDS-ManagedPasswordInterval is in the schema");
            return Err(crate::schema::SchemaViolation::missing_required(attr).into());
        };
        rollover::rollover_interval(days).map_err(|_| {
            DsError::constraint(
                win32::ERROR_DS_CONSTRAINT_VIOLATION,
                "msDS-ManagedPasswordInterval",
            )
        })?;
        if let Some(sd) = e.first("msDS-GroupMSAMembership") {
            SecurityDescriptor::from_bytes(sd)
                .map_err(|_| DsError::constraint(0x57, "msDS-GroupMSAMembership"))?;
        }
        let now = self.clock.now();
        let keys = self.root_keys(st);
        let first = rollover::on_create(now, &keys).map_err(gmsa_failure)?;
        let d = &self.forest.domains[domain];
        let sid = entry_sid(e)
            .ok_or_else(|| DsError::operations(win32::ERROR_DS_OPERATIONS_ERROR, "gMSA without SID"))?;
        let root = kds::find_by_id(&keys, first.root_key_id).map_err(|_| no_root_key())?;
        let id = ManagedPasswordId::new(root, first.gkid, &d.dns_name, &self.forest.root_dns)
            .encode()
            .map_err(gmsa_failure)?;
        e.set("msDS-ManagedPasswordId", vec![id]);
        let salt = self.salt_for(e, &d.realm);
        let secrets = self.gmsa_secrets(&keys, first, &sid, &salt, 1, None)?;
        e.secrets = Some(Arc::new(secrets));
        e.set_str("pwdLastSet", now.0.to_string());
        Ok(())
    }

    /// A gMSA's sAMAccountName is unique in the whole forest ("gMSA account names must be
    /// unique within a forest … fails, even in different domains"; code inferred, wb row 5).
    pub(super) fn check_gmsa_name_in_forest(&self, st: &DirState, e: &Entry) -> DsResult<()> {
        let Some(sam) = e.first("sAMAccountName") else {
            return Ok(());
        };
        let clash = st
            .store
            .find_eq("samaccountname", sam)
            .unwrap_or_default()
            .into_iter()
            .any(|o| o != e.id);
        if clash {
            return Err(DsError::upd(
                code::ENTRY_ALREADY_EXISTS,
                win32::ERROR_DS_NAME_NOT_UNIQUE,
                6005,
                "ENTRY_EXISTS",
            ));
        }
        Ok(())
    }

    fn gmsa_secrets(
        &self,
        keys: &[RootKey],
        r: PasswordRef,
        sid: &Sid,
        salt: &str,
        kvno: u32,
        previous: Option<Box<AccountSecrets>>,
    ) -> DsResult<AccountSecrets> {
        let root = kds::find_by_id(keys, r.root_key_id).map_err(|_| no_root_key())?;
        let pw = gmsa::password_for(root, r.gkid, sid, Some(&self.seed_cache)).map_err(gmsa_failure)?;
        let k = pw.account_keys(salt);
        Ok(AccountSecrets {
            nt_hash: k.nt_hash,
            aes128: Some(k.aes128),
            aes256: Some(k.aes256),
            kvno,
            previous,
            history: Vec::new(),
        })
    }

    fn rollover_input(&self, e: &Entry, now: NtTime) -> Option<RolloverInput> {
        let when_created = parse_generalized(e.first_str("whenCreated")?)?;
        let id = |a: &str| {
            e.first(a)
                .and_then(|b| ManagedPasswordId::decode(b).ok())
                .map(|i| i.password_ref())
        };
        Some(RolloverInput {
            when_created,
            current_id: id("msDS-ManagedPasswordId"),
            previous_id: id("msDS-ManagedPasswordPreviousId"),
            interval_days: e
                .first_i64("msDS-ManagedPasswordInterval")
                .unwrap_or(DEFAULT_INTERVAL_DAYS),
            now,
        })
    }

    /// The lazy rollover (docs/notes/gmsa-gkdi.md §3): when the stored id has expired, persist the new id,
    /// the previous id, the new keys (the old ones kept as previous) and a new key version.
    pub fn roll_over_if_due(&self, id: EntryId) -> DsResult<()> {
        let now = self.clock.now();
        {
            let st = self.read();
            let Some(e) = st.store.get(id) else { return Ok(()) };
            if !self.is_due(e, now) {
                return Ok(());
            }
            let Some(input) = self.rollover_input(e, now) else {
                return Ok(());
            };
            // Due, but no usable root key: the stored keys stay (the next use retries).
            if rollover::evaluate(&input, &self.root_keys(&st)).is_err() {
                return Ok(());
            }
        }
        let mut st = self.write();
        let Some(e) = st.store.get(id).cloned() else {
            return Ok(());
        };
        let Some(input) = self.rollover_input(&e, now) else {
            return Ok(());
        };
        let keys = self.root_keys(&st);
        let decision = rollover::evaluate(&input, &keys).map_err(gmsa_failure)?;
        let Some(update) = decision.update else {
            return Ok(());
        };
        let mut e = (*e).clone();
        let account = String::from_utf8_lossy(e.first("sAMAccountName").unwrap_or_default()).into_owned();
        let domain = self.forest.domain_of(&e.dn).map(|d| d.index).unwrap_or(0);
        let d = &self.forest.domains[domain];
        let encode = |r: PasswordRef| -> DsResult<Vec<u8>> {
            let root = kds::find_by_id(&keys, r.root_key_id).map_err(|_| no_root_key())?;
            ManagedPasswordId::new(root, r.gkid, &d.dns_name, &self.forest.root_dns)
                .encode()
                .map_err(gmsa_failure)
        };
        let old_id = e.first("msDS-ManagedPasswordId").map(|v| v.to_vec());
        match update.previous {
            gmsa::rollover::PreviousIdUpdate::Keep => {}
            gmsa::rollover::PreviousIdUpdate::CopyCurrent => {
                if let Some(old) = old_id {
                    e.set("msDS-ManagedPasswordPreviousId", vec![old]);
                }
            }
            gmsa::rollover::PreviousIdUpdate::Set(r) => {
                e.set("msDS-ManagedPasswordPreviousId", vec![encode(r)?])
            }
        }
        e.set("msDS-ManagedPasswordId", vec![encode(update.current)?]);
        let sid = entry_sid(&e)
            .ok_or_else(|| DsError::operations(win32::ERROR_DS_OPERATIONS_ERROR, "gMSA without SID"))?;
        let salt = self.salt_for(&e, &d.realm);
        let old = e.secrets.as_ref().map(|s| {
            let mut prev = (**s).clone();
            prev.previous = None;
            Box::new(prev)
        });
        let kvno = e.secrets.as_ref().map_or(1, |s| s.kvno + 1);
        e.secrets = Some(Arc::new(self.gmsa_secrets(
            &keys,
            update.current,
            &sid,
            &salt,
            kvno,
            old,
        )?));
        // pwdLastSet: the start of the interval of the new password ([?] in docs/notes/gmsa-gkdi.md §3).
        e.set_str(
            "pwdLastSet",
            update.current.gkid.start_time().map_or(now, |t| t).0.to_string(),
        );
        let usn = st.store.next_usn();
        e.set_str("whenChanged", now.to_generalized_time());
        e.set_str("uSNChanged", usn.to_string());
        st.store.update(e).map_err(|_| DsError::no_such_object(""))?;
        st.commit()?;
        // Debug formatting quotes and escapes the name, so directory data cannot forge log lines.
        tracing::info!(account = ?account, kvno, "gMSA password rolled over");
        Ok(())
    }

    /// Whether `e` is a gMSA whose stored password ids are stale at `now` — a check that reads
    /// only the entry (no root key), so a search can ask it of every candidate.
    pub(super) fn is_due(&self, e: &Entry, now: NtTime) -> bool {
        e.is_class(GMSA_CLASS)
            && self
                .rollover_input(e, now)
                .is_some_and(|input| rollover::is_due(&input).unwrap_or(false))
    }

    /// Rolls over the gMSAs among `ids` whose interval has passed (before a search reads them):
    /// the cost follows the entries a search touches, not the number of gMSAs in the forest.
    pub(super) fn roll_over_due_among(&self, ids: &[EntryId]) {
        for id in ids {
            if let Err(e) = self.roll_over_if_due(*id) {
                tracing::warn!(error = %e, "gMSA rollover failed");
            }
        }
    }

    /// The constructed msDS-ManagedPassword blob of gMSA `e` (docs/notes/gmsa-gkdi.md §5), or `None` when
    /// it cannot be computed. Whether the caller may read it is `access::managed_password_read`.
    pub(super) fn managed_password_blob(&self, st: &DirState, e: &Entry) -> Option<Vec<u8>> {
        let sid = entry_sid(e)?;
        let input = self.rollover_input(e, self.clock.now())?;
        let keys = self.root_keys(st);
        let decision = rollover::evaluate(&input, &keys).ok()?;
        let blob = rollover::managed_password_blob(&decision, &keys, &sid, Some(&self.seed_cache)).ok()?;
        blob.encode().ok()
    }
}

fn entry_sid(e: &Entry) -> Option<Sid> {
    e.first("objectSid").and_then(|b| Sid::from_bytes(b).ok())
}

fn parse_root_key(e: &Entry) -> Option<RootKey> {
    let id = Uuid::parse_str(&e.dn.rdn()?.value).ok()?;
    let int = |a: &str| e.first_i64(a);
    let kdf_param = e.first("msKds-KDFParam").map(<[u8]>::to_vec).unwrap_or_default();
    Some(RootKey {
        id,
        version: int("msKds-Version")? as u32,
        kdf_algorithm: e.first_str("msKds-KDFAlgorithmID")?.to_string(),
        hash: kds::hash_from_kdf_param(&kdf_param).ok()?,
        kdf_param,
        secret_agreement_algorithm: e
            .first_str("msKds-SecretAgreementAlgorithmID")
            .unwrap_or_default()
            .to_string(),
        secret_agreement_param: e
            .first("msKds-SecretAgreementParam")
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
        public_key_length: int("msKds-PublicKeyLength").unwrap_or(0) as u32,
        private_key_length: int("msKds-PrivateKeyLength").unwrap_or(0) as u32,
        root_key_data: e.first("msKds-RootKeyData")?.to_vec(),
        create_time: NtTime(int("msKds-CreateTime")? as u64),
        use_start_time: NtTime(int("msKds-UseStartTime")? as u64),
        domain_id: e.first_str("msKds-DomainID").unwrap_or_default().to_string(),
    })
    .filter(|k| k.validate().is_ok())
}

/// `20261122100000.0Z` → NTTIME (whole seconds, as AD stores whenCreated).
fn parse_generalized(s: &str) -> Option<NtTime> {
    let d = s.get(..14)?;
    let n = |r: std::ops::Range<usize>| d.get(r).and_then(|x| x.parse::<u32>().ok());
    let date = time::Date::from_calendar_date(
        n(0..4)? as i32,
        time::Month::try_from(n(4..6)? as u8).ok()?,
        n(6..8)? as u8,
    )
    .ok()?;
    let t = time::Time::from_hms(n(8..10)? as u8, n(10..12)? as u8, n(12..14)? as u8).ok()?;
    Some(NtTime::from_unix_seconds(
        time::PrimitiveDateTime::new(date, t)
            .assume_utc()
            .unix_timestamp(),
    ))
}
