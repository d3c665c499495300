//! RFC 4120 §5 messages, encoded and decoded in both directions (the KDC decodes requests and
//! encodes replies; tests and the LDAP side do the opposite).

use super::der::{tag, DerError, DerReader, DerResult, DerWriter};

/// Message types (RFC 4120 §5.10 / application tags).
pub mod msg_type {
    pub const TICKET: u8 = 1;
    pub const AUTHENTICATOR: u8 = 2;
    pub const ENC_TICKET_PART: u8 = 3;
    pub const AS_REQ: u8 = 10;
    pub const AS_REP: u8 = 11;
    pub const TGS_REQ: u8 = 12;
    pub const TGS_REP: u8 = 13;
    pub const AP_REQ: u8 = 14;
    pub const AP_REP: u8 = 15;
    pub const KRB_PRIV: u8 = 21;
    pub const ENC_AS_REP_PART: u8 = 25;
    pub const ENC_TGS_REP_PART: u8 = 26;
    pub const ENC_AP_REP_PART: u8 = 27;
    pub const ENC_KRB_PRIV_PART: u8 = 28;
    pub const KRB_ERROR: u8 = 30;
}

/// Name types (RFC 4120 §6.2, RFC 6806 §5 for NT-ENTERPRISE).
pub mod name_type {
    pub const NT_UNKNOWN: i32 = 0;
    pub const NT_PRINCIPAL: i32 = 1;
    pub const NT_SRV_INST: i32 = 2;
    pub const NT_SRV_HST: i32 = 3;
    pub const NT_ENTERPRISE: i32 = 10;
}

/// PA-DATA types used here (RFC 4120 §7.5.2, MS-KILE 2.2).
pub mod pa_type {
    pub const PA_TGS_REQ: i32 = 1;
    pub const PA_ENC_TIMESTAMP: i32 = 2;
    pub const PA_ETYPE_INFO2: i32 = 19;
    pub const PA_PAC_REQUEST: i32 = 128;
}

