//! AES256/AES128-CTS-HMAC-SHA1-96 (RFC 3962) as RFC 3961 §5.3's simplified profile, with the
//! derived keys kept per thread.
//!
//! picky-krb's cipher derives Ke and Ki (or Kc) again on every call, and its n-fold of the
//! 5-byte usage constant works bit by bit: 11 % of the KDC's CPU in an AS exchange (perf,
//! docs/benchmarks.md). Its key derivation (`derive_key`, RFC 3961 §5.1 DK) is public and is
//! used here, once per (key, usage, constant); its CTS mode is not public, so the two block
//! modes are written here over the `aes` crate: CBC with a zero IV and the last two blocks
//! swapped, the last one truncated (RFC 3962 §5, CBC-CS3). Tests check every length against
//! picky-krb's own cipher in both directions, and the RFC 3962 Appendix B vectors.

use std::cell::RefCell;
use std::collections::HashMap;

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use hmac::{Hmac, Mac};
use picky_krb::crypto::aes::{derive_key, AesSize};
use sha1::Sha1;

const BLOCK: usize = 16;
/// HMAC output kept (h = 96 bits, RFC 3962 §6).
const MAC: usize = 12;

/// The constant's last octet (RFC 3961 §5.3): Kc, Ke, Ki.
const KC: u8 = 0x99;
const KE: u8 = 0xAA;
const KI: u8 = 0x55;

/// Derived keys a thread keeps before it starts again: the KDC's and the accounts' long-term
/// keys recur, session keys do not, so a small table is enough and stays bounded.
const MAX_DERIVED: usize = 256;

/// The AES key schedule of one key length (on the stack for one message, so the sizes may
/// differ).
#[allow(clippy::large_enum_variant)]
enum Cipher {
    A128(Aes128),
    A256(Aes256),
}

impl Cipher {
    fn new(key: &[u8]) -> Option<Cipher> {
        match key.len() {
            16 => Some(Cipher::A128(Aes128::new(GenericArray::from_slice(key)))),
            32 => Some(Cipher::A256(Aes256::new(GenericArray::from_slice(key)))),
            _ => None,
        }
    }

    fn encrypt(&self, block: &mut [u8; BLOCK]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            Cipher::A128(c) => c.encrypt_block(b),
            Cipher::A256(c) => c.encrypt_block(b),
        }
    }

    fn decrypt(&self, block: &mut [u8; BLOCK]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            Cipher::A128(c) => c.decrypt_block(b),
            Cipher::A256(c) => c.decrypt_block(b),
        }
    }
}

/// DK(key, usage | constant) (RFC 3961 §5.1, §5.3), from this thread's table when it was
/// derived before.
fn derived(key: &[u8], usage: i32, constant: u8) -> Option<Vec<u8>> {
    /// (base key, usage, constant) → derived key.
    type Table = HashMap<(Vec<u8>, i32, u8), Vec<u8>>;
    thread_local! {
        static DERIVED: RefCell<Table> = RefCell::new(HashMap::new());
    }
    let size = match key.len() {
        16 => AesSize::Aes128,
        32 => AesSize::Aes256,
        _ => return None,
    };
    DERIVED.with(|table| {
        let mut table = table.borrow_mut();
        let id = (key.to_vec(), usage, constant);
        if let Some(k) = table.get(&id) {
            return Some(k.clone());
        }
        let mut well_known = [0u8; 5];
        well_known[..4].copy_from_slice(&usage.to_be_bytes());
        well_known[4] = constant;
        let k = derive_key(key, &well_known, &size).ok()?;
        if table.len() >= MAX_DERIVED {
            table.clear();
        }
        table.insert(id, k.clone());
        Some(k)
    })
}

fn hmac_sha1_96(key: &[u8], parts: &[&[u8]]) -> [u8; MAC] {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; MAC];
    out.copy_from_slice(&full[..MAC]);
    out
}

fn xor(a: &mut [u8; BLOCK], b: &[u8]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// CBC-CS3 encryption with a zero IV (RFC 3962 §5); `data` is at least one block.
fn cts_encrypt(cipher: &Cipher, data: &[u8]) -> Vec<u8> {
    let n = data.len().div_ceil(BLOCK);
    let mut out = Vec::with_capacity(n * BLOCK);
    let mut prev = [0u8; BLOCK];
    for chunk in data.chunks(BLOCK) {
        let mut b = prev;
        xor(&mut b, chunk);
        cipher.encrypt(&mut b);
        out.extend_from_slice(&b);
        prev = b;
    }
    if n > 1 {
        // C1 … C(n-2), Cn, C(n-1) cut to the last plaintext block's length.
        let tail = data.len() - (n - 1) * BLOCK;
        let (front, last) = out.split_at_mut((n - 1) * BLOCK);
        let before_last = &mut front[(n - 2) * BLOCK..];
        let mut swapped = [0u8; BLOCK];
        swapped.copy_from_slice(before_last);
        before_last.copy_from_slice(last);
        last[..tail].copy_from_slice(&swapped[..tail]);
        out.truncate(data.len());
    }
    out
}

/// The inverse of [`cts_encrypt`]; `data` is at least one block.
fn cts_decrypt(cipher: &Cipher, data: &[u8]) -> Vec<u8> {
    let n = data.len().div_ceil(BLOCK);
    let block_at = |i: usize| {
        let mut b = [0u8; BLOCK];
        b.copy_from_slice(&data[i * BLOCK..(i + 1) * BLOCK]);
        b
    };
    let mut out = Vec::with_capacity(data.len());
    let mut prev = [0u8; BLOCK];
    for i in 0..n.saturating_sub(2) {
        let c = block_at(i);
        let mut p = c;
        cipher.decrypt(&mut p);
        xor(&mut p, &prev);
        out.extend_from_slice(&p);
        prev = c;
    }
    if n == 1 {
        let mut p = block_at(0);
        cipher.decrypt(&mut p);
        out.extend_from_slice(&p);
        return out;
    }
    // The last full block sent is Cn; C(n-1) is the partial tail followed by what Cn's
    // decryption leaves past it (the plaintext's zero padding xor C(n-1)).
    let tail = data.len() - (n - 1) * BLOCK;
    let mut x = block_at(n - 2);
    cipher.decrypt(&mut x);
    let mut c_before = x;
    c_before[..tail].copy_from_slice(&data[(n - 1) * BLOCK..]);
    let mut last = x;
    xor(&mut last, &c_before);
    let mut p = c_before;
    cipher.decrypt(&mut p);
    xor(&mut p, &prev);
    out.extend_from_slice(&p);
    out.extend_from_slice(&last[..tail]);
    out
}

/// E(key, usage, plaintext) = CTS(Ke, confounder | plaintext) | HMAC-SHA1-96(Ki, confounder |
/// plaintext) (RFC 3961 §5.3). `None` for a key of another length.
pub fn encrypt(key: &[u8], usage: i32, plaintext: &[u8]) -> Option<Vec<u8>> {
    let mut data = vec![0u8; BLOCK];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut data);
    data.extend_from_slice(plaintext);
    let ke = Cipher::new(&derived(key, usage, KE)?)?;
    let mut out = cts_encrypt(&ke, &data);
    out.extend_from_slice(&hmac_sha1_96(&derived(key, usage, KI)?, &[&data]));
    Some(out)
}

