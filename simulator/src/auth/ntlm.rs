//! NTLM acceptor (MS-NLMP): NEGOTIATE → CHALLENGE → AUTHENTICATE, NTLMv2 verification against a
//! stored NT hash, MIC and channel-binding checks, and session security (MS-NLMP 3.4).
//!
//! Wire codecs: [`NegotiateMessage`], [`build_challenge`], [`AuthenticateMessage`], [`AvPairs`].
//! State machine: [`NtlmAcceptor`]. Session security: [`NtlmSession`].

use rc4::{KeyInit, Rc4, StreamCipher};
use thiserror::Error;

use super::{constant_time_eq, hmac_md5, md5, LeReader};

/// NEGOTIATE flags (MS-NLMP 2.2.2.5), one table.
pub mod flags {
    pub const UNICODE: u32 = 0x0000_0001;
    pub const OEM: u32 = 0x0000_0002;
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    pub const SIGN: u32 = 0x0000_0010;
    pub const SEAL: u32 = 0x0000_0020;
    pub const DATAGRAM: u32 = 0x0000_0040;
    pub const LM_KEY: u32 = 0x0000_0080;
    pub const NTLM: u32 = 0x0000_0200;
    pub const ANONYMOUS: u32 = 0x0000_0800;
    pub const OEM_DOMAIN_SUPPLIED: u32 = 0x0000_1000;
    pub const OEM_WORKSTATION_SUPPLIED: u32 = 0x0000_2000;
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    pub const IDENTIFY: u32 = 0x0010_0000;
    pub const NON_NT_SESSION_KEY: u32 = 0x0040_0000;
    pub const TARGET_INFO: u32 = 0x0080_0000;
    pub const VERSION: u32 = 0x0200_0000;
    pub const NEG_128: u32 = 0x2000_0000;
    pub const KEY_EXCH: u32 = 0x4000_0000;
    pub const NEG_56: u32 = 0x8000_0000;
}

/// AV_PAIR ids (MS-NLMP 2.2.2.1), one table. ldap3 rejects ids above 10 (docs/notes/client-interop.md §7b);
/// the CHALLENGE carries only 1–7.
pub mod av_id {
    pub const EOL: u16 = 0;
    pub const NB_COMPUTER_NAME: u16 = 1;
    pub const NB_DOMAIN_NAME: u16 = 2;
    pub const DNS_COMPUTER_NAME: u16 = 3;
    pub const DNS_DOMAIN_NAME: u16 = 4;
    pub const DNS_TREE_NAME: u16 = 5;
    pub const FLAGS: u16 = 6;
    pub const TIMESTAMP: u16 = 7;
    pub const SINGLE_HOST: u16 = 8;
    pub const TARGET_NAME: u16 = 9;
    pub const CHANNEL_BINDINGS: u16 = 10;
}

/// MsvAvFlags bits (MS-NLMP 2.2.2.1).
pub mod av_flags {
    pub const ACCOUNT_AUTHENTICATION_CONSTRAINED: u32 = 0x1;
    pub const MIC_PRESENT: u32 = 0x2;
    pub const UNTRUSTED_SPN_SOURCE: u32 = 0x4;
}

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
const MSG_NEGOTIATE: u32 = 1;
const MSG_CHALLENGE: u32 = 2;
const MSG_AUTHENTICATE: u32 = 3;
/// AUTHENTICATE header up to and including Version (MS-NLMP 2.2.1.3); the MIC follows.
const AUTH_MIC_OFFSET: usize = 72;
const MIC_LEN: usize = 16;
/// Largest NTLM message accepted: real ones are well under 4 KiB.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// VERSION structure (MS-NLMP 2.2.2.10): Windows Server 2022 (10.0.20348), NTLMSSP_REVISION_W2K3.
pub const SERVER_VERSION: [u8; 8] = [10, 0, 0x7c, 0x4f, 0, 0, 0, 0x0f];

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NtlmWireError {
    #[error("NTLM message truncated or a field points outside it")]
    Truncated,
    #[error("not an NTLMSSP message")]
    BadSignature,
    #[error("NTLM message type {found}, expected {expected}")]
    WrongType { found: u32, expected: u32 },
    #[error("NTLM message too large")]
    TooLarge,
    #[error("malformed AV_PAIR list")]
    BadAvPairs,
    #[error("malformed NTLMv2 response")]
    BadNtlmV2Response,
}

fn check_header(msg: &[u8], expected: u32) -> Result<(), NtlmWireError> {
    if msg.len() > MAX_MESSAGE_LEN {
        return Err(NtlmWireError::TooLarge);
    }
    let mut r = LeReader::at(msg, 0).ok_or(NtlmWireError::Truncated)?;
    if r.bytes(8).ok_or(NtlmWireError::Truncated)? != SIGNATURE {
        return Err(NtlmWireError::BadSignature);
    }
    let found = r.u32().ok_or(NtlmWireError::Truncated)?;
    if found != expected {
        return Err(NtlmWireError::WrongType { found, expected });
    }
    Ok(())
}

