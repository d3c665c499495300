//! Dynamically registered names as an AD-integrated zone stores them: one `dnsNode` object per
//! name (MS-DNSP 2.3.2.1), its records in `dnsRecord` values (MS-DNSP 2.3.2.2), under the
//! zone's `dnsZone` object. The zone lives in the domain partition, at
//! `DC=<zone>,CN=MicrosoftDNS,CN=System,<domain>` — where Windows keeps a zone replicated "to
//! all domain controllers in the domain (Windows 2000 compatible)" — since the simulated forest
//! has no DomainDnsZones application partition; snapshots and `--data-dir` carry the objects as
//! every other entry.
//!
//! Writes run as the client (its token from the ticket's PAC), so the directory's access check
//! decides, as the Windows DNS server impersonates the client: the zone's default security
//! descriptor (schema, dnsZone) lets Authenticated Users create nodes, the node's (dnsNode)
//! gives its creator-owner full control and everyone else read.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_server::proto::rr::rdata::{A, AAAA};
use hickory_server::proto::rr::{Name, RData, Record};

use crate::dsa::request::{ModOp, Modification};
use crate::dsa::{Caller, Directory, DsResult};
use crate::model::Dn;

/// dnsRecord Type values (MS-DNSP 2.2.2.1.1), the ones stored here.
pub mod rtype {
    pub const ZERO: u16 = 0x0000;
    pub const A: u16 = 0x0001;
    pub const AAAA: u16 = 0x001c;
}

/// DNS_RECORD's Version (MS-DNSP 2.3.2.2: MUST be 0x05).
const VERSION: u8 = 0x05;
/// Rank of a record of the zone's own data (MS-DNSP 2.3.2.2, DNS_RANK_ZONE).
const RANK_ZONE: u8 = 0xf0;

/// One `dnsRecord` value (MS-DNSP 2.3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    pub rtype: u16,
    pub serial: u32,
    pub ttl: u32,
    /// Hours since 1601-01-01; 0 for a static record.
    pub timestamp: u32,
    pub data: Vec<u8>,
}

impl DnsRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.data.len());
        out.extend_from_slice(&(self.data.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.rtype.to_le_bytes());
        out.push(VERSION);
        out.push(RANK_ZONE);
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.serial.to_le_bytes());
        // TtlSeconds is big-endian, unlike every other field (MS-DNSP 2.3.2.2).
        out.extend_from_slice(&self.ttl.to_be_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        out.extend_from_slice(&self.data);
        out
    }

    pub fn decode(v: &[u8]) -> Option<DnsRecord> {
        let len = usize::from(u16::from_le_bytes(v.get(0..2)?.try_into().ok()?));
        if v.len() != 24 + len {
            return None;
        }
        Some(DnsRecord {
            rtype: u16::from_le_bytes(v[2..4].try_into().ok()?),
            serial: u32::from_le_bytes(v[8..12].try_into().ok()?),
            ttl: u32::from_be_bytes(v[12..16].try_into().ok()?),
            timestamp: u32::from_le_bytes(v[20..24].try_into().ok()?),
            data: v[24..].to_vec(),
        })
    }

    /// The record for a DNS answer, when its type is one stored here.
    pub fn rdata(&self) -> Option<RData> {
        match self.rtype {
            rtype::A => Some(RData::A(A(Ipv4Addr::from(
                <[u8; 4]>::try_from(self.data.as_slice()).ok()?,
            )))),
            rtype::AAAA => Some(RData::AAAA(AAAA(Ipv6Addr::from(
                <[u8; 16]>::try_from(self.data.as_slice()).ok()?,
            )))),
            _ => None,
        }
    }

    /// A record from an update's RDATA; None for types this server does not store.
    pub fn from_rdata(data: &RData, ttl: u32, serial: u32, timestamp: u32) -> Option<DnsRecord> {
        let (rtype, data) = match data {
            RData::A(a) => (rtype::A, a.0.octets().to_vec()),
            RData::AAAA(a) => (rtype::AAAA, a.0.octets().to_vec()),
            _ => return None,
        };
        Some(DnsRecord {
            rtype,
            serial,
            ttl,
            timestamp,
            data,
        })
    }
}

