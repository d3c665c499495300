//! The Kerberos KDC (RFC 4120, MS-KILE): AS and TGS exchanges over the directory's keys, the
//! clock-skew rule on the simulated clock, PACs (MS-PAC), and client artifacts (keytab,
//! krb5.conf). `Kdc::handle` is sans-I/O; `net` puts it on UDP and TCP.

mod as_exchange;
pub mod client;
pub mod crypto;
pub mod db;
pub mod der;
pub mod error;
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
mod tgs_exchange;
pub mod ticket;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, NtTime, TICKS_PER_SECOND, UNIX_EPOCH_AS_NTTIME};
pub use db::{KdcDatabase, KdcPrincipal, KerberosKey, PrincipalLookup};
use der::tag;
use error::{code, ErrorContext, Refusal};
use messages::{msg_type, KdcReq};

/// KDC policy. Defaults are Windows' Default Domain Policy (Kerberos Policy) values.
#[derive(Debug, Clone)]
pub struct KdcConfig {
    /// "Maximum tolerance for computer clock synchronization": 5 minutes (windows-behaviour 16).
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

pub struct Kdc {
    db: Arc<dyn KdcDatabase>,
    clock: Clock,
    config: KdcConfig,
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
        Kdc { db, clock, config }
    }

    pub fn config(&self) -> &KdcConfig {
        &self.config
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn db(&self) -> &dyn KdcDatabase {
        self.db.as_ref()
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
        let first = *request.first()?;
        let kerberos_tag =
            first == tag::application(msg_type::AS_REQ) || first == tag::application(msg_type::TGS_REQ);
        if !kerberos_tag {
            tracing::debug!(
                len = request.len(),
                first,
                "dropping a datagram that is not a KDC request"
            );
            return None;
        }
        let reply = match KdcReq::from_der(request) {
            Ok(req) => {
                let ctx = error_context(&req);
                let outcome = if req.msg_type == msg_type::AS_REQ {
                    as_exchange::handle(self, &req)
                } else {
                    tgs_exchange::handle(self, &req)
                };
                match outcome {
                    Ok(reply) => reply,
                    Err(refusal) => {
                        tracing::info!(
                            code = refusal.code,
                            reason = refusal.reason,
                            realm = %ctx.realm,
                            sname = %ctx.sname.joined(),
                            cname = ?ctx.cname.as_ref().map(|c| c.joined()),
                            "KDC refusal"
                        );
                        self.error_reply(&refusal, &ctx)
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "undecodable KDC request");
                let ctx = ErrorContext::fallback(&self.default_realm());
                self.error_reply(&Refusal::new(code::KRB_ERR_GENERIC, "undecodable request"), &ctx)
            }
        };
        if transport == Transport::Udp && reply.len() > self.config.max_datagram_reply_size {
            let ctx = KdcReq::from_der(request)
                .map(|r| error_context(&r))
                .unwrap_or_else(|_| ErrorContext::fallback(&self.default_realm()));
            return Some(self.error_reply(
                &Refusal::new(code::KRB_ERR_RESPONSE_TOO_BIG, "reply exceeds UDP limit"),
                &ctx,
            ));
        }
        Some(reply)
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
