//! The GKDI seed-key chain (MS-GKDI 3.1.4.1.2; docs/notes/gmsa-gkdi.md §2):
//! L0 = KDF(root, ctx(L0,−1,−1)); L1(L0,31) = KDF(L0, ctx(L0,31,−1) ‖ SD) — the only step that
//! sees the security descriptor; L1(L0,n) = KDF(L1(L0,n+1), ctx(L0,n,−1));
//! L2(L0,L1,31) = KDF(L1(L0,L1), ctx(L0,L1,31)); L2(L0,L1,n) = KDF(L2(L0,L1,n+1), ctx(L0,L1,n)).

use std::fmt;

use super::error::KdsError;
use super::gkid::{Gkid, GkidLevel, L1_KEYS, L2_KEYS};
use super::kdf::{derive_into, KdfHash, KDS_SERVICE_LABEL};
use super::root_key::RootKey;

/// Seed keys are 64 bytes whatever the hash.
pub const SEED_KEY_LEN: usize = 64;

/// The fixed target SD of gMSA passwords: `O:SYD:(A;;FRFW;;;S-1-5-9)`, 0x0012019F to Enterprise
/// DCs (docs/notes/gmsa-gkdi.md §2 [C3], proven by the Samba and GoldenGMSA known answers).
pub const GMSA_SECURITY_DESCRIPTOR: [u8; 60] = [
    0x01, 0x00, 0x04, 0x80, // revision 1, SE_DACL_PRESENT | SE_SELF_RELATIVE
    0x30, 0x00, 0x00, 0x00, // owner at 48
    0x00, 0x00, 0x00, 0x00, // no group
    0x00, 0x00, 0x00, 0x00, // no SACL
    0x14, 0x00, 0x00, 0x00, // DACL at 20
    0x02, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x00, // ACL rev 2, 28 bytes, 1 ACE
    0x00, 0x00, 0x14, 0x00, 0x9f, 0x01, 0x12, 0x00, // ACCESS_ALLOWED, 20 bytes, mask 0x0012019F
    0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x09, 0x00, 0x00, 0x00, // S-1-5-9
    0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x12, 0x00, 0x00, 0x00, // owner S-1-5-18
];

/// A 64-byte seed key. Debug never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SeedKey([u8; SEED_KEY_LEN]);

impl SeedKey {
    pub fn from_bytes(b: [u8; SEED_KEY_LEN]) -> SeedKey {
        SeedKey(b)
    }

    pub fn as_bytes(&self) -> &[u8; SEED_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for SeedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeedKey(<redacted>)")
    }
}

/// One root key's derivation state: the hash and the GUID every context starts with.
#[derive(Clone, Copy)]
pub(crate) struct Chain<'a> {
    hash: KdfHash,
    root_data: &'a [u8],
    guid_le: [u8; 16],
}

