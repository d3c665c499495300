//! ACEs and ACLs (MS-DTYP 2.4.4 and 2.4.5) with their binary form.
//!
//! The six ACE types AD uses are decoded into [`StandardAce`]; every other type is kept as an
//! [`OpaqueAce`] (its raw body) so that decoding and re-encoding an ACL is lossless.

use std::fmt;

use uuid::Uuid;

use super::binary::{size_u16, BinaryError, Reader};
use super::guid;
use super::sid::Sid;

/// ACL_REVISION (MS-DTYP 2.4.5): ACLs holding only non-object ACEs.
pub const ACL_REVISION: u8 = 2;
/// ACL_REVISION_DS (MS-DTYP 2.4.5): required once an ACL holds object ACEs.
pub const ACL_REVISION_DS: u8 = 4;

const ACL_HEADER_LEN: usize = 8;
const ACE_HEADER_LEN: usize = 4;

/// ACE_OBJECT_TYPE_PRESENT / ACE_INHERITED_OBJECT_TYPE_PRESENT (MS-DTYP 2.4.4.3).
const OBJECT_TYPE_PRESENT: u32 = 0x1;
const INHERITED_OBJECT_TYPE_PRESENT: u32 = 0x2;

/// The ACE types this crate understands (MS-DTYP 2.4.4.1 AceType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AceType {
    AccessAllowed,
    AccessDenied,
    SystemAudit,
    AccessAllowedObject,
    AccessDeniedObject,
    SystemAuditObject,
}

impl AceType {
    pub const ALL: [AceType; 6] = [
        AceType::AccessAllowed,
        AceType::AccessDenied,
        AceType::SystemAudit,
        AceType::AccessAllowedObject,
        AceType::AccessDeniedObject,
        AceType::SystemAuditObject,
    ];

    pub fn code(self) -> u8 {
        match self {
            AceType::AccessAllowed => 0x00,
            AceType::AccessDenied => 0x01,
            AceType::SystemAudit => 0x02,
            AceType::AccessAllowedObject => 0x05,
            AceType::AccessDeniedObject => 0x06,
            AceType::SystemAuditObject => 0x07,
        }
    }

    pub fn from_code(code: u8) -> Option<AceType> {
        AceType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Object ACEs carry the optional ObjectType / InheritedObjectType GUIDs.
    pub fn is_object(self) -> bool {
        matches!(
            self,
            AceType::AccessAllowedObject | AceType::AccessDeniedObject | AceType::SystemAuditObject
        )
    }

    pub fn is_allow(self) -> bool {
        matches!(self, AceType::AccessAllowed | AceType::AccessAllowedObject)
    }

    pub fn is_deny(self) -> bool {
        matches!(self, AceType::AccessDenied | AceType::AccessDeniedObject)
    }

    pub fn is_audit(self) -> bool {
        matches!(self, AceType::SystemAudit | AceType::SystemAuditObject)
    }
}

/// AceFlags (MS-DTYP 2.4.4.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AceFlags(pub u8);

impl AceFlags {
    pub const NONE: AceFlags = AceFlags(0);
    /// OI
    pub const OBJECT_INHERIT: AceFlags = AceFlags(0x01);
    /// CI
    pub const CONTAINER_INHERIT: AceFlags = AceFlags(0x02);
    /// NP
    pub const NO_PROPAGATE_INHERIT: AceFlags = AceFlags(0x04);
    /// IO: the ACE only feeds inheritance and is skipped by the access check.
    pub const INHERIT_ONLY: AceFlags = AceFlags(0x08);
    /// ID
    pub const INHERITED: AceFlags = AceFlags(0x10);
    /// CRITICAL_ACE_FLAG (no SDDL letter).
    pub const CRITICAL: AceFlags = AceFlags(0x20);
    /// SA (audit ACEs)
    pub const SUCCESSFUL_ACCESS: AceFlags = AceFlags(0x40);
    /// FA (audit ACEs)
    pub const FAILED_ACCESS: AceFlags = AceFlags(0x80);

