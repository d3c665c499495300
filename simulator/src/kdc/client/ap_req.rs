//! AP-REQs (RFC 4120 §3.2, §5.5.1): the authenticator sealed with a ticket's session key, for
//! a service (usage 11) or inside a TGS-REQ (usage 7), and the GSS-API checksum of RFC 4121
//! §4.1.1 that a Kerberos GSS initiator puts in it.

use super::{ClientError, Credential};
use crate::kdc::crypto::Etype;
pub use crate::kdc::gss_checksum::{gss_flags, GssChecksum, CKSUM_GSSAPI};
use crate::kdc::key_usage;
use crate::kdc::messages::{
    ApReq, Authenticator, AuthorizationDataEntry, Checksum, EncryptedData, EncryptionKey,
};

/// APOptions (RFC 4120 §5.5.1).
pub mod ap_option {
    pub const USE_SESSION_KEY: u32 = 1 << 30;
    pub const MUTUAL_REQUIRED: u32 = 1 << 29;
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
            client_usec: super::fresh_usec(),
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
