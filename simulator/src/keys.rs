//! Account secrets shared with the KDC: the NT hash (MD4 over the UTF-16LE password), the
//! UTF-16 → UTF-8 conversion Kerberos string-to-key sees, the AD salt rules and the RFC 3962
//! AES string-to-key (docs/notes/gmsa-gkdi.md §6; MS-KILE 3.1.1.2; RFC 3961 §5.1; RFC 3962 §4).

use std::fmt;

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use md4::{Digest, Md4};
use sha1::Sha1;

/// RFC 3962 §4: the default iteration count of the AES string-to-key.
pub const AES_S2K_DEFAULT_ITERATIONS: u32 = 4096;

/// The keys a DC stores for an account password. Debug never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountKeys {
    /// RC4-HMAC key = NT hash.
    pub nt_hash: [u8; 16],
    /// aes128-cts-hmac-sha1-96 key.
    pub aes128: [u8; 16],
    /// aes256-cts-hmac-sha1-96 key.
    pub aes256: [u8; 32],
}

impl fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountKeys { nt_hash: <redacted>, aes128: <redacted>, aes256: <redacted> }")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("AES keys are 16 or 32 bytes, not {0}")]
    BadKeyLength(usize),
    #[error("the string-to-key iteration count must be at least 1")]
    ZeroIterations,
}

/// NT hash: MD4 over the password's UTF-16LE bytes, no conversion (MS-NLMP 3.3.1).
pub fn nt_hash(utf16le: &[u8]) -> [u8; 16] {
    Md4::digest(utf16le).into()
}

