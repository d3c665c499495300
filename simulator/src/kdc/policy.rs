//! Which keys, etypes, flags and lifetimes a ticket gets.

use super::crypto::{Etype, SUPPORTED_AES128, SUPPORTED_AES256, SUPPORTED_RC4};
use super::db::{KdcPrincipal, KerberosKey};

/// A KerberosFlags bit (RFC 4120 §5.2.8: bit 0 is the most significant).
pub const fn bit(n: u32) -> u32 {
    1 << (31 - n)
}

/// KDCOptions (RFC 4120 §5.4.1; canonicalize from RFC 6806 §3).
pub mod kdc_option {
    use super::bit;
    pub const FORWARDABLE: u32 = bit(1);
    pub const FORWARDED: u32 = bit(2);
    pub const PROXIABLE: u32 = bit(3);
    pub const RENEWABLE: u32 = bit(8);
    pub const CNAME_IN_ADDL_TKT: u32 = bit(14);
    pub const CANONICALIZE: u32 = bit(15);
    pub const RENEWABLE_OK: u32 = bit(27);
    pub const ENC_TKT_IN_SKEY: u32 = bit(28);
    pub const RENEW: u32 = bit(30);
    pub const VALIDATE: u32 = bit(31);
}

/// TicketFlags (RFC 4120 §5.3).
pub mod ticket_flag {
    use super::bit;
    pub const FORWARDABLE: u32 = bit(1);
    pub const FORWARDED: u32 = bit(2);
    pub const PROXIABLE: u32 = bit(3);
    pub const RENEWABLE: u32 = bit(8);
    pub const INITIAL: u32 = bit(9);
    pub const PRE_AUTHENT: u32 = bit(10);
    pub const OK_AS_DELEGATE: u32 = bit(13);
}

/// Encryption types a ticket *for* `service` may use, from msDS-SupportedEncryptionTypes.
/// Unset on a non-krbtgt account: the domain default since KB5021131 (RC4 tickets, AES
/// session keys: DefaultDomainSupportedEncTypes 0x27); krbtgt uses every key it has.
struct ServiceEtypes {
    ticket: u32,
    session: u32,
}

fn service_etypes(service: &KdcPrincipal) -> ServiceEtypes {
    let all = SUPPORTED_AES256 | SUPPORTED_AES128 | SUPPORTED_RC4;
    match service.supported_enctypes {
        _ if service.is_krbtgt => ServiceEtypes {
            ticket: all,
            session: all,
        },
        Some(bits) if bits & all != 0 => ServiceEtypes {
            ticket: bits & all,
            session: bits & all,
        },
        _ => ServiceEtypes {
            ticket: SUPPORTED_RC4,
            session: all,
        },
    }
}

const STRONGEST_FIRST: [Etype; 3] = [Etype::Aes256, Etype::Aes128, Etype::Rc4Hmac];

/// The key that encrypts a ticket for `service`: its strongest allowed key, or, if none of its
/// keys is allowed (an AES-only account without the attribute), its strongest key.
pub fn ticket_key(service: &KdcPrincipal) -> Option<(Etype, &KerberosKey)> {
    let allowed = service_etypes(service).ticket;
    let usable = |want_allowed: bool| {
        STRONGEST_FIRST.iter().find_map(|e| {
            let key = service.key(e.number())?;
            (key.key.len() == e.key_len() && (!want_allowed || allowed & e.supported_bit() != 0))
                .then_some((*e, key))
        })
    };
    usable(true).or_else(|| usable(false))
}

/// The session key etype: the first etype of the client's list that the service accepts for
/// session keys (RFC 4120 §3.1.3; KB5021131 for the default of an unset attribute).
pub fn session_etype(requested: &[i32], service: &KdcPrincipal) -> Option<Etype> {
    let allowed = service_etypes(service).session;
    requested
        .iter()
        .filter_map(|e| Etype::from_i32(*e))
        .find(|e| allowed & e.supported_bit() != 0)
}