/// Authorization-data types (RFC 4120 §7.5.4, MS-PAC 2.1).
pub mod ad_type {
    pub const AD_IF_RELEVANT: i32 = 1;
    pub const AD_WIN2K_PAC: i32 = 128;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalName {
    pub name_type: i32,
    pub components: Vec<String>,
}

impl PrincipalName {
    pub fn new(name_type: i32, components: &[&str]) -> Self {
        PrincipalName {
            name_type,
            components: components.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// `a/b/c` (without the realm).
    pub fn joined(&self) -> String {
        self.components.join("/")
    }

    pub(crate) fn decode(r: &mut DerReader) -> DerResult<Self> {
        let mut s = r.sequence()?;
        let name_type = s.context(0)?.int32()?;
        let components = s.context(1)?.sequence_of(|r| r.kerberos_string())?;
        Ok(PrincipalName {
            name_type,
            components,
        })
    }

    pub(crate) fn encode(&self, w: &mut DerWriter) {
        w.sequence(|w| {
            w.context(0, |w| w.integer(i64::from(self.name_type)));
            w.context(1, |w| {
                w.sequence_of(&self.components, |w, c| w.kerberos_string(c))
            });
        });
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey {
    pub keytype: i32,
    pub keyvalue: Vec<u8>,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EncryptionKey {{ keytype: {}, keyvalue: <redacted> }}",
            self.keytype
        )
    }
}

impl EncryptionKey {
    fn decode(r: &mut DerReader) -> DerResult<Self> {
        let mut s = r.sequence()?;
        Ok(EncryptionKey {
            keytype: s.context(0)?.int32()?,
            keyvalue: s.context(1)?.octet_string()?,
        })
    }

    fn encode(&self, w: &mut DerWriter) {
        w.sequence(|w| {
            w.context(0, |w| w.integer(i64::from(self.keytype)));
            w.context(1, |w| w.octet_string(&self.keyvalue));
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedData {
    pub etype: i32,
    pub kvno: Option<u32>,
    pub cipher: Vec<u8>,
}

impl EncryptedData {
    pub fn decode(r: &mut DerReader) -> DerResult<Self> {
        let mut s = r.sequence()?;
        let etype = s.context(0)?.int32()?;
        let kvno = s.optional_context(1)?.map(|mut r| r.uint32()).transpose()?;
        let cipher = s.context(2)?.octet_string()?;
        Ok(EncryptedData { etype, kvno, cipher })
    }

    pub fn encode(&self, w: &mut DerWriter) {
        w.sequence(|w| {
            w.context(0, |w| w.integer(i64::from(self.etype)));
            if let Some(kvno) = self.kvno {
                w.context(1, |w| w.integer(i64::from(kvno)));
            }
            w.context(2, |w| w.octet_string(&self.cipher));
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaData {
    pub padata_type: i32,
    pub value: Vec<u8>,
}

impl PaData {
    fn decode(r: &mut DerReader) -> DerResult<Self> {
        let mut s = r.sequence()?;
        Ok(PaData {
            padata_type: s.context(1)?.int32()?,
            value: s.context(2)?.octet_string()?,
        })
    }

    fn encode(&self, w: &mut DerWriter) {
        w.sequence(|w| {
            w.context(1, |w| w.integer(i64::from(self.padata_type)));
            w.context(2, |w| w.octet_string(&self.value));
        });
    }
}

/// METHOD-DATA (RFC 4120 §5.9.1): the e-data of KDC_ERR_PREAUTH_REQUIRED.
pub fn encode_method_data(padata: &[PaData]) -> Vec<u8> {
    let mut w = DerWriter::new();
    w.sequence_of(padata, |w, p| p.encode(w));
    w.finish()
}

pub fn decode_method_data(bytes: &[u8]) -> DerResult<Vec<PaData>> {
    DerReader::new(bytes).sequence_of(PaData::decode)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddress {
    pub addr_type: i32,
    pub address: Vec<u8>,
}

impl HostAddress {
    fn decode(r: &mut DerReader) -> DerResult<Self> {
        let mut s = r.sequence()?;
        Ok(HostAddress {
            addr_type: s.context(0)?.int32()?,
            address: s.context(1)?.octet_string()?,
        })
    }

    fn encode(&self, w: &mut DerWriter) {
        w.sequence(|w| {
            w.context(0, |w| w.integer(i64::from(self.addr_type)));
            w.context(1, |w| w.octet_string(&self.address));
        });
    }
}

fn decode_addresses(r: &mut DerReader) -> DerResult<Vec<HostAddress>> {
    r.sequence_of(HostAddress::decode)
}

fn encode_addresses(w: &mut DerWriter, a: &[HostAddress]) {
    w.sequence_of(a, |w, h| h.encode(w));
}

/// One AuthorizationData element (RFC 4120 §5.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationDataEntry {
    pub ad_type: i32,
    pub ad_data: Vec<u8>,
}

pub fn decode_authorization_data(bytes: &[u8]) -> DerResult<Vec<AuthorizationDataEntry>> {
    decode_ad(&mut DerReader::new(bytes))
}

pub fn encode_authorization_data(entries: &[AuthorizationDataEntry]) -> Vec<u8> {
    let mut w = DerWriter::new();
    encode_ad(&mut w, entries);
    w.finish()
}

fn decode_ad(r: &mut DerReader) -> DerResult<Vec<AuthorizationDataEntry>> {
    r.sequence_of(|r| {
        let mut s = r.sequence()?;
        Ok(AuthorizationDataEntry {
            ad_type: s.context(0)?.int32()?,
            ad_data: s.context(1)?.octet_string()?,
        })
    })
}

fn encode_ad(w: &mut DerWriter, entries: &[AuthorizationDataEntry]) {
    w.sequence_of(entries, |w, e| {
        w.sequence(|w| {
            w.context(0, |w| w.integer(i64::from(e.ad_type)));
            w.context(1, |w| w.octet_string(&e.ad_data));
        })
    });
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub realm: String,
    pub sname: PrincipalName,
    pub enc_part: EncryptedData,
}

impl Ticket {
    pub fn decode(r: &mut DerReader) -> DerResult<Self> {
        let mut app = r.enter(tag::application(msg_type::TICKET))?;
        let mut s = app.sequence()?;
        let vno = s.context(0)?.integer()?;
        if vno != 5 {
            return Err(DerError::BadValue("tkt-vno"));
        }
        Ok(Ticket {
            realm: s.context(1)?.kerberos_string()?,
            sname: PrincipalName::decode(&mut s.context(2)?)?,
            enc_part: EncryptedData::decode(&mut s.context(3)?)?,
        })
    }

    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        Ticket::decode(&mut DerReader::new(bytes))
    }

    pub fn encode(&self, w: &mut DerWriter) {
        w.constructed(tag::application(msg_type::TICKET), |w| {
            w.sequence(|w| {
                w.context(0, |w| w.integer(5));
                w.context(1, |w| w.kerberos_string(&self.realm));
                w.context(2, |w| self.sname.encode(w));
                w.context(3, |w| self.enc_part.encode(w));
            })
        });
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        self.encode(&mut w);
        w.finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitedEncoding {
    pub tr_type: i32,
    pub contents: Vec<u8>,
}

/// EncTicketPart (RFC 4120 §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncTicketPart {
    pub flags: u32,
    pub key: EncryptionKey,
    pub crealm: String,
    pub cname: PrincipalName,
    pub transited: TransitedEncoding,
    pub authtime: i64,
    pub starttime: Option<i64>,
    pub endtime: i64,
    pub renew_till: Option<i64>,
    pub caddr: Option<Vec<HostAddress>>,
    pub authorization_data: Option<Vec<AuthorizationDataEntry>>,
}

impl EncTicketPart {
    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let mut app = r.enter(tag::application(msg_type::ENC_TICKET_PART))?;
        let mut s = app.sequence()?;
        let flags = s.context(0)?.flags()?;
        let key = EncryptionKey::decode(&mut s.context(1)?)?;
        let crealm = s.context(2)?.kerberos_string()?;
        let cname = PrincipalName::decode(&mut s.context(3)?)?;
        let transited = {
            let mut t = s.context(4)?.sequence()?;
            TransitedEncoding {
                tr_type: t.context(0)?.int32()?,
                contents: t.context(1)?.octet_string()?,
            }
        };
        Ok(EncTicketPart {
            flags,
            key,
            crealm,
            cname,
            transited,
            authtime: s.context(5)?.kerberos_time()?,
            starttime: s
                .optional_context(6)?
                .map(|mut r| r.kerberos_time())
                .transpose()?,
            endtime: s.context(7)?.kerberos_time()?,
            renew_till: s
                .optional_context(8)?
                .map(|mut r| r.kerberos_time())
                .transpose()?,
            caddr: s
                .optional_context(9)?
                .map(|mut r| decode_addresses(&mut r))
                .transpose()?,
            authorization_data: s
                .optional_context(10)?
                .map(|mut r| decode_ad(&mut r))
                .transpose()?,
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(msg_type::ENC_TICKET_PART), |w| {
            w.sequence(|w| {
                w.context(0, |w| w.flags(self.flags));
                w.context(1, |w| self.key.encode(w));
                w.context(2, |w| w.kerberos_string(&self.crealm));
                w.context(3, |w| self.cname.encode(w));
                w.context(4, |w| {
                    w.sequence(|w| {
                        w.context(0, |w| w.integer(i64::from(self.transited.tr_type)));
                        w.context(1, |w| w.octet_string(&self.transited.contents));
                    })
                });
                w.context(5, |w| w.kerberos_time(self.authtime));
                if let Some(t) = self.starttime {
                    w.context(6, |w| w.kerberos_time(t));
                }
                w.context(7, |w| w.kerberos_time(self.endtime));
                if let Some(t) = self.renew_till {
                    w.context(8, |w| w.kerberos_time(t));
                }
                if let Some(a) = &self.caddr {
                    w.context(9, |w| encode_addresses(w, a));
                }
                if let Some(ad) = &self.authorization_data {
                    w.context(10, |w| encode_ad(w, ad));
                }
            })
        });
        w.finish()
    }
}

/// KDC-REQ-BODY (RFC 4120 §5.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcReqBody {
    pub kdc_options: u32,
    pub cname: Option<PrincipalName>,
    pub realm: String,
    pub sname: Option<PrincipalName>,
    pub from: Option<i64>,
    pub till: i64,
    pub rtime: Option<i64>,
    pub nonce: u32,
    pub etypes: Vec<i32>,
    pub addresses: Option<Vec<HostAddress>>,
    pub enc_authorization_data: Option<EncryptedData>,
    pub additional_tickets: Vec<Ticket>,
}

impl KdcReqBody {
    fn decode(r: &mut DerReader) -> DerResult<Self> {
        let mut s = r.sequence()?;
        Ok(KdcReqBody {
            kdc_options: s.context(0)?.flags()?,
            cname: s
                .optional_context(1)?
                .map(|mut r| PrincipalName::decode(&mut r))
                .transpose()?,
            realm: s.context(2)?.kerberos_string()?,
            sname: s
                .optional_context(3)?
                .map(|mut r| PrincipalName::decode(&mut r))
                .transpose()?,
            from: s
                .optional_context(4)?
                .map(|mut r| r.kerberos_time())
                .transpose()?,
            till: s.context(5)?.kerberos_time()?,
            rtime: s
                .optional_context(6)?
                .map(|mut r| r.kerberos_time())
                .transpose()?,
            nonce: s.context(7)?.uint32()?,
            etypes: s.context(8)?.sequence_of(|r| r.int32())?,
            addresses: s
                .optional_context(9)?
                .map(|mut r| decode_addresses(&mut r))
                .transpose()?,
            enc_authorization_data: s
                .optional_context(10)?
                .map(|mut r| EncryptedData::decode(&mut r))
                .transpose()?,
            additional_tickets: s
                .optional_context(11)?
                .map(|mut r| r.sequence_of(Ticket::decode))
                .transpose()?
                .unwrap_or_default(),
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.sequence(|w| {
            w.context(0, |w| w.flags(self.kdc_options));
            if let Some(c) = &self.cname {
                w.context(1, |w| c.encode(w));
            }
            w.context(2, |w| w.kerberos_string(&self.realm));
            if let Some(s) = &self.sname {
                w.context(3, |w| s.encode(w));
            }
            if let Some(t) = self.from {
                w.context(4, |w| w.kerberos_time(t));
            }
            w.context(5, |w| w.kerberos_time(self.till));
            if let Some(t) = self.rtime {
                w.context(6, |w| w.kerberos_time(t));
            }
            w.context(7, |w| w.integer(i64::from(self.nonce)));
            w.context(8, |w| {
                w.sequence_of(&self.etypes, |w, e| w.integer(i64::from(*e)))
            });
            if let Some(a) = &self.addresses {
                w.context(9, |w| encode_addresses(w, a));
            }
            if let Some(e) = &self.enc_authorization_data {
                w.context(10, |w| e.encode(w));
            }
            if !self.additional_tickets.is_empty() {
                w.context(11, |w| {
                    w.sequence_of(&self.additional_tickets, |w, t| t.encode(w))
                });
            }
        });
        w.finish()
    }
}

/// AS-REQ or TGS-REQ (RFC 4120 §5.4.1), with the req-body bytes exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcReq {
    pub msg_type: u8,
    pub padata: Vec<PaData>,
    pub req_body: KdcReqBody,
    pub req_body_raw: Vec<u8>,
}

impl KdcReq {
    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let outer_tag = r.peek_tag().ok_or(DerError::Truncated)?;
        let msg_type = match outer_tag {
            t if t == tag::application(msg_type::AS_REQ) => msg_type::AS_REQ,
            t if t == tag::application(msg_type::TGS_REQ) => msg_type::TGS_REQ,
            _ => return Err(DerError::BadValue("not an AS-REQ or TGS-REQ")),
        };
        let mut app = r.enter(outer_tag)?;
        let mut s = app.sequence()?;
        if s.context(1)?.integer()? != 5 {
            return Err(DerError::BadValue("pvno"));
        }
        if s.context(2)?.integer()? != i64::from(msg_type) {
            return Err(DerError::BadValue("msg-type does not match the application tag"));
        }
        let padata = s
            .optional_context(3)?
            .map(|mut r| r.sequence_of(PaData::decode))
            .transpose()?
            .unwrap_or_default();
        let mut body_ctx = s.context(4)?;
        let req_body_raw = body_ctx.clone().read_tlv()?.raw.to_vec();
        let req_body = KdcReqBody::decode(&mut body_ctx)?;
        Ok(KdcReq {
            msg_type,
            padata,
            req_body,
            req_body_raw,
        })
    }

    /// Encodes with `req_body_raw` as the body bytes (so a checksum computed over them holds).
    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(self.msg_type), |w| {
            w.sequence(|w| {
                w.context(1, |w| w.integer(5));
                w.context(2, |w| w.integer(i64::from(self.msg_type)));
                if !self.padata.is_empty() {
                    w.context(3, |w| w.sequence_of(&self.padata, |w, p| p.encode(w)));
                }
                w.context(4, |w| w.raw(&self.req_body_raw));
            })
        });
        w.finish()
    }

    pub fn padata(&self, padata_type: i32) -> Option<&PaData> {
        self.padata.iter().find(|p| p.padata_type == padata_type)
    }
}

/// AS-REP or TGS-REP (RFC 4120 §5.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcRep {
    pub msg_type: u8,
    pub padata: Vec<PaData>,
    pub crealm: String,
    pub cname: PrincipalName,
    pub ticket: Ticket,
    pub enc_part: EncryptedData,
}

impl KdcRep {
    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(self.msg_type), |w| {
            w.sequence(|w| {
                w.context(0, |w| w.integer(5));
                w.context(1, |w| w.integer(i64::from(self.msg_type)));
                if !self.padata.is_empty() {
                    w.context(2, |w| w.sequence_of(&self.padata, |w, p| p.encode(w)));
                }
                w.context(3, |w| w.kerberos_string(&self.crealm));
                w.context(4, |w| self.cname.encode(w));
                w.context(5, |w| self.ticket.encode(w));
                w.context(6, |w| self.enc_part.encode(w));
            })
        });
        w.finish()
    }

    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let outer = r.peek_tag().ok_or(DerError::Truncated)?;
        let msg_type = match outer {
            t if t == tag::application(msg_type::AS_REP) => msg_type::AS_REP,
            t if t == tag::application(msg_type::TGS_REP) => msg_type::TGS_REP,
            _ => return Err(DerError::BadValue("not an AS-REP or TGS-REP")),
        };
        let mut app = r.enter(outer)?;
        let mut s = app.sequence()?;
        s.context(0)?.integer()?;
        s.context(1)?.integer()?;
        Ok(KdcRep {
            msg_type,
            padata: s
                .optional_context(2)?
                .map(|mut r| r.sequence_of(PaData::decode))
                .transpose()?
                .unwrap_or_default(),
            crealm: s.context(3)?.kerberos_string()?,
            cname: PrincipalName::decode(&mut s.context(4)?)?,
            ticket: Ticket::decode(&mut s.context(5)?)?,
            enc_part: EncryptedData::decode(&mut s.context(6)?)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastReqEntry {
    pub lr_type: i32,
    pub lr_value: i64,
}

/// EncKDCRepPart (RFC 4120 §5.4.2), tagged EncASRepPart (25) or EncTGSRepPart (26).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncKdcRepPart {
    pub app_tag: u8,
    pub key: EncryptionKey,
    pub last_req: Vec<LastReqEntry>,
    pub nonce: u32,
    pub key_expiration: Option<i64>,
    pub flags: u32,
    pub authtime: i64,
    pub starttime: Option<i64>,
    pub endtime: i64,
    pub renew_till: Option<i64>,
    pub srealm: String,
    pub sname: PrincipalName,
    pub caddr: Option<Vec<HostAddress>>,
}

impl EncKdcRepPart {
    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(self.app_tag), |w| {
            w.sequence(|w| {
                w.context(0, |w| self.key.encode(w));
                w.context(1, |w| {
                    w.sequence_of(&self.last_req, |w, lr| {
                        w.sequence(|w| {
                            w.context(0, |w| w.integer(i64::from(lr.lr_type)));
                            w.context(1, |w| w.kerberos_time(lr.lr_value));
                        })
                    })
                });
                w.context(2, |w| w.integer(i64::from(self.nonce)));
                if let Some(t) = self.key_expiration {
                    w.context(3, |w| w.kerberos_time(t));
                }
                w.context(4, |w| w.flags(self.flags));
                w.context(5, |w| w.kerberos_time(self.authtime));
                if let Some(t) = self.starttime {
                    w.context(6, |w| w.kerberos_time(t));
                }
                w.context(7, |w| w.kerberos_time(self.endtime));
                if let Some(t) = self.renew_till {
                    w.context(8, |w| w.kerberos_time(t));
                }
                w.context(9, |w| w.kerberos_string(&self.srealm));
                w.context(10, |w| self.sname.encode(w));
                if let Some(a) = &self.caddr {
                    w.context(11, |w| encode_addresses(w, a));
                }
            })
        });
        w.finish()
    }

    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let outer = r.peek_tag().ok_or(DerError::Truncated)?;
        let app_tag = match outer {
            t if t == tag::application(msg_type::ENC_AS_REP_PART) => msg_type::ENC_AS_REP_PART,
            t if t == tag::application(msg_type::ENC_TGS_REP_PART) => msg_type::ENC_TGS_REP_PART,
            _ => return Err(DerError::BadValue("not an EncKDCRepPart")),
        };
        let mut app = r.enter(outer)?;
        let mut s = app.sequence()?;
        Ok(EncKdcRepPart {
            app_tag,
            key: EncryptionKey::decode(&mut s.context(0)?)?,
            last_req: s.context(1)?.sequence_of(|r| {
                let mut e = r.sequence()?;
                Ok(LastReqEntry {
                    lr_type: e.context(0)?.int32()?,
                    lr_value: e.context(1)?.kerberos_time()?,
                })
            })?,
            nonce: s.context(2)?.uint32()?,
            key_expiration: s
                .optional_context(3)?
                .map(|mut r| r.kerberos_time())
                .transpose()?,
            flags: s.context(4)?.flags()?,
            authtime: s.context(5)?.kerberos_time()?,
            starttime: s
                .optional_context(6)?
                .map(|mut r| r.kerberos_time())
                .transpose()?,
            endtime: s.context(7)?.kerberos_time()?,
            renew_till: s
                .optional_context(8)?
                .map(|mut r| r.kerberos_time())
                .transpose()?,
            srealm: s.context(9)?.kerberos_string()?,
            sname: PrincipalName::decode(&mut s.context(10)?)?,
            caddr: s
                .optional_context(11)?
                .map(|mut r| decode_addresses(&mut r))
                .transpose()?,
        })
    }
}

/// KRB-ERROR (RFC 4120 §5.9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KrbError {
    pub ctime: Option<i64>,
    pub cusec: Option<u32>,
    pub stime: i64,
    pub susec: u32,
    pub error_code: i32,
    pub crealm: Option<String>,
    pub cname: Option<PrincipalName>,
    pub realm: String,
    pub sname: PrincipalName,
    pub e_text: Option<String>,
    pub e_data: Option<Vec<u8>>,
}

impl KrbError {
    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(msg_type::KRB_ERROR), |w| {
            w.sequence(|w| {
                w.context(0, |w| w.integer(5));
                w.context(1, |w| w.integer(i64::from(msg_type::KRB_ERROR)));
                if let Some(t) = self.ctime {
                    w.context(2, |w| w.kerberos_time(t));
                }
                if let Some(u) = self.cusec {
                    w.context(3, |w| w.integer(i64::from(u)));
                }
                w.context(4, |w| w.kerberos_time(self.stime));
                w.context(5, |w| w.integer(i64::from(self.susec)));
                w.context(6, |w| w.integer(i64::from(self.error_code)));
                if let Some(r) = &self.crealm {
                    w.context(7, |w| w.kerberos_string(r));
                }
                if let Some(c) = &self.cname {
                    w.context(8, |w| c.encode(w));
                }
                w.context(9, |w| w.kerberos_string(&self.realm));
                w.context(10, |w| self.sname.encode(w));
                if let Some(t) = &self.e_text {
                    w.context(11, |w| w.kerberos_string(t));
                }
                if let Some(d) = &self.e_data {
                    w.context(12, |w| w.octet_string(d));
                }
            })
        });
        w.finish()
    }

    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let mut app = r.enter(tag::application(msg_type::KRB_ERROR))?;
        let mut s = app.sequence()?;
        s.context(0)?.integer()?;
        s.context(1)?.integer()?;
        Ok(KrbError {
            ctime: s
                .optional_context(2)?
                .map(|mut r| r.kerberos_time())
                .transpose()?,
            cusec: s.optional_context(3)?.map(|mut r| r.uint32()).transpose()?,
            stime: s.context(4)?.kerberos_time()?,
            susec: s.context(5)?.uint32()?,
            error_code: s.context(6)?.int32()?,
            crealm: s
                .optional_context(7)?
                .map(|mut r| r.kerberos_string())
                .transpose()?,
            cname: s
                .optional_context(8)?
                .map(|mut r| PrincipalName::decode(&mut r))
                .transpose()?,
            realm: s.context(9)?.kerberos_string()?,
            sname: PrincipalName::decode(&mut s.context(10)?)?,
            e_text: s
                .optional_context(11)?
                .map(|mut r| r.kerberos_string())
                .transpose()?,
            e_data: s
                .optional_context(12)?
                .map(|mut r| r.octet_string())
                .transpose()?,
        })
    }
}