/// A (Len, MaxLen, BufferOffset) field descriptor at `at`, resolved to the payload slice
/// (MS-NLMP 2.2.1.1). MaxLen is ignored on receipt as the spec says.
fn field(msg: &[u8], at: usize) -> Result<&[u8], NtlmWireError> {
    let mut r = LeReader::at(msg, at).ok_or(NtlmWireError::Truncated)?;
    let len = usize::from(r.u16().ok_or(NtlmWireError::Truncated)?);
    let _max = r.u16().ok_or(NtlmWireError::Truncated)?;
    let off = r.u32().ok_or(NtlmWireError::Truncated)? as usize;
    if len == 0 {
        return Ok(&[]);
    }
    msg.get(off..off.checked_add(len).ok_or(NtlmWireError::Truncated)?)
        .ok_or(NtlmWireError::Truncated)
}

fn field_offset(msg: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut r = LeReader::at(msg, at)?;
    let len = usize::from(r.u16()?);
    let _ = r.u16()?;
    let off = r.u32()? as usize;
    Some((len, off))
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn decode_utf16le(b: &[u8]) -> Result<String, NtlmWireError> {
    if b.len() % 2 != 0 {
        return Err(NtlmWireError::Truncated);
    }
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok(String::from_utf16_lossy(&units))
}

/// NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1). Only the flags matter to the acceptor; the raw bytes are
/// kept for the MIC (MS-NLMP 3.1.5.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateMessage {
    pub flags: u32,
    pub raw: Vec<u8>,
}

impl NegotiateMessage {
    pub fn decode(msg: &[u8]) -> Result<Self, NtlmWireError> {
        check_header(msg, MSG_NEGOTIATE)?;
        let flags = LeReader::at(msg, 12)
            .and_then(|mut r| r.u32())
            .ok_or(NtlmWireError::Truncated)?;
        Ok(NegotiateMessage {
            flags,
            raw: msg.to_vec(),
        })
    }
}

/// An AV_PAIR list (MS-NLMP 2.2.2.1), in wire order, without the terminating MsvAvEOL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvPairs(pub Vec<(u16, Vec<u8>)>);

impl AvPairs {
    /// Decodes up to MsvAvEOL; bytes after it are ignored (the NTLMv2 blob pads with zeros).
    pub fn decode(mut b: &[u8]) -> Result<Self, NtlmWireError> {
        let mut pairs = Vec::new();
        loop {
            let mut r = LeReader::at(b, 0).ok_or(NtlmWireError::BadAvPairs)?;
            let id = r.u16().ok_or(NtlmWireError::BadAvPairs)?;
            let len = usize::from(r.u16().ok_or(NtlmWireError::BadAvPairs)?);
            if id == av_id::EOL {
                return Ok(AvPairs(pairs));
            }
            let value = r.bytes(len).ok_or(NtlmWireError::BadAvPairs)?;
            pairs.push((id, value.to_vec()));
            b = &b[4 + len..];
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (id, v) in &self.0 {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&(v.len() as u16).to_le_bytes());
            out.extend_from_slice(v);
        }
        out.extend_from_slice(&[0, 0, 0, 0]);
        out
    }

    pub fn get(&self, id: u16) -> Option<&[u8]> {
        self.0.iter().find(|(i, _)| *i == id).map(|(_, v)| v.as_slice())
    }

    pub fn flags(&self) -> u32 {
        match self.get(av_id::FLAGS) {
            Some([a, b, c, d]) => u32::from_le_bytes([*a, *b, *c, *d]),
            _ => 0,
        }
    }
}

/// The names the DC puts in its CHALLENGE (MS-NLMP 3.2.5.1.1, target info for a DC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerNames {
    /// NetBIOS domain name, e.g. `CORP` (also the TargetName).
    pub nb_domain: String,
    /// NetBIOS computer name, e.g. `DC1`.
    pub nb_computer: String,
    /// DNS domain, e.g. `corp.example.test`.
    pub dns_domain: String,
    /// DNS host name, e.g. `dc1.corp.example.test`.
    pub dns_computer: String,
    /// DNS forest name.
    pub dns_tree: String,
}

/// Flags a server answers with (MS-NLMP 3.2.5.1.1): the client's requests it supports, plus
/// NTLM, TARGET_INFO and the target type. Windows DCs set TARGET_TYPE_DOMAIN.
pub fn negotiate_flags(client: u32) -> u32 {
    const MIRRORED: u32 = flags::SIGN
        | flags::SEAL
        | flags::ALWAYS_SIGN
        | flags::EXTENDED_SESSIONSECURITY
        | flags::IDENTIFY
        | flags::VERSION
        | flags::NEG_128
        | flags::KEY_EXCH
        | flags::NEG_56;
    let mut f = (client & MIRRORED) | flags::NTLM | flags::TARGET_INFO;
    // MS-NLMP 3.2.5.1.1: UNICODE if requested, else OEM.
    f |= if client & flags::UNICODE != 0 {
        flags::UNICODE
    } else {
        flags::OEM
    };
    if client & flags::REQUEST_TARGET != 0 {
        f |= flags::REQUEST_TARGET | flags::TARGET_TYPE_DOMAIN;
    }
    f
}