/// The client's keys usable for the AS reply, in the client's preference order
/// (RFC 4120 §3.1.3), restricted by the client's own msDS-SupportedEncryptionTypes when set.
pub fn client_reply_keys<'a>(requested: &[i32], client: &'a KdcPrincipal) -> Vec<(Etype, &'a KerberosKey)> {
    let all = SUPPORTED_AES256 | SUPPORTED_AES128 | SUPPORTED_RC4;
    let allowed = match client.supported_enctypes {
        Some(bits) if bits & all != 0 => bits & all,
        _ => all,
    };
    let mut out: Vec<(Etype, &KerberosKey)> = Vec::new();
    for e in requested.iter().filter_map(|e| Etype::from_i32(*e)) {
        if allowed & e.supported_bit() == 0 || out.iter().any(|(seen, _)| *seen == e) {
            continue;
        }
        if let Some(key) = client.key(e.number()).filter(|k| k.key.len() == e.key_len()) {
            out.push((e, key));
        }
    }
    out
}

/// The domain Kerberos policy as the KDC applies it (MS-KILE 3.3.1: MaxTicketAge,
/// MaxRenewAge, MaxServiceTicketAge, MaxClockSkew), in seconds; `None` is "never expires" (a
/// setting of 0, Microsoft Learn "Maximum lifetime for service ticket").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketPolicy {
    pub max_ticket_age: Option<i64>,
    pub max_renew_age: Option<i64>,
    pub max_service_age: Option<i64>,
    pub max_clock_skew: i64,
}

/// The latest KerberosTime: GeneralizedTime has four-digit years (RFC 4120 §5.2.3). A ticket
/// whose policy says "never expires" ends here.
pub const KERBEROS_TIME_MAX: i64 = 253_402_300_799;

/// Ticket end and renew times (RFC 4120 §3.1.3): the requested `till` (0 = 1970 means "as long
/// as allowed", as Windows clients send it) capped by the lifetime policy.
pub struct Lifetime {
    pub endtime: i64,
    pub renew_till: Option<i64>,
}

/// `now` plus a policy age, or the end of KerberosTime when the age is unlimited.
fn limit(now: i64, age: Option<i64>) -> i64 {
    age.map_or(KERBEROS_TIME_MAX, |a| now.saturating_add(a))
        .min(KERBEROS_TIME_MAX)
}

