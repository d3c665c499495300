//! The bind mechanisms after simple bind, sans I/O: Sicily NTLM (MS-ADTS 5.1.1.1.3), SASL
//! GSSAPI (RFC 4752) and SASL GSS-SPNEGO (RFC 4178, MS-SPNG). One [`Binder`] per connection
//! keeps the per-mechanism state across bind PDUs and delegates the cryptography to
//! `crate::auth`; it answers with the bind result, the server credentials, the caller on
//! success and the security layer the transport switches on after the final response.

pub mod channel_binding;
mod gssapi;
pub mod identity;
pub mod policy;
mod sicily;
pub mod signing;
mod spnego;

use rand::RngCore;

use super::codec::{BindAuth, LdapResult};
use super::session::{err_result, ServerContext};
pub(super) use crate::auth::gss_krb5::acceptor_subkey;
use crate::auth::gss_krb5::{AcceptPolicy, ApError, GssError, KrbAccepted, KrbSecurityContext};
use crate::auth::ntlm::{NtlmAcceptor, NtlmFailure, NtlmPolicy, ServerNames, WindowsReason};
use crate::auth::sasl::SecurityLayer;
use crate::dsa::error::code;
use crate::dsa::Caller;
use crate::kdc::messages::EncryptionKey;
use crate::kdc::replay::Verdict;
use signing::{Channel, Established};

/// One bind PDU of a SASL mechanism: the connection, whether it runs over TLS, the bind's
/// state so far and the client's credentials.
pub(super) struct Leg<'a> {
    sc: &'a ServerContext,
    tls: bool,
    prev: State,
    credentials: Option<Vec<u8>>,
}

/// The SASL mechanisms the DC accepts, by name: one table for the bind and for the rootDSE's
/// `supportedSASLMechanisms`.
const SASL: &[(&str, Mechanism)] = &[("GSSAPI", gssapi::step), ("GSS-SPNEGO", spnego::step)];

/// A SASL mechanism's answer to one bind PDU, with the state it leaves.
type Mechanism = fn(Leg) -> (Step, State);

/// The names of [`SASL`], in order.
pub fn sasl_mechanisms() -> Vec<&'static str> {
    SASL.iter().map(|(name, _)| *name).collect()
}

/// A negotiated SASL security layer: wraps and unwraps every later PDU.
pub type Layer = Box<dyn SecurityLayer + Send>;

/// One bind PDU's answer.
pub struct Step {
    pub result: LdapResult,
    /// `serverSaslCreds`.
    pub creds: Option<Vec<u8>>,
    /// The authenticated caller, on success only.
    pub caller: Option<Caller>,
    /// The layer to switch on right after this (successful) response.
    pub layer: Option<Layer>,
}

impl Step {
    fn fail(result: LdapResult) -> Step {
        Step {
            result,
            creds: None,
            caller: None,
            layer: None,
        }
    }

    fn in_progress(creds: Vec<u8>) -> Step {
        Step {
            result: LdapResult::new(code::SASL_BIND_IN_PROGRESS, ""),
            creds: Some(creds),
            caller: None,
            layer: None,
        }
    }

    fn done(creds: Option<Vec<u8>>, caller: Caller, layer: Option<Layer>) -> Step {
        Step {
            result: LdapResult::success(),
            creds,
            caller: Some(caller),
            layer,
        }
    }
}

/// Where a multi-PDU bind stands.
#[derive(Default)]
enum State {
    #[default]
    Idle,
    Sicily(Box<NtlmAcceptor>),
    Gssapi(gssapi::Pending),
    Spnego(spnego::Pending),
}

/// A connection's bind state machine for the non-simple mechanisms.
#[derive(Default)]
pub struct Binder {
    state: State,
}

impl Binder {
    /// Forgets a bind in progress (a simple bind or a new mechanism restarts it).
    pub fn reset(&mut self) {
        self.state = State::Idle;
    }

    /// A simple bind (RFC 4513 §5.1): it forgets a bind in progress, and the server's
    /// signing policy may refuse it.
    pub fn simple(&mut self, ctx: &ServerContext, tls: bool, name: &str, password: &[u8]) -> Step {
        self.reset();
        let bind = if password.is_empty() {
            Established::Anonymous
        } else {
            Established::Simple
        };
        let step = match ctx.dir.simple_bind(name, password) {
            Ok(c) => Step::done(None, c.with_encryption(tls), None),
            Err(e) => Step::fail(err_result(e)),
        };
        complete(ctx, tls, bind, step)
    }