/// AP-REQ (RFC 4120 §5.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApReq {
    pub ap_options: u32,
    pub ticket: Ticket,
    pub authenticator: EncryptedData,
}

impl ApReq {
    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let mut app = r.enter(tag::application(msg_type::AP_REQ))?;
        let mut s = app.sequence()?;
        if s.context(0)?.integer()? != 5 || s.context(1)?.integer()? != i64::from(msg_type::AP_REQ) {
            return Err(DerError::BadValue("AP-REQ pvno/msg-type"));
        }
        Ok(ApReq {
            ap_options: s.context(2)?.flags()?,
            ticket: Ticket::decode(&mut s.context(3)?)?,
            authenticator: EncryptedData::decode(&mut s.context(4)?)?,
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(msg_type::AP_REQ), |w| {
            w.sequence(|w| {
                w.context(0, |w| w.integer(5));
                w.context(1, |w| w.integer(i64::from(msg_type::AP_REQ)));
                w.context(2, |w| w.flags(self.ap_options));
                w.context(3, |w| self.ticket.encode(w));
                w.context(4, |w| self.authenticator.encode(w));
            })
        });
        w.finish()
    }
}

/// AP-REP (RFC 4120 §5.5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApRep {
    pub enc_part: EncryptedData,
}

impl ApRep {
    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let mut app = r.enter(tag::application(msg_type::AP_REP))?;
        let mut s = app.sequence()?;
        if s.context(0)?.integer()? != 5 || s.context(1)?.integer()? != i64::from(msg_type::AP_REP) {
            return Err(DerError::BadValue("AP-REP pvno/msg-type"));
        }
        Ok(ApRep {
            enc_part: EncryptedData::decode(&mut s.context(2)?)?,
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(msg_type::AP_REP), |w| {
            w.sequence(|w| {
                w.context(0, |w| w.integer(5));
                w.context(1, |w| w.integer(i64::from(msg_type::AP_REP)));
                w.context(2, |w| self.enc_part.encode(w));
            })
        });
        w.finish()
    }
}

