//! The encryption types the KDC speaks: AES256/AES128-CTS-HMAC-SHA1-96 (RFC 3962,
//! `aes_profile`: picky-krb's key derivation, derived keys kept per thread) and RC4-HMAC
//! (RFC 4757, `rc4hmac`). Keys are raw bytes handed over by the database.

use thiserror::Error;

use super::{aes_profile, rc4hmac};

/// Encryption type numbers (RFC 3961 §8, RFC 4757).
pub const ETYPE_AES256: i32 = 18;
pub const ETYPE_AES128: i32 = 17;
pub const ETYPE_RC4_HMAC: i32 = 23;

/// Checksum type numbers (RFC 3961 §8, RFC 4757 §4; RSA-MD5 is RFC 3961 §6.1.3).
pub const CKSUM_RSA_MD5: i32 = 7;
pub const CKSUM_HMAC_SHA1_96_AES128: i32 = 15;
pub const CKSUM_HMAC_SHA1_96_AES256: i32 = 16;
pub const CKSUM_HMAC_MD5: i32 = -138;

/// msDS-SupportedEncryptionTypes bits (MS-KILE 2.2.7).
pub const SUPPORTED_RC4: u32 = 0x4;
pub const SUPPORTED_AES128: u32 = 0x8;
pub const SUPPORTED_AES256: u32 = 0x10;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    #[error("encryption type {0} not supported")]
    UnsupportedEtype(i32),
    #[error("checksum type {0} not supported")]
    UnsupportedChecksum(i32),
    #[error("key has the wrong length for its encryption type")]
    BadKey,
    #[error("decryption integrity check failed")]
    Integrity,
}

/// One of the three encryption types AD issues keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Etype {
    Aes256,
    Aes128,
    Rc4Hmac,
}

impl Etype {
    pub fn from_i32(v: i32) -> Option<Etype> {
        match v {
            ETYPE_AES256 => Some(Etype::Aes256),
            ETYPE_AES128 => Some(Etype::Aes128),
            ETYPE_RC4_HMAC => Some(Etype::Rc4Hmac),
            _ => None,
        }
    }

    pub fn number(self) -> i32 {
        match self {
            Etype::Aes256 => ETYPE_AES256,
            Etype::Aes128 => ETYPE_AES128,
            Etype::Rc4Hmac => ETYPE_RC4_HMAC,
        }
    }

    pub fn key_len(self) -> usize {
        match self {
            Etype::Aes256 => 32,
            Etype::Aes128 | Etype::Rc4Hmac => 16,
        }
    }

    /// The msDS-SupportedEncryptionTypes bit for this etype.
    pub fn supported_bit(self) -> u32 {
        match self {
            Etype::Aes256 => SUPPORTED_AES256,
            Etype::Aes128 => SUPPORTED_AES128,
            Etype::Rc4Hmac => SUPPORTED_RC4,
        }
    }

    /// The keyed checksum that goes with a key of this type (RFC 3961 §4 "required checksum").
    pub fn checksum_type(self) -> i32 {
        match self {
            Etype::Aes256 => CKSUM_HMAC_SHA1_96_AES256,
            Etype::Aes128 => CKSUM_HMAC_SHA1_96_AES128,
            Etype::Rc4Hmac => CKSUM_HMAC_MD5,
        }
    }

    fn check_key(self, key: &[u8]) -> Result<(), CryptoError> {
        if key.len() == self.key_len() {
            Ok(())
        } else {
            Err(CryptoError::BadKey)
        }
    }

    pub fn encrypt(self, key: &[u8], usage: i32, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.check_key(key)?;
        match self {
            Etype::Aes256 | Etype::Aes128 => {
                aes_profile::encrypt(key, usage, plaintext).ok_or(CryptoError::BadKey)
            }
            Etype::Rc4Hmac => Ok(rc4hmac::encrypt(key, usage, plaintext)),
        }
    }

    pub fn decrypt(self, key: &[u8], usage: i32, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.check_key(key)?;
        match self {
            Etype::Aes256 | Etype::Aes128 => {
                aes_profile::decrypt(key, usage, ciphertext).ok_or(CryptoError::Integrity)
            }
            Etype::Rc4Hmac => rc4hmac::decrypt(key, usage, ciphertext).ok_or(CryptoError::Integrity),
        }
    }

    /// A fresh random session key of this type (random-to-key is the identity for AES and RC4).
    pub fn random_key(self) -> Vec<u8> {
        let mut key = vec![0u8; self.key_len()];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        key
    }
}

/// Computes a keyed checksum of `cksumtype` with `key` (whose etype is `key_etype`).
pub fn checksum(
    cksumtype: i32,
    key_etype: Etype,
    key: &[u8],
    usage: i32,
    data: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    key_etype.check_key(key)?;
    match (cksumtype, key_etype) {
        (CKSUM_HMAC_SHA1_96_AES256, Etype::Aes256) | (CKSUM_HMAC_SHA1_96_AES128, Etype::Aes128) => {
            aes_profile::checksum(key, usage, data).ok_or(CryptoError::BadKey)
        }
        // RFC 4757 §4 defines HMAC-MD5 over any key bytes; Windows accepts it with AES
        // session keys too (docs/notes/client-interop.md §11: "AD accepts what kerbad sends").
        (CKSUM_HMAC_MD5, _) => Ok(rc4hmac::checksum(key, usage, data)),
        _ => Err(CryptoError::UnsupportedChecksum(cksumtype)),
    }
}

/// Verifies a checksum received from a client. Unkeyed RSA-MD5 is accepted as AD does for
/// TGS-REQ authenticators (docs/notes/client-interop.md §11); the KDC's own checksums are always keyed.
pub fn verify_checksum(
    cksumtype: i32,
    key_etype: Etype,
    key: &[u8],
    usage: i32,
    data: &[u8],
    expected: &[u8],
) -> Result<bool, CryptoError> {
    let computed = if cksumtype == CKSUM_RSA_MD5 {
        use md5::Digest;
        md5::Md5::digest(data).to_vec()
    } else {
        checksum(cksumtype, key_etype, key, usage, data)?
    };
    Ok(rc4hmac::constant_time_eq(&computed, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trips_and_detects_tampering() {
        for etype in [Etype::Aes256, Etype::Aes128, Etype::Rc4Hmac] {
            let key = etype.random_key();
            let ct = etype.encrypt(&key, 3, b"EncASRepPart").unwrap();
            assert_eq!(etype.decrypt(&key, 3, &ct).unwrap(), b"EncASRepPart");
            assert_eq!(etype.decrypt(&key, 2, &ct), Err(CryptoError::Integrity));
            assert_eq!(etype.decrypt(&key, 3, &ct[..10]), Err(CryptoError::Integrity));
            assert_eq!(etype.decrypt(&key[..8], 3, &ct), Err(CryptoError::BadKey));
        }
    }

    #[test]
    fn checksum_types_must_match_the_key() {
        let key = Etype::Aes256.random_key();
        assert!(checksum(CKSUM_HMAC_SHA1_96_AES128, Etype::Aes256, &key, 6, b"x").is_err());
        let c = checksum(CKSUM_HMAC_SHA1_96_AES256, Etype::Aes256, &key, 6, b"body").unwrap();
        assert_eq!(c.len(), 12);
        assert!(verify_checksum(CKSUM_HMAC_SHA1_96_AES256, Etype::Aes256, &key, 6, b"body", &c).unwrap());
        assert!(!verify_checksum(CKSUM_HMAC_SHA1_96_AES256, Etype::Aes256, &key, 6, b"bodY", &c).unwrap());
    }
}
