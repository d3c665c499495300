//! Kerberos V5 GSS-API acceptor (RFC 4121, framing of RFC 2743 §3.1 / RFC 1964 §1.1, MS-KILE
//! 3.4): AP-REQ verification with caller-supplied service keys, the AP-REP for mutual
//! authentication, and RFC 4121 per-message tokens (Wrap 05 04, MIC 04 04) for AES; a context
//! whose key is RC4-HMAC (etype 23) uses the RFC 4757 tokens of [`super::gss_rc4`] instead.

use thiserror::Error;

use crate::kdc::crypto::{self, Etype};
use crate::kdc::der::{DerReader, DerWriter};
use crate::kdc::messages::{
    ApRep, ApReq, Authenticator, AuthorizationDataEntry, EncApRepPart, EncTicketPart, EncryptedData,
    EncryptionKey, PrincipalName,
};
pub use crate::kdc::replay::ReplayKey;

use super::constant_time_eq;
use super::gss_rc4;
use super::ntlm::ChannelBindingPolicy;

/// Mechanism OIDs (DER content octets), one table.
pub mod oid {
    /// 1.2.840.113554.1.2.2 (RFC 1964 §1).
    pub const KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// 1.2.840.48018.1.2.2, the OID Windows puts first in SPNEGO (MS-SPNG 3.3.5.2, MS-KILE 3.1.5.12).
    pub const MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
}

/// Token identifiers (RFC 4121 §4.1 and §4.2.6), one table.
pub mod tok_id {
    pub const AP_REQ: [u8; 2] = [0x01, 0x00];
    pub const AP_REP: [u8; 2] = [0x02, 0x00];
    pub const KRB_ERROR: [u8; 2] = [0x03, 0x00];
    pub const MIC: [u8; 2] = [0x04, 0x04];
    pub const WRAP: [u8; 2] = [0x05, 0x04];
}

/// Key usages (RFC 4120 §7.5.1, RFC 4121 §2), one table.
pub mod usage {
    pub const TICKET: i32 = 2;
    pub const AP_REQ_AUTHENTICATOR: i32 = 11;
    pub const AP_REP_ENC_PART: i32 = 12;
    pub const ACCEPTOR_SEAL: i32 = 22;
    pub const ACCEPTOR_SIGN: i32 = 23;
    pub const INITIATOR_SEAL: i32 = 24;
    pub const INITIATOR_SIGN: i32 = 25;
}

pub use crate::kdc::gss_checksum::{gss_flags, GssChecksum, CKSUM_GSSAPI};

/// Per-message token flags (RFC 4121 §4.2.2), one table.
pub mod token_flags {
    pub const SENT_BY_ACCEPTOR: u8 = 0x01;
    pub const SEALED: u8 = 0x02;
    pub const ACCEPTOR_SUBKEY: u8 = 0x04;
}

/// AP options (RFC 4120 §5.5.1), as `kdc::der` returns KerberosFlags (bit 0 = MSB).
pub mod ap_options {
    pub const USE_SESSION_KEY: u32 = 0x4000_0000;
    pub const MUTUAL_REQUIRED: u32 = 0x2000_0000;
}

/// Kerberos error codes: the KDC's table (RFC 4120 §7.5.9).
pub use crate::kdc::error::code;

/// A refused AP-REQ: the RFC 4120 error code and a reason for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("Kerberos error {code}: {reason}")]
pub struct ApError {
    pub code: i32,
    pub reason: &'static str,
}

fn ap_err(code: i32, reason: &'static str) -> ApError {
    ApError { code, reason }
}

/// The reason [`accept_sec_context`] gives for a wrong or missing channel binding.
const CHANNEL_BINDING_MISMATCH: &str = "channel binding mismatch";

impl ApError {
    /// A wrong or missing channel binding.
    pub fn channel_binding() -> ApError {
        ap_err(code::KRB_AP_ERR_MODIFIED, CHANNEL_BINDING_MISMATCH)
    }

