//! The `msDS-ManagedPassword` value: MS-ADTS 2.2.19 MSDS-MANAGEDPASSWORD_BLOB, laid out as
//! Windows does it — no alignment padding before the intervals (docs/notes/gmsa-gkdi.md §4 [C2]).
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 2 | Version = 1 |
//! | 2 | 2 | Reserved = 0 |
//! | 4 | 4 | Length (whole blob) |
//! | 8 | 2 | CurrentPasswordOffset (16) |
//! | 10 | 2 | PreviousPasswordOffset (0 = none) |
//! | 12 | 2 | QueryPasswordIntervalOffset |
//! | 14 | 2 | UnchangedPasswordIntervalOffset |
//! | 16 | … | current password + 00 00, [previous password + 00 00], query (u64), unchanged (u64) |

use std::fmt;

use crate::keys;

use super::error::GmsaError;
use super::password::ManagedPassword;

pub const BLOB_VERSION: u16 = 1;
const HEADER_LEN: usize = 16;

#[derive(Clone, PartialEq, Eq)]
pub struct ManagedPasswordBlob {
    /// Current password, UTF-16LE without its terminator.
    pub current: Vec<u8>,
    /// Previous password, present once the account is one interval old.
    pub previous: Option<Vec<u8>>,
    /// 100 ns ticks until the current password expires.
    pub query_interval: u64,
    /// 100 ns ticks during which the password will not change.
    pub unchanged_interval: u64,
}

impl fmt::Debug for ManagedPasswordBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedPasswordBlob")
            .field(
                "current",
                &format_args!("<redacted {} bytes>", self.current.len()),
            )
            .field(
                "previous",
                &self
                    .previous
                    .as_ref()
                    .map(|p| format!("<redacted {} bytes>", p.len())),
            )
            .field("query_interval", &self.query_interval)
            .field("unchanged_interval", &self.unchanged_interval)
            .finish()
    }
}

impl ManagedPasswordBlob {
    pub fn new(
        current: &ManagedPassword,
        previous: Option<&ManagedPassword>,
        query_interval: u64,
        unchanged_interval: u64,
    ) -> ManagedPasswordBlob {
        ManagedPasswordBlob {
            current: current.as_utf16le().to_vec(),
            previous: previous.map(|p| p.as_utf16le().to_vec()),
            query_interval,
            unchanged_interval,
        }
    }

    /// NT hash of the current password (MD4 over the bytes without the terminator).
    pub fn current_nt_hash(&self) -> [u8; 16] {
        keys::nt_hash(&self.current)
    }

    pub fn previous_nt_hash(&self) -> Option<[u8; 16]> {
        self.previous.as_deref().map(keys::nt_hash)
    }

    /// Fails when a password has an odd length or an embedded NUL unit (it would not read back),
    /// or when an offset no longer fits 16 bits.
    pub fn encode(&self) -> Result<Vec<u8>, GmsaError> {
        check_password(&self.current)?;
        if let Some(p) = &self.previous {
            check_password(p)?;
        }
        let current_off = HEADER_LEN;
        let after_current = current_off + self.current.len() + 2;
        let (previous_off, query_off) = match &self.previous {
            Some(p) => (after_current, after_current + p.len() + 2),
            None => (0, after_current),
        };
        let unchanged_off = query_off + 8;
        let total = unchanged_off + 8;
        let off16 = |n: usize| u16::try_from(n).map_err(|_| GmsaError::Unencodable("offset beyond 64 KiB"));
        let total32 = u32::try_from(total).map_err(|_| GmsaError::Unencodable("blob beyond 4 GiB"))?;

        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&BLOB_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&total32.to_le_bytes());
        out.extend_from_slice(&off16(current_off)?.to_le_bytes());
        out.extend_from_slice(&off16(previous_off)?.to_le_bytes());
        out.extend_from_slice(&off16(query_off)?.to_le_bytes());
        out.extend_from_slice(&off16(unchanged_off)?.to_le_bytes());
        out.extend_from_slice(&self.current);
        out.extend_from_slice(&[0, 0]);
        if let Some(p) = &self.previous {
            out.extend_from_slice(p);
            out.extend_from_slice(&[0, 0]);
        }
        out.extend_from_slice(&self.query_interval.to_le_bytes());
        out.extend_from_slice(&self.unchanged_interval.to_le_bytes());
        Ok(out)
    }

    /// Decodes by the offsets (so a padded blob from another writer reads too); each password
    /// runs to its NUL unit, which must come before the next field.
    pub fn decode(b: &[u8]) -> Result<ManagedPasswordBlob, GmsaError> {
        let bad = GmsaError::MalformedPasswordBlob;
        if b.len() < HEADER_LEN {
            return Err(bad("shorter than the 16-byte header"));
        }
        let u16_at = |off: usize| u16::from_le_bytes([b[off], b[off + 1]]) as usize;
        if u16_at(0) != BLOB_VERSION as usize {
            return Err(bad("version is not 1"));
        }
        if u16_at(2) != 0 {
            return Err(bad("reserved field is not zero"));
        }
        if u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as u64 != b.len() as u64 {
            return Err(bad("length field does not match the blob length"));
        }
        let (current_off, previous_off, query_off, unchanged_off) =
            (u16_at(8), u16_at(10), u16_at(12), u16_at(14));
        for off in [query_off, unchanged_off] {
            if off < HEADER_LEN || off + 8 > b.len() {
                return Err(bad("interval offset out of bounds"));
            }
        }
        let current_limit = if previous_off != 0 {
            previous_off
        } else {
            query_off
        };
        let current = read_terminated(b, current_off, current_limit)?;
        let previous = match previous_off {
            0 => None,
            off => Some(read_terminated(b, off, query_off)?),
        };
        let u64_at = |off: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[off..off + 8]);
            u64::from_le_bytes(x)
        };
        Ok(ManagedPasswordBlob {
            current,
            previous,
            query_interval: u64_at(query_off),
            unchanged_interval: u64_at(unchanged_off),
        })
    }
}

fn check_password(p: &[u8]) -> Result<(), GmsaError> {
    if p.len() % 2 != 0 {
        return Err(GmsaError::Unencodable("password has an odd number of bytes"));
    }
    if p.chunks_exact(2).any(|u| u == [0, 0]) {
        return Err(GmsaError::Unencodable("password holds a NUL unit"));
    }
    Ok(())
}

/// The UTF-16 string at `start`, up to (not including) its NUL unit, which must end by `limit`.
fn read_terminated(b: &[u8], start: usize, limit: usize) -> Result<Vec<u8>, GmsaError> {
    let bad = GmsaError::MalformedPasswordBlob;
    if start < HEADER_LEN || start >= limit || limit > b.len() {
        return Err(bad("password offset out of bounds"));
    }
    let region = &b[start..limit];
    let nul = region
        .chunks_exact(2)
        .position(|u| u == [0, 0])
        .ok_or(bad("password is not NUL-terminated before the next field"))?;
    Ok(region[..2 * nul].to_vec())
}
