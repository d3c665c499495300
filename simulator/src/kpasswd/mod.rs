//! The Kerberos change/set password service (RFC 3244, which MS-KILE names for password change;
//! a Windows DC serves it on port 464). Sans-I/O: [`Kpasswd::exchange`]
//! takes one request and returns the reply; `server::kpasswd` puts it on UDP and TCP and
//! gives it the directory as its [`KpasswdBackend`].
//!
//! A request is an AP-REQ for `kadmin/changepw` (in AD an SPN of the krbtgt account, so the
//! ticket is sealed with krbtgt's key) and a KRB-PRIV with the new password, verified with the
//! one AP-REQ check (`auth::gss_krb5::verify_ap_req`). The reply is an AP-REP and a KRB-PRIV
//! holding the result code and string, encrypted with the authenticator's subkey, key usage 13;
//! a request that cannot be authenticated gets a framed KRB-ERROR whose e-data is the result.
//! The authenticator's skew is the domain's MaxClockSkew, read per request.
//!
//! MIT's kpasswd client (and impacket's) retransmits an unanswered UDP request byte for byte
//! (RFC 3244 §2 runs over UDP like the KDC; MIT's `krb5_sendto` retries), and the first copy
//! may already have changed the password. Answering the copy again would count the
//! authenticator twice (KRB_AP_ERR_REPEAT) or, were the replay cache bypassed, set the password
//! a second time (history, kvno + 2). So the service keeps what it answered, by the request's
//! SHA-256, while the authenticator is within the skew (at most [`REPLY_CAPACITY`] replies, the
//! oldest forgotten first), and sends the same bytes again, as MIT's KDC does with its
//! lookaside cache.

pub mod client;
pub mod codec;

use std::net::IpAddr;
use std::sync::Arc;

use rand::RngCore;

use crate::auth::gss_krb5::{seal_ap_rep, verify_ap_req, AcceptPolicy, ApAccepted, ServiceKeys};
use crate::clock::Clock;
use crate::kdc::crypto::Etype;
use crate::kdc::error::{code, ErrorContext, Refusal};
use crate::kdc::key_usage;
use crate::kdc::messages::{
    name_type, ApReq, EncApRepPart, EncKrbPrivPart, EncTicketPart, EncryptedData, EncryptionKey, HostAddress,
    KrbPriv, PrincipalName,
};
use crate::kdc::policy::ticket_flag;
use crate::kdc::replay::{self, ReplayCache, SkewWindow, Verdict};
use codec::{result, version, AdPolicyInfo, ChangePasswdData, FrameError};

/// The service principal of the password service (RFC 3244 §2).
pub const SERVICE: [&str; 2] = ["kadmin", "changepw"];

/// Number of remembered replies (each a few hundred bytes).
pub const REPLY_CAPACITY: usize = 4096;

/// HostAddress types (RFC 4120 §7.5.3).
pub mod addr_type {
    pub const IPV4: i32 = 2;
    pub const IPV6: i32 = 24;
}

/// What the service asks of the directory.
pub trait KpasswdBackend: Send + Sync {
    /// The realm this service answers for (its KDC's).
    fn realm(&self) -> String;
    /// Keys that open tickets for `kadmin/changepw` in this realm.
    fn service_keys(&self) -> &dyn ServiceKeys;
    /// Applies an authenticated request: a change of the ticket's own client's password, or
    /// (with a target) a set by an administrator.
    fn apply(&self, request: &PasswordRequest<'_>) -> Outcome;
    /// The realm's MaxClockSkew in seconds, read at each request (the domain's Kerberos policy,
    /// which the KDC follows too: MS-KILE 3.3.4.1); `None`: the service's configured skew.
    fn max_clock_skew(&self) -> Option<i64> {
        None
    }
}

/// An authenticated password request.
pub struct PasswordRequest<'a> {
    /// The decrypted ticket: its client and PAC say who asks.
    pub ticket: &'a EncTicketPart,
    /// The account to set (set password), or `None` for the ticket's client (change).
    pub target: Option<(&'a PrincipalName, &'a str)>,
    /// The new password, UTF-8.
    pub new_password: &'a str,
}