    /// The refusal is the channel binding's (callers answer SEC_E_BAD_BINDINGS, KB4520412).
    pub fn is_channel_binding(&self) -> bool {
        self.reason == CHANNEL_BINDING_MISMATCH
    }
}

/// Which framing a context token came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `60 .. 06 09 <oid> 01 00 AP-REQ` with the standard krb5 OID.
    Krb5,
    /// The same with the Microsoft krb5 OID.
    MsKrb5,
    /// A bare AP-REQ (as impacket puts it in a SPNEGO mechToken).
    Raw,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GssError {
    #[error("malformed GSS token")]
    Malformed,
    #[error("not a Kerberos mechanism token")]
    WrongMech,
    #[error("unexpected token id")]
    WrongTokenId,
    #[error("token integrity check failed")]
    BadIntegrity,
    #[error("token direction flag is wrong (reflection)")]
    WrongDirection,
    #[error("per-message tokens for etype {0} are not implemented")]
    UnsupportedEtype(i32),
    #[error("sequence number {got}, expected {expected}")]
    BadSequence { got: u64, expected: u64 },
}

/// Splits an InitialContextToken (RFC 2743 §3.1): `[APPLICATION 0] { thisMech OID, innerToken }`.
/// Returns the mech OID content octets and the inner token (TOK_ID included).
pub fn split_initial_token(token: &[u8]) -> Result<(&[u8], &[u8]), GssError> {
    let mut r = DerReader::new(token);
    let outer = r.read_tlv().map_err(|_| GssError::Malformed)?;
    if outer.tag != 0x60 {
        return Err(GssError::Malformed);
    }
    let mut inner = DerReader::new(outer.content);
    let oid_tlv = inner.read_tlv().map_err(|_| GssError::Malformed)?;
    if oid_tlv.tag != 0x06 {
        return Err(GssError::Malformed);
    }
    let rest = outer
        .content
        .get(oid_tlv.raw.len()..)
        .ok_or(GssError::Malformed)?;
    Ok((oid_tlv.content, rest))
}

/// Builds an InitialContextToken around `tok_id || body` (RFC 2743 §3.1, RFC 4121 §4.1).
pub fn wrap_initial_token(mech: &[u8], tok_id: [u8; 2], body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(mech.len() + 4 + body.len());
    let mut w = DerWriter::new();
    w.tlv(0x06, mech);
    content.extend(w.finish());
    content.extend(tok_id);
    content.extend(body);
    let mut w = DerWriter::new();
    w.tlv(0x60, &content);
    w.finish()
}

/// Recognises a krb5 context token: framed with either OID and TOK_ID 01 00, or a raw AP-REQ.
pub fn parse_ap_req_token(token: &[u8]) -> Result<(Framing, ApReq), ApError> {
    let malformed = ap_err(code::KRB_AP_ERR_MSG_TYPE, "not a Kerberos AP-REQ token");
    let (framing, ap_req) = if token.first() == Some(&0x60) {
        let (mech, inner) = split_initial_token(token).map_err(|_| malformed)?;
        let framing = if mech == oid::KRB5 {
            Framing::Krb5
        } else if mech == oid::MS_KRB5 {
            Framing::MsKrb5
        } else {
            return Err(malformed);
        };
        let (id, rest) = inner.split_at_checked(2).ok_or(malformed)?;
        if id != tok_id::AP_REQ {
            return Err(malformed);
        }
        (framing, rest)
    } else {
        (Framing::Raw, token)
    };
    let ap_req = ApReq::from_der(ap_req).map_err(|_| malformed)?;
    Ok((framing, ap_req))
}

/// The service's long-term keys, looked up by the ticket's sname, realm, etype and kvno.
pub trait ServiceKeys {
    fn key(&self, sname: &PrincipalName, realm: &str, etype: i32, kvno: Option<u32>) -> Option<Vec<u8>>;
}

