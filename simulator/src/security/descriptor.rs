//! Self-relative security descriptors (MS-DTYP 2.4.6).
//!
//! Layout: Revision (1) = 1, Sbz1 (1), Control (u16), OffsetOwner, OffsetGroup, OffsetSacl,
//! OffsetDacl (u32 each, 0 = absent), then the four parts in any order (MS-DTYP 2.4.6: "not
//! required to be in any particular order"). Windows writes SACL, DACL, owner, group: see the
//! MS-DTYP 2.5.1.4 example and the gMSA target SD of docs/notes/gmsa-gkdi.md §2 (DACL at 0x14, owner
//! after it). Decoding remembers the order it found so re-encoding is byte-exact for any
//! descriptor whose parts are contiguous after the header.

use super::acl::Acl;
use super::binary::{BinaryError, Reader};
use super::sid::{Sid, MAX_SUB_AUTHORITIES};

/// SECURITY_DESCRIPTOR Control bits (MS-DTYP 2.4.6).
pub mod control {
    pub const OWNER_DEFAULTED: u16 = 0x0001;
    pub const GROUP_DEFAULTED: u16 = 0x0002;
    pub const DACL_PRESENT: u16 = 0x0004;
    pub const DACL_DEFAULTED: u16 = 0x0008;
    pub const SACL_PRESENT: u16 = 0x0010;
    pub const SACL_DEFAULTED: u16 = 0x0020;
    pub const DACL_TRUSTED: u16 = 0x0040;
    pub const SERVER_SECURITY: u16 = 0x0080;
    pub const DACL_AUTO_INHERIT_REQ: u16 = 0x0100;
    pub const SACL_AUTO_INHERIT_REQ: u16 = 0x0200;
    pub const DACL_AUTO_INHERITED: u16 = 0x0400;
    pub const SACL_AUTO_INHERITED: u16 = 0x0800;
    pub const DACL_PROTECTED: u16 = 0x1000;
    pub const SACL_PROTECTED: u16 = 0x2000;
    /// Sbz1 holds resource-manager control bits.
    pub const RM_CONTROL_VALID: u16 = 0x4000;
    pub const SELF_RELATIVE: u16 = 0x8000;
}

const HEADER_LEN: usize = 20;
const REVISION: u8 = 1;

/// One of the four variable parts of a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Owner,
    Group,
    Sacl,
    Dacl,
}

/// The order Windows writes the parts in (MS-DTYP 2.5.1.4 example).
pub const WINDOWS_LAYOUT: [Part; 4] = [Part::Sacl, Part::Dacl, Part::Owner, Part::Group];

/// A security descriptor. `dacl == None` with `DACL_PRESENT` set is a NULL DACL (everyone gets
/// everything); `Some` with no ACEs is an empty DACL (nobody gets anything but the owner's
/// implicit rights).
#[derive(Debug, Clone, Eq)]
pub struct SecurityDescriptor {
    /// Control flags. Encoding always sets SELF_RELATIVE.
    pub control: u16,
    /// Sbz1: resource-manager control bits (meaningful when RM_CONTROL_VALID is set).
    pub rm_control: u8,
    pub owner: Option<Sid>,
    pub group: Option<Sid>,
    pub sacl: Option<Acl>,
    pub dacl: Option<Acl>,
    /// The order the present parts are written in; absent parts are skipped.
    pub layout: [Part; 4],
}

/// Two descriptors are equal when they encode to the same bytes: the layout only matters for
/// the parts that are present.
impl PartialEq for SecurityDescriptor {
    fn eq(&self, other: &Self) -> bool {
        self.control | control::SELF_RELATIVE == other.control | control::SELF_RELATIVE
            && self.rm_control == other.rm_control
            && self.owner == other.owner
            && self.group == other.group
            && self.sacl == other.sacl
            && self.dacl == other.dacl
            && self.present_parts() == other.present_parts()
    }
}

impl SecurityDescriptor {
    /// A descriptor with the given parts (note the order: owner, group, DACL, SACL),
    /// DACL_PRESENT / SACL_PRESENT set for the ACLs that are given, and Windows' layout.
    pub fn new(owner: Option<Sid>, group: Option<Sid>, dacl: Option<Acl>, sacl: Option<Acl>) -> Self {
        let mut ctl = control::SELF_RELATIVE;
        if dacl.is_some() {
            ctl |= control::DACL_PRESENT;
        }
        if sacl.is_some() {
            ctl |= control::SACL_PRESENT;
        }
        SecurityDescriptor {
            control: ctl,
            rm_control: 0,
            owner,
            group,
            sacl,
            dacl,
            layout: WINDOWS_LAYOUT,
        }
    }

    pub fn has_control(&self, bits: u16) -> bool {
        self.control & bits == bits
    }

    /// The DACL the access check uses: `None` means no DACL (DACL_PRESENT clear) or a NULL
    /// DACL, both of which grant every access (MS-DTYP 2.4.6 DP flag, 2.5.3.2).
    pub fn effective_dacl(&self) -> Option<&Acl> {
        if self.has_control(control::DACL_PRESENT) {
            self.dacl.as_ref()
        } else {
            None
        }
    }