/// EncAPRepPart (RFC 4120 §5.5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncApRepPart {
    pub ctime: i64,
    pub cusec: u32,
    pub subkey: Option<EncryptionKey>,
    pub seq_number: Option<u32>,
}

impl EncApRepPart {
    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let mut app = r.enter(tag::application(msg_type::ENC_AP_REP_PART))?;
        let mut s = app.sequence()?;
        Ok(EncApRepPart {
            ctime: s.context(0)?.kerberos_time()?,
            cusec: s.context(1)?.uint32()?,
            subkey: s
                .optional_context(2)?
                .map(|mut r| EncryptionKey::decode(&mut r))
                .transpose()?,
            seq_number: s.optional_context(3)?.map(|mut r| r.uint32()).transpose()?,
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(msg_type::ENC_AP_REP_PART), |w| {
            w.sequence(|w| {
                w.context(0, |w| w.kerberos_time(self.ctime));
                w.context(1, |w| w.integer(i64::from(self.cusec)));
                if let Some(k) = &self.subkey {
                    w.context(2, |w| k.encode(w));
                }
                if let Some(n) = self.seq_number {
                    w.context(3, |w| w.integer(i64::from(n)));
                }
            })
        });
        w.finish()
    }
}

/// KRB-PRIV (RFC 4120 §5.7.1): an application message encrypted with a key the application
/// chooses (kpasswd: the authenticator's subkey), key usage 13.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KrbPriv {
    pub enc_part: EncryptedData,
}

