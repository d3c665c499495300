//! The domain's password policy (MS-ADTS 3.1.1.3.1.5.1 / MS-SAMR 3.1.1.7.1): minPwdLength,
//! pwdProperties (DOMAIN_PASSWORD_COMPLEX), pwdHistoryLength and minPwdAge, read from the
//! domain NC head and applied on the password writes a client makes (LDAP unicodePwd change and
//! reset; kpasswd change and set). The DC's own writes (provisioning, fixtures as SYSTEM, gMSA
//! rollover) do not go through it; nor, yet, the first password of an LDAP add (docs/fidelity.md).

use crate::clock::NtTime;
use crate::model::Entry;

/// pwdProperties bits (MS-SAMR DOMAIN_PASSWORD_INFORMATION.PasswordProperties; the
/// same bits MIT's chpw.c decodes from AD's kpasswd policy blob).
pub mod pwd_properties {
    pub const COMPLEX: u32 = 0x0000_0001;
    pub const NO_ANON_CHANGE: u32 = 0x0000_0002;
    pub const NO_CLEAR_CHANGE: u32 = 0x0000_0004;
    pub const LOCKOUT_ADMINS: u32 = 0x0000_0008;
    pub const STORE_CLEARTEXT: u32 = 0x0000_0010;
    pub const REFUSE_CHANGE: u32 = 0x0000_0020;
}

/// One domain's password policy as its NC head holds it. Ages are the stored values: negative
/// 100 ns intervals (minPwdAge -864000000000 is one day), 0 meaning none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: u32,
    pub history_length: u32,
    pub properties: u32,
    pub max_age: i64,
    pub min_age: i64,
}

impl PasswordPolicy {
    /// The policy of the domain whose NC head is `head`; an absent attribute is 0 (no rule).
    pub fn of_domain(head: &Entry) -> PasswordPolicy {
        let int = |a: &str| head.first_i64(a).unwrap_or(0);
        PasswordPolicy {
            min_length: u32::try_from(int("minPwdLength")).unwrap_or(0),
            history_length: u32::try_from(int("pwdHistoryLength")).unwrap_or(0),
            properties: int("pwdProperties") as u32,
            max_age: int("maxPwdAge"),
            min_age: int("minPwdAge"),
        }
    }

    pub fn complex(&self) -> bool {
        self.properties & pwd_properties::COMPLEX != 0
    }
}

/// Which kind of write: a change proves the old password (or an initial ticket); a reset is an
/// administrator's, with the Reset Password right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordWrite {
    Change,
    Reset,
}

/// The rule a new password breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyViolation {
    TooShort,
    NotComplex,
    InHistory,
    /// A change within minPwdAge of the last one.
    TooYoung,
}

impl PasswordPolicy {
    /// Checks `password` (UTF-8) for `account` at `now`. Length and complexity apply to every
    /// write; history and minimum age to changes only: an administrator's reset skips them
    /// unless the client asks otherwise with LDAP_SERVER_POLICY_HINTS_OID (MS-ADTS 3.1.1.3.4.1,
    /// which exists because a reset does not enforce history by default).
    pub fn check(
        &self,
        account: &Entry,
        password: &str,
        write: PasswordWrite,
        now: NtTime,
    ) -> Result<(), PolicyViolation> {
        // MS-SAMR 3.1.1.7.1/3.1.1.7.2: every constraint is conditioned on userAccountControl
        // containing UF_NORMAL_ACCOUNT (0x200) — machine, DC, trust and gMSA accounts are not
        // held to the domain's password policy (an `adcli join --one-time-password` changes a
        // just-preset machine password at once).
        let uac = account.first_i64("userAccountControl").unwrap_or(0) as u32;
        if uac & super::provision::uac::NORMAL_ACCOUNT == 0 {
            return Ok(());
        }
        if (password.chars().count() as u64) < u64::from(self.min_length) {
            return Err(PolicyViolation::TooShort);
        }
        if self.complex() && !is_complex(account, password) {
            return Err(PolicyViolation::NotComplex);
        }
        if write == PasswordWrite::Reset {
            return Ok(());
        }
        // minPwdAge (Microsoft Learn, "Minimum password age"): pwdLastSet 0 (must change at next
        // logon) lets the change through at once.
        let last_set = account.first_i64("pwdLastSet").unwrap_or(0);
        if self.min_age != 0 && last_set > 0 {
            let since = (now.0 as i64).saturating_sub(last_set);
            if since < self.min_age.saturating_abs() {
                return Err(PolicyViolation::TooYoung);
            }
        }
        if self.history_length > 0 {
            let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
            let hash = crate::keys::nt_hash(&utf16);
            let remembered = account
                .secrets
                .as_deref()
                .map(|s| {
                    s.history
                        .iter()
                        .take(self.history_length as usize)
                        .any(|h| *h == hash)
                })
                .unwrap_or(false);
            if remembered {
                return Err(PolicyViolation::InHistory);
            }
        }
        Ok(())
    }
}