    fn is_present(&self, part: Part) -> bool {
        match part {
            Part::Owner => self.owner.is_some(),
            Part::Group => self.group.is_some(),
            Part::Sacl => self.sacl.is_some(),
            Part::Dacl => self.dacl.is_some(),
        }
    }

    /// The present parts in write order: `layout` first, then any part it is missing (so a
    /// hand-built layout with a repeated entry still writes every part once).
    fn present_parts(&self) -> Vec<Part> {
        let mut out = Vec::with_capacity(4);
        for part in self.layout.iter().copied().chain(WINDOWS_LAYOUT) {
            if self.is_present(part) && !out.contains(&part) {
                out.push(part);
            }
        }
        out
    }

    /// The self-relative binary form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BinaryError> {
        let mut out = vec![0u8; HEADER_LEN];
        out[0] = REVISION;
        out[1] = self.rm_control;
        out[2..4].copy_from_slice(&(self.control | control::SELF_RELATIVE).to_le_bytes());
        for part in self.present_parts() {
            let offset =
                u32::try_from(out.len()).map_err(|_| BinaryError::TooLarge("security descriptor"))?;
            let slot = match part {
                Part::Owner => {
                    push_sid(self.owner.as_ref(), &mut out, "owner SID")?;
                    4
                }
                Part::Group => {
                    push_sid(self.group.as_ref(), &mut out, "group SID")?;
                    8
                }
                Part::Sacl => {
                    if let Some(acl) = &self.sacl {
                        acl.encode(&mut out)?;
                    }
                    12
                }
                Part::Dacl => {
                    if let Some(acl) = &self.dacl {
                        acl.encode(&mut out)?;
                    }
                    16
                }
            };
            out[slot..slot + 4].copy_from_slice(&offset.to_le_bytes());
        }
        Ok(out)
    }

    /// Decodes a self-relative descriptor. Offsets and sizes are all checked; bytes not
    /// referenced by any offset are ignored.
    pub fn from_bytes(b: &[u8]) -> Result<Self, BinaryError> {
        let mut r = Reader::new(b);
        let revision = r.u8("security descriptor header")?;
        if revision != REVISION {
            return Err(BinaryError::BadDescriptorRevision(revision));
        }
        let rm_control = r.u8("security descriptor header")?;
        let ctl = r.u16("security descriptor header")?;
        if ctl & control::SELF_RELATIVE == 0 {
            return Err(BinaryError::NotSelfRelative);
        }
        let offsets = [
            (Part::Owner, r.u32("security descriptor header")?),
            (Part::Group, r.u32("security descriptor header")?),
            (Part::Sacl, r.u32("security descriptor header")?),
            (Part::Dacl, r.u32("security descriptor header")?),
        ];
        let mut sd = SecurityDescriptor {
            control: ctl,
            rm_control,
            owner: None,
            group: None,
            sacl: None,
            dacl: None,
            layout: WINDOWS_LAYOUT,
        };
        let mut found: Vec<(u32, Part)> = Vec::with_capacity(4);
        for (part, offset) in offsets {
            if offset == 0 {
                continue;
            }
            let at = part_bytes(b, offset, part)?;
            match part {
                Part::Owner => sd.owner = Some(read_sid(at, "owner SID")?),
                Part::Group => sd.group = Some(read_sid(at, "group SID")?),
                Part::Sacl => sd.sacl = Some(Acl::decode_prefix(at)?.0),
                Part::Dacl => sd.dacl = Some(Acl::decode_prefix(at)?.0),
            }
            found.push((offset, part));
        }
        found.sort_by_key(|(offset, _)| *offset);
        let mut layout: Vec<Part> = found.into_iter().map(|(_, p)| p).collect();
        for p in WINDOWS_LAYOUT {
            if !layout.contains(&p) {
                layout.push(p);
            }
        }
        sd.layout = [layout[0], layout[1], layout[2], layout[3]];
        Ok(sd)
    }
}

fn part_name(part: Part) -> &'static str {
    match part {
        Part::Owner => "owner",
        Part::Group => "group",
        Part::Sacl => "SACL",
        Part::Dacl => "DACL",
    }
}

/// The bytes from `offset` to the end; the offset must point past the header and inside `b`.
fn part_bytes(b: &[u8], offset: u32, part: Part) -> Result<&[u8], BinaryError> {
    let at = offset as usize;
    if at < HEADER_LEN || at >= b.len() {
        return Err(BinaryError::OffsetOutOfRange {
            what: part_name(part),
            offset,
            len: b.len(),
        });
    }
    Ok(&b[at..])
}

fn read_sid(b: &[u8], what: &'static str) -> Result<Sid, BinaryError> {
    Sid::from_bytes_prefix(b)
        .map(|(sid, _)| sid)
        .map_err(|_| BinaryError::BadSid(what))
}

