//! SP800-108 counter-mode KDF over HMAC, as MS-GKDI uses it (docs/notes/gmsa-gkdi.md §2):
//! `T(i) = HMAC(K, BE32(i) || Label || 0x00 || Context || BE32(bits))`, i from 1.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};

use super::error::KdsError;

/// The hash named by the root key's KdfParameters blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KdfHash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl KdfHash {
    pub const ALL: [KdfHash; 4] = [KdfHash::Sha1, KdfHash::Sha256, KdfHash::Sha384, KdfHash::Sha512];

    /// The name as written in KdfParameters.
    pub fn name(self) -> &'static str {
        match self {
            KdfHash::Sha1 => "SHA1",
            KdfHash::Sha256 => "SHA256",
            KdfHash::Sha384 => "SHA384",
            KdfHash::Sha512 => "SHA512",
        }
    }

    /// Case-sensitive, as Samba compares it (samba lib/crypto/gkdi.c kdf_sp_800_108_from_params).
    pub fn from_name(name: &str) -> Option<KdfHash> {
        KdfHash::ALL.into_iter().find(|h| h.name() == name)
    }

    /// Bytes per HMAC block.
    pub fn output_len(self) -> usize {
        match self {
            KdfHash::Sha1 => 20,
            KdfHash::Sha256 => 32,
            KdfHash::Sha384 => 48,
            KdfHash::Sha512 => 64,
        }
    }
}

/// "KDS service" as UTF-16LE with its NUL (24 bytes), the label of every seed-key step.
pub const KDS_SERVICE_LABEL: [u8; 24] = utf16z::<24>("KDS service");
/// "GMSA PASSWORD" as UTF-16LE with its NUL (28 bytes), the label of the password step.
pub const GMSA_PASSWORD_LABEL: [u8; 28] = utf16z::<28>("GMSA PASSWORD");

/// ASCII text to UTF-16LE plus a NUL unit, at compile time.
const fn utf16z<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    assert!(N == 2 * b.len() + 2);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < b.len() {
        out[2 * i] = b[i];
        i += 1;
    }
    out
}

/// SP800-108 counter mode over HMAC-`hash`, `nbytes` of output.
pub fn sp800_108_counter_hmac(
    hash: KdfHash,
    key: &[u8],
    label: &[u8],
    context: &[u8],
    nbytes: usize,
) -> Result<Vec<u8>, KdsError> {
    if u32::try_from(nbytes)
        .ok()
        .and_then(|n| n.checked_mul(8))
        .is_none()
    {
        return Err(KdsError::KdfOutputTooLong(nbytes));
    }
    let mut out = vec![0u8; nbytes];
    derive_into(hash, key, label, &[context], &mut out);
    Ok(out)
}

/// Fills `out` with KDF output; the context may come in pieces (GKDI appends the SD to one context).
/// Callers pass fixed small outputs (64 or 256 bytes), so the bit length always fits a u32.
pub(crate) fn derive_into(hash: KdfHash, key: &[u8], label: &[u8], context: &[&[u8]], out: &mut [u8]) {
    match hash {
        KdfHash::Sha1 => fill::<Hmac<Sha1>>(key, label, context, out, 20),
        KdfHash::Sha256 => fill::<Hmac<Sha256>>(key, label, context, out, 32),
        KdfHash::Sha384 => fill::<Hmac<Sha384>>(key, label, context, out, 48),
        KdfHash::Sha512 => fill::<Hmac<Sha512>>(key, label, context, out, 64),
    }
}

fn fill<M: Mac + KeyInit + Clone>(key: &[u8], label: &[u8], context: &[&[u8]], out: &mut [u8], block: usize) {
    // The keyed state (ipad/opad) is computed once and cloned per block.
    let keyed = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of every length");
    let bits = ((out.len() as u64 * 8) as u32).to_be_bytes();
    for (i, chunk) in out.chunks_mut(block).enumerate() {
        let mut mac = keyed.clone();
        mac.update(&(i as u32 + 1).to_be_bytes());
        mac.update(label);
        mac.update(&[0]);
        for piece in context {
            mac.update(piece);
        }
        mac.update(&bits);
        let t = mac.finalize().into_bytes();
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_the_spec_bytes() {
        assert_eq!(
            hex::encode(KDS_SERVICE_LABEL),
            "4b0044005300200073006500720076006900630065000000"
        );
        assert_eq!(
            hex::encode(GMSA_PASSWORD_LABEL),
            "47004d00530041002000500041005300530057004f00520044000000"
        );
    }

    #[test]
    fn hash_names_are_case_sensitive() {
        assert_eq!(KdfHash::from_name("SHA384"), Some(KdfHash::Sha384));
        assert_eq!(KdfHash::from_name("sha384"), None);
        assert_eq!(KdfHash::from_name("MD5"), None);
    }

    #[test]
    fn output_is_a_prefix_of_a_longer_request_except_for_the_length_field() {
        // The length in bits is part of every block, so a shorter request is NOT a prefix.
        let a = sp800_108_counter_hmac(KdfHash::Sha256, b"k", b"l", b"c", 32).unwrap();
        let b = sp800_108_counter_hmac(KdfHash::Sha256, b"k", b"l", b"c", 64).unwrap();
        assert_eq!(b.len(), 64);
        assert_ne!(a[..], b[..32]);
    }

    #[test]
    fn one_block_equals_a_hand_built_hmac() {
        let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(b"key").unwrap();
        mac.update(&[0, 0, 0, 1]);
        mac.update(b"label");
        mac.update(&[0]);
        mac.update(b"context");
        mac.update(&[0, 0, 2, 0]);
        let expected = mac.finalize().into_bytes();
        let got = sp800_108_counter_hmac(KdfHash::Sha512, b"key", b"label", b"context", 64).unwrap();
        assert_eq!(got[..], expected[..]);
    }

    #[test]
    fn refuses_lengths_whose_bit_count_overflows() {
        assert!(matches!(
            sp800_108_counter_hmac(KdfHash::Sha1, b"k", b"", b"", usize::MAX),
            Err(KdsError::KdfOutputTooLong(_))
        ));
    }
}
