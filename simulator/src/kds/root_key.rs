//! KDS root keys (`msKds-ProvRootKey`, docs/notes/gmsa-gkdi.md §1) and `Add-KdsRootKey` semantics.

use std::fmt;

use uuid::Uuid;

use crate::clock::NtTime;

use super::error::KdsError;
use super::gkid::KEY_CYCLE;
use super::kdf::KdfHash;
use super::params::{hash_from_kdf_param, FfcDhParameters, KdfParameters};

/// `msKds-Version`: Samba and the KDS refuse anything else.
pub const ROOT_KEY_VERSION: u32 = 1;
/// `msKds-RootKeyData` is 64 random bytes.
pub const ROOT_KEY_DATA_LEN: usize = 64;
/// `msKds-KDFAlgorithmID`, compared case-sensitively.
pub const KDF_ALGORITHM_SP800_108: &str = "SP800_108_CTR_HMAC";
/// `msKds-SecretAgreementAlgorithmID` on Windows root keys.
pub const SECRET_AGREEMENT_DH: &str = "DH";
/// `msKds-PublicKeyLength` seen on Windows.
pub const DEFAULT_PUBLIC_KEY_LENGTH: u32 = 2048;
/// `msKds-PrivateKeyLength` seen on Windows (MS-GKDI says 256; GoldenGMSA data shows 512) [C2].
pub const DEFAULT_PRIVATE_KEY_LENGTH: u32 = 512;
/// The no-parameter `Add-KdsRootKey` effective time: 10 days after creation [C1, Samba test comment].
pub const DEFAULT_EFFECTIVE_DELAY: u64 = 10 * 24 * 3600 * 10_000_000;

/// One `msKds-ProvRootKey` object, every attribute.
#[derive(Clone, PartialEq, Eq)]
pub struct RootKey {
    /// `cn`: the key GUID (lower-case text in the RDN, bytes_le in contexts and id blobs).
    pub id: Uuid,
    /// `msKds-Version`.
    pub version: u32,
    /// `msKds-KDFAlgorithmID`.
    pub kdf_algorithm: String,
    /// `msKds-KDFParam` blob; empty stands for an absent attribute (then SHA256).
    pub kdf_param: Vec<u8>,
    /// The hash `kdf_param` names, kept parsed so derivation need not re-read the blob.
    pub hash: KdfHash,
    /// `msKds-SecretAgreementAlgorithmID`.
    pub secret_agreement_algorithm: String,
    /// `msKds-SecretAgreementParam` blob (FfcDhParameters for DH).
    pub secret_agreement_param: Vec<u8>,
    /// `msKds-PublicKeyLength`.
    pub public_key_length: u32,
    /// `msKds-PrivateKeyLength`.
    pub private_key_length: u32,
    /// `msKds-RootKeyData`: the secret every derivation starts from.
    pub root_key_data: Vec<u8>,
    /// `msKds-CreateTime`.
    pub create_time: NtTime,
    /// `msKds-UseStartTime` (the "effective time").
    pub use_start_time: NtTime,
    /// `msKds-DomainID`: DN of the DC computer object that made the key, not the domain DN.
    pub domain_id: String,
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootKey")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("kdf_algorithm", &self.kdf_algorithm)
            .field("hash", &self.hash)
            .field("secret_agreement_algorithm", &self.secret_agreement_algorithm)
            .field("public_key_length", &self.public_key_length)
            .field("private_key_length", &self.private_key_length)
            .field(
                "root_key_data",
                &format_args!("<redacted {} bytes>", self.root_key_data.len()),
            )
            .field("create_time", &self.create_time)
            .field("use_start_time", &self.use_start_time)
            .field("domain_id", &self.domain_id)
            .finish()
    }
}

/// When an `Add-KdsRootKey` key becomes effective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effective {
    /// `-EffectiveImmediately`: UseStartTime = now [inferred; gMSAs still wait 10 h 05 m].
    Immediately,
    /// `-EffectiveTime T`: UseStartTime = T (the lab trick is T = now − 10 h) [C2].
    At(NtTime),
    /// No parameter: UseStartTime = now + 10 days [C1, single source: a Samba test comment].
    Default,
}

impl RootKey {
    /// A root key as `Add-KdsRootKey` writes it on Windows: version 1, SP800-108 over SHA512,
    /// the RFC 5114 DH group, key lengths 2048/512.
    pub fn new_add_kds_root_key(
        id: Uuid,
        data: [u8; ROOT_KEY_DATA_LEN],
        now: NtTime,
        effective: Effective,
        domain_id_dn: &str,
    ) -> RootKey {
        let use_start_time = match effective {
            Effective::Immediately => now,
            Effective::At(t) => t,
            Effective::Default => NtTime(now.0.saturating_add(DEFAULT_EFFECTIVE_DELAY)),
        };
        RootKey::new_sp800_108(
            id,
            KdfHash::Sha512,
            data.to_vec(),
            now,
            use_start_time,
            domain_id_dn,
        )
    }

