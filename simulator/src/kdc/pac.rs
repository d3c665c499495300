//! The Privilege Attribute Certificate (MS-PAC): building, signing, decoding, verifying.
//!
//! The groups in a PAC are those of the moment the TGT was issued; service tickets copy the
//! TGT's PAC (RFC 4120 §3.3.3: the KDC copies the TGT's authorization data; MS-KILE 3.3.5.7),
//! which is why a host added to a group keeps its old groups until it gets a new TGT
//! (docs/notes/windows-behaviour.md row 18).

use thiserror::Error;

use super::crypto::{self, CryptoError, Etype};
use super::key_usage;
use super::ndr::{NdrError, NdrReader, NdrWriter};
use crate::clock::NtTime;
use crate::security::Sid;

/// PAC_INFO_BUFFER ulType values (MS-PAC 2.4).
pub mod buffer_type {
    pub const LOGON_INFO: u32 = 1;
    pub const SERVER_CHECKSUM: u32 = 6;
    pub const PRIVSVR_CHECKSUM: u32 = 7;
    pub const CLIENT_INFO: u32 = 10;
    pub const UPN_DNS_INFO: u32 = 12;
    pub const ATTRIBUTES_INFO: u32 = 17;
    pub const REQUESTOR: u32 = 18;
}

/// SE_GROUP_MANDATORY | SE_GROUP_ENABLED_BY_DEFAULT | SE_GROUP_ENABLED (MS-PAC 2.2.1).
pub const SE_GROUP_DEFAULT: u32 = 0x7;

/// KERB_VALIDATION_INFO UserFlags (MS-PAC 2.5, bit D): ExtraSids is populated.
pub const LOGON_EXTRA_SIDS: u32 = 0x20;

/// FILETIME "never" (MS-PAC 2.5: LogoffTime/KickOffTime with no expiry).
pub const NEVER: u64 = 0x7fff_ffff_ffff_ffff;