/// `max_life` is MaxTicketAge for a TGT and MaxServiceTicketAge for a service ticket (MS-KILE
/// 3.3.1); `max_renew` is MaxRenewAge; `caps` are the TGT's endtime and renew-till for a TGS
/// request (RFC 4120 §3.3.3: a ticket never outlives the TGT that bought it).
pub fn lifetime(
    now: i64,
    till: i64,
    rtime: Option<i64>,
    options: u32,
    max_life: Option<i64>,
    max_renew: Option<i64>,
    caps: (Option<i64>, Option<i64>),
) -> Lifetime {
    let (end_cap, renew_cap) = caps;
    let requested_end = if till <= 0 { i64::MAX } else { till };
    let mut endtime = requested_end.min(limit(now, max_life));
    if let Some(cap) = end_cap {
        endtime = endtime.min(cap);
    }
    let wants_renew = options & kdc_option::RENEWABLE != 0
        || (options & kdc_option::RENEWABLE_OK != 0 && requested_end > endtime);
    let renew_till = wants_renew.then(|| {
        let asked = match (options & kdc_option::RENEWABLE != 0, rtime) {
            (true, Some(r)) if r > 0 => r,
            (true, _) => i64::MAX,
            (false, _) => requested_end,
        };
        let mut r = asked.min(limit(now, max_renew));
        if let Some(cap) = renew_cap {
            r = r.min(cap);
        }
        r.max(endtime)
    });
    Lifetime { endtime, renew_till }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::NtTime;

    fn principal(supported: Option<u32>, etypes: &[i32], krbtgt: bool) -> KdcPrincipal {
        KdcPrincipal {
            sam_account_name: "svc".into(),
            upn: None,
            dns_domain: "corp.example.test".into(),
            netbios_domain: "CORP".into(),
            realm: "CORP.EXAMPLE.TEST".into(),
            user_sid: "S-1-5-21-1-2-3-1000".parse().unwrap(),
            primary_group_rid: 513,
            group_sids: vec![],
            user_account_control: 0x200,
            supported_enctypes: supported,
            keys: etypes
                .iter()
                .map(|e| KerberosKey {
                    etype: *e,
                    kvno: 1,
                    key: vec![1; Etype::from_i32(*e).unwrap().key_len()],
                })
                .collect(),
            previous_keys: vec![],
            salt: String::new(),
            display_name: None,
            logon_count: 0,
            pwd_last_set: NtTime(0),
            is_krbtgt: krbtgt,
            logon_restriction: None,
        }
    }

    #[test]
    fn unset_supported_types_give_rc4_tickets_and_aes_session_keys() {
        let svc = principal(None, &[18, 17, 23], false);
        assert_eq!(ticket_key(&svc).unwrap().0, Etype::Rc4Hmac);
        assert_eq!(session_etype(&[18, 17, 23], &svc), Some(Etype::Aes256));
        let aes_only = principal(None, &[18, 17], false);
        assert_eq!(ticket_key(&aes_only).unwrap().0, Etype::Aes256);
    }

    #[test]
    fn explicit_aes_types_give_aes_tickets() {
        let svc = principal(Some(0x18), &[18, 17, 23], false);
        assert_eq!(ticket_key(&svc).unwrap().0, Etype::Aes256);
        assert_eq!(session_etype(&[23, 18], &svc), Some(Etype::Aes256));
        assert_eq!(session_etype(&[23], &svc), None);
        let krbtgt = principal(None, &[18, 17, 23], true);
        assert_eq!(ticket_key(&krbtgt).unwrap().0, Etype::Aes256);
    }

    #[test]
    fn client_keys_follow_request_order_and_restrictions() {
        let user = principal(None, &[18, 17, 23], false);
        let order: Vec<Etype> = client_reply_keys(&[23, 18, 17, 18], &user)
            .iter()
            .map(|(e, _)| *e)
            .collect();
        assert_eq!(order, vec![Etype::Rc4Hmac, Etype::Aes256, Etype::Aes128]);
        let aes_user = principal(Some(0x18), &[18, 17, 23], false);
        assert!(client_reply_keys(&[23], &aes_user).is_empty());
    }

    #[test]
    fn lifetimes_are_capped() {
        let l = lifetime(1000, 0, None, 0, Some(36_000), Some(604_800), (None, None));
        assert_eq!(l.endtime, 37_000);
        assert!(l.renew_till.is_none());
        let l = lifetime(
            1000,
            999_999,
            None,
            kdc_option::RENEWABLE_OK,
            Some(36_000),
            Some(604_800),
            (None, None),
        );
        assert_eq!((l.endtime, l.renew_till), (37_000, Some(605_800)));
        let l = lifetime(
            1000,
            2000,
            Some(5000),
            kdc_option::RENEWABLE,
            Some(36_000),
            Some(604_800),
            (Some(1500), Some(4000)),
        );
        assert_eq!((l.endtime, l.renew_till), (1500, Some(4000)));
        // MaxTicketAge 0: the ticket lasts what was asked, or to the end of KerberosTime.
        let l = lifetime(1000, 0, None, 0, None, None, (None, None));
        assert_eq!(l.endtime, KERBEROS_TIME_MAX);
        let l = lifetime(1000, 9000, None, 0, None, None, (None, None));
        assert_eq!(l.endtime, 9000);
    }
}
