//! Secure dynamic update as a Windows DNS server with "Secure only" zones does it, sans I/O:
//! a message's bytes and the time in, the answer's bytes out. It takes the messages hickory's
//! catalog does not serve: UPDATE (RFC 2136), TKEY queries (RFC 2930, GSS-API mode of RFC 3645
//! §4.1) and the TSIG that signs them (RFC 8945 with GSS-TSIG, RFC 3645 §4.2).
//!
//! * TKEY: the client's GSS token (SPNEGO or bare Kerberos, ticket for `DNS/<dc>`) is accepted
//!   in one leg; the answer carries the AP-REP and is signed with the new context.
//! * UPDATE without TSIG: REFUSED (secure-only zones take no unauthenticated update).
//! * UPDATE with TSIG: the key name must be a live context (else NOTAUTH/BADKEY), the time
//!   within the fudge (NOTAUTH/BADTIME), the MAC the context's MIC over the RFC 8945 §4.3.2
//!   digest (NOTAUTH/BADSIG); then `update::apply` runs as the context's caller and the
//!   answer is signed (RFC 8945 §4.3.1).

use std::sync::Arc;

use hickory_server::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::NULL;
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::records::DcRecords;
use super::tkey::{self, Contexts, Established, GssFailure, Tkey};
use super::tsig::{self, Signed, Tsig};
use super::update;
use crate::auth::gss_krb5::{AcceptPolicy, ServiceKeys};
use crate::kdc::replay::{ReplayCache, ReplayKey, Verdict};
use crate::ldap::bind::identity::caller_from_ticket;

/// What to do with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed {
    /// Send these bytes back.
    Answer(Vec<u8>),
    /// Send nothing (a response, or bytes too broken to answer).
    Drop,
    /// An ordinary query: hickory's catalog answers it.
    Query,
}

/// One domain's acceptor inputs: the DC account's keys (SPN `DNS/<dc>`) and the replay cache
/// its other services share.
pub struct DomainKeys {
    pub keys: Arc<dyn ServiceKeys + Send + Sync>,
    pub replay: Arc<ReplayCache>,
}

/// The secure-update service of the forest's DNS server.
pub struct SecureUpdates {
    records: Arc<DcRecords>,
    domains: Vec<DomainKeys>,
    max_skew: i64,
    contexts: Contexts,
}

/// Tries each domain's keys: a ticket names its realm, which one domain's keys answer for.
struct AnyDomain<'a>(&'a [DomainKeys]);

impl ServiceKeys for AnyDomain<'_> {
    fn key(
        &self,
        sname: &crate::kdc::messages::PrincipalName,
        realm: &str,
        etype: i32,
        kvno: Option<u32>,
    ) -> Option<Vec<u8>> {
        self.0.iter().find_map(|d| d.keys.key(sname, realm, etype, kvno))
    }
}

/// The header of `raw`: (QR, opcode).
fn peek(raw: &[u8]) -> Option<(bool, u8)> {
    let b = *raw.get(2)?;
    Some((b & 0x80 != 0, (b >> 3) & 0x0f))
}

const OPCODE_UPDATE: u8 = 5;

impl SecureUpdates {
    pub fn new(records: Arc<DcRecords>, domains: Vec<DomainKeys>, max_skew: i64) -> SecureUpdates {
        SecureUpdates {
            records,
            domains,
            max_skew,
            contexts: Contexts::default(),
        }
    }

    /// The answer to `raw`, received at `now` (Unix seconds).
    pub fn handle(&self, raw: &[u8], now: i64) -> Routed {
        let Some((is_response, opcode)) = peek(raw) else {
            return Routed::Drop;
        };
        if is_response {
            return Routed::Drop;
        }
        let signed = match tsig::split(raw) {
            Ok(s) => s,
            Err(_) => return form_err(raw),
        };
        let is_tkey = opcode == 0 && question_type(raw) == Some(tkey::TYPE_TKEY);
        if opcode != OPCODE_UPDATE && !is_tkey {
            return Routed::Query;
        }
        let Ok(msg) = Message::from_vec(raw) else {
            return form_err(raw);
        };
        if is_tkey {
            return self.tkey(&msg, now);
        }
        match signed {
            // Secure-only zones refuse an unsigned update (MS-DNSP 2.2.6.1.1 "Secure only").
            None => Routed::Answer(encode(reply(&msg, ResponseCode::Refused))),
            Some(signed) => self.signed_update(&msg, &signed, now),
        }
    }

