//! TSIG (RFC 8945, formerly RFC 2845) for the GSS-TSIG algorithm (RFC 3645 §4), sans I/O:
//! finding the TSIG RR in a message's raw bytes, the digest input a MAC covers (the request's,
//! and a response's, which starts with the request MAC), and the signed response's bytes. The
//! MAC itself is the GSS context's MIC over that input (RFC 3645 §4.1): the caller supplies it.
//!
//! The digest covers the message exactly as sent (compression included), so this works on the
//! bytes, not on a decoded message: hickory-server 0.25 hands request handlers only the decoded
//! message (docs/architecture.md, "DNS").

use hickory_server::proto::rr::Name;
use hickory_server::proto::serialize::binary::{BinDecodable, BinDecoder};

/// The TSIG RR type (RFC 8945 §4.2).
pub const TYPE_TSIG: u16 = 250;
/// CLASS ANY, the only class of TSIG and TKEY RRs.
pub const CLASS_ANY: u16 = 255;
/// The GSS-TSIG algorithm name (RFC 3645 §2).
pub const GSS_TSIG: &str = "gss-tsig.";
/// The fudge this server puts in its own TSIG RRs: the clock skew AD's Kerberos allows.
pub const FUDGE: u16 = 300;

/// TSIG error values (RFC 8945 §5.2, the TSIG RR's Error field), one table.
pub mod error {
    pub const NOERROR: u16 = 0;
    pub const BADSIG: u16 = 16;
    pub const BADKEY: u16 = 17;
    pub const BADTIME: u16 = 18;
}

/// A TSIG RR's owner (the key name) and RDATA (RFC 8945 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tsig {
    pub key_name: Name,
    pub algorithm: Name,
    /// Seconds since 1970, 48 bits.
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    pub error: u16,
    pub other: Vec<u8>,
}

/// A message that ends with a TSIG RR.
#[derive(Debug)]
pub struct Signed<'a> {
    pub tsig: Tsig,
    /// The message's bytes before the TSIG RR (header counts as sent).
    pub unsigned: &'a [u8],
}

/// Malformed DNS message or TSIG RR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed;

/// The header's section counts (RFC 1035 §4.1.1).
fn counts(raw: &[u8]) -> Result<[u16; 4], Malformed> {
    if raw.len() < 12 {
        return Err(Malformed);
    }
    let c = |i: usize| u16::from_be_bytes([raw[4 + 2 * i], raw[5 + 2 * i]]);
    Ok([c(0), c(1), c(2), c(3)])
}

/// Skips a (possibly compressed) name at `pos`, returning the position after it.
fn skip_name(raw: &[u8], mut pos: usize) -> Result<usize, Malformed> {
    // At most 128 labels fit in 255 octets (RFC 1035 §3.1).
    for _ in 0..128 {
        let len = *raw.get(pos).ok_or(Malformed)?;
        match len {
            0 => return Ok(pos + 1),
            l if l & 0xc0 == 0xc0 => {
                return if pos + 2 <= raw.len() {
                    Ok(pos + 2)
                } else {
                    Err(Malformed)
                }
            }
            l if l & 0xc0 == 0 => pos += 1 + usize::from(l),
            _ => return Err(Malformed),
        }
    }
    Err(Malformed)
}

/// Where each section's records start and end: returns the offset of the last additional
/// record, if there is one.
fn last_additional(raw: &[u8]) -> Result<Option<usize>, Malformed> {
    let [qd, an, ns, ar] = counts(raw)?;
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(raw, pos)? + 4;
    }
    let records = usize::from(an) + usize::from(ns) + usize::from(ar);
    let mut last = None;
    for _ in 0..records {
        last = Some(pos);
        pos = skip_name(raw, pos)?;
        let rdlen = raw.get(pos + 8..pos + 10).ok_or(Malformed)?;
        pos += 10 + usize::from(u16::from_be_bytes([rdlen[0], rdlen[1]]));
        if pos > raw.len() {
            return Err(Malformed);
        }
    }
    Ok(if ar == 0 { None } else { last })
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, Malformed> {
    Ok(u16::from_be_bytes(
        b.get(at..at + 2)
            .ok_or(Malformed)?
            .try_into()
            .map_err(|_| Malformed)?,
    ))
}

