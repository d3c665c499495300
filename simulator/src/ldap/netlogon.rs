//! The LDAP ping's Netlogon attribute (MS-ADTS 6.3.3), sans I/O: the request's filter
//! ([`Ping::from_filter`]) and the response structure ([`Ping::response`]) in its three
//! versions, NETLOGON_SAM_LOGON_RESPONSE_EX (7.3.1.9), NETLOGON_SAM_LOGON_RESPONSE (7.3.1.8)
//! and NETLOGON_SAM_LOGON_RESPONSE_NT40 (7.3.1.7). Field order, the name compression and the
//! little-endian integers were checked against Samba 4.22's answers
//! (simulator/tests/data/README.md, `cldap-*.hex`).

use std::net::{IpAddr, Ipv4Addr};

use crate::dsa::forest::DEFAULT_SITE;
use crate::dsa::provision::uac;
use crate::dsa::Directory;
use crate::model::filter::Filter;
use crate::security::Sid;

/// NtVer bits (MS-ADTS 6.3.1.1), one row per bit the server reads.
pub mod ntver {
    pub const V1: u32 = 0x1;
    pub const V5: u32 = 0x2;
    pub const V5EX: u32 = 0x4;
    pub const V5EX_WITH_IP: u32 = 0x8;
    pub const WITH_CLOSEST_SITE: u32 = 0x10;
}

/// DS_FLAG bits of the response's Flags (MS-ADTS 6.3.1.2).
pub mod ds_flag {
    pub const PDC: u32 = 0x1;
    pub const GC: u32 = 0x4;
    pub const LDAP: u32 = 0x8;
    pub const DS: u32 = 0x10;
    pub const KDC: u32 = 0x20;
    pub const TIMESERV: u32 = 0x40;
    pub const CLOSEST: u32 = 0x80;
    pub const WRITABLE: u32 = 0x100;
    pub const GOOD_TIMESERV: u32 = 0x200;
    pub const FULL_SECRET_DOMAIN_6: u32 = 0x1000;
    pub const WS: u32 = 0x2000;
    pub const DS_8: u32 = 0x4000;
    pub const DS_9: u32 = 0x8000;
    pub const DS_10: u32 = 0x10000;
}

/// Operation codes (MS-ADTS 6.3.1.3 / 7.3.1).
pub mod opcode {
    pub const LOGON_SAM_LOGON_RESPONSE: u16 = 19;
    pub const LOGON_SAM_USER_UNKNOWN: u16 = 21;
    pub const LOGON_SAM_LOGON_RESPONSE_EX: u16 = 23;
    pub const LOGON_SAM_USER_UNKNOWN_EX: u16 = 25;
}

/// AAC (account control, ACB_* bits) a ping may ask about, and the userAccountControl bit
/// each stands for (MS-ADTS 6.3.3.2 "only some bits"; Samba's ds_acb2uf mapping).
const AAC_TO_UAC: &[(u32, u32)] = &[
    (0x8, 0x100),                           // ACB_TEMPDUP → TEMP_DUPLICATE_ACCOUNT
    (0x10, uac::NORMAL_ACCOUNT),            // ACB_NORMAL
    (0x40, 0x800),                          // ACB_DOMTRUST → INTERDOMAIN_TRUST_ACCOUNT
    (0x80, uac::WORKSTATION_TRUST_ACCOUNT), // ACB_WSTRUST
    (0x100, uac::SERVER_TRUST_ACCOUNT),     // ACB_SVRTRUST
];

/// The functional level every DC of the forest runs at (rootDSE: 7, Windows Server 2016).
const DC_FUNCTIONALITY: u32 = 7;

/// A decoded LDAP ping: the filter's equality terms (MS-ADTS 6.3.3.1).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ping {
    pub dns_domain: Option<String>,
    pub host: Option<String>,
    pub user: Option<String>,
    pub aac: Option<u32>,
    pub domain_sid: Option<Sid>,
    pub domain_guid: Option<uuid::Uuid>,
    pub ntver: Option<u32>,
}

/// Why a ping gets the empty answer (a SearchResultDone alone), as Samba sends it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingError {
    #[error("the filter is not an AND of equality matches")]
    Filter,
    #[error("not a domain of this DC")]
    NoSuchDomain,
}

fn le_u32(v: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(v.try_into().ok()?))
}

