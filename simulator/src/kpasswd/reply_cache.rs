//! The replies kpasswd sent, by the digest of the request they answered. MIT's kpasswd client
//! (and impacket's) retransmits an unanswered UDP request byte for byte (RFC 3244 §2 runs over
//! UDP like the KDC; MIT's `krb5_sendto` retries); the first copy may already have changed the
//! password. Answering the copy again would count the authenticator twice (KRB_AP_ERR_REPEAT)
//! or, were the replay cache bypassed, set the password a second time (history, kvno + 2). So
//! the service keeps what it answered and sends the same bytes again, as a Windows DC does and
//! as MIT's KDC does with its lookaside cache.
//!
//! An entry lives while its authenticator's ctime is within the clock skew of now (past that
//! the request would be refused with KRB_AP_ERR_SKEW anyway), and the cache holds at most
//! `capacity` replies, forgetting the oldest first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::Summary;

/// Default number of remembered replies (each a few hundred bytes).
pub const DEFAULT_CAPACITY: usize = 4096;

/// The digest a request is remembered by.
pub type RequestDigest = [u8; 32];

pub fn digest(request: &[u8]) -> RequestDigest {
    Sha256::digest(request).into()
}

#[derive(Debug)]
pub struct ReplyCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    replies: HashMap<RequestDigest, Cached>,
    order: VecDeque<RequestDigest>,
}

#[derive(Debug, Clone)]
struct Cached {
    /// The authenticator's ctime.
    ctime: i64,
    summary: Summary,
    reply: Vec<u8>,
}

impl ReplyCache {
    pub fn new(capacity: usize) -> ReplyCache {
        ReplyCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The reply sent to the request with `digest`, if it is still within `window` seconds
    /// (the current MaxClockSkew) of `now`.
    pub fn get(&self, digest: &RequestDigest, now: i64, window: i64) -> Option<(Summary, Vec<u8>)> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.expire(now, window);
        inner
            .replies
            .get(digest)
            .map(|c| (c.summary.clone(), c.reply.clone()))
    }

    /// Remembers the reply to a request whose authenticator has `ctime`.
    pub fn put(&self, digest: RequestDigest, ctime: i64, summary: &Summary, reply: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while inner.replies.len() >= self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.replies.remove(&oldest);
        }
        let cached = Cached {
            ctime,
            summary: summary.clone(),
            reply: reply.to_vec(),
        };
        if inner.replies.insert(digest, cached).is_none() {
            inner.order.push_back(digest);
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).replies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Forgets every reply whose authenticator is outside the skew of `now`. Entries arrive
    /// roughly in ctime order, but a client's clock is its own: the whole map is swept, which
    /// the capacity keeps cheap.
    fn expire(&mut self, now: i64, window: i64) {
        let window = window.max(0);
        let replies = &mut self.replies;
        replies.retain(|_, c| (c.ctime - now).abs() <= window);
        self.order.retain(|d| replies.contains_key(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(result: u16) -> Summary {
        Summary {
            version: Some(1),
            client: Some("alice@CORP".into()),
            target: None,
            result,
            krb_error: None,
        }
    }

    #[test]
    fn a_reply_is_found_by_its_request_until_the_skew_passes() {
        let cache = ReplyCache::new(8);
        let d = digest(b"request");
        cache.put(d, 1000, &summary(0), b"reply");
        assert_eq!(cache.get(&d, 1100, 300).unwrap().1, b"reply");
        assert!(cache.get(&digest(b"other"), 1100, 300).is_none());
        // The policy's skew narrowed to 60 s: the entry is out of it now.
        assert!(cache.get(&d, 1100, 60).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = ReplyCache::new(3);
        for i in 0..10u8 {
            cache.put(digest(&[i]), 1000, &summary(0), &[i]);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&digest(&[0]), 1000, 300).is_none());
        assert_eq!(cache.get(&digest(&[9]), 1000, 300).unwrap().1, vec![9]);
    }
}
