//! unicodePwd (MS-ADTS 3.1.1.3.1.5.1): the value format, the encrypted-connection rule, and
//! which modify is a reset (a replace, needing the reset right) and which a change (delete
//! the old value, add the new one; the old password must be proven).

use super::access::{self, Right};
use super::caller::Caller;
use super::error::{code, win32, DsError, DsResult};
use super::password_policy::{PasswordPolicy, PasswordWrite};
use super::prologue::store_err;
use super::request::{ModOp, Modification};
use super::{DirState, Directory};
use crate::model::{Entry, EntryId};

impl Directory {
    /// The new password of a modify that touches unicodePwd (MS-ADTS 3.1.1.3.1.5.1): a replace
    /// is a reset and needs the reset right; a delete of the old value with an add of the new
    /// one is a change and must prove the old password (else 19 `00000056 … Att 9005a`).
    pub(super) fn password_modification(
        &self,
        caller: &Caller,
        e: &Entry,
        mods: &[Modification],
    ) -> DsResult<(Vec<u8>, PasswordWrite)> {
        let pw: Vec<&Modification> = mods
            .iter()
            .filter(|m| m.attr.eq_ignore_ascii_case("unicodePwd"))
            .collect();
        match pw.as_slice() {
            [m] if m.op == ModOp::Replace => {
                access::check(self, caller, e, Right::ResetPassword)?;
                Ok((self.check_unicode_pwd(caller, &m.values)?, PasswordWrite::Reset))
            }
            [old, new] if old.op == ModOp::Delete && new.op == ModOp::Add => {
                // MS-ADTS 3.1.1.3.1.5.1: a change needs User-Change-Password (the default SDs
                // grant it to Everyone and SELF).
                access::check(self, caller, e, Right::ChangePassword)?;
                let old_pw = self.check_unicode_pwd(caller, &old.values)?;
                let utf16: Vec<u8> = String::from_utf8_lossy(&old_pw)
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect();
                if e.secrets.as_ref().map(|s| s.nt_hash) != Some(crate::keys::nt_hash(&utf16)) {
                    return Err(wrong_old_password());
                }
                Ok((
                    self.check_unicode_pwd(caller, &new.values)?,
                    PasswordWrite::Change,
                ))
            }
            _ => Err(wrong_old_password()),
        }
    }

    /// The password policy of the domain holding `e` (its NC head's attributes), if any.
    pub fn password_policy_for(&self, st: &DirState, e: &Entry) -> Option<PasswordPolicy> {
        let d = self.forest.domain_of(&e.dn)?;
        let head = st.store.get(st.store.lookup(&d.dn)?)?;
        Some(PasswordPolicy::of_domain(head))
    }

    /// The domain's password policy for a password a client writes (`dsa::password_policy`):
    /// a violation is 19 `0000052D … Att 9005a (unicodePwd)`, what AD answers
    /// (ERROR_PASSWORD_RESTRICTION, docs/notes/windows-behaviour.md). The DC's own writes
    /// (SYSTEM: provisioning, fixtures) are not held to it.
    pub(super) fn enforce_password_policy(
        &self,
        st: &DirState,
        caller: &Caller,
        e: &Entry,
        password: &[u8],
        write: PasswordWrite,
    ) -> DsResult<()> {
        if caller.system {
            return Ok(());
        }
        let Some(policy) = self.password_policy_for(st, e) else {
            return Ok(());
        };
        let password = String::from_utf8_lossy(password);
        policy
            .check(e, &password, write, self.clock.now())
            .map_err(|violation| {
                tracing::debug!(?violation, dn = %e.dn, "password refused by the domain policy");
                password_restriction()
            })
    }

    /// Sets the password of `target` for a caller authenticated some other way than by the old
    /// password (kpasswd: an initial ticket proves it for a change; a set is a reset):
    /// a change is the account's own, a reset needs the Reset Password right; then the policy
    /// and the same effects as an LDAP write (`apply_password`: keys of every etype, kvno + 1,
    /// pwdLastSet, history). Refusals change nothing.
    pub fn write_password(
        &self,
        caller: &Caller,
        target: EntryId,
        password: &str,
        write: PasswordWrite,
    ) -> DsResult<()> {
        let mut st = self.write();
        let mut e = (**st.store.get(target).ok_or_else(DsError::insufficient_access)?).clone();
        match write {
            PasswordWrite::Change if caller.entry != Some(target) && !caller.system => {
                return Err(DsError::access_denied());
            }
            PasswordWrite::Change => {}
            PasswordWrite::Reset => access::check(self, caller, &e, Right::ResetPassword)?,
        }
        self.enforce_password_policy(&st, caller, &e, password.as_bytes(), write)?;
        let realm = self
            .forest
            .domain_of(&e.dn)
            .map(|d| d.realm.clone())
            .ok_or_else(|| DsError::unwilling(win32::ERROR_DS_UNWILLING_TO_PERFORM))?;
        let now = self.clock.now();
        self.apply_password(&mut e, &realm, password.as_bytes(), now);
        let usn = st.store.next_usn();
        e.set_str("whenChanged", now.to_generalized_time());
        e.set_str("uSNChanged", usn.to_string());
        st.store.update(e).map_err(store_err)?;
        st.commit()
    }

