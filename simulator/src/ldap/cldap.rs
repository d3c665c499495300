//! Connectionless LDAP as a DC answers it on UDP port 389, sans I/O: one datagram in, one
//! datagram (or nothing) out. AD serves only rootDSE searches over UDP (MS-ADTS 3.1.1.3.1.1,
//! RFC 1798): with `Netlogon` among the attributes it is the LDAP ping (MS-ADTS 6.3.3,
//! `netlogon`), else the rootDSE (`rootdse`). The reply is the SearchResultEntry and the
//! SearchResultDone in one datagram; requests are decoded and replies encoded by the LDAP
//! codec the TCP listeners use.

use std::net::IpAddr;

use ldap3_proto::proto::LdapSearchScope;

use super::codec::{
    decode_request, encode_response, frame_len, LdapResult, RequestOp, ResponseOp, SearchRequest,
};
use super::netlogon::Ping;
use super::rootdse;
use crate::dsa::Directory;

/// The largest datagram read: a ping is ~100 bytes, a rootDSE search not much more
/// (AD's MaxDatagramRecv defaults to 4096).
pub const MAX_DATAGRAM: usize = 4096;

/// The reply to one datagram sent to the DC of `domain` listening at `dc_ip`, or `None`
/// when it is dropped: not one whole LDAPMessage, not a search of the rootDSE (UDP carries no
/// error an unknown client would read; Windows and Samba drop them too).
pub fn answer(dir: &Directory, domain: usize, dc_ip: IpAddr, datagram: &[u8]) -> Option<Vec<u8>> {
    if frame_len(datagram, MAX_DATAGRAM).ok()? != Some(datagram.len()) {
        return None;
    }
    let request = decode_request(datagram).ok()?;
    let RequestOp::Search(search) = request.op else {
        return None;
    };
    if !search.base.is_empty() || search.scope != LdapSearchScope::Base {
        return None;
    }
    let msgid = request.msgid;
    let mut out = Vec::new();
    if let Some(attrs) = root_dse_entry(dir, domain, false, dc_ip, &search) {
        out = encode_response(
            msgid,
            ResponseOp::SearchResultEntry {
                dn: String::new(),
                attrs,
            },
            &[],
        );
    }
    out.extend(encode_response(
        msgid,
        ResponseOp::SearchResultDone(LdapResult::success()),
        &[],
    ));
    Some(out)
}

