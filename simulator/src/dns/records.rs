//! The records a Windows DC registers for itself (its netlogon.dns), computed from the live
//! directory at each query, sans I/O: MS-ADTS 6.3.2 (A, CNAME and SRV records a DC
//! registers) and 6.3.6.1 (the names clients look up). Each domain's DNS name and
//! `_msdcs.<forest>` are zones with an SOA and NS of their own (the layout dcpromo creates).

use std::net::IpAddr;
use std::sync::Arc;

use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, SRV};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};

use crate::dsa::forest::DEFAULT_SITE;
use crate::dsa::Directory;

/// TTL of every record: what Net Logon writes in netlogon.dns (600 s).
pub const TTL: u32 = 600;

/// SOA timers of an AD-integrated zone as the DNS console creates it: refresh 15 min, retry
/// 10 min, expire 1 day, minimum (negative-caching) TTL 1 hour.
const SOA_REFRESH: i32 = 900;
const SOA_RETRY: i32 = 600;
const SOA_EXPIRE: i32 = 86_400;
const SOA_MINIMUM: u32 = 3_600;

/// Ports one domain's DC serves, as its SRV records advertise them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcPorts {
    /// LDAP (TCP) and the CLDAP ping (UDP).
    pub ldap: u16,
    /// The KDC, UDP and TCP.
    pub kdc: u16,
    /// kpasswd (RFC 3244), UDP and TCP; `None` while nothing listens for it: no `_kpasswd`
    /// records are published then (an SRV record must not send clients to a closed port).
    pub kpasswd: Option<u16>,
}

/// What a name holds, for one record type.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// Records of the type asked for (or the name's CNAME).
    Records(Vec<Record>),
    /// The name exists (it holds other records, or names below it do): NOERROR, no answer.
    NoData,
    /// No such name (RFC 1035 §4.3.2; RFC 8020: nothing below it either).
    NxDomain,
}

/// The forest's DNS data as a DC registers it: the DC's address, the ports each domain's DC
/// listens on, and the directory (GUIDs, the USN used as the zones' serial).
pub struct DcRecords {
    dir: Arc<Directory>,
    addr: IpAddr,
    /// Per domain, in the forest's order.
    ports: Vec<DcPorts>,
    /// The Global Catalog's port (the root DC's).
    gc_port: u16,
}

fn name(s: &str) -> Name {
    // Names built from the forest's DNS names, GUIDs and fixed labels: always valid.
    let mut n = Name::from_ascii(s).unwrap_or_else(|_| Name::root());
    n.set_fqdn(true);
    n
}

impl DcRecords {
    /// `addr` is the DC's listen address; an unspecified one (0.0.0.0, ::) is advertised as
    /// the loopback address of its family, the one address sure to reach it.
    pub fn new(dir: Arc<Directory>, addr: IpAddr, ports: Vec<DcPorts>, gc_port: u16) -> DcRecords {
        let addr = match addr {
            IpAddr::V4(a) if a.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
            IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            a => a,
        };
        DcRecords {
            dir,
            addr,
            ports,
            gc_port,
        }
    }

    /// The directory the records are read from.
    pub fn dir(&self) -> &Arc<Directory> {
        &self.dir
    }

    /// The zones served: each domain's DNS name, then `_msdcs.<forest root>`.
    pub fn zones(&self) -> Vec<Name> {
        let f = &self.dir.forest;
        let mut z: Vec<Name> = f.domains.iter().map(|d| name(&d.dns_name)).collect();
        z.push(name(&format!("_msdcs.{}", f.root_dns)));
        z
    }

    /// Every record of every zone, as they stand now: the DC's own and the names clients
    /// registered by secure dynamic update (`node`).
    pub fn all(&self) -> Vec<Record> {
        let mut out = self.dc_records();
        for d in &self.dir.forest.domains {
            out.extend(super::node::records(&self.dir, d.index));
        }
        out
    }

