//! Connection slots of TCP listeners (the LDAP ports and the KDC's TCP port): at most `max`
//! connections at once, and a connection arriving at the limit takes the slot of the one that
//! has waited longest for its client, idle ones first. AD's MaxConnections does the same: "If a
//! connection comes in after the domain controller reaches this limit, the domain controller
//! drops another connection" (KB 315071); with MaxConnIdleTime it favours dropping idle ones.
//! A connection busy serving a request is never dropped, so a new one is refused only when
//! every slot is busy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

/// How long an accept loop pauses after a failed accept (EMFILE, ENFILE, ENOBUFS): the listener
/// goes on once descriptors are free again, without spinning meanwhile.
pub const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// The slots one or more listeners share.
pub struct Slots {
    max: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    held: HashMap<u64, Arc<Held>>,
}

/// What a connection is doing, as eviction sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waiting {
    /// Serving a request: never evicted.
    Busy,
    /// Waiting for the next request with nothing buffered.
    Idle(Instant),
    /// Waiting for the rest of a message or a handshake.
    Partial(Instant),
}

struct Held {
    waiting: Mutex<Waiting>,
    evicted: Notify,
}

/// One connection's slot; dropping it frees the slot.
pub struct Slot {
    slots: Arc<Slots>,
    id: u64,
    held: Arc<Held>,
}

impl Slots {
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max: max.max(1),
            inner: Mutex::new(Inner::default()),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Connections holding a slot.
    pub fn len(&self) -> usize {
        self.lock().held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a new connection (which starts out waiting for its client). At the limit the
    /// idle connection idle longest is told to close, else the one waiting longest for the rest
    /// of a message; `None` when every connection is busy.
    pub fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut inner = self.lock();
        if inner.held.len() >= self.max {
            let victim = inner
                .held
                .iter()
                .filter_map(
                    |(id, h)| match *h.waiting.lock().unwrap_or_else(|e| e.into_inner()) {
                        Waiting::Busy => None,
                        Waiting::Idle(since) => Some(((0u8, since), *id)),
                        Waiting::Partial(since) => Some(((1u8, since), *id)),
                    },
                )
                .min()
                .map(|(_, id)| id)?;
            if let Some(h) = inner.held.remove(&victim) {
                h.evicted.notify_one();
            }
        }
        let id = inner.next;
        inner.next += 1;
        let held = Arc::new(Held {
            waiting: Mutex::new(Waiting::Partial(Instant::now())),
            evicted: Notify::new(),
        });
        inner.held.insert(id, held.clone());
        Some(Slot {
            slots: self.clone(),
            id,
            held,
        })
    }
}

impl Slot {
    fn set(&self, w: Waiting) {
        *self.held.waiting.lock().unwrap_or_else(|e| e.into_inner()) = w;
    }

    /// Waiting for a new request with nothing buffered.
    pub fn idle(&self) {
        self.set(Waiting::Idle(Instant::now()));
    }

    /// Waiting for the rest of a message (or a TLS handshake) since `since`.
    pub fn partial(&self, since: Instant) {
        self.set(Waiting::Partial(since));
    }

    /// Serving a request.
    pub fn busy(&self) {
        self.set(Waiting::Busy);
    }

    /// Resolves once a newer connection has taken this slot: the connection must close.
    pub async fn evicted(&self) {
        self.held.evicted.notified().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.lock().held.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_longest_idle_connection_makes_room_and_busy_ones_are_kept() {
        let slots = Slots::new(3);
        let a = slots.admit().unwrap();
        let b = slots.admit().unwrap();
        let c = slots.admit().unwrap();
        b.idle();
        std::thread::sleep(std::time::Duration::from_millis(2));
        a.idle();
        c.partial(Instant::now());
        // b has been idle longest: it goes, whatever the order of admission.
        let d = slots.admit().unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), b.evicted())
            .await
            .expect("b is told to close");
        assert_eq!(slots.len(), 3);
        drop(b);
        assert_eq!(slots.len(), 3);
        // Idle before partial: a goes next, then c.
        d.busy();
        let e = slots.admit().unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), a.evicted())
            .await
            .unwrap();
        let f = slots.admit().unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), c.evicted())
            .await
            .unwrap();
        // Everyone busy: refused.
        f.busy();
        e.busy();
        assert!(slots.admit().is_none());
        drop(f);
        assert!(slots.admit().is_some());
    }
}