/// Acceptor inputs that are not in the token.
#[derive(Debug, Clone, Default)]
pub struct AcceptPolicy {
    /// Now, Unix seconds.
    pub now: i64,
    /// Maximum clock skew in seconds (AD: 300, RFC 4120 §1.7).
    pub max_skew: i64,
    pub channel_binding: ChannelBindingPolicy,
    /// MD5 of the gss_channel_bindings_struct for this connection (`ntlm::channel_binding_hash`).
    pub expected_channel_binding: Option<[u8; 16]>,
}

/// An accepted AP-REQ.
#[derive(Debug, Clone)]
pub struct KrbAccepted {
    pub framing: Framing,
    pub crealm: String,
    pub cname: PrincipalName,
    /// The decrypted ticket; `authorization_data` carries the PAC (decode with `kdc::pac`).
    pub ticket: EncTicketPart,
    pub ticket_etype: i32,
    pub session_key: EncryptionKey,
    pub initiator_subkey: Option<EncryptionKey>,
    pub initiator_seq: Option<u32>,
    pub gss: GssChecksum,
    pub mutual_required: bool,
    pub ctime: i64,
    pub cusec: u32,
    pub replay_key: ReplayKey,
}

impl KrbAccepted {
    pub fn authorization_data(&self) -> &[AuthorizationDataEntry] {
        self.ticket.authorization_data.as_deref().unwrap_or(&[])
    }
}

/// An AP-REQ whose ticket and authenticator verified (RFC 4120 §3.2.3), before any use the
/// application makes of it (a GSS context, a kpasswd request).
#[derive(Debug, Clone)]
pub struct ApAccepted {
    pub ticket: EncTicketPart,
    pub ticket_etype: i32,
    pub authenticator: Authenticator,
    pub ap_options: u32,
    pub replay_key: ReplayKey,
}