/// UTF-16LE to UTF-8 the way the DC feeds string-to-key (Samba CH_UTF16MUNGED [C2]):
/// a valid surrogate pair becomes one 4-byte character; an unpaired high or low surrogate
/// becomes U+FFFD, one per unit; a 0x0000 unit becomes U+0001. A dangling odd byte (never seen
/// for a real password) becomes U+FFFD too.
pub fn utf16le_to_utf8_munged(utf16le: &[u8]) -> Vec<u8> {
    let units = utf16le
        .chunks_exact(2)
        .map(|c| match u16::from_le_bytes([c[0], c[1]]) {
            0 => 1,
            u => u,
        });
    let mut out = String::with_capacity(utf16le.len() * 3 / 2);
    out.extend(char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
    if utf16le.len() % 2 == 1 {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out.into_bytes()
}

/// Salt of a user account: the realm in upper case followed by the sAMAccountName as it is
/// (MS-KILE 3.1.1.2).
pub fn user_salt(realm: &str, sam_account_name: &str) -> String {
    format!("{}{}", realm.to_uppercase(), sam_account_name)
}

/// Salt of a computer account, and so of a gMSA (userAccountControl WORKSTATION_TRUST_ACCOUNT):
/// `REALM + "host" + lower(sAMAccountName without its trailing "$") + "." + lower(DNS domain)`
/// (MS-KILE 3.1.1.2; docs/notes/gmsa-gkdi.md §6 [C2]).
pub fn computer_salt(realm: &str, sam_account_name: &str, dns_domain: &str) -> String {
    let name = sam_account_name.strip_suffix('$').unwrap_or(sam_account_name);
    format!(
        "{}host{}.{}",
        realm.to_uppercase(),
        name.to_lowercase(),
        dns_domain.to_lowercase()
    )
}

/// RFC 3962 §4 string-to-key: tkey = PBKDF2-HMAC-SHA1(password, salt, iterations, key_len),
/// key = DK(tkey, "kerberos") (RFC 3961 §5.1 with AES as E; random-to-key is the identity).
pub fn aes_string_to_key(
    password_utf8: &[u8],
    salt: &[u8],
    iterations: u32,
    key_len: usize,
) -> Result<Vec<u8>, KeysError> {
    if key_len != 16 && key_len != 32 {
        return Err(KeysError::BadKeyLength(key_len));
    }
    if iterations == 0 {
        return Err(KeysError::ZeroIterations);
    }
    Ok(match key_len {
        16 => s2k::<16>(password_utf8, salt, iterations).to_vec(),
        _ => s2k::<32>(password_utf8, salt, iterations).to_vec(),
    })
}

fn s2k<const N: usize>(password_utf8: &[u8], salt: &[u8], iterations: u32) -> [u8; N] {
    let mut tkey = [0u8; N];
    pbkdf2::pbkdf2_hmac::<Sha1>(password_utf8, salt, iterations, &mut tkey);
    let mut key = [0u8; N];
    key.copy_from_slice(&derive_key(&tkey, b"kerberos"));
    key
}

/// RFC 3961 §5.1 DK(Key, Constant) = random-to-key(DR(Key, Constant)) for the AES enctypes:
/// DR encrypts n-fold(Constant) to the block size, then each block again, with a zero IV each
/// time, until enough bytes exist.
fn derive_key(tkey: &[u8], constant: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 16];
    block.copy_from_slice(&n_fold(constant, 16));
    let mut out = Vec::with_capacity(tkey.len());
    while out.len() < tkey.len() {
        aes_encrypt_block(tkey, &mut block);
        out.extend_from_slice(&block);
    }
    out.truncate(tkey.len());
    out
}

fn aes_encrypt_block(key: &[u8], block: &mut [u8; 16]) {
    let b = aes::Block::from_mut_slice(block);
    if key.len() == 16 {
        Aes128::new(aes::cipher::generic_array::GenericArray::from_slice(key)).encrypt_block(b);
    } else {
        Aes256::new(aes::cipher::generic_array::GenericArray::from_slice(key)).encrypt_block(b);
    }
}

/// RFC 3961 §5.1 n-fold: repeat the input, each copy rotated 13 bits further right, up to the
/// least common multiple of the input and output lengths, then add the output-sized blocks
/// with one's-complement (end-around carry) addition.
pub fn n_fold(input: &[u8], out_len: usize) -> Vec<u8> {
    if input.is_empty() || out_len == 0 {
        return vec![0; out_len];
    }
    let total = lcm(input.len(), out_len);
    let in_bits = input.len() * 8;
    let bit = |j: usize| (input[j / 8] >> (7 - j % 8)) & 1;
    let mut sum = vec![0u8; out_len];
    for block in 0..total / out_len {
        let mut addend = vec![0u8; out_len];
        for (k, byte) in addend.iter_mut().enumerate() {
            for b in 0..8 {
                // Position in the long string, its copy number, and the bit it holds after
                // that copy's rotation right by 13·copy bits.
                let pos = (block * out_len + k) * 8 + b;
                let (copy, offset) = (pos / in_bits, pos % in_bits);
                let rot = (13 * copy) % in_bits;
                *byte |= bit((offset + in_bits - rot) % in_bits) << (7 - b);
            }
        }
        ones_complement_add(&mut sum, &addend);
    }
    sum
}

fn ones_complement_add(acc: &mut [u8], x: &[u8]) {
    let mut carry = 0u16;
    for (a, b) in acc.iter_mut().zip(x).rev() {
        let s = u16::from(*a) + u16::from(*b) + carry;
        *a = s as u8;
        carry = s >> 8;
    }
    while carry != 0 {
        for a in acc.iter_mut().rev() {
            let s = u16::from(*a) + carry;
            *a = s as u8;
            carry = s >> 8;
            if carry == 0 {
                break;
            }
        }
    }
}

fn lcm(a: usize, b: usize) -> usize {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x * b
}

/// NT hash and AES keys from the password as the DC holds it (UTF-16LE, e.g. a gMSA password):
/// MD4 over the UTF-16 bytes, string-to-key over their munged UTF-8 form.
pub fn derive_from_utf16(utf16le: &[u8], salt: &str) -> AccountKeys {
    let utf8 = utf16le_to_utf8_munged(utf16le);
    AccountKeys {
        nt_hash: nt_hash(utf16le),
        aes128: s2k(&utf8, salt.as_bytes(), AES_S2K_DEFAULT_ITERATIONS),
        aes256: s2k(&utf8, salt.as_bytes(), AES_S2K_DEFAULT_ITERATIONS),
    }
}

/// Keys for a text password.
pub fn derive_from_str(password: &str, salt: &str) -> AccountKeys {
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    derive_from_utf16(&utf16, salt)
}

/// Keys for a UTF-8 password; invalid UTF-8 sequences become U+FFFD first (the NT hash needs the
/// UTF-16 form, so the bytes must be read as text).
pub fn derive_account_keys(password_utf8: &[u8], salt: &str) -> AccountKeys {
    derive_from_str(&String::from_utf8_lossy(password_utf8), salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_hash_of_a_known_password() {
        // MS-NLMP 4.2.2.1.2: NTOWFv1("Password") = a4f49c406510bdcab6824ee7c30fd852.
        let pw: Vec<u8> = "Password".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(hex::encode(nt_hash(&pw)), "a4f49c406510bdcab6824ee7c30fd852");
    }

    #[test]
    fn munging_rules() {
        let units = |u: &[u16]| u.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        // a valid pair (U+1D11E)
        assert_eq!(
            utf16le_to_utf8_munged(&units(&[0xD834, 0xDD1E])),
            "\u{1D11E}".as_bytes()
        );
        // lone high, lone low, high followed by a non-low, reversed pair
        assert_eq!(utf16le_to_utf8_munged(&units(&[0xD800])), "\u{FFFD}".as_bytes());
        assert_eq!(
            utf16le_to_utf8_munged(&units(&[0xDC00, 0x41])),
            "\u{FFFD}A".as_bytes()
        );
        assert_eq!(
            utf16le_to_utf8_munged(&units(&[0xD800, 0x41])),
            "\u{FFFD}A".as_bytes()
        );
        assert_eq!(
            utf16le_to_utf8_munged(&units(&[0xDC00, 0xD800])),
            "\u{FFFD}\u{FFFD}".as_bytes()
        );
        assert_eq!(
            utf16le_to_utf8_munged(&units(&[0xD800, 0xD800, 0xDC00])),
            "\u{FFFD}\u{10000}".as_bytes()
        );
        // NUL becomes U+0001; a dangling byte becomes U+FFFD
        assert_eq!(utf16le_to_utf8_munged(&units(&[0x0000])), [0x01]);
        assert_eq!(
            utf16le_to_utf8_munged(&[0x41, 0x00, 0x42]),
            "A\u{FFFD}".as_bytes()
        );
    }

    #[test]
    fn salts() {
        assert_eq!(
            computer_salt("shenanigans.labs", "gMSA1$", "Shenanigans.Labs"),
            "SHENANIGANS.LABShostgmsa1.shenanigans.labs"
        );
        assert_eq!(
            computer_salt("EXAMPLE.COM", "WS01", "example.com"),
            "EXAMPLE.COMhostws01.example.com"
        );
        assert_eq!(user_salt("example.com", "JDoe"), "EXAMPLE.COMJDoe");
    }

    #[test]
    fn n_fold_rfc3961_appendix_a() {
        let cases: [(&[u8], usize, &str); 8] = [
            (b"012345", 8, "be072631276b1955"),
            (b"password", 7, "78a07b6caf85fa"),
            (b"Rough Consensus, and Running Code", 8, "bb6ed30870b7f0e0"),
            (b"password", 21, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"),
            (
                b"MASSACHVSETTS INSTITVTE OF TECHNOLOGY",
                24,
                "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b",
            ),
            (b"Q", 21, "518a54a215a8452a518a54a215a8452a518a54a215"),
            (b"ba", 21, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"),
            (b"kerberos", 16, "6b65726265726f737b9b5b2b93132b93"),
        ];
        for (input, len, expected) in cases {
            assert_eq!(
                hex::encode(n_fold(input, len)),
                expected,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn string_to_key_rejects_bad_parameters() {
        assert_eq!(
            aes_string_to_key(b"p", b"s", 1, 24),
            Err(KeysError::BadKeyLength(24))
        );
        assert_eq!(
            aes_string_to_key(b"p", b"s", 0, 16),
            Err(KeysError::ZeroIterations)
        );
    }

    #[test]
    fn debug_is_redacted() {
        let k = derive_from_str("x", "EXAMPLE.COMx");
        let text = format!("{k:?}");
        assert!(text.contains("redacted") && !text.contains(&hex::encode(k.nt_hash)));
    }
}
