//! RFC 4757 §7 per-message tokens: the GSS-API Wrap and MIC tokens of a Kerberos context whose
//! key is RC4-HMAC (etype 23), in the RFC 1964 layout Windows uses for them. A client gets such a
//! context when its ticket's session key is RC4 (impacket with `-hashes` and `-k`, an account
//! without AES keys), and then seals every LDAP PDU with these tokens.
//!
//! Wrap token (inside the InitialContextToken framing `60 … 06 09 <krb5 OID>`):
//!
//! ```text
//! TOK_ID 02 01 | SGN_ALG 11 00 (HMAC-MD5) | SEAL_ALG 10 00 (RC4) or ff ff | Filler ff ff
//! SND_SEQ (8, encrypted) | SGN_CKSUM (8) | Confounder (8, encrypted when sealed) | data
//! ```
//!
//! * `Ksign = HMAC-MD5(key, "signaturekey\0")`; `SGN_CKSUM = HMAC-MD5(Ksign, MD5(LE32(13) ‖
//!   header[0..8] ‖ confounder ‖ data))[..8]` (usage 15 and no confounder for MIC tokens);
//! * `Kseq = HMAC-MD5(HMAC-MD5(key, LE32(0)), SGN_CKSUM)`; `SND_SEQ = RC4(Kseq, BE32(seq) ‖
//!   direction)`, direction `00 00 00 00` from the initiator and `ff ff ff ff` from the acceptor;
//! * `Kcrypt = HMAC-MD5(HMAC-MD5(key ⊕ 0xf0, LE32(0)), BE32(seq))`; confounder ‖ data are one
//!   RC4 stream under it.
//!
//! The data carries one pad byte `01` (RC4 is a stream cipher: the RFC 1964 padding to the
//! block size is one byte), as MIT and Windows send it and impacket expects it.

use super::gss_krb5::{oid, wrap_initial_token, GssError};
use super::{constant_time_eq, hmac_md5, md5};
use crate::kdc::rc4hmac::rc4_apply;

/// Token ids (RFC 1964 §1.2: MIC 01 01, Wrap 02 01).
pub mod tok_id {
    pub const MIC: [u8; 2] = [0x01, 0x01];
    pub const WRAP: [u8; 2] = [0x02, 0x01];
}

const SGN_ALG_HMAC_MD5: [u8; 2] = [0x11, 0x00];
const SEAL_ALG_RC4: [u8; 2] = [0x10, 0x00];
const SEAL_ALG_NONE: [u8; 2] = [0xff, 0xff];
/// RFC 4757 §7.3 checksum usages.
const USAGE_WRAP: u32 = 13;
const USAGE_MIC: u32 = 15;

/// Which end sends the token (the direction bytes of SND_SEQ).
fn direction(from_acceptor: bool) -> [u8; 4] {
    if from_acceptor {
        [0xff; 4]
    } else {
        [0; 4]
    }
}

fn checksum(key: &[u8], usage: u32, header: &[u8], confounder: &[u8], data: &[u8]) -> [u8; 8] {
    let ksign = hmac_md5(key, &[b"signaturekey\0"]);
    let digest = md5(&[&usage.to_le_bytes(), header, confounder, data]);
    let full = hmac_md5(&ksign, &[&digest]);
    full[..8].try_into().expect("8 of 16 bytes")
}

fn seq_key(key: &[u8], cksum: &[u8]) -> [u8; 16] {
    hmac_md5(&hmac_md5(key, &[&0u32.to_le_bytes()]), &[cksum])
}

fn crypt_key(key: &[u8], seq: u32) -> [u8; 16] {
    let local: Vec<u8> = key.iter().map(|b| b ^ 0xf0).collect();
    hmac_md5(&hmac_md5(&local, &[&0u32.to_le_bytes()]), &[&seq.to_be_bytes()])
}

