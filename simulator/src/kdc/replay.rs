//! The replay cache for authenticators (RFC 4120 §3.2.3: "the server MUST utilize a replay cache
//! to remember any authenticator presented within the allowable clock skew"; a repeat gets
//! KRB_AP_ERR_REPEAT). One cache per acceptor: the KDC's for the AP-REQ inside TGS-REQs, the
//! DC's LDAP service's for GSSAPI and GSS-SPNEGO binds.
//!
//! An entry is the authenticator's client, server, ctime and cusec (the fields RFC 4120 names),
//! kept while its ctime is within the skew of the simulated clock: older authenticators are
//! refused with KRB_AP_ERR_SKEW before the cache is asked. The KDC also passes a digest of the
//! whole request so that a client's retransmission of the identical datagram (a UDP retry, or
//! the same request again over TCP after KRB_ERR_RESPONSE_TOO_BIG) is answered again, as MIT's
//! lookaside cache does, while a different request carrying the same authenticator is a replay.
//! The cache holds at most `capacity` entries; when full it forgets the oldest first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// What an authenticator is remembered by (RFC 4120 §3.2.3: client, server, time, usec).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    pub client: String,
    pub server: String,
    pub ctime: i64,
    pub cusec: u32,
}

impl ReplayKey {
    fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [self.client.as_bytes(), self.server.as_bytes()] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.update(self.ctime.to_be_bytes());
        h.update(self.cusec.to_be_bytes());
        h.finalize().into()
    }
}

/// The cache's answer for one authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not seen before: remembered now.
    Fresh,
    /// The same request again (same authenticator, same request digest): answer it again.
    Retransmission,
    /// The authenticator was already used by another request: KRB_AP_ERR_REPEAT.
    Replay,
}

/// Default number of remembered authenticators (about 100 bytes each).
pub const DEFAULT_CAPACITY: usize = 262_144;

#[derive(Debug)]
pub struct ReplayCache {
    window: i64,
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashMap<[u8; 32], Seen>,
    /// Insertion order, for expiry and eviction.
    order: VecDeque<[u8; 32]>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    ctime: i64,
    request: Option<[u8; 32]>,
}

impl ReplayCache {
    /// A cache for authenticators accepted within `window` seconds (the maximum skew) of now.
    pub fn new(window: i64, capacity: usize) -> ReplayCache {
        ReplayCache {
            window: window.max(0),
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Records `key` and says whether it was seen before. `request` is a digest of the whole
    /// request when retransmissions of the identical request are legitimate (the KDC over UDP
    /// and TCP); `None` where every repeat is a replay (an LDAP bind).
    pub fn check(&self, key: &ReplayKey, request: Option<&[u8]>, now: i64) -> Verdict {
        self.check_within(key, request, now, self.window)
    }

    /// [`ReplayCache::check`] with the skew read now rather than at construction: the KDC's
    /// MaxClockSkew comes from the domain's Kerberos policy, which can change while it runs
    /// (MS-KILE 3.3.4.1).
    pub fn check_within(&self, key: &ReplayKey, request: Option<&[u8]>, now: i64, window: i64) -> Verdict {
        let id = key.digest();
        let request = request.map(|r| -> [u8; 32] { Sha256::digest(r).into() });
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.expire(now, window.max(0));
        if let Some(seen) = inner.seen.get(&id) {
            return match (seen.request, request) {
                (Some(a), Some(b)) if a == b => Verdict::Retransmission,
                _ => Verdict::Replay,
            };
        }
        while inner.seen.len() >= self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.seen.remove(&oldest);
        }
        inner.seen.insert(
            id,
            Seen {
                ctime: key.ctime,
                request,
            },
        );
        inner.order.push_back(id);
        Verdict::Fresh
    }

    /// Number of remembered authenticators.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Forgets, from the oldest, entries whose ctime is outside the skew of `now` (an
    /// authenticator that old is refused with KRB_AP_ERR_SKEW before the cache is asked; the
    /// simulated clock may also have been set back past it).
    fn expire(&mut self, now: i64, window: i64) {
        while let Some(front) = self.order.front() {
            let expired = self
                .seen
                .get(front)
                .is_none_or(|s| (s.ctime - now).abs() > window);
            if !expired {
                break;
            }
            let front = *front;
            self.order.pop_front();
            self.seen.remove(&front);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ctime: i64, cusec: u32) -> ReplayKey {
        ReplayKey {
            client: "alice@CORP".into(),
            server: "krbtgt/CORP@CORP".into(),
            ctime,
            cusec,
        }
    }

    #[test]
    fn a_repeat_is_a_replay_and_an_identical_request_a_retransmission() {
        let cache = ReplayCache::new(300, 10);
        assert_eq!(cache.check(&key(1000, 1), Some(b"req"), 1000), Verdict::Fresh);
        assert_eq!(
            cache.check(&key(1000, 1), Some(b"req"), 1001),
            Verdict::Retransmission
        );
        assert_eq!(cache.check(&key(1000, 1), Some(b"other"), 1001), Verdict::Replay);
        assert_eq!(cache.check(&key(1000, 2), Some(b"other"), 1001), Verdict::Fresh);
        let binds = ReplayCache::new(300, 10);
        assert_eq!(binds.check(&key(1000, 1), None, 1000), Verdict::Fresh);
        assert_eq!(binds.check(&key(1000, 1), None, 1000), Verdict::Replay);
    }

    #[test]
    fn entries_leave_after_the_skew_and_the_cache_stays_bounded() {
        let cache = ReplayCache::new(300, 3);
        cache.check(&key(1000, 1), None, 1000);
        assert_eq!(cache.len(), 1);
        cache.check(&key(1400, 1), None, 1400);
        assert_eq!(cache.len(), 1, "the first is outside the skew of 1400");
        for usec in 2..10 {
            cache.check(&key(1400, usec), None, 1400);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.check(&key(1400, 9), None, 1400), Verdict::Replay);
    }
}