impl KrbPriv {
    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let mut app = r.enter(tag::application(msg_type::KRB_PRIV))?;
        let mut s = app.sequence()?;
        if s.context(0)?.integer()? != 5 || s.context(1)?.integer()? != i64::from(msg_type::KRB_PRIV) {
            return Err(DerError::BadValue("KRB-PRIV pvno/msg-type"));
        }
        Ok(KrbPriv {
            enc_part: EncryptedData::decode(&mut s.context(3)?)?,
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(msg_type::KRB_PRIV), |w| {
            w.sequence(|w| {
                w.context(0, |w| w.integer(5));
                w.context(1, |w| w.integer(i64::from(msg_type::KRB_PRIV)));
                w.context(3, |w| self.enc_part.encode(w));
            })
        });
        w.finish()
    }
}

/// EncKrbPrivPart (RFC 4120 §5.7.1). `s-address` is required by the ASN.1; MIT checks it only
/// when the application set a remote address.
#[derive(Clone, PartialEq, Eq)]
pub struct EncKrbPrivPart {
    pub user_data: Vec<u8>,
    pub timestamp: Option<i64>,
    pub usec: Option<u32>,
    pub seq_number: Option<u32>,
    pub s_address: HostAddress,
    pub r_address: Option<HostAddress>,
}