/// Verifies an AP-REQ (RFC 4120 §3.2.3, MS-KILE 3.4.5.1): the ticket decrypts with the
/// service's key, the authenticator with the ticket's session key and names the ticket's
/// client, its time is within the skew, and the ticket is valid now. The one AP-REQ check:
/// the GSS acceptor below and kpasswd both call it.
pub fn verify_ap_req(
    ap_req: &ApReq,
    keys: &dyn ServiceKeys,
    policy: &AcceptPolicy,
) -> Result<ApAccepted, ApError> {
    // RFC 4120 §3.2.3: user-to-user tickets need the TGT session key, which we do not hold.
    if ap_req.ap_options & ap_options::USE_SESSION_KEY != 0 {
        return Err(ap_err(code::KRB_AP_ERR_NOKEY, "user-to-user not supported"));
    }
    let enc = &ap_req.ticket.enc_part;
    let etype =
        Etype::from_i32(enc.etype).ok_or(ap_err(code::KDC_ERR_ETYPE_NOSUPP, "ticket etype not supported"))?;
    let service_key = keys
        .key(&ap_req.ticket.sname, &ap_req.ticket.realm, enc.etype, enc.kvno)
        .ok_or(ap_err(code::KRB_AP_ERR_NOKEY, "no service key for ticket"))?;
    // Ticket: key usage 2 (RFC 4120 §7.5.1).
    let plain = etype
        .decrypt(&service_key, usage::TICKET, &enc.cipher)
        .map_err(|_| ap_err(code::KRB_AP_ERR_BAD_INTEGRITY, "ticket does not decrypt"))?;
    let ticket = EncTicketPart::from_der(&plain)
        .map_err(|_| ap_err(code::KRB_AP_ERR_BAD_INTEGRITY, "ticket does not decode"))?;
    // Authenticator: ticket session key, usage 11.
    let sk_etype = Etype::from_i32(ticket.key.keytype).ok_or(ap_err(
        code::KDC_ERR_ETYPE_NOSUPP,
        "session key etype not supported",
    ))?;
    let auth_plain = sk_etype
        .decrypt(
            &ticket.key.keyvalue,
            usage::AP_REQ_AUTHENTICATOR,
            &ap_req.authenticator.cipher,
        )
        .map_err(|_| ap_err(code::KRB_AP_ERR_BAD_INTEGRITY, "authenticator does not decrypt"))?;
    let auth = Authenticator::from_der(&auth_plain)
        .map_err(|_| ap_err(code::KRB_AP_ERR_BAD_INTEGRITY, "authenticator does not decode"))?;
    // RFC 4120 §3.2.3: the authenticator's client must be the ticket's. AD compares realms
    // case-insensitively (impacket's kpasswd puts the domain as typed, `corp.example.test`, in
    // the authenticator of a ticket for `CORP.EXAMPLE.TEST`, and Windows accepts it).
    if auth.cname.components != ticket.cname.components || !auth.crealm.eq_ignore_ascii_case(&ticket.crealm) {
        return Err(ap_err(
            code::KRB_AP_ERR_BADMATCH,
            "authenticator client differs from ticket",
        ));
    }
    // Clock skew (RFC 4120 §3.2.3, KRB_AP_ERR_SKEW).
    if (auth.ctime - policy.now).abs() > policy.max_skew {
        return Err(ap_err(
            code::KRB_AP_ERR_SKEW,
            "authenticator time outside the skew",
        ));
    }
    // Ticket validity (RFC 4120 §3.2.3): not yet valid, or expired.
    let start = ticket.starttime.unwrap_or(ticket.authtime);
    if start - policy.now > policy.max_skew {
        return Err(ap_err(code::KRB_AP_ERR_TKT_NYV, "ticket not yet valid"));
    }
    if policy.now - ticket.endtime > policy.max_skew {
        return Err(ap_err(code::KRB_AP_ERR_TKT_EXPIRED, "ticket expired"));
    }
    let replay_key = ReplayKey {
        client: format!("{}@{}", auth.cname.joined(), auth.crealm),
        server: format!("{}@{}", ap_req.ticket.sname.joined(), ap_req.ticket.realm),
        ctime: auth.ctime,
        cusec: auth.cusec,
    };
    Ok(ApAccepted {
        ticket,
        ticket_etype: enc.etype,
        authenticator: auth,
        ap_options: ap_req.ap_options,
        replay_key,
    })
}

/// Verifies a GSS context token's AP-REQ (RFC 4121 §4.1.1, MS-KILE 3.4.5.1): [`verify_ap_req`]
/// and the 0x8003 checksum with its channel binding.
pub fn accept_sec_context(
    token: &[u8],
    keys: &dyn ServiceKeys,
    policy: &AcceptPolicy,
) -> Result<KrbAccepted, ApError> {
    let (framing, ap_req) = parse_ap_req_token(token)?;
    let ApAccepted {
        ticket,
        ticket_etype,
        authenticator: auth,
        ap_options,
        replay_key,
    } = verify_ap_req(&ap_req, keys, policy)?;
    // The GSS checksum (RFC 4121 §4.1.1): type 0x8003 is required for a GSS context.
    let cksum = auth
        .cksum
        .as_ref()
        .ok_or(ap_err(code::KRB_AP_ERR_INAPP_CKSUM, "no 0x8003 checksum"))?;
    if cksum.cksumtype != CKSUM_GSSAPI {
        return Err(ap_err(
            code::KRB_AP_ERR_INAPP_CKSUM,
            "checksum type is not 0x8003",
        ));
    }
    let gss = GssChecksum::from_bytes(&cksum.checksum)
        .ok()
        .ok_or(ap_err(code::KRB_AP_ERR_INAPP_CKSUM, "malformed 0x8003 checksum"))?;
    check_binding(&gss.channel_binding, policy)?;
    Ok(KrbAccepted {
        framing,
        crealm: ticket.crealm.clone(),
        cname: ticket.cname.clone(),
        ticket_etype,
        session_key: ticket.key.clone(),
        initiator_subkey: auth.subkey,
        initiator_seq: auth.seq_number,
        mutual_required: ap_options & ap_options::MUTUAL_REQUIRED != 0 || gss.flags & gss_flags::MUTUAL != 0,
        gss,
        ctime: auth.ctime,
        cusec: auth.cusec,
        replay_key,
        ticket,
    })
}