    pub fn contains(self, other: AceFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for AceFlags {
    type Output = AceFlags;
    fn bitor(self, rhs: AceFlags) -> AceFlags {
        AceFlags(self.0 | rhs.0)
    }
}

impl fmt::Debug for AceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AceFlags({:#04x})", self.0)
    }
}

/// An ACE of one of the [`AceType`]s: ACCESS_ALLOWED/DENIED/SYSTEM_AUDIT (MS-DTYP 2.4.4.2,
/// 2.4.4.4, 2.4.4.10) or their object forms (2.4.4.3, 2.4.4.5, 2.4.4.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardAce {
    pub ace_type: AceType,
    pub flags: AceFlags,
    pub mask: u32,
    /// Object ACEs only: the property, property set, extended right or child class.
    pub object_type: Option<Uuid>,
    /// Object ACEs only: the class of objects that inherit this ACE.
    pub inherited_object_type: Option<Uuid>,
    pub sid: Sid,
    /// Bytes inside AceSize after the SID. MS-DTYP 2.4.4.1 lets AceSize exceed the fields;
    /// they are kept so a round trip is byte-exact. Empty for ACEs built here.
    pub extra: Vec<u8>,
}

impl StandardAce {
    fn plain(ace_type: AceType, sid: Sid, mask: u32) -> Self {
        StandardAce {
            ace_type,
            flags: AceFlags::NONE,
            mask,
            object_type: None,
            inherited_object_type: None,
            sid,
            extra: Vec::new(),
        }
    }

    pub fn allow(sid: Sid, mask: u32) -> Self {
        Self::plain(AceType::AccessAllowed, sid, mask)
    }

    pub fn deny(sid: Sid, mask: u32) -> Self {
        Self::plain(AceType::AccessDenied, sid, mask)
    }

    pub fn audit(sid: Sid, mask: u32) -> Self {
        Self::plain(AceType::SystemAudit, sid, mask)
    }

    pub fn allow_object(
        sid: Sid,
        mask: u32,
        object_type: Option<Uuid>,
        inherited_object_type: Option<Uuid>,
    ) -> Self {
        StandardAce {
            object_type,
            inherited_object_type,
            ..Self::plain(AceType::AccessAllowedObject, sid, mask)
        }
    }

    pub fn deny_object(
        sid: Sid,
        mask: u32,
        object_type: Option<Uuid>,
        inherited_object_type: Option<Uuid>,
    ) -> Self {
        StandardAce {
            object_type,
            inherited_object_type,
            ..Self::plain(AceType::AccessDeniedObject, sid, mask)
        }
    }

    pub fn with_flags(mut self, flags: AceFlags) -> Self {
        self.flags = flags;
        self
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), BinaryError> {
        let code = self.ace_type.code();
        if !self.ace_type.is_object() && (self.object_type.is_some() || self.inherited_object_type.is_some())
        {
            return Err(BinaryError::GuidOnPlainAce(code));
        }
        let mut body = self.mask.to_le_bytes().to_vec();
        if self.ace_type.is_object() {
            let mut present = 0;
            if self.object_type.is_some() {
                present |= OBJECT_TYPE_PRESENT;
            }
            if self.inherited_object_type.is_some() {
                present |= INHERITED_OBJECT_TYPE_PRESENT;
            }
            body.extend_from_slice(&present.to_le_bytes());
            for g in [self.object_type, self.inherited_object_type].iter().flatten() {
                body.extend_from_slice(&guid::to_ms_bytes(g));
            }
        }
        if self.sid.sub_authorities.len() > super::sid::MAX_SUB_AUTHORITIES {
            return Err(BinaryError::BadSid("ACE"));
        }
        body.extend_from_slice(&self.sid.to_bytes());
        body.extend_from_slice(&self.extra);
        encode_ace(code, self.flags, &body, out)
    }