/// GSS_Wrap: the whole token (framing included) for `plain`, sealed when `conf`.
pub fn wrap(
    key: &[u8],
    seq: u32,
    from_acceptor: bool,
    plain: &[u8],
    conf: bool,
    confounder: [u8; 8],
) -> Vec<u8> {
    let mut header = [0u8; 8];
    header[0..2].copy_from_slice(&tok_id::WRAP);
    header[2..4].copy_from_slice(&SGN_ALG_HMAC_MD5);
    header[4..6].copy_from_slice(if conf { &SEAL_ALG_RC4 } else { &SEAL_ALG_NONE });
    header[6..8].copy_from_slice(&[0xff, 0xff]);
    let mut data = plain.to_vec();
    data.push(0x01);
    let cksum = checksum(key, USAGE_WRAP, &header, &confounder, &data);
    let mut snd_seq = [0u8; 8];
    snd_seq[..4].copy_from_slice(&seq.to_be_bytes());
    snd_seq[4..].copy_from_slice(&direction(from_acceptor));
    rc4_apply(&seq_key(key, &cksum), &mut snd_seq);
    let mut body = confounder.to_vec();
    body.extend_from_slice(&data);
    if conf {
        rc4_apply(&crypt_key(key, seq), &mut body);
    }
    let mut inner = header[2..].to_vec();
    inner.extend_from_slice(&snd_seq);
    inner.extend_from_slice(&cksum);
    inner.extend_from_slice(&body);
    wrap_initial_token(oid::KRB5, tok_id::WRAP, &inner)
}

/// What [`unwrap`] found: the data, whether it was sealed and the sender's sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrapped {
    pub plain: Vec<u8>,
    pub sealed: bool,
    pub seq: u32,
}

/// The fields shared by Wrap and MIC tokens after the framing: header, decrypted SND_SEQ, checksum.
struct Parsed<'a> {
    header: [u8; 8],
    seq: u32,
    cksum: &'a [u8],
    rest: &'a [u8],
}

fn parse<'a>(key: &[u8], token: &'a [u8], id: [u8; 2], from_acceptor: bool) -> Result<Parsed<'a>, GssError> {
    let (mech, inner) = super::gss_krb5::split_initial_token(token)?;
    if mech != oid::KRB5 {
        return Err(GssError::WrongMech);
    }
    if inner.len() < 24 {
        return Err(GssError::Malformed);
    }
    if inner[0..2] != id {
        return Err(GssError::WrongTokenId);
    }
    if inner[2..4] != SGN_ALG_HMAC_MD5 {
        return Err(GssError::Malformed);
    }
    let mut header = [0u8; 8];
    header.copy_from_slice(&inner[..8]);
    let cksum = &inner[16..24];
    let mut snd_seq: [u8; 8] = inner[8..16].try_into().map_err(|_| GssError::Malformed)?;
    rc4_apply(&seq_key(key, cksum), &mut snd_seq);
    if snd_seq[4..] != direction(from_acceptor) {
        // A token this end would have sent (a reflection), or a wrong key.
        return Err(GssError::WrongDirection);
    }
    Ok(Parsed {
        header,
        seq: u32::from_be_bytes(snd_seq[..4].try_into().map_err(|_| GssError::Malformed)?),
        cksum,
        rest: &inner[24..],
    })
}