/// Channel bindings in the `Bnd` field (RFC 4121 §4.1.1.2; LdapEnforceChannelBinding applies
/// to Kerberos as to NTLM). All-zero means "no binding".
fn check_binding(bnd: &[u8; 16], policy: &AcceptPolicy) -> Result<(), ApError> {
    let sent = bnd.iter().any(|b| *b != 0);
    let Some(expected) = policy.expected_channel_binding else {
        return Ok(());
    };
    let matches = constant_time_eq(&expected, bnd);
    let bad = ApError::channel_binding();
    match policy.channel_binding {
        ChannelBindingPolicy::Never => Ok(()),
        ChannelBindingPolicy::WhenSupported if sent && !matches => Err(bad),
        ChannelBindingPolicy::Always if !matches => Err(bad),
        _ => Ok(()),
    }
}

/// Builds the AP-REP (RFC 4120 §5.5.2) for mutual authentication: ctime/cusec echoed, an
/// acceptor subkey and sequence number (RFC 4121 §4.1 "the acceptor SHOULD assert a subkey"),
/// encrypted with the ticket session key, usage 12; GSS-framed when the AP-REQ was.
pub fn build_ap_rep(
    accepted: &KrbAccepted,
    acceptor_subkey: Option<&EncryptionKey>,
    acceptor_seq: u32,
) -> Result<Vec<u8>, ApError> {
    let part = EncApRepPart {
        ctime: accepted.ctime,
        cusec: accepted.cusec,
        subkey: acceptor_subkey.cloned(),
        seq_number: Some(acceptor_seq),
    };
    let rep = seal_ap_rep(&accepted.session_key, &part)?;
    Ok(match accepted.framing {
        Framing::Krb5 => wrap_initial_token(oid::KRB5, tok_id::AP_REP, &rep),
        Framing::MsKrb5 => wrap_initial_token(oid::MS_KRB5, tok_id::AP_REP, &rep),
        Framing::Raw => rep,
    })
}

/// A bare AP-REP (RFC 4120 §5.5.2): `part` encrypted with the ticket's session key, usage 12.
pub fn seal_ap_rep(session_key: &EncryptionKey, part: &EncApRepPart) -> Result<Vec<u8>, ApError> {
    let etype = Etype::from_i32(session_key.keytype)
        .ok_or(ap_err(code::KDC_ERR_ETYPE_NOSUPP, "session key etype"))?;
    let cipher = etype
        .encrypt(&session_key.keyvalue, usage::AP_REP_ENC_PART, &part.to_der())
        .map_err(|_| ap_err(code::KRB_ERR_GENERIC, "AP-REP encryption failed"))?;
    Ok(ApRep {
        enc_part: EncryptedData {
            etype: session_key.keytype,
            kvno: None,
            cipher,
        },
    }
    .to_der())
}

/// A random acceptor subkey of the session key's etype and a random initial sequence number.
pub fn acceptor_subkey(accepted: &KrbAccepted) -> (EncryptionKey, u32) {
    let mut key = vec![0u8; accepted.session_key.keyvalue.len()];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let seq = rand::RngCore::next_u32(&mut rand::rngs::OsRng) & 0x3fff_ffff;
    (
        EncryptionKey {
            keytype: accepted.session_key.keytype,
            keyvalue: key,
        },
        seq,
    )
}