/// Builds a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2). Target info carries AV ids 1–5, 7 and EOL
/// in the order Windows sends them (2, 1, 4, 3, 5, 7).
pub fn build_challenge(
    negotiated: u32,
    server_challenge: [u8; 8],
    timestamp: u64,
    names: &ServerNames,
) -> Vec<u8> {
    let unicode = negotiated & flags::UNICODE != 0;
    let enc = |s: &str| {
        if unicode {
            utf16le(s)
        } else {
            s.as_bytes().to_vec()
        }
    };
    // AV_PAIR values are always UTF-16LE (MS-NLMP 2.2.2.1).
    let target_info = AvPairs(vec![
        (av_id::NB_DOMAIN_NAME, utf16le(&names.nb_domain)),
        (av_id::NB_COMPUTER_NAME, utf16le(&names.nb_computer)),
        (av_id::DNS_DOMAIN_NAME, utf16le(&names.dns_domain)),
        (av_id::DNS_COMPUTER_NAME, utf16le(&names.dns_computer)),
        (av_id::DNS_TREE_NAME, utf16le(&names.dns_tree)),
        (av_id::TIMESTAMP, timestamp.to_le_bytes().to_vec()),
    ])
    .encode();
    let target_name = if negotiated & flags::REQUEST_TARGET != 0 {
        enc(&names.nb_domain)
    } else {
        Vec::new()
    };
    const HEADER: usize = 56;
    let tn_off = HEADER;
    let ti_off = HEADER + target_name.len();
    let mut m = Vec::with_capacity(ti_off + target_info.len());
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&MSG_CHALLENGE.to_le_bytes());
    push_field(&mut m, target_name.len(), tn_off);
    m.extend_from_slice(&negotiated.to_le_bytes());
    m.extend_from_slice(&server_challenge);
    m.extend_from_slice(&[0; 8]);
    push_field(&mut m, target_info.len(), ti_off);
    // Version (MS-NLMP 2.2.1.2): zero unless NTLMSSP_NEGOTIATE_VERSION.
    if negotiated & flags::VERSION != 0 {
        m.extend_from_slice(&SERVER_VERSION);
    } else {
        m.extend_from_slice(&[0; 8]);
    }
    m.extend_from_slice(&target_name);
    m.extend_from_slice(&target_info);
    m
}

fn push_field(m: &mut Vec<u8>, len: usize, off: usize) {
    m.extend_from_slice(&(len as u16).to_le_bytes());
    m.extend_from_slice(&(len as u16).to_le_bytes());
    m.extend_from_slice(&(off as u32).to_le_bytes());
}

/// The NTLMv2 client challenge blob (MS-NLMP 2.2.2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmV2Blob {
    pub timestamp: u64,
    pub client_challenge: [u8; 8],
    pub av_pairs: AvPairs,
}

/// AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3), fields resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticateMessage {
    pub lm_response: Vec<u8>,
    pub nt_response: Vec<u8>,
    pub domain: String,
    pub user: String,
    pub workstation: String,
    pub encrypted_random_session_key: Vec<u8>,
    pub flags: u32,
    pub raw: Vec<u8>,
}

impl AuthenticateMessage {
    pub fn decode(msg: &[u8]) -> Result<Self, NtlmWireError> {
        check_header(msg, MSG_AUTHENTICATE)?;
        let flags = LeReader::at(msg, 60)
            .and_then(|mut r| r.u32())
            .ok_or(NtlmWireError::Truncated)?;
        let text = |b: &[u8]| {
            if flags & flags::UNICODE != 0 {
                decode_utf16le(b)
            } else {
                Ok(String::from_utf8_lossy(b).into_owned())
            }
        };
        Ok(AuthenticateMessage {
            lm_response: field(msg, 12)?.to_vec(),
            nt_response: field(msg, 20)?.to_vec(),
            domain: text(field(msg, 28)?)?,
            user: text(field(msg, 36)?)?,
            workstation: text(field(msg, 44)?)?,
            encrypted_random_session_key: field(msg, 52)?.to_vec(),
            flags,
            raw: msg.to_vec(),
        })
    }

