//! Account state as every logon sees it — simple, NTLM and SASL binds and the KDC's AS
//! exchange: disabled, locked out, expired account, password that must change or has expired
//! (MS-ADTS 3.1.1.4.5.17 msDS-User-Account-Control-Computed, MS-SAMR pwdLastSet
//! semantics, MS-KILE 3.3.5.6.1), and the bad-password bookkeeping that locks an account out
//! (badPwdCount / badPasswordTime / lockoutTime against the domain's lockoutThreshold,
//! lockOutObservationWindow and lockoutDuration; Samba's
//! `dsdb_update_bad_pwd_count`). Pure: an entry, the domain's policy and the time in, a
//! verdict or the changed entry out. `Directory::logon` and the KDC database use it.

use super::provision::uac;
use crate::clock::NtTime;
use crate::model::Entry;

/// UF_LOCKOUT (MS-ADTS 2.2.16): never stored by AD, only computed.
pub const UF_LOCKOUT: u32 = 0x10;
/// UF_PASSWORD_EXPIRED (MS-ADTS 2.2.16), computed.
pub const UF_PASSWORD_EXPIRED: u32 = 0x80_0000;
/// UF_SMARTCARD_REQUIRED: the password never expires for such an account (MS-ADTS 3.1.1.4.5.17).
const UF_SMARTCARD_REQUIRED: u32 = 0x4_0000;
/// "Never" for accountExpires (MS-ADTS accountExpires: 0 and 0x7FFFFFFFFFFFFFFF both mean no expiry).
const NEVER: i64 = i64::MAX;

/// Why an account that proved its credentials may not log on. One table for the LDAP
/// AcceptSecurityContext sub-status (docs/notes/windows-behaviour.md row 20) and the
/// Kerberos error (MS-KILE 3.3.5.6.1.1 / 3.3.5.6.1.2 / RFC 4120 §7.5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// userAccountControl has ACCOUNTDISABLE: `data 533`, KDC_ERR_CLIENT_REVOKED.
    Disabled,
    /// lockoutTime set and lockoutDuration not yet passed: `data 775`, KDC_ERR_CLIENT_REVOKED.
    LockedOut,
    /// accountExpires is in the past: `data 701`, KDC_ERR_CLIENT_REVOKED.
    AccountExpired,
    /// pwdLastSet = 0 ("User must change password at next logon"): `data 773`,
    /// KDC_ERR_KEY_EXPIRED.
    MustChangePassword,
    /// pwdLastSet + maxPwdAge is in the past: `data 532`, KDC_ERR_KEY_EXPIRED.
    PasswordExpired,
}

/// What the KDC answers for a state (the wire numbers live in `kdc::error`; this is the
/// mapping only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KerberosVerdict {
    /// KDC_ERR_CLIENT_REVOKED (18), before pre-authentication.
    Revoked,
    /// KDC_ERR_KEY_EXPIRED (23), after pre-authentication; a ticket for kadmin/changepw is
    /// still issued (RFC 3244: the password-change service).
    KeyExpired,
}

impl AccountState {
    /// The `data` of AD's 49 `80090308: … AcceptSecurityContext error, data N` (NTSTATUS
    /// STATUS_ACCOUNT_DISABLED 533, STATUS_ACCOUNT_LOCKED_OUT 775, STATUS_ACCOUNT_EXPIRED 701,
    /// STATUS_PASSWORD_MUST_CHANGE 773, STATUS_PASSWORD_EXPIRED 532 as Win32 codes).
    pub fn logon_data(self) -> u32 {
        match self {
            AccountState::Disabled => 0x533,
            AccountState::LockedOut => 0x775,
            AccountState::AccountExpired => 0x701,
            AccountState::MustChangePassword => 0x773,
            AccountState::PasswordExpired => 0x532,
        }
    }

    pub fn kerberos(self) -> KerberosVerdict {
        match self {
            AccountState::Disabled | AccountState::LockedOut | AccountState::AccountExpired => {
                KerberosVerdict::Revoked
            }
            AccountState::MustChangePassword | AccountState::PasswordExpired => KerberosVerdict::KeyExpired,
        }
    }
}

/// The domain's password and lockout policy (attributes of the domain NC head, MS-ADTS
/// domainDNS attributes; MS-SAMR DOMAIN_PASSWORD_INFORMATION, DOMAIN_LOCKOUT_INFORMATION). Times
/// are stored by AD as negative 100 ns intervals; here as positive ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DomainPolicy {
    /// maxPwdAge; `None` = passwords never expire (0 or 0x8000000000000000).
    pub max_pwd_age: Option<u64>,
    /// lockoutThreshold; 0 = never lock out (the default).
    pub lockout_threshold: u32,
    /// lockoutDuration; `None` = until an administrator writes lockoutTime = 0 (the GUI's
    /// "0", stored as 0x8000000000000000; a stored 0 is read the same way, inferred).
    pub lockout_duration: Option<u64>,
    /// lockOutObservationWindow.
    pub observation_window: u64,
}

