//! The kpasswd wire format (RFC 3244 §2): the 6-byte header (message length, protocol
//! version, AP-REQ/AP-REP length) in front of an AP-REQ and a KRB-PRIV, ChangePasswdData, the
//! result codes, and the Active Directory password policy blob of a soft error.

use crate::kdc::der::{DerError, DerReader, DerResult, DerWriter};
use crate::kdc::messages::PrincipalName;

/// Protocol versions (RFC 3244 §2): 1 is the RFC 1510-era change-password request whose
/// KRB-PRIV carries the bare new password; 0xff80 carries ChangePasswdData (set password, or a
/// change when no target is named). Replies are always version 1.
pub mod version {
    pub const CHANGE: u16 = 0x0001;
    pub const SET: u16 = 0xff80;
}

/// Result codes (RFC 3244 §2; MIT's krb5.h KRB5_KPASSWD_*), one table.
pub mod result {
    pub const SUCCESS: u16 = 0;
    pub const MALFORMED: u16 = 1;
    pub const HARDERROR: u16 = 2;
    pub const AUTHERROR: u16 = 3;
    pub const SOFTERROR: u16 = 4;
    pub const ACCESSDENIED: u16 = 5;
    pub const BAD_VERSION: u16 = 6;
    pub const INITIAL_FLAG_NEEDED: u16 = 7;
}

/// The header: message length (u16, the whole message), version (u16), AP-REQ length (u16).
pub const HEADER_LEN: usize = 6;

/// Why a request could not be taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than the header, or the length field does not match: not a kpasswd message.
    NotKpasswd,
    /// A version other than 1 and 0xff80.
    BadVersion(u16),
    /// The AP-REQ length runs past the end, or nothing follows it.
    Malformed,
}

/// A request split into its parts (RFC 3244 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub version: u16,
    pub ap_req: &'a [u8],
    pub krb_priv: &'a [u8],
}

pub fn parse_request(bytes: &[u8]) -> Result<Request<'_>, FrameError> {
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::NotKpasswd);
    }
    let u16_at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
    if usize::from(u16_at(0)) != bytes.len() {
        return Err(FrameError::NotKpasswd);
    }
    let version = u16_at(2);
    if version != version::CHANGE && version != version::SET {
        return Err(FrameError::BadVersion(version));
    }
    let ap_len = usize::from(u16_at(4));
    let rest = &bytes[HEADER_LEN..];
    if ap_len == 0 || ap_len >= rest.len() {
        return Err(FrameError::Malformed);
    }
    let (ap_req, krb_priv) = rest.split_at(ap_len);
    Ok(Request {
        version,
        ap_req,
        krb_priv,
    })
}

/// `header || ap || priv`, where `ap` is the AP-REP (or AP-REQ), empty for an error reply
/// whose `priv` is then a KRB-ERROR (RFC 3244 §2). `None` when it would not fit the u16
/// length field.
pub fn frame(version: u16, ap: &[u8], priv_or_error: &[u8]) -> Option<Vec<u8>> {
    let total = HEADER_LEN + ap.len() + priv_or_error.len();
    let total16 = u16::try_from(total).ok()?;
    let ap16 = u16::try_from(ap.len()).ok()?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&total16.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&ap16.to_be_bytes());
    out.extend_from_slice(ap);
    out.extend_from_slice(priv_or_error);
    Some(out)
}

/// A reply split into its parts: `ap_rep` empty means `rest` is a KRB-ERROR.
pub fn parse_reply(bytes: &[u8]) -> Option<(u16, &[u8], &[u8])> {
    if bytes.len() < HEADER_LEN || usize::from(u16::from_be_bytes([bytes[0], bytes[1]])) != bytes.len() {
        return None;
    }
    let version = u16::from_be_bytes([bytes[2], bytes[3]]);
    let ap_len = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
    let rest = &bytes[HEADER_LEN..];
    if ap_len > rest.len() {
        return None;
    }
    let (ap, rest) = rest.split_at(ap_len);
    Some((version, ap, rest))
}

/// ChangePasswdData (RFC 3244 §2): the new password and, for a set, the target principal.
#[derive(Clone, PartialEq, Eq)]
pub struct ChangePasswdData {
    pub new_password: Vec<u8>,
    pub targname: Option<PrincipalName>,
    pub targrealm: Option<String>,
}

impl std::fmt::Debug for ChangePasswdData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswdData")
            .field("new_password", &"<redacted>")
            .field("targname", &self.targname)
            .field("targrealm", &self.targrealm)
            .finish()
    }
}

impl ChangePasswdData {
    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let mut s = r.sequence()?;
        let new_password = s.context(0)?.octet_string()?;
        let targname = s
            .optional_context(1)?
            .map(|mut r| PrincipalName::decode(&mut r))
            .transpose()?;
        let targrealm = s
            .optional_context(2)?
            .map(|mut r| r.kerberos_string())
            .transpose()?;
        if !r.is_empty() {
            return Err(DerError::BadValue("trailing bytes after ChangePasswdData"));
        }
        Ok(ChangePasswdData {
            new_password,
            targname,
            targrealm,
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.sequence(|w| {
            w.context(0, |w| w.octet_string(&self.new_password));
            if let Some(n) = &self.targname {
                w.context(1, |w| n.encode(w));
            }
            if let Some(r) = &self.targrealm {
                w.context(2, |w| w.kerberos_string(r));
            }
        });
        w.finish()
    }
}

/// The result a reply's KRB-PRIV (or KRB-ERROR e-data) carries: the code, big-endian, then the
/// result string (RFC 3244 §2).
pub fn result_data(code: u16, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + text.len());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(text);
    out
}