impl<'a> Chain<'a> {
    pub(crate) fn new(root: &'a RootKey) -> Result<Chain<'a>, KdsError> {
        root.check_derivable()?;
        Ok(Chain {
            hash: root.hash,
            root_data: &root.root_key_data,
            guid_le: root.id.to_bytes_le(),
        })
    }

    /// GUID (bytes_le) ‖ LE32(L0) ‖ LE32(L1) ‖ LE32(L2).
    fn context(&self, l0: i32, l1: i32, l2: i32) -> [u8; 28] {
        let mut c = [0u8; 28];
        c[..16].copy_from_slice(&self.guid_le);
        c[16..20].copy_from_slice(&l0.to_le_bytes());
        c[20..24].copy_from_slice(&l1.to_le_bytes());
        c[24..28].copy_from_slice(&l2.to_le_bytes());
        c
    }

    fn kdf(&self, key: &[u8], context: &[&[u8]]) -> SeedKey {
        let mut out = [0u8; SEED_KEY_LEN];
        derive_into(self.hash, key, &KDS_SERVICE_LABEL, context, &mut out);
        SeedKey(out)
    }

    /// L1(L0, 31): from the root data through the L0 key, with `sd` appended at the L1 step.
    pub(crate) fn l1_top(&self, l0: i32, sd: &[u8]) -> SeedKey {
        let l0_key = self.kdf(self.root_data, &[&self.context(l0, -1, -1)]);
        self.kdf(l0_key.as_bytes(), &[&self.context(l0, 31, -1), sd])
    }

    /// L1(L0, n) from L1(L0, n+1).
    pub(crate) fn l1_step(&self, above: &SeedKey, l0: i32, n: i32) -> SeedKey {
        self.kdf(above.as_bytes(), &[&self.context(l0, n, -1)])
    }

    /// L2(L0, L1, n) from L2(L0, L1, n+1), or from L1(L0, L1) when n = 31.
    pub(crate) fn l2_step(&self, above: &SeedKey, l0: i32, l1: i32, n: i32) -> SeedKey {
        self.kdf(above.as_bytes(), &[&self.context(l0, l1, n)])
    }

    /// Walks L1 keys down from `(from_l1, key)` (exclusive) to `to_l1`, handing each new key out.
    pub(crate) fn walk_l1(
        &self,
        l0: i32,
        mut key: SeedKey,
        from_l1: i32,
        to_l1: i32,
        mut seen: impl FnMut(i32, &SeedKey),
    ) -> SeedKey {
        for n in (to_l1..from_l1).rev() {
            key = self.l1_step(&key, l0, n);
            seen(n, &key);
        }
        key
    }

    /// Walks L2 keys down to `to_l2`, starting after L2 index `from_l2` (32 = start from the L1 key).
    pub(crate) fn walk_l2(
        &self,
        l0: i32,
        l1: i32,
        mut key: SeedKey,
        from_l2: i32,
        to_l2: i32,
        mut seen: impl FnMut(i32, &SeedKey),
    ) -> SeedKey {
        for n in (to_l2..from_l2).rev() {
            key = self.l2_step(&key, l0, l1, n);
            seen(n, &key);
        }
        key
    }
}

/// The seed key for an L1 or L2 GKID under an arbitrary target SD (GetKey's general form).
/// L0 keys are never handed out (Windows rejects the request with E_INVALIDARG).
pub fn seed_key_with_sd(root: &RootKey, sd: &[u8], gkid: Gkid) -> Result<SeedKey, KdsError> {
    gkid.validate()?;
    let level = gkid.level();
    if level != GkidLevel::L1 && level != GkidLevel::L2 {
        return Err(KdsError::WrongGkidLevel(gkid.triple(), "L1 or L2"));
    }
    let chain = Chain::new(root)?;
    let top = chain.l1_top(gkid.l0, sd);
    let l1_key = chain.walk_l1(gkid.l0, top, L1_KEYS - 1, gkid.l1, |_, _| {});
    if level == GkidLevel::L1 {
        return Ok(l1_key);
    }
    Ok(chain.walk_l2(gkid.l0, gkid.l1, l1_key, L2_KEYS, gkid.l2, |_, _| {}))
}

/// The L1 seed key (L0, L1) with the gMSA SD.
pub fn l1_seed_key(root: &RootKey, l0: i32, l1: i32) -> Result<SeedKey, KdsError> {
    let gkid = Gkid { l0, l1, l2: -1 };
    gkid.validate()?;
    if gkid.level() != GkidLevel::L1 {
        return Err(KdsError::WrongGkidLevel(gkid.triple(), "L1"));
    }
    seed_key_with_sd(root, &GMSA_SECURITY_DESCRIPTOR, gkid)
}

/// The L2 seed key for `gkid` with the gMSA SD: the key a gMSA password is derived from.
pub fn l2_seed_key(root: &RootKey, gkid: Gkid) -> Result<SeedKey, KdsError> {
    gkid.require_l2()?;
    seed_key_with_sd(root, &GMSA_SECURITY_DESCRIPTOR, gkid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::NtTime;
    use uuid::Uuid;

    fn root() -> RootKey {
        RootKey::new_sp800_108(
            Uuid::from_u128(9),
            KdfHash::Sha512,
            vec![3; 64],
            NtTime(0),
            NtTime(1),
            "CN=DC",
        )
    }

    #[test]
    fn sd_is_the_spec_blob() {
        assert_eq!(
            hex::encode(GMSA_SECURITY_DESCRIPTOR),
            "010004803000000000000000000000001400000002001c0001000000000014009f011200010100000000000509000000010100000000000512000000"
        );
    }

    #[test]
    fn l2_31_derives_from_the_l1_key_of_the_same_l1() {
        let r = root();
        let l1 = l1_seed_key(&r, 7, 5).unwrap();
        let chain = Chain::new(&r).unwrap();
        let expected = chain.l2_step(&l1, 7, 5, 31);
        assert_eq!(l2_seed_key(&r, Gkid { l0: 7, l1: 5, l2: 31 }).unwrap(), expected);
    }

    #[test]
    fn the_sd_only_enters_at_l1_index_31() {
        let r = root();
        let other_sd = [0u8; 20];
        let a = seed_key_with_sd(
            &r,
            &GMSA_SECURITY_DESCRIPTOR,
            Gkid {
                l0: 1,
                l1: 31,
                l2: -1,
            },
        )
        .unwrap();
        let b = seed_key_with_sd(
            &r,
            &other_sd,
            Gkid {
                l0: 1,
                l1: 31,
                l2: -1,
            },
        )
        .unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn refuses_l0_and_invalid_gkids_and_bad_roots() {
        let r = root();
        assert!(seed_key_with_sd(
            &r,
            &[],
            Gkid {
                l0: 1,
                l1: -1,
                l2: -1
            }
        )
        .is_err());
        assert!(l2_seed_key(&r, Gkid { l0: 1, l1: 2, l2: -1 }).is_err());
        assert!(l1_seed_key(&r, 1, 32).is_err());
        let mut bad = root();
        bad.root_key_data.push(0);
        assert_eq!(
            l2_seed_key(&bad, Gkid { l0: 1, l1: 2, l2: 3 }),
            Err(KdsError::BadRootKeyDataLength(65))
        );
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", SeedKey([1; 64])), "SeedKey(<redacted>)");
    }
}