/// RFC 4121 per-message token state for one established context.
#[derive(Debug, Clone)]
pub struct KrbSecurityContext {
    etype: Etype,
    key: Vec<u8>,
    is_acceptor: bool,
    acceptor_subkey: bool,
    send_seq: u64,
    recv_seq: u64,
    /// RRC to put in sealed Wrap tokens (Windows sends 28 for AES: 16 + 12, MS-KILE 3.4.5.4.1).
    pub send_rrc: u16,
}

impl KrbSecurityContext {
    /// The acceptor's side. The protection key is the acceptor subkey when one was sent in the
    /// AP-REP, else the initiator subkey, else the ticket session key (RFC 4121 §2).
    pub fn acceptor(
        accepted: &KrbAccepted,
        acceptor_subkey: Option<&EncryptionKey>,
        acceptor_seq: u32,
    ) -> Result<Self, GssError> {
        let key = acceptor_subkey
            .or(accepted.initiator_subkey.as_ref())
            .unwrap_or(&accepted.session_key);
        let mut ctx = Self::new(key, true, acceptor_subkey.is_some())?;
        ctx.send_seq = u64::from(acceptor_seq);
        ctx.recv_seq = u64::from(accepted.initiator_seq.unwrap_or(0));
        Ok(ctx)
    }

    /// A context over an explicit key: `is_acceptor` says which side this end is.
    pub fn new(key: &EncryptionKey, is_acceptor: bool, acceptor_subkey: bool) -> Result<Self, GssError> {
        let etype = Etype::from_i32(key.keytype).ok_or(GssError::UnsupportedEtype(key.keytype))?;
        Ok(KrbSecurityContext {
            etype,
            key: key.keyvalue.clone(),
            is_acceptor,
            acceptor_subkey,
            send_seq: 0,
            recv_seq: 0,
            send_rrc: 0,
        })
    }

    pub fn set_sequence(&mut self, send: u64, recv: u64) {
        self.send_seq = send;
        self.recv_seq = recv;
    }

    /// RC4-HMAC contexts use RFC 4757 tokens ([`gss_rc4`]), with 32-bit sequence numbers.
    fn rc4(&self) -> bool {
        self.etype == Etype::Rc4Hmac
    }

    fn next_send_seq(&mut self) -> u64 {
        let seq = self.send_seq;
        self.send_seq = self.send_seq.wrapping_add(1);
        seq
    }

    fn usages(&self, sending: bool) -> (i32, i32) {
        // RFC 4121 §2: the sender's role picks the usage.
        if self.is_acceptor == sending {
            (usage::ACCEPTOR_SEAL, usage::ACCEPTOR_SIGN)
        } else {
            (usage::INITIATOR_SEAL, usage::INITIATOR_SIGN)
        }
    }

    fn send_flags(&self, sealed: bool) -> u8 {
        let mut f = 0;
        if self.is_acceptor {
            f |= token_flags::SENT_BY_ACCEPTOR;
        }
        if sealed {
            f |= token_flags::SEALED;
        }
        if self.acceptor_subkey {
            f |= token_flags::ACCEPTOR_SUBKEY;
        }
        f
    }

    fn checksum(&self, usage: i32, data: &[u8]) -> Result<Vec<u8>, GssError> {
        crypto::checksum(self.etype.checksum_type(), self.etype, &self.key, usage, data)
            .map_err(|_| GssError::BadIntegrity)
    }

