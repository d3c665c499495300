//! SASL GSS-SPNEGO (RFC 4178, MS-SPNG) carrying NTLM or a Kerberos AP-REQ (impacket, msldap,
//! bloodyAD). The mechListMIC is checked and returned; afterwards the NTLM session (sealing
//! when SEAL was negotiated, signing when only SIGN) or the Kerberos context (per the GSS
//! flags CONF / INTEG) protects every later PDU.

use super::identity::{ntlm_logon, DirectoryAccounts};
use super::{
    accept_ap_req, acceptor_subkey, account_refused, kerberos_error, krb_acceptor, layer_over_tls,
    logon_failure, ntlm_challenge, out_of_sequence, security_context_error, ticket_caller, Layer, Leg, State,
    Step,
};
use crate::auth::gss_krb5::{build_ap_rep, gss_flags};
use crate::auth::ntlm::{flags, NtlmAcceptor, NtlmFailure, NtlmOutcome, NtlmSession, Role};
use crate::auth::sasl::{KrbLayer, NtlmLayer};
use crate::auth::spnego::{self, Mech, NegState, NegToken, NegTokenResp};
use crate::ldap::session::ServerContext;

/// What the DC accepts inside SPNEGO, in its order of preference.
const OFFERED: &[Mech] = &[Mech::MsKrb5, Mech::Krb5, Mech::Ntlm];

/// A GSS-SPNEGO bind after its first PDU.
pub(super) enum Pending {
    /// The client sent no optimistic token: the chosen mechanism's first token comes next.
    AwaitToken {
        mech: Mech,
        mech_types_der: Vec<u8>,
        mic_required: bool,
    },
    /// NTLM CHALLENGE sent; the AUTHENTICATE comes next.
    Ntlm {
        acceptor: Box<NtlmAcceptor>,
        mech_types_der: Vec<u8>,
        mic_required: bool,
    },
}

pub(super) fn step(leg: Leg) -> (Step, State) {
    let fail = |r| (Step::fail(r), State::Idle);
    let Ok(token) = spnego::decode_neg_token(&leg.credentials.unwrap_or_default()) else {
        return fail(security_context_error(NtlmFailure::Malformed.code()));
    };
    match (leg.prev, token) {
        (_, NegToken::Init(init)) => {
            let Ok(choice) = spnego::choose_mech(&init, OFFERED) else {
                return (
                    Step {
                        creds: Some(spnego::reject()),
                        ..Step::fail(logon_failure())
                    },
                    State::Idle,
                );
            };
            match choice.token {
                Some(t) => first_token(
                    leg.sc,
                    leg.tls,
                    choice.mech,
                    t,
                    init.mech_types_der,
                    init.mech_list_mic,
                    choice.mic_required,
                ),
                None => (
                    Step::in_progress(spnego::encode_neg_token_resp(&NegTokenResp {
                        neg_state: Some(NegState::AcceptIncomplete),
                        supported_mech: Some(choice.mech.oid().to_vec()),
                        ..Default::default()
                    })),
                    State::Spnego(Pending::AwaitToken {
                        mech: choice.mech,
                        mech_types_der: init.mech_types_der,
                        mic_required: choice.mic_required,
                    }),
                ),
            }
        }
        (
            State::Spnego(Pending::AwaitToken {
                mech,
                mech_types_der,
                mic_required,
            }),
            NegToken::Resp(resp),
        ) => match resp.response_token {
            Some(t) => first_token(
                leg.sc,
                leg.tls,
                mech,
                t,
                mech_types_der,
                resp.mech_list_mic,
                mic_required,
            ),
            None => fail(out_of_sequence()),
        },
        (
            State::Spnego(Pending::Ntlm {
                mut acceptor,
                mech_types_der,
                mic_required,
            }),
            NegToken::Resp(resp),
        ) => {
            let Some(auth) = resp.response_token else {
                return fail(out_of_sequence());
            };
            let accounts = DirectoryAccounts {
                dir: &leg.sc.dir,
                default_domain: leg.sc.domain,
            };
            let (account, session_key, neg_flags) = match acceptor.authenticate(&auth, &accounts) {
                NtlmOutcome::Authenticated {
                    account,
                    session_key,
                    flags,
                    ..
                } => (account, session_key, flags),
                NtlmOutcome::Anonymous { .. } => {
                    return fail(security_context_error(NtlmFailure::AnonymousRefused.code()))
                }
                NtlmOutcome::Failed(f) => return fail(security_context_error(f.code())),
            };
            let caller = match ntlm_logon(&leg.sc.dir, account) {
                Ok(caller) => caller,
                Err(data) => return fail(account_refused(data)),
            };
            let wants_layer = neg_flags & (flags::SIGN | flags::SEAL) != 0;
            if wants_layer && leg.tls {
                return fail(layer_over_tls());
            }
            let Ok(mut session) = NtlmSession::new(&session_key, neg_flags, Role::Server) else {
                return fail(logon_failure());
            };
            let mic = resp.mech_list_mic;
            let Ok(done) =
                spnego::complete(&mech_types_der, mic.as_deref(), mic_required, None, &mut session)
            else {
                return fail(security_context_error(NtlmFailure::BadMic.code()));
            };
            if mic.is_some() {
                // Windows restarts both RC4 handles after the mechListMIC (auth-engines.md).
                session.reset_rc4_handles();
            }
            let seal = neg_flags & flags::SEAL != 0;
            let layer: Option<Layer> = wants_layer.then(|| Box::new(NtlmLayer { session, seal }) as Layer);
            let caller = caller.with_encryption(leg.tls || seal);
            (Step::done(Some(done), caller, layer), State::Idle)
        }
        (_, NegToken::Resp(_)) => fail(out_of_sequence()),
    }
}

