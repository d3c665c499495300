//! Byte mutations for the decoders' robustness tests (a stable-Rust cousin of the cargo-fuzz
//! targets in simulator/fuzz): bit flips, byte sets, insertions, removals, truncations,
//! BER/DER length-octet tweaks and duplicated runs, applied to real inputs.

use proptest::prelude::*;

#[derive(Debug, Clone)]
pub enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    /// A byte replaced by a length octet that breaks framing: 0, 0x7f, an indefinite or long
    /// form header, or 0xff.
    Length(usize, u8),
    /// A run of up to 16 bytes repeated in place.
    Duplicate(usize, usize),
}

const LENGTH_OCTETS: [u8; 7] = [0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff];

pub fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() && !matches!(m, Mutation::Insert(..)) {
        return;
    }
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *m {
        Mutation::Flip(i, bit) => {
            let i = at(i, bytes.len());
            bytes[i] ^= 1 << (bit % 8);
        }
        Mutation::Set(i, b) => {
            let i = at(i, bytes.len());
            bytes[i] = b;
        }
        Mutation::Insert(i, b) => {
            let i = at(i, bytes.len() + 1);
            bytes.insert(i, b);
        }
        Mutation::Remove(i) => {
            let i = at(i, bytes.len());
            bytes.remove(i);
        }
        Mutation::Truncate(i) => {
            let i = at(i, bytes.len());
            bytes.truncate(i);
        }
        Mutation::Length(i, which) => {
            let i = at(i, bytes.len());
            bytes[i] = LENGTH_OCTETS[usize::from(which) % LENGTH_OCTETS.len()];
        }
        Mutation::Duplicate(i, len) => {
            let i = at(i, bytes.len());
            let end = (i + 1 + len % 16).min(bytes.len());
            let run = bytes[i..end].to_vec();
            bytes.splice(end..end, run);
        }
    }
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Length(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

/// `seed` with `mutations` applied in order.
pub fn mutated(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for m in mutations {
        mutate(&mut bytes, m);
    }
    bytes
}