/// The entry a base search of the rootDSE returns, over UDP or TCP (`ldap::session`): with
/// `Netlogon` among the attributes, the LDAP ping's answer (MS-ADTS 6.3.3 takes the ping over
/// either; adcli sends it over TCP), else the rootDSE attributes asked for. `None`: no entry,
/// only the SearchResultDone (a ping that names another domain, or whose filter is not a
/// ping's: Samba's cldap_empty_reply; docs/fidelity.md).
pub fn root_dse_entry(
    dir: &Directory,
    domain: usize,
    global_catalog: bool,
    dc_ip: IpAddr,
    search: &SearchRequest,
) -> Option<Vec<(String, Vec<Vec<u8>>)>> {
    let Some(name) = search.attrs.iter().find(|a| a.eq_ignore_ascii_case("netlogon")) else {
        return Some(rootdse::select(
            rootdse::root_dse(dir, domain, global_catalog),
            &search.attrs,
        ));
    };
    match Ping::from_filter(&search.filter).and_then(|p| p.response(dir, domain, dc_ip)) {
        Ok(value) => Some(vec![(name.clone(), vec![value])]),
        Err(e) => {
            tracing::debug!(reason = %e, "LDAP ping answered empty");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::request::{ModOp, Modification};
    use crate::dsa::{Caller, ForestConfig};
    use crate::ldap::codec::ber::{ident, tlv, tlv_parts};
    use crate::ldap::netlogon::{ds_flag, Ping, PingError};
    use crate::model::filter::Filter;
    use std::sync::Arc;

    const SAMBA: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cldap-samba-4.22.json"
    ));
    /// The domain GUID and DS flags of the Samba DC that answered.
    const SAMBA_GUID: &str = "c93179c234bd744f91d28ae414d93089";
    const SAMBA_FLAGS: &str = "fd130000";

    /// A forest named as the Samba peer's (SAMBA.EXAMPLE.TEST, DC1) with alice, so the
    /// answers differ from Samba's only in the GUID and the flags.
    fn samba_like() -> Arc<Directory> {
        let dir = Directory::provision(&ForestConfig {
            root_domain: "samba.example.test".into(),
            seed: Some(5),
            ..ForestConfig::default()
        })
        .unwrap();
        let base = dir.forest.root().dn.to_string();
        let s = |v: &str| vec![v.as_bytes().to_vec()];
        dir.add(
            &Caller::system(),
            &format!("CN=alice,CN=Users,{base}"),
            vec![
                ("objectClass".into(), s("user")),
                ("sAMAccountName".into(), s("alice")),
                ("userAccountControl".into(), s("512")),
            ],
        )
        .unwrap();
        dir
    }

    fn ip() -> IpAddr {
        "127.0.0.10".parse().unwrap()
    }

    /// Every ping sent to Samba 4.22 gets the same bytes from adsim, but for the domain GUID,
    /// the flags (adsim is a 2016-level DC without NTP or ADWS: DS_8/9/10, no TIMESERV) and
    /// the attribute name's case (adsim echoes the request's `Netlogon`, Samba writes
    /// `netlogon`).
    #[test]
    fn answers_match_samba_4_22_but_for_guid_and_flags() {
        let dir = samba_like();
        let guid = hex::encode(dir.object_guid(&dir.forest.root().dn).unwrap().to_bytes_le());
        let flags = ds_flag::PDC
            | ds_flag::GC
            | ds_flag::LDAP
            | ds_flag::DS
            | ds_flag::KDC
            | ds_flag::CLOSEST
            | ds_flag::WRITABLE
            | ds_flag::FULL_SECRET_DOMAIN_6
            | ds_flag::DS_8
            | ds_flag::DS_9
            | ds_flag::DS_10;
        let doc: serde_json::Value = serde_json::from_str(SAMBA).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 8);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let request = hex::decode(case["request"].as_str().unwrap()).unwrap();
            let expected = case["reply"]
                .as_str()
                .unwrap()
                .replace(SAMBA_GUID, &guid)
                .replace(SAMBA_FLAGS, &hex::encode(flags.to_le_bytes()))
                .replace(&hex::encode("netlogon"), &hex::encode("Netlogon"));
            let got = answer(&dir, 0, ip(), &request).unwrap_or_else(|| panic!("{name}: no answer"));
            assert_eq!(hex::encode(got), expected, "{name}");
        }
    }

    fn eq(attr: &str, v: &[u8]) -> Filter {
        Filter::EqualityMatch(attr.into(), v.to_vec())
    }

    #[test]
    fn the_ping_filter_is_an_and_of_equalities() {
        let sid = crate::security::Sid::new(5, &[21, 1, 2, 3]);
        let guid = uuid::Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let p = Ping::from_filter(&Filter::And(vec![
            eq("dnsdomain", b"corp.example.test"),
            eq("HOST", b"WS1"),
            eq("User", b"WS1$"),
            eq("AAC", &0x80u32.to_le_bytes()),
            eq("NtVer", &6u32.to_le_bytes()),
            eq("DomainSid", &sid.to_bytes()),
            eq("DomainGuid", &guid.to_bytes_le()),
            eq("Unknown", b"x"),
        ]))
        .unwrap();
        assert_eq!(p.dns_domain.as_deref(), Some("corp.example.test"));
        assert_eq!(p.host.as_deref(), Some("WS1"));
        assert_eq!((p.aac, p.ntver), (Some(0x80), Some(6)));
        assert_eq!((p.domain_sid, p.domain_guid), (Some(sid), Some(guid)));
        // NtVer and AAC count only as 4 bytes.
        let short = Ping::from_filter(&Filter::And(vec![eq("NtVer", &[6])])).unwrap();
        assert_eq!(short.ntver, None);
        assert_eq!(
            Ping::from_filter(&Filter::Or(vec![eq("NtVer", &6u32.to_le_bytes())])),
            Err(PingError::Filter)
        );
        assert_eq!(
            Ping::from_filter(&Filter::And(vec![Filter::Present("NtVer".into())])),
            Err(PingError::Filter)
        );
    }

    fn ping(dir: &Directory, terms: Vec<Filter>) -> Result<Vec<u8>, PingError> {
        Ping::from_filter(&Filter::And(terms))
            .unwrap()
            .response(dir, 0, ip())
    }

    #[test]
    fn the_domain_is_named_by_dns_name_guid_or_sid() {
        let dir = samba_like();
        let v = 6u32.to_le_bytes();
        let guid = dir.object_guid(&dir.forest.root().dn).unwrap();
        let sid = dir.forest.root().sid.clone();
        assert!(
            ping(&dir, vec![eq("NtVer", &v)]).is_ok(),
            "no domain: the DC's own"
        );
        assert!(ping(&dir, vec![eq("DomainGuid", &guid.to_bytes_le()), eq("NtVer", &v)]).is_ok());
        assert!(ping(&dir, vec![eq("DomainSid", &sid.to_bytes()), eq("NtVer", &v)]).is_ok());
        // A wrong name is forgiven when the GUID is right (Samba looks the GUID up next).
        assert!(ping(
            &dir,
            vec![
                eq("DnsDomain", b"x.test"),
                eq("DomainGuid", &guid.to_bytes_le()),
                eq("NtVer", &v)
            ]
        )
        .is_ok());
        for wrong in [
            vec![eq("DnsDomain", b"other.test"), eq("NtVer", &v)],
            vec![eq("DomainGuid", &[7; 16]), eq("NtVer", &v)],
            vec![
                eq("DomainSid", &crate::security::Sid::new(5, &[21, 9]).to_bytes()),
                eq("NtVer", &v),
            ],
        ] {
            assert_eq!(ping(&dir, wrong), Err(PingError::NoSuchDomain));
        }
    }

    /// MS-ADTS 6.3.3.2: the opcode says whether User names an enabled account of the AAC kind.
    #[test]
    fn user_and_aac_choose_the_opcode() {
        let dir = samba_like();
        let v = 6u32.to_le_bytes();
        let op = |user: &[u8], aac: u32| {
            let r = ping(
                &dir,
                vec![eq("User", user), eq("AAC", &aac.to_le_bytes()), eq("NtVer", &v)],
            )
            .unwrap();
            u16::from_le_bytes([r[0], r[1]])
        };
        assert_eq!(op(b"alice", 0x10), 23, "ACB_NORMAL, a normal account");
        assert_eq!(op(b"ALICE", 0x10 | 0x80), 23, "any of the bits; names fold case");
        assert_eq!(op(b"alice", 0x80), 25, "not a workstation account");
        assert_eq!(op(b"DC1$", 0x100), 23, "ACB_SVRTRUST, the DC's account");
        assert_eq!(op(b"nobody", 0x10), 25);
        // A disabled account is unknown.
        let base = dir.forest.root().dn.to_string();
        dir.modify(
            &Caller::system(),
            &format!("CN=alice,CN=Users,{base}"),
            vec![Modification {
                op: ModOp::Replace,
                attr: "userAccountControl".into(),
                values: vec![b"514".to_vec()],
            }],
        )
        .unwrap();
        assert_eq!(op(b"alice", 0x10), 25);
    }

    fn search(base: &str, scope: u8, attrs: &[&str]) -> Vec<u8> {
        let attrs: Vec<Vec<u8>> = attrs
            .iter()
            .map(|a| tlv(ident::OCTET_STRING, a.as_bytes()))
            .collect();
        let req = tlv_parts(
            ident::application_constructed(3),
            &[
                tlv(ident::OCTET_STRING, base.as_bytes()),
                tlv(ident::ENUMERATED, &[scope]),
                tlv(ident::ENUMERATED, &[0]),
                tlv(ident::INTEGER, &[0]),
                tlv(ident::INTEGER, &[0]),
                tlv(ident::BOOLEAN, &[0]),
                Filter::Present("objectClass".into()).to_ber(),
                tlv_parts(ident::SEQUENCE, &attrs),
            ],
        );
        tlv_parts(ident::SEQUENCE, &[tlv(ident::INTEGER, &[9]), req])
    }

    #[test]
    fn the_root_dse_is_served_over_udp_and_other_datagrams_are_dropped() {
        let dir = samba_like();
        let reply = answer(
            &dir,
            0,
            ip(),
            &search("", 0, &["dnsHostName", "defaultNamingContext"]),
        )
        .unwrap();
        let text = String::from_utf8_lossy(&reply);
        assert!(text.contains("dc1.samba.example.test"), "{text}");
        assert!(text.contains("DC=samba,DC=example,DC=test"), "{text}");
        assert!(
            !text.contains("configurationNamingContext"),
            "only what was asked: {text}"
        );
        // A ping whose filter is not one gets the SearchResultDone alone.
        let done = answer(&dir, 0, ip(), &search("", 0, &["Netlogon"])).unwrap();
        assert_eq!(hex::encode(done), "300c02010965070a010004000400");
        // Not the rootDSE, not a base search, not a search, not one whole message: dropped.
        assert!(answer(&dir, 0, ip(), &search("DC=samba,DC=example,DC=test", 0, &[])).is_none());
        assert!(answer(&dir, 0, ip(), &search("", 2, &[])).is_none());
        let mut two = search("", 0, &[]);
        two.extend(search("", 0, &[]));
        assert!(answer(&dir, 0, ip(), &two).is_none());
        let whole = search("", 0, &[]);
        assert!(answer(&dir, 0, ip(), &whole[..whole.len() - 1]).is_none());
        assert!(answer(&dir, 0, ip(), &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        let unbind = tlv_parts(ident::SEQUENCE, &[tlv(ident::INTEGER, &[1]), tlv(0x42, &[])]);
        assert!(answer(&dir, 0, ip(), &unbind).is_none());
        let mut big = vec![0x30, 0x82, 0x10, 0x00];
        big.resize(4 + 0x1000, 0);
        assert!(answer(&dir, 0, ip(), &big).is_none(), "over MAX_DATAGRAM");
    }
}
