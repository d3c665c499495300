//! TKEY (RFC 2930) in GSS-API mode (RFC 3645 §3, §4.1.2-3), sans I/O: the TKEY RDATA codec,
//! the acceptor side of the negotiation (a Kerberos AP-REQ, bare or inside SPNEGO, verified with
//! the DC account's keys, SPN `DNS/<dc>`; the AP-REP back for mutual authentication), and the
//! established contexts by key name, bounded in number and lifetime.

use std::collections::HashMap;
use std::sync::Mutex;

use hickory_server::proto::rr::Name;
use hickory_server::proto::serialize::binary::{BinDecodable, BinDecoder};

use super::tsig::{canonical_name, Malformed};
use crate::auth::gss_krb5::{
    self, acceptor_subkey, build_ap_rep, AcceptPolicy, KrbAccepted, KrbSecurityContext, ServiceKeys,
};
use crate::auth::spnego::{self, Mech, NegToken};
use crate::dsa::Caller;
use crate::kdc::replay::ReplayKey;

/// The TKEY RR type (RFC 2930 §2).
pub const TYPE_TKEY: u16 = 249;

/// TKEY modes (RFC 2930 §2.5), the one this server accepts.
pub mod mode {
    pub const GSSAPI: u16 = 3;
}

/// TKEY errors (RFC 2930 §2.6, in the TSIG error space of RFC 8945 §5.2), one table.
pub mod error {
    pub const NOERROR: u16 = 0;
    pub const BADKEY: u16 = 17;
    pub const BADMODE: u16 = 19;
    pub const BADALG: u16 = 21;
}

/// At most this many established GSS-TSIG contexts are kept; beyond it the one that expires
/// first is dropped (each costs a few hundred bytes; clients negotiate one per update run).
pub const MAX_CONTEXTS: usize = 1024;

/// A TKEY RR's RDATA (RFC 2930 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tkey {
    pub algorithm: Name,
    pub inception: u32,
    pub expiration: u32,
    pub mode: u16,
    pub error: u16,
    pub key: Vec<u8>,
    pub other: Vec<u8>,
}

impl Tkey {
    pub fn decode(rdata: &[u8]) -> Result<Tkey, Malformed> {
        let mut d = BinDecoder::new(rdata);
        let algorithm = Name::read(&mut d).map_err(|_| Malformed)?;
        let r = &rdata[d.index()..];
        let u16_at = |at: usize| -> Result<u16, Malformed> {
            Ok(u16::from_be_bytes(
                r.get(at..at + 2)
                    .ok_or(Malformed)?
                    .try_into()
                    .map_err(|_| Malformed)?,
            ))
        };
        let u32_at = |at: usize| -> Result<u32, Malformed> {
            Ok(u32::from_be_bytes(
                r.get(at..at + 4)
                    .ok_or(Malformed)?
                    .try_into()
                    .map_err(|_| Malformed)?,
            ))
        };
        let key_len = usize::from(u16_at(12)?);
        let key = r.get(14..14 + key_len).ok_or(Malformed)?.to_vec();
        let other_len = usize::from(u16_at(14 + key_len)?);
        let other = r
            .get(16 + key_len..16 + key_len + other_len)
            .ok_or(Malformed)?
            .to_vec();
        if 16 + key_len + other_len != r.len() {
            return Err(Malformed);
        }
        Ok(Tkey {
            algorithm,
            inception: u32_at(0)?,
            expiration: u32_at(4)?,
            mode: u16_at(8)?,
            error: u16_at(10)?,
            key,
            other,
        })
    }