    /// unicodePwd: one value, the password in double quotes as UTF-16LE, and only over an
    /// encrypted connection (MS-ADTS 3.1.1.3.1.5.1). Returns the password as UTF-8.
    pub(super) fn check_unicode_pwd(&self, caller: &Caller, values: &[Vec<u8>]) -> DsResult<Vec<u8>> {
        access::require_encrypted_for_password(caller)?;
        let [v] = values else {
            return Err(DsError::svc(
                code::CONSTRAINT_VIOLATION,
                win32::ERROR_PASSWORD_RESTRICTION,
                1005,
                "CONSTRAINT_ATT_TYPE",
                0,
            ));
        };
        decode_quoted_utf16(v).map(|s| s.into_bytes()).ok_or_else(|| {
            DsError::svc(
                code::CONSTRAINT_VIOLATION,
                win32::ERROR_PASSWORD_RESTRICTION,
                1005,
                "CONSTRAINT_ATT_TYPE",
                0,
            )
        })
    }
}

/// `"password"` as UTF-16LE → the password (MS-ADTS 3.1.1.3.1.5.1).
pub fn decode_quoted_utf16(v: &[u8]) -> Option<String> {
    if v.len() < 4 || v.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = v
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let s = String::from_utf16(&units).ok()?;
    s.strip_prefix('"')?.strip_suffix('"').map(str::to_string)
}

/// A password the domain's policy refuses (ERROR_PASSWORD_RESTRICTION on unicodePwd).
pub fn password_restriction() -> DsError {
    DsError::atr(
        code::CONSTRAINT_VIOLATION,
        win32::ERROR_PASSWORD_RESTRICTION,
        1005,
        "CONSTRAINT_ATT_TYPE",
        "unicodePwd",
    )
}

/// A password change whose old password is wrong or missing (ERROR_INVALID_PASSWORD, the text
/// AD clients see on a failed self-service change).
fn wrong_old_password() -> DsError {
    DsError::atr(
        code::CONSTRAINT_VIOLATION,
        0x56,
        1005,
        "CONSTRAINT_ATT_TYPE",
        "unicodePwd",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::testing::*;

    fn keys(dir: &Directory, dn: &str) -> ([u8; 16], u32) {
        let e = entry(dir, dn);
        let k = e.secrets.as_ref().expect("secrets");
        (k.nt_hash, k.kvno)
    }

    fn change(old: &str, new: &str) -> Vec<Modification> {
        vec![
            m(ModOp::Delete, "unicodePwd", quoted(old)),
            m(ModOp::Add, "unicodePwd", quoted(new)),
        ]
    }

    fn nt(pw: &str) -> [u8; 16] {
        let utf16: Vec<u8> = pw.encode_utf16().flat_map(u16::to_le_bytes).collect();
        crate::keys::nt_hash(&utf16)
    }

    #[test]
    fn decodes_quoted_utf16() {
        assert_eq!(decode_quoted_utf16(&quoted("pw")[0]).as_deref(), Some("pw"));
        assert_eq!(
            decode_quoted_utf16(&"pw".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<_>>()),
            None
        );
        assert_eq!(decode_quoted_utf16(b"\"\0"), None);
    }

    #[test]
    fn own_change_proves_the_old_password() {
        let dir = forest();
        let (_, kvno) = keys(&dir, ALICE);
        // minPwdAge (one day in a new domain) must have passed since the password was set.
        dir.advance_clock(86_400).unwrap();
        dir.modify(&caller(&dir, ALICE), ALICE, change(ALICE_PW, "New-Passw0rd!"))
            .unwrap();
        assert_eq!(keys(&dir, ALICE), (nt("New-Passw0rd!"), kvno + 1));
    }

    #[test]
    fn reset_needs_the_reset_right() {
        let dir = forest();
        let reset = vec![m(ModOp::Replace, "unicodePwd", quoted("Reset-Passw0rd!"))];
        dir.modify(&caller(&dir, OPS), ALICE, reset.clone()).unwrap();
        assert_eq!(keys(&dir, ALICE).0, nt("Reset-Passw0rd!"));
        dir.modify(&admin(&dir), OPS, reset).unwrap();
        assert_eq!(keys(&dir, OPS).0, nt("Reset-Passw0rd!"));
    }

    #[test]
    fn refusals_change_nothing() {
        let dir = forest();
        let alice = caller(&dir, ALICE);
        let reset = |pw: &str| vec![m(ModOp::Replace, "unicodePwd", quoted(pw))];
        refused(&dir, 19, "00000056:", || {
            dir.modify(&alice, ALICE, change("Wrong-Passw0rd!", "New-Passw0rd!"))
        });
        refused(&dir, 19, "00000056:", || {
            dir.modify(
                &alice,
                ALICE,
                vec![m(ModOp::Add, "unicodePwd", quoted("New-Passw0rd!"))],
            )
        });
        refused(&dir, 50, "00000005:", || {
            dir.modify(&alice, ALICE, reset("New-Passw0rd!"))
        });
        refused(&dir, 50, "00000005:", || {
            dir.modify(&alice, OPS, reset("New-Passw0rd!"))
        });
        refused(&dir, 53, "0000001F:", || {
            dir.modify(
                &alice.clone().with_encryption(false),
                ALICE,
                change(ALICE_PW, "New-Passw0rd!"),
            )
        });
        refused(&dir, 19, "0000052D:", || {
            dir.modify(
                &admin(&dir),
                ALICE,
                vec![m(ModOp::Replace, "unicodePwd", s("unquoted"))],
            )
        });
        refused(&dir, 19, "0000052D:", || {
            dir.modify(
                &admin(&dir),
                ALICE,
                vec![m(
                    ModOp::Replace,
                    "unicodePwd",
                    [quoted("a"), quoted("b")].concat(),
                )],
            )
        });
    }
}
