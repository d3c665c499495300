//! Simple-bind authentication (RFC 4513 §5.1) the way AD resolves names: a DN, a UPN
//! (`user@domain`, implicit `sam@dnsdomain` included) or a down-level `DOMAIN\user`.

use super::account_state::{self, AccountState, DomainPolicy};
use super::caller::Caller;
use super::error::{code, DsError, DsResult};
use super::{token, DirState, Directory};
use crate::model::{Dn, Entry, EntryId};

/// AcceptSecurityContext failure (docs/notes/windows-behaviour.md row 20). `data` is the NTSTATUS-derived
/// sub-code: 52e bad credentials, 533 disabled, 775 locked out, 532 password expired.
pub fn invalid_credentials(data: &str) -> DsError {
    DsError::new(
        code::INVALID_CREDENTIALS,
        0x8009_0308,
        format!(
            "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data {data}, v4563\u{0}"
        ),
    )
}

impl Directory {
    /// Resolves a bind name to an account entry.
    pub fn resolve_account(&self, st: &DirState, name: &str) -> Option<EntryId> {
        let name = name.trim();
        if let Some((domain, user)) = name.split_once('\\') {
            let d = self.forest.domain_by_name(domain)?;
            return self.find_sam(st, d.index, user);
        }
        if let Some((user, domain)) = name.rsplit_once('@') {
            if let Some(id) = st
                .store
                .find_eq("userprincipalname", name.as_bytes())
                .and_then(|v| v.first().copied())
            {
                return Some(id);
            }
            let d = self.forest.domain_by_name(domain)?;
            return self.find_sam(st, d.index, user);
        }
        if name.contains('=') {
            return Dn::parse(name).ok().and_then(|dn| st.store.lookup(&dn));
        }
        None
    }

    /// The account with this sAMAccountName in one domain.
    pub fn find_sam(&self, st: &DirState, domain: usize, sam: &str) -> Option<EntryId> {
        st.store
            .find_eq("samaccountname", sam.as_bytes())?
            .into_iter()
            .find(|id| {
                st.store
                    .get(*id)
                    .is_some_and(|e| self.forest.domain_of(&e.dn).is_some_and(|d| d.index == domain))
            })
    }

