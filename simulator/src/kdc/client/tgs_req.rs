//! The TGS exchange from the client side (RFC 4120 §3.3): the TGT goes in PA-TGS-REQ as an
//! AP-REQ whose authenticator checksums the request body.

use super::{read_checked, Answer, ApRequest, ClientError, Credential, ReqBody, DEFAULT_TGS_OPTIONS};
use crate::kdc::crypto::{self, Etype};
use crate::kdc::key_usage;
use crate::kdc::messages::{msg_type, pa_type, Checksum, EncryptionKey, KdcReq, PaData, PrincipalName};

/// The authenticator's checksum over the request body (key usage 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyChecksum {
    /// The keyed checksum that goes with the TGT session key's etype (RFC 3961 §4).
    #[default]
    SessionKey,
    /// This checksum type: keyed with the session key, or unkeyed RSA-MD5 (7) as old
    /// clients send and AD accepts.
    Type(i32),
    /// None at all, as impacket's getKerberosTGS sends (AD accepts it).
    Omit,
}

/// A TGS-REQ (RFC 4120 §5.4.1). Fields are public so a test can set anything.
#[derive(Debug, Clone)]
pub struct TgsRequest {
    /// The realm asked; the TGT's realm when `None`.
    pub realm: Option<String>,
    pub body: ReqBody,
    /// The client's clock: the authenticator's ctime and cusec.
    pub client_time: i64,
    pub client_usec: u32,
    /// A subkey in the authenticator: the KDC then seals the reply with it (usage 9).
    pub subkey: Option<EncryptionKey>,
    pub seq_number: Option<u32>,
    pub body_checksum: BodyChecksum,
}

impl TgsRequest {
    /// A service ticket request for `sname` at `client_time`, forwardable, with the default
    /// etypes, a lifetime of ten hours and a random nonce.
    pub fn new(sname: PrincipalName, client_time: i64) -> Self {
        TgsRequest {
            realm: None,
            body: ReqBody::new(sname, DEFAULT_TGS_OPTIONS, client_time),
            client_time,
            client_usec: super::fresh_usec(),
            subkey: None,
            seq_number: None,
            body_checksum: BodyChecksum::SessionKey,
        }
    }

    /// The request as a structure, the AP-REQ over `tgt` already sealed (`encode` is its DER).
    /// A test may change the body afterwards to see the checksum fail.
    pub fn to_kdc_req(&self, tgt: &Credential) -> Result<KdcReq, ClientError> {
        let realm = self.realm.clone().unwrap_or_else(|| tgt.ticket.realm.clone());
        let body = self.body.to_kdc_req_body(None, realm);
        let body_raw = body.to_der();
        let authenticator = ApRequest {
            checksum: self.checksum(tgt, &body_raw)?,
            subkey: self.subkey.clone(),
            seq_number: self.seq_number,
            client_usec: self.client_usec,
            ..ApRequest::new(self.client_time)
        };
        let ap_req = authenticator.seal(tgt, key_usage::TGS_REQ_AUTH)?;
        Ok(KdcReq {
            msg_type: msg_type::TGS_REQ,
            padata: vec![PaData {
                padata_type: pa_type::PA_TGS_REQ,
                value: ap_req.to_der(),
            }],
            req_body: body,
            req_body_raw: body_raw,
        })
    }

    pub fn encode(&self, tgt: &Credential) -> Result<Vec<u8>, ClientError> {
        Ok(self.to_kdc_req(tgt)?.to_der())
    }

    fn checksum(&self, tgt: &Credential, body_raw: &[u8]) -> Result<Option<Checksum>, ClientError> {
        let key = &tgt.session_key;
        let etype = Etype::from_i32(key.keytype)
            .ok_or_else(|| ClientError::Request(format!("session key of etype {}", key.keytype)))?;
        let cksumtype = match self.body_checksum {
            BodyChecksum::Omit => return Ok(None),
            BodyChecksum::SessionKey => etype.checksum_type(),
            BodyChecksum::Type(t) => t,
        };
        let checksum = if cksumtype == crypto::CKSUM_RSA_MD5 {
            use md5::Digest;
            md5::Md5::digest(body_raw).to_vec()
        } else {
            crypto::checksum(
                cksumtype,
                etype,
                &key.keyvalue,
                key_usage::TGS_REQ_AUTH_CKSUM,
                body_raw,
            )?
        };
        Ok(Some(Checksum { cksumtype, checksum }))
    }

    /// The KDC's answer to this request: a KRB-ERROR, or a TGS-REP opened with the subkey
    /// (usage 9) or else the TGT's session key (usage 8) that carries this request's nonce.
    pub fn read_reply(&self, bytes: &[u8], tgt: &Credential) -> Result<Answer, ClientError> {
        let (key, usage) = match &self.subkey {
            Some(sub) => (&sub.keyvalue, key_usage::TGS_REP_ENC_PART_SUBKEY),
            None => (&tgt.session_key.keyvalue, key_usage::TGS_REP_ENC_PART_SESSION_KEY),
        };
        read_checked(bytes, key, usage, msg_type::TGS_REP, self.body.nonce)
    }
}
