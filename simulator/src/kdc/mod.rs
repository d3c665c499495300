//! The Kerberos KDC (RFC 4120, MS-KILE): AS and TGS exchanges over the directory's keys, the
//! clock-skew rule on the simulated clock, PACs (MS-PAC), and client artifacts (keytab,
//! krb5.conf). `Kdc::handle` is sans-I/O; `net` puts it on UDP and TCP.

mod aes_profile;
mod as_exchange;
pub mod client;
pub mod crypto;
pub mod db;
pub mod der;
pub mod error;
pub mod gss_checksum;
pub mod key_usage;
pub mod keytab;
pub mod krb5conf;
pub mod messages;
mod names;
pub mod ndr;
pub mod net;
pub mod pac;
pub mod policy;
pub mod rc4hmac;
pub mod replay;
mod tgs_exchange;
pub mod ticket;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, NtTime, TICKS_PER_SECOND, UNIX_EPOCH_AS_NTTIME};
pub use db::{KdcDatabase, KdcPrincipal, KerberosKey, LogonRestriction, PrincipalLookup};
use der::tag;
use error::{code, ErrorContext, Refusal};
use messages::{msg_type, KdcReq, PrincipalName};

/// KDC policy. Defaults are Windows' Default Domain Policy (Kerberos Policy) values; a
/// database that holds the domain's policy ([`KdcDatabase::ticket_policy`], the directory's
/// Default Domain Policy) overrides the four Kerberos Policy values.
#[derive(Debug, Clone)]
pub struct KdcConfig {
    /// "Maximum tolerance for computer clock synchronization": 5 minutes (docs/notes/windows-behaviour.md 16).
    pub max_skew_seconds: i64,
    /// "Maximum lifetime for user ticket": 10 hours.
    pub ticket_lifetime_seconds: i64,
    /// "Maximum lifetime for user ticket renewal": 7 days.
    pub renew_lifetime_seconds: i64,
    /// UDP replies larger than this become KRB_ERR_RESPONSE_TOO_BIG so the client retries over
    /// TCP (RFC 4120 §7.2.1; Windows KDC MaxDatagramReplySize default 1465).
    pub max_datagram_reply_size: usize,
    /// Largest TCP request accepted (RFC 4120 §7.2.2 leaves it to the KDC).
    pub max_tcp_request_size: usize,
    /// How long a TCP read may stall before the connection is dropped.
    pub tcp_read_timeout: Duration,
    /// Concurrent TCP connections served; more wait for a slot.
    pub max_tcp_connections: usize,
}

impl Default for KdcConfig {
    fn default() -> Self {
        KdcConfig {
            max_skew_seconds: 300,
            ticket_lifetime_seconds: 10 * 3600,
            renew_lifetime_seconds: 7 * 86_400,
            max_datagram_reply_size: 1465,
            max_tcp_request_size: 128 * 1024,
            tcp_read_timeout: Duration::from_secs(10),
            max_tcp_connections: 256,
        }
    }
}

/// How a request arrived; only UDP limits the reply size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Which exchange a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    As,
    Tgs,
}

/// A decoded request in short: what it asked for, never its keys or authenticators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSummary {
    pub kind: ExchangeKind,
    pub realm: String,
    pub cname: Option<PrincipalName>,
    pub sname: Option<PrincipalName>,
    pub etypes: Vec<i32>,
    pub kdc_options: u32,
    pub padata_types: Vec<i32>,
}

impl RequestSummary {
    fn of(req: &KdcReq) -> RequestSummary {
        let body = &req.req_body;
        RequestSummary {
            kind: if req.msg_type == msg_type::AS_REQ {
                ExchangeKind::As
            } else {
                ExchangeKind::Tgs
            },
            realm: body.realm.clone(),
            cname: body.cname.clone(),
            sname: body.sname.clone(),
            etypes: body.etypes.clone(),
            kdc_options: body.kdc_options,
            padata_types: req.padata.iter().map(|p| p.padata_type).collect(),
        }
    }
}