    fn decode_body(ace_type: AceType, flags: AceFlags, body: &[u8]) -> Result<Self, BinaryError> {
        let mut r = Reader::new(body);
        let mask = r.u32("ACE access mask")?;
        let (mut object_type, mut inherited_object_type) = (None, None);
        if ace_type.is_object() {
            let present = r.u32("object ACE flags")?;
            if present & !(OBJECT_TYPE_PRESENT | INHERITED_OBJECT_TYPE_PRESENT) != 0 {
                return Err(BinaryError::BadObjectAceFlags(present));
            }
            if present & OBJECT_TYPE_PRESENT != 0 {
                object_type = Some(read_guid(&mut r, "ACE ObjectType")?);
            }
            if present & INHERITED_OBJECT_TYPE_PRESENT != 0 {
                inherited_object_type = Some(read_guid(&mut r, "ACE InheritedObjectType")?);
            }
        }
        let rest = r.rest();
        let (sid, sid_len) = Sid::from_bytes_prefix(rest).map_err(|_| BinaryError::BadSid("ACE"))?;
        Ok(StandardAce {
            ace_type,
            flags,
            mask,
            object_type,
            inherited_object_type,
            sid,
            extra: rest[sid_len..].to_vec(),
        })
    }
}

fn read_guid(r: &mut Reader<'_>, what: &'static str) -> Result<Uuid, BinaryError> {
    let b = r.take(16, what)?;
    guid::from_ms_slice(b).map_err(|_| BinaryError::Truncated(what))
}

/// An ACE of a type not decoded here (callback, mandatory label, resource attribute, …),
/// kept as the bytes that follow its 4-byte header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueAce {
    pub ace_type: u8,
    pub flags: AceFlags,
    pub body: Vec<u8>,
}

/// One entry of an ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ace {
    Standard(StandardAce),
    Opaque(OpaqueAce),
}

impl From<StandardAce> for Ace {
    fn from(a: StandardAce) -> Ace {
        Ace::Standard(a)
    }
}

impl Ace {
    pub fn type_code(&self) -> u8 {
        match self {
            Ace::Standard(a) => a.ace_type.code(),
            Ace::Opaque(a) => a.ace_type,
        }
    }

    pub fn flags(&self) -> AceFlags {
        match self {
            Ace::Standard(a) => a.flags,
            Ace::Opaque(a) => a.flags,
        }
    }

    pub fn as_standard(&self) -> Option<&StandardAce> {
        match self {
            Ace::Standard(a) => Some(a),
            Ace::Opaque(_) => None,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), BinaryError> {
        match self {
            Ace::Standard(a) => a.encode(out),
            Ace::Opaque(a) => encode_ace(a.ace_type, a.flags, &a.body, out),
        }
    }

    /// Decodes one ACE from the front of `b`; returns it with the AceSize it occupied.
    pub fn decode_prefix(b: &[u8]) -> Result<(Ace, usize), BinaryError> {
        let mut r = Reader::new(b);
        let code = r.u8("ACE header")?;
        let flags = AceFlags(r.u8("ACE header")?);
        let size = r.u16("ACE header")?;
        // MS-DTYP 2.4.4.1: AceSize covers the header and MUST be a multiple of 4.
        if (size as usize) < ACE_HEADER_LEN || size % 4 != 0 {
            return Err(BinaryError::BadAceSize(size));
        }
        let body = r.take(size as usize - ACE_HEADER_LEN, "ACE body")?;
        let ace = match AceType::from_code(code) {
            Some(t) => Ace::Standard(StandardAce::decode_body(t, flags, body)?),
            None => Ace::Opaque(OpaqueAce {
                ace_type: code,
                flags,
                body: body.to_vec(),
            }),
        };
        Ok((ace, size as usize))
    }
}

fn encode_ace(code: u8, flags: AceFlags, body: &[u8], out: &mut Vec<u8>) -> Result<(), BinaryError> {
    let total = ACE_HEADER_LEN + body.len();
    if total % 4 != 0 {
        return Err(BinaryError::UnalignedAce(total));
    }
    let size = size_u16(total, "ACE")?;
    out.push(code);
    out.push(flags.0);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// An ACL (MS-DTYP 2.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// [`ACL_REVISION`] or [`ACL_REVISION_DS`].
    pub revision: u8,
    pub aces: Vec<Ace>,
    /// Bytes inside AclSize after the last ACE (allocated but unused space); kept so a round
    /// trip is byte-exact. Empty for ACLs built here.
    pub trailing: Vec<u8>,
}

impl Acl {
    /// An ACL with the revision Windows picks: ACL_REVISION_DS when it holds an object ACE.
    pub fn new(aces: Vec<Ace>) -> Acl {
        let has_object = aces
            .iter()
            .any(|a| a.as_standard().is_some_and(|s| s.ace_type.is_object()));
        Acl {
            revision: if has_object { ACL_REVISION_DS } else { ACL_REVISION },
            aces,
            trailing: Vec::new(),
        }
    }