    /// Splits an NTLMv2 NtChallengeResponse into NTProofStr and the blob (MS-NLMP 2.2.2.8).
    pub fn ntlm_v2(&self) -> Result<([u8; 16], &[u8], NtlmV2Blob), NtlmWireError> {
        let r = &self.nt_response;
        if r.len() < 16 + 28 {
            return Err(NtlmWireError::BadNtlmV2Response);
        }
        let mut proof = [0u8; 16];
        proof.copy_from_slice(&r[..16]);
        let blob = &r[16..];
        // RespType and HiRespType MUST be 1 (MS-NLMP 2.2.2.7).
        if blob[0] != 1 || blob[1] != 1 {
            return Err(NtlmWireError::BadNtlmV2Response);
        }
        let mut rd = LeReader::at(blob, 8).ok_or(NtlmWireError::BadNtlmV2Response)?;
        let timestamp = rd.u64().ok_or(NtlmWireError::BadNtlmV2Response)?;
        let mut client_challenge = [0u8; 8];
        client_challenge.copy_from_slice(rd.bytes(8).ok_or(NtlmWireError::BadNtlmV2Response)?);
        let av_pairs = AvPairs::decode(&blob[28..])?;
        Ok((
            proof,
            blob,
            NtlmV2Blob {
                timestamp,
                client_challenge,
                av_pairs,
            },
        ))
    }
}

/// NTOWFv2 from the stored NT hash (MS-NLMP 3.3.2): HMAC_MD5(NT hash, UNICODE(Uppercase(User)
/// || UserDom)). The domain keeps the case the client sent.
pub fn ntowf_v2(nt_hash: &[u8; 16], user: &str, domain: &str) -> [u8; 16] {
    let mut ud = utf16le(&user.to_uppercase());
    ud.extend_from_slice(&utf16le(domain));
    hmac_md5(nt_hash, &[&ud])
}

/// NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp) (MS-NLMP 3.3.2).
pub fn nt_proof_str(response_key_nt: &[u8; 16], server_challenge: &[u8; 8], blob: &[u8]) -> [u8; 16] {
    hmac_md5(response_key_nt, &[server_challenge, blob])
}

/// SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr) (MS-NLMP 3.3.2); for NTLMv2 it is also
/// the KeyExchangeKey (MS-NLMP 3.4.5.1).
pub fn session_base_key(response_key_nt: &[u8; 16], proof: &[u8; 16]) -> [u8; 16] {
    hmac_md5(response_key_nt, &[proof])
}

fn rc4_once(key: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    Rc4::<rc4::consts::U16>::new(key.into()).apply_keystream(&mut out);
    out
}

/// The application data of a `tls-server-end-point` channel binding (RFC 5929 §4.1): the
/// prefix followed by the hash of the server certificate (SHA-256 for certificates signed with
/// MD5, SHA-1 or SHA-256).
pub fn tls_server_end_point(cert_hash: &[u8]) -> Vec<u8> {
    let mut v = b"tls-server-end-point:".to_vec();
    v.extend_from_slice(cert_hash);
    v
}

/// MD5 of a gss_channel_bindings_struct with empty addresses and `application_data`
/// (MS-NLMP 2.2.2.1 MsvAvChannelBindings, RFC 2744 §3.11 layout: initiator addrtype and
/// length, acceptor addrtype and length, application data length, all little-endian u32 as
/// Windows serialises SEC_CHANNEL_BINDINGS, then the data).
pub fn channel_binding_hash(application_data: &[u8]) -> [u8; 16] {
    let mut s = [0u8; 20];
    s[16..20].copy_from_slice(&(application_data.len() as u32).to_le_bytes());
    md5(&[&s, application_data])
}

/// LdapEnforceChannelBinding (0/1/2) as AD applies it to NTLM (KB4520412).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelBindingPolicy {
    /// 0: never checked.
    #[default]
    Never,
    /// 1: checked when the client sends a (non-zero) binding.
    WhenSupported,
    /// 2: a binding is required and must match.
    Always,
}

/// Acceptor policy knobs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NtlmPolicy {
    pub channel_binding: ChannelBindingPolicy,
    /// The binding hash for this connection ([`channel_binding_hash`]), `None` without TLS.
    pub expected_channel_binding: Option<[u8; 16]>,
    /// Maximum |client blob timestamp − CHALLENGE timestamp| in 100 ns units; `None`: unchecked.
    pub max_timestamp_skew: Option<u64>,
    /// Accept anonymous (MS-NLMP 3.2.5.1.2) as an outcome; otherwise refuse it.
    pub allow_anonymous: bool,
}

/// Looked-up account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmAccount<R> {
    pub nt_hash: [u8; 16],
    pub account: R,
    /// The account is locked out: refused before its response is checked, so neither the
    /// right nor a wrong password changes anything (Samba's `authsam_authenticate` checks
    /// ACB_AUTOLOCK first; AD answers STATUS_ACCOUNT_LOCKED_OUT, `data 775`).
    pub locked_out: bool,
}