/// What the backend did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Refused with a result code and a UTF-8 result string.
    Refused(u16, String),
    /// Refused by the domain's password policy: KRB5_KPASSWD_SOFTERROR with AD's policy blob.
    Policy(AdPolicyInfo),
}

/// An exchange in short, for logs and recordings: never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub version: Option<u16>,
    /// The authenticated client, `name@REALM`.
    pub client: Option<String>,
    /// The set-password target, `name@REALM`.
    pub target: Option<String>,
    /// The result code sent.
    pub result: u16,
    /// The KRB-ERROR code when the reply is a KRB-ERROR.
    pub krb_error: Option<i32>,
}

pub struct Exchange {
    pub summary: Summary,
    /// `None`: dropped (not a kpasswd message).
    pub reply: Option<Vec<u8>>,
}

pub struct Kpasswd {
    backend: Arc<dyn KpasswdBackend>,
    clock: Clock,
    /// The skew when the backend has no policy of its own.
    max_skew: i64,
    /// Authenticators already used (RFC 4120 §3.2.3): shared with nothing else, since only
    /// this service accepts kadmin/changepw tickets.
    replay: ReplayCache,
    /// What was answered to each authenticated request, by its digest, for its retransmissions.
    replies: SkewWindow<(Summary, Vec<u8>)>,
}

impl Kpasswd {
    pub fn new(backend: Arc<dyn KpasswdBackend>, clock: Clock, max_skew: i64) -> Kpasswd {
        Kpasswd {
            backend,
            clock,
            max_skew,
            replay: ReplayCache::new(max_skew, replay::DEFAULT_CAPACITY),
            replies: SkewWindow::new(REPLY_CAPACITY),
        }
    }

    /// The tolerated clock skew now: the domain's policy, else the configuration.
    fn skew(&self) -> i64 {
        self.backend.max_clock_skew().unwrap_or(self.max_skew)
    }

    /// Answers one request that arrived at `local` (the server's address, which the reply's
    /// KRB-PRIV names as its sender).
    pub fn exchange(&self, request: &[u8], local: IpAddr) -> Exchange {
        let mut summary = Summary {
            version: None,
            client: None,
            target: None,
            result: result::MALFORMED,
            krb_error: None,
        };
        let parts = match codec::parse_request(request) {
            Ok(p) => p,
            Err(FrameError::NotKpasswd) => {
                tracing::debug!(len = request.len(), "dropping a message that is not kpasswd");
                return Exchange { summary, reply: None };
            }
            Err(FrameError::BadVersion(v)) => {
                summary.version = Some(v);
                return self.error(
                    summary,
                    code::KRB_AP_ERR_BADVERSION,
                    result::BAD_VERSION,
                    "bad version",
                );
            }
            Err(FrameError::Malformed) => {
                return self.error(
                    summary,
                    code::KRB_ERR_GENERIC,
                    result::MALFORMED,
                    "malformed request",
                );
            }
        };
        summary.version = Some(parts.version);
        let now = self.clock.now().unix_seconds();
        let max_skew = self.skew();
        // A retransmission of a request already answered gets that answer again.
        let digest = replay::digest(request);
        if let Some((summary, reply)) = self.replies.get(&digest, now, max_skew) {
            tracing::debug!(client = ?summary.client, "kpasswd retransmission: the same reply again");
            return Exchange {
                summary,
                reply: Some(reply),
            };
        }
        let Ok(ap_req) = ApReq::from_der(parts.ap_req) else {
            return self.error(
                summary,
                code::KRB_AP_ERR_MSG_TYPE,
                result::MALFORMED,
                "undecodable AP-REQ",
            );
        };
        let policy = AcceptPolicy {
            now,
            max_skew,
            ..AcceptPolicy::default()
        };
        let accepted = match self.authenticate(&ap_req, request, &policy) {
            Ok(Some(a)) => a,
            // The same bytes again while the first copy is still being answered (or after its
            // reply left the cache): dropped, the client retries and finds the reply.
            Ok(None) => return Exchange { summary, reply: None },
            Err((krb, reason)) => return self.error(summary, krb, result::AUTHERROR, reason),
        };
        summary.client = Some(format!(
            "{}@{}",
            accepted.ticket.cname.joined(),
            accepted.ticket.crealm
        ));
        let exchange = self.answer(&accepted, parts.version, parts.krb_priv, summary, local);
        if let Some(reply) = &exchange.reply {
            let kept = (exchange.summary.clone(), reply.clone());
            self.replies
                .insert(digest, accepted.authenticator.ctime, kept, now, max_skew);
        }
        exchange
    }