/// The chosen mechanism's first token: NTLM NEGOTIATE or a Kerberos AP-REQ.
fn first_token(
    sc: &ServerContext,
    tls: bool,
    mech: Mech,
    token: Vec<u8>,
    mech_types_der: Vec<u8>,
    client_mic: Option<Vec<u8>>,
    mic_required: bool,
) -> (Step, State) {
    let fail = |r| (Step::fail(r), State::Idle);
    if !mech.is_kerberos() {
        let Some((acceptor, challenge)) = ntlm_challenge(sc, tls, &token) else {
            return fail(security_context_error(NtlmFailure::Malformed.code()));
        };
        let resp = spnego::encode_neg_token_resp(&NegTokenResp {
            neg_state: Some(NegState::AcceptIncomplete),
            supported_mech: Some(mech.oid().to_vec()),
            response_token: Some(challenge),
            mech_list_mic: None,
        });
        return (
            Step::in_progress(resp),
            State::Spnego(Pending::Ntlm {
                acceptor: Box::new(acceptor),
                mech_types_der,
                mic_required,
            }),
        );
    }
    let accepted = match accept_ap_req(sc, tls, &token) {
        Ok(a) => a,
        Err(e) => return fail(kerberos_error(e)),
    };
    let caller = match ticket_caller(sc, &accepted) {
        Ok(c) => c,
        Err(r) => return fail(r),
    };
    let gss = accepted.gss.flags;
    let (conf, integ) = (gss & gss_flags::CONF != 0, gss & gss_flags::INTEG != 0);
    if (conf || integ) && tls {
        return fail(layer_over_tls());
    }
    // Mutual authentication: the AP-REP with an acceptor subkey. Without it (impacket asks for
    // none) there is no AP-REP and the ticket session key protects the layer.
    let (ap_rep, ctx) = if accepted.mutual_required {
        let (subkey, seq) = acceptor_subkey(&accepted);
        let Ok(ap_rep) = build_ap_rep(&accepted, Some(&subkey), seq) else {
            return fail(logon_failure());
        };
        (Some(ap_rep), krb_acceptor(&accepted, Some(&subkey), seq))
    } else {
        (None, krb_acceptor(&accepted, None, 0))
    };
    let Ok(mut ctx) = ctx else {
        return fail(logon_failure());
    };
    let Ok(done) = spnego::complete(
        &mech_types_der,
        client_mic.as_deref(),
        mic_required,
        ap_rep,
        &mut ctx,
    ) else {
        return fail(logon_failure());
    };
    let layer: Option<Layer> = (conf || integ).then(|| Box::new(KrbLayer { ctx, conf }) as Layer);
    (
        Step::done(Some(done), caller.with_encryption(tls || conf), layer),
        State::Idle,
    )
}
