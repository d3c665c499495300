//! `msDS-ManagedPasswordId` / `msDS-ManagedPasswordPreviousId`: the "KDSK" key identifier
//! (docs/notes/gmsa-gkdi.md §3 table [C3]; Samba IDL `KeyEnvelope`).
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 4 | version (msKds-Version) |
//! | 4 | 4 | magic "KDSK" |
//! | 8 | 4 | flags (2 = KEY_MAY_ENCRYPT_NEW_DATA) |
//! | 12 | 12 | L0, L1, L2 (i32 LE) |
//! | 24 | 16 | root key GUID (bytes_le) |
//! | 40 | 4 | cbKeyInfo (always 0 in real data) |
//! | 44 | 4 | cbDomain (UTF-16LE bytes with NUL) |
//! | 48 | 4 | cbForest |
//! | 52 | … | key info, domain name, forest name |

use uuid::Uuid;

use crate::kds::params::{le32, utf16z_to_string};
use crate::kds::{Gkid, RootKey};

use super::error::GmsaError;

/// "KDSK" read as a little-endian u32.
pub const KDSK_MAGIC: u32 = 0x4B53_444B;
/// Set on every gMSA id seen.
pub const FLAG_KEY_MAY_ENCRYPT_NEW_DATA: u32 = 0x2;
/// Public-key flag: never set for gMSA.
pub const FLAG_TRANSPORTING_PUBLIC_KEY: u32 = 0x1;
/// Schema rangeUpper of both attributes.
pub const PASSWORD_ID_RANGE_UPPER: usize = 1024;

const HEADER_LEN: usize = 52;

/// The GKID and root key a password comes from: the part of a password id rollover cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordRef {
    pub gkid: Gkid,
    pub root_key_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPasswordId {
    pub version: u32,
    pub flags: u32,
    pub gkid: Gkid,
    pub root_key_id: Uuid,
    /// The cbKeyInfo bytes; empty in every sample seen, meaning unknown, kept opaque.
    pub key_info: Vec<u8>,
    /// DNS name of the domain, as written (lower case in real data).
    pub domain: String,
    /// DNS name of the forest root domain.
    pub forest: String,
}

impl ManagedPasswordId {
    /// The id a DC writes for a password from `root` at `gkid` (Samba `gmsa_managed_pwd_id`:
    /// version from the root key, flags = KEY_MAY_ENCRYPT_NEW_DATA).
    pub fn new(root: &RootKey, gkid: Gkid, domain: &str, forest: &str) -> ManagedPasswordId {
        ManagedPasswordId {
            version: root.version,
            flags: FLAG_KEY_MAY_ENCRYPT_NEW_DATA,
            gkid,
            root_key_id: root.id,
            key_info: Vec::new(),
            domain: domain.to_string(),
            forest: forest.to_string(),
        }
    }

    pub fn password_ref(&self) -> PasswordRef {
        PasswordRef {
            gkid: self.gkid,
            root_key_id: self.root_key_id,
        }
    }

    /// The same id pointing at another password: on rollover only the GKID and root key change
    /// (Samba `gmsa_update_managed_pwd_id`).
    pub fn with_ref(&self, r: PasswordRef) -> ManagedPasswordId {
        ManagedPasswordId {
            gkid: r.gkid,
            root_key_id: r.root_key_id,
            ..self.clone()
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, GmsaError> {
        self.gkid.require_l2()?;
        let domain = utf16z(&self.domain)?;
        let forest = utf16z(&self.forest)?;
        let len32 =
            |n: usize| u32::try_from(n).map_err(|_| GmsaError::Unencodable("field longer than 4 GiB"));
        let mut out = Vec::with_capacity(HEADER_LEN + self.key_info.len() + domain.len() + forest.len());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&KDSK_MAGIC.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.gkid.l0.to_le_bytes());
        out.extend_from_slice(&self.gkid.l1.to_le_bytes());
        out.extend_from_slice(&self.gkid.l2.to_le_bytes());
        out.extend_from_slice(&self.root_key_id.to_bytes_le());
        out.extend_from_slice(&len32(self.key_info.len())?.to_le_bytes());
        out.extend_from_slice(&len32(domain.len())?.to_le_bytes());
        out.extend_from_slice(&len32(forest.len())?.to_le_bytes());
        out.extend_from_slice(&self.key_info);
        out.extend_from_slice(&domain);
        out.extend_from_slice(&forest);
        Ok(out)
    }

    /// Strict decode: magic, an L2 GKID with L1/L2 in 0..=31 and L0 ≤ i32::MAX (Samba
    /// `gkdi_pull_KeyEnvelopeId`), lengths that add up to the blob exactly, NUL-terminated
    /// UTF-16 names. Any version is accepted (Samba does not check it either).
    pub fn decode(b: &[u8]) -> Result<ManagedPasswordId, GmsaError> {
        let bad = GmsaError::MalformedPasswordId;
        if b.len() < HEADER_LEN {
            return Err(bad("shorter than the 52-byte header"));
        }
        if le32(b, 4) != KDSK_MAGIC {
            return Err(bad("magic is not KDSK"));
        }
        let (l0, l1, l2) = (le32(b, 12), le32(b, 16), le32(b, 20));
        if l0 > i32::MAX as u32 || l1 > 31 || l2 > 31 {
            return Err(bad("GKID out of range"));
        }
        let gkid = Gkid {
            l0: l0 as i32,
            l1: l1 as i32,
            l2: l2 as i32,
        };
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&b[24..40]);
        let (cb_info, cb_domain, cb_forest) = (le32(b, 40) as u64, le32(b, 44) as u64, le32(b, 48) as u64);
        if HEADER_LEN as u64 + cb_info + cb_domain + cb_forest != b.len() as u64 {
            return Err(bad("lengths do not add up to the blob length"));
        }
        let info_end = HEADER_LEN + cb_info as usize;
        let domain_end = info_end + cb_domain as usize;
        let name = |s: &[u8]| utf16z_to_string(s).ok_or(bad("name is not NUL-terminated UTF-16"));
        Ok(ManagedPasswordId {
            version: le32(b, 0),
            flags: le32(b, 8),
            gkid,
            root_key_id: Uuid::from_bytes_le(guid),
            key_info: b[HEADER_LEN..info_end].to_vec(),
            domain: name(&b[info_end..domain_end])?,
            forest: name(&b[domain_end..])?,
        })
    }
}

fn utf16z(s: &str) -> Result<Vec<u8>, GmsaError> {
    if s.contains('\0') {
        return Err(GmsaError::Unencodable("a DNS name holds a NUL"));
    }
    Ok(s.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect())
}