/// "Authentication authority asserted identity" (MS-DTYP 2.4.2.4), which Windows 2012+ KDCs
/// add to the ExtraSids of tickets obtained with a password or key. Tag I: seen in
/// `whoami /groups` on Windows Server 2012+ domains, not traced to a spec section.
pub const AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY: &str = "S-1-18-1";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PacError {
    #[error("PAC malformed: {0}")]
    Malformed(&'static str),
    #[error("PAC NDR: {0}")]
    Ndr(#[from] NdrError),
    #[error("PAC signature: {0}")]
    Crypto(#[from] CryptoError),
    #[error("PAC signature does not verify")]
    BadSignature,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMembership {
    pub relative_id: u32,
    pub attributes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidAndAttributes {
    pub sid: Sid,
    pub attributes: u32,
}

/// The KERB_VALIDATION_INFO fields adsim fills (MS-PAC 2.5). Times are raw FILETIMEs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogonInfo {
    pub logon_time: u64,
    pub logoff_time: u64,
    pub kick_off_time: u64,
    pub password_last_set: u64,
    pub password_can_change: u64,
    pub password_must_change: u64,
    pub effective_name: String,
    pub full_name: String,
    pub logon_script: String,
    pub profile_path: String,
    pub home_directory: String,
    pub home_directory_drive: String,
    pub logon_count: u16,
    pub bad_password_count: u16,
    pub user_id: u32,
    pub primary_group_id: u32,
    pub group_ids: Vec<GroupMembership>,
    pub user_flags: u32,
    pub logon_server: String,
    pub logon_domain_name: String,
    pub logon_domain_id: Sid,
    /// USER_* account codes (MS-SAMR 2.2.1.12), not the LDAP UF_* bits.
    pub user_account_control: u32,
    pub extra_sids: Vec<SidAndAttributes>,
}

impl LogonInfo {
    /// The user's SID.
    pub fn user_sid(&self) -> Sid {
        self.logon_domain_id.with_rid(self.user_id)
    }

    /// Every group SID the PAC asserts: domain groups (domain SID + RID), then ExtraSids.
    pub fn group_sids(&self) -> Vec<Sid> {
        self.group_ids
            .iter()
            .map(|g| self.logon_domain_id.with_rid(g.relative_id))
            .chain(self.extra_sids.iter().map(|s| s.sid.clone()))
            .collect()
    }

    pub fn to_ndr(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.pointer(true); // top-level pointer to the structure
        for t in [
            self.logon_time,
            self.logoff_time,
            self.kick_off_time,
            self.password_last_set,
            self.password_can_change,
            self.password_must_change,
        ] {
            w.filetime(t);
        }
        let leading_strings = [
            &self.effective_name,
            &self.full_name,
            &self.logon_script,
            &self.profile_path,
            &self.home_directory,
            &self.home_directory_drive,
        ];
        for s in leading_strings {
            w.unicode_string_header(s);
        }
        w.u16(self.logon_count);
        w.u16(self.bad_password_count);
        w.u32(self.user_id);
        w.u32(self.primary_group_id);
        w.u32(self.group_ids.len() as u32);
        w.pointer(!self.group_ids.is_empty());
        w.u32(self.user_flags);
        w.bytes(&[0u8; 16]); // UserSessionKey: unused by Kerberos (MS-PAC 2.5)
        w.unicode_string_header(&self.logon_server);
        w.unicode_string_header(&self.logon_domain_name);
        w.pointer(true); // LogonDomainId
        w.u32(0); // Reserved1[0]
        w.u32(0); // Reserved1[1]
        w.u32(self.user_account_control);
        w.u32(0); // SubAuthStatus
        w.filetime(0); // LastSuccessfulILogon
        w.filetime(0); // LastFailedILogon
        w.u32(0); // FailedILogonCount
        w.u32(0); // Reserved3
        w.u32(self.extra_sids.len() as u32);
        w.pointer(!self.extra_sids.is_empty());
        w.pointer(false); // ResourceGroupDomainSid
        w.u32(0); // ResourceGroupCount
        w.pointer(false); // ResourceGroupIds

        // Deferred pointees, in the order their pointers appear.
        for s in leading_strings {
            w.unicode_string_body(s);
        }
        if !self.group_ids.is_empty() {
            w.u32(self.group_ids.len() as u32);
            for g in &self.group_ids {
                w.u32(g.relative_id);
                w.u32(g.attributes);
            }
        }
        w.unicode_string_body(&self.logon_server);
        w.unicode_string_body(&self.logon_domain_name);
        w.sid(&self.logon_domain_id);
        if !self.extra_sids.is_empty() {
            w.u32(self.extra_sids.len() as u32);
            for s in &self.extra_sids {
                w.pointer(true);
                w.u32(s.attributes);
            }
            for s in &self.extra_sids {
                w.sid(&s.sid);
            }
        }
        w.finish_serialized()
    }

    pub fn from_ndr(bytes: &[u8]) -> Result<LogonInfo, PacError> {
        let mut r = NdrReader::from_serialized(bytes)?;
        if !r.pointer()? {
            return Err(PacError::Malformed("null KERB_VALIDATION_INFO"));
        }
        let mut times = [0u64; 6];
        for t in &mut times {
            *t = r.filetime()?;
        }
        let mut string_ptrs = Vec::new();
        for _ in 0..6 {
            string_ptrs.push(r.unicode_string_header()?.1);
        }
        let logon_count = r.u16()?;
        let bad_password_count = r.u16()?;
        let user_id = r.u32()?;
        let primary_group_id = r.u32()?;
        let group_count = r.u32()?;
        let groups_ptr = r.pointer()?;
        let user_flags = r.u32()?;
        r.bytes(16)?;
        let logon_server_ptr = r.unicode_string_header()?.1;
        let logon_domain_name_ptr = r.unicode_string_header()?.1;
        let domain_id_ptr = r.pointer()?;
        r.u32()?;
        r.u32()?;
        let user_account_control = r.u32()?;
        r.u32()?;
        r.filetime()?;
        r.filetime()?;
        r.u32()?;
        r.u32()?;
        let sid_count = r.u32()?;
        let extra_sids_ptr = r.pointer()?;
        let resource_domain_ptr = r.pointer()?;
        let resource_count = r.u32()?;
        let resource_ptr = r.pointer()?;

        let mut strings = Vec::new();
        for present in string_ptrs {
            strings.push(if present {
                r.unicode_string_body()?
            } else {
                String::new()
            });
        }
        let mut group_ids = Vec::new();
        if groups_ptr {
            let n = r.array_count(group_count, 8)?;
            for _ in 0..n {
                group_ids.push(GroupMembership {
                    relative_id: r.u32()?,
                    attributes: r.u32()?,
                });
            }
        }
        let logon_server = if logon_server_ptr {
            r.unicode_string_body()?
        } else {
            String::new()
        };
        let logon_domain_name = if logon_domain_name_ptr {
            r.unicode_string_body()?
        } else {
            String::new()
        };
        if !domain_id_ptr {
            return Err(PacError::Malformed("null LogonDomainId"));
        }
        let logon_domain_id = r.sid()?;
        let mut extra_sids = Vec::new();
        if extra_sids_ptr {
            let n = r.array_count(sid_count, 8)?;
            let mut heads = Vec::with_capacity(n);
            for _ in 0..n {
                heads.push((r.pointer()?, r.u32()?));
            }
            for (present, attributes) in heads {
                if present {
                    extra_sids.push(SidAndAttributes {
                        sid: r.sid()?,
                        attributes,
                    });
                }
            }
        }
        // Resource groups (MS-PAC 2.5, compressed domain-local groups) are never issued by this
        // KDC; a PAC from elsewhere carrying them is read past, not misread.
        if resource_domain_ptr {
            r.sid()?;
        }
        if resource_ptr {
            let n = r.array_count(resource_count, 8)?;
            r.bytes(n * 8)?;
        }
        let mut strings = strings.into_iter();
        let mut next = || strings.next().unwrap_or_default();
        Ok(LogonInfo {
            logon_time: times[0],
            logoff_time: times[1],
            kick_off_time: times[2],
            password_last_set: times[3],
            password_can_change: times[4],
            password_must_change: times[5],
            effective_name: next(),
            full_name: next(),
            logon_script: next(),
            profile_path: next(),
            home_directory: next(),
            home_directory_drive: next(),
            logon_count,
            bad_password_count,
            user_id,
            primary_group_id,
            group_ids,
            user_flags,
            logon_server,
            logon_domain_name,
            logon_domain_id,
            user_account_control,
            extra_sids,
        })
    }
}

/// PAC_CLIENT_INFO (MS-PAC 2.7): ClientId is the ticket's authtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub client_id: u64,
    pub name: String,
}

impl ClientInfo {
    pub fn to_bytes(&self) -> Vec<u8> {
        let name = utf16le(&self.name);
        let mut out = Vec::with_capacity(10 + name.len());
        out.extend_from_slice(&self.client_id.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&name);
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<ClientInfo, PacError> {
        let bad = PacError::Malformed("PAC_CLIENT_INFO");
        let client_id = u64::from_le_bytes(
            b.get(..8)
                .ok_or(bad.clone())?
                .try_into()
                .map_err(|_| bad.clone())?,
        );
        let len = usize::from(u16::from_le_bytes([
            *b.get(8).ok_or(bad.clone())?,
            *b.get(9).ok_or(bad.clone())?,
        ]));
        let name = from_utf16le(b.get(10..10 + len).ok_or(bad.clone())?).ok_or(bad)?;
        Ok(ClientInfo { client_id, name })
    }
}

/// UPN_DNS_INFO (MS-PAC 2.10), in the extended form (S flag) with SAM name and SID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpnDnsInfo {
    pub upn: String,
    pub dns_domain_name: String,
    /// U flag: the account has no userPrincipalName; `upn` was constructed as name@domain.
    pub upn_constructed: bool,
    pub sam_name: Option<String>,
    pub sid: Option<Sid>,
}

const UPN_FLAG_CONSTRUCTED: u32 = 0x1;
const UPN_FLAG_EXTENDED: u32 = 0x2;

impl UpnDnsInfo {
    pub fn to_bytes(&self) -> Vec<u8> {
        let upn = utf16le(&self.upn);
        let dns = utf16le(&self.dns_domain_name);
        let sam = self.sam_name.as_deref().map(utf16le);
        let sid = self.sid.as_ref().map(Sid::to_bytes);
        let extended = sam.is_some() && sid.is_some();
        let header_len = if extended { 20 } else { 12 };
        // Each string starts 8-aligned, as Windows lays them out.
        let mut body = Vec::new();
        let place = |data: &[u8], body: &mut Vec<u8>| -> u16 {
            while (header_len + body.len()) % 8 != 0 {
                body.push(0);
            }
            let off = (header_len + body.len()) as u16;
            body.extend_from_slice(data);
            off
        };
        let upn_off = place(&upn, &mut body);
        let dns_off = place(&dns, &mut body);
        let mut flags = if self.upn_constructed {
            UPN_FLAG_CONSTRUCTED
        } else {
            0
        };
        let mut out = Vec::new();
        let mut ext = Vec::new();
        if let (true, Some(sam), Some(sid)) = (extended, &sam, &sid) {
            flags |= UPN_FLAG_EXTENDED;
            let sam_off = place(sam, &mut body);
            let sid_off = place(sid, &mut body);
            ext.extend_from_slice(&(sam.len() as u16).to_le_bytes());
            ext.extend_from_slice(&sam_off.to_le_bytes());
            ext.extend_from_slice(&(sid.len() as u16).to_le_bytes());
            ext.extend_from_slice(&sid_off.to_le_bytes());
        }
        out.extend_from_slice(&(upn.len() as u16).to_le_bytes());
        out.extend_from_slice(&upn_off.to_le_bytes());
        out.extend_from_slice(&(dns.len() as u16).to_le_bytes());
        out.extend_from_slice(&dns_off.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&ext);
        out.extend_from_slice(&body);
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<UpnDnsInfo, PacError> {
        let bad = || PacError::Malformed("UPN_DNS_INFO");
        let u16_at = |i: usize| -> Result<usize, PacError> {
            Ok(usize::from(u16::from_le_bytes([
                *b.get(i).ok_or_else(bad)?,
                *b.get(i + 1).ok_or_else(bad)?,
            ])))
        };
        let slice = |len: usize, off: usize| b.get(off..off + len).ok_or_else(bad);
        let flags = u32::from_le_bytes(b.get(8..12).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
        let upn = from_utf16le(slice(u16_at(0)?, u16_at(2)?)?).ok_or_else(bad)?;
        let dns_domain_name = from_utf16le(slice(u16_at(4)?, u16_at(6)?)?).ok_or_else(bad)?;
        let (sam_name, sid) = if flags & UPN_FLAG_EXTENDED != 0 {
            let sam = from_utf16le(slice(u16_at(12)?, u16_at(14)?)?).ok_or_else(bad)?;
            let sid = Sid::from_bytes(slice(u16_at(16)?, u16_at(18)?)?).map_err(|_| bad())?;
            (Some(sam), Some(sid))
        } else {
            (None, None)
        };
        Ok(UpnDnsInfo {
            upn,
            dns_domain_name,
            upn_constructed: flags & UPN_FLAG_CONSTRUCTED != 0,
            sam_name,
            sid,
        })
    }
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn from_utf16le(b: &[u8]) -> Option<String> {
    if b.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

/// Everything the KDC puts in a PAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacContents {
    pub logon_info: LogonInfo,
    pub client_info: ClientInfo,
    pub upn_dns_info: UpnDnsInfo,
    /// PAC_ATTRIBUTES_INFO flags (MS-PAC 2.14): 0x1 PAC_WAS_REQUESTED, 0x2 GIVEN_IMPLICITLY.
    pub attributes: Option<u32>,
    /// PAC_REQUESTOR (MS-PAC 2.15): the SID of the client the TGT was issued to.
    pub requestor: Option<Sid>,
}

/// A key that signs a PAC: its etype picks the checksum type (MS-PAC 2.8.1).
#[derive(Clone, Copy)]
pub struct SigningKey<'a> {
    pub etype: Etype,
    pub key: &'a [u8],
}

impl std::fmt::Debug for SigningKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({:?}, <redacted>)", self.etype)
    }
}

fn signature_len(cksumtype: i32) -> usize {
    if cksumtype == crypto::CKSUM_HMAC_MD5 {
        16
    } else {
        12
    }
}

/// Encodes the PAC and signs it: the server checksum over the whole PAC with the key of the
/// ticket's service, then the KDC checksum over the server signature with the krbtgt key
/// (MS-PAC 2.8.1, 2.8.2).
pub fn build_signed_pac(
    contents: &PacContents,
    server: SigningKey,
    kdc: SigningKey,
) -> Result<Vec<u8>, PacError> {
    let mut buffers: Vec<(u32, Vec<u8>)> = vec![
        (buffer_type::LOGON_INFO, contents.logon_info.to_ndr()),
        (buffer_type::CLIENT_INFO, contents.client_info.to_bytes()),
        (buffer_type::UPN_DNS_INFO, contents.upn_dns_info.to_bytes()),
    ];
    if let Some(flags) = contents.attributes {
        let mut b = 2u32.to_le_bytes().to_vec(); // FlagsLength in bits
        b.extend_from_slice(&flags.to_le_bytes());
        buffers.push((buffer_type::ATTRIBUTES_INFO, b));
    }
    if let Some(sid) = &contents.requestor {
        buffers.push((buffer_type::REQUESTOR, sid.to_bytes()));
    }
    let mut pac = Pac { buffers };
    pac.sign(server, kdc)?;
    Ok(pac.to_bytes())
}

/// A PAC as a list of typed buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pac {
    pub buffers: Vec<(u32, Vec<u8>)>,
}

impl Pac {
    pub fn from_bytes(b: &[u8]) -> Result<Pac, PacError> {
        let bad = PacError::Malformed("PACTYPE");
        let word = |i: usize| -> Result<u32, PacError> {
            Ok(u32::from_le_bytes(
                b.get(i..i + 4)
                    .ok_or(bad.clone())?
                    .try_into()
                    .map_err(|_| bad.clone())?,
            ))
        };
        let count = word(0)? as usize;
        if word(4)? != 0 || count > 64 {
            return Err(bad);
        }
        let mut buffers = Vec::with_capacity(count);
        for i in 0..count {
            let at = 8 + i * 16;
            let ty = word(at)?;
            let size = word(at + 4)? as usize;
            let offset = u64::from(word(at + 8)?) | u64::from(word(at + 12)?) << 32;
            let offset = usize::try_from(offset).map_err(|_| bad.clone())?;
            let end = offset.checked_add(size).ok_or(bad.clone())?;
            buffers.push((ty, b.get(offset..end).ok_or(bad.clone())?.to_vec()));
        }
        Ok(Pac { buffers })
    }

    /// PACTYPE followed by the buffers, each 8-byte aligned (MS-PAC 2.3, 2.4).
    pub fn to_bytes(&self) -> Vec<u8> {
        let header_len = 8 + 16 * self.buffers.len();
        let mut offsets = Vec::with_capacity(self.buffers.len());
        let mut at = header_len.next_multiple_of(8);
        for (_, data) in &self.buffers {
            offsets.push(at);
            at = (at + data.len()).next_multiple_of(8);
        }
        let mut out = Vec::with_capacity(at);
        out.extend_from_slice(&(self.buffers.len() as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for ((ty, data), off) in self.buffers.iter().zip(&offsets) {
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(*off as u64).to_le_bytes());
        }
        for ((_, data), off) in self.buffers.iter().zip(&offsets) {
            out.resize(*off, 0);
            out.extend_from_slice(data);
        }
        out.resize(at, 0);
        out
    }

    pub fn buffer(&self, ty: u32) -> Option<&[u8]> {
        self.buffers
            .iter()
            .find(|(t, _)| *t == ty)
            .map(|(_, d)| d.as_slice())
    }

    pub fn logon_info(&self) -> Result<LogonInfo, PacError> {
        LogonInfo::from_ndr(
            self.buffer(buffer_type::LOGON_INFO)
                .ok_or(PacError::Malformed("no LOGON_INFO"))?,
        )
    }

    pub fn client_info(&self) -> Result<ClientInfo, PacError> {
        ClientInfo::from_bytes(
            self.buffer(buffer_type::CLIENT_INFO)
                .ok_or(PacError::Malformed("no CLIENT_INFO"))?,
        )
    }

    pub fn upn_dns_info(&self) -> Result<UpnDnsInfo, PacError> {
        UpnDnsInfo::from_bytes(
            self.buffer(buffer_type::UPN_DNS_INFO)
                .ok_or(PacError::Malformed("no UPN_DNS_INFO"))?,
        )
    }

    pub fn requestor(&self) -> Option<Sid> {
        self.buffer(buffer_type::REQUESTOR)
            .and_then(|b| Sid::from_bytes(b).ok())
    }

    /// Replaces (or adds) both signature buffers and computes them.
    pub fn sign(&mut self, server: SigningKey, kdc: SigningKey) -> Result<(), PacError> {
        self.buffers
            .retain(|(t, _)| *t != buffer_type::SERVER_CHECKSUM && *t != buffer_type::PRIVSVR_CHECKSUM);
        let server_type = server.etype.checksum_type();
        let kdc_type = kdc.etype.checksum_type();
        self.buffers
            .push((buffer_type::SERVER_CHECKSUM, zeroed_signature(server_type)));
        self.buffers
            .push((buffer_type::PRIVSVR_CHECKSUM, zeroed_signature(kdc_type)));
        let server_sig = crypto::checksum(
            server_type,
            server.etype,
            server.key,
            key_usage::PAC_SIGNATURE,
            &self.to_bytes(),
        )?;
        let kdc_sig = crypto::checksum(
            kdc_type,
            kdc.etype,
            kdc.key,
            key_usage::PAC_SIGNATURE,
            &server_sig,
        )?;
        self.set_signature(buffer_type::SERVER_CHECKSUM, &server_sig);
        self.set_signature(buffer_type::PRIVSVR_CHECKSUM, &kdc_sig);
        Ok(())
    }

    fn set_signature(&mut self, ty: u32, sig: &[u8]) {
        if let Some((_, data)) = self.buffers.iter_mut().find(|(t, _)| *t == ty) {
            data.truncate(4);
            data.extend_from_slice(sig);
        }
    }

    /// A PAC signature must use the keyed checksum of the signing key's type (MS-PAC 2.8.1);
    /// anything else (an unkeyed checksum, say) is refused.
    fn check_signature(key: SigningKey, cksumtype: i32, data: &[u8], sig: &[u8]) -> Result<(), PacError> {
        if cksumtype != key.etype.checksum_type() {
            return Err(PacError::BadSignature);
        }
        let ok = crypto::verify_checksum(cksumtype, key.etype, key.key, key_usage::PAC_SIGNATURE, data, sig)?;
        if ok {
            Ok(())
        } else {
            Err(PacError::BadSignature)
        }
    }

    fn signature(&self, ty: u32) -> Result<(i32, Vec<u8>), PacError> {
        let data = self
            .buffer(ty)
            .ok_or(PacError::Malformed("signature buffer missing"))?;
        let head: [u8; 4] = data
            .get(..4)
            .and_then(|h| h.try_into().ok())
            .ok_or(PacError::Malformed("signature"))?;
        let cksumtype = i32::from_le_bytes(head);
        let sig = data
            .get(4..4 + signature_len(cksumtype))
            .ok_or(PacError::Malformed("signature"))?;
        Ok((cksumtype, sig.to_vec()))
    }

    /// Checks the server signature with the key of the ticket's service.
    pub fn verify_server_signature(&self, server: SigningKey) -> Result<(), PacError> {
        let (cksumtype, sig) = self.signature(buffer_type::SERVER_CHECKSUM)?;
        let mut zeroed = self.clone();
        zeroed.set_signature(buffer_type::SERVER_CHECKSUM, &vec![0; sig.len()]);
        let (_, kdc_sig) = self.signature(buffer_type::PRIVSVR_CHECKSUM)?;
        zeroed.set_signature(buffer_type::PRIVSVR_CHECKSUM, &vec![0; kdc_sig.len()]);
        Self::check_signature(server, cksumtype, &zeroed.to_bytes(), &sig)
    }

    /// Checks the KDC signature (over the server signature) with the krbtgt key.
    pub fn verify_kdc_signature(&self, kdc: SigningKey) -> Result<(), PacError> {
        let (_, server_sig) = self.signature(buffer_type::SERVER_CHECKSUM)?;
        let (cksumtype, sig) = self.signature(buffer_type::PRIVSVR_CHECKSUM)?;
        Self::check_signature(kdc, cksumtype, &server_sig, &sig)
    }
}

fn zeroed_signature(cksumtype: i32) -> Vec<u8> {
    let mut b = cksumtype.to_le_bytes().to_vec();
    b.resize(4 + signature_len(cksumtype), 0);
    b
}

/// userAccountControl (UF_*, MS-ADTS 2.2.16) to the USER_* codes the PAC carries, per the
/// MS-SAMR 3.1.5.14.2 mapping table.
pub fn user_account_control_to_pac(uf: u32) -> u32 {
    const MAP: &[(u32, u32)] = &[
        (0x0000_0002, 0x0000_0001), // ACCOUNTDISABLE
        (0x0000_0008, 0x0000_0002), // HOMEDIR_REQUIRED
        (0x0000_0020, 0x0000_0004), // PASSWD_NOTREQD
        (0x0000_0100, 0x0000_0008), // TEMP_DUPLICATE_ACCOUNT
        (0x0000_0200, 0x0000_0010), // NORMAL_ACCOUNT
        (0x0002_0000, 0x0000_0020), // MNS_LOGON_ACCOUNT
        (0x0000_0800, 0x0000_0040), // INTERDOMAIN_TRUST_ACCOUNT
        (0x0000_1000, 0x0000_0080), // WORKSTATION_TRUST_ACCOUNT
        (0x0000_2000, 0x0000_0100), // SERVER_TRUST_ACCOUNT
        (0x0001_0000, 0x0000_0200), // DONT_EXPIRE_PASSWD
        (0x0000_0010, 0x0000_0400), // LOCKOUT
        (0x0000_0080, 0x0000_0800), // ENCRYPTED_TEXT_PASSWORD_ALLOWED
        (0x0004_0000, 0x0000_1000), // SMARTCARD_REQUIRED
        (0x0008_0000, 0x0000_2000), // TRUSTED_FOR_DELEGATION
        (0x0010_0000, 0x0000_4000), // NOT_DELEGATED
        (0x0020_0000, 0x0000_8000), // USE_DES_KEY_ONLY
        (0x0040_0000, 0x0001_0000), // DONT_REQUIRE_PREAUTH
        (0x0080_0000, 0x0002_0000), // PASSWORD_EXPIRED
        (0x0100_0000, 0x0004_0000), // TRUSTED_TO_AUTHENTICATE_FOR_DELEGATION
        (0x0200_0000, 0x0008_0000), // NO_AUTH_DATA_REQUIRED
        (0x0400_0000, 0x0010_0000), // PARTIAL_SECRETS_ACCOUNT
        (0x0800_0000, 0x0020_0000), // USE_AES_KEYS
    ];
    MAP.iter()
        .filter(|(from, _)| uf & from != 0)
        .fold(0, |acc, (_, to)| acc | to)
}

/// A FILETIME from an NtTime (they share the 1601 epoch and 100 ns unit).
pub fn filetime(t: NtTime) -> u64 {
    t.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PacContents {
        let domain: Sid = "S-1-5-21-1004336348-1177238915-682003330".parse().unwrap();
        let user_sid = domain.with_rid(1105);
        PacContents {
            logon_info: LogonInfo {
                logon_time: 133_000_000_000_000_000,
                logoff_time: NEVER,
                kick_off_time: NEVER,
                password_last_set: 132_000_000_000_000_000,
                password_can_change: 132_000_864_000_000_000,
                password_must_change: NEVER,
                effective_name: "j€rg".into(),
                full_name: "Jörg Example".into(),
                logon_script: String::new(),
                profile_path: String::new(),
                home_directory: String::new(),
                home_directory_drive: String::new(),
                logon_count: 3,
                bad_password_count: 0,
                user_id: 1105,
                primary_group_id: 513,
                group_ids: vec![
                    GroupMembership {
                        relative_id: 513,
                        attributes: 7,
                    },
                    GroupMembership {
                        relative_id: 1110,
                        attributes: 7,
                    },
                ],
                user_flags: LOGON_EXTRA_SIDS,
                logon_server: "DC1".into(),
                logon_domain_name: "CORP".into(),
                logon_domain_id: domain,
                user_account_control: user_account_control_to_pac(0x200),
                extra_sids: vec![SidAndAttributes {
                    sid: "S-1-18-1".parse().unwrap(),
                    attributes: 7,
                }],
            },
            client_info: ClientInfo {
                client_id: 133_000_000_000_000_000,
                name: "j€rg".into(),
            },
            upn_dns_info: UpnDnsInfo {
                upn: "j€rg@corp.example.test".into(),
                dns_domain_name: "CORP.EXAMPLE.TEST".into(),
                upn_constructed: true,
                sam_name: Some("j€rg".into()),
                sid: Some(user_sid.clone()),
            },
            attributes: Some(1),
            requestor: Some(user_sid),
        }
    }

    #[test]
    fn signed_pac_round_trips_and_verifies() {
        let contents = sample();
        let server_key = Etype::Aes256.random_key();
        let krbtgt_key = Etype::Rc4Hmac.random_key();
        let server = SigningKey {
            etype: Etype::Aes256,
            key: &server_key,
        };
        let kdc = SigningKey {
            etype: Etype::Rc4Hmac,
            key: &krbtgt_key,
        };
        let bytes = build_signed_pac(&contents, server, kdc).unwrap();
        let pac = Pac::from_bytes(&bytes).unwrap();
        assert_eq!(pac.to_bytes(), bytes);
        assert_eq!(pac.logon_info().unwrap(), contents.logon_info);
        assert_eq!(pac.client_info().unwrap(), contents.client_info);
        assert_eq!(pac.upn_dns_info().unwrap(), contents.upn_dns_info);
        assert_eq!(pac.requestor(), contents.requestor);
        pac.verify_server_signature(server).unwrap();
        pac.verify_kdc_signature(kdc).unwrap();
        let groups = pac.logon_info().unwrap().group_sids();
        assert!(groups.contains(&"S-1-5-21-1004336348-1177238915-682003330-1110".parse().unwrap()));
        assert!(groups.contains(&"S-1-18-1".parse().unwrap()));

        let other = Etype::Aes256.random_key();
        assert_eq!(
            pac.verify_server_signature(SigningKey {
                etype: Etype::Aes256,
                key: &other
            }),
            Err(PacError::BadSignature)
        );
        // An unkeyed RSA-MD5 "signature" is refused even when it matches.
        let mut unkeyed = pac.clone();
        let mut zeroed = pac.clone();
        zeroed.set_signature(buffer_type::SERVER_CHECKSUM, &[0; 12]);
        zeroed.set_signature(buffer_type::PRIVSVR_CHECKSUM, &[0; 16]);
        let digest = {
            use md5::Digest;
            md5::Md5::digest(zeroed.to_bytes()).to_vec()
        };
        if let Some((_, data)) = unkeyed
            .buffers
            .iter_mut()
            .find(|(t, _)| *t == buffer_type::SERVER_CHECKSUM)
        {
            *data = 7i32.to_le_bytes().to_vec();
            data.extend_from_slice(&digest[..12]);
        }
        assert!(unkeyed.verify_server_signature(server).is_err());
        let mut tampered = pac.clone();
        tampered.buffers[0].1[40] ^= 1;
        assert_eq!(
            tampered.verify_server_signature(server),
            Err(PacError::BadSignature)
        );
    }

    #[test]
    fn logon_info_layout_matches_ms_pac() {
        let ndr = sample().logon_info.to_ndr();
        // Common header, private header, then the top-level referent id.
        assert_eq!(&ndr[..8], &[0x01, 0x10, 0x08, 0x00, 0xcc, 0xcc, 0xcc, 0xcc]);
        assert_eq!(
            u32::from_le_bytes(ndr[8..12].try_into().unwrap()) as usize,
            ndr.len() - 16
        );
        assert_eq!(&ndr[16..20], &0x0002_0000u32.to_le_bytes());
        // UserId sits after 6 FILETIMEs, 6 RPC_UNICODE_STRINGs and two USHORTs.
        let user_id_at = 16 + 4 + 6 * 8 + 6 * 8 + 4;
        assert_eq!(
            u32::from_le_bytes(ndr[user_id_at..user_id_at + 4].try_into().unwrap()),
            1105
        );
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..200 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = Pac::from_bytes(&junk);
            let _ = LogonInfo::from_ndr(&junk);
            let _ = UpnDnsInfo::from_bytes(&junk);
            let _ = ClientInfo::from_bytes(&junk);
        }
        let bytes = sample().logon_info.to_ndr();
        for cut in 0..bytes.len() {
            let _ = LogonInfo::from_ndr(&bytes[..cut]);
        }
    }

    #[test]
    fn uac_mapping() {
        assert_eq!(user_account_control_to_pac(0x200), 0x10);
        assert_eq!(user_account_control_to_pac(0x1000 | 0x2), 0x80 | 0x1);
        assert_eq!(user_account_control_to_pac(0x2000 | 0x80000), 0x100 | 0x2000);
    }
}