impl std::fmt::Debug for EncKrbPrivPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // user-data is a password in kpasswd requests: never printed.
        f.debug_struct("EncKrbPrivPart")
            .field("user_data", &format_args!("<{} bytes>", self.user_data.len()))
            .field("seq_number", &self.seq_number)
            .finish()
    }
}

impl EncKrbPrivPart {
    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let mut app = r.enter(tag::application(msg_type::ENC_KRB_PRIV_PART))?;
        let mut s = app.sequence()?;
        Ok(EncKrbPrivPart {
            user_data: s.context(0)?.octet_string()?,
            timestamp: s
                .optional_context(1)?
                .map(|mut r| r.kerberos_time())
                .transpose()?,
            usec: s.optional_context(2)?.map(|mut r| r.uint32()).transpose()?,
            seq_number: s.optional_context(3)?.map(|mut r| r.uint32()).transpose()?,
            s_address: HostAddress::decode(&mut s.context(4)?)?,
            r_address: s
                .optional_context(5)?
                .map(|mut r| HostAddress::decode(&mut r))
                .transpose()?,
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(msg_type::ENC_KRB_PRIV_PART), |w| {
            w.sequence(|w| {
                w.context(0, |w| w.octet_string(&self.user_data));
                if let Some(t) = self.timestamp {
                    w.context(1, |w| w.kerberos_time(t));
                }
                if let Some(u) = self.usec {
                    w.context(2, |w| w.integer(i64::from(u)));
                }
                if let Some(n) = self.seq_number {
                    w.context(3, |w| w.integer(i64::from(n)));
                }
                w.context(4, |w| self.s_address.encode(w));
                if let Some(a) = &self.r_address {
                    w.context(5, |w| a.encode(w));
                }
            })
        });
        w.finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub cksumtype: i32,
    pub checksum: Vec<u8>,
}

/// Authenticator (RFC 4120 §5.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticator {
    pub crealm: String,
    pub cname: PrincipalName,
    pub cksum: Option<Checksum>,
    pub cusec: u32,
    pub ctime: i64,
    pub subkey: Option<EncryptionKey>,
    pub seq_number: Option<u32>,
    pub authorization_data: Option<Vec<AuthorizationDataEntry>>,
}

