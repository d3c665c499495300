//! The gMSA password (docs/notes/gmsa-gkdi.md §3; MS-ADTS 3.1.1.4.5.39): 256 bytes of
//! KDF(H, L2 seed key, "GMSA PASSWORD", binary SID), with every 0x0000 unit turned into 0x0001,
//! used as 128 UTF-16 code units (a separate NUL follows in the blob).

use std::fmt;

use crate::kds::kdf::derive_into;
use crate::kds::{l2_seed_key, Gkid, KdfHash, RootKey, SeedKey, SeedKeyCache, GMSA_PASSWORD_LABEL};
use crate::keys::{self, AccountKeys};
use crate::security::Sid;

use super::error::GmsaError;

/// Password bytes, without the terminator.
pub const GMSA_PASSWORD_LEN: usize = 256;
/// With the UTF-16 NUL terminator, as in the msDS-ManagedPassword blob.
pub const GMSA_PASSWORD_WITH_NUL_LEN: usize = GMSA_PASSWORD_LEN + 2;

/// A gMSA password: 256 bytes of UTF-16LE, possibly holding unpaired surrogates.
/// Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ManagedPassword {
    bytes: [u8; GMSA_PASSWORD_LEN],
}

impl fmt::Debug for ManagedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ManagedPassword(<redacted>)")
    }
}

impl ManagedPassword {
    /// Applies the post-processing to raw KDF output: a 0x0000 unit would end the string early,
    /// so it becomes 0x0001 (Samba `gmsa_post_process_password_buffer` [C2]).
    pub fn from_raw_kdf_output(mut raw: [u8; GMSA_PASSWORD_LEN]) -> ManagedPassword {
        for unit in raw.chunks_exact_mut(2) {
            if unit == [0, 0] {
                unit[0] = 1;
            }
        }
        ManagedPassword { bytes: raw }
    }

    /// A password as read back from a blob; it must be 256 bytes with no 0x0000 unit.
    pub fn from_utf16le(b: &[u8]) -> Result<ManagedPassword, GmsaError> {
        let bytes: [u8; GMSA_PASSWORD_LEN] = b
            .try_into()
            .map_err(|_| GmsaError::MalformedPasswordBlob("a gMSA password is 256 bytes"))?;
        if bytes.chunks_exact(2).any(|u| u == [0, 0]) {
            return Err(GmsaError::MalformedPasswordBlob("password holds a NUL unit"));
        }
        Ok(ManagedPassword { bytes })
    }

    /// The 256 UTF-16LE bytes (no terminator).
    pub fn as_utf16le(&self) -> &[u8; GMSA_PASSWORD_LEN] {
        &self.bytes
    }

    /// The 258-byte form with the `00 00` terminator, as stored in msDS-ManagedPassword.
    pub fn with_terminator(&self) -> [u8; GMSA_PASSWORD_WITH_NUL_LEN] {
        let mut out = [0u8; GMSA_PASSWORD_WITH_NUL_LEN];
        out[..GMSA_PASSWORD_LEN].copy_from_slice(&self.bytes);
        out
    }

    /// MD4 over the 256 password bytes, without the terminator (docs/notes/gmsa-gkdi.md §6 [C3]); of the
    /// post-processed bytes, since that is the password the DC sets (§9 item 9: [?]).
    pub fn nt_hash(&self) -> [u8; 16] {
        keys::nt_hash(&self.bytes)
    }

    /// The UTF-8 string-to-key input (unpaired surrogates → U+FFFD).
    pub fn utf8_for_kerberos(&self) -> Vec<u8> {
        keys::utf16le_to_utf8_munged(&self.bytes)
    }

    /// NT hash and AES keys under `salt` (for a gMSA: `keys::computer_salt`).
    pub fn account_keys(&self, salt: &str) -> AccountKeys {
        keys::derive_from_utf16(&self.bytes, salt)
    }
}

/// The raw 256-byte KDF output before post-processing: KDF(H, L2 key, "GMSA PASSWORD", SID).
pub fn raw_kdf_output(hash: KdfHash, l2_key: &SeedKey, sid: &Sid) -> [u8; GMSA_PASSWORD_LEN] {
    let mut raw = [0u8; GMSA_PASSWORD_LEN];
    derive_into(
        hash,
        l2_key.as_bytes(),
        &GMSA_PASSWORD_LABEL,
        &[&sid.to_bytes()],
        &mut raw,
    );
    raw
}

/// The password of the account `sid` for the interval `gkid` under `root`. With a cache, the
/// seed key comes from it (same result, fewer KDF calls). No time checks: callers that derive
/// "at" a time apply `kds::check_derivation_time` (rollover::evaluate does).
pub fn password_for(
    root: &RootKey,
    gkid: Gkid,
    sid: &Sid,
    cache: Option<&SeedKeyCache>,
) -> Result<ManagedPassword, GmsaError> {
    let l2 = match cache {
        Some(c) => c.l2_seed_key(root, gkid)?,
        None => l2_seed_key(root, gkid)?,
    };
    Ok(ManagedPassword::from_raw_kdf_output(raw_kdf_output(
        root.hash, &l2, sid,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_processing_replaces_only_aligned_nul_units() {
        let mut raw = [0xAAu8; GMSA_PASSWORD_LEN];
        raw[10] = 0;
        raw[11] = 0; // aligned NUL unit -> 01 00
        raw[21] = 0;
        raw[22] = 0; // straddles two units: untouched
        raw[254] = 0;
        raw[255] = 0;
        let p = ManagedPassword::from_raw_kdf_output(raw);
        let b = p.as_utf16le();
        assert_eq!(&b[10..12], &[1, 0]);
        assert_eq!(&b[20..24], &[0xAA, 0, 0, 0xAA]);
        assert_eq!(&b[254..], &[1, 0]);
        assert_eq!(b.iter().zip(raw.iter()).filter(|(x, y)| x != y).count(), 2);
        let t = p.with_terminator();
        assert_eq!(&t[256..], &[0, 0]);
        assert!(ManagedPassword::from_utf16le(b).is_ok());
        assert!(ManagedPassword::from_utf16le(&raw).is_err());
        assert!(ManagedPassword::from_utf16le(&b[..255]).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let p = ManagedPassword::from_raw_kdf_output([0x41; GMSA_PASSWORD_LEN]);
        assert_eq!(format!("{p:?}"), "ManagedPassword(<redacted>)");
    }
}
