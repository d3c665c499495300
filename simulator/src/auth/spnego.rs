//! SPNEGO (RFC 4178, MS-SPNG): the NegotiationToken codec and the acceptor's mechanism choice
//! and mechListMIC handling. The mechanism tokens themselves go to `ntlm` / `gss_krb5`.

use thiserror::Error;

use crate::kdc::der::{DerReader, DerWriter};

use super::gss_krb5::{self, oid as krb_oid, KrbSecurityContext};
use super::ntlm::NtlmSession;

/// OIDs (DER content octets), one table.
pub mod oid {
    /// 1.3.6.1.5.5.2 (RFC 4178 §3).
    pub const SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
    /// 1.3.6.1.4.1.311.2.2.10 (MS-NLMP 1.9, MS-SPNG 1.9).
    pub const NTLM: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
    /// 1.3.6.1.4.1.311.2.2.30 NEGOEX (MS-NEGOEX): recognised, never chosen.
    pub const NEGOEX: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e];
}

/// negState values (RFC 4178 §4.2.2), one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegState {
    AcceptCompleted = 0,
    AcceptIncomplete = 1,
    Reject = 2,
    RequestMic = 3,
}

impl NegState {
    fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            0 => NegState::AcceptCompleted,
            1 => NegState::AcceptIncomplete,
            2 => NegState::Reject,
            3 => NegState::RequestMic,
            _ => return None,
        })
    }
}

/// The mechanisms the acceptor speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mech {
    Ntlm,
    /// Kerberos under 1.2.840.113554.1.2.2.
    Krb5,
    /// Kerberos under the Microsoft OID 1.2.840.48018.1.2.2.
    MsKrb5,
}

impl Mech {
    pub fn oid(self) -> &'static [u8] {
        match self {
            Mech::Ntlm => oid::NTLM,
            Mech::Krb5 => krb_oid::KRB5,
            Mech::MsKrb5 => krb_oid::MS_KRB5,
        }
    }

    pub fn from_oid(o: &[u8]) -> Option<Self> {
        [Mech::Ntlm, Mech::Krb5, Mech::MsKrb5]
            .into_iter()
            .find(|m| m.oid() == o)
    }

    pub fn is_kerberos(self) -> bool {
        matches!(self, Mech::Krb5 | Mech::MsKrb5)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpnegoError {
    #[error("malformed SPNEGO token")]
    Malformed,
    #[error("no mechanism in common")]
    NoCommonMech,
    #[error("mechListMIC missing or wrong")]
    BadMechListMic,
}

/// NegTokenInit (RFC 4178 §4.2.1), also accepting MS-SPNG's NegTokenInit2 negHints at [3].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegTokenInit {
    pub mech_types: Vec<Vec<u8>>,
    /// The DER MechTypeList exactly as received: what the mechListMIC covers (RFC 4178 §5).
    pub mech_types_der: Vec<u8>,
    pub req_flags: Option<u32>,
    pub mech_token: Option<Vec<u8>>,
    pub mech_list_mic: Option<Vec<u8>>,
}

/// NegTokenResp (RFC 4178 §4.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegTokenResp {
    pub neg_state: Option<NegState>,
    pub supported_mech: Option<Vec<u8>>,
    pub response_token: Option<Vec<u8>>,
    pub mech_list_mic: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegToken {
    Init(NegTokenInit),
    Resp(NegTokenResp),
}

const MAX_TOKEN: usize = 256 * 1024;