/// Hours since 1601-01-01 (dnsRecord's TimeStamp) of an NT time.
pub fn hours_since_1601(nt: crate::clock::NtTime) -> u32 {
    u32::try_from(nt.0 / 36_000_000_000).unwrap_or(u32::MAX)
}

/// `CN=MicrosoftDNS,CN=System,<domain>`.
fn microsoft_dns_dn(dir: &Directory, domain: usize) -> Dn {
    dir.forest.domains[domain]
        .dn
        .child("CN", "System")
        .child("CN", "MicrosoftDNS")
}

/// The zone object of `domain`'s DNS name.
pub fn zone_dn(dir: &Directory, domain: usize) -> Dn {
    microsoft_dns_dn(dir, domain).child("DC", &dir.forest.domains[domain].dns_name)
}

/// The node's RDN value for `owner` in `zone`: the labels below the zone, `@` for the apex
/// (MS-DNSP 2.3.2.1). None when `owner` is outside the zone or needs DN escaping.
pub fn relative_name(owner: &Name, zone: &Name) -> Option<String> {
    if !zone.zone_of(owner) {
        return None;
    }
    let below = owner.num_labels().checked_sub(zone.num_labels())?;
    if below == 0 {
        return Some("@".into());
    }
    let labels: Vec<String> = owner
        .iter()
        .take(usize::from(below))
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect();
    let rel = labels.join(".");
    rel.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        .then_some(rel)
}

/// Creates `CN=MicrosoftDNS` and the zone object as the DC (SYSTEM) when they do not exist yet:
/// the first secure update of a forest makes them, with the classes' default security
/// descriptors (dnsZone: Authenticated Users may create nodes).
pub fn ensure_zone(dir: &Directory, domain: usize) -> DsResult<()> {
    let system = Caller::system();
    let container = microsoft_dns_dn(dir, domain);
    let zone = zone_dn(dir, domain);
    let exists = |dn: &Dn| dir.read().store.lookup(dn).is_some();
    if !exists(&container) {
        dir.add(
            &system,
            &container.to_string(),
            vec![
                ("objectClass".into(), vec![b"container".to_vec()]),
                ("cn".into(), vec![b"MicrosoftDNS".to_vec()]),
            ],
        )?;
    }
    if !exists(&zone) {
        dir.add(
            &system,
            &zone.to_string(),
            vec![
                ("objectClass".into(), vec![b"dnsZone".to_vec()]),
                (
                    "dc".into(),
                    vec![dir.forest.domains[domain].dns_name.as_bytes().to_vec()],
                ),
            ],
        )?;
    }
    Ok(())
}

/// The records of a node that is not tombstoned.
fn live_records(e: &crate::model::Entry) -> Option<Vec<DnsRecord>> {
    if e.first("dNSTombstoned")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"TRUE"))
    {
        return None;
    }
    Some(
        e.values("dnsRecord")
            .iter()
            .filter_map(DnsRecord::decode)
            .collect(),
    )
}