    /// A TKEY query (RFC 2930 §4; RFC 3645 §4.1.2): the TKEY RR in the additional section
    /// (or, from Windows 2000-era clients, the answer section).
    fn tkey(&self, msg: &Message, now: i64) -> Routed {
        let found = msg
            .additionals()
            .iter()
            .chain(msg.answers())
            .find(|r| u16::from(r.record_type()) == tkey::TYPE_TKEY);
        let Some((key_name, req)) = found.and_then(|r| match r.data() {
            RData::Unknown { rdata, .. } => {
                Tkey::decode(rdata.anything()).ok().map(|t| (r.name().clone(), t))
            }
            _ => None,
        }) else {
            return Routed::Answer(encode(reply(msg, ResponseCode::FormErr)));
        };
        let mut answer = Tkey {
            algorithm: req.algorithm.clone(),
            inception: req.inception,
            expiration: req.expiration,
            mode: req.mode,
            error: tkey::error::NOERROR,
            key: Vec::new(),
            other: Vec::new(),
        };
        let gss_tsig = Name::from_ascii(tsig::GSS_TSIG).ok();
        if gss_tsig.as_ref() != Some(&req.algorithm) {
            answer.error = tkey::error::BADALG;
        } else if req.mode != tkey::mode::GSSAPI {
            answer.error = tkey::error::BADMODE;
        }
        if answer.error != tkey::error::NOERROR {
            return Routed::Answer(encode(tkey_reply(msg, &key_name, &answer)));
        }
        let policy = AcceptPolicy {
            now,
            max_skew: self.max_skew,
            ..AcceptPolicy::default()
        };
        let keys = AnyDomain(&self.domains);
        // The replay cache of the DC account whose key opened the ticket (its realm's).
        let dir = self.records.dir();
        let fresh = |k: &ReplayKey| {
            let realm = k.server.rsplit('@').next().unwrap_or_default();
            dir.forest
                .domains
                .iter()
                .position(|d| d.realm.eq_ignore_ascii_case(realm))
                .and_then(|i| self.domains.get(i))
                .is_some_and(|d| d.replay.check(k, None, now) == Verdict::Fresh)
        };
        match tkey::accept(&req.key, &keys, &policy, &fresh) {
            Ok((output, mut ctx, accepted)) => {
                let caller = match caller_from_ticket(self.records.dir(), &accepted.ticket) {
                    Ok(c) => c,
                    Err(_) => return self.tkey_failed(msg, &key_name, answer, GssFailure::Pac),
                };
                let principal = format!("{}@{}", accepted.cname.joined(), accepted.crealm);
                tracing::info!(%principal, key = %key_name, "GSS-TSIG context established");
                answer.key = output;
                answer.inception = u32::try_from(now).unwrap_or(0);
                answer.expiration = u32::try_from(accepted.ticket.endtime).unwrap_or(u32::MAX);
                let unsigned = encode(tkey_reply(msg, &key_name, &answer));
                // RFC 3645 §4.1.3: the final TKEY answer is signed with the new context.
                let signed = sign(
                    unsigned,
                    None,
                    &key_name,
                    msg.id(),
                    now,
                    tsig::error::NOERROR,
                    &mut |d| ctx.get_mic(d).unwrap_or_default(),
                );
                self.contexts.insert(
                    &key_name,
                    Established {
                        ctx,
                        caller,
                        principal,
                        expires: accepted.ticket.endtime,
                    },
                    now,
                );
                Routed::Answer(signed)
            }
            Err(f) => self.tkey_failed(msg, &key_name, answer, f),
        }
    }

    fn tkey_failed(&self, msg: &Message, key_name: &Name, mut answer: Tkey, f: GssFailure) -> Routed {
        tracing::info!(failure = ?f, key = %key_name, "GSS-TSIG negotiation refused");
        answer.error = tkey::error::BADKEY;
        Routed::Answer(encode(tkey_reply(msg, key_name, &answer)))
    }