impl Authenticator {
    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let mut app = r.enter(tag::application(msg_type::AUTHENTICATOR))?;
        let mut s = app.sequence()?;
        if s.context(0)?.integer()? != 5 {
            return Err(DerError::BadValue("authenticator-vno"));
        }
        Ok(Authenticator {
            crealm: s.context(1)?.kerberos_string()?,
            cname: PrincipalName::decode(&mut s.context(2)?)?,
            cksum: s
                .optional_context(3)?
                .map(|mut r| {
                    let mut c = r.sequence()?;
                    Ok::<_, DerError>(Checksum {
                        cksumtype: c.context(0)?.int32()?,
                        checksum: c.context(1)?.octet_string()?,
                    })
                })
                .transpose()?,
            cusec: s.context(4)?.uint32()?,
            ctime: s.context(5)?.kerberos_time()?,
            subkey: s
                .optional_context(6)?
                .map(|mut r| EncryptionKey::decode(&mut r))
                .transpose()?,
            seq_number: s.optional_context(7)?.map(|mut r| r.uint32()).transpose()?,
            authorization_data: s
                .optional_context(8)?
                .map(|mut r| decode_ad(&mut r))
                .transpose()?,
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.constructed(tag::application(msg_type::AUTHENTICATOR), |w| {
            w.sequence(|w| {
                w.context(0, |w| w.integer(5));
                w.context(1, |w| w.kerberos_string(&self.crealm));
                w.context(2, |w| self.cname.encode(w));
                if let Some(c) = &self.cksum {
                    w.context(3, |w| {
                        w.sequence(|w| {
                            w.context(0, |w| w.integer(i64::from(c.cksumtype)));
                            w.context(1, |w| w.octet_string(&c.checksum));
                        })
                    });
                }
                w.context(4, |w| w.integer(i64::from(self.cusec)));
                w.context(5, |w| w.kerberos_time(self.ctime));
                if let Some(k) = &self.subkey {
                    w.context(6, |w| k.encode(w));
                }
                if let Some(n) = self.seq_number {
                    w.context(7, |w| w.integer(i64::from(n)));
                }
                if let Some(ad) = &self.authorization_data {
                    w.context(8, |w| encode_ad(w, ad));
                }
            })
        });
        w.finish()
    }
}

/// PA-ENC-TS-ENC (RFC 4120 §5.2.7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaEncTsEnc {
    pub patimestamp: i64,
    pub pausec: Option<u32>,
}

