//! The two parameter blobs of a root key: KdfParameters (`msKds-KDFParam`) and
//! FfcDhParameters (`msKds-SecretAgreementParam`); MS-GKDI 2.2.1 and 2.2.2, docs/notes/gmsa-gkdi.md §1.

use super::error::KdsError;
use super::kdf::KdfHash;

/// `msKds-KDFParam`: u32 0, u32 1 (parameter count), u32 name length in bytes (with NUL),
/// u32 0 (parameter id), then the hash name in UTF-16LE with its NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdfParameters {
    /// The hash name as stored; only SHA1/SHA256/SHA384/SHA512 can be used.
    pub hash_name: String,
}

const KDF_PARAM_HEADER: usize = 16;

impl KdfParameters {
    pub fn for_hash(hash: KdfHash) -> KdfParameters {
        KdfParameters {
            hash_name: hash.name().to_string(),
        }
    }

    /// The hash it names, or `UnknownHash` (Samba answers NOT_SUPPORTED).
    pub fn hash(&self) -> Result<KdfHash, KdsError> {
        KdfHash::from_name(&self.hash_name).ok_or_else(|| KdsError::UnknownHash(self.hash_name.clone()))
    }

    pub fn encode(&self) -> Vec<u8> {
        let name: Vec<u8> = self
            .hash_name
            .encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut out = Vec::with_capacity(KDF_PARAM_HEADER + name.len());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&name);
        out
    }

    /// Strict parse: the fixed fields must hold their documented values and the name must fill
    /// the rest of the blob exactly, ending in its NUL.
    pub fn parse(b: &[u8]) -> Result<KdfParameters, KdsError> {
        let bad = KdsError::MalformedKdfParameters;
        if b.len() < KDF_PARAM_HEADER {
            return Err(bad("shorter than its 16-byte header"));
        }
        if le32(b, 0) != 0 || le32(b, 12) != 0 {
            return Err(bad("reserved fields are not zero"));
        }
        if le32(b, 4) != 1 {
            return Err(bad("parameter count is not 1"));
        }
        let name_len = le32(b, 8) as usize;
        if name_len != b.len() - KDF_PARAM_HEADER {
            return Err(bad("name length does not match the blob length"));
        }
        let hash_name =
            utf16z_to_string(&b[KDF_PARAM_HEADER..]).ok_or(bad("name is not NUL-terminated UTF-16"))?;
        Ok(KdfParameters { hash_name })
    }
}

/// The hash a root key uses: from its KDFParam blob, or SHA256 when the attribute is absent
/// (an empty value stands for absent) — Samba's "default used by Windows" [C1].
pub fn hash_from_kdf_param(kdf_param: &[u8]) -> Result<KdfHash, KdsError> {
    if kdf_param.is_empty() {
        return Ok(KdfHash::Sha256);
    }
    KdfParameters::parse(kdf_param)?.hash()
}

/// `msKds-SecretAgreementParam` for DH: u32 length (12 + 2·key_length), "DHPM", u32 key_length,
/// then the field order p and the generator g, each `key_length` bytes big-endian.
/// Unused by gMSA (only public-key DPAPI-NG needs it); kept so root keys look like Windows ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfcDhParameters {
    pub key_length: u32,
    pub field_order: Vec<u8>,
    pub generator: Vec<u8>,
}

/// "DHPM" read as a little-endian u32.
pub const DH_PARAMETERS_MAGIC: u32 = 0x4D50_4844;

/// RFC 5114 §2.3, 2048-bit MODP group with a 256-bit prime-order subgroup: p.
const RFC5114_2_3_P: [u8; 256] = hex_const(
    "87A8E61D B4B6663C FFBBD19C 65195999 8CEEF608 660DD0F2
     5D2CEED4 435E3B00 E00DF8F1 D61957D4 FAF7DF45 61B2AA30
     16C3D911 34096FAA 3BF4296D 830E9A7C 209E0C64 97517ABD
     5A8A9D30 6BCF67ED 91F9E672 5B4758C0 22E0B1EF 4275BF7B
     6C5BFC11 D45F9088 B941F54E B1E59BB8 BC39A0BF 12307F5C
     4FDB70C5 81B23F76 B63ACAE1 CAA6B790 2D525267 35488A0E
     F13C6D9A 51BFA4AB 3AD83477 96524D8E F6A167B5 A41825D9
     67E144E5 14056425 1CCACB83 E6B486F6 B3CA3F79 71506026
     C0B857F6 89962856 DED4010A BD0BE621 C3A3960A 54E710C3
     75F26375 D7014103 A4B54330 C198AF12 6116D227 6E11715F
     693877FA D7EF09CA DB094AE9 1E1A1597",
);