/// A negative 100 ns interval as stored by AD, as positive ticks; `None` for "forever"
/// (0x8000000000000000 = i64::MIN) and for 0.
fn interval(v: Option<i64>) -> Option<u64> {
    match v {
        None | Some(0) | Some(i64::MIN) => None,
        Some(n) => Some(n.unsigned_abs()),
    }
}

impl DomainPolicy {
    /// The policy of the domain whose NC head is `head`.
    pub fn of(head: &Entry) -> DomainPolicy {
        DomainPolicy {
            max_pwd_age: interval(head.first_i64("maxPwdAge")),
            lockout_threshold: head
                .first_i64("lockoutThreshold")
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0),
            lockout_duration: interval(head.first_i64("lockoutDuration")),
            observation_window: interval(head.first_i64("lockOutObservationWindow")).unwrap_or(0),
        }
    }
}

fn uac_of(e: &Entry) -> u32 {
    e.first_i64("userAccountControl").unwrap_or(0) as u32
}

/// Passwords of these accounts do not expire by age nor "must change" (MS-ADTS 3.1.1.4.5.17:
/// DONT_EXPIRE_PASSWORD, SMARTCARD_REQUIRED; machine and trust accounts, gMSAs among them
/// (they carry WORKSTATION_TRUST_ACCOUNT), change their own passwords on their own schedule —
/// Samba `samdb_result_force_password_change` excludes them the same way).
fn password_never_expires(u: u32) -> bool {
    u & (uac::DONT_EXPIRE_PASSWORD
        | UF_SMARTCARD_REQUIRED
        | uac::WORKSTATION_TRUST_ACCOUNT
        | uac::SERVER_TRUST_ACCOUNT
        | INTERDOMAIN_TRUST_ACCOUNT)
        != 0
}

const INTERDOMAIN_TRUST_ACCOUNT: u32 = 0x800;

/// Whether the account is locked out at `now`: lockoutTime set and, with a finite
/// lockoutDuration, not yet past (MS-ADTS 3.1.1.4.5.17: UF_LOCKOUT when
/// lockoutTime + lockoutDuration > now, lockoutTime ≠ 0).
pub fn is_locked_out(e: &Entry, now: NtTime, policy: &DomainPolicy) -> bool {
    let t = e.first_i64("lockoutTime").unwrap_or(0);
    if t <= 0 {
        return false;
    }
    match policy.lockout_duration {
        None => true,
        Some(d) => (t as u64).saturating_add(d) > now.0,
    }
}

/// When the password expires (the value AD constructs as msDS-UserPasswordExpiryTimeComputed):
/// 0 when it must change now, i64::MAX when it never expires.
pub fn password_expiry(e: &Entry, policy: &DomainPolicy) -> i64 {
    if password_never_expires(uac_of(e)) {
        return NEVER;
    }
    let last = e.first_i64("pwdLastSet").unwrap_or(0);
    if last == 0 {
        return 0;
    }
    match policy.max_pwd_age {
        None => NEVER,
        Some(age) => (last as u64).saturating_add(age).min(NEVER as u64) as i64,
    }
}

/// The one account-state rule: `Ok` when an account that proved its credentials may log on.
/// Order as Windows reports it: disabled, locked, account expired, password must change,
/// password expired.
pub fn account_state(e: &Entry, now: NtTime, policy: &DomainPolicy) -> Result<(), AccountState> {
    let u = uac_of(e);
    if u & uac::ACCOUNTDISABLE != 0 {
        return Err(AccountState::Disabled);
    }
    if is_locked_out(e, now, policy) {
        return Err(AccountState::LockedOut);
    }
    let expires = e.first_i64("accountExpires").unwrap_or(0);
    if expires != 0 && expires != NEVER && (expires as u64) <= now.0 {
        return Err(AccountState::AccountExpired);
    }
    match password_expiry(e, policy) {
        0 => Err(AccountState::MustChangePassword),
        t if t != NEVER && (t as u64) <= now.0 => Err(AccountState::PasswordExpired),
        _ => Ok(()),
    }
}

