//! The AS exchange from the client side (RFC 4120 §3.1).

use super::{
    encrypted_data_der, krbtgt_name, read_checked, Answer, ClientError, ClientKey, ReqBody,
    DEFAULT_AS_OPTIONS,
};
use crate::kdc::key_usage;
use crate::kdc::messages::{
    encode_pac_request, msg_type, name_type, pa_type, KdcReq, PaData, PaEncTsEnc, PrincipalName,
};

/// An AS-REQ (RFC 4120 §5.4.1). Fields are public so a test can set anything; the padata go
/// out as PA-ENC-TIMESTAMP (when pre-authenticating), PA-PAC-REQUEST (when set), then `extra_padata`.
#[derive(Debug, Clone)]
pub struct AsRequest {
    pub realm: String,
    pub cname: PrincipalName,
    /// sname `krbtgt/REALM` by default.
    pub body: ReqBody,
    /// The client's clock (Unix seconds and microseconds): the pre-authentication timestamp.
    pub client_time: i64,
    pub client_usec: u32,
    /// Pre-authenticate with PA-ENC-TIMESTAMP under this key; `None` sends none.
    pub preauth: Option<ClientKey>,
    /// KERB-PA-PAC-REQUEST (MS-KILE 2.2.3); `None` leaves it out. `Some(true)` by default.
    pub pac_request: Option<bool>,
    pub extra_padata: Vec<PaData>,
}

impl AsRequest {
    /// A TGT request for `name` (an NT-PRINCIPAL, `alice` or `WEB01$`) at `client_time`, with
    /// the default etypes and options, a lifetime of ten hours and a random nonce.
    pub fn new(realm: &str, name: &str, client_time: i64) -> Self {
        AsRequest {
            realm: realm.to_string(),
            cname: PrincipalName::new(name_type::NT_PRINCIPAL, &[name]),
            body: ReqBody::new(krbtgt_name(realm), DEFAULT_AS_OPTIONS, client_time),
            client_time,
            client_usec: 0,
            preauth: None,
            pac_request: Some(true),
            extra_padata: Vec::new(),
        }
    }

    /// The same request pre-authenticated with `key`.
    pub fn with_preauth(mut self, key: ClientKey) -> Self {
        self.preauth = Some(key);
        self
    }

    /// The request as a structure (`encode` is its DER).
    pub fn to_kdc_req(&self) -> Result<KdcReq, ClientError> {
        let mut padata = Vec::new();
        if let Some(key) = &self.preauth {
            let ts = PaEncTsEnc {
                patimestamp: self.client_time,
                pausec: Some(self.client_usec),
            }
            .to_der();
            let cipher = key
                .etype
                .encrypt(&key.key, key_usage::AS_REQ_PA_ENC_TIMESTAMP, &ts)?;
            padata.push(PaData {
                padata_type: pa_type::PA_ENC_TIMESTAMP,
                value: encrypted_data_der(key.etype, cipher),
            });
        }
        if let Some(include) = self.pac_request {
            padata.push(PaData {
                padata_type: pa_type::PA_PAC_REQUEST,
                value: encode_pac_request(include),
            });
        }
        padata.extend(self.extra_padata.iter().cloned());
        let body = self
            .body
            .to_kdc_req_body(Some(self.cname.clone()), self.realm.clone());
        Ok(KdcReq {
            msg_type: msg_type::AS_REQ,
            padata,
            req_body_raw: body.to_der(),
            req_body: body,
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, ClientError> {
        Ok(self.to_kdc_req()?.to_der())
    }

    /// The KDC's answer to this request: a KRB-ERROR, or an AS-REP opened with `key` (the
    /// client's long-term key) that carries this request's nonce.
    pub fn read_reply(&self, bytes: &[u8], key: &ClientKey) -> Result<Answer, ClientError> {
        read_checked(
            bytes,
            &key.key,
            key_usage::AS_REP_ENC_PART,
            msg_type::AS_REP,
            self.body.nonce,
        )
    }
}