/// Decodes a NegotiationToken: the initial one inside `60 .. 06 06 2b0601050502`, or a bare
/// `[0]`/`[1]` choice (RFC 4178 §4.2).
pub fn decode_neg_token(token: &[u8]) -> Result<NegToken, SpnegoError> {
    if token.len() > MAX_TOKEN {
        return Err(SpnegoError::Malformed);
    }
    let body = if token.first() == Some(&0x60) {
        let (mech, inner) = gss_krb5::split_initial_token(token).map_err(|_| SpnegoError::Malformed)?;
        if mech != oid::SPNEGO {
            return Err(SpnegoError::Malformed);
        }
        inner
    } else {
        token
    };
    let mut r = DerReader::new(body);
    let choice = r.read_tlv().map_err(|_| SpnegoError::Malformed)?;
    let mut seq = DerReader::new(choice.content)
        .sequence()
        .map_err(|_| SpnegoError::Malformed)?;
    let m = |_| SpnegoError::Malformed;
    match choice.tag {
        0xa0 => {
            let mut init = NegTokenInit::default();
            let mut types = seq.context(0).map_err(m)?;
            let list = types.read_tlv().map_err(m)?;
            if list.tag != 0x30 {
                return Err(SpnegoError::Malformed);
            }
            init.mech_types_der = list.raw.to_vec();
            let mut items = DerReader::new(list.content);
            while !items.is_empty() {
                init.mech_types
                    .push(items.expect(0x06).map_err(m)?.content.to_vec());
            }
            if let Some(mut f) = seq.optional_context(1).map_err(m)? {
                init.req_flags = Some(f.flags().map_err(m)?);
            }
            if let Some(mut t) = seq.optional_context(2).map_err(m)? {
                init.mech_token = Some(t.octet_string().map_err(m)?);
            }
            if let Some(mut t) = seq.optional_context(3).map_err(m)? {
                // NegTokenInit2 (MS-SPNG 2.2.1) puts negHints (a SEQUENCE) at [3], the MIC at [4].
                if t.peek_tag() == Some(0x04) {
                    init.mech_list_mic = Some(t.octet_string().map_err(m)?);
                } else if let Some(mut t) = seq.optional_context(4).map_err(m)? {
                    init.mech_list_mic = Some(t.octet_string().map_err(m)?);
                }
            }
            Ok(NegToken::Init(init))
        }
        0xa1 => {
            let mut resp = NegTokenResp::default();
            if let Some(mut s) = seq.optional_context(0).map_err(m)? {
                let e = s.expect(0x0a).map_err(m)?;
                let v = match e.content {
                    [b] => i64::from(*b),
                    _ => return Err(SpnegoError::Malformed),
                };
                resp.neg_state = Some(NegState::from_i64(v).ok_or(SpnegoError::Malformed)?);
            }
            if let Some(mut s) = seq.optional_context(1).map_err(m)? {
                resp.supported_mech = Some(s.expect(0x06).map_err(m)?.content.to_vec());
            }
            if let Some(mut s) = seq.optional_context(2).map_err(m)? {
                resp.response_token = Some(s.octet_string().map_err(m)?);
            }
            if let Some(mut s) = seq.optional_context(3).map_err(m)? {
                resp.mech_list_mic = Some(s.octet_string().map_err(m)?);
            }
            Ok(NegToken::Resp(resp))
        }
        _ => Err(SpnegoError::Malformed),
    }
}

/// The DER MechTypeList for `mechs` (what a server-built mechListMIC covers).
pub fn mech_list_bytes(mechs: &[&[u8]]) -> Vec<u8> {
    let mut w = DerWriter::new();
    w.sequence(|w| {
        for m in mechs {
            w.tlv(0x06, m);
        }
    });
    w.finish()
}

/// Encodes a NegTokenInit inside the GSS initial-context framing (used by tests and for the
/// server's NegTokenInit hint).
pub fn encode_neg_token_init(init: &NegTokenInit) -> Vec<u8> {
    let mut w = DerWriter::new();
    w.context(0, |w| {
        w.sequence(|w| {
            w.context(0, |w| {
                w.sequence(|w| {
                    for m in &init.mech_types {
                        w.tlv(0x06, m);
                    }
                })
            });
            if let Some(f) = init.req_flags {
                w.context(1, |w| w.flags(f));
            }
            if let Some(t) = &init.mech_token {
                w.context(2, |w| w.octet_string(t));
            }
            if let Some(t) = &init.mech_list_mic {
                w.context(3, |w| w.octet_string(t));
            }
        })
    });
    let body = w.finish();
    let mut content = Vec::new();
    let mut w = DerWriter::new();
    w.tlv(0x06, oid::SPNEGO);
    content.extend(w.finish());
    content.extend(body);
    let mut w = DerWriter::new();
    w.tlv(0x60, &content);
    w.finish()
}

/// Encodes a NegTokenResp (RFC 4178 §4.2.2), fields in tag order.
pub fn encode_neg_token_resp(resp: &NegTokenResp) -> Vec<u8> {
    let mut w = DerWriter::new();
    w.context(1, |w| {
        w.sequence(|w| {
            if let Some(s) = resp.neg_state {
                w.context(0, |w| w.tlv(0x0a, &[s as u8]));
            }
            if let Some(m) = &resp.supported_mech {
                w.context(1, |w| w.tlv(0x06, m));
            }
            if let Some(t) = &resp.response_token {
                w.context(2, |w| w.octet_string(t));
            }
            if let Some(t) = &resp.mech_list_mic {
                w.context(3, |w| w.octet_string(t));
            }
        })
    });
    w.finish()
}

