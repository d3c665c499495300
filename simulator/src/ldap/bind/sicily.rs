//! Sicily NTLM (MS-ADTS 5.1.1.1.3, docs/notes/client-interop.md §7b): package discovery answers `NTLM` in
//! the matchedDN, the NEGOTIATE gets the CHALLENGE in the matchedDN, the AUTHENTICATE gets
//! success or 49. No security layer follows (ldap3 never signs).

use super::identity::{ntlm_logon, DirectoryAccounts};
use super::{account_refused, ntlm_challenge, out_of_sequence, security_context_error, State, Step};
use crate::auth::ntlm::{NtlmFailure, NtlmOutcome};
use crate::ldap::codec::LdapResult;
use crate::ldap::session::ServerContext;

/// `[9] sicilyPackageDiscovery`: the packages, `;`-separated, in the matchedDN.
pub(super) fn discovery() -> Step {
    Step {
        result: LdapResult::success().with_matched_dn(b"NTLM".to_vec()),
        creds: None,
        caller: None,
        layer: None,
    }
}

/// `[10] sicilyNegotiate`.
pub(super) fn negotiate(ctx: &ServerContext, tls: bool, negotiate: &[u8]) -> (Step, State) {
    match ntlm_challenge(ctx, tls, negotiate) {
        Some((acceptor, challenge)) => (
            Step {
                result: LdapResult::success().with_matched_dn(challenge),
                creds: None,
                caller: None,
                layer: None,
            },
            State::Sicily(Box::new(acceptor)),
        ),
        None => (
            Step::fail(security_context_error(NtlmFailure::Malformed.code())),
            State::Idle,
        ),
    }
}

/// `[11] sicilyResponse`.
pub(super) fn response(ctx: &ServerContext, tls: bool, prev: State, authenticate: &[u8]) -> (Step, State) {
    let State::Sicily(mut acceptor) = prev else {
        return (Step::fail(out_of_sequence()), State::Idle);
    };
    let accounts = DirectoryAccounts {
        dir: &ctx.dir,
        default_domain: ctx.domain,
    };
    let step = match acceptor.authenticate(authenticate, &accounts) {
        NtlmOutcome::Authenticated { account, .. } => match ntlm_logon(&ctx.dir, account) {
            Ok(caller) => Step::done(None, caller.with_encryption(tls), None),
            Err(data) => Step::fail(account_refused(data)),
        },
        NtlmOutcome::Anonymous { .. } => {
            Step::fail(security_context_error(NtlmFailure::AnonymousRefused.code()))
        }
        NtlmOutcome::Failed(f) => Step::fail(security_context_error(f.code())),
    };
    (step, State::Idle)
}