    pub fn standard_aces(&self) -> impl Iterator<Item = &StandardAce> {
        self.aces.iter().filter_map(Ace::as_standard)
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), BinaryError> {
        let start = out.len();
        out.extend_from_slice(&[self.revision, 0, 0, 0]);
        let count = size_u16(self.aces.len(), "ACE count")?;
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        for ace in &self.aces {
            ace.encode(out)?;
        }
        out.extend_from_slice(&self.trailing);
        let size = size_u16(out.len() - start, "ACL")?;
        out[start + 2..start + 4].copy_from_slice(&size.to_le_bytes());
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, BinaryError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Decodes the ACL at the front of `b`; bytes after AclSize are ignored.
    pub fn decode_prefix(b: &[u8]) -> Result<(Acl, usize), BinaryError> {
        let mut r = Reader::new(b);
        let revision = r.u8("ACL header")?;
        if revision != ACL_REVISION && revision != ACL_REVISION_DS {
            return Err(BinaryError::BadAclRevision(revision));
        }
        if r.u8("ACL header")? != 0 {
            return Err(BinaryError::ReservedNotZero("ACL Sbz1"));
        }
        let size = r.u16("ACL header")?;
        let count = r.u16("ACL header")?;
        if r.u16("ACL header")? != 0 {
            return Err(BinaryError::ReservedNotZero("ACL Sbz2"));
        }
        if (size as usize) < ACL_HEADER_LEN {
            return Err(BinaryError::AclSizeTooSmall(size));
        }
        let body_len = size as usize - ACL_HEADER_LEN;
        let mut body = r.take(body_len, "ACL")?;
        let mut aces = Vec::with_capacity((count as usize).min(body_len / ACE_HEADER_LEN));
        for _ in 0..count {
            let (ace, used) = Ace::decode_prefix(body)?;
            aces.push(ace);
            body = &body[used..];
        }
        Ok((
            Acl {
                revision,
                aces,
                trailing: body.to_vec(),
            },
            size as usize,
        ))
    }

    /// Decodes an ACL that fills `b` exactly.
    pub fn from_bytes(b: &[u8]) -> Result<Acl, BinaryError> {
        let (acl, used) = Acl::decode_prefix(b)?;
        if used != b.len() {
            return Err(BinaryError::Truncated("ACL (size field disagrees with data)"));
        }
        Ok(acl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::well_known;

    #[test]
    fn allowed_ace_matches_gmsa_target_sd_bytes() {
        // The DACL of the gMSA target SD in docs/notes/gmsa-gkdi.md §2.
        let acl = Acl::new(vec![StandardAce::allow(
            well_known::enterprise_domain_controllers(),
            0x0012_019f,
        )
        .into()]);
        assert_eq!(
            hex::encode(acl.to_bytes().unwrap()),
            concat!("02001c00", "01000000", "00001400", "9f011200", "01010000", "00000005", "09000000")
        );
    }

    #[test]
    fn object_ace_layout_and_round_trip() {
        let prop = guid::parse_text("bf9679c0-0de6-11d0-a285-00aa003049e2").unwrap();
        let class = guid::parse_text("bf967aba-0de6-11d0-a285-00aa003049e2").unwrap();
        let ace = StandardAce::allow_object(well_known::principal_self(), 0x20, Some(prop), Some(class))
            .with_flags(AceFlags::CONTAINER_INHERIT | AceFlags::INHERIT_ONLY);
        let acl = Acl::new(vec![ace.clone().into()]);
        assert_eq!(acl.revision, ACL_REVISION_DS);
        let bytes = acl.to_bytes().unwrap();
        // header(8) + ace header(4) + mask(4) + flags(4) + 2 GUIDs(32) + SID(12)
        assert_eq!(bytes.len(), 8 + 4 + 4 + 4 + 32 + 12);
        assert_eq!(&bytes[8..12], &[0x05, 0x0a, 56, 0]);
        assert_eq!(&bytes[16..20], &3u32.to_le_bytes());
        assert_eq!(&bytes[20..36], &guid::to_ms_bytes(&prop));
        assert_eq!(Acl::from_bytes(&bytes).unwrap(), acl);
    }

    #[test]
    fn unknown_ace_types_survive_a_round_trip() {
        // An ACCESS_ALLOWED_CALLBACK ACE (0x09) with application data, followed by slack.
        let mut raw = vec![4, 0, 0, 0, 1, 0, 0, 0];
        raw.extend_from_slice(&[0x09, 0x00, 0x18, 0x00]);
        raw.extend_from_slice(&0x10u32.to_le_bytes());
        raw.extend_from_slice(&well_known::everyone().to_bytes());
        raw.extend_from_slice(b"artx");
        raw.extend_from_slice(&[0, 0, 0, 0]);
        let len = raw.len() as u16;
        raw[2..4].copy_from_slice(&len.to_le_bytes());
        let acl = Acl::from_bytes(&raw).unwrap();
        assert!(matches!(&acl.aces[0], Ace::Opaque(o) if o.ace_type == 9 && o.body.len() == 20));
        assert_eq!(acl.trailing, vec![0, 0, 0, 0]);
        assert_eq!(acl.to_bytes().unwrap(), raw);
    }

    #[test]
    fn rejects_malformed_acls() {
        let good = Acl::new(vec![StandardAce::deny(well_known::everyone(), 1).into()])
            .to_bytes()
            .unwrap();
        assert!(Acl::from_bytes(&good[..good.len() - 1]).is_err());
        let mut bad_rev = good.clone();
        bad_rev[0] = 3;
        assert_eq!(Acl::from_bytes(&bad_rev), Err(BinaryError::BadAclRevision(3)));
        let mut bad_count = good.clone();
        bad_count[4] = 2;
        assert!(Acl::from_bytes(&bad_count).is_err());
        let mut bad_ace_size = good.clone();
        bad_ace_size[10] = 6;
        assert_eq!(Acl::from_bytes(&bad_ace_size), Err(BinaryError::BadAceSize(6)));
        let mut small = good.clone();
        small[2] = 4;
        assert!(Acl::decode_prefix(&small).is_err());
        let mut sbz = good;
        sbz[1] = 1;
        assert_eq!(
            Acl::from_bytes(&sbz),
            Err(BinaryError::ReservedNotZero("ACL Sbz1"))
        );
    }

    #[test]
    fn unaligned_ace_is_an_encode_error() {
        let mut ace = StandardAce::allow(well_known::everyone(), 1);
        ace.extra = vec![0; 3];
        // 4 header + 4 mask + 12 SID + 3 extra
        assert_eq!(
            Acl::new(vec![ace.into()]).to_bytes(),
            Err(BinaryError::UnalignedAce(23))
        );
    }

    #[test]
    fn guid_on_plain_ace_is_an_encode_error() {
        let mut ace = StandardAce::allow(well_known::everyone(), 1);
        ace.object_type = Some(Uuid::nil());
        assert_eq!(
            Acl::new(vec![ace.into()]).to_bytes(),
            Err(BinaryError::GuidOnPlainAce(0))
        );
    }
}