    /// The records the DC registers for itself (its netlogon.dns).
    pub fn dc_records(&self) -> Vec<Record> {
        let f = &self.dir.forest;
        let forest = &f.root_dns;
        let serial = u32::try_from(self.dir.read().store.highest_usn() & 0xffff_ffff).unwrap_or(1);
        let mut out = Vec::new();
        let mut push = |owner: String, data: RData| out.push(Record::from_rdata(name(&owner), TTL, data));
        let address = match self.addr {
            IpAddr::V4(a) => RData::A(A(a)),
            IpAddr::V6(a) => RData::AAAA(AAAA(a)),
        };
        let site = DEFAULT_SITE;
        let root_dc = &f.root().dc_fqdn;
        for (zone, dc) in f
            .domains
            .iter()
            .map(|d| (d.dns_name.clone(), &d.dc_fqdn))
            .chain(std::iter::once((format!("_msdcs.{forest}"), root_dc)))
        {
            push(
                zone.clone(),
                RData::SOA(SOA::new(
                    name(dc),
                    name(&format!("hostmaster.{zone}")),
                    serial,
                    SOA_REFRESH,
                    SOA_RETRY,
                    SOA_EXPIRE,
                    SOA_MINIMUM,
                )),
            );
            push(zone, RData::NS(NS(name(dc))));
        }
        for (d, ports) in f.domains.iter().zip(&self.ports) {
            let x = &d.dns_name;
            let host = &d.dc_fqdn;
            let srv = |port: u16| RData::SRV(SRV::new(0, 100, port, name(host)));
            // MS-ADTS 6.3.2.1: the DC's own host record, and the domain name's ("same as
            // parent folder") A record every DC adds for its domain.
            push(host.clone(), address.clone());
            push(x.clone(), address.clone());
            // MS-ADTS 6.3.2.3, non-RODC server: X is the domain, G its GUID, Z the forest,
            // Yi the DC's site.
            push(format!("_ldap._tcp.{x}"), srv(ports.ldap));
            push(format!("_ldap._tcp.{site}._sites.{x}"), srv(ports.ldap));
            push(format!("_ldap._tcp.dc._msdcs.{x}"), srv(ports.ldap));
            push(format!("_ldap._tcp.{site}._sites.dc._msdcs.{x}"), srv(ports.ldap));
            if let Some(g) = self.dir.object_guid(&d.dn) {
                push(format!("_ldap._tcp.{g}.domains._msdcs.{forest}"), srv(ports.ldap));
            }
            // Each domain has one DC, its PDC emulator (6.3.2.3 "PDC server").
            push(format!("_ldap._tcp.pdc._msdcs.{x}"), srv(ports.ldap));
            push(format!("_kerberos._tcp.{x}"), srv(ports.kdc));
            push(format!("_kerberos._udp.{x}"), srv(ports.kdc));
            push(format!("_kerberos._tcp.{site}._sites.{x}"), srv(ports.kdc));
            push(format!("_kerberos._tcp.dc._msdcs.{x}"), srv(ports.kdc));
            push(
                format!("_kerberos._tcp.{site}._sites.dc._msdcs.{x}"),
                srv(ports.kdc),
            );
            if let Some(kpasswd) = ports.kpasswd {
                push(format!("_kpasswd._tcp.{x}"), srv(kpasswd));
                push(format!("_kpasswd._udp.{x}"), srv(kpasswd));
            }
            // MS-ADTS 6.3.2.2: <DsaGuid>._msdcs.<forest> CNAME the DC's host name (the name
            // replication partners resolve), DsaGuid being the nTDSDSA object's objectGUID.
            if let Some(dsa) = self.dir.object_guid(&d.ntds_settings_dn) {
                push(format!("{dsa}._msdcs.{forest}"), RData::CNAME(CNAME(name(host))));
            }
        }
        // The Global Catalog runs on the root DC (6.3.2.3 "Non-RODC GC server"; 6.3.2.1
        // gc._msdcs.Z A).
        let gc = |port: u16| RData::SRV(SRV::new(0, 100, port, name(root_dc)));
        push(format!("_ldap._tcp.gc._msdcs.{forest}"), gc(self.gc_port));
        push(
            format!("_ldap._tcp.{site}._sites.gc._msdcs.{forest}"),
            gc(self.gc_port),
        );
        push(format!("_gc._tcp.{forest}"), gc(self.gc_port));
        push(format!("_gc._tcp.{site}._sites.{forest}"), gc(self.gc_port));
        push(format!("gc._msdcs.{forest}"), address);
        out
    }

