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
//!
//! Its bounded map, [`SkewWindow`], is generic over what it keeps by authenticator: kpasswd
//! keeps its replies in one, by request digest, to answer retransmissions.

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
    fn digest(&self) -> Digest32 {
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

/// The SHA-256 digest entries are kept by.
pub type Digest32 = [u8; 32];

/// The digest of a whole request.
pub fn digest(bytes: &[u8]) -> Digest32 {
    Sha256::digest(bytes).into()
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
    /// By authenticator: the digest of the request that carried it, where one was given.
    seen: SkewWindow<Option<Digest32>>,
}

impl ReplayCache {
    /// A cache for authenticators accepted within `window` seconds (the maximum skew) of now.
    pub fn new(window: i64, capacity: usize) -> ReplayCache {
        ReplayCache {
            window: window.max(0),
            seen: SkewWindow::new(capacity),
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
        let request = request.map(digest);
        match self.seen.insert(key.digest(), key.ctime, request, now, window) {
            None => Verdict::Fresh,
            Some(Some(first)) if Some(first) == request => Verdict::Retransmission,
            Some(_) => Verdict::Replay,
        }
    }

    /// Number of remembered authenticators.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A bounded map of what was seen with an authenticator: each entry is kept while the
/// authenticator's ctime is within the clock skew of now (past it the request is refused with
/// KRB_AP_ERR_SKEW before any cache is asked), at most `capacity` of them, the oldest forgotten
/// first. The replay cache keeps request digests in it, kpasswd its replies
/// (`kpasswd::Kpasswd`).
#[derive(Debug)]
pub struct SkewWindow<V> {
    capacity: usize,
    inner: Mutex<Entries<V>>,
}

#[derive(Debug)]
struct Entries<V> {
    map: HashMap<Digest32, (i64, V)>,
    /// Insertion order, for expiry and eviction.
    order: VecDeque<Digest32>,
}

impl<V: Clone> SkewWindow<V> {
    pub fn new(capacity: usize) -> SkewWindow<V> {
        SkewWindow {
            capacity: capacity.max(1),
            inner: Mutex::new(Entries {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// The value kept under `key`, if its ctime is within `window` seconds (the skew now) of `now`.
    pub fn get(&self, key: &Digest32, now: i64, window: i64) -> Option<V> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.expire(now, window);
        inner.live(key, now, window).map(|(_, v)| v.clone())
    }

    /// Keeps `value` under `key` for an authenticator with `ctime`, unless a value is kept there
    /// already: that one is returned and stays.
    pub fn insert(&self, key: Digest32, ctime: i64, value: V, now: i64, window: i64) -> Option<V> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.expire(now, window);
        if let Some((_, v)) = inner.live(&key, now, window) {
            return Some(v.clone());
        }
        while inner.map.len() >= self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.map.remove(&oldest);
        }
        // A stale entry behind a live one keeps its place in the order.
        if inner.map.insert(key, (ctime, value)).is_none() {
            inner.order.push_back(key);
        }
        None
    }

    /// Number of entries kept.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn within(ctime: i64, now: i64, window: i64) -> bool {
    (ctime - now).abs() <= window.max(0)
}

impl<V> Entries<V> {
    /// Forgets, from the oldest, entries whose ctime is outside the skew of `now` (the
    /// simulated clock may also have been set back past them). Entries arrive roughly in ctime
    /// order, but a client's clock is its own: one outside the skew may stay behind a live one,
    /// and [`Entries::live`] does not see it.
    fn expire(&mut self, now: i64, window: i64) {
        while let Some(front) = self.order.front() {
            if self.map.get(front).is_some_and(|(t, _)| within(*t, now, window)) {
                break;
            }
            let front = *front;
            self.order.pop_front();
            self.map.remove(&front);
        }
    }

    fn live(&self, key: &Digest32, now: i64, window: i64) -> Option<&(i64, V)> {
        self.map.get(key).filter(|(t, _)| within(*t, now, window))
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

    #[test]
    fn a_kept_value_is_found_until_the_skew_passes() {
        let kept = SkewWindow::new(8);
        let d = digest(b"request");
        assert_eq!(kept.insert(d, 1000, "reply", 1000, 300), None);
        assert_eq!(
            kept.insert(d, 1000, "other", 1000, 300),
            Some("reply"),
            "the first stays"
        );
        assert_eq!(kept.get(&d, 1100, 300), Some("reply"));
        assert_eq!(kept.get(&digest(b"other"), 1100, 300), None);
        // The policy's skew narrowed to 60 s: the entry is out of it now.
        assert_eq!(kept.get(&d, 1100, 60), None);
        assert!(kept.is_empty());
    }

    #[test]
    fn an_entry_outside_the_skew_behind_a_live_one_is_not_found() {
        let kept = SkewWindow::new(8);
        // A client 200 s ahead, then one 250 s behind; 100 s later only the first is in the skew.
        kept.insert(digest(b"ahead"), 1200, 1, 1000, 300);
        kept.insert(digest(b"behind"), 751, 2, 1001, 300);
        assert_eq!(kept.get(&digest(b"behind"), 1100, 300), None);
        assert_eq!(kept.get(&digest(b"ahead"), 1100, 300), Some(1));
        assert_eq!(
            kept.insert(digest(b"behind"), 1100, 3, 1100, 300),
            None,
            "stale: replaced"
        );
        assert_eq!(kept.get(&digest(b"behind"), 1100, 300), Some(3));
    }

    #[test]
    fn the_map_stays_bounded() {
        let kept = SkewWindow::new(3);
        for i in 0..10u8 {
            kept.insert(digest(&[i]), 1000, i, 1000, 300);
        }
        assert_eq!(kept.len(), 3);
        assert_eq!(kept.get(&digest(&[0]), 1000, 300), None);
        assert_eq!(kept.get(&digest(&[9]), 1000, 300), Some(9));
    }
}