    /// One bind PDU. `tls`: the connection runs over TLS (a SASL layer is then refused).
    pub fn step(&mut self, ctx: &ServerContext, tls: bool, auth: BindAuth) -> Step {
        let prev = std::mem::take(&mut self.state);
        let (step, next) = match auth {
            BindAuth::SicilyDiscovery => (sicily::discovery(), State::Idle),
            BindAuth::SicilyNegotiate(m) => sicily::negotiate(ctx, tls, &m),
            BindAuth::SicilyResponse(m) => sicily::response(ctx, tls, prev, &m),
            BindAuth::Sasl {
                mechanism,
                credentials,
            } => match SASL.iter().find(|(name, _)| name.eq_ignore_ascii_case(&mechanism)) {
                Some((_, mech)) => mech(Leg {
                    sc: ctx,
                    tls,
                    prev,
                    credentials,
                }),
                None => (
                    Step::fail(LdapResult::new(
                        code::AUTH_METHOD_NOT_SUPPORTED,
                        format!("00002027: LdapErr: DSID-0C090A5C, comment: Unsupported SASL mechanism {mechanism}, data 0, v4563\u{0}"),
                    )),
                    State::Idle,
                ),
            },
            BindAuth::Simple(_) | BindAuth::Unsupported(_) => (
                Step::fail(LdapResult::new(
                    code::AUTH_METHOD_NOT_SUPPORTED,
                    "authentication method not supported",
                )),
                State::Idle,
            ),
        };
        self.state = next;
        let bind = if step.layer.is_some() {
            Established::SaslLayer
        } else {
            Established::SaslNoLayer
        };
        complete(ctx, tls, bind, step)
    }
}

/// The one place a bind the mechanism accepted meets the server's signing policy
/// ([`signing::check`]); a refused bind leaves the connection anonymous, without a layer.
fn complete(ctx: &ServerContext, tls: bool, bind: Established, step: Step) -> Step {
    if step.caller.is_none() {
        return step;
    }
    match signing::check(ctx.policies.get().ldap_signing, Channel::of(tls), bind) {
        Ok(()) => step,
        Err(refused) => Step::fail(refused),
    }
}

/// AD's answer to a refused AcceptSecurityContext (docs/notes/windows-behaviour.md row 20, client-interop
/// §7b): `80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1`.
fn security_context_error(reason: WindowsReason) -> LdapResult {
    LdapResult::new(
        code::INVALID_CREDENTIALS,
        format!(
            "{:08X}: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data {:x}, v1db1\u{0}",
            reason.hresult, reason.data
        ),
    )
}

/// Logon failure (52e): unknown account, wrong password, unusable ticket.
fn logon_failure() -> LdapResult {
    security_context_error(WindowsReason {
        hresult: 0x8009_0308,
        data: 0x52e,
    })
}

/// An account whose state refuses the logon (`Directory::logon`: 533 disabled), as a simple
/// bind is refused.
fn account_refused(data: u32) -> LdapResult {
    security_context_error(WindowsReason {
        hresult: 0x8009_0308,
        data,
    })
}

/// A Kerberos AP-REQ refusal. The data field is the simulator's choice (the Kerberos error
/// code in hexadecimal); AD's exact sub-status for each is not recorded.
fn kerberos_error(e: ApError) -> LdapResult {
    tracing::debug!(code = e.code, reason = e.reason, "AP-REQ refused");
    // A wrong or missing channel binding is SEC_E_BAD_BINDINGS whatever the mechanism
    // (KB4520412), as for NTLM.
    if e.is_channel_binding() {
        return security_context_error(NtlmFailure::BadChannelBinding.code());
    }
    security_context_error(WindowsReason {
        hresult: 0x8009_0308,
        data: e.code as u32,
    })
}

/// Samba's answer when a client asks for a SASL layer over TLS (AD refuses as well).
fn layer_over_tls() -> LdapResult {
    LdapResult::new(
        code::UNWILLING_TO_PERFORM,
        "Sign or Seal are not allowed if TLS is used",
    )
}

/// Out-of-order bind PDUs (a continuation without a start).
fn out_of_sequence() -> LdapResult {
    LdapResult::new(
        code::PROTOCOL_ERROR,
        "00002024: LdapErr: DSID-0C0907F8, comment: SASL bind out of sequence, data 0, v4563\u{0}",
    )
}