/// RFC 5114 §2.3: the generator g.
const RFC5114_2_3_G: [u8; 256] = hex_const(
    "3FB32C9B 73134D0B 2E775066 60EDBD48 4CA7B18F 21EF2054
     07F4793A 1A0BA125 10DBC150 77BE463F FF4FED4A AC0BB555
     BE3A6C1B 0C6B47B1 BC3773BF 7E8C6F62 901228F8 C28CBB18
     A55AE313 41000A65 0196F931 C77A57F2 DDF463E5 E9EC144B
     777DE62A AAB8A862 8AC376D2 82D6ED38 64E67982 428EBC83
     1D14348F 6F2F9193 B5045AF2 767164E1 DFC967C1 FB3F2E55
     A4BD1BFF E83B9C80 D052B985 D182EA0A DB2A3B73 13D3FE14
     C8484B1E 052588B9 B7D2BBD2 DF016199 ECD06E15 57CD0915
     B3353BBB 64E0EC37 7FD02837 0DF92B52 C7891428 CDC67EB6
     184B523D 1DB246C3 2F630784 90F00EF8 D647D148 D4795451
     5E2327CF EF98C582 664B4C0F 6CC41659",
);

impl FfcDhParameters {
    /// The group Windows writes into every root key (docs/notes/gmsa-gkdi.md §1; a 524-byte blob).
    pub fn rfc5114_2048_256() -> FfcDhParameters {
        FfcDhParameters {
            key_length: 256,
            field_order: RFC5114_2_3_P.to_vec(),
            generator: RFC5114_2_3_G.to_vec(),
        }
    }

    /// Fails when p or g is not `key_length` bytes long.
    pub fn encode(&self) -> Result<Vec<u8>, KdsError> {
        let n = self.key_length as usize;
        if self.field_order.len() != n || self.generator.len() != n {
            return Err(KdsError::MalformedDhParameters(
                "p and g must be key_length bytes each",
            ));
        }
        let total =
            dh_total_len(self.key_length).ok_or(KdsError::MalformedDhParameters("key_length too large"))?;
        let mut out = Vec::with_capacity(total as usize);
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&DH_PARAMETERS_MAGIC.to_le_bytes());
        out.extend_from_slice(&self.key_length.to_le_bytes());
        out.extend_from_slice(&self.field_order);
        out.extend_from_slice(&self.generator);
        Ok(out)
    }

    pub fn parse(b: &[u8]) -> Result<FfcDhParameters, KdsError> {
        let bad = KdsError::MalformedDhParameters;
        if b.len() < 12 {
            return Err(bad("shorter than its 12-byte header"));
        }
        if le32(b, 4) != DH_PARAMETERS_MAGIC {
            return Err(bad("magic is not DHPM"));
        }
        let key_length = le32(b, 8);
        let total = dh_total_len(key_length).ok_or(bad("key_length overflows the length field"))?;
        if le32(b, 0) != total {
            return Err(bad("length field is not 12 + 2 * key_length"));
        }
        if b.len() as u64 != u64::from(total) {
            return Err(bad("blob length does not match its length field"));
        }
        let n = key_length as usize;
        Ok(FfcDhParameters {
            key_length,
            field_order: b[12..12 + n].to_vec(),
            generator: b[12 + n..12 + 2 * n].to_vec(),
        })
    }
}

fn dh_total_len(key_length: u32) -> Option<u32> {
    key_length.checked_mul(2)?.checked_add(12)
}

pub(crate) fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// UTF-16LE bytes that end in exactly one NUL unit (and hold no other) to a String.
pub(crate) fn utf16z_to_string(b: &[u8]) -> Option<String> {
    if b.len() < 2 || b.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let (last, body) = units.split_last()?;
    if *last != 0 || body.contains(&0) {
        return None;
    }
    String::from_utf16(body).ok()
}