/// Splits off the message's TSIG RR, when its last record is one (RFC 8945 §5.1: TSIG is the
/// last record of the additional section).
pub fn split(raw: &[u8]) -> Result<Option<Signed<'_>>, Malformed> {
    let Some(start) = last_additional(raw)? else {
        return Ok(None);
    };
    let mut d = BinDecoder::new(raw);
    d.read_slice(start).map_err(|_| Malformed)?;
    let key_name = Name::read(&mut d).map_err(|_| Malformed)?;
    let at = d.index();
    if u16_at(raw, at)? != TYPE_TSIG {
        return Ok(None);
    }
    let rdlen = usize::from(u16_at(raw, at + 8)?);
    let rdata = raw.get(at + 10..at + 10 + rdlen).ok_or(Malformed)?;
    // The algorithm name is never compressed (RFC 8945 §4.2), so it reads from the RDATA alone.
    let mut r = BinDecoder::new(rdata);
    let algorithm = Name::read(&mut r).map_err(|_| Malformed)?;
    let rest = &rdata[r.index()..];
    let time = rest.get(0..6).ok_or(Malformed)?;
    let time_signed = time.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
    let fudge = u16_at(rest, 6)?;
    let mac_len = usize::from(u16_at(rest, 8)?);
    let mac = rest.get(10..10 + mac_len).ok_or(Malformed)?.to_vec();
    let p = 10 + mac_len;
    let original_id = u16_at(rest, p)?;
    let error = u16_at(rest, p + 2)?;
    let other_len = usize::from(u16_at(rest, p + 4)?);
    let other = rest.get(p + 6..p + 6 + other_len).ok_or(Malformed)?.to_vec();
    if p + 6 + other_len != rest.len() {
        return Err(Malformed);
    }
    Ok(Some(Signed {
        tsig: Tsig {
            key_name,
            algorithm,
            time_signed,
            fudge,
            mac,
            original_id,
            error,
            other,
        },
        unsigned: &raw[..start],
    }))
}

/// A name in canonical wire form: lowercase, uncompressed (RFC 8945 §4.3.3, RFC 4034 §6.2).
pub fn canonical_name(name: &Name) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.to_lowercase().iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out
}