impl Ping {
    /// The ping's terms: an AND of equality matches, names case-insensitive; a term of
    /// another kind refuses the ping, unknown attributes are ignored, and AAC/NtVer must be
    /// 4 bytes to count (MS-ADTS 6.3.3.1; Samba's parse_netlogon_request).
    pub fn from_filter(filter: &Filter) -> Result<Ping, PingError> {
        let Filter::And(terms) = filter else {
            return Err(PingError::Filter);
        };
        let mut p = Ping::default();
        for t in terms {
            let Filter::EqualityMatch(attr, v) = t else {
                return Err(PingError::Filter);
            };
            let text = || String::from_utf8_lossy(v).into_owned();
            match attr.to_ascii_lowercase().as_str() {
                "dnsdomain" => p.dns_domain = Some(text()),
                "host" => p.host = Some(text()),
                "user" => p.user = Some(text()),
                "aac" => p.aac = le_u32(v),
                "ntver" => p.ntver = le_u32(v),
                "domainsid" => p.domain_sid = Some(Sid::from_bytes(v).map_err(|_| PingError::Filter)?),
                "domainguid" => {
                    p.domain_guid = <[u8; 16]>::try_from(v.as_slice())
                        .ok()
                        .map(uuid::Uuid::from_bytes_le)
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// The Netlogon value the DC of `domain`, reached at `dc_ip`, answers (MS-ADTS 6.3.3.2).
    pub fn response(&self, dir: &Directory, domain: usize, dc_ip: IpAddr) -> Result<Vec<u8>, PingError> {
        let d = &dir.forest.domains[domain];
        let guid = dir.object_guid(&d.dn).ok_or(PingError::NoSuchDomain)?;
        // The domain is named by DnsDomain (a trailing dot allowed), else by DomainGuid or
        // DomainSid; none of the three names the DC's own domain.
        let by_name = self
            .dns_domain
            .as_deref()
            .map(|n| n.strip_suffix('.').unwrap_or(n).eq_ignore_ascii_case(&d.dns_name));
        let ours = match by_name {
            Some(true) => true,
            _ if self.domain_guid.is_some() || self.domain_sid.is_some() => {
                self.domain_guid.is_none_or(|g| g == guid)
                    && self.domain_sid.as_ref().is_none_or(|s| *s == d.sid)
            }
            Some(false) => false,
            None => true,
        };
        if !ours {
            return Err(PingError::NoSuchDomain);
        }
        let user = self.user.clone().unwrap_or_default();
        let user_known = user.is_empty() || self.account_matches(dir, domain, &user);
        let version = self.ntver.unwrap_or(ntver::V5);
        // One site, no subnets: every client is in it, so the DC is the closest (Samba's
        // samdb_client_site_name falls back to the only site).
        let client_site = DEFAULT_SITE;
        let mut flags = ds_flag::PDC
            | ds_flag::LDAP
            | ds_flag::DS
            | ds_flag::KDC
            | ds_flag::WRITABLE
            | ds_flag::FULL_SECRET_DOMAIN_6;
        if domain == 0 {
            flags |= ds_flag::GC;
        }
        if client_site.eq_ignore_ascii_case(DEFAULT_SITE) {
            flags |= ds_flag::CLOSEST;
        }
        // DS_8/9/10: a DC of Windows Server 2012, 2012 R2, 2016 or later (functional level 5,
        // 6, 7).
        for (level, bit) in [(5, ds_flag::DS_8), (6, ds_flag::DS_9), (7, ds_flag::DS_10)] {
            if DC_FUNCTIONALITY >= level {
                flags |= bit;
            }
        }
        let dc_v4 = match dc_ip {
            IpAddr::V4(a) if !a.is_unspecified() => a,
            // The structures carry IPv4 only; Windows and Samba put 127.0.0.1 otherwise.
            _ => Ipv4Addr::LOCALHOST,
        };
        let netbios_dc = d.dc_name.to_uppercase();
        let mut out = Vec::new();
        if version & (ntver::V5EX | ntver::V5EX_WITH_IP) != 0 {
            let op = if user_known {
                opcode::LOGON_SAM_LOGON_RESPONSE_EX
            } else {
                opcode::LOGON_SAM_USER_UNKNOWN_EX
            };
            out.extend(op.to_le_bytes());
            out.extend([0, 0]); // Sbz
            out.extend(flags.to_le_bytes());
            out.extend(guid.to_bytes_le());
            let mut names = Compressor::default();
            for s in [
                dir.forest.root_dns.as_str(),
                &d.dns_name,
                &d.dc_fqdn,
                &d.netbios,
                &netbios_dc,
                &user,
                DEFAULT_SITE,
                client_site,
            ] {
                names.push(&mut out, s);
            }
            let mut nt = ntver::V1 | ntver::V5EX;
            if version & ntver::V5EX_WITH_IP != 0 {
                nt |= ntver::V5EX_WITH_IP;
                // DcSockAddrSize, then a SOCKADDR_IN: family AF_INET (2, little-endian), port 0,
                // the address in network order, 8 zero bytes.
                out.push(16);
                out.extend(2u16.to_le_bytes());
                out.extend([0, 0]);
                out.extend(dc_v4.octets());
                out.extend([0; 8]);
            }
            out.extend(nt.to_le_bytes());
        } else if version & ntver::V5 != 0 {
            let op = if user_known {
                opcode::LOGON_SAM_LOGON_RESPONSE
            } else {
                opcode::LOGON_SAM_USER_UNKNOWN
            };
            out.extend(op.to_le_bytes());
            utf16z(&mut out, &format!("\\\\{netbios_dc}"));
            utf16z(&mut out, &user);
            utf16z(&mut out, &d.netbios);
            out.extend(guid.to_bytes_le());
            out.extend([0; 16]); // NullGuid
            let mut names = Compressor::default();
            for s in [dir.forest.root_dns.as_str(), &d.dns_name, &d.dc_fqdn] {
                names.push(&mut out, s);
            }
            // DcIpAddress: the IPv4 address as a little-endian integer.
            out.extend(u32::from(dc_v4).to_le_bytes());
            out.extend(flags.to_le_bytes());
            out.extend((ntver::V1 | ntver::V5).to_le_bytes());
        } else {
            let op = if user_known {
                opcode::LOGON_SAM_LOGON_RESPONSE
            } else {
                opcode::LOGON_SAM_USER_UNKNOWN
            };
            out.extend(op.to_le_bytes());
            utf16z(&mut out, &format!("\\\\{netbios_dc}"));
            utf16z(&mut out, &user);
            utf16z(&mut out, &d.netbios);
            out.extend(ntver::V1.to_le_bytes());
        }
        out.extend([0xff; 4]); // LmNtToken, Lm20Token
        Ok(out)
    }

    /// The User term names an enabled account of the domain whose userAccountControl has
    /// one of the bits AAC asks about (MS-ADTS 6.3.3.2; no AAC matches nothing, as Samba).
    fn account_matches(&self, dir: &Directory, domain: usize, user: &str) -> bool {
        let aac = self.aac.unwrap_or(0);
        let wanted = AAC_TO_UAC
            .iter()
            .filter(|(acb, _)| aac & acb != 0)
            .fold(0u32, |m, (_, uf)| m | uf);
        let st = dir.read();
        let Some(entry) = dir.find_sam(&st, domain, user).and_then(|id| st.store.get(id)) else {
            return false;
        };
        let uac = entry.first_i64("userAccountControl").unwrap_or(0) as u32;
        uac & uac::ACCOUNTDISABLE == 0 && uac & wanted != 0
    }
}

/// A NUL-terminated UTF-16LE string.
fn utf16z(out: &mut Vec<u8>, s: &str) {
    out.extend(s.encode_utf16().chain([0]).flat_map(u16::to_le_bytes));
}

/// Names in RFC 1035 form with §4.1.4 compression, offsets counted from the start of the
/// structure; a suffix is reused when written before exactly (case-sensitively, as Windows
/// and Samba compare).
#[derive(Default)]
struct Compressor {
    seen: Vec<(String, usize)>,
}

impl Compressor {
    fn push(&mut self, out: &mut Vec<u8>, name: &str) {
        let labels: Vec<&str> = if name.is_empty() {
            Vec::new()
        } else {
            name.split('.').collect()
        };
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".");
            if let Some((_, at)) = self.seen.iter().find(|(s, _)| *s == suffix) {
                out.extend((0xc000 | *at as u16).to_be_bytes());
                return;
            }
            if out.len() < 0x3fff {
                self.seen.push((suffix, out.len()));
            }
            // A label longer than 63 bytes cannot be written: the rest of it is dropped.
            let label = &labels[i].as_bytes()[..labels[i].len().min(63)];
            out.push(label.len() as u8);
            out.extend(label);
        }
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_reuses_exact_suffixes_only() {
        let mut out = vec![0u8; 24];
        let mut c = Compressor::default();
        c.push(&mut out, "samba.example.test");
        c.push(&mut out, "samba.example.test");
        c.push(&mut out, "dc1.samba.example.test");
        c.push(&mut out, "SAMBA");
        c.push(&mut out, "");
        assert_eq!(
            hex::encode(&out[24..]),
            "0573616d6261076578616d706c65047465737400c01803646331c0180553414d424100\
             00"
        );
    }
}
