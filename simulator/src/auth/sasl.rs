//! SASL security layers after the bind: the RFC 4752 GSSAPI layer negotiation (§3.1), the
//! [`SecurityLayer`] implementations for Kerberos (RFC 4121 Wrap) and NTLM (MS-NLMP sealing as
//! Windows LDAP frames it), and the 4-byte length framing (RFC 4422 §3.7, RFC 4752 §3.1).

use thiserror::Error;

use super::gss_krb5::{GssError, KrbSecurityContext};
use super::ntlm::{NtlmSecurityError, NtlmSession, SIGNATURE_LEN};

/// Security layer bits (RFC 4752 §3.1), one table.
pub mod layer {
    pub const NONE: u8 = 0x01;
    pub const INTEGRITY: u8 = 0x02;
    pub const CONFIDENTIALITY: u8 = 0x04;
}

/// The max buffer the server announces. Any non-zero value works for clients (ldap3 2.9.1 needs
/// it non-zero with 0x07, docs/notes/client-interop.md §7c); this one is the simulator's choice.
pub const SERVER_MAX_BUFFER: u32 = 0x00a0_0000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SaslError {
    #[error("GSS: {0}")]
    Gss(#[from] GssError),
    #[error("NTLM: {0}")]
    Ntlm(#[from] NtlmSecurityError),
    #[error("malformed security layer message")]
    Malformed,
    #[error("client chose a layer the server did not offer")]
    LayerNotOffered,
    #[error("the client chose a layer but sent a token without it")]
    LayerMismatch,
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
}

/// The server's last GSSAPI token (RFC 4752 §3.1): `[layers, max buffer (3 bytes BE)]`, wrapped
/// without confidentiality.
pub fn server_offer(ctx: &mut KrbSecurityContext, layers: u8, max_buffer: u32) -> Result<Vec<u8>, SaslError> {
    let mb = max_buffer.min(0x00ff_ffff).to_be_bytes();
    Ok(ctx.wrap(&[layers, mb[1], mb[2], mb[3]], false)?)
}

/// The client's answer (RFC 4752 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientChoice {
    pub layer: u8,
    pub max_buffer: u32,
    pub authzid: Vec<u8>,
}

/// Unwraps and checks the client's choice: exactly one bit, among those offered; a max buffer
/// of 0 is allowed only with no layer.
pub fn parse_client_choice(
    ctx: &mut KrbSecurityContext,
    token: &[u8],
    offered: u8,
) -> Result<ClientChoice, SaslError> {
    let (plain, _) = ctx.unwrap(token)?;
    let (head, authzid) = plain.split_at_checked(4).ok_or(SaslError::Malformed)?;
    let layer = head[0];
    if layer.count_ones() != 1 || layer & !0x07 != 0 {
        return Err(SaslError::Malformed);
    }
    if layer & offered == 0 {
        return Err(SaslError::LayerNotOffered);
    }
    let max_buffer = u32::from_be_bytes([0, head[1], head[2], head[3]]);
    Ok(ClientChoice {
        layer,
        max_buffer,
        authzid: authzid.to_vec(),
    })
}

/// Wraps and unwraps LDAP PDUs once a layer is in force (the caller adds the length frame).
pub trait SecurityLayer {
    fn wrap(&mut self, plain: &[u8]) -> Result<Vec<u8>, SaslError>;
    fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, SaslError>;
}

/// Kerberos: GSS Wrap with (confidentiality) or without (integrity) sealing.
#[derive(Debug)]
pub struct KrbLayer {
    pub ctx: KrbSecurityContext,
    pub conf: bool,
}

impl SecurityLayer for KrbLayer {
    fn wrap(&mut self, plain: &[u8]) -> Result<Vec<u8>, SaslError> {
        Ok(self.ctx.wrap(plain, self.conf)?)
    }
    fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, SaslError> {
        let (plain, sealed) = self.ctx.unwrap(token)?;
        if self.conf && !sealed {
            return Err(SaslError::LayerMismatch);
        }
        Ok(plain)
    }
}

/// NTLM after GSS-SPNEGO: each PDU is `signature (16) || payload`, the payload RC4-sealed when
/// `seal` (the layout impacket's LDAP client produces with `SPNEGOCipher.encrypt`, which AD
/// accepts). Sign-only uses the same order with the payload in clear.
#[derive(Debug)]
pub struct NtlmLayer {
    pub session: NtlmSession,
    pub seal: bool,
}

impl SecurityLayer for NtlmLayer {
    fn wrap(&mut self, plain: &[u8]) -> Result<Vec<u8>, SaslError> {
        let (payload, sig) = if self.seal {
            self.session.seal(plain)
        } else {
            (plain.to_vec(), self.session.sign(plain))
        };
        let mut out = sig.to_vec();
        out.extend(payload);
        Ok(out)
    }
    fn unwrap(&mut self, token: &[u8]) -> Result<Vec<u8>, SaslError> {
        let (sig, payload) = token
            .split_at_checked(SIGNATURE_LEN)
            .ok_or(SaslError::Malformed)?;
        if self.seal {
            Ok(self.session.unseal(payload, sig)?)
        } else {
            self.session.verify(payload, sig)?;
            Ok(payload.to_vec())
        }
    }
}

/// Prefixes the 4-byte big-endian length (RFC 4422 §3.7).
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

/// Reads one frame from the front of `buf`: `Ok(None)` if incomplete, else the payload and the
/// bytes consumed. A length above `max` is an error (the peer's announced max buffer).
pub fn try_unframe(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, SaslError> {
    let Some(len) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len > max {
        return Err(SaslError::TooLarge(len));
    }
    Ok(buf.get(4..4 + len).map(|p| (p, 4 + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips_and_limits() {
        let f = frame(b"abc");
        assert_eq!(f, [0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(try_unframe(&f, 10).unwrap(), Some((&b"abc"[..], 7)));
        assert_eq!(try_unframe(&f[..5], 10).unwrap(), None);
        assert_eq!(try_unframe(&f[..2], 10).unwrap(), None);
        assert_eq!(try_unframe(&f, 2), Err(SaslError::TooLarge(3)));
    }
}
