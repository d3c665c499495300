//! SASL GSSAPI (RFC 4752 §3.1) with Kerberos V5: the AP-REQ is verified against the DC's own
//! keys and answered with the AP-REP (mutual authentication) in saslBindInProgress; the
//! client's empty response gets the wrapped layer offer (0x07, non-zero max buffer); the
//! client's wrapped choice ends the bind, and the chosen layer protects every later PDU.

use super::{
    accept_ap_req, acceptor_subkey, kerberos_error, krb_acceptor, layer_over_tls, logon_failure,
    out_of_sequence, ticket_caller, Layer, Leg, State, Step,
};
use crate::auth::gss_krb5::{build_ap_rep, KrbSecurityContext};
use crate::auth::sasl::{self, layer, KrbLayer, SERVER_MAX_BUFFER};
use crate::dsa::Caller;

/// Every layer is offered, as AD does (docs/notes/client-interop.md §7c).
const OFFERED: u8 = layer::NONE | layer::INTEGRITY | layer::CONFIDENTIALITY;

/// A GSSAPI bind after its first PDU.
pub(super) enum Pending {
    /// AP-REP sent; the client's empty token comes next.
    AwaitEmpty { ctx: KrbSecurityContext, caller: Caller },
    /// Layer offer sent; the client's wrapped choice comes next.
    AwaitChoice { ctx: KrbSecurityContext, caller: Caller },
}

pub(super) fn step(leg: Leg) -> (Step, State) {
    match leg.prev {
        State::Gssapi(Pending::AwaitEmpty { ctx, caller }) => offer(ctx, caller),
        State::Gssapi(Pending::AwaitChoice { mut ctx, caller }) => {
            let token = leg.credentials.unwrap_or_default();
            let choice = match sasl::parse_client_choice(&mut ctx, &token, OFFERED) {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(error = %e, "GSSAPI layer choice refused");
                    return (Step::fail(logon_failure()), State::Idle);
                }
            };
            if choice.layer != layer::NONE && leg.tls {
                return (Step::fail(layer_over_tls()), State::Idle);
            }
            let sealed = choice.layer == layer::CONFIDENTIALITY;
            let installed: Option<Layer> = match choice.layer {
                layer::INTEGRITY | layer::CONFIDENTIALITY => Some(Box::new(KrbLayer { ctx, conf: sealed })),
                _ => None,
            };
            (
                Step::done(None, caller.with_encryption(leg.tls || sealed), installed),
                State::Idle,
            )
        }
        State::Idle | State::Sicily(_) | State::Spnego(_) => {
            let Some(token) = leg.credentials.filter(|t| !t.is_empty()) else {
                return (Step::fail(out_of_sequence()), State::Idle);
            };
            let accepted = match accept_ap_req(leg.sc, leg.tls, &token) {
                Ok(a) => a,
                Err(e) => return (Step::fail(kerberos_error(e)), State::Idle),
            };
            let caller = match ticket_caller(leg.sc, &accepted) {
                Ok(c) => c,
                Err(r) => return (Step::fail(r), State::Idle),
            };
            if !accepted.mutual_required {
                // No AP-REP: the context is complete, the offer goes now (RFC 4752 §3.1).
                return match krb_acceptor(&accepted, None, 0) {
                    Ok(ctx) => offer(ctx, caller),
                    Err(_) => (Step::fail(logon_failure()), State::Idle),
                };
            }
            let (subkey, seq) = acceptor_subkey(&accepted);
            let built = build_ap_rep(&accepted, Some(&subkey), seq).map_err(kerberos_error);
            let ctx = krb_acceptor(&accepted, Some(&subkey), seq).map_err(|_| logon_failure());
            match (built, ctx) {
                (Ok(ap_rep), Ok(ctx)) => (
                    Step::in_progress(ap_rep),
                    State::Gssapi(Pending::AwaitEmpty { ctx, caller }),
                ),
                (Err(r), _) | (_, Err(r)) => (Step::fail(r), State::Idle),
            }
        }
    }
}

/// The server's last token: the wrapped layer offer.
fn offer(mut ctx: KrbSecurityContext, caller: Caller) -> (Step, State) {
    match sasl::server_offer(&mut ctx, OFFERED, SERVER_MAX_BUFFER) {
        Ok(token) => (
            Step::in_progress(token),
            State::Gssapi(Pending::AwaitChoice { ctx, caller }),
        ),
        Err(e) => {
            tracing::debug!(error = %e, "GSSAPI layer offer failed");
            (Step::fail(logon_failure()), State::Idle)
        }
    }
}