/// msDS-User-Account-Control-Computed (MS-ADTS 3.1.1.4.5.17): UF_LOCKOUT and
/// UF_PASSWORD_EXPIRED as of `now`.
pub fn computed_uac(e: &Entry, now: NtTime, policy: &DomainPolicy) -> u32 {
    let mut v = 0;
    if is_locked_out(e, now, policy) {
        v |= UF_LOCKOUT;
    }
    let exp = password_expiry(e, policy);
    if exp != NEVER && (exp as u64) <= now.0 {
        v |= UF_PASSWORD_EXPIRED;
    }
    v
}

/// A wrong password at `now`: badPwdCount counts within the observation window (an older
/// badPasswordTime restarts it at 1), badPasswordTime moves, and reaching the threshold
/// sets lockoutTime (Samba
/// `dsdb_update_bad_pwd_count`). A threshold of 0 only counts. Returns whether the
/// account is now locked out.
pub fn record_bad_password(e: &mut Entry, now: NtTime, policy: &DomainPolicy) -> bool {
    let last = e.first_i64("badPasswordTime").unwrap_or(0).max(0) as u64;
    let mut count = e.first_i64("badPwdCount").unwrap_or(0).max(0) as u64;
    if last.saturating_add(policy.observation_window) <= now.0 {
        count = 0;
    }
    count += 1;
    e.set_str("badPwdCount", count.to_string());
    e.set_str("badPasswordTime", now.0.to_string());
    let locks = policy.lockout_threshold != 0 && count >= u64::from(policy.lockout_threshold);
    if locks {
        e.set_str("lockoutTime", now.0.to_string());
    }
    locks
}