    /// A TSIG-signed UPDATE (RFC 8945 §5.2 checks, in its order).
    fn signed_update(&self, msg: &Message, signed: &Signed<'_>, now: i64) -> Routed {
        let t = &signed.tsig;
        let gss_tsig = Name::from_ascii(tsig::GSS_TSIG).ok();
        let unsigned_error = |rc: ResponseCode, error: u16| {
            // §5.3.2: BADKEY and BADSIG answers carry a TSIG with an empty MAC.
            let reply = encode(reply(msg, rc));
            Routed::Answer(tsig::append(
                reply,
                &Tsig {
                    key_name: t.key_name.clone(),
                    algorithm: t.algorithm.clone(),
                    time_signed: u64::try_from(now).unwrap_or(0),
                    fudge: tsig::FUDGE,
                    mac: Vec::new(),
                    original_id: msg.id(),
                    error,
                    other: Vec::new(),
                },
            ))
        };
        if gss_tsig.as_ref() != Some(&t.algorithm) {
            return unsigned_error(ResponseCode::NotAuth, tsig::error::BADKEY);
        }
        let digest = tsig::request_digest(signed);
        let verdict = self.contexts.with(&t.key_name, now, |est| {
            // The MIC's own sequence number is not enforced: a UDP retransmission carries the
            // same one, and TSIG's time check bounds replays (RFC 8945 §5.2.3).
            if est.ctx.verify_mic(&digest, &t.mac, false).is_err() {
                return Err(tsig::error::BADSIG);
            }
            if !tsig::time_ok(t.time_signed, t.fudge, now) {
                return Err(tsig::error::BADTIME);
            }
            Ok(est.caller.clone())
        });
        let caller = match verdict {
            None => return unsigned_error(ResponseCode::NotAuth, tsig::error::BADKEY),
            Some(Err(tsig::error::BADSIG)) => {
                return unsigned_error(ResponseCode::NotAuth, tsig::error::BADSIG)
            }
            Some(Err(error)) => {
                // §5.2.3: BADTIME is signed, Other Data holds the server's time.
                let reply = encode(reply(msg, ResponseCode::NotAuth));
                return Routed::Answer(self.sign_with(&t.key_name, reply, &t.mac, msg.id(), now, error));
            }
            Some(Ok(caller)) => caller,
        };
        let rc = update::apply(self.records.dir(), &self.records, &caller, msg);
        tracing::info!(caller = %caller.dn, rcode = %rc, "DNS update");
        let reply = encode(reply(msg, rc));
        Routed::Answer(self.sign_with(&t.key_name, reply, &t.mac, msg.id(), now, tsig::error::NOERROR))
    }

    /// `reply` signed with the context of `key_name` (unsigned if it expired meanwhile).
    fn sign_with(
        &self,
        key_name: &Name,
        reply: Vec<u8>,
        request_mac: &[u8],
        id: u16,
        now: i64,
        error: u16,
    ) -> Vec<u8> {
        let unsigned = reply.clone();
        self.contexts
            .with(key_name, now, |est| {
                sign(reply, Some(request_mac), key_name, id, now, error, &mut |d| {
                    est.ctx.get_mic(d).unwrap_or_default()
                })
            })
            .unwrap_or(unsigned)
    }

    /// How many GSS-TSIG contexts are live (for tests and diagnostics).
    pub fn contexts(&self) -> usize {
        self.contexts.len()
    }
}

/// The question's type, read from the bytes (RFC 1035 §4.1.2).
fn question_type(raw: &[u8]) -> Option<u16> {
    if u16::from_be_bytes([*raw.get(4)?, *raw.get(5)?]) == 0 {
        return None;
    }
    let mut pos = 12;
    loop {
        let l = *raw.get(pos)?;
        if l == 0 {
            pos += 1;
            break;
        }
        if l & 0xc0 != 0 {
            return None;
        }
        pos += 1 + usize::from(l);
    }
    Some(u16::from_be_bytes([*raw.get(pos)?, *raw.get(pos + 1)?]))
}