/// Splits result data into the code and the result string.
pub fn parse_result(data: &[u8]) -> Option<(u16, &[u8])> {
    let (code, text) = data.split_at_checked(2)?;
    Some((u16::from_be_bytes([code[0], code[1]]), text))
}

/// The password policy AD puts in a KRB5_KPASSWD_SOFTERROR's result string: 30 bytes, every
/// field big-endian: two zero bytes (so the string reads as empty UTF-8), MinPasswordLength,
/// PasswordHistoryLength, PasswordProperties (u32 each), MaxPasswordAge and MinPasswordAge
/// (u64, positive 100 ns intervals): DOMAIN_PASSWORD_INFORMATION (MS-SAMR 2.2.3.5) as MIT's
/// `krb5_chpw_message` (src/lib/krb5/krb/chpw.c, `struct ad_policy_info`) and impacket's
/// `_decodePasswordPolicy` ("!HIIIQQ") read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdPolicyInfo {
    pub min_length: u32,
    pub history_length: u32,
    pub properties: u32,
    pub max_age: u64,
    pub min_age: u64,
}

pub const AD_POLICY_INFO_LEN: usize = 30;

impl AdPolicyInfo {
    pub fn to_bytes(&self) -> [u8; AD_POLICY_INFO_LEN] {
        let mut out = [0u8; AD_POLICY_INFO_LEN];
        out[2..6].copy_from_slice(&self.min_length.to_be_bytes());
        out[6..10].copy_from_slice(&self.history_length.to_be_bytes());
        out[10..14].copy_from_slice(&self.properties.to_be_bytes());
        out[14..22].copy_from_slice(&self.max_age.to_be_bytes());
        out[22..30].copy_from_slice(&self.min_age.to_be_bytes());
        out
    }

    pub fn from_bytes(b: &[u8]) -> Option<AdPolicyInfo> {
        if b.len() != AD_POLICY_INFO_LEN || b[..2] != [0, 0] {
            return None;
        }
        let u32_at = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Some(AdPolicyInfo {
            min_length: u32_at(2),
            history_length: u32_at(6),
            properties: u32_at(10),
            max_age: u64_at(14),
            min_age: u64_at(22),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kdc::messages::name_type;

    #[test]
    fn frames_and_parses_requests() {
        let msg = frame(version::SET, b"APREQ", b"PRIV").unwrap();
        assert_eq!(&msg[..6], &[0, 15, 0xff, 0x80, 0, 5]);
        let r = parse_request(&msg).unwrap();
        assert_eq!(
            (r.version, r.ap_req, r.krb_priv),
            (0xff80, &b"APREQ"[..], &b"PRIV"[..])
        );
        // Length field wrong or too short: not kpasswd at all.
        assert_eq!(parse_request(&msg[..10]), Err(FrameError::NotKpasswd));
        assert_eq!(parse_request(&[0, 3, 0]), Err(FrameError::NotKpasswd));
        // Unknown version.
        let mut v2 = msg.clone();
        v2[3] = 2;
        v2[2] = 0;
        assert_eq!(parse_request(&v2), Err(FrameError::BadVersion(2)));
        // AP-REQ length past the end, or nothing after it.
        let mut long = msg.clone();
        long[5] = 9;
        assert_eq!(parse_request(&long), Err(FrameError::Malformed));
        let none = frame(version::CHANGE, b"APREQ", b"").unwrap();
        assert_eq!(parse_request(&none), Err(FrameError::Malformed));
        let err = frame(1, b"", b"ERR").unwrap();
        let (v, ap, rest) = parse_reply(&err).unwrap();
        assert_eq!((v, ap, rest), (1, &b""[..], &b"ERR"[..]));
        assert!(frame(1, &vec![0u8; 70_000], b"").is_none());
    }

    #[test]
    fn change_passwd_data_round_trips() {
        let set = ChangePasswdData {
            new_password: b"New-Passw0rd".to_vec(),
            targname: Some(PrincipalName::new(name_type::NT_PRINCIPAL, &["bob"])),
            targrealm: Some("CORP.EXAMPLE.TEST".into()),
        };
        assert_eq!(ChangePasswdData::from_der(&set.to_der()).unwrap(), set);
        let change = ChangePasswdData {
            new_password: b"x".to_vec(),
            targname: None,
            targrealm: None,
        };
        assert_eq!(ChangePasswdData::from_der(&change.to_der()).unwrap(), change);
        assert!(ChangePasswdData::from_der(b"\x30\x03\x02\x01\x00").is_err());
        assert!(!format!("{set:?}").contains("Passw0rd"));
    }

    /// The blob of AD's default policy, as MIT and impacket decode it.
    #[test]
    fn ad_policy_blob_layout() {
        let p = AdPolicyInfo {
            min_length: 7,
            history_length: 24,
            properties: 1,
            max_age: 36_288_000_000_000,
            min_age: 864_000_000_000,
        };
        let b = p.to_bytes();
        assert_eq!(&b[..14], &[0, 0, 0, 0, 0, 7, 0, 0, 0, 24, 0, 0, 0, 1]);
        assert_eq!(&b[14..22], &36_288_000_000_000u64.to_be_bytes());
        assert_eq!(&b[22..], &864_000_000_000u64.to_be_bytes());
        assert_eq!(AdPolicyInfo::from_bytes(&b), Some(p));
        assert_eq!(parse_result(&result_data(4, &b)), Some((4, &b[..])));
    }
}