/// The plaintext of [`encrypt`]'s output, `None` when it is too short, the key has another
/// length or the HMAC does not match.
pub fn decrypt(key: &[u8], usage: i32, ciphertext: &[u8]) -> Option<Vec<u8>> {
    if ciphertext.len() < BLOCK + MAC {
        return None;
    }
    let (body, mac) = ciphertext.split_at(ciphertext.len() - MAC);
    let ke = Cipher::new(&derived(key, usage, KE)?)?;
    let data = cts_decrypt(&ke, body);
    let expected = hmac_sha1_96(&derived(key, usage, KI)?, &[&data]);
    if !super::rc4hmac::constant_time_eq(&expected, mac) {
        return None;
    }
    Some(data[BLOCK..].to_vec())
}

/// HMAC-SHA1-96-AES (RFC 3962 §7): HMAC-SHA1 with Kc, cut to 96 bits.
pub fn checksum(key: &[u8], usage: i32, data: &[u8]) -> Option<Vec<u8>> {
    Some(hmac_sha1_96(&derived(key, usage, KC)?, &[data]).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use picky_krb::crypto::{ChecksumSuite, CipherSuite};

    /// RFC 3962 Appendix B: AES-128 CTS with the key "chicken teriyaki" and a zero IV.
    #[test]
    fn cts_matches_rfc_3962_appendix_b() {
        let key = b"chicken teriyaki";
        let plain = b"I would like the General Gau's Chicken, please, and wonton soup.";
        let cases = [
            (17, "c6353568f2bf8cb4d8a580362da7ff7f97"),
            (31, "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5"),
            (32, "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584"),
            (
                47,
                "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5",
            ),
            (
                64,
                "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8",
            ),
        ];
        let cipher = Cipher::new(key).unwrap();
        for (len, expected) in cases {
            let ct = cts_encrypt(&cipher, &plain[..len]);
            assert_eq!(ct, hex::decode(expected).unwrap(), "length {len}");
            assert_eq!(cts_decrypt(&cipher, &ct), plain[..len], "length {len}");
        }
    }

    /// Every plaintext length from 0 to 70 octets, both key sizes, against picky-krb's cipher
    /// in both directions; the checksum against picky-krb's.
    #[test]
    fn agrees_with_picky_krb_both_ways() {
        let plain: Vec<u8> = (0..70u8).map(|i| i.wrapping_mul(37)).collect();
        for (suite, sum, len) in [
            (
                CipherSuite::Aes256CtsHmacSha196,
                ChecksumSuite::HmacSha196Aes256,
                32,
            ),
            (
                CipherSuite::Aes128CtsHmacSha196,
                ChecksumSuite::HmacSha196Aes128,
                16,
            ),
        ] {
            let key: Vec<u8> = (0..len as u8).map(|i| i ^ 0x5c).collect();
            for n in 0..plain.len() {
                let p = &plain[..n];
                for usage in [1, 3, 7] {
                    let ours = encrypt(&key, usage, p).unwrap();
                    assert_eq!(suite.cipher().decrypt(&key, usage, &ours).unwrap(), p);
                    let theirs = suite.cipher().encrypt(&key, usage, p).unwrap();
                    assert_eq!(decrypt(&key, usage, &theirs).unwrap(), p);
                    assert_eq!(decrypt(&key, usage + 1, &theirs), None);
                }
                assert_eq!(
                    checksum(&key, 17, p).unwrap(),
                    sum.hasher().checksum(&key, 17, p).unwrap()
                );
            }
        }
    }

    #[test]
    fn refuses_short_input_tampering_and_odd_keys() {
        let key = [7u8; 32];
        let mut ct = encrypt(&key, 2, b"ticket").unwrap();
        assert_eq!(decrypt(&key, 2, &ct[..BLOCK + MAC - 1]), None);
        ct[3] ^= 1;
        assert_eq!(decrypt(&key, 2, &ct), None);
        assert_eq!(encrypt(&key[..24], 2, b"x"), None);
        assert_eq!(decrypt(&key[..24], 2, &ct), None);
    }
}
