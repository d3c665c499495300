//! unicodePwd (MS-ADTS 3.1.1.3.1.5.1): the value format, the encrypted-connection rule, and
//! which modify is a reset (a replace, needing the reset right) and which a change (delete
//! the old value, add the new one; the old password must be proven).

use super::access::{self, Right};
use super::caller::Caller;
use super::error::{code, win32, DsError, DsResult};
use super::request::{ModOp, Modification};
use super::Directory;
use crate::model::Entry;

impl Directory {
    /// The new password of a modify that touches unicodePwd (MS-ADTS 3.1.1.3.1.5.1): a replace
    /// is a reset and needs the reset right; a delete of the old value with an add of the new
    /// one is a change and must prove the old password (else 19 `00000056 … Att 9005a`).
    pub(super) fn password_modification(
        &self,
        caller: &Caller,
        e: &Entry,
        mods: &[Modification],
    ) -> DsResult<Vec<u8>> {
        let pw: Vec<&Modification> = mods
            .iter()
            .filter(|m| m.attr.eq_ignore_ascii_case("unicodePwd"))
            .collect();
        match pw.as_slice() {
            [m] if m.op == ModOp::Replace => {
                access::check(self, caller, e, Right::ResetPassword)?;
                self.check_unicode_pwd(caller, &m.values)
            }
            [old, new] if old.op == ModOp::Delete && new.op == ModOp::Add => {
                let old_pw = self.check_unicode_pwd(caller, &old.values)?;
                let utf16: Vec<u8> = String::from_utf8_lossy(&old_pw)
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect();
                if e.secrets.as_ref().map(|s| s.nt_hash) != Some(crate::keys::nt_hash(&utf16)) {
                    return Err(wrong_old_password());
                }
                self.check_unicode_pwd(caller, &new.values)
            }
            _ => Err(wrong_old_password()),
        }
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

/// A password change whose old password is wrong or missing (ERROR_INVALID_PASSWORD, the text
/// AD clients see on a failed self-service change).
fn wrong_old_password() -> DsError {
    DsError::atr(
        code::CONSTRAINT_VIOLATION,
        0x56,
        1005,
        "CONSTRAINT_ATT_TYPE",
        0x9005a,
        "unicodePwd",
    )
}
