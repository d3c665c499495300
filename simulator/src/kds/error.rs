//! Errors of the KDS engine, with the HRESULT a Windows KDS would report where a source names one.

use std::fmt;

/// MS-GKDI / Windows HRESULTs named by the spec (docs/notes/gmsa-gkdi.md §1).
pub mod hresult {
    /// NTE_NO_KEY: no root key qualifies, or the named one is missing.
    pub const NTE_NO_KEY: u32 = 0x8009_000D;
    /// NTE_BAD_KEY: a root key with `msKds-UseStartTime` = 0.
    pub const NTE_BAD_KEY: u32 = 0x8009_0003;
    /// E_INVALIDARG: a GKID the root key cannot serve, or an L0 seed key request.
    pub const E_INVALIDARG: u32 = 0x8007_0057;
}

/// The three indices of a GKID, carried in errors.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GkidTriple(pub i32, pub i32, pub i32);

impl fmt::Debug for GkidTriple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {}, {})", self.0, self.1, self.2)
    }
}

impl fmt::Display for GkidTriple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KdsError {
    #[error("root key version {0} is not supported (only version 1 is)")]
    UnsupportedVersion(u32),
    #[error("msKds-RootKeyData must be 64 bytes, not {0}")]
    BadRootKeyDataLength(usize),
    #[error("KDF algorithm {0:?} is not supported (only SP800_108_CTR_HMAC is)")]
    UnsupportedKdfAlgorithm(String),
    #[error("KDF hash {0:?} is not one of SHA1, SHA256, SHA384, SHA512")]
    UnknownHash(String),
    #[error("malformed KdfParameters blob: {0}")]
    MalformedKdfParameters(&'static str),
    #[error("malformed FfcDhParameters blob: {0}")]
    MalformedDhParameters(&'static str),
    #[error("msKds-KDFParam names {param} but the root key value says {hash}")]
    KdfParamMismatch { param: &'static str, hash: &'static str },
    #[error("GKID {0} is not valid")]
    InvalidGkid(GkidTriple),
    #[error("GKID {0} is not an {1} seed key identifier")]
    WrongGkidLevel(GkidTriple, &'static str),
    #[error("the start time of GKID {0} does not fit in NTTIME")]
    GkidOutOfRange(GkidTriple),
    #[error("no usable KDS root key")]
    NoKey,
    #[error("KDS root key has msKds-UseStartTime 0")]
    BadKey,
    #[error("KDS root key starts too late to serve GKID {0}")]
    KeyTooNewForGkid(GkidTriple),
    #[error("KDS root key may not be used before its msKds-UseStartTime")]
    KeyNotYetUsable,
    #[error("GKID {0} lies in the future")]
    FutureGkid(GkidTriple),
    #[error("KDF output of {0} bytes is too long to express in bits as a u32")]
    KdfOutputTooLong(usize),
}

impl KdsError {
    /// The HRESULT Windows reports for this condition, where a source says which one.
    pub fn hresult(&self) -> Option<u32> {
        match self {
            KdsError::NoKey => Some(hresult::NTE_NO_KEY),
            KdsError::BadKey => Some(hresult::NTE_BAD_KEY),
            KdsError::KeyTooNewForGkid(_) => Some(hresult::E_INVALIDARG),
            KdsError::WrongGkidLevel(_, "L1 or L2") => Some(hresult::E_INVALIDARG),
            _ => None,
        }
    }
}
