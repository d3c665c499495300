//! The DC's event log, as far as the guides refer to it: the Group Key Distribution Service's
//! operational channel (`Microsoft-Windows-KdsSvc/Operational`). Event 4004 is logged when a
//! master root key is created; its message is the provider's template "Group Key Distribution
//! Service created a master root key in AD.  The key ID is %1." (KdsSvc manifest, as listed by
//! the event catalogues, e.g. detection-wiki's Microsoft-Windows-KdsSvc page; two spaces after
//! the first sentence as in the template). Bounded: the oldest records go first, as a full
//! Windows log set to overwrite does.

use std::sync::Mutex;

use crate::clock::NtTime;

/// Records kept; older ones are overwritten.
pub const CAPACITY: usize = 1024;

/// One event record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Increasing from 1 (EventRecordID).
    pub record_id: u64,
    pub time: NtTime,
    pub provider: &'static str,
    pub channel: &'static str,
    pub event_id: u32,
    pub level: &'static str,
    /// The rendered message.
    pub message: String,
    /// The EventData fields: name and value.
    pub data: Vec<(&'static str, String)>,
}

/// The events one provider can log: id, level, message template with `%1`…, field names.
struct Template {
    id: u32,
    level: &'static str,
    message: &'static str,
    fields: &'static [&'static str],
}

pub const KDS_PROVIDER: &str = "Microsoft-Windows-KdsSvc";
pub const KDS_CHANNEL: &str = "Microsoft-Windows-KdsSvc/Operational";

/// KdsSvc's events adsim logs (one table per wire enumeration).
const KDS_EVENTS: &[Template] = &[Template {
    id: 4004,
    level: "Information",
    message: "Group Key Distribution Service created a master root key in AD.  The key ID is %1.",
    fields: &["MRKID"],
}];

/// KdsSvc event 4004: a master root key was created.
pub const KDS_ROOT_KEY_CREATED: u32 = 4004;

#[derive(Debug, Default)]
pub struct EventLog {
    inner: Mutex<(u64, std::collections::VecDeque<Event>)>,
}

impl EventLog {
    /// Logs KdsSvc event `id` with `values` for its fields, in order.
    pub fn kds(&self, time: NtTime, id: u32, values: &[String]) {
        let Some(t) = KDS_EVENTS.iter().find(|t| t.id == id) else {
            return;
        };
        let mut message = t.message.to_string();
        for (i, v) in values.iter().enumerate() {
            message = message.replace(&format!("%{}", i + 1), v);
        }
        let data = t.fields.iter().copied().zip(values.iter().cloned()).collect();
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 += 1;
        let record_id = g.0;
        if g.1.len() == CAPACITY {
            g.1.pop_front();
        }
        g.1.push_back(Event {
            record_id,
            time,
            provider: KDS_PROVIDER,
            channel: KDS_CHANNEL,
            event_id: id,
            level: t.level,
            message,
            data,
        });
    }

    /// The records held, oldest first, with record ids above `after`.
    pub fn since(&self, after: u64) -> Vec<Event> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.1.iter().filter(|e| e.record_id > after).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_4004_and_stays_bounded() {
        let log = EventLog::default();
        log.kds(NtTime(1), KDS_ROOT_KEY_CREATED, &["k1".into()]);
        let e = &log.since(0)[0];
        assert_eq!(
            e.message,
            "Group Key Distribution Service created a master root key in AD.  The key ID is k1."
        );
        assert_eq!(e.data, vec![("MRKID", "k1".to_string())]);
        for i in 0..CAPACITY + 5 {
            log.kds(NtTime(1), KDS_ROOT_KEY_CREATED, &[i.to_string()]);
        }
        let all = log.since(0);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all.last().unwrap().record_id, CAPACITY as u64 + 6);
        assert!(log.since(all.last().unwrap().record_id).is_empty());
    }
}