/// The names the DC puts in its NTLM CHALLENGE.
fn server_names(ctx: &ServerContext) -> ServerNames {
    let d = &ctx.dir.forest.domains[ctx.domain];
    ServerNames {
        nb_domain: d.netbios.clone(),
        nb_computer: d.dc_name.to_uppercase(),
        dns_domain: d.dns_name.clone(),
        dns_computer: d.dc_fqdn.clone(),
        dns_tree: ctx.dir.forest.root_dns.clone(),
    }
}

/// A fresh NTLM acceptor and its CHALLENGE for `negotiate` (server challenge from the OS
/// random source, MsvAvTimestamp from the simulator's clock), held to the listener's channel
/// binding requirement when the connection runs over TLS.
fn ntlm_challenge(ctx: &ServerContext, tls: bool, negotiate: &[u8]) -> Option<(NtlmAcceptor, Vec<u8>)> {
    let policy = NtlmPolicy {
        channel_binding: ctx.policies.get().channel_binding,
        expected_channel_binding: ctx.channel_binding.expected(tls),
        ..NtlmPolicy::default()
    };
    let mut acceptor = NtlmAcceptor::new(server_names(ctx), policy);
    let mut server_challenge = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut server_challenge);
    let challenge = acceptor
        .challenge(negotiate, server_challenge, ctx.dir.clock.now().0)
        .ok()?;
    Some((acceptor, challenge))
}

/// Verifies an AP-REQ against the DC's own keys (and, over TLS, its channel binding).
fn accept_ap_req(ctx: &ServerContext, tls: bool, token: &[u8]) -> Result<KrbAccepted, ApError> {
    let policy = AcceptPolicy {
        now: ctx.dir.clock.now().unix_seconds(),
        // The domain's MaxClockSkew, as the KDC holds its requests to it (MS-KILE 3.3.1).
        max_skew: ctx.dir.kerberos_policy(ctx.domain).max_clock_skew_seconds(),
        channel_binding: ctx.policies.get().channel_binding,
        expected_channel_binding: ctx.channel_binding.expected(tls),
    };
    let accepted = crate::auth::gss_krb5::accept_sec_context(token, ctx.service_keys.as_ref(), &policy)?;
    // RFC 4120 §3.2.3: an authenticator accepted once is refused again (KRB_AP_ERR_REPEAT),
    // on this connection or another; a bind has no retransmissions.
    match ctx
        .replay
        .check_within(&accepted.replay_key, None, policy.now, policy.max_skew)
    {
        Verdict::Fresh => Ok(accepted),
        _ => Err(ApError {
            code: crate::kdc::error::code::KRB_AP_ERR_REPEAT,
            reason: "authenticator replayed",
        }),
    }
}

/// The right rotation Windows puts in its sealed AES Wrap tokens (16-byte header + 12-byte
/// checksum, MS-KILE 3.4.5.4.1). MIT and impacket rotate back whatever the RRC; asyauth (msldap,
/// bloodyAD's badldap) compares the outer header with RRC 28 and refuses anything else.
const WINDOWS_WRAP_RRC: u16 = 28;

/// The acceptor's per-message context of a Kerberos bind, sealing as Windows does.
fn krb_acceptor(
    accepted: &KrbAccepted,
    acceptor_subkey: Option<&EncryptionKey>,
    seq: u32,
) -> Result<KrbSecurityContext, GssError> {
    let mut ctx = KrbSecurityContext::acceptor(accepted, acceptor_subkey, seq)?;
    ctx.send_rrc = WINDOWS_WRAP_RRC;
    Ok(ctx)
}

/// The caller named by an accepted ticket's PAC, or the failure to answer.
fn ticket_caller(ctx: &ServerContext, accepted: &KrbAccepted) -> Result<Caller, LdapResult> {
    identity::caller_from_ticket(&ctx.dir, &accepted.ticket).map_err(|e| {
        tracing::debug!(?e, "ticket without a usable PAC");
        logon_failure()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KB4520412: a refused channel binding is SEC_E_BAD_BINDINGS for Kerberos as for NTLM;
    /// other AP-REQ refusals keep 80090308.
    #[test]
    fn a_kerberos_channel_binding_refusal_is_bad_bindings() {
        let bad = kerberos_error(ApError::channel_binding());
        assert_eq!(bad.code, code::INVALID_CREDENTIALS);
        assert!(
            bad.diagnostic.starts_with(
                "80090346: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 80090346"
            ),
            "{}",
            bad.diagnostic
        );
        let other = kerberos_error(ApError {
            code: 41,
            reason: "authenticator does not decrypt",
        });
        assert!(other.diagnostic.starts_with("80090308: "), "{}", other.diagnostic);
    }
}