/// The directory side: find an account by the (domain, user) the client sent, and count a
/// wrong response towards its lockout (MS-SAMR 3.1.1.8.11 badPwdCount; AD counts NTLM
/// failures as it counts simple binds and Kerberos pre-authentication).
pub trait NtlmAccounts {
    type Ref;
    fn lookup(&self, domain: &str, user: &str) -> Option<NtlmAccount<Self::Ref>>;
    /// A response computed from another password than the account's.
    fn wrong_password(&self, account: &Self::Ref);
}

/// Why an authentication failed. `code()` gives the Windows reason in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NtlmFailure {
    Malformed,
    UnknownUser,
    WrongPassword,
    LockedOut,
    NtlmV1Refused,
    AnonymousRefused,
    BadMic,
    MissingMic,
    BadChannelBinding,
    TimestampSkew,
    OutOfSequence,
}

/// How AD reports a failure: the error in front of `LdapErr:` and the `data` sub-status in
/// `80090308: LdapErr: DSID-0C090569, comment: AcceptSecurityContext error, data 52e, v4563`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowsReason {
    /// SSPI status (MS-ERREF 2.1): SEC_E_INVALID_TOKEN 0x80090308, SEC_E_BAD_BINDINGS 0x80090346.
    pub hresult: u32,
    /// Win32 sub-status (MS-ERREF 2.2): 0x52e ERROR_LOGON_FAILURE, 0x57 ERROR_INVALID_PARAMETER.
    pub data: u32,
}

/// The one table of failure codes. Wrong password and unknown user both give 52e on AD (no
/// user enumeration); a bad channel binding gives 80090346 (KB4520412). The choices for MIC and
/// sequence errors are the simulator's (AD maps them to logon failure as well).
pub const FAILURE_CODES: &[(NtlmFailure, WindowsReason)] = &[
    (
        NtlmFailure::Malformed,
        WindowsReason {
            hresult: 0x8009_0308,
            data: 0x57,
        },
    ),
    (
        NtlmFailure::UnknownUser,
        WindowsReason {
            hresult: 0x8009_0308,
            data: 0x52e,
        },
    ),
    (
        NtlmFailure::WrongPassword,
        WindowsReason {
            hresult: 0x8009_0308,
            data: 0x52e,
        },
    ),
    (
        NtlmFailure::LockedOut,
        WindowsReason {
            hresult: 0x8009_0308,
            data: 0x775,
        },
    ),
    (
        NtlmFailure::NtlmV1Refused,
        WindowsReason {
            hresult: 0x8009_0308,
            data: 0x52e,
        },
    ),
    (
        NtlmFailure::AnonymousRefused,
        WindowsReason {
            hresult: 0x8009_0308,
            data: 0x52e,
        },
    ),
    (
        NtlmFailure::BadMic,
        WindowsReason {
            hresult: 0x8009_0308,
            data: 0x52e,
        },
    ),
    (
        NtlmFailure::MissingMic,
        WindowsReason {
            hresult: 0x8009_0308,
            data: 0x52e,
        },
    ),
    (
        NtlmFailure::BadChannelBinding,
        WindowsReason {
            hresult: 0x8009_0346,
            data: 0x8009_0346,
        },
    ),
    (
        NtlmFailure::TimestampSkew,
        WindowsReason {
            hresult: 0x8009_0308,
            data: 0x52e,
        },
    ),
    (
        NtlmFailure::OutOfSequence,
        WindowsReason {
            hresult: 0x8009_0308,
            data: 0x57,
        },
    ),
];

impl NtlmFailure {
    pub fn code(self) -> WindowsReason {
        FAILURE_CODES
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, r)| *r)
            .unwrap_or(WindowsReason {
                hresult: 0x8009_0308,
                data: 0x52e,
            })
    }
}

/// The result of AUTHENTICATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NtlmOutcome<R> {
    Authenticated {
        account: R,
        user: String,
        domain: String,
        /// ExportedSessionKey (MS-NLMP 3.2.5.1.2).
        session_key: [u8; 16],
        flags: u32,
    },
    /// Anonymous (MS-NLMP 3.2.5.1.2: empty user, empty NT response, LM Z(1) or empty).
    Anonymous {
        flags: u32,
    },
    Failed(NtlmFailure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Initial,
    Challenged {
        negotiate: Vec<u8>,
        challenge: Vec<u8>,
        server_challenge: [u8; 8],
        timestamp: u64,
        flags: u32,
    },
    Done,
}

/// The acceptor state machine: one per bind.
#[derive(Debug, Clone)]
pub struct NtlmAcceptor {
    names: ServerNames,
    policy: NtlmPolicy,
    state: State,
}

impl NtlmAcceptor {
    pub fn new(names: ServerNames, policy: NtlmPolicy) -> Self {
        NtlmAcceptor {
            names,
            policy,
            state: State::Initial,
        }
    }