    /// What `owner` holds for `rtype` (names compare case-insensitively, RFC 4343). ANY gives
    /// every record of the name; a name with a CNAME answers it for any other type
    /// (RFC 1034 §3.6.2).
    pub fn answer(&self, owner: &Name, rtype: RecordType) -> Answer {
        answer_from(self.all(), owner, rtype)
    }

    /// What `owner` holds among the DC's own records only.
    pub fn static_answer(&self, owner: &Name) -> Answer {
        answer_from(self.dc_records(), owner, RecordType::ANY)
    }
}

/// What `owner` holds for `rtype` among `all`.
fn answer_from(all: Vec<Record>, owner: &Name, rtype: RecordType) -> Answer {
    let mut owner = owner.clone();
    owner.set_fqdn(true);
    let at: Vec<Record> = all.iter().filter(|r| r.name() == &owner).cloned().collect();
    if at.is_empty() {
        // An empty non-terminal (`_tcp.corp.example.test`) exists: NOERROR (RFC 8020).
        return if all.iter().any(|r| owner.zone_of(r.name())) {
            Answer::NoData
        } else {
            Answer::NxDomain
        };
    }
    let hit: Vec<Record> = at
        .iter()
        .filter(|r| rtype == RecordType::ANY || r.record_type() == rtype)
        .cloned()
        .collect();
    if !hit.is_empty() {
        return Answer::Records(hit);
    }
    let cname: Vec<Record> = at
        .into_iter()
        .filter(|r| r.record_type() == RecordType::CNAME)
        .collect();
    if cname.is_empty() {
        Answer::NoData
    } else {
        Answer::Records(cname)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::{ChildDomainConfig, ForestConfig};

    fn forest(children: &[&str]) -> Arc<Directory> {
        Directory::provision(&ForestConfig {
            seed: Some(3),
            children: children.iter().map(|l| ChildDomainConfig::labelled(*l)).collect(),
            ..ForestConfig::default()
        })
        .unwrap()
    }

    fn records(dir: &Arc<Directory>, kpasswd: Option<u16>) -> DcRecords {
        let ports = dir
            .forest
            .domains
            .iter()
            .enumerate()
            .map(|(i, _)| DcPorts {
                ldap: 1389 + i as u16,
                kdc: 1088 + i as u16,
                kpasswd,
            })
            .collect();
        DcRecords::new(dir.clone(), "127.0.0.7".parse().unwrap(), ports, 3268)
    }

    fn srv(r: &DcRecords, owner: &str) -> Vec<(u16, String)> {
        match r.answer(&name(owner), RecordType::SRV) {
            Answer::Records(rs) => rs
                .iter()
                .map(|r| match r.data() {
                    RData::SRV(s) => (s.port(), s.target().to_ascii()),
                    other => panic!("{owner}: {other:?}"),
                })
                .collect(),
            other => panic!("{owner}: {other:?}"),
        }
    }

    #[test]
    fn every_srv_record_of_ms_adts_6_3_2_3_points_at_the_dc_and_its_ports() {
        let dir = forest(&["eu"]);
        let r = records(&dir, None);
        let dc = "dc1.corp.example.test.".to_string();
        let guid = dir.object_guid(&dir.forest.root().dn).unwrap();
        for (owner, port) in [
            ("_ldap._tcp.corp.example.test", 1389),
            (
                "_ldap._tcp.Default-First-Site-Name._sites.corp.example.test",
                1389,
            ),
            ("_ldap._tcp.dc._msdcs.corp.example.test", 1389),
            (
                "_ldap._tcp.Default-First-Site-Name._sites.dc._msdcs.corp.example.test",
                1389,
            ),
            (
                &format!("_ldap._tcp.{guid}.domains._msdcs.corp.example.test"),
                1389,
            ),
            ("_ldap._tcp.pdc._msdcs.corp.example.test", 1389),
            ("_kerberos._tcp.corp.example.test", 1088),
            ("_kerberos._udp.corp.example.test", 1088),
            (
                "_kerberos._tcp.Default-First-Site-Name._sites.corp.example.test",
                1088,
            ),
            ("_kerberos._tcp.dc._msdcs.corp.example.test", 1088),
            (
                "_kerberos._tcp.Default-First-Site-Name._sites.dc._msdcs.corp.example.test",
                1088,
            ),
            ("_ldap._tcp.gc._msdcs.corp.example.test", 3268),
            (
                "_ldap._tcp.Default-First-Site-Name._sites.gc._msdcs.corp.example.test",
                3268,
            ),
            ("_gc._tcp.corp.example.test", 3268),
            ("_gc._tcp.Default-First-Site-Name._sites.corp.example.test", 3268),
        ] {
            assert_eq!(srv(&r, owner), vec![(port, dc.clone())], "{owner}");
        }
        // The child domain's DC has its own records and ports.
        assert_eq!(
            srv(&r, "_kerberos._udp.eu.corp.example.test"),
            vec![(1089, "dc2.eu.corp.example.test.".to_string())]
        );
        // Names compare case-insensitively.
        assert_eq!(srv(&r, "_LDAP._TCP.DC._MSDCS.Corp.Example.Test").len(), 1);
    }

    #[test]
    fn kpasswd_is_published_only_with_a_listener() {
        let dir = forest(&[]);
        let owner = name("_kpasswd._udp.corp.example.test");
        assert_eq!(
            records(&dir, None).answer(&owner, RecordType::SRV),
            Answer::NxDomain
        );
        assert_eq!(
            srv(&records(&dir, Some(464)), "_kpasswd._tcp.corp.example.test"),
            vec![(464, "dc1.corp.example.test.".to_string())]
        );
    }

    #[test]
    fn addresses_soa_ns_and_the_dsa_cname() {
        let dir = forest(&[]);
        let r = records(&dir, None);
        let a = |owner: &str| match r.answer(&name(owner), RecordType::A) {
            Answer::Records(rs) => rs.iter().map(|r| r.data().clone()).collect::<Vec<_>>(),
            other => panic!("{owner}: {other:?}"),
        };
        let ip = RData::A(A("127.0.0.7".parse().unwrap()));
        assert_eq!(a("dc1.corp.example.test"), vec![ip.clone()]);
        assert_eq!(a("corp.example.test"), vec![ip.clone()]);
        assert_eq!(a("gc._msdcs.corp.example.test"), vec![ip]);
        for zone in ["corp.example.test", "_msdcs.corp.example.test"] {
            let Answer::Records(soa) = r.answer(&name(zone), RecordType::SOA) else {
                panic!("{zone} SOA")
            };
            let RData::SOA(soa) = soa[0].data() else { panic!() };
            assert_eq!(soa.mname().to_ascii(), "dc1.corp.example.test.");
            assert_eq!(soa.minimum(), 3600);
            let Answer::Records(ns) = r.answer(&name(zone), RecordType::NS) else {
                panic!("{zone} NS")
            };
            assert_eq!(ns[0].data(), &RData::NS(NS(name("dc1.corp.example.test"))));
        }
        let dsa = dir.object_guid(&dir.forest.root().ntds_settings_dn).unwrap();
        // A CNAME answers any type asked of its name.
        let Answer::Records(c) = r.answer(&name(&format!("{dsa}._msdcs.corp.example.test")), RecordType::A)
        else {
            panic!("cname")
        };
        assert_eq!(c[0].data(), &RData::CNAME(CNAME(name("dc1.corp.example.test"))));
        // An IPv6 listen address gives AAAA records instead.
        let v6 = DcRecords::new(dir.clone(), "::1".parse().unwrap(), r.ports.clone(), 3268);
        assert!(matches!(
            v6.answer(&name("dc1.corp.example.test"), RecordType::AAAA),
            Answer::Records(_)
        ));
        assert_eq!(
            v6.answer(&name("dc1.corp.example.test"), RecordType::A),
            Answer::NoData
        );
    }

    #[test]
    fn nodata_for_existing_names_and_nxdomain_for_the_rest() {
        let dir = forest(&[]);
        let r = records(&dir, None);
        // The name holds an SRV record, not an A record.
        assert_eq!(
            r.answer(&name("_ldap._tcp.corp.example.test"), RecordType::A),
            Answer::NoData
        );
        // Empty non-terminals exist.
        assert_eq!(
            r.answer(&name("_tcp.corp.example.test"), RecordType::SRV),
            Answer::NoData
        );
        assert_eq!(
            r.answer(&name("_sites.dc._msdcs.corp.example.test"), RecordType::A),
            Answer::NoData
        );
        assert_eq!(
            r.answer(&name("nosuch.corp.example.test"), RecordType::A),
            Answer::NxDomain
        );
    }
}