/// The acceptor's choice (MS-SPNG 3.3.5.1): the first mechanism in the client's list that the
/// server supports (`offered`). The optimistic mechToken is usable only if that is the client's
/// first choice (RFC 4178 §3.2 step 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MechChoice {
    pub mech: Mech,
    /// The client's optimistic token for `mech`, if it sent one for it.
    pub token: Option<Vec<u8>>,
    /// True when `mech` is not the client's first preference: a mechListMIC exchange is then
    /// mandatory (RFC 4178 §5, "request-mic").
    pub mic_required: bool,
}

pub fn choose_mech(init: &NegTokenInit, offered: &[Mech]) -> Result<MechChoice, SpnegoError> {
    let (idx, mech) = init
        .mech_types
        .iter()
        .enumerate()
        .find_map(|(i, o)| Mech::from_oid(o).filter(|m| offered.contains(m)).map(|m| (i, m)))
        .ok_or(SpnegoError::NoCommonMech)?;
    Ok(MechChoice {
        mech,
        token: if idx == 0 { init.mech_token.clone() } else { None },
        mic_required: idx != 0,
    })
}

/// A mechanism context able to protect the mechListMIC (RFC 4178 §5).
pub trait MechListMic {
    fn verify_mech_list_mic(&mut self, mech_types_der: &[u8], mic: &[u8]) -> bool;
    fn mech_list_mic(&mut self, mech_types_der: &[u8]) -> Vec<u8>;
}

/// NTLM: the MIC is an NTLM signature (MS-SPNG 3.3.5.1 / MS-NLMP 3.4.4). Windows then restarts
/// the RC4 handles: call [`NtlmSession::reset_rc4_handles`] after [`complete`].
impl MechListMic for NtlmSession {
    fn verify_mech_list_mic(&mut self, mech_types_der: &[u8], mic: &[u8]) -> bool {
        self.verify(mech_types_der, mic).is_ok()
    }
    fn mech_list_mic(&mut self, mech_types_der: &[u8]) -> Vec<u8> {
        self.sign(mech_types_der).to_vec()
    }
}

/// Kerberos: the MIC is a GSS MIC token (RFC 4121 §4.2.6.1); its sequence number is not
/// enforced.
impl MechListMic for KrbSecurityContext {
    fn verify_mech_list_mic(&mut self, mech_types_der: &[u8], mic: &[u8]) -> bool {
        self.verify_mic(mech_types_der, mic, false).is_ok()
    }
    fn mech_list_mic(&mut self, mech_types_der: &[u8]) -> Vec<u8> {
        self.get_mic(mech_types_der).unwrap_or_default()
    }
}

/// The last server leg once the mechanism has completed (RFC 4178 §5): checks the client's
/// mechListMIC when sent (or required), and returns the accept-completed NegTokenResp carrying
/// the final mechanism token and the server's own mechListMIC when one is due.
pub fn complete(
    mech_types_der: &[u8],
    client_mic: Option<&[u8]>,
    mic_required: bool,
    response_token: Option<Vec<u8>>,
    ctx: &mut dyn MechListMic,
) -> Result<Vec<u8>, SpnegoError> {
    let mech_list_mic = match client_mic {
        Some(mic) => {
            if !ctx.verify_mech_list_mic(mech_types_der, mic) {
                return Err(SpnegoError::BadMechListMic);
            }
            Some(ctx.mech_list_mic(mech_types_der))
        }
        None if mic_required => return Err(SpnegoError::BadMechListMic),
        None => None,
    };
    Ok(encode_neg_token_resp(&NegTokenResp {
        neg_state: Some(NegState::AcceptCompleted),
        supported_mech: None,
        response_token,
        mech_list_mic,
    }))
}

/// The rejection token (RFC 4178 §4.2.2: negState reject).
pub fn reject() -> Vec<u8> {
    encode_neg_token_resp(&NegTokenResp {
        neg_state: Some(NegState::Reject),
        ..Default::default()
    })
}