    /// The answer to an authenticated request: the KRB-PRIV opened, the password applied, the
    /// reply sealed.
    fn answer(
        &self,
        accepted: &ApAccepted,
        version: u16,
        krb_priv: &[u8],
        mut summary: Summary,
        local: IpAddr,
    ) -> Exchange {
        // The KRB-PRIV is sealed with the authenticator's subkey, or the session key without one.
        let key = accepted
            .authenticator
            .subkey
            .clone()
            .unwrap_or_else(|| accepted.ticket.key.clone());
        let Some(user_data) = open_priv(krb_priv, &key) else {
            return self.error(
                summary,
                code::KRB_AP_ERR_BAD_INTEGRITY,
                result::MALFORMED,
                "KRB-PRIV does not open",
            );
        };
        let (code, text) = self.apply(accepted, version, &user_data, &mut summary);
        summary.result = code;
        match self.reply(accepted, &key, code, &text, local) {
            Some(reply) => Exchange {
                summary,
                reply: Some(reply),
            },
            None => self.error(
                summary,
                code::KRB_ERR_GENERIC,
                result::HARDERROR,
                "reply does not seal",
            ),
        }
    }

    /// The AP-REQ: for kadmin/changepw of this realm, verified, not replayed. `Ok(None)`: the
    /// identical request (`request`, the whole message) was seen already.
    fn authenticate(
        &self,
        ap_req: &ApReq,
        request: &[u8],
        policy: &AcceptPolicy,
    ) -> Result<Option<ApAccepted>, (i32, &'static str)> {
        let sname = &ap_req.ticket.sname;
        let is_changepw = sname.components.len() == 2
            && sname.components[0].eq_ignore_ascii_case(SERVICE[0])
            && sname.components[1].eq_ignore_ascii_case(SERVICE[1]);
        if !is_changepw || !ap_req.ticket.realm.eq_ignore_ascii_case(&self.backend.realm()) {
            return Err((code::KRB_AP_ERR_NOT_US, "ticket is not for kadmin/changepw"));
        }
        let accepted =
            verify_ap_req(ap_req, self.backend.service_keys(), policy).map_err(|e| (e.code, e.reason))?;
        match self
            .replay
            .check_within(&accepted.replay_key, Some(request), policy.now, policy.max_skew)
        {
            Verdict::Fresh => Ok(Some(accepted)),
            Verdict::Retransmission => Ok(None),
            Verdict::Replay => Err((code::KRB_AP_ERR_REPEAT, "authenticator replayed")),
        }
    }

    /// The request proper: which password, whose, and whether the ticket may do it.
    fn apply(
        &self,
        accepted: &ApAccepted,
        version: u16,
        user_data: &[u8],
        summary: &mut Summary,
    ) -> (u16, Vec<u8>) {
        let refused = |code: u16, text: &str| (code, text.as_bytes().to_vec());
        let (password, target) = if version == version::CHANGE {
            (user_data.to_vec(), None)
        } else {
            match ChangePasswdData::from_der(user_data) {
                Ok(d) => match (d.targname, d.targrealm) {
                    (Some(n), Some(r)) => (d.new_password, Some((n, r))),
                    (None, None) => (d.new_password, None),
                    _ => return refused(result::MALFORMED, "targname and targrealm go together"),
                },
                Err(_) => return refused(result::MALFORMED, "undecodable ChangePasswdData"),
            }
        };
        let Ok(password) = String::from_utf8(password) else {
            return refused(result::MALFORMED, "the password is not UTF-8");
        };
        // A change needs a ticket from the AS exchange, issued against the password just typed
        // (RFC 3244 §2: KRB5_KPASSWD_INITIAL_FLAG_NEEDED); a set by an administrator does not.
        if target.is_none() && accepted.ticket.flags & ticket_flag::INITIAL == 0 {
            return refused(result::INITIAL_FLAG_NEEDED, "an initial ticket is needed");
        }
        if let Some((n, r)) = &target {
            summary.target = Some(format!("{}@{}", n.joined(), r));
        }
        let request = PasswordRequest {
            ticket: &accepted.ticket,
            target: target.as_ref().map(|(n, r)| (n, r.as_str())),
            new_password: &password,
        };
        match self.backend.apply(&request) {
            Outcome::Done => (result::SUCCESS, Vec::new()),
            Outcome::Refused(code, text) => (code, text.into_bytes()),
            Outcome::Policy(info) => (result::SOFTERROR, info.to_bytes().to_vec()),
        }
    }

