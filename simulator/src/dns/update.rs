//! RFC 2136 UPDATE against a domain's zone, for an authenticated caller: the zone section
//! (§3.1), prerequisites (§3.2), the update section's prescan (§3.4.1) and its additions and
//! deletions (§3.4.2), grouped per name and written as one `dnsNode` each (`node`), where the
//! directory's access check decides as on Windows. Names the DC registers for itself (its host,
//! SRV and apex records, computed by `records`) are not updatable: REFUSED.

use std::collections::BTreeMap;

use hickory_server::proto::op::{Message, ResponseCode};
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::node::{self, DnsRecord};
use super::records::{Answer, DcRecords};
use crate::dsa::error::code as ldap_code;
use crate::dsa::{Caller, Directory};

/// The zone an update names: the index of the domain whose DNS name it is.
pub fn zone_of(dir: &Directory, msg: &Message) -> Result<(usize, Name), ResponseCode> {
    // §3.1.1: exactly one zone, type SOA; else FORMERR.
    let [zone] = msg.queries() else {
        return Err(ResponseCode::FormErr);
    };
    if zone.query_type() != RecordType::SOA {
        return Err(ResponseCode::FormErr);
    }
    let mut name = zone.name().clone();
    name.set_fqdn(true);
    dir.forest
        .domains
        .iter()
        // Names compare case-insensitively (RFC 4343).
        .find(|d| Name::from_ascii(format!("{}.", d.dns_name)).is_ok_and(|z| z == name))
        .map(|d| (d.index, name.clone()))
        // §3.1.1: a zone this server is not authoritative for (the _msdcs zone holds the DCs'
        // own records, which clients do not update).
        .ok_or(ResponseCode::NotAuth)
}

/// What a name holds for prerequisite checks: the DC's records and the registered ones.
fn at(records: &DcRecords, name: &Name) -> Vec<Record> {
    match records.answer(name, RecordType::ANY) {
        Answer::Records(rs) => rs,
        _ => Vec::new(),
    }
}

/// §3.2.5: the prerequisite section, checked before any change.
fn prerequisites(msg: &Message, zone: &Name, records: &DcRecords) -> Result<(), ResponseCode> {
    let mut value_sets: BTreeMap<(Name, RecordType), Vec<RData>> = BTreeMap::new();
    for rr in msg.answers() {
        let name = rr.name().to_lowercase();
        if !zone.zone_of(&name) {
            return Err(ResponseCode::NotZone);
        }
        let rtype = rr.record_type();
        let empty = matches!(rr.data(), RData::Update0(_));
        let have = at(records, &name);
        match rr.dns_class() {
            DNSClass::ANY if rr.ttl() == 0 && empty => {
                if rtype == RecordType::ANY {
                    if have.is_empty() {
                        return Err(ResponseCode::NXDomain);
                    }
                } else if !have.iter().any(|r| r.record_type() == rtype) {
                    return Err(ResponseCode::NXRRSet);
                }
            }
            DNSClass::NONE if rr.ttl() == 0 && empty => {
                if rtype == RecordType::ANY {
                    if !have.is_empty() {
                        return Err(ResponseCode::YXDomain);
                    }
                } else if have.iter().any(|r| r.record_type() == rtype) {
                    return Err(ResponseCode::YXRRSet);
                }
            }
            DNSClass::IN if rr.ttl() == 0 => {
                value_sets
                    .entry((name, rtype))
                    .or_default()
                    .push(rr.data().clone());
            }
            _ => return Err(ResponseCode::FormErr),
        }
    }
    // Value-dependent: the RRset must be exactly the given records.
    for ((name, rtype), mut want) in value_sets {
        let mut have: Vec<RData> = at(records, &name)
            .into_iter()
            .filter(|r| r.record_type() == rtype)
            .map(|r| r.data().clone())
            .collect();
        want.sort_by_key(|d| format!("{d}"));
        want.dedup();
        have.sort_by_key(|d| format!("{d}"));
        if want != have {
            return Err(ResponseCode::NXRRSet);
        }
    }
    Ok(())
}

