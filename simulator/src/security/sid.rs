//! Security identifiers (MS-DTYP 2.4.2): string form `S-1-5-21-…` and the binary form
//! (revision, sub-authority count, 48-bit big-endian authority, sub-authorities as u32 LE).

use std::fmt;
use std::str::FromStr;

/// MS-DTYP 2.4.2: at most 15 sub-authorities.
pub const MAX_SUB_AUTHORITIES: usize = 15;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    pub authority: u64,
    pub sub_authorities: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidError {
    #[error("SID text is not of the form S-1-<authority>-<sub>…: {0}")]
    BadText(String),
    #[error("binary SID is truncated or malformed")]
    BadBinary,
    #[error("SID has more than 15 sub-authorities")]
    TooManySubAuthorities,
}

impl Sid {
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Self {
        Sid {
            authority,
            sub_authorities: sub_authorities.to_vec(),
        }
    }

    /// The SID with one more sub-authority appended: a domain SID plus a RID.
    pub fn with_rid(&self, rid: u32) -> Sid {
        let mut sub = self.sub_authorities.clone();
        sub.push(rid);
        Sid {
            authority: self.authority,
            sub_authorities: sub,
        }
    }

    /// The last sub-authority (the RID of an account SID).
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }

    /// The SID without its last sub-authority (the domain of an account SID).
    pub fn parent(&self) -> Option<Sid> {
        let (_, rest) = self.sub_authorities.split_last()?;
        Some(Sid {
            authority: self.authority,
            sub_authorities: rest.to_vec(),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 4 * self.sub_authorities.len());
        out.push(1);
        out.push(self.sub_authorities.len() as u8);
        out.extend_from_slice(&self.authority.to_be_bytes()[2..]);
        for s in &self.sub_authorities {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    /// Parses a binary SID and returns it with the number of bytes it occupied.
    pub fn from_bytes_prefix(b: &[u8]) -> Result<(Sid, usize), SidError> {
        if b.len() < 8 || b[0] != 1 {
            return Err(SidError::BadBinary);
        }
        let count = b[1] as usize;
        if count > MAX_SUB_AUTHORITIES {
            return Err(SidError::TooManySubAuthorities);
        }
        let len = 8 + 4 * count;
        if b.len() < len {
            return Err(SidError::BadBinary);
        }
        let mut auth = [0u8; 8];
        auth[2..].copy_from_slice(&b[2..8]);
        let sub = b[8..len]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok((
            Sid {
                authority: u64::from_be_bytes(auth),
                sub_authorities: sub,
            },
            len,
        ))
    }

    /// Parses a binary SID that must fill `b` exactly.
    pub fn from_bytes(b: &[u8]) -> Result<Sid, SidError> {
        let (sid, len) = Sid::from_bytes_prefix(b)?;
        if len != b.len() {
            return Err(SidError::BadBinary);
        }
        Ok(sid)
    }
}

impl FromStr for Sid {
    type Err = SidError;
    fn from_str(s: &str) -> Result<Self, SidError> {
        let bad = || SidError::BadText(s.to_string());
        let mut parts = s.split('-');
        if !parts.next().is_some_and(|p| p.eq_ignore_ascii_case("S")) || parts.next() != Some("1") {
            return Err(bad());
        }
        let auth_text = parts.next().ok_or_else(bad)?;
        // MS-DTYP 2.4.2.1: the authority may be written in hex with a 0x prefix.
        let authority = match auth_text
            .strip_prefix("0x")
            .or_else(|| auth_text.strip_prefix("0X"))
        {
            Some(hex) => u64::from_str_radix(hex, 16).map_err(|_| bad())?,
            None => auth_text.parse::<u64>().map_err(|_| bad())?,
        };
        if authority >= 1 << 48 {
            return Err(bad());
        }
        let sub: Vec<u32> = parts
            .map(|p| p.parse::<u32>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        if sub.len() > MAX_SUB_AUTHORITIES {
            return Err(SidError::TooManySubAuthorities);
        }
        Ok(Sid {
            authority,
            sub_authorities: sub,
        })
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.authority >= 1 << 32 {
            write!(f, "S-1-0x{:012X}", self.authority)?;
        } else {
            write!(f, "S-1-{}", self.authority)?;
        }
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_round_trip_matches_spec_example() {
        let sid: Sid = "S-1-5-21-1437000690-1664695696-1586295871-1112".parse().unwrap();
        let hex = hex::encode(sid.to_bytes());
        assert_eq!(hex, "010500000000000515000000f2e3a655903d39633ff48c5e58040000");
        assert_eq!(Sid::from_bytes(&sid.to_bytes()).unwrap(), sid);
        assert_eq!(sid.to_string(), "S-1-5-21-1437000690-1664695696-1586295871-1112");
        assert_eq!(sid.rid(), Some(1112));
    }

    #[test]
    fn rejects_malformed() {
        assert!("S-2-5".parse::<Sid>().is_err());
        assert!("S-1-x".parse::<Sid>().is_err());
        assert!(Sid::from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0]).is_err());
    }
}