/// FORMERR for a message whose header can be read (RFC 1035 §4.1.1), nothing otherwise.
fn form_err(raw: &[u8]) -> Routed {
    if raw.len() < 12 {
        return Routed::Drop;
    }
    let mut m = Message::new();
    m.set_id(u16::from_be_bytes([raw[0], raw[1]]))
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::from_u8((raw[2] >> 3) & 0x0f))
        .set_response_code(ResponseCode::FormErr);
    Routed::Answer(encode(m))
}

/// The response skeleton: the request's ID, opcode and question (an UPDATE's zone section).
fn reply(req: &Message, rc: ResponseCode) -> Message {
    let mut m = Message::new();
    m.set_id(req.id())
        .set_message_type(MessageType::Response)
        .set_op_code(req.op_code())
        .set_authoritative(req.op_code() == OpCode::Query)
        .set_response_code(rc);
    m.add_queries(req.queries().iter().cloned());
    m
}

/// A TKEY answer (RFC 2930 §4.1): the TKEY RR, owner the key name, class ANY, TTL 0.
fn tkey_reply(req: &Message, key_name: &Name, tkey: &Tkey) -> Message {
    let mut m = reply(req, ResponseCode::NoError);
    let mut rr = Record::from_rdata(
        key_name.clone(),
        0,
        RData::Unknown {
            code: RecordType::Unknown(tkey::TYPE_TKEY),
            rdata: NULL::with(tkey.encode()),
        },
    );
    rr.set_dns_class(DNSClass::ANY);
    m.add_answer(rr);
    m
}

fn encode(m: Message) -> Vec<u8> {
    m.to_vec().unwrap_or_default()
}