    /// GSS_Wrap (RFC 4121 §4.2.4): with `conf`, Encrypt(plaintext || header) after the header;
    /// without, plaintext || checksum(plaintext || header) with EC = checksum length.
    pub fn wrap(&mut self, plain: &[u8], conf: bool) -> Result<Vec<u8>, GssError> {
        let seq = self.next_send_seq();
        if self.rc4() {
            let confounder: [u8; 8] = rand::random();
            return Ok(gss_rc4::wrap(
                &self.key,
                seq as u32,
                self.is_acceptor,
                plain,
                conf,
                confounder,
            ));
        }
        let (seal_usage, _) = self.usages(true);
        let mut header = [0u8; 16];
        header[0..2].copy_from_slice(&tok_id::WRAP);
        header[2] = self.send_flags(conf);
        header[3] = 0xff;
        header[8..16].copy_from_slice(&seq.to_be_bytes());
        if conf {
            // EC = 0 (no filler needed: CTS mode), RRC = 0 inside the encrypted header.
            let mut data = plain.to_vec();
            data.extend_from_slice(&header);
            let mut body = self
                .etype
                .encrypt(&self.key, seal_usage, &data)
                .map_err(|_| GssError::BadIntegrity)?;
            let rrc = self.send_rrc;
            header[6..8].copy_from_slice(&rrc.to_be_bytes());
            if !body.is_empty() {
                let r = usize::from(rrc) % body.len();
                body.rotate_right(r);
            }
            let mut out = header.to_vec();
            out.extend(body);
            Ok(out)
        } else {
            let mut data = plain.to_vec();
            data.extend_from_slice(&header);
            // Wrap tokens use the SEAL usage with or without confidentiality; SIGN is for MIC
            // tokens (RFC 4121 §2, MIT k5sealv3.c).
            let cksum = self.checksum(seal_usage, &data)?;
            header[4..6].copy_from_slice(&(cksum.len() as u16).to_be_bytes());
            let mut out = header.to_vec();
            out.extend_from_slice(plain);
            out.extend(cksum);
            Ok(out)
        }
    }

    /// GSS_Unwrap (RFC 4121 §4.2.4); returns the plaintext and whether it was sealed. Accepts
    /// any RRC by rotating back (RFC 4121 §4.2.5).
    pub fn unwrap(&mut self, token: &[u8]) -> Result<(Vec<u8>, bool), GssError> {
        if self.rc4() {
            let got = gss_rc4::unwrap(&self.key, token, !self.is_acceptor)?;
            self.check_seq(u64::from(got.seq))?;
            return Ok((got.plain, got.sealed));
        }
        let (seal_usage, _) = self.usages(false);
        if token.len() < 16 {
            return Err(GssError::Malformed);
        }
        let (hdr, body) = token.split_at(16);
        if hdr[0..2] != tok_id::WRAP {
            return Err(GssError::WrongTokenId);
        }
        if hdr[3] != 0xff {
            return Err(GssError::Malformed);
        }
        let flags = hdr[2];
        // A token we would have sent ourselves is a reflection (RFC 4121 §4.2.2).
        if (flags & token_flags::SENT_BY_ACCEPTOR != 0) == self.is_acceptor {
            return Err(GssError::WrongDirection);
        }
        let ec = usize::from(u16::from_be_bytes([hdr[4], hdr[5]]));
        let rrc = usize::from(u16::from_be_bytes([hdr[6], hdr[7]]));
        let seq = u64::from_be_bytes(hdr[8..16].try_into().map_err(|_| GssError::Malformed)?);
        let mut body = body.to_vec();
        if !body.is_empty() {
            let r = rrc % body.len();
            body.rotate_left(r);
        }
        let sealed = flags & token_flags::SEALED != 0;
        let plain = if sealed {
            let mut decrypted = self.etype.decrypt(&self.key, seal_usage, &body);
            // Windows (and impacket, which copies it) rotate sealed DCE-style tokens by RRC + EC
            // rather than RRC (MS-KILE 3.4.5.4.1); accept that form too.
            if decrypted.is_err() && ec != 0 && !body.is_empty() {
                let mut alt = body.clone();
                let r = ec % alt.len();
                alt.rotate_left(r);
                decrypted = self.etype.decrypt(&self.key, seal_usage, &alt);
            }
            let data = decrypted.map_err(|_| GssError::BadIntegrity)?;
            // data = plaintext || filler(EC) || header copy (with RRC 0).
            let n = data.len().checked_sub(16 + ec).ok_or(GssError::Malformed)?;
            let inner = &data[n + ec..];
            let mut expect = [0u8; 16];
            expect.copy_from_slice(hdr);
            expect[6..8].copy_from_slice(&[0, 0]);
            // The encrypted copy's RRC is 0 (RFC 4121 §4.2.4); compare the rest.
            let mut inner_cmp = [0u8; 16];
            inner_cmp.copy_from_slice(inner);
            inner_cmp[6..8].copy_from_slice(&[0, 0]);
            if inner_cmp != expect {
                return Err(GssError::BadIntegrity);
            }
            data[..n].to_vec()
        } else {
            let n = body.len().checked_sub(ec).ok_or(GssError::Malformed)?;
            let (plain, cksum) = body.split_at(n);
            let mut h = [0u8; 16];
            h.copy_from_slice(hdr);
            h[4..8].copy_from_slice(&[0, 0, 0, 0]);
            let mut data = plain.to_vec();
            data.extend_from_slice(&h);
            let expected = self.checksum(seal_usage, &data)?;
            if !constant_time_eq(&expected, cksum) {
                return Err(GssError::BadIntegrity);
            }
            plain.to_vec()
        };
        self.check_seq(seq)?;
        Ok((plain, sealed))
    }