/// GSS_Unwrap of a token sent by the other end (`from_acceptor`: who sent it).
pub fn unwrap(key: &[u8], token: &[u8], from_acceptor: bool) -> Result<Unwrapped, GssError> {
    let p = parse(key, token, tok_id::WRAP, from_acceptor)?;
    let sealed = match [p.header[4], p.header[5]] {
        SEAL_ALG_RC4 => true,
        SEAL_ALG_NONE => false,
        _ => return Err(GssError::Malformed),
    };
    if p.header[6..8] != [0xff, 0xff] || p.rest.len() < 8 {
        return Err(GssError::Malformed);
    }
    let mut body = p.rest.to_vec();
    if sealed {
        rc4_apply(&crypt_key(key, p.seq), &mut body);
    }
    let (confounder, data) = body.split_at(8);
    let expected = checksum(key, USAGE_WRAP, &p.header, confounder, data);
    if !constant_time_eq(&expected, p.cksum) {
        return Err(GssError::BadIntegrity);
    }
    // The pad: 1 to 8 bytes each holding the pad length (RFC 1964 §1.2.2.3).
    let pad = usize::from(*data.last().ok_or(GssError::Malformed)?);
    if !(1..=8).contains(&pad)
        || pad > data.len()
        || data[data.len() - pad..].iter().any(|b| usize::from(*b) != pad)
    {
        return Err(GssError::Malformed);
    }
    Ok(Unwrapped {
        plain: data[..data.len() - pad].to_vec(),
        sealed,
        seq: p.seq,
    })
}

/// GSS_GetMIC (RFC 4757 §7.2).
pub fn get_mic(key: &[u8], seq: u32, from_acceptor: bool, msg: &[u8]) -> Vec<u8> {
    let mut header = [0xffu8; 8];
    header[0..2].copy_from_slice(&tok_id::MIC);
    header[2..4].copy_from_slice(&SGN_ALG_HMAC_MD5);
    let cksum = checksum(key, USAGE_MIC, &header, &[], msg);
    let mut snd_seq = [0u8; 8];
    snd_seq[..4].copy_from_slice(&seq.to_be_bytes());
    snd_seq[4..].copy_from_slice(&direction(from_acceptor));
    rc4_apply(&seq_key(key, &cksum), &mut snd_seq);
    let mut inner = header[2..].to_vec();
    inner.extend_from_slice(&snd_seq);
    inner.extend_from_slice(&cksum);
    wrap_initial_token(oid::KRB5, tok_id::MIC, &inner)
}

/// GSS_VerifyMIC of a token sent by the other end; returns its sequence number.
pub fn verify_mic(key: &[u8], msg: &[u8], token: &[u8], from_acceptor: bool) -> Result<u32, GssError> {
    let p = parse(key, token, tok_id::MIC, from_acceptor)?;
    if p.header[4..8] != [0xff; 4] || !p.rest.is_empty() {
        return Err(GssError::Malformed);
    }
    let expected = checksum(key, USAGE_MIC, &p.header, &[], msg);
    if !constant_time_eq(&expected, p.cksum) {
        return Err(GssError::BadIntegrity);
    }
    Ok(p.seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 16] = *b"0123456789abcdef";

    #[test]
    fn wrap_and_unwrap_round_trip_sealed_and_signed_only() {
        for conf in [true, false] {
            let token = wrap(&KEY, 7, true, b"LDAP PDU", conf, *b"confound");
            let got = unwrap(&KEY, &token, true).unwrap();
            assert_eq!(
                got,
                Unwrapped {
                    plain: b"LDAP PDU".to_vec(),
                    sealed: conf,
                    seq: 7
                }
            );
            // The plaintext is hidden only when sealed.
            assert_eq!(token.windows(8).any(|w| w == b"LDAP PDU"), !conf);
            // Reflected back to its sender, or flipped: refused.
            assert_eq!(unwrap(&KEY, &token, false), Err(GssError::WrongDirection));
            let mut bad = token.clone();
            let last = bad.len() - 2;
            bad[last] ^= 1;
            assert_eq!(unwrap(&KEY, &bad, true), Err(GssError::BadIntegrity));
        }
    }

    #[test]
    fn mic_round_trip() {
        let token = get_mic(&KEY, 3, false, b"mech list");
        assert_eq!(verify_mic(&KEY, b"mech list", &token, false), Ok(3));
        assert_eq!(
            verify_mic(&KEY, b"other", &token, false),
            Err(GssError::BadIntegrity)
        );
    }
}