/// The reply sent for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The AS-REP, TGS-REP or KRB-ERROR as sent.
    pub bytes: Vec<u8>,
    /// 0 when a ticket was issued, else the KRB-ERROR's error-code.
    pub code: i32,
    /// The client the reply names, `name@REALM`: the ticket's client, or the AS request's
    /// client in an error (none for a TGS error: its client is only inside the ticket).
    pub client: Option<String>,
}

/// One exchange: the request in short (`None` when it could not be decoded) and the reply
/// (`None` when the request was dropped: not a Kerberos request at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub request: Option<RequestSummary>,
    pub reply: Option<Reply>,
}

pub struct Kdc {
    db: Arc<dyn KdcDatabase>,
    clock: Clock,
    config: KdcConfig,
    /// Authenticators of TGS-REQs seen within the skew (RFC 4120 §3.2.3).
    replay: replay::ReplayCache,
}

impl std::fmt::Debug for Kdc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kdc")
            .field("realms", &self.db.realms())
            .field("config", &self.config)
            .finish()
    }
}

/// The KDC's current time split the way KerberosTime and Microseconds carry it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    pub unix: i64,
    pub usec: u32,
    pub nt: NtTime,
}

impl Kdc {
    pub fn new(db: Arc<dyn KdcDatabase>, clock: Clock, config: KdcConfig) -> Self {
        let replay = replay::ReplayCache::new(config.max_skew_seconds, replay::DEFAULT_CAPACITY);
        Kdc {
            db,
            clock,
            config,
            replay,
        }
    }