impl PaEncTsEnc {
    pub fn from_der(bytes: &[u8]) -> DerResult<Self> {
        let mut r = DerReader::new(bytes);
        let mut s = r.sequence()?;
        Ok(PaEncTsEnc {
            patimestamp: s.context(0)?.kerberos_time()?,
            pausec: s.optional_context(1)?.map(|mut r| r.uint32()).transpose()?,
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut w = DerWriter::new();
        w.sequence(|w| {
            w.context(0, |w| w.kerberos_time(self.patimestamp));
            if let Some(u) = self.pausec {
                w.context(1, |w| w.integer(i64::from(u)));
            }
        });
        w.finish()
    }
}

/// ETYPE-INFO2-ENTRY (RFC 4120 §5.2.7.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtypeInfo2Entry {
    pub etype: i32,
    pub salt: Option<String>,
    pub s2kparams: Option<Vec<u8>>,
}

pub fn encode_etype_info2(entries: &[EtypeInfo2Entry]) -> Vec<u8> {
    let mut w = DerWriter::new();
    w.sequence_of(entries, |w, e| {
        w.sequence(|w| {
            w.context(0, |w| w.integer(i64::from(e.etype)));
            if let Some(s) = &e.salt {
                w.context(1, |w| w.kerberos_string(s));
            }
            if let Some(p) = &e.s2kparams {
                w.context(2, |w| w.octet_string(p));
            }
        })
    });
    w.finish()
}

pub fn decode_etype_info2(bytes: &[u8]) -> DerResult<Vec<EtypeInfo2Entry>> {
    DerReader::new(bytes).sequence_of(|r| {
        let mut s = r.sequence()?;
        Ok(EtypeInfo2Entry {
            etype: s.context(0)?.int32()?,
            salt: s
                .optional_context(1)?
                .map(|mut r| r.kerberos_string())
                .transpose()?,
            s2kparams: s.optional_context(2)?.map(|mut r| r.octet_string()).transpose()?,
        })
    })
}

/// KERB-PA-PAC-REQUEST (MS-KILE 2.2.3).
pub fn decode_pac_request(bytes: &[u8]) -> DerResult<bool> {
    let mut r = DerReader::new(bytes);
    let mut s = r.sequence()?;
    s.context(0)?.boolean()
}

pub fn encode_pac_request(include_pac: bool) -> Vec<u8> {
    let mut w = DerWriter::new();
    w.sequence(|w| w.context(0, |w| w.boolean(include_pac)));
    w.finish()
}