/// `unsigned` with a GSS-TSIG RR whose MAC `mic` computes over the RFC 8945 §4.3.1 digest.
fn sign(
    unsigned: Vec<u8>,
    request_mac: Option<&[u8]>,
    key_name: &Name,
    id: u16,
    now: i64,
    error: u16,
    mic: &mut dyn FnMut(&[u8]) -> Vec<u8>,
) -> Vec<u8> {
    let mut t = Tsig {
        key_name: key_name.clone(),
        algorithm: Name::from_ascii(tsig::GSS_TSIG).unwrap_or_else(|_| Name::root()),
        time_signed: u64::try_from(now).unwrap_or(0),
        fudge: tsig::FUDGE,
        mac: Vec::new(),
        original_id: id,
        error,
        other: if error == tsig::error::BADTIME {
            u64::try_from(now).unwrap_or(0).to_be_bytes()[2..].to_vec()
        } else {
            Vec::new()
        },
    };
    t.mac = mic(&tsig::response_digest(request_mac, &unsigned, &t));
    tsig::append(unsigned, &t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::ForestConfig;
    use crate::server::kdc::DirectoryKdcDb;
    use hickory_server::proto::op::Query;
    use hickory_server::proto::rr::rdata::A;

    fn service() -> SecureUpdates {
        let dir = crate::dsa::Directory::provision(&ForestConfig {
            seed: Some(3),
            ..ForestConfig::default()
        })
        .unwrap();
        let ports = vec![super::super::DcPorts {
            ldap: 389,
            kdc: 88,
            kpasswd: None,
        }];
        let records = Arc::new(DcRecords::new(
            dir.clone(),
            "127.0.0.7".parse().unwrap(),
            ports,
            3268,
        ));
        SecureUpdates::new(
            records,
            vec![DomainKeys {
                keys: Arc::new(DirectoryKdcDb::new(dir, 0)),
                replay: Arc::new(ReplayCache::new(300, 16)),
            }],
            300,
        )
    }

    fn update_message() -> Message {
        let mut m = Message::new();
        m.set_id(0x4242).set_op_code(OpCode::Update);
        m.add_query(Query::query(
            Name::from_ascii("corp.example.test.").unwrap(),
            RecordType::SOA,
        ));
        m.add_name_server(Record::from_rdata(
            Name::from_ascii("host1.corp.example.test.").unwrap(),
            600,
            RData::A(A([127, 0, 0, 26].into())),
        ));
        m
    }

    fn answer(r: Routed) -> Vec<u8> {
        match r {
            Routed::Answer(b) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unsigned_update_is_refused_and_queries_go_to_the_catalog() {
        let s = service();
        let raw = update_message().to_vec().unwrap();
        let reply = Message::from_vec(&answer(s.handle(&raw, 1_000))).unwrap();
        assert_eq!(reply.response_code(), ResponseCode::Refused);
        assert_eq!(reply.id(), 0x4242);
        assert_eq!(reply.op_code(), OpCode::Update);
        let mut q = Message::new();
        q.add_query(Query::query(
            Name::from_ascii("dc1.corp.example.test.").unwrap(),
            RecordType::A,
        ));
        assert_eq!(s.handle(&q.to_vec().unwrap(), 1_000), Routed::Query);
        // A response is never answered; a stub header is dropped.
        let mut r = update_message();
        r.set_message_type(MessageType::Response);
        assert_eq!(s.handle(&r.to_vec().unwrap(), 1_000), Routed::Drop);
        assert_eq!(s.handle(&[1, 2], 1_000), Routed::Drop);
    }

    #[test]
    fn a_tsig_with_an_unknown_key_is_notauth_badkey_with_an_empty_mac() {
        let s = service();
        let raw = tsig::append(
            update_message().to_vec().unwrap(),
            &Tsig {
                key_name: Name::from_ascii("1.sig-dc1.corp.example.test.").unwrap(),
                algorithm: Name::from_ascii(tsig::GSS_TSIG).unwrap(),
                time_signed: 1_000,
                fudge: 300,
                mac: vec![0x04, 0x04, 0, 0],
                original_id: 0x4242,
                error: 0,
                other: vec![],
            },
        );
        let bytes = answer(s.handle(&raw, 1_000));
        let reply = Message::from_vec(&bytes).unwrap();
        assert_eq!(reply.response_code(), ResponseCode::NotAuth);
        let t = tsig::split(&bytes).unwrap().expect("a TSIG RR").tsig;
        assert_eq!(t.error, tsig::error::BADKEY);
        assert!(t.mac.is_empty());
    }

    fn tkey_query(algorithm: &str, token: Vec<u8>) -> Vec<u8> {
        let key_name = Name::from_ascii("7.sig-dc1.corp.example.test.").unwrap();
        let mut m = Message::new();
        m.set_id(9);
        m.add_query(Query::query(
            key_name.clone(),
            RecordType::Unknown(tkey::TYPE_TKEY),
        ));
        let t = Tkey {
            algorithm: Name::from_ascii(algorithm).unwrap(),
            inception: 1_000,
            expiration: 4_600,
            mode: tkey::mode::GSSAPI,
            error: 0,
            key: token,
            other: vec![],
        };
        let mut rr = Record::from_rdata(
            key_name,
            0,
            RData::Unknown {
                code: RecordType::Unknown(tkey::TYPE_TKEY),
                rdata: NULL::with(t.encode()),
            },
        );
        rr.set_dns_class(DNSClass::ANY);
        m.add_additional(rr);
        m.to_vec().unwrap()
    }

    fn tkey_error(bytes: &[u8]) -> u16 {
        let reply = Message::from_vec(bytes).unwrap();
        let rr = reply.answers().first().expect("TKEY answer");
        let RData::Unknown { rdata, .. } = rr.data() else {
            panic!()
        };
        Tkey::decode(rdata.anything()).unwrap().error
    }

    #[test]
    fn tkey_refuses_other_algorithms_and_tokens_that_are_not_kerberos() {
        let s = service();
        let bad_alg = answer(s.handle(&tkey_query("hmac-sha256.", vec![0x60, 0]), 1_000));
        assert_eq!(tkey_error(&bad_alg), tkey::error::BADALG);
        let garbage = answer(s.handle(&tkey_query(tsig::GSS_TSIG, vec![0x60, 3, 6, 1, 0]), 1_000));
        assert_eq!(tkey_error(&garbage), tkey::error::BADKEY);
        assert_eq!(s.contexts(), 0);
    }
}