/// Every live record of `domain`'s zone, owner names absolute.
pub fn records(dir: &Directory, domain: usize) -> Vec<Record> {
    let zone_name = match Name::from_ascii(format!("{}.", dir.forest.domains[domain].dns_name)) {
        Ok(n) => n,
        Err(_) => return Vec::new(),
    };
    let st = dir.read();
    let Some(zone) = st.store.lookup(&zone_dn(dir, domain)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for id in st.store.children(zone) {
        let Some(e) = st.store.get(id) else { continue };
        let Some(rel) = e.first("dc").and_then(|v| std::str::from_utf8(v).ok()) else {
            continue;
        };
        let owner = if rel == "@" {
            zone_name.clone()
        } else {
            match Name::from_ascii(rel).and_then(|n| n.append_domain(&zone_name)) {
                Ok(n) => n,
                Err(_) => continue,
            }
        };
        for r in live_records(e).unwrap_or_default() {
            if let Some(data) = r.rdata() {
                out.push(Record::from_rdata(owner.clone(), r.ttl, data));
            }
        }
    }
    out
}

/// The node's current records (empty when absent or tombstoned).
pub fn node_records(dir: &Directory, domain: usize, rel: &str) -> Vec<DnsRecord> {
    let dn = zone_dn(dir, domain).child("DC", rel);
    let st = dir.read();
    st.store
        .get_by_dn(&dn)
        .and_then(|e| live_records(e))
        .unwrap_or_default()
}

/// Replaces the node's records with `new`, as `caller`: a new node is added (the caller
/// becomes its owner); an existing one is modified; one left without records is tombstoned
/// (dNSTombstoned TRUE and a single TYPE_ZERO record holding the deletion time, MS-DNSP
/// 2.3.2.1, 2.2.2.2.4.23), so its owner keeps the name.
pub fn write(dir: &Directory, caller: &Caller, domain: usize, rel: &str, new: &[DnsRecord]) -> DsResult<()> {
    let dn = zone_dn(dir, domain).child("DC", rel);
    let exists = dir.read().store.lookup(&dn).is_some();
    let now = dir.clock.now();
    let (values, tombstoned): (Vec<Vec<u8>>, &[u8]) = if new.is_empty() {
        let ts = DnsRecord {
            rtype: rtype::ZERO,
            serial: 0,
            ttl: 0,
            timestamp: 0,
            data: now.0.to_le_bytes().to_vec(),
        };
        (vec![ts.encode()], b"TRUE")
    } else {
        (new.iter().map(DnsRecord::encode).collect(), b"FALSE")
    };
    if exists {
        dir.modify(
            caller,
            &dn.to_string(),
            vec![
                Modification {
                    op: ModOp::Replace,
                    attr: "dnsRecord".into(),
                    values,
                },
                Modification {
                    op: ModOp::Replace,
                    attr: "dNSTombstoned".into(),
                    values: vec![tombstoned.to_vec()],
                },
            ],
        )
    } else if new.is_empty() {
        Ok(())
    } else {
        dir.add(
            caller,
            &dn.to_string(),
            vec![
                ("objectClass".into(), vec![b"dnsNode".to_vec()]),
                ("dc".into(), vec![rel.as_bytes().to_vec()]),
                ("dnsRecord".into(), values),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MS-DNSP 2.3.2.2's layout: little-endian but for the big-endian TTL.
    #[test]
    fn dns_record_layout() {
        let r = DnsRecord {
            rtype: rtype::A,
            serial: 7,
            ttl: 1200,
            timestamp: 0x0036_0000,
            data: vec![127, 0, 0, 26],
        };
        let b = r.encode();
        assert_eq!(
            b,
            vec![
                4, 0, 1, 0, 5, 0xf0, 0, 0, 7, 0, 0, 0, 0, 0, 0x04, 0xb0, 0, 0, 0, 0, 0, 0, 0x36, 0, 127, 0,
                0, 26
            ]
        );
        assert_eq!(DnsRecord::decode(&b), Some(r.clone()));
        assert_eq!(DnsRecord::decode(&b[..b.len() - 1]), None);
        assert_eq!(r.rdata(), Some(RData::A(A([127, 0, 0, 26].into()))));
    }

    #[test]
    fn relative_names() {
        let zone = Name::from_ascii("corp.example.test.").unwrap();
        let n = |s: &str| Name::from_ascii(s).unwrap();
        assert_eq!(
            relative_name(&n("Host1.corp.example.test."), &zone).as_deref(),
            Some("host1")
        );
        assert_eq!(
            relative_name(&n("a.b.corp.example.test."), &zone).as_deref(),
            Some("a.b")
        );
        assert_eq!(
            relative_name(&n("corp.example.test."), &zone).as_deref(),
            Some("@")
        );
        assert_eq!(relative_name(&n("host.other.test."), &zone), None);
        let comma = Name::from_labels([&b"a,b"[..], b"corp", b"example", b"test"]).unwrap();
        assert_eq!(relative_name(&comma, &zone), None);
    }
}