    pub fn config(&self) -> &KdcConfig {
        &self.config
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn replay_cache(&self) -> &replay::ReplayCache {
        &self.replay
    }

    pub(crate) fn db(&self) -> &dyn KdcDatabase {
        self.db.as_ref()
    }

    /// The Kerberos policy for a request to `realm`: the database's (the domain's Default
    /// Domain Policy, read at every request so a change applies at once, MS-KILE 3.3.4.1), else
    /// this KDC's configuration.
    pub fn ticket_policy(&self, realm: &str) -> policy::TicketPolicy {
        self.db.ticket_policy(realm).unwrap_or(policy::TicketPolicy {
            max_ticket_age: Some(self.config.ticket_lifetime_seconds),
            max_renew_age: Some(self.config.renew_lifetime_seconds),
            max_service_age: Some(self.config.ticket_lifetime_seconds),
            max_clock_skew: self.config.max_skew_seconds,
        })
    }

    pub(crate) fn now(&self) -> Now {
        let nt = self.clock.now();
        let since_epoch = nt.0.saturating_sub(UNIX_EPOCH_AS_NTTIME);
        Now {
            unix: nt.unix_seconds(),
            usec: ((since_epoch % TICKS_PER_SECOND) / 10) as u32,
            nt,
        }
    }

    /// The realm this database serves that matches `realm` case-insensitively (AD accepts
    /// `corp.example.test` for `CORP.EXAMPLE.TEST`).
    pub(crate) fn served_realm(&self, realm: &str) -> Option<String> {
        self.db
            .realms()
            .into_iter()
            .find(|r| r.eq_ignore_ascii_case(realm))
    }

    fn default_realm(&self) -> String {
        self.db
            .realms()
            .into_iter()
            .next()
            .unwrap_or_else(|| "UNKNOWN".to_string())
    }

    /// Answers one Kerberos request. `None` means drop it (not a Kerberos request at all);
    /// a malformed AS-REQ/TGS-REQ gets KRB_ERR_GENERIC, never a panic.
    pub fn handle(&self, request: &[u8], transport: Transport) -> Option<Vec<u8>> {
        self.exchange(request, transport).reply.map(|r| r.bytes)
    }

    /// [`Kdc::handle`] with a short account of the exchange beside the reply, so that logs and
    /// recordings need not decode the messages again.
    pub fn exchange(&self, request: &[u8], transport: Transport) -> Exchange {
        let dropped = Exchange {
            request: None,
            reply: None,
        };
        let Some(&first) = request.first() else {
            return dropped;
        };
        let kerberos_tag =
            first == tag::application(msg_type::AS_REQ) || first == tag::application(msg_type::TGS_REQ);
        if !kerberos_tag {
            tracing::debug!(
                len = request.len(),
                first,
                "dropping a datagram that is not a KDC request"
            );
            return dropped;
        }
        let (summary, ctx, reply) = match KdcReq::from_der(request) {
            Ok(req) => {
                let ctx = error_context(&req);
                let outcome = if req.msg_type == msg_type::AS_REQ {
                    as_exchange::handle(self, &req)
                } else {
                    tgs_exchange::handle(self, &req, request)
                };
                let reply = match outcome {
                    Ok(rep) => Reply {
                        bytes: rep.to_der(),
                        code: 0,
                        client: Some(full_name(&rep.cname, &rep.crealm)),
                    },
                    Err(refusal) => {
                        tracing::info!(
                            code = refusal.code,
                            reason = refusal.reason,
                            realm = %ctx.realm,
                            sname = %ctx.sname.joined(),
                            cname = ?ctx.cname.as_ref().map(|c| c.joined()),
                            "KDC refusal"
                        );
                        self.refuse(&refusal, &ctx)
                    }
                };
                (Some(RequestSummary::of(&req)), ctx, reply)
            }
            Err(e) if transport == Transport::Udp => {
                // A datagram that only starts like a request gets no answer: an error reply
                // (~100 bytes) to a 1-byte packet would amplify spoofed traffic. Windows' KDC
                // stays silent on such garbage (issue 13 item 10; docs/fidelity.md).
                tracing::debug!(error = %e, len = request.len(), "dropping an undecodable datagram");
                return dropped;
            }
            Err(e) => {
                tracing::debug!(error = %e, "undecodable KDC request");
                let ctx = ErrorContext::fallback(&self.default_realm());
                let reply = self.refuse(&Refusal::new(code::KRB_ERR_GENERIC, "undecodable request"), &ctx);
                (None, ctx, reply)
            }
        };
        let reply = if transport == Transport::Udp && reply.bytes.len() > self.config.max_datagram_reply_size
        {
            self.refuse(
                &Refusal::new(code::KRB_ERR_RESPONSE_TOO_BIG, "reply exceeds UDP limit"),
                &ctx,
            )
        } else {
            reply
        };
        Exchange {
            request: summary,
            reply: Some(reply),
        }
    }

    /// The KRB-ERROR for `refusal`, with its code and the client it names.
    fn refuse(&self, refusal: &Refusal, ctx: &ErrorContext) -> Reply {
        Reply {
            bytes: self.error_reply(refusal, ctx),
            code: refusal.code,
            client: ctx
                .cname
                .as_ref()
                .map(|c| full_name(c, ctx.crealm.as_deref().unwrap_or(&ctx.realm))),
        }
    }

    pub(crate) fn error_reply(&self, refusal: &Refusal, ctx: &ErrorContext) -> Vec<u8> {
        let now = self.now();
        error::encode(refusal, ctx, now.unix, now.usec)
    }
}

fn error_context(req: &KdcReq) -> ErrorContext {
    let body = &req.req_body;
    let sname = body
        .sname
        .clone()
        .unwrap_or_else(|| ErrorContext::fallback(&body.realm).sname);
    let (crealm, cname) = if req.msg_type == msg_type::AS_REQ {
        (Some(body.realm.clone()), body.cname.clone())
    } else {
        (None, None)
    };
    ErrorContext {
        realm: body.realm.clone(),
        sname,
        crealm,
        cname,
    }
}

fn full_name(name: &PrincipalName, realm: &str) -> String {
    format!("{}@{}", name.joined(), realm)
}