    fn check_seq(&mut self, seq: u64) -> Result<(), GssError> {
        if seq != self.recv_seq {
            return Err(GssError::BadSequence {
                got: seq,
                expected: self.recv_seq,
            });
        }
        self.recv_seq = self.recv_seq.wrapping_add(1);
        Ok(())
    }

    /// GSS_GetMIC (RFC 4121 §4.2.6.1): header 04 04, flags, FF×5, SND_SEQ, checksum over
    /// message || header.
    pub fn get_mic(&mut self, msg: &[u8]) -> Result<Vec<u8>, GssError> {
        let seq = self.next_send_seq();
        if self.rc4() {
            return Ok(gss_rc4::get_mic(&self.key, seq as u32, self.is_acceptor, msg));
        }
        let (_, sign_usage) = self.usages(true);
        let mut header = [0xffu8; 16];
        header[0..2].copy_from_slice(&tok_id::MIC);
        header[2] = self.send_flags(false);
        header[8..16].copy_from_slice(&seq.to_be_bytes());
        let mut data = msg.to_vec();
        data.extend_from_slice(&header);
        let mut out = header.to_vec();
        out.extend(self.checksum(sign_usage, &data)?);
        Ok(out)
    }

    /// GSS_VerifyMIC (RFC 4121 §4.2.6.1). With `check_sequence` false the sequence number is
    /// not enforced (SPNEGO's mechListMIC comes before any message).
    pub fn verify_mic(&mut self, msg: &[u8], token: &[u8], check_sequence: bool) -> Result<(), GssError> {
        if self.rc4() {
            let seq = gss_rc4::verify_mic(&self.key, msg, token, !self.is_acceptor)?;
            return if check_sequence {
                self.check_seq(u64::from(seq))
            } else {
                Ok(())
            };
        }
        let (_, sign_usage) = self.usages(false);
        if token.len() < 16 {
            return Err(GssError::Malformed);
        }
        let (hdr, cksum) = token.split_at(16);
        if hdr[0..2] != tok_id::MIC {
            return Err(GssError::WrongTokenId);
        }
        if hdr[3..8] != [0xff; 5] {
            return Err(GssError::Malformed);
        }
        if (hdr[2] & token_flags::SENT_BY_ACCEPTOR != 0) == self.is_acceptor {
            return Err(GssError::WrongDirection);
        }
        let mut data = msg.to_vec();
        data.extend_from_slice(hdr);
        if !constant_time_eq(&self.checksum(sign_usage, &data)?, cksum) {
            return Err(GssError::BadIntegrity);
        }
        let seq = u64::from_be_bytes(hdr[8..16].try_into().map_err(|_| GssError::Malformed)?);
        if check_sequence {
            self.check_seq(seq)?;
        }
        Ok(())
    }
}