/// "Password must meet complexity requirements" (Microsoft Learn, security policy settings):
/// the password does not contain the sAMAccountName (when longer than two characters) nor any
/// displayName token of three characters or more (tokens split at , . - _ # space tab), both
/// case-insensitively; and it has characters of three of the five categories: upper case,
/// lower case, digits, non-alphanumeric, other alphabetic (Unicode letters without case).
pub fn is_complex(account: &Entry, password: &str) -> bool {
    let lower = password.to_lowercase();
    if let Some(sam) = account.first_str("sAMAccountName") {
        let sam = sam.to_lowercase();
        if sam.chars().count() > 2 && lower.contains(&sam) {
            return false;
        }
    }
    if let Some(display) = account.first_str("displayName") {
        let hit = display
            .split([',', '.', '-', '_', '#', ' ', '\t'])
            .filter(|t| t.chars().count() >= 3)
            .any(|t| lower.contains(&t.to_lowercase()));
        if hit {
            return false;
        }
    }
    const SPECIAL: &str = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/";
    let categories = [
        password.chars().any(char::is_uppercase),
        password.chars().any(char::is_lowercase),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| SPECIAL.contains(c)),
        password
            .chars()
            .any(|c| c.is_alphabetic() && !c.is_uppercase() && !c.is_lowercase()),
    ];
    categories.iter().filter(|b| **b).count() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountSecrets, Dn, EntryId};
    use std::sync::Arc;

    const DAY: i64 = 864_000_000_000;

    fn policy() -> PasswordPolicy {
        PasswordPolicy {
            min_length: 7,
            history_length: 24,
            properties: pwd_properties::COMPLEX,
            max_age: -42 * DAY,
            min_age: -DAY,
        }
    }

    fn account(last_set: i64, history: &[&str]) -> Entry {
        let mut e = Entry::new(EntryId(1), Dn::parse("CN=Alice Doe,DC=x").unwrap(), None);
        e.set_str("sAMAccountName", "alice");
        e.set_str("displayName", "Alice Doe-Smith");
        e.set_str("userAccountControl", "512");
        e.set_str("pwdLastSet", last_set.to_string());
        let hashes: Vec<[u8; 16]> = history
            .iter()
            .map(|p| crate::keys::nt_hash(&p.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>()))
            .collect();
        e.secrets = Some(Arc::new(AccountSecrets {
            nt_hash: hashes.first().copied().unwrap_or_default(),
            aes128: None,
            aes256: None,
            kvno: 1,
            previous: None,
            history: hashes,
        }));
        e
    }

    #[test]
    fn length_and_complexity_apply_to_every_write() {
        let p = policy();
        let a = account(1, &[]);
        let now = NtTime(10 * DAY as u64);
        for w in [PasswordWrite::Change, PasswordWrite::Reset] {
            assert_eq!(p.check(&a, "Ab1!", w, now), Err(PolicyViolation::TooShort));
            assert_eq!(p.check(&a, "abcdefgh1", w, now), Err(PolicyViolation::NotComplex));
            assert_eq!(p.check(&a, "xAlice99!", w, now), Err(PolicyViolation::NotComplex));
            assert_eq!(
                p.check(&a, "my-SMITH-9", w, now),
                Err(PolicyViolation::NotComplex)
            );
            assert_eq!(p.check(&a, "Good-Passw0rd", w, now), Ok(()));
        }
        // "Doe" is three characters: a token; two-character tokens would not count.
        assert_eq!(
            p.check(&a, "Xdoe-12345", PasswordWrite::Reset, now),
            Err(PolicyViolation::NotComplex)
        );
        // Three categories suffice: lower, digits, symbols.
        assert!(is_complex(&a, "plain-12345"));
        assert!(!is_complex(&a, "plainlower12"));
        let off = PasswordPolicy { properties: 0, ..p };
        assert_eq!(off.check(&a, "plainlower", PasswordWrite::Change, now), Ok(()));
        // Not a UF_NORMAL_ACCOUNT (a workstation trust account, 0x1000): no constraint applies
        // (MS-SAMR 3.1.1.7.1).
        let mut machine = account(now.0 as i64 - DAY / 2, &["Current-Passw0rd"]);
        machine.set_str("userAccountControl", "4096");
        for w in [PasswordWrite::Change, PasswordWrite::Reset] {
            assert_eq!(p.check(&machine, "x", w, now), Ok(()));
            assert_eq!(p.check(&machine, "Current-Passw0rd", w, now), Ok(()));
        }
    }

    #[test]
    fn history_and_minimum_age_apply_to_changes_only() {
        let p = policy();
        let now = NtTime(10 * DAY as u64);
        let a = account(now.0 as i64 - 2 * DAY, &["Current-Passw0rd", "Older-Passw0rd"]);
        assert_eq!(
            p.check(&a, "Older-Passw0rd", PasswordWrite::Change, now),
            Err(PolicyViolation::InHistory)
        );
        assert_eq!(
            p.check(&a, "Current-Passw0rd", PasswordWrite::Change, now),
            Err(PolicyViolation::InHistory)
        );
        assert_eq!(p.check(&a, "Older-Passw0rd", PasswordWrite::Reset, now), Ok(()));
        let one = PasswordPolicy {
            history_length: 1,
            ..p
        };
        assert_eq!(
            one.check(&a, "Older-Passw0rd", PasswordWrite::Change, now),
            Ok(())
        );

        let young = account(now.0 as i64 - DAY / 2, &[]);
        assert_eq!(
            p.check(&young, "Fresh-Passw0rd", PasswordWrite::Change, now),
            Err(PolicyViolation::TooYoung)
        );
        assert_eq!(
            p.check(&young, "Fresh-Passw0rd", PasswordWrite::Reset, now),
            Ok(())
        );
        // pwdLastSet 0: must change now, whatever the minimum age.
        let must = account(0, &[]);
        assert_eq!(
            p.check(&must, "Fresh-Passw0rd", PasswordWrite::Change, now),
            Ok(())
        );
    }
}