    /// A root key with an explicit hash (test vectors use SHA1/256/384 keys) and Windows defaults
    /// for the attributes gMSA does not use.
    pub fn new_sp800_108(
        id: Uuid,
        hash: KdfHash,
        root_key_data: Vec<u8>,
        create_time: NtTime,
        use_start_time: NtTime,
        domain_id: &str,
    ) -> RootKey {
        RootKey {
            id,
            version: ROOT_KEY_VERSION,
            kdf_algorithm: KDF_ALGORITHM_SP800_108.to_string(),
            kdf_param: KdfParameters::for_hash(hash).encode(),
            hash,
            secret_agreement_algorithm: SECRET_AGREEMENT_DH.to_string(),
            secret_agreement_param: FfcDhParameters::rfc5114_2048_256().encode().unwrap_or_default(),
            public_key_length: DEFAULT_PUBLIC_KEY_LENGTH,
            private_key_length: DEFAULT_PRIVATE_KEY_LENGTH,
            root_key_data,
            create_time,
            use_start_time,
            domain_id: domain_id.to_string(),
        }
    }

    /// What derivation needs (Samba `GkdiContext`): version 1, 64 bytes of data, SP800-108.
    pub fn check_derivable(&self) -> Result<(), KdsError> {
        if self.version != ROOT_KEY_VERSION {
            return Err(KdsError::UnsupportedVersion(self.version));
        }
        if self.root_key_data.len() != ROOT_KEY_DATA_LEN {
            return Err(KdsError::BadRootKeyDataLength(self.root_key_data.len()));
        }
        if self.kdf_algorithm != KDF_ALGORITHM_SP800_108 {
            return Err(KdsError::UnsupportedKdfAlgorithm(self.kdf_algorithm.clone()));
        }
        Ok(())
    }

    /// Every check: derivable, the KDFParam blob parses and agrees with `hash`, and a DH
    /// parameter blob (when present) is well formed.
    pub fn validate(&self) -> Result<(), KdsError> {
        self.check_derivable()?;
        let named = hash_from_kdf_param(&self.kdf_param)?;
        if named != self.hash {
            return Err(KdsError::KdfParamMismatch {
                param: named.name(),
                hash: self.hash.name(),
            });
        }
        if self.secret_agreement_algorithm == SECRET_AGREEMENT_DH && !self.secret_agreement_param.is_empty() {
            FfcDhParameters::parse(&self.secret_agreement_param)?;
        }
        Ok(())
    }

    /// The earliest time a new gMSA may pick this key: UseStartTime + 10 h 05 m (§1 rule 1).
    pub fn usable_for_new_gmsa_from(&self) -> NtTime {
        NtTime(
            self.use_start_time
                .0
                .saturating_add(KEY_CYCLE + super::gkid::MAX_SKEW),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RootKey {
        RootKey::new_add_kds_root_key(
            Uuid::from_u128(0x1234),
            [7u8; 64],
            NtTime(132895801920510000),
            Effective::Immediately,
            "CN=DC1,OU=Domain Controllers,DC=example,DC=com",
        )
    }

    #[test]
    fn add_kds_root_key_effective_times() {
        let now = NtTime(132895801920510000);
        let dn = "CN=DC1,OU=Domain Controllers,DC=example,DC=com";
        let id = Uuid::from_u128(1);
        let imm = RootKey::new_add_kds_root_key(id, [1; 64], now, Effective::Immediately, dn);
        assert_eq!(imm.use_start_time, now);
        let earlier = NtTime(now.0 - 10 * 3600 * 10_000_000);
        let at = RootKey::new_add_kds_root_key(id, [1; 64], now, Effective::At(earlier), dn);
        assert_eq!(at.use_start_time, earlier);
        let def = RootKey::new_add_kds_root_key(id, [1; 64], now, Effective::Default, dn);
        assert_eq!(def.use_start_time.0 - now.0, 8_640_000_000_000);
        assert_eq!(def.create_time, now);
        assert_eq!(def.hash, KdfHash::Sha512);
        assert_eq!(
            hex::encode(&def.kdf_param),
            "00000000010000000e000000000000005300480041003500310032000000"
        );
        assert_eq!(def.secret_agreement_param.len(), 524);
        assert_eq!((def.public_key_length, def.private_key_length), (2048, 512));
        def.validate().unwrap();
    }

    #[test]
    fn validation_errors_are_specific() {
        let mut k = key();
        k.version = 2;
        assert_eq!(k.validate(), Err(KdsError::UnsupportedVersion(2)));
        let mut k = key();
        k.root_key_data.pop();
        assert_eq!(k.validate(), Err(KdsError::BadRootKeyDataLength(63)));
        let mut k = key();
        k.kdf_algorithm = "sp800_108_ctr_hmac".into();
        assert!(matches!(k.validate(), Err(KdsError::UnsupportedKdfAlgorithm(_))));
        let mut k = key();
        k.kdf_param = KdfParameters {
            hash_name: "MD5".into(),
        }
        .encode();
        assert_eq!(k.validate(), Err(KdsError::UnknownHash("MD5".into())));
        let mut k = key();
        k.hash = KdfHash::Sha1;
        assert!(matches!(k.validate(), Err(KdsError::KdfParamMismatch { .. })));
        let mut k = key();
        k.secret_agreement_param.truncate(100);
        assert!(matches!(k.validate(), Err(KdsError::MalformedDhParameters(_))));
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let text = format!("{:?}", key());
        assert!(text.contains("redacted 64 bytes"));
        assert!(!text.contains("7, 7, 7"));
    }
}
