//! A sans-I/O kpasswd client (RFC 3244) over a `kadmin/changepw` ticket from `kdc::client`:
//! builds change and set requests and reads the reply, as MIT's chpw.c does (the AP-REP's
//! sequence number must be the KRB-PRIV's). Tests and the harness drive the service with it.

use super::codec::{self, version, ChangePasswdData};
use super::host_address;
use crate::kdc::client::{ApRequest, ClientError, Credential};
use crate::kdc::crypto::Etype;
use crate::kdc::key_usage;
use crate::kdc::messages::{
    ApRep, EncApRepPart, EncKrbPrivPart, EncryptedData, EncryptionKey, KrbError, KrbPriv, PrincipalName,
};

/// One request: build with [`PasswordChange::change`] or [`PasswordChange::set`].
#[derive(Clone)]
pub struct PasswordChange {
    pub version: u16,
    new_password: String,
    target: Option<(PrincipalName, String)>,
    client_time: i64,
    seq: u32,
    subkey: Option<EncryptionKey>,
}

/// What the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpasswdAnswer {
    pub result: u16,
    pub text: Vec<u8>,
    /// The KRB-ERROR, when the reply was one.
    pub error: Option<KrbError>,
}

impl PasswordChange {
    /// A version 1 change of the ticket client's own password.
    pub fn change(new_password: &str, client_time: i64) -> Self {
        PasswordChange {
            version: version::CHANGE,
            new_password: new_password.to_string(),
            target: None,
            client_time,
            seq: 0x1234_5678,
            subkey: None,
        }
    }

    /// A version 0xff80 set of `target@realm`'s password (`None`: the client's own).
    pub fn set(target: Option<(PrincipalName, String)>, new_password: &str, client_time: i64) -> Self {
        PasswordChange {
            version: version::SET,
            target,
            ..PasswordChange::change(new_password, client_time)
        }
    }

    /// The request for `ticket` (a kadmin/changepw credential): AP-REQ with a fresh subkey of
    /// the session key's etype and a sequence number, KRB-PRIV sealed with the subkey.
    pub fn encode(&mut self, ticket: &Credential) -> Result<Vec<u8>, ClientError> {
        let etype = Etype::from_i32(ticket.session_key.keytype)
            .ok_or_else(|| ClientError::Request("session key etype".into()))?;
        let ap = ApRequest::new(self.client_time)
            .with_subkey(etype)
            .with_seq_number(self.seq);
        let subkey = ap.subkey.clone().expect("set above");
        let ap_req = ap.encode(ticket)?;
        let user_data = if self.version == version::CHANGE {
            self.new_password.as_bytes().to_vec()
        } else {
            ChangePasswdData {
                new_password: self.new_password.as_bytes().to_vec(),
                targname: self.target.as_ref().map(|(n, _)| n.clone()),
                targrealm: self.target.as_ref().map(|(_, r)| r.clone()),
            }
            .to_der()
        };
        let part = EncKrbPrivPart {
            user_data,
            timestamp: None,
            usec: None,
            seq_number: Some(self.seq),
            s_address: host_address(std::net::IpAddr::from([127, 0, 0, 1])),
            r_address: None,
        };
        let cipher = etype.encrypt(&subkey.keyvalue, key_usage::KRB_PRIV_ENC_PART, &part.to_der())?;
        let krb_priv = KrbPriv {
            enc_part: EncryptedData {
                etype: etype.number(),
                kvno: None,
                cipher,
            },
        }
        .to_der();
        self.subkey = Some(subkey);
        codec::frame(self.version, &ap_req, &krb_priv)
            .ok_or_else(|| ClientError::Request("request too long".into()))
    }

    /// Reads the reply to the request last encoded.
    pub fn read_reply(&self, reply: &[u8], ticket: &Credential) -> Result<KpasswdAnswer, ClientError> {
        let bad = |m: &str| ClientError::Malformed(m.to_string());
        let (v, ap_rep, rest) = codec::parse_reply(reply).ok_or_else(|| bad("kpasswd header"))?;
        if v != version::CHANGE {
            return Err(bad("reply version"));
        }
        if ap_rep.is_empty() {
            let err = KrbError::from_der(rest)?;
            let data = err.e_data.clone().unwrap_or_default();
            let (result, text) = codec::parse_result(&data).ok_or_else(|| bad("KRB-ERROR e-data"))?;
            return Ok(KpasswdAnswer {
                result,
                text: text.to_vec(),
                error: Some(err),
            });
        }
        let rep = ApRep::from_der(ap_rep)?;
        let sk = &ticket.session_key;
        let etype = Etype::from_i32(sk.keytype).ok_or_else(|| bad("session key etype"))?;
        let part = EncApRepPart::from_der(&etype.decrypt(
            &sk.keyvalue,
            key_usage::AP_REP_ENC_PART,
            &rep.enc_part.cipher,
        )?)?;
        if part.ctime != self.client_time {
            return Err(bad("AP-REP ctime"));
        }
        let subkey = self.subkey.as_ref().ok_or_else(|| bad("no request sent"))?;
        let priv_ = KrbPriv::from_der(rest)?;
        let plain = Etype::from_i32(subkey.keytype)
            .ok_or_else(|| bad("subkey etype"))?
            .decrypt(
                &subkey.keyvalue,
                key_usage::KRB_PRIV_ENC_PART,
                &priv_.enc_part.cipher,
            )?;
        let enc = EncKrbPrivPart::from_der(&plain)?;
        if enc.seq_number != part.seq_number {
            return Err(bad("KRB-PRIV sequence number differs from the AP-REP's"));
        }
        let (result, text) = codec::parse_result(&enc.user_data).ok_or_else(|| bad("result"))?;
        Ok(KpasswdAnswer {
            result,
            text: text.to_vec(),
            error: None,
        })
    }
}