    /// NEGOTIATE in, CHALLENGE out. `server_challenge` must come from a CSPRNG in production;
    /// `timestamp` is the current FILETIME (MsvAvTimestamp).
    pub fn challenge(
        &mut self,
        negotiate: &[u8],
        server_challenge: [u8; 8],
        timestamp: u64,
    ) -> Result<Vec<u8>, NtlmWireError> {
        let neg = NegotiateMessage::decode(negotiate)?;
        let f = negotiate_flags(neg.flags);
        let challenge = build_challenge(f, server_challenge, timestamp, &self.names);
        self.state = State::Challenged {
            negotiate: neg.raw,
            challenge: challenge.clone(),
            server_challenge,
            timestamp,
            flags: f,
        };
        Ok(challenge)
    }

    /// AUTHENTICATE in, decision out (MS-NLMP 3.2.5.1.2).
    pub fn authenticate<A: NtlmAccounts>(&mut self, msg: &[u8], accounts: &A) -> NtlmOutcome<A::Ref> {
        let state = std::mem::replace(&mut self.state, State::Done);
        let State::Challenged {
            negotiate,
            challenge,
            server_challenge,
            timestamp,
            flags: chal_flags,
        } = state
        else {
            return NtlmOutcome::Failed(NtlmFailure::OutOfSequence);
        };
        let Ok(auth) = AuthenticateMessage::decode(msg) else {
            return NtlmOutcome::Failed(NtlmFailure::Malformed);
        };
        // The AUTHENTICATE flags are the negotiated ones, but a client cannot add what the
        // server did not offer (MS-NLMP 3.2.5.1.2).
        let neg_flags = auth.flags & chal_flags;

        // Anonymous (MS-NLMP 3.2.5.1.2).
        if auth.user.is_empty()
            && auth.nt_response.is_empty()
            && (auth.lm_response.is_empty() || auth.lm_response == [0])
        {
            return if self.policy.allow_anonymous {
                NtlmOutcome::Anonymous { flags: neg_flags }
            } else {
                NtlmOutcome::Failed(NtlmFailure::AnonymousRefused)
            };
        }
        // NTLMv1 / LM: an NT response of exactly 24 bytes (MS-NLMP 2.2.2.6) or none at all.
        // Refused, as AD with LmCompatibilityLevel 5.
        if auth.nt_response.len() <= 24 {
            return NtlmOutcome::Failed(NtlmFailure::NtlmV1Refused);
        }
        let Ok((proof, blob, v2)) = auth.ntlm_v2() else {
            return NtlmOutcome::Failed(NtlmFailure::Malformed);
        };
        let Some(account) = accounts.lookup(&auth.domain, &auth.user) else {
            return NtlmOutcome::Failed(NtlmFailure::UnknownUser);
        };
        if account.locked_out {
            return NtlmOutcome::Failed(NtlmFailure::LockedOut);
        }
        let key = ntowf_v2(&account.nt_hash, &auth.user, &auth.domain);
        if !constant_time_eq(&nt_proof_str(&key, &server_challenge, blob), &proof) {
            accounts.wrong_password(&account.account);
            return NtlmOutcome::Failed(NtlmFailure::WrongPassword);
        }
        if let Some(max) = self.policy.max_timestamp_skew {
            if v2.timestamp.abs_diff(timestamp) > max {
                return NtlmOutcome::Failed(NtlmFailure::TimestampSkew);
            }
        }
        // KeyExchangeKey = SessionBaseKey for NTLMv2 (MS-NLMP 3.4.5.1); with KEY_EXCH the
        // ExportedSessionKey is RC4(KeyExchangeKey, EncryptedRandomSessionKey) (3.2.5.1.2).
        let kxkey = session_base_key(&key, &proof);
        let session_key = if neg_flags & flags::KEY_EXCH != 0 {
            let Ok(ersk) = <[u8; 16]>::try_from(auth.encrypted_random_session_key.as_slice()) else {
                return NtlmOutcome::Failed(NtlmFailure::Malformed);
            };
            let mut k = [0u8; 16];
            k.copy_from_slice(&rc4_once(&kxkey, &ersk));
            k
        } else {
            kxkey
        };
        // MIC (MS-NLMP 3.2.5.1.2): present when MsvAvFlags has 0x2; HMAC_MD5(ExportedSessionKey,
        // NEGOTIATE || CHALLENGE || AUTHENTICATE with the MIC zeroed).
        if v2.av_pairs.flags() & av_flags::MIC_PRESENT != 0 {
            let Some(mic) = auth.raw.get(AUTH_MIC_OFFSET..AUTH_MIC_OFFSET + MIC_LEN) else {
                return NtlmOutcome::Failed(NtlmFailure::MissingMic);
            };
            // The MIC must not overlap the payload.
            if !payload_starts_after(&auth.raw, AUTH_MIC_OFFSET + MIC_LEN) {
                return NtlmOutcome::Failed(NtlmFailure::MissingMic);
            }
            let mut zeroed = auth.raw.clone();
            zeroed[AUTH_MIC_OFFSET..AUTH_MIC_OFFSET + MIC_LEN].fill(0);
            let expected = hmac_md5(&session_key, &[&negotiate, &challenge, &zeroed]);
            if !constant_time_eq(&expected, mic) {
                return NtlmOutcome::Failed(NtlmFailure::BadMic);
            }
        }
        // Channel bindings (MS-NLMP 3.2.5.1.2, LdapEnforceChannelBinding).
        let cb = v2.av_pairs.get(av_id::CHANNEL_BINDINGS);
        let cb_sent = cb.filter(|v| v.iter().any(|b| *b != 0));
        let cb_ok = |v: &[u8]| {
            self.policy
                .expected_channel_binding
                .is_some_and(|e| constant_time_eq(&e, v))
        };
        match self.policy.channel_binding {
            ChannelBindingPolicy::Never => {}
            ChannelBindingPolicy::WhenSupported => {
                if let Some(v) = cb_sent {
                    if self.policy.expected_channel_binding.is_some() && !cb_ok(v) {
                        return NtlmOutcome::Failed(NtlmFailure::BadChannelBinding);
                    }
                }
            }
            ChannelBindingPolicy::Always => {
                if self.policy.expected_channel_binding.is_some() && !cb_sent.is_some_and(cb_ok) {
                    return NtlmOutcome::Failed(NtlmFailure::BadChannelBinding);
                }
            }
        }
        NtlmOutcome::Authenticated {
            account: account.account,
            user: auth.user,
            domain: auth.domain,
            session_key,
            flags: neg_flags,
        }
    }
}

