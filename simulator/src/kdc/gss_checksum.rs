//! The authenticator checksum of the Kerberos GSS-API mechanism (RFC 4121 §4.1.1): the wire
//! codec shared by the initiator (`kdc::client`) and the acceptor (`auth::gss_krb5`).

use crate::kdc::messages::Checksum;

/// The checksum type of the GSS-API authenticator checksum (RFC 4121 §4.1.1).
pub const CKSUM_GSSAPI: i32 = 0x8003;

/// Context-establishment flags of the GSS checksum (RFC 4121 §4.1.1.1, RFC 2744 values).
pub mod gss_flags {
    pub const DELEG: u32 = 1;
    pub const MUTUAL: u32 = 2;
    pub const REPLAY: u32 = 4;
    pub const SEQUENCE: u32 = 8;
    pub const CONF: u32 = 16;
    pub const INTEG: u32 = 32;
    /// MS-KILE 3.2.5.2 (GSS_C_DCE_STYLE).
    pub const DCE_STYLE: u32 = 0x1000;
}

/// The 0x8003 checksum (RFC 4121 §4.1.1): channel-binding hash, flags and, with DELEG, a
/// KRB-CRED carrying a forwarded TGT. Integers are little-endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GssChecksum {
    /// MD5 of the channel bindings (RFC 4121 §4.1.1.2); zeros when there are none.
    pub channel_binding: [u8; 16],
    pub flags: u32,
    /// The KRB-CRED sent when `flags` has DELEG (DlgOpt 1).
    pub delegation: Option<Vec<u8>>,
}

impl GssChecksum {
    /// No channel bindings, no delegation, these flags (`gss_flags::MUTUAL | …`).
    pub fn new(flags: u32) -> Self {
        GssChecksum {
            channel_binding: [0; 16],
            flags,
            delegation: None,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&self.channel_binding);
        out.extend_from_slice(&self.flags.to_le_bytes());
        if let Some(cred) = &self.delegation {
            out.extend_from_slice(&1u16.to_le_bytes());
            out.extend_from_slice(&(cred.len() as u16).to_le_bytes());
            out.extend_from_slice(cred);
        }
        out
    }

    /// Reads the checksum an initiator sent (the acceptor's side); extensions after the
    /// delegation field are ignored.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MalformedGssChecksum> {
        let bad = |what: &str| MalformedGssChecksum(format!("GSS checksum: {what}"));
        if bytes.len() < 24 {
            return Err(bad("shorter than 24 bytes"));
        }
        let le32 = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        if le32(0) != 16 {
            return Err(bad("binding length is not 16"));
        }
        let mut channel_binding = [0u8; 16];
        channel_binding.copy_from_slice(&bytes[4..20]);
        let flags = le32(20);
        let delegation = if flags & gss_flags::DELEG != 0 {
            let rest = &bytes[24..];
            if rest.len() < 4 || u16::from_le_bytes([rest[0], rest[1]]) != 1 {
                return Err(bad("DELEG without DlgOpt 1"));
            }
            let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
            Some(
                rest.get(4..4 + len)
                    .ok_or_else(|| bad("Deleg truncated"))?
                    .to_vec(),
            )
        } else {
            None
        };
        Ok(GssChecksum {
            channel_binding,
            flags,
            delegation,
        })
    }

    pub fn to_checksum(&self) -> Checksum {
        Checksum {
            cksumtype: CKSUM_GSSAPI,
            checksum: self.to_bytes(),
        }
    }
}

/// Why bytes are not a GSS checksum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedGssChecksum(pub String);