/// The TSIG variables (RFC 8945 §4.3.3).
fn variables(t: &Tsig) -> Vec<u8> {
    let mut v = canonical_name(&t.key_name);
    v.extend_from_slice(&CLASS_ANY.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend(canonical_name(&t.algorithm));
    v.extend_from_slice(&t.time_signed.to_be_bytes()[2..]);
    v.extend_from_slice(&t.fudge.to_be_bytes());
    v.extend_from_slice(&t.error.to_be_bytes());
    v.extend_from_slice(&(t.other.len() as u16).to_be_bytes());
    v.extend_from_slice(&t.other);
    v
}

/// The message as it was before signing: the original ID, ARCOUNT without the TSIG RR
/// (RFC 8945 §4.3.1, §4.3.2).
fn unsigned_message(unsigned: &[u8], original_id: u16) -> Vec<u8> {
    let mut m = unsigned.to_vec();
    m[0..2].copy_from_slice(&original_id.to_be_bytes());
    let ar = u16::from_be_bytes([m[10], m[11]]).saturating_sub(1);
    m[10..12].copy_from_slice(&ar.to_be_bytes());
    m
}

/// What a request's MAC covers (RFC 8945 §4.3.2): the message, then the TSIG variables.
pub fn request_digest(signed: &Signed<'_>) -> Vec<u8> {
    let mut d = unsigned_message(signed.unsigned, signed.tsig.original_id);
    d.extend(variables(&signed.tsig));
    d
}

/// What a response's MAC covers (RFC 8945 §4.3.1): the request MAC (length first), the
/// response, then the TSIG variables. `response` has no TSIG RR yet.
pub fn response_digest(request_mac: Option<&[u8]>, response: &[u8], tsig: &Tsig) -> Vec<u8> {
    let mut d = Vec::new();
    if let Some(mac) = request_mac {
        d.extend_from_slice(&(mac.len() as u16).to_be_bytes());
        d.extend_from_slice(mac);
    }
    d.extend_from_slice(response);
    d.extend(variables(tsig));
    d
}

/// `response` (no TSIG RR yet) with `tsig` appended as its last additional record, ARCOUNT
/// counted up. The owner and algorithm names are written uncompressed.
pub fn append(mut response: Vec<u8>, tsig: &Tsig) -> Vec<u8> {
    let mut rdata = canonical_name(&tsig.algorithm);
    rdata.extend_from_slice(&tsig.time_signed.to_be_bytes()[2..]);
    rdata.extend_from_slice(&tsig.fudge.to_be_bytes());
    rdata.extend_from_slice(&(tsig.mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&tsig.mac);
    rdata.extend_from_slice(&tsig.original_id.to_be_bytes());
    rdata.extend_from_slice(&tsig.error.to_be_bytes());
    rdata.extend_from_slice(&(tsig.other.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&tsig.other);
    response.extend(canonical_name(&tsig.key_name));
    response.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    response.extend_from_slice(&CLASS_ANY.to_be_bytes());
    response.extend_from_slice(&0u32.to_be_bytes());
    response.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    response.extend(rdata);
    if response.len() >= 12 {
        let ar = u16::from_be_bytes([response[10], response[11]]).saturating_add(1);
        response[10..12].copy_from_slice(&ar.to_be_bytes());
    }
    response
}

/// Whether `time_signed` is within `fudge` of `now` (RFC 8945 §5.2.3).
pub fn time_ok(time_signed: u64, fudge: u16, now: i64) -> bool {
    (i128::from(now) - i128::from(time_signed)).abs() <= i128::from(fudge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tsig(key: &str) -> Tsig {
        Tsig {
            key_name: Name::from_ascii(key).unwrap(),
            algorithm: Name::from_ascii(GSS_TSIG).unwrap(),
            time_signed: 0x0000_6931_2a00,
            fudge: 300,
            mac: vec![1, 2, 3],
            original_id: 0x1234,
            error: 0,
            other: vec![],
        }
    }

    /// A header with ID 0x1234 and one additional record, then the TSIG RR: split finds it,
    /// and the request digest restores ARCOUNT 0 and covers the canonical (lowercase) key name.
    #[test]
    fn split_and_digest_round_trip() {
        let header = vec![0x12, 0x34, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let t = tsig("123.SIG-dc1.corp.example.test.");
        let raw = append(header.clone(), &t);
        assert_eq!(&raw[10..12], &[0, 1]);
        let signed = split(&raw).unwrap().unwrap();
        assert_eq!(signed.tsig, t);
        assert_eq!(signed.unsigned, &raw[..12]);
        let d = request_digest(&signed);
        assert_eq!(&d[..12], &header[..]);
        assert_eq!(&d[12..16], b"\x03123");
        assert!(d.windows(8).any(|w| w == b"\x07sig-dc1"), "{d:?}");
        // A response digest starts with the request MAC, length first.
        let r = response_digest(Some(&[9, 9]), &header, &t);
        assert_eq!(&r[..4], &[0, 2, 9, 9]);
    }

    #[test]
    fn messages_without_tsig_and_truncated_ones() {
        let header = vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(split(&header).unwrap().is_none());
        let raw = append(header, &tsig("k."));
        assert_eq!(split(&raw[..raw.len() - 1]).unwrap_err(), Malformed);
        assert_eq!(split(&raw[..5]).unwrap_err(), Malformed);
    }

    #[test]
    fn fudge_bounds_the_time() {
        assert!(time_ok(1000, 300, 1300));
        assert!(!time_ok(1000, 300, 1301));
        assert!(!time_ok(1000, 300, 699));
    }
}