    /// AP-REP (ctime/cusec echoed, a fresh sequence number) and the KRB-PRIV with the result,
    /// its sequence number the AP-REP's (MIT checks it: KRB5_AUTH_CONTEXT_DO_SEQUENCE).
    fn reply(
        &self,
        accepted: &ApAccepted,
        key: &EncryptionKey,
        code: u16,
        text: &[u8],
        local: IpAddr,
    ) -> Option<Vec<u8>> {
        let seq = rand::rngs::OsRng.next_u32() & 0x3fff_ffff;
        let ap_rep = seal_ap_rep(
            &accepted.ticket.key,
            &EncApRepPart {
                ctime: accepted.authenticator.ctime,
                cusec: accepted.authenticator.cusec,
                subkey: None,
                seq_number: Some(seq),
            },
        )
        .ok()?;
        let part = EncKrbPrivPart {
            user_data: codec::result_data(code, text),
            timestamp: None,
            usec: None,
            seq_number: Some(seq),
            s_address: host_address(local),
            r_address: None,
        };
        let etype = Etype::from_i32(key.keytype)?;
        let cipher = etype
            .encrypt(&key.keyvalue, key_usage::KRB_PRIV_ENC_PART, &part.to_der())
            .ok()?;
        let krb_priv = KrbPriv {
            enc_part: EncryptedData {
                etype: key.keytype,
                kvno: None,
                cipher,
            },
        }
        .to_der();
        codec::frame(version::CHANGE, &ap_rep, &krb_priv)
    }

    /// A framed KRB-ERROR (zero-length AP-REP) whose e-data is the result (RFC 3244 §2; MIT's
    /// chpw.c reads the result from it).
    fn error(&self, mut summary: Summary, krb: i32, res: u16, reason: &'static str) -> Exchange {
        tracing::info!(code = krb, result = res, reason, client = ?summary.client, "kpasswd refusal");
        let realm = self.backend.realm();
        let ctx = ErrorContext {
            sname: PrincipalName::new(name_type::NT_SRV_INST, &SERVICE),
            realm,
            crealm: None,
            cname: None,
        };
        let now = self.clock.now();
        let usec = ((now.0 % crate::clock::TICKS_PER_SECOND) / 10) as u32;
        let refusal = Refusal::new(krb, reason).with_e_data(codec::result_data(res, reason.as_bytes()));
        let err = crate::kdc::error::encode(&refusal, &ctx, now.unix_seconds(), usec);
        summary.result = res;
        summary.krb_error = Some(krb);
        Exchange {
            summary,
            reply: codec::frame(version::CHANGE, &[], &err),
        }
    }
}

fn open_priv(bytes: &[u8], key: &EncryptionKey) -> Option<Vec<u8>> {
    let priv_ = KrbPriv::from_der(bytes).ok()?;
    let etype = Etype::from_i32(priv_.enc_part.etype)?;
    if priv_.enc_part.etype != key.keytype {
        return None;
    }
    let plain = etype
        .decrypt(
            &key.keyvalue,
            key_usage::KRB_PRIV_ENC_PART,
            &priv_.enc_part.cipher,
        )
        .ok()?;
    Some(EncKrbPrivPart::from_der(&plain).ok()?.user_data)
}

/// The reply's sender address (RFC 4120 §5.7.1 s-address).
pub fn host_address(ip: IpAddr) -> HostAddress {
    match ip {
        IpAddr::V4(v4) => HostAddress {
            addr_type: addr_type::IPV4,
            address: v4.octets().to_vec(),
        },
        IpAddr::V6(v6) => HostAddress {
            addr_type: addr_type::IPV6,
            address: v6.octets().to_vec(),
        },
    }
}

#[cfg(test)]
mod tests;