fn push_sid(sid: Option<&Sid>, out: &mut Vec<u8>, what: &'static str) -> Result<(), BinaryError> {
    if let Some(sid) = sid {
        if sid.sub_authorities.len() > MAX_SUB_AUTHORITIES || sid.authority >= 1 << 48 {
            return Err(BinaryError::BadSid(what));
        }
        out.extend_from_slice(&sid.to_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::acl::StandardAce;
    use crate::security::well_known;

    /// docs/notes/gmsa-gkdi.md §2: the fixed 60-byte gMSA target SD, `O:SYD:(A;;FRFW;;;S-1-5-9)`.
    const GMSA_TARGET_SD_HEX: &str = concat!(
        "01000480", "30000000", "00000000", "00000000", "14000000", "02001c00", "01000000", "00001400",
        "9f011200", "01010000", "00000005", "09000000", "01010000", "00000005", "12000000",
    );

    #[test]
    fn gmsa_target_sd_is_byte_exact() {
        let bytes = hex::decode(GMSA_TARGET_SD_HEX).unwrap();
        assert_eq!(bytes.len(), 60);
        let sd = SecurityDescriptor::from_bytes(&bytes).unwrap();
        assert_eq!(sd.control, control::SELF_RELATIVE | control::DACL_PRESENT);
        assert_eq!(sd.owner, Some(well_known::system()));
        assert_eq!(sd.group, None);
        assert_eq!(sd.sacl, None);
        let dacl = sd.dacl.as_ref().unwrap();
        let ace = dacl.aces[0].as_standard().unwrap();
        assert_eq!(ace.mask, 0x0012_019f);
        assert_eq!(ace.sid, well_known::enterprise_domain_controllers());
        assert_eq!(sd.to_bytes().unwrap(), bytes);

        // Built from parts with Windows' default layout it is the same 60 bytes.
        let built = SecurityDescriptor::new(
            Some(well_known::system()),
            None,
            Some(Acl::new(vec![StandardAce::allow(
                well_known::enterprise_domain_controllers(),
                0x0012_019f,
            )
            .into()])),
            None,
        );
        assert_eq!(built.to_bytes().unwrap(), bytes);
        assert_eq!(built, sd);
    }

    #[test]
    fn other_layouts_round_trip_byte_exact() {
        // Owner, group, DACL order (as .NET's RawSecurityDescriptor writes it).
        let mut sd = SecurityDescriptor::new(
            Some(well_known::builtin_administrators()),
            Some(well_known::system()),
            Some(Acl::new(vec![
                StandardAce::allow(well_known::everyone(), 0x10).into()
            ])),
            None,
        );
        sd.layout = [Part::Owner, Part::Group, Part::Dacl, Part::Sacl];
        let bytes = sd.to_bytes().unwrap();
        assert_eq!(&bytes[4..8], &20u32.to_le_bytes());
        let back = SecurityDescriptor::from_bytes(&bytes).unwrap();
        assert_eq!(back, sd);
        assert_eq!(back.to_bytes().unwrap(), bytes);
        assert_ne!(
            back,
            SecurityDescriptor {
                layout: WINDOWS_LAYOUT,
                ..back.clone()
            }
        );
    }

    #[test]
    fn rejects_bad_headers_and_offsets() {
        let good = hex::decode(GMSA_TARGET_SD_HEX).unwrap();
        assert!(matches!(
            SecurityDescriptor::from_bytes(&good[..19]),
            Err(BinaryError::Truncated(_))
        ));
        let mut rev = good.clone();
        rev[0] = 2;
        assert_eq!(
            SecurityDescriptor::from_bytes(&rev),
            Err(BinaryError::BadDescriptorRevision(2))
        );
        let mut absolute = good.clone();
        absolute[3] = 0x00;
        assert_eq!(
            SecurityDescriptor::from_bytes(&absolute),
            Err(BinaryError::NotSelfRelative)
        );
        for (field, value) in [(4, 60u32), (4, 10), (16, 0xffff_fff0), (8, 59)] {
            let mut b = good.clone();
            b[field..field + 4].copy_from_slice(&value.to_le_bytes());
            assert!(
                SecurityDescriptor::from_bytes(&b).is_err(),
                "offset {value} at {field}"
            );
        }
        // An ACL size running past the end of the buffer.
        let mut long_acl = good.clone();
        long_acl[0x16] = 0x40;
        assert!(SecurityDescriptor::from_bytes(&long_acl).is_err());
    }

    #[test]
    fn null_and_absent_dacls() {
        let mut sd = SecurityDescriptor::new(None, None, None, None);
        assert!(sd.effective_dacl().is_none());
        sd.control |= control::DACL_PRESENT;
        let bytes = sd.to_bytes().unwrap();
        assert_eq!(bytes.len(), 20);
        assert_eq!(SecurityDescriptor::from_bytes(&bytes).unwrap(), sd);
        assert!(sd.effective_dacl().is_none());
    }
}