/// True if every non-empty payload field of an AUTHENTICATE starts at or after `min`.
fn payload_starts_after(msg: &[u8], min: usize) -> bool {
    [12, 20, 28, 36, 44, 52]
        .iter()
        .all(|&at| match field_offset(msg, at) {
            Some((0, _)) => true,
            Some((_, off)) => off >= min,
            None => false,
        })
}

/// Which end of the connection an [`NtlmSession`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

const CLI_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const SRV_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const CLI_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const SRV_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// SIGNKEY (MS-NLMP 3.4.5.2), extended session security.
pub fn sign_key(session_key: &[u8; 16], magic_client_to_server: bool) -> [u8; 16] {
    md5(&[
        session_key,
        if magic_client_to_server {
            CLI_SIGN
        } else {
            SRV_SIGN
        },
    ])
}

/// SEALKEY (MS-NLMP 3.4.5.3), extended session security: 128-bit, 56-bit or 40-bit base.
pub fn seal_key(session_key: &[u8; 16], flags: u32, magic_client_to_server: bool) -> [u8; 16] {
    let base: &[u8] = if flags & flags::NEG_128 != 0 {
        session_key
    } else if flags & flags::NEG_56 != 0 {
        &session_key[..7]
    } else {
        &session_key[..5]
    };
    md5(&[
        base,
        if magic_client_to_server {
            CLI_SEAL
        } else {
            SRV_SEAL
        },
    ])
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NtlmSecurityError {
    #[error("NTLM signature malformed")]
    Malformed,
    #[error("NTLM signature does not verify (SEC_E_MESSAGE_ALTERED)")]
    BadSignature,
    #[error("session security needs NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY")]
    NoExtendedSessionSecurity,
}

pub const SIGNATURE_LEN: usize = 16;

struct Direction {
    sign_key: [u8; 16],
    seal_key: [u8; 16],
    rc4: Rc4<rc4::consts::U16>,
    seq: u32,
}

impl Direction {
    fn new(sign_key: [u8; 16], seal_key: [u8; 16]) -> Self {
        Direction {
            sign_key,
            seal_key,
            rc4: Rc4::new((&seal_key).into()),
            seq: 0,
        }
    }

    fn reset_rc4(&mut self) {
        self.rc4 = Rc4::new((&self.seal_key).into());
    }

    /// MAC with extended session security (MS-NLMP 3.4.4.2): HMAC_MD5(SigningKey, SeqNum ||
    /// Message)[0..8], RC4-encrypted with the sealing handle when KEY_EXCH was negotiated.
    fn mac(&mut self, msg: &[u8], key_exch: bool) -> [u8; SIGNATURE_LEN] {
        let seq = self.seq.to_le_bytes();
        let full = hmac_md5(&self.sign_key, &[&seq, msg]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&full[..8]);
        if key_exch {
            self.rc4.apply_keystream(&mut checksum);
        }
        self.seq = self.seq.wrapping_add(1);
        let mut sig = [0u8; SIGNATURE_LEN];
        sig[..4].copy_from_slice(&1u32.to_le_bytes());
        sig[4..12].copy_from_slice(&checksum);
        sig[12..].copy_from_slice(&seq);
        sig
    }
}

/// Session security after authentication (MS-NLMP 3.4), extended session security only:
/// connection-oriented, one RC4 handle and one sequence number per direction.
pub struct NtlmSession {
    send: Direction,
    recv: Direction,
    key_exch: bool,
}

impl std::fmt::Debug for NtlmSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtlmSession")
            .field("send_seq", &self.send.seq)
            .field("recv_seq", &self.recv.seq)
            .finish_non_exhaustive()
    }
}

