//! AP-REQs (RFC 4120 §3.2, §5.5.1): the authenticator sealed with a ticket's session key, for
//! a service (usage 11) or inside a TGS-REQ (usage 7), and the GSS-API checksum of RFC 4121
//! §4.1.1 that a Kerberos GSS initiator puts in it.

use super::{ClientError, Credential};
use crate::kdc::crypto::Etype;
use crate::kdc::key_usage;
use crate::kdc::messages::{
    ApReq, Authenticator, AuthorizationDataEntry, Checksum, EncryptedData, EncryptionKey,
};

/// The checksum type of the GSS-API authenticator checksum (RFC 4121 §4.1.1).
pub const CKSUM_GSSAPI: i32 = 0x8003;

/// APOptions (RFC 4120 §5.5.1).
pub mod ap_option {
    pub const USE_SESSION_KEY: u32 = 1 << 30;
    pub const MUTUAL_REQUIRED: u32 = 1 << 29;
}

/// Context-establishment flags of the GSS checksum (RFC 4121 §4.1.1.1, RFC 2744 values).
pub mod gss_flags {
    pub const DELEG: u32 = 1;
    pub const MUTUAL: u32 = 2;
    pub const REPLAY: u32 = 4;
    pub const SEQUENCE: u32 = 8;
    pub const CONF: u32 = 16;
    pub const INTEG: u32 = 32;
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
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClientError> {
        let bad = |what: &str| ClientError::Malformed(format!("GSS checksum: {what}"));
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

/// An AP-REQ for a service ticket (RFC 4120 §5.5.1): what goes in the authenticator. Build
/// with `new`, add a GSS checksum, subkey or sequence number, then `encode` with the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApRequest {
    /// `ap_option::MUTUAL_REQUIRED` and so on; none by default.
    pub ap_options: u32,
    /// The client's clock: ctime and cusec.
    pub client_time: i64,
    pub client_usec: u32,
    pub checksum: Option<Checksum>,
    /// A key for the session instead of the ticket's (the acceptor uses it, e.g. GSS wrap).
    pub subkey: Option<EncryptionKey>,
    /// The initial sequence number (GSS-API per-message tokens count from it).
    pub seq_number: Option<u32>,
    pub authorization_data: Option<Vec<AuthorizationDataEntry>>,
}

impl ApRequest {
    pub fn new(client_time: i64) -> Self {
        ApRequest {
            ap_options: 0,
            client_time,
            client_usec: 0,
            checksum: None,
            subkey: None,
            seq_number: None,
            authorization_data: None,
        }
    }

    /// The RFC 4121 checksum; with `gss_flags::MUTUAL` also sets MUTUAL-REQUIRED, as GSS
    /// initiators do.
    pub fn gss(mut self, checksum: GssChecksum) -> Self {
        if checksum.flags & gss_flags::MUTUAL != 0 {
            self.ap_options |= ap_option::MUTUAL_REQUIRED;
        }
        self.checksum = Some(checksum.to_checksum());
        self
    }

    /// A fresh random subkey of `etype`.
    pub fn with_subkey(mut self, etype: Etype) -> Self {
        self.subkey = Some(EncryptionKey {
            keytype: etype.number(),
            keyvalue: etype.random_key(),
        });
        self
    }

    pub fn with_seq_number(mut self, seq_number: u32) -> Self {
        self.seq_number = Some(seq_number);
        self
    }

    /// The AP-REQ for the service of `ticket` (authenticator usage 11).
    pub fn to_ap_req(&self, ticket: &Credential) -> Result<ApReq, ClientError> {
        self.seal(ticket, key_usage::AP_REQ_AUTH)
    }

    pub fn encode(&self, ticket: &Credential) -> Result<Vec<u8>, ClientError> {
        Ok(self.to_ap_req(ticket)?.to_der())
    }

    /// The AP-REQ with the authenticator sealed under `usage` with the credential's session key.
    pub(super) fn seal(&self, cred: &Credential, usage: i32) -> Result<ApReq, ClientError> {
        let etype = Etype::from_i32(cred.session_key.keytype).ok_or_else(|| {
            ClientError::Request(format!("session key of etype {}", cred.session_key.keytype))
        })?;
        let authenticator = Authenticator {
            crealm: cred.crealm.clone(),
            cname: cred.cname.clone(),
            cksum: self.checksum.clone(),
            cusec: self.client_usec,
            ctime: self.client_time,
            subkey: self.subkey.clone(),
            seq_number: self.seq_number,
            authorization_data: self.authorization_data.clone(),
        };
        Ok(ApReq {
            ap_options: self.ap_options,
            ticket: cred.ticket.clone(),
            authenticator: EncryptedData {
                etype: etype.number(),
                kvno: None,
                cipher: etype.encrypt(&cred.session_key.keyvalue, usage, &authenticator.to_der())?,
            },
        })
    }
}