/// A successful logon resets badPwdCount, and a lockout whose duration has passed
/// (lockoutTime back to 0, as AD does on the next good logon). Returns whether anything
/// changed, so the caller writes only then.
pub fn record_success(e: &mut Entry) -> bool {
    let mut changed = false;
    if e.first_i64("badPwdCount").unwrap_or(0) != 0 {
        e.set_str("badPwdCount", "0");
        changed = true;
    }
    if e.first_i64("lockoutTime").unwrap_or(0) != 0 {
        e.set_str("lockoutTime", "0");
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TICKS_PER_SECOND;
    use crate::model::{Dn, EntryId};

    const T: u64 = 134_000_000_000_000_000;
    const MIN: u64 = 60 * TICKS_PER_SECOND;
    const DAY: u64 = 86_400 * TICKS_PER_SECOND;

    fn user(uac: u32, pwd_last_set: u64) -> Entry {
        let mut e = Entry::new(EntryId(1), Dn::parse("CN=u,DC=x").unwrap(), None);
        e.set_str("userAccountControl", uac.to_string());
        e.set_str("pwdLastSet", pwd_last_set.to_string());
        e.set_str("accountExpires", NEVER.to_string());
        e
    }

    fn policy(threshold: u32) -> DomainPolicy {
        let mut head = Entry::new(EntryId(2), Dn::parse("DC=x").unwrap(), None);
        head.set_str("maxPwdAge", "-36288000000000");
        head.set_str("lockoutThreshold", threshold.to_string());
        head.set_str("lockoutDuration", "-18000000000");
        head.set_str("lockOutObservationWindow", "-18000000000");
        DomainPolicy::of(&head)
    }

    #[test]
    fn reads_the_domain_policy_as_positive_intervals() {
        let p = policy(3);
        assert_eq!(p.max_pwd_age, Some(42 * DAY));
        assert_eq!(p.lockout_duration, Some(30 * MIN));
        assert_eq!(p.observation_window, 30 * MIN);
        let mut head = Entry::new(EntryId(2), Dn::parse("DC=x").unwrap(), None);
        head.set_str("maxPwdAge", i64::MIN.to_string());
        head.set_str("lockoutDuration", i64::MIN.to_string());
        let p = DomainPolicy::of(&head);
        assert_eq!(
            (p.max_pwd_age, p.lockout_duration, p.lockout_threshold),
            (None, None, 0)
        );
    }

    #[test]
    fn each_state_and_its_mappings() {
        let now = NtTime(T);
        let p = policy(0);
        let ok = user(0x200, T - DAY);
        assert_eq!(account_state(&ok, now, &p), Ok(()));

        let disabled = user(0x202, T - DAY);
        assert_eq!(account_state(&disabled, now, &p), Err(AccountState::Disabled));

        let mut locked = user(0x200, T - DAY);
        locked.set_str("lockoutTime", (T - MIN).to_string());
        assert_eq!(account_state(&locked, now, &p), Err(AccountState::LockedOut));

        let mut expired = user(0x200, T - DAY);
        expired.set_str("accountExpires", (T - 1).to_string());
        assert_eq!(
            account_state(&expired, now, &p),
            Err(AccountState::AccountExpired)
        );
        expired.set_str("accountExpires", "0");
        assert_eq!(account_state(&expired, now, &p), Ok(()));

        let must = user(0x200, 0);
        assert_eq!(
            account_state(&must, now, &p),
            Err(AccountState::MustChangePassword)
        );

        let old = user(0x200, T - 43 * DAY);
        assert_eq!(account_state(&old, now, &p), Err(AccountState::PasswordExpired));
        assert_eq!(computed_uac(&old, now, &p), UF_PASSWORD_EXPIRED);
        assert_eq!(password_expiry(&old, &p), (T - DAY) as i64);

        let table = [
            (AccountState::Disabled, 0x533, KerberosVerdict::Revoked),
            (AccountState::LockedOut, 0x775, KerberosVerdict::Revoked),
            (AccountState::AccountExpired, 0x701, KerberosVerdict::Revoked),
            (
                AccountState::MustChangePassword,
                0x773,
                KerberosVerdict::KeyExpired,
            ),
            (AccountState::PasswordExpired, 0x532, KerberosVerdict::KeyExpired),
        ];
        for (s, data, krb) in table {
            assert_eq!((s.logon_data(), s.kerberos()), (data, krb), "{s:?}");
        }
    }

    #[test]
    fn machines_gmsas_and_dont_expire_keep_their_passwords() {
        let now = NtTime(T);
        let p = policy(0);
        // Computer (0x1000), gMSA (0x1000 too), DC (0x2000), DONT_EXPIRE_PASSWORD user.
        for u in [0x1000, 0x2000, 0x10200] {
            assert_eq!(account_state(&user(u, T - 400 * DAY), now, &p), Ok(()), "{u:#x}");
            assert_eq!(account_state(&user(u, 0), now, &p), Ok(()), "{u:#x}");
        }
        // No maximum age: never expires, but pwdLastSet 0 still must change.
        let none = DomainPolicy {
            max_pwd_age: None,
            ..p
        };
        assert_eq!(account_state(&user(0x200, T - 400 * DAY), now, &none), Ok(()));
        assert_eq!(
            account_state(&user(0x200, 0), now, &none),
            Err(AccountState::MustChangePassword)
        );
    }

    #[test]
    fn lockout_counts_within_the_window_and_lasts_the_duration() {
        let p = policy(3);
        let mut e = user(0x200, T - DAY);
        let mut now = NtTime(T);
        assert!(!record_bad_password(&mut e, now, &p));
        now = NtTime(T + MIN);
        assert!(!record_bad_password(&mut e, now, &p));
        assert_eq!(e.first_i64("badPwdCount"), Some(2));
        // Past the 30-minute window the count restarts.
        now = NtTime(T + 40 * MIN);
        assert!(!record_bad_password(&mut e, now, &p));
        assert_eq!(e.first_i64("badPwdCount"), Some(1));
        assert!(!record_bad_password(&mut e, now, &p));
        assert!(record_bad_password(&mut e, now, &p));
        assert_eq!(e.first_i64("lockoutTime"), Some(now.0 as i64));
        assert_eq!(account_state(&e, now, &p), Err(AccountState::LockedOut));
        assert_eq!(computed_uac(&e, now, &p), UF_LOCKOUT);
        // Still locked 29 minutes later, free after 30.
        assert!(is_locked_out(&e, NtTime(now.0 + 29 * MIN), &p));
        assert!(!is_locked_out(&e, NtTime(now.0 + 30 * MIN), &p));
        // A good logon resets the count and the stale lockoutTime.
        assert!(record_success(&mut e));
        assert_eq!(
            (e.first_i64("badPwdCount"), e.first_i64("lockoutTime")),
            (Some(0), Some(0))
        );
        assert!(!record_success(&mut e));
    }

    #[test]
    fn threshold_zero_never_locks_and_infinite_duration_waits_for_an_admin() {
        let p = policy(0);
        let mut e = user(0x200, T - DAY);
        for _ in 0..50 {
            assert!(!record_bad_password(&mut e, NtTime(T), &p));
        }
        assert_eq!(e.first_i64("badPwdCount"), Some(50));
        assert_eq!(account_state(&e, NtTime(T), &p), Ok(()));

        let forever = DomainPolicy {
            lockout_duration: None,
            ..policy(1)
        };
        let mut e = user(0x200, T - DAY);
        assert!(record_bad_password(&mut e, NtTime(T), &forever));
        assert!(is_locked_out(&e, NtTime(T + 365 * DAY), &forever));
        e.set_str("lockoutTime", "0");
        assert!(!is_locked_out(&e, NtTime(T + 365 * DAY), &forever));
    }
}