impl NtlmSession {
    pub fn new(session_key: &[u8; 16], flags: u32, role: Role) -> Result<Self, NtlmSecurityError> {
        if flags & flags::EXTENDED_SESSIONSECURITY == 0 {
            return Err(NtlmSecurityError::NoExtendedSessionSecurity);
        }
        let c2s = Direction::new(sign_key(session_key, true), seal_key(session_key, flags, true));
        let s2c = Direction::new(sign_key(session_key, false), seal_key(session_key, flags, false));
        let (send, recv) = match role {
            Role::Client => (c2s, s2c),
            Role::Server => (s2c, c2s),
        };
        Ok(NtlmSession {
            send,
            recv,
            key_exch: flags & flags::KEY_EXCH != 0,
        })
    }

    /// SEAL (MS-NLMP 3.4.3): RC4 the message, then sign the plaintext with the same handle.
    pub fn seal(&mut self, msg: &[u8]) -> (Vec<u8>, [u8; SIGNATURE_LEN]) {
        let mut sealed = msg.to_vec();
        self.send.rc4.apply_keystream(&mut sealed);
        let sig = self.send.mac(msg, self.key_exch);
        (sealed, sig)
    }

    /// UNSEAL: decrypt, then verify the signature (and the expected sequence number).
    pub fn unseal(&mut self, sealed: &[u8], signature: &[u8]) -> Result<Vec<u8>, NtlmSecurityError> {
        let mut plain = sealed.to_vec();
        self.recv.rc4.apply_keystream(&mut plain);
        let expected = self.recv.mac(&plain, self.key_exch);
        if !constant_time_eq(&expected, signature) {
            return Err(NtlmSecurityError::BadSignature);
        }
        Ok(plain)
    }

    /// Restarts both RC4 handles; the sequence numbers go on. Windows does this once the SPNEGO
    /// mechListMIC has been produced and checked with NTLM: impacket's LDAP client
    /// (`SPNEGOCipher.sign(..., reset_cipher=True)`, which works against AD) signs the
    /// mechListMIC with SeqNum 0, resets its handles, and seals the first LDAP PDU with SeqNum 1.
    pub fn reset_rc4_handles(&mut self) {
        self.send.reset_rc4();
        self.recv.reset_rc4();
    }

    /// Integrity only (MS-NLMP 3.4.4).
    pub fn sign(&mut self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.send.mac(msg, self.key_exch)
    }

    pub fn verify(&mut self, msg: &[u8], signature: &[u8]) -> Result<(), NtlmSecurityError> {
        if signature.len() != SIGNATURE_LEN {
            return Err(NtlmSecurityError::Malformed);
        }
        let expected = self.recv.mac(msg, self.key_exch);
        if constant_time_eq(&expected, signature) {
            Ok(())
        } else {
            Err(NtlmSecurityError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn av_pairs_round_trip_and_reject_overruns() {
        let p = AvPairs(vec![(1, vec![1, 2]), (7, vec![0; 8])]);
        assert_eq!(AvPairs::decode(&p.encode()).unwrap(), p);
        assert_eq!(AvPairs::decode(&[1, 0, 9, 0, 1]), Err(NtlmWireError::BadAvPairs));
        assert_eq!(AvPairs::decode(&[1, 0]), Err(NtlmWireError::BadAvPairs));
    }

    #[test]
    fn flags_mirror_requests_and_add_target_info() {
        let f = negotiate_flags(flags::UNICODE | flags::SEAL | flags::REQUEST_TARGET);
        assert_eq!(
            f,
            flags::UNICODE
                | flags::SEAL
                | flags::REQUEST_TARGET
                | flags::TARGET_TYPE_DOMAIN
                | flags::NTLM
                | flags::TARGET_INFO
        );
        assert_eq!(negotiate_flags(0) & flags::OEM, flags::OEM);
    }

    #[test]
    fn challenge_carries_av_ids_one_to_seven_only() {
        let names = ServerNames {
            nb_domain: "CORP".into(),
            nb_computer: "DC1".into(),
            dns_domain: "corp.test".into(),
            dns_computer: "dc1.corp.test".into(),
            dns_tree: "corp.test".into(),
        };
        let c = build_challenge(negotiate_flags(0xe2088297), [1; 8], 42, &names);
        let ti = field(&c, 40).unwrap();
        let pairs = AvPairs::decode(ti).unwrap();
        assert!(pairs.0.iter().all(|(id, _)| (1..=7).contains(id)));
        assert_eq!(pairs.get(av_id::TIMESTAMP), Some(&42u64.to_le_bytes()[..]));
        assert_eq!(field(&c, 12).unwrap(), utf16le("CORP"));
        assert_eq!(&c[24..32], &[1; 8]);
    }
}