    /// The RDATA; the algorithm name uncompressed (RFC 2930 §2.1).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = canonical_name(&self.algorithm);
        out.extend_from_slice(&self.inception.to_be_bytes());
        out.extend_from_slice(&self.expiration.to_be_bytes());
        out.extend_from_slice(&self.mode.to_be_bytes());
        out.extend_from_slice(&self.error.to_be_bytes());
        out.extend_from_slice(&(self.key.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&(self.other.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.other);
        out
    }
}

/// What Kerberos mechanisms the DNS server takes inside SPNEGO (NTLM is not offered: a
/// one-leg negotiation needs the client's optimistic Kerberos token).
const OFFERED: &[Mech] = &[Mech::MsKrb5, Mech::Krb5];

/// A context the client and the server agree on.
pub struct Established {
    /// The acceptor's per-message state: GetMIC signs responses, VerifyMIC checks requests.
    pub ctx: KrbSecurityContext,
    /// Who negotiated it, from the ticket's PAC.
    pub caller: Caller,
    /// The client principal, for logs.
    pub principal: String,
    /// Unix seconds after which the key is unknown again (the ticket's end time).
    pub expires: i64,
}

/// Why a negotiation failed (the TKEY error is BADKEY for each, RFC 3645 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GssFailure {
    /// Neither SPNEGO with a Kerberos token nor a Kerberos token.
    Mechanism,
    /// The AP-REQ was refused (code and reason from the acceptor).
    ApReq(i32, &'static str),
    /// The AP-REQ's authenticator was accepted before.
    Replay,
    /// SPNEGO's mechListMIC did not verify.
    MechListMic,
    /// The ticket has no usable PAC.
    Pac,
}

/// The first (and, for Kerberos, only) leg: verifies the client's token and returns the output
/// token for the TKEY answer with the established context's parts.
pub fn accept(
    token: &[u8],
    keys: &dyn ServiceKeys,
    policy: &AcceptPolicy,
    fresh: &dyn Fn(&ReplayKey) -> bool,
) -> Result<(Vec<u8>, KrbSecurityContext, KrbAccepted), GssFailure> {
    let spnego = gss_krb5::split_initial_token(token)
        .ok()
        .is_some_and(|(oid, _)| oid == spnego::oid::SPNEGO);
    let (krb_token, spnego_init) = if spnego {
        let Ok(NegToken::Init(init)) = spnego::decode_neg_token(token) else {
            return Err(GssFailure::Mechanism);
        };
        let choice = spnego::choose_mech(&init, OFFERED).map_err(|_| GssFailure::Mechanism)?;
        let t = choice.token.clone().ok_or(GssFailure::Mechanism)?;
        (t, Some((init, choice)))
    } else {
        (token.to_vec(), None)
    };
    let accepted = gss_krb5::accept_sec_context(&krb_token, keys, policy)
        .map_err(|e| GssFailure::ApReq(e.code, e.reason))?;
    // RFC 4120 §3.2.3: an authenticator is accepted once.
    if !fresh(&accepted.replay_key) {
        return Err(GssFailure::Replay);
    }
    // RFC 3645 §3.1.1: the client asks for mutual authentication; the AP-REP carries an
    // acceptor subkey, which then keys the MICs (RFC 4121 §2).
    let (subkey, seq) = acceptor_subkey(&accepted);
    let ap_rep =
        build_ap_rep(&accepted, Some(&subkey), seq).map_err(|e| GssFailure::ApReq(e.code, e.reason))?;
    let mut ctx = KrbSecurityContext::acceptor(&accepted, Some(&subkey), seq)
        .map_err(|_| GssFailure::ApReq(crate::kdc::error::code::KDC_ERR_ETYPE_NOSUPP, "session key etype"))?;
    let output = match spnego_init {
        None => ap_rep,
        Some((init, choice)) => spnego::complete(
            &init.mech_types_der,
            init.mech_list_mic.as_deref(),
            choice.mic_required,
            Some(ap_rep),
            &mut ctx,
        )
        .map_err(|_| GssFailure::MechListMic)?,
    };
    Ok((output, ctx, accepted))
}

/// The established contexts by key name (compared in canonical form).
#[derive(Default)]
pub struct Contexts {
    inner: Mutex<HashMap<Vec<u8>, Established>>,
}

impl Contexts {
    /// Remembers `est` under `key_name`, dropping expired contexts and, at the bound, the one
    /// that expires first.
    pub fn insert(&self, key_name: &Name, est: Established, now: i64) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, e| e.expires > now);
        while map.len() >= MAX_CONTEXTS {
            let Some(first) = map.iter().min_by_key(|(_, e)| e.expires).map(|(k, _)| k.clone()) else {
                break;
            };
            map.remove(&first);
        }
        map.insert(canonical_name(key_name), est);
    }

    /// Runs `f` on the live context of `key_name`, if there is one.
    pub fn with<T>(&self, key_name: &Name, now: i64, f: impl FnOnce(&mut Established) -> T) -> Option<T> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let key = canonical_name(key_name);
        if map.get(&key).is_some_and(|e| e.expires <= now) {
            map.remove(&key);
        }
        map.get_mut(&key).map(f)
    }

    /// Forgets `key_name` (TKEY mode 5, RFC 2930 §4.1).
    pub fn remove(&self, key_name: &Name) -> bool {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&canonical_name(key_name)).is_some()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kdc::messages::EncryptionKey;

    #[test]
    fn tkey_rdata_round_trips_and_rejects_trailing_bytes() {
        let t = Tkey {
            algorithm: Name::from_ascii("gss-tsig.").unwrap(),
            inception: 1,
            expiration: 2,
            mode: mode::GSSAPI,
            error: 0,
            key: vec![0x60, 1, 2],
            other: vec![],
        };
        let raw = t.encode();
        assert_eq!(Tkey::decode(&raw).unwrap(), t);
        let mut longer = raw.clone();
        longer.push(0);
        assert_eq!(Tkey::decode(&longer), Err(Malformed));
        assert_eq!(Tkey::decode(&raw[..raw.len() - 3]), Err(Malformed));
    }

    fn est(expires: i64) -> Established {
        let key = EncryptionKey {
            keytype: 18,
            keyvalue: vec![7; 32],
        };
        Established {
            ctx: KrbSecurityContext::new(&key, true, true).unwrap(),
            caller: Caller::anonymous(),
            principal: "h$@R".into(),
            expires,
        }
    }

    #[test]
    fn contexts_expire_and_stay_bounded() {
        let c = Contexts::default();
        let name = |i: usize| Name::from_ascii(format!("{i}.sig-dc1.corp.example.test.")).unwrap();
        c.insert(&name(0), est(100), 0);
        // Key names compare case-insensitively.
        let upper = Name::from_ascii("0.SIG-DC1.corp.example.test.").unwrap();
        assert_eq!(c.with(&upper, 50, |e| e.expires), Some(100));
        assert_eq!(c.with(&upper, 100, |e| e.expires), None, "expired");
        for i in 0..MAX_CONTEXTS + 10 {
            c.insert(&name(i), est(1000 + i as i64), 0);
        }
        assert_eq!(c.len(), MAX_CONTEXTS);
        // The ones expiring first went.
        assert!(c.with(&name(0), 0, |_| ()).is_none());
        assert!(c.with(&name(MAX_CONTEXTS + 9), 0, |_| ()).is_some());
        assert!(c.remove(&name(MAX_CONTEXTS + 9)));
    }
}