/// §3.4.1.3: each update RR's form.
fn prescan(msg: &Message, zone: &Name) -> Result<(), ResponseCode> {
    for rr in msg.name_servers() {
        if !zone.zone_of(&rr.name().to_lowercase()) {
            return Err(ResponseCode::NotZone);
        }
        let meta = matches!(
            rr.record_type(),
            RecordType::ANY | RecordType::AXFR | RecordType::IXFR | RecordType::OPT
        );
        let empty = matches!(rr.data(), RData::Update0(_));
        let ok = match rr.dns_class() {
            DNSClass::IN => !meta && !empty,
            DNSClass::ANY => {
                rr.ttl() == 0 && empty && !matches!(rr.record_type(), RecordType::AXFR | RecordType::IXFR)
            }
            DNSClass::NONE => rr.ttl() == 0 && !meta && !empty,
            _ => false,
        };
        if !ok {
            return Err(ResponseCode::FormErr);
        }
    }
    Ok(())
}

/// Applies the update of `msg` to `domain`'s zone as `caller`; the response code.
pub fn apply(dir: &Directory, records: &DcRecords, caller: &Caller, msg: &Message) -> ResponseCode {
    let (domain, zone) = match zone_of(dir, msg) {
        Ok(z) => z,
        Err(rc) => return rc,
    };
    if let Err(rc) = prerequisites(msg, &zone, records).and_then(|()| prescan(msg, &zone)) {
        return rc;
    }
    // The updates per name, in order, applied to each name's current records.
    let mut by_name: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for rr in msg.name_servers() {
        let Some(rel) = node::relative_name(&rr.name().to_lowercase(), &zone) else {
            return ResponseCode::Refused;
        };
        // The DC's own names (records it computes) are not clients' to change.
        let mut owner = rr.name().clone();
        owner.set_fqdn(true);
        if !matches!(records.static_answer(&owner), Answer::NxDomain | Answer::NoData) || rel == "@" {
            return ResponseCode::Refused;
        }
        by_name.entry(rel).or_default().push(rr);
    }
    let now = dir.clock.now();
    let serial = u32::try_from(dir.read().store.highest_usn() & 0xffff_ffff).unwrap_or(1);
    let mut plans: Vec<(String, Vec<DnsRecord>)> = Vec::new();
    for (rel, updates) in by_name {
        let before = node::node_records(dir, domain, &rel);
        let mut set = before.clone();
        for rr in updates {
            let rtype = rr.record_type();
            match rr.dns_class() {
                DNSClass::IN => {
                    // Types other than A and AAAA are not stored (docs/fidelity.md).
                    let Some(new) =
                        DnsRecord::from_rdata(rr.data(), rr.ttl(), serial, node::hours_since_1601(now))
                    else {
                        return ResponseCode::NotImp;
                    };
                    // §3.4.2.2: a record already present only has its TTL replaced; the RRset
                    // takes the new TTL (RFC 2181 §5.2).
                    set.retain(|r| !(r.rtype == new.rtype && r.data == new.data));
                    for r in set.iter_mut().filter(|r| r.rtype == new.rtype) {
                        r.ttl = new.ttl;
                    }
                    set.push(new);
                }
                DNSClass::ANY if rtype == RecordType::ANY => set.clear(),
                DNSClass::ANY => {
                    let code = u16::from(rtype);
                    set.retain(|r| r.rtype != code);
                }
                DNSClass::NONE => {
                    if let Some(gone) = DnsRecord::from_rdata(rr.data(), 0, 0, 0) {
                        set.retain(|r| !(r.rtype == gone.rtype && r.data == gone.data));
                    }
                }
                _ => return ResponseCode::FormErr,
            }
        }
        if set != before {
            plans.push((rel, set));
        }
    }
    if plans.is_empty() {
        return ResponseCode::NoError;
    }
    if let Err(e) = node::ensure_zone(dir, domain) {
        tracing::warn!(code = e.code, "DNS zone object could not be created");
        return ResponseCode::ServFail;
    }
    for (rel, set) in plans {
        if let Err(e) = node::write(dir, caller, domain, &rel, &set) {
            // The Windows DNS server answers REFUSED when the client's token may not write
            // the node (MS-DNSP 3.1.1: the node's security descriptor).
            return if e.code == ldap_code::INSUFFICIENT_ACCESS_RIGHTS {
                tracing::info!(caller = %caller.dn, node = %rel, "DNS update refused by the node's security descriptor");
                ResponseCode::Refused
            } else {
                tracing::warn!(code = e.code, node = %rel, "DNS update failed");
                ResponseCode::ServFail
            };
        }
    }
    ResponseCode::NoError
}