    /// Checks a simple bind. An empty password is an unauthenticated bind (RFC 4513 §5.1.2),
    /// which AD treats as anonymous. A locked-out account is refused before its password is
    /// looked at (775 even with the right password, as AD does); a wrong password counts
    /// towards the lockout ([`Directory::record_logon`]).
    pub fn simple_bind(&self, name: &str, password: &[u8]) -> DsResult<Caller> {
        if password.is_empty() {
            return Ok(Caller::anonymous());
        }
        let (id, matches) = {
            let st = self.read();
            let id = self
                .resolve_account(&st, name)
                .ok_or_else(|| invalid_credentials("52e"))?;
            let entry = st.store.get(id).ok_or_else(|| invalid_credentials("52e"))?;
            let secrets = entry.secrets.as_ref().ok_or_else(|| invalid_credentials("52e"))?;
            self.check_not_locked(&st, entry)
                .map_err(|s| invalid_credentials(&format!("{:x}", s.logon_data())))?;
            let utf16: Vec<u8> = String::from_utf8_lossy(password)
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes())
                .collect();
            let hash = crate::keys::nt_hash(&utf16);
            // The previous password of a gMSA stays valid too (MS-ADTS 3.1.1.4.5.39).
            let matches =
                hash == secrets.nt_hash || secrets.previous.as_ref().is_some_and(|p| p.nt_hash == hash);
            (id, matches)
        };
        if !matches {
            self.record_logon(id, false);
            return Err(invalid_credentials("52e"));
        }
        let caller = self
            .logon(&self.read(), id)
            .map_err(|data| invalid_credentials(&format!("{data:x}")))?;
        self.record_logon(id, true);
        Ok(caller)
    }

    /// The password and lockout policy of the domain holding `e` (its NC head's attributes).
    pub fn domain_policy(&self, st: &DirState, e: &Entry) -> DomainPolicy {
        self.forest
            .domain_of(&e.dn)
            .and_then(|d| st.store.lookup(&d.dn))
            .and_then(|id| st.store.get(id))
            .map(|head| DomainPolicy::of(head))
            .unwrap_or_default()
    }

    /// The account's state at the simulated clock's now ([`account_state::account_state`]).
    pub fn account_state(&self, st: &DirState, e: &Entry) -> Result<(), AccountState> {
        account_state::account_state(e, self.clock.now(), &self.domain_policy(st, e))
    }

    /// Refuses a locked-out account before any credential is checked.
    pub fn check_not_locked(&self, st: &DirState, e: &Entry) -> Result<(), AccountState> {
        if account_state::is_locked_out(e, self.clock.now(), &self.domain_policy(st, e)) {
            return Err(AccountState::LockedOut);
        }
        Ok(())
    }

    /// Keeps badPwdCount / badPasswordTime / lockoutTime after a logon attempt whose
    /// credentials were checked: a failure counts (and may lock the account), a success
    /// resets. System writes (no access check), made only when something changes, so a good
    /// logon of a clean account takes no write lock. AD keeps these per DC, unreplicated
    /// (badPwdCount, badPasswordTime and lockoutTime are not replicated); one DC is simulated.
    pub fn record_logon(&self, id: EntryId, success: bool) {
        let now = self.clock.now();
        if success {
            let st = self.read();
            let clean = st.store.get(id).is_none_or(|e| {
                e.first_i64("badPwdCount").unwrap_or(0) == 0 && e.first_i64("lockoutTime").unwrap_or(0) == 0
            });
            if clean {
                return;
            }
        }
        let mut st = self.write();
        let Some(cur) = st.store.get(id) else { return };
        let policy = self.domain_policy(&st, cur);
        let mut e = (**cur).clone();
        let changed = if success {
            account_state::record_success(&mut e)
        } else {
            let locked = account_state::record_bad_password(&mut e, now, &policy);
            if locked {
                tracing::info!(
                    account = e.first_str("sAMAccountName").unwrap_or_default(),
                    "account locked out"
                );
            }
            true
        };
        if changed {
            if let Err(err) = st.store.update(e) {
                tracing::warn!(error = ?err, "logon bookkeeping not written");
            }
        }
        if let Err(err) = st.commit() {
            tracing::warn!(error = %err, "logon bookkeeping not made durable");
        }
    }

    /// The caller of an account that has proved its credentials (by password, NT hash or
    /// ticket), or the AcceptSecurityContext sub-status AD refuses the logon with because of the
    /// account's state ([`AccountState::logon_data`]: 533 disabled, 775 locked out, 701
    /// expired, 773 must change password, 532 password expired). The one account-state rule
    /// every bind mechanism uses.
    pub fn logon(&self, st: &DirState, id: EntryId) -> Result<Caller, u32> {
        if let Some(e) = st.store.get(id) {
            self.account_state(st, e).map_err(AccountState::logon_data)?;
        }
        Ok(self.caller_for(st, id))
    }

    /// The caller of a bound account: SID, transitive groups and logon SIDs.
    pub fn caller_for(&self, st: &DirState, id: EntryId) -> Caller {
        let entry = st.store.get(id);
        Caller {
            entry: Some(id),
            dn: entry.map(|e| e.dn.to_string()).unwrap_or_default(),
            sid: entry
                .and_then(|e| e.first("objectSid"))
                .and_then(|b| crate::security::Sid::from_bytes(b).ok()),
            token: token::token_for(st, &self.forest, id),
            encrypted: false,
            system: false,
            sd_flags: None,
        }
    }

    /// `u:DOMAIN\user` for WhoAmI (RFC 4532; AD answers with the down-level name).
    pub fn authz_id(&self, caller: &Caller) -> String {
        let st = self.read();
        let Some(e) = caller.entry.and_then(|id| st.store.get(id)) else {
            return String::new();
        };
        let domain = self
            .forest
            .domain_of(&e.dn)
            .map(|d| d.netbios.clone())
            .unwrap_or_default();
        format!(
            "u:{}\\{}",
            domain,
            e.first_str("sAMAccountName").unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::dsa::request::ModOp;

    fn data_of(r: DsResult<Caller>) -> String {
        let e = r.expect_err("refused");
        assert_eq!(e.code, code::INVALID_CREDENTIALS, "{e:?}");
        let text = e.to_string();
        let at = text.find("data ").expect("data");
        text[at + 5..].split(',').next().unwrap().to_string()
    }

    fn set(dir: &Directory, dn: &str, attr: &str, v: &str) {
        dir.modify(&admin(dir), dn, vec![m(ModOp::Replace, attr, s(v))])
            .unwrap();
    }

    /// The fixture's alice, enabled (she is created disabled, as AD creates users).
    fn forest() -> std::sync::Arc<Directory> {
        let dir = super::super::testing::forest();
        set(&dir, ALICE, "userAccountControl", "512");
        dir
    }

    #[test]
    fn pwd_last_set_accepts_zero_and_minus_one_only() {
        let dir = forest();
        let before = entry(&dir, ALICE).first_i64("pwdLastSet").unwrap();
        assert!(before > 0);
        for bad in ["12345", "1", "-2", "x"] {
            refused(&dir, 80, "00000057:", || {
                dir.modify(&admin(&dir), ALICE, vec![m(ModOp::Replace, "pwdLastSet", s(bad))])
            });
        }
        // -1 on a set value changes nothing (Samba setup_last_set_field).
        dir.advance_clock(3600).unwrap();
        set(&dir, ALICE, "pwdLastSet", "-1");
        assert_eq!(entry(&dir, ALICE).first_i64("pwdLastSet"), Some(before));
        set(&dir, ALICE, "pwdLastSet", "0");
        assert_eq!(entry(&dir, ALICE).first_i64("pwdLastSet"), Some(0));
        assert_eq!(data_of(dir.simple_bind(ALICE, ALICE_PW.as_bytes())), "773");
        set(&dir, ALICE, "pwdLastSet", "-1");
        assert_eq!(
            entry(&dir, ALICE).first_i64("pwdLastSet"),
            Some(dir.clock.now().0 as i64)
        );
        dir.simple_bind(ALICE, ALICE_PW.as_bytes()).unwrap();
    }

    #[test]
    fn binds_see_each_account_state() {
        let dir = forest();
        let pw = ALICE_PW.as_bytes();
        dir.simple_bind(ALICE, pw).unwrap();
        set(&dir, ALICE, "userAccountControl", "514");
        assert_eq!(data_of(dir.simple_bind(ALICE, pw)), "533");
        // A wrong password on a disabled account is still 52e.
        assert_eq!(data_of(dir.simple_bind(ALICE, b"wrong")), "52e");
        set(&dir, ALICE, "userAccountControl", "512");
        let past = dir.clock.now().0 - 1;
        set(&dir, ALICE, "accountExpires", &past.to_string());
        assert_eq!(data_of(dir.simple_bind(ALICE, pw)), "701");
        set(&dir, ALICE, "accountExpires", "0");
        dir.simple_bind(ALICE, pw).unwrap();
        // 42 days (the default maxPwdAge) later the password has expired...
        dir.advance_clock(43 * 86_400).unwrap();
        assert_eq!(data_of(dir.simple_bind(ALICE, pw)), "532");
        // ...but not one that never expires.
        set(&dir, ALICE, "userAccountControl", &(512 | 0x10000).to_string());
        dir.simple_bind(ALICE, pw).unwrap();
    }

    #[test]
    fn lockout_on_the_simulated_clock() {
        let dir = forest();
        let pw = ALICE_PW.as_bytes();
        let head = BASE;
        // Threshold 0 (the default): bad passwords count but never lock.
        for _ in 0..5 {
            assert_eq!(data_of(dir.simple_bind(ALICE, b"wrong")), "52e");
        }
        assert_eq!(entry(&dir, ALICE).first_i64("badPwdCount"), Some(5));
        dir.simple_bind(ALICE, pw).unwrap();
        assert_eq!(entry(&dir, ALICE).first_i64("badPwdCount"), Some(0));

        set(&dir, head, "lockoutThreshold", "3");
        for _ in 0..3 {
            assert_eq!(data_of(dir.simple_bind(ALICE, b"wrong")), "52e");
        }
        let e = entry(&dir, ALICE);
        assert_eq!(e.first_i64("lockoutTime"), Some(dir.clock.now().0 as i64));
        assert_eq!(e.first_i64("badPasswordTime"), Some(dir.clock.now().0 as i64));
        // Locked: the right password gets 775, and so does a wrong one (not counted).
        assert_eq!(data_of(dir.simple_bind(ALICE, pw)), "775");
        assert_eq!(data_of(dir.simple_bind(ALICE, b"wrong")), "775");
        assert_eq!(entry(&dir, ALICE).first_i64("badPwdCount"), Some(3));
        // lockoutDuration is 30 minutes.
        dir.advance_clock(29 * 60).unwrap();
        assert_eq!(data_of(dir.simple_bind(ALICE, pw)), "775");
        dir.advance_clock(60).unwrap();
        dir.simple_bind(ALICE, pw).unwrap();
        let e = entry(&dir, ALICE);
        assert_eq!(
            (e.first_i64("badPwdCount"), e.first_i64("lockoutTime")),
            (Some(0), Some(0))
        );

        // Duration "forever": only an administrator's lockoutTime = 0 unlocks (and clears
        // badPwdCount).
        set(&dir, head, "lockoutDuration", &i64::MIN.to_string());
        for _ in 0..3 {
            let _ = dir.simple_bind(ALICE, b"wrong");
        }
        dir.advance_clock(365 * 86_400 / 12).unwrap();
        assert_eq!(data_of(dir.simple_bind(ALICE, pw)), "775");
        set(&dir, ALICE, "lockoutTime", "0");
        assert_eq!(entry(&dir, ALICE).first_i64("badPwdCount"), Some(0));
        set(&dir, ALICE, "userAccountControl", &(512 | 0x10000).to_string());
        dir.simple_bind(ALICE, pw).unwrap();
    }
}