/// Hex digits (whitespace ignored) to bytes at compile time; a wrong count fails the build.
const fn hex_const<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    let mut out = [0u8; N];
    let mut nibbles = 0;
    let mut i = 0;
    while i < b.len() {
        let v = match b[i] {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'A'..=b'F' => c - b'A' + 10,
            c @ b'a'..=b'f' => c - b'a' + 10,
            b' ' | b'\n' | b'\r' | b'\t' => 16,
            _ => panic!("not a hex digit"),
        };
        if v < 16 {
            out[nibbles / 2] |= if nibbles % 2 == 0 { v << 4 } else { v };
            nibbles += 1;
        }
        i += 1;
    }
    assert!(nibbles == 2 * N);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA512_PARAM: &str = "00000000010000000e000000000000005300480041003500310032000000";

    #[test]
    fn kdf_parameters_round_trip_the_windows_blob() {
        let p = KdfParameters::parse(&hex::decode(SHA512_PARAM).unwrap()).unwrap();
        assert_eq!(p.hash().unwrap(), KdfHash::Sha512);
        assert_eq!(
            hex::encode(KdfParameters::for_hash(KdfHash::Sha512).encode()),
            SHA512_PARAM
        );
        for h in KdfHash::ALL {
            let blob = KdfParameters::for_hash(h).encode();
            assert_eq!(hash_from_kdf_param(&blob).unwrap(), h);
        }
    }

    #[test]
    fn kdf_parameters_reject_malformed_blobs() {
        let good = hex::decode(SHA512_PARAM).unwrap();
        for cut in 0..good.len() {
            assert!(KdfParameters::parse(&good[..cut]).is_err(), "truncated at {cut}");
        }
        let mut count = good.clone();
        count[4] = 2;
        assert!(KdfParameters::parse(&count).is_err());
        let mut len = good.clone();
        len[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(KdfParameters::parse(&len).is_err());
        let mut trailing = good.clone();
        trailing.extend_from_slice(&[0, 0]);
        assert!(KdfParameters::parse(&trailing).is_err());
    }

    #[test]
    fn unknown_hash_names_are_refused_and_absent_means_sha256() {
        let md5 = KdfParameters {
            hash_name: "MD5".into(),
        }
        .encode();
        assert_eq!(
            hash_from_kdf_param(&md5),
            Err(KdsError::UnknownHash("MD5".into()))
        );
        let lower = KdfParameters {
            hash_name: "sha512".into(),
        }
        .encode();
        assert!(matches!(
            hash_from_kdf_param(&lower),
            Err(KdsError::UnknownHash(_))
        ));
        assert_eq!(hash_from_kdf_param(&[]).unwrap(), KdfHash::Sha256);
    }

    #[test]
    fn dh_parameters_are_the_524_byte_rfc5114_blob() {
        let blob = FfcDhParameters::rfc5114_2048_256().encode().unwrap();
        assert_eq!(blob.len(), 524);
        assert_eq!(hex::encode(&blob[..16]), "0c0200004448504d0001000087a8e61d");
        assert_eq!(hex::encode(&blob[268..272]), "3fb32c9b");
        assert_eq!(hex::encode(&blob[520..]), "6cc41659");
        assert_eq!(
            FfcDhParameters::parse(&blob).unwrap(),
            FfcDhParameters::rfc5114_2048_256()
        );
    }

    #[test]
    fn dh_parameters_reject_malformed_blobs() {
        let blob = FfcDhParameters::rfc5114_2048_256().encode().unwrap();
        assert!(FfcDhParameters::parse(&blob[..523]).is_err());
        let mut magic = blob.clone();
        magic[4] = b'X';
        assert!(FfcDhParameters::parse(&magic).is_err());
        let mut huge = blob.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(FfcDhParameters::parse(&huge).is_err());
        let odd = FfcDhParameters {
            key_length: 4,
            field_order: vec![1; 3],
            generator: vec![2; 4],
        };
        assert!(odd.encode().is_err());
    }
}
