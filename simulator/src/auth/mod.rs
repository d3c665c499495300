//! Pure, sans-I/O authentication engines for the LDAP bind: bytes and keys in, bytes and typed
//! decisions out. No tokio, no Directory; the LDAP front end supplies account look-ups, service
//! keys, the clock and random values.
//!
//! # Flow
//!
//! * **Sicily NTLM** (MS-ADTS 5.1.1.1.3, docs/notes/client-interop.md §7b): `ntlm::NtlmAcceptor::new` →
//!   `challenge(NEGOTIATE)` (CHALLENGE bytes for the matchedDN) → `authenticate(AUTHENTICATE,
//!   &accounts)` → `NtlmOutcome`. A success carries the exported session key from which
//!   `ntlm::NtlmSession` (MS-NLMP 3.4) signs and seals.
//! * **SASL GSSAPI** (RFC 4752): `gss_krb5::accept_sec_context(token, &keys, &policy)` →
//!   `KrbAccepted` (client principal, authorization data with the PAC, keys) and the AP-REP
//!   token from `gss_krb5::build_ap_rep`; then `sasl::server_offer` / `sasl::parse_client_choice`
//!   negotiate the layer, and `sasl::KrbLayer` wraps and unwraps.
//! * **GSS-SPNEGO** (RFC 4178, MS-SPNG): `spnego::decode_neg_token` / `encode_neg_token_resp`
//!   carry the NTLM messages or the krb5 AP-REQ; `spnego::choose_mech` picks the mechanism and
//!   `spnego::mech_list_bytes` gives the bytes the mechListMIC covers. `sasl::NtlmLayer`
//!   provides NTLM sealing (signature || sealed payload) afterwards.
//! * `sasl::frame` / `sasl::try_unframe`: the 4-byte big-endian length that precedes every
//!   wrapped LDAP PDU (RFC 4752 §3.1, RFC 4422 §3.7).
//!
//! Wire codecs (`ntlm` message structs, `spnego` NegToken types, token headers) are kept apart
//! from the state machines (`NtlmAcceptor`, `accept_sec_context`, `SpnegoAcceptor`). Each wire
//! enumeration (flags, AV ids, error codes) lives in one table.

pub mod gss_krb5;
pub mod gss_rc4;
pub mod ntlm;
pub mod sasl;
pub mod spnego;

use md5::{Digest, Md5};

/// HMAC-MD5 (RFC 2104) over the concatenation of `parts` (one implementation, the KDC's).
pub(crate) use crate::kdc::rc4hmac::hmac_md5;

/// MD5 over the concatenation of `parts`.
pub(crate) fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    crate::kdc::rc4hmac::constant_time_eq(a, b)
}

/// Little-endian reader over an input that may be malformed: every read is bounds-checked.
pub(crate) struct LeReader<'a> {
    data: &'a [u8],
}

impl<'a> LeReader<'a> {
    pub(crate) fn at(data: &'a [u8], offset: usize) -> Option<Self> {
        data.get(offset..).map(|data| LeReader { data })
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Some(head)
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.bytes(8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    }
}
