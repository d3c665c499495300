//! One LDAP connection's state machine (sans-I/O, the kanidm/lldap pattern): it takes decoded
//! requests and returns typed responses plus what the transport must do next; the transport
//! encodes them (`server::ldap`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use ldap3_proto::proto::{LdapModifyType, LdapSearchScope};

use super::bind::{Binder, Layer};
use super::codec::{BindAuth, Control, LdapRequest, LdapResponse, LdapResult, RequestOp, ResponseOp};
use super::controls::{RequestControl, ResponseControl, SortKey};
use super::rootdse::{OID_STARTTLS, OID_WHOAMI};
use crate::auth::gss_krb5::ServiceKeys;
use crate::dsa::cursor::SearchCursor;
use crate::dsa::error::code;
use crate::dsa::request::{ModOp, Modification, Scope, SearchEntry, SearchRequest, View};
use crate::dsa::{Caller, Directory, DsError};
use crate::kdc::replay::ReplayCache;

/// AD's MaxPageSize default: a search without paging returns at most this many entries.
pub const MAX_PAGE_SIZE: usize = 1000;

/// What a connection serves: which DC (or the GC) and the URLs of every domain's DC, for
/// referrals.
#[derive(Clone)]
pub struct ServerContext {
    pub dir: Arc<Directory>,
    pub domain: usize,
    pub global_catalog: bool,
    /// `ldap://host:port` of each domain's DC, by domain index.
    pub domain_urls: Vec<String>,
    /// The DC's own Kerberos keys (every SPN of its account), for GSSAPI and GSS-SPNEGO binds.
    pub service_keys: Arc<dyn ServiceKeys + Send + Sync>,
    /// "LDAP server signing requirements" and "LDAP server channel binding token requirements"
    /// as they stand (shared by every listener and the control API).
    pub policies: Arc<crate::ldap::bind::policy::LivePolicies>,
    /// The DC certificate's channel binding.
    pub channel_binding: crate::ldap::bind::channel_binding::ChannelBinding,
    /// Authenticators of AP-REQs already accepted by this DC's LDAP service (RFC 4120 §3.2.3).
    pub replay: Arc<ReplayCache>,
}

impl ServerContext {
    /// The address this DC listens on, from its own LDAP URL (`server` writes it from the
    /// bound socket); 127.0.0.1 if it cannot be read. The LDAP ping's DcSockAddr carries it.
    pub fn dc_ip(&self) -> std::net::IpAddr {
        self.domain_urls
            .get(self.domain)
            .and_then(|u| u.strip_prefix("ldap://"))
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |a| a.ip())
    }

    /// The context of `domain`'s DC with `adsim serve`'s defaults: not a GC, no other domains'
    /// URLs, no signing requirement, channel binding when supported (no TLS binding known yet),
    /// AD's 5-minute skew and a replay cache of its own. Callers change fields as needed.
    pub fn new(
        dir: Arc<Directory>,
        domain: usize,
        service_keys: Arc<dyn ServiceKeys + Send + Sync>,
    ) -> ServerContext {
        ServerContext {
            dir,
            domain,
            global_catalog: false,
            domain_urls: Vec::new(),
            service_keys,
            policies: Default::default(),
            channel_binding: Default::default(),
            replay: Arc::new(ReplayCache::new(300, crate::kdc::replay::DEFAULT_CAPACITY)),
        }
    }
}

/// What the transport does after sending the responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Continue,
    /// Start TLS on this connection now (RFC 4511 §4.14.2).
    StartTls,
    Close,
}

/// The answer to one request: the responses in the order they are sent, then what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub responses: Vec<LdapResponse>,
    pub after: After,
}

impl Outcome {
    fn respond(responses: Vec<LdapResponse>) -> Outcome {
        Outcome {
            responses,
            after: After::Continue,
        }
    }

    /// No response (unbind, abandon): the transport goes on or closes.
    fn silent(after: After) -> Outcome {
        Outcome {
            responses: Vec::new(),
            after,
        }
    }
}

/// AD's LDAP policies on the paged searches one connection keeps between pages
/// (MS-ADTS 3.1.1.3.4.6; defaults and meaning from KB 315071, "How to view and set LDAP policy
/// in Active Directory by using Ntdsutil.exe"). When either is exceeded the oldest kept result
/// set is discarded, as AD does for MaxResultSetSize; its cookie is then refused like any
/// unknown cookie. The newest result set is always kept, so one large paged search still works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagedLimits {
    /// MaxResultSetsPerConn: result sets kept at once (AD default 10).
    pub max_sets: usize,
    /// MaxResultSetSize: bytes of pending results kept at once (AD default 262,144).
    pub max_bytes: usize,
}

impl Default for PagedLimits {
    fn default() -> Self {
        PagedLimits {
            max_sets: 10,
            max_bytes: 262_144,
        }
    }
}

/// Where a search's results come from: an open cursor (AD keeps a position, not the results,
/// between pages), after the entries already produced and not yet sent — at most one for a
/// streamed search (the entry that told a page it was not the last), the whole sorted set when
/// the sort control is used (sorting needs every entry first, as AD's sort does in its temp
/// table).
struct Results {
    cursor: Option<SearchCursor>,
    ready: VecDeque<SearchEntry>,
}

impl Results {
    /// Up to `max` more entries: the ready ones first, then one step of the cursor (which
    /// visits a bounded number of candidates, so it may bring none yet).
    fn next(&mut self, dir: &Directory, max: usize) -> Result<Vec<SearchEntry>, DsError> {
        if !self.ready.is_empty() {
            let n = max.min(self.ready.len());
            return Ok(self.ready.drain(..n).collect());
        }
        match self.cursor.as_mut() {
            Some(cur) => dir.search_step(cur, max),
            None => Ok(Vec::new()),
        }
    }

    fn exhausted(&self) -> bool {
        self.ready.is_empty() && self.cursor.as_ref().is_none_or(SearchCursor::is_done)
    }

    fn size_limit_exceeded(&self) -> bool {
        self.cursor.as_ref().is_some_and(|c| c.size_limit_exceeded)
    }

    /// What is kept, in bytes: the entries not yet sent and the cursor's position.
    fn weight(&self) -> usize {
        let entry = |e: &SearchEntry| {
            e.dn.len()
                + e.attrs
                    .iter()
                    .map(|(n, vs)| n.len() + vs.iter().map(Vec::len).sum::<usize>())
                    .sum::<usize>()
        };
        self.ready.iter().map(entry).sum::<usize>() + self.cursor.as_ref().map_or(0, SearchCursor::weight)
    }
}

/// A paged search between two pages, kept under the cookie handed to the client.
struct PagedState {
    results: Results,
    references: Vec<String>,
    /// The message that was answered with this state's cookie (an Abandon of it frees it).
    msgid: i32,
    /// What the state weighs, for MaxResultSetSize.
    bytes: usize,
}

/// The search a connection is answering, produced a chunk at a time
/// ([`Session::continue_search`]) so that a large result never holds a worker, nor its
/// whole encoding a buffer.
struct Running {
    msgid: i32,
    results: Results,
    /// Sort keys while the entries are still being gathered (sorting needs them all).
    gathering: Option<Vec<SortKey>>,
    /// A paged search: the entries this page still owes.
    page: Option<usize>,
    references: Vec<String>,
    /// Response controls of the SearchResultDone besides the paged one (the sort result).
    extra: Vec<Control>,
}

pub struct Session {
    caller: Caller,
    tls: bool,
    /// Non-simple binds in progress (Sicily, GSSAPI, GSS-SPNEGO).
    binder: Binder,
    /// The layer the last bind negotiated, for the transport to switch on after the response.
    pending_layer: Option<Layer>,
    /// A SASL security layer protects the connection (StartTLS is then refused).
    sasl_layer: bool,
    /// Pending paged results by cookie number; the lowest is the oldest.
    paged: BTreeMap<u64, PagedState>,
    /// The search being answered, if its results are not all out yet.
    running: Option<Running>,
    paged_limits: PagedLimits,
    next_cookie: u64,
}

impl Session {
    pub fn new(tls: bool) -> Session {
        Session::with_paged_limits(tls, PagedLimits::default())
    }

    /// A session that keeps paged results within `limits`.
    pub fn with_paged_limits(tls: bool, limits: PagedLimits) -> Session {
        Session {
            caller: Caller::anonymous().with_encryption(tls),
            tls,
            binder: Binder::default(),
            pending_layer: None,
            sasl_layer: false,
            paged: BTreeMap::new(),
            running: None,
            paged_limits: limits,
            next_cookie: 1,
        }
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// How many paged result sets, and how many bytes of them, the connection keeps.
    pub fn paged_results_held(&self) -> (usize, usize) {
        (self.paged.len(), self.paged.values().map(|p| p.bytes).sum())
    }

    /// The security layer a bind has just negotiated: the transport applies it to every PDU
    /// after the bind response (RFC 4752 §3.1, RFC 4422 §3.7).
    pub fn take_security_layer(&mut self) -> Option<Layer> {
        self.pending_layer.take()
    }

    /// Called by the transport once the TLS handshake of StartTLS completes.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.caller.encrypted = true;
    }

    /// Answers a request whole: a search's results are produced to the end.
    pub fn handle(&mut self, ctx: &ServerContext, req: LdapRequest) -> Outcome {
        let mut outcome = self.begin(ctx, req);
        while let Some(more) = self.continue_search(ctx) {
            outcome.responses.extend(more);
        }
        outcome
    }

    /// Whether a search begun by [`Session::begin`] still has responses to give.
    pub fn searching(&self) -> bool {
        self.running.is_some()
    }

    /// The next responses of the search being answered — a chunk of bounded work (see
    /// [`crate::dsa::cursor::CHUNK`]), possibly none yet — or `None` when it has ended. The
    /// transport sends each chunk before asking for the next, and yields in between.
    pub fn continue_search(&mut self, ctx: &ServerContext) -> Option<Vec<LdapResponse>> {
        let mut job = self.running.take()?;
        let responses = self.pump(ctx, &mut job);
        if job.msgid != 0 {
            self.running = Some(job);
        }
        Some(responses)
    }

    /// Answers a request; a search gives its first responses only (maybe none) and goes on with
    /// [`Session::continue_search`] while [`Session::searching`].
    pub fn begin(&mut self, ctx: &ServerContext, req: LdapRequest) -> Outcome {
        let msgid = req.msgid;
        let one = |op: ResponseOp| Outcome::respond(vec![LdapResponse::new(msgid, op)]);
        // RFC 4511 §4.1.11: an unrecognised critical control fails the operation.
        if let Some(bad) = req
            .controls
            .iter()
            .find(|c| c.critical && matches!(RequestControl::decode(c), Ok(None)))
        {
            let r = LdapResult::new(
                code::UNAVAILABLE_CRITICAL_EXTENSION,
                format!(
                "00000057: LdapErr: DSID-0C090D8A, comment: Error processing control, data 0, v4563\u{0}{}",
                ""
            ),
            );
            tracing::debug!(oid = %bad.oid, "unsupported critical control");
            return match result_kind(&req.op) {
                Some(kind) => one(kind(r)),
                None => Outcome::silent(After::Continue),
            };
        }
        // The SD flags control applies to this request only (MS-ADTS 3.1.1.3.4.1.11).
        self.caller.sd_flags = req.controls.iter().find_map(|c| match RequestControl::decode(c) {
            Ok(Some(RequestControl::SdFlags { flags })) => Some(flags),
            _ => None,
        });
        match req.op {
            RequestOp::Bind(b) => one(self.bind(ctx, b.version, &b.name, b.auth)),
            RequestOp::Unbind => Outcome::silent(After::Close),
            RequestOp::Abandon(id) => {
                // RFC 4511 §4.11: abandoning a paged search frees what it kept.
                self.paged.retain(|_, p| p.msgid != id);
                Outcome::silent(After::Continue)
            }
            RequestOp::Search(s) => Outcome::respond(self.search(ctx, msgid, s, &req.controls)),
            RequestOp::Add(a) => one(ResponseOp::AddResponse(self.write_guard(ctx).map_or_else(
                err_result,
                |_| {
                    let attrs = a.attributes.into_iter().map(|pa| (pa.atype, pa.vals)).collect();
                    to_result(ctx.dir.add(&self.caller, &a.dn, attrs))
                },
            ))),
            RequestOp::Modify(m) => one(ResponseOp::ModifyResponse(self.write_guard(ctx).map_or_else(
                err_result,
                |_| {
                    let mods = m
                        .changes
                        .into_iter()
                        .map(|c| Modification {
                            op: match c.operation {
                                LdapModifyType::Add => ModOp::Add,
                                LdapModifyType::Delete => ModOp::Delete,
                                LdapModifyType::Replace => ModOp::Replace,
                                LdapModifyType::Increment => ModOp::Increment,
                            },
                            attr: c.modification.atype,
                            values: c.modification.vals,
                        })
                        .collect();
                    to_result(ctx.dir.modify(&self.caller, &m.dn, mods))
                },
            ))),
            RequestOp::Delete(dn) => one(ResponseOp::DelResponse(
                self.write_guard(ctx)
                    .map_or_else(err_result, |_| to_result(ctx.dir.delete(&self.caller, &dn))),
            )),
            RequestOp::ModifyDn(m) => one(ResponseOp::ModDnResponse(self.write_guard(ctx).map_or_else(
                err_result,
                |_| {
                    to_result(ctx.dir.modify_dn(
                        &self.caller,
                        &m.dn,
                        &m.newrdn,
                        m.deleteoldrdn,
                        m.new_superior.as_deref(),
                    ))
                },
            ))),
            RequestOp::Compare { dn, attr, value } => one(ResponseOp::CompareResponse(
                match ctx.dir.compare(&self.caller, &dn, &attr, &value) {
                    Ok(true) => LdapResult::new(code::COMPARE_TRUE, ""),
                    Ok(false) => LdapResult::new(code::COMPARE_FALSE, ""),
                    Err(e) => err_result(e),
                },
            )),
            RequestOp::Extended { oid, .. } => self.extended(ctx, msgid, &oid),
        }
    }

    /// The GC port is read-only (MS-ADTS 3.1.1.1.8).
    fn write_guard(&self, ctx: &ServerContext) -> Result<(), DsError> {
        if ctx.global_catalog {
            Err(DsError::unwilling(
                crate::dsa::error::win32::ERROR_DS_UNWILLING_TO_PERFORM,
            ))
        } else {
            Ok(())
        }
    }

    fn bind(&mut self, ctx: &ServerContext, version: i64, name: &str, auth: BindAuth) -> ResponseOp {
        // A new bind resets the connection to anonymous first (RFC 4513 §4).
        self.caller = Caller::anonymous().with_encryption(self.tls);
        let result = if !(2..=3).contains(&version) {
            LdapResult::new(code::PROTOCOL_ERROR, "unsupported LDAP version")
        } else {
            match auth {
                BindAuth::Simple(password) => {
                    let step = self.binder.simple(ctx, self.tls, name, &password);
                    if let Some(caller) = step.caller {
                        self.caller = caller;
                    }
                    step.result
                }
                auth => {
                    let step = self.binder.step(ctx, self.tls, auth);
                    if let Some(caller) = step.caller {
                        self.caller = caller;
                        self.sasl_layer = step.layer.is_some();
                        self.pending_layer = step.layer;
                    }
                    return ResponseOp::BindResponse {
                        result: step.result,
                        server_sasl_creds: step.creds,
                    };
                }
            }
        };
        ResponseOp::BindResponse {
            result,
            server_sasl_creds: None,
        }
    }

    fn extended(&mut self, ctx: &ServerContext, msgid: i32, oid: &str) -> Outcome {
        let respond =
            |result: LdapResult, name: Option<String>, value: Option<Vec<u8>>, after: After| Outcome {
                responses: vec![LdapResponse::new(
                    msgid,
                    ResponseOp::ExtendedResponse { result, name, value },
                )],
                after,
            };
        match oid {
            OID_STARTTLS if self.tls => respond(
                LdapResult::new(code::OPERATIONS_ERROR, "00000000: LdapErr: DSID-0C0911E8, comment: TLS is already active, data 0, v4563\u{0}"),
                Some(OID_STARTTLS.into()),
                None,
                After::Continue,
            ),
            // AD refuses StartTLS while a SASL layer signs or seals (docs/notes/client-interop.md §8).
            OID_STARTTLS if self.sasl_layer => respond(
                LdapResult::new(code::OPERATIONS_ERROR, "00000000: LdapErr: DSID-0C0911E8, comment: Cannot start TLS while a SASL security layer is active, data 0, v4563\u{0}"),
                Some(OID_STARTTLS.into()),
                None,
                After::Continue,
            ),
            OID_STARTTLS => respond(LdapResult::success(), Some(OID_STARTTLS.into()), None, After::StartTls),
            OID_WHOAMI => {
                let id = if self.caller.is_anonymous() { String::new() } else { ctx.dir.authz_id(&self.caller) };
                respond(LdapResult::success(), None, Some(id.into_bytes()), After::Continue)
            }
            _ => respond(
                LdapResult::new(code::PROTOCOL_ERROR, format!("0000203A: LdapErr: DSID-0C090C4B, comment: Unknown extended request OID, data 0, v4563\u{0}{}", "")),
                None,
                None,
                After::Continue,
            ),
        }
    }

    fn search(
        &mut self,
        ctx: &ServerContext,
        msgid: i32,
        s: super::codec::SearchRequest,
        controls: &[Control],
    ) -> Vec<LdapResponse> {
        let done = |r: LdapResult, ctrls: Vec<Control>| search_done(msgid, r, ctrls);
        let mut paged: Option<(i32, Vec<u8>)> = None;
        let mut sort: Option<Vec<SortKey>> = None;
        for c in controls {
            match RequestControl::decode(c) {
                Ok(Some(RequestControl::PagedResults { size, cookie })) => paged = Some((size, cookie)),
                Ok(Some(RequestControl::ServerSort(keys))) => sort = Some(keys),
                Ok(_) => {}
                Err(e) => return vec![done(LdapResult::new(code::PROTOCOL_ERROR, e.to_string()), vec![])],
            }
        }

        // The rootDSE is readable anonymously (RFC 4512 §5.1), the LDAP ping too (MS-ADTS
        // 6.3.3, the `Netlogon` attribute).
        if s.base.is_empty() && s.scope == LdapSearchScope::Base {
            let entry =
                super::cldap::root_dse_entry(&ctx.dir, ctx.domain, ctx.global_catalog, ctx.dc_ip(), &s);
            let mut out = Vec::new();
            if let Some(attrs) = entry {
                let matches = match &s.filter {
                    crate::model::filter::Filter::Present(a) => {
                        a.eq_ignore_ascii_case("objectClass")
                            || attrs.iter().any(|(n, _)| n.eq_ignore_ascii_case(a))
                    }
                    _ => true,
                };
                if matches {
                    out.push(LdapResponse::new(
                        msgid,
                        ResponseOp::SearchResultEntry {
                            dn: String::new(),
                            attrs,
                        },
                    ));
                }
            }
            out.push(done(LdapResult::success(), vec![]));
            return out;
        }

        // A follow-up page: serve from the saved results.
        if let Some((size, cookie)) = &paged {
            if !cookie.is_empty() {
                let held = <[u8; 8]>::try_from(cookie.as_slice())
                    .ok()
                    .and_then(|n| self.paged.remove(&u64::from_be_bytes(n)));
                // RFC 2696 §3: a size of zero with the cookie abandons the search (freed above).
                let Some(state) = held else {
                    return vec![done(LdapResult::new(code::UNWILLING_TO_PERFORM, "0000208D: LdapErr: DSID-0C090CF1, comment: Invalid paged results cookie, data 0, v4563\u{0}"), vec![])];
                };
                if *size == 0 {
                    return vec![done(
                        LdapResult::success(),
                        vec![ResponseControl::PagedResults {
                            size: 0,
                            cookie: vec![],
                        }
                        .to_control()],
                    )];
                }
                self.running = Some(Running {
                    msgid,
                    results: state.results,
                    gathering: None,
                    page: Some((*size as usize).min(MAX_PAGE_SIZE)),
                    references: state.references,
                    extra: Vec::new(),
                });
                return Vec::new();
            }
        }

        let scope = match s.scope {
            LdapSearchScope::Base => Scope::Base,
            LdapSearchScope::OneLevel => Scope::OneLevel,
            _ => Scope::Subtree,
        };
        let view = if ctx.global_catalog {
            View::GlobalCatalog
        } else {
            View::Dc { domain: ctx.domain }
        };
        let client_limit = if s.size_limit > 0 {
            s.size_limit as usize
        } else {
            0
        };
        let server_limit = if paged.is_some() { 0 } else { MAX_PAGE_SIZE };
        let limit = match (client_limit, server_limit) {
            (0, l) | (l, 0) => l,
            (a, b) => a.min(b),
        };
        let req = SearchRequest {
            base: s.base.clone(),
            scope,
            filter: s.filter,
            attrs: s.attrs,
            types_only: s.types_only,
            size_limit: limit,
            view,
        };
        let cursor = match ctx.dir.open_search(&self.caller, &req) {
            Ok(c) => c,
            Err(e) => return vec![done(self.with_referral_urls(ctx, err_result(e)), vec![])],
        };
        let references: Vec<String> = cursor
            .references
            .iter()
            .map(|nc| self.reference_url(ctx, nc))
            .collect();
        self.running = Some(Running {
            msgid,
            results: Results {
                cursor: Some(cursor),
                ready: VecDeque::new(),
            },
            gathering: sort,
            // MaxPageSize holds per page too (KB 315071: "if paging is used, this limit is
            // enforced per page").
            page: paged.map(|(size, _)| (size.max(1) as usize).min(MAX_PAGE_SIZE)),
            references,
            extra: Vec::new(),
        });
        Vec::new()
    }

    /// One chunk of the running search: gathers (sort), or sends entries, or, a page being
    /// full, looks for one more entry to know whether a cookie is due; then ends the search
    /// (its `msgid` set to 0) with the SearchResultDone.
    fn pump(&mut self, ctx: &ServerContext, job: &mut Running) -> Vec<LdapResponse> {
        let msgid = job.msgid;
        let failed = |job: &mut Running, e: DsError| {
            job.msgid = 0;
            vec![search_done(msgid, err_result(e), vec![])]
        };
        if let Some(keys) = &job.gathering {
            match job
                .results
                .cursor
                .as_mut()
                .map(|c| ctx.dir.search_step(c, usize::MAX))
            {
                Some(Ok(got)) => job.results.ready.extend(got),
                Some(Err(e)) => return failed(job, e),
                None => {}
            }
            if !job.results.cursor.as_ref().is_none_or(SearchCursor::is_done) {
                return Vec::new();
            }
            let mut all: Vec<SearchEntry> = job.results.ready.drain(..).collect();
            sort_entries(&mut all, keys);
            job.results.ready = all.into();
            job.gathering = None;
            job.extra.push(
                ResponseControl::SortResult {
                    result: 0,
                    attr: None,
                }
                .to_control(),
            );
        }
        let owed = job.page.unwrap_or(usize::MAX);
        // The last entries, when this step ends the search: they leave with the
        // SearchResultDone, in one chunk.
        let mut last = Vec::new();
        if owed > 0 && !job.results.exhausted() {
            let got = match job.results.next(&ctx.dir, owed) {
                Ok(got) => got,
                Err(e) => return failed(job, e),
            };
            if let Some(left) = job.page.as_mut() {
                *left -= got.len();
            }
            if !job.results.exhausted() {
                return result_responses(msgid, got, Vec::new());
            }
            last = got;
        }
        if job.page == Some(0) && job.results.ready.is_empty() && !job.results.exhausted() {
            // The page is full: one more entry, kept for the next page, says whether a cookie
            // is due (RFC 2696 §3: the last page has an empty cookie).
            match job.results.next(&ctx.dir, 1) {
                Ok(got) => job.results.ready.extend(got),
                Err(e) => return failed(job, e),
            }
            if job.results.ready.is_empty() && !job.results.exhausted() {
                return Vec::new();
            }
        }
        job.msgid = 0;
        let results = std::mem::replace(
            &mut job.results,
            Results {
                cursor: None,
                ready: VecDeque::new(),
            },
        );
        let mut ctrls = Vec::new();
        let mut v = Vec::new();
        let result = if job.page.is_none() && results.size_limit_exceeded() {
            LdapResult::new(code::SIZE_LIMIT_EXCEEDED, "")
        } else {
            LdapResult::success()
        };
        if job.page.is_some() {
            let cookie = if results.exhausted() {
                v = result_responses(msgid, last, std::mem::take(&mut job.references));
                Vec::new()
            } else {
                debug_assert!(last.is_empty(), "entries held back from a page");
                let n = self.next_cookie;
                self.next_cookie += 1;
                let mut state = PagedState {
                    results,
                    references: std::mem::take(&mut job.references),
                    msgid,
                    bytes: 0,
                };
                state.bytes =
                    state.results.weight() + state.references.iter().map(String::len).sum::<usize>();
                self.keep(n, state);
                n.to_be_bytes().to_vec()
            };
            ctrls.push(ResponseControl::PagedResults { size: 0, cookie }.to_control());
        } else {
            v = result_responses(msgid, last, std::mem::take(&mut job.references));
        }
        ctrls.append(&mut job.extra);
        v.push(search_done(msgid, result, ctrls));
        v
    }

    /// Keeps a result set under cookie number `n`, then discards the oldest sets while
    /// MaxResultSetsPerConn or MaxResultSetSize is exceeded (never the one just kept).
    fn keep(&mut self, n: u64, state: PagedState) {
        self.paged.insert(n, state);
        let limits = self.paged_limits;
        loop {
            let (sets, bytes) = self.paged_results_held();
            if sets <= 1 || (sets <= limits.max_sets && bytes <= limits.max_bytes) {
                break;
            }
            if let Some((old, _)) = self.paged.pop_first() {
                tracing::debug!(cookie = old, "paged result set discarded (LDAP policy limit)");
            }
        }
    }

    fn reference_url(&self, ctx: &ServerContext, nc: &crate::model::Dn) -> String {
        let idx = ctx.dir.forest.domain_of(nc).map_or(ctx.domain, |d| d.index);
        format!("{}/{}", ctx.domain_urls.get(idx).cloned().unwrap_or_default(), nc)
    }

    /// Rewrites `ldap://<dns name>/…` referrals from the directory to the listening URLs.
    fn with_referral_urls(&self, ctx: &ServerContext, mut r: LdapResult) -> LdapResult {
        for url in r.referrals.iter_mut() {
            for d in &ctx.dir.forest.domains {
                let prefix = format!("ldap://{}/", d.dns_name);
                if let Some(rest) = url.strip_prefix(&prefix) {
                    if let Some(u) = ctx.domain_urls.get(d.index) {
                        *url = format!("{u}/{rest}");
                    }
                }
            }
        }
        r
    }
}

/// The SearchResultDone that ends a search, with its response controls.
fn search_done(msgid: i32, result: LdapResult, controls: Vec<Control>) -> LdapResponse {
    LdapResponse::new(msgid, ResponseOp::SearchResultDone(result)).with_controls(controls)
}

/// Search result entries, then continuation references, as responses.
fn result_responses(msgid: i32, entries: Vec<SearchEntry>, references: Vec<String>) -> Vec<LdapResponse> {
    let entries = entries.into_iter().map(|e| {
        LdapResponse::new(
            msgid,
            ResponseOp::SearchResultEntry {
                dn: e.dn,
                attrs: e.attrs,
            },
        )
    });
    let refs = references
        .into_iter()
        .map(|r| LdapResponse::new(msgid, ResponseOp::SearchResultReference(vec![r])));
    entries.chain(refs).collect()
}

fn sort_entries(entries: &mut [SearchEntry], keys: &[SortKey]) {
    let value = |e: &SearchEntry, attr: &str| -> Option<String> {
        e.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(attr))
            .and_then(|(_, v)| v.first())
            .map(|v| String::from_utf8_lossy(v).to_lowercase())
    };
    entries.sort_by(|a, b| {
        for k in keys {
            let o = value(a, &k.attr).cmp(&value(b, &k.attr));
            let o = if k.reverse { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
}

fn to_result(r: Result<(), DsError>) -> LdapResult {
    match r {
        Ok(()) => LdapResult::success(),
        Err(e) => err_result(e),
    }
}

pub fn err_result(e: DsError) -> LdapResult {
    let mut r = LdapResult::new(e.code, e.text).with_matched_dn(e.matched_dn.into_bytes());
    r.referrals = e.referrals;
    r
}

/// The response kind that answers a request (None for requests that get no response).
fn result_kind(op: &RequestOp) -> Option<fn(LdapResult) -> ResponseOp> {
    Some(match op {
        RequestOp::Bind(_) => |r| ResponseOp::BindResponse {
            result: r,
            server_sasl_creds: None,
        },
        RequestOp::Search(_) => ResponseOp::SearchResultDone,
        RequestOp::Modify(_) => ResponseOp::ModifyResponse,
        RequestOp::Add(_) => ResponseOp::AddResponse,
        RequestOp::Delete(_) => ResponseOp::DelResponse,
        RequestOp::ModifyDn(_) => ResponseOp::ModDnResponse,
        RequestOp::Compare { .. } => ResponseOp::CompareResponse,
        RequestOp::Extended { .. } => |r| ResponseOp::ExtendedResponse {
            result: r,
            name: None,
            value: None,
        },
        RequestOp::Unbind | RequestOp::Abandon(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::NtTime;
    use crate::dsa::forest::DEFAULT_ADMIN_PASSWORD;
    use crate::dsa::ForestConfig;
    use crate::ldap::codec::BindRequest;
    use crate::model::filter::Filter;

    fn context() -> ServerContext {
        let dir = Directory::provision(&ForestConfig {
            seed: Some(7),
            start_time: NtTime::parse_rfc3339("2026-01-05T10:00:00Z"),
            ..ForestConfig::default()
        })
        .unwrap();
        let keys = Arc::new(crate::server::kdc::DirectoryKdcDb::new(dir.clone(), 0));
        ServerContext {
            domain_urls: vec!["ldap://127.0.0.1:389".into()],
            ..ServerContext::new(dir, 0, keys)
        }
    }

    fn request(msgid: i32, op: RequestOp, controls: Vec<Control>) -> LdapRequest {
        LdapRequest { msgid, op, controls }
    }

    fn search(base: &str, scope: LdapSearchScope, filter: &str) -> RequestOp {
        RequestOp::Search(super::super::codec::SearchRequest {
            base: base.into(),
            scope,
            deref: ldap3_proto::proto::LdapDerefAliases::Never,
            size_limit: 0,
            time_limit: 0,
            types_only: false,
            filter: Filter::parse(filter).unwrap(),
            attrs: vec!["cn".into()],
        })
    }

    fn codes(outcome: &Outcome) -> Vec<Option<u32>> {
        outcome
            .responses
            .iter()
            .map(|r| r.result().map(|r| r.code))
            .collect()
    }

    #[test]
    fn answers_are_typed_responses_with_the_request_s_message_id() {
        let ctx = context();
        let mut session = Session::new(false);
        let root = session.handle(
            &ctx,
            request(4, search("", LdapSearchScope::Base, "(objectClass=*)"), vec![]),
        );
        assert_eq!(root.after, After::Continue);
        assert_eq!(codes(&root), vec![None, Some(code::SUCCESS)]);
        assert!(root
            .responses
            .iter()
            .all(|r| r.msgid == 4 && r.controls.is_empty()));
        assert!(matches!(&root.responses[0].op, ResponseOp::SearchResultEntry { dn, .. } if dn.is_empty()));

        let tls = session.handle(
            &ctx,
            request(
                5,
                RequestOp::Extended {
                    oid: OID_STARTTLS.into(),
                    value: None,
                },
                vec![],
            ),
        );
        assert_eq!(tls.after, After::StartTls);
        assert_eq!(codes(&tls), vec![Some(code::SUCCESS)]);

        let unbind = session.handle(&ctx, request(6, RequestOp::Unbind, vec![]));
        assert_eq!((unbind.responses, unbind.after), (vec![], After::Close));
    }

    #[test]
    fn unknown_critical_controls_and_paged_searches() {
        let ctx = context();
        let mut session = Session::new(true);
        let critical = Control {
            oid: "1.2.3.4".into(),
            critical: true,
            value: None,
        };
        let refused = session.handle(&ctx, request(2, RequestOp::Delete("CN=x".into()), vec![critical]));
        assert_eq!(codes(&refused), vec![Some(code::UNAVAILABLE_CRITICAL_EXTENSION)]);
        assert!(matches!(refused.responses[0].op, ResponseOp::DelResponse(_)));

        let bind = RequestOp::Bind(BindRequest {
            version: 3,
            name: "Administrator@corp.example.test".into(),
            auth: BindAuth::Simple(DEFAULT_ADMIN_PASSWORD.as_bytes().to_vec()),
        });
        assert_eq!(
            codes(&session.handle(&ctx, request(3, bind, vec![]))),
            vec![Some(code::SUCCESS)]
        );

        let paged = |cookie: Vec<u8>| ResponseControl::PagedResults { size: 1, cookie }.to_control();
        let users = || {
            search(
                "CN=Users,DC=corp,DC=example,DC=test",
                LdapSearchScope::OneLevel,
                "(cn=*)",
            )
        };
        let first = session.handle(&ctx, request(7, users(), vec![paged(vec![])]));
        assert_eq!(codes(&first), vec![None, Some(code::SUCCESS)]);
        let done = first.responses.last().unwrap();
        let Ok(Some(RequestControl::PagedResults { cookie, .. })) = RequestControl::decode(&done.controls[0])
        else {
            panic!("no paged results control: {:?}", done.controls);
        };
        assert!(!cookie.is_empty());
        let second = session.handle(&ctx, request(8, users(), vec![paged(cookie)]));
        assert_eq!(codes(&second), vec![None, Some(code::SUCCESS)]);
        assert!(second.responses.iter().all(|r| r.msgid == 8));
        assert_ne!(first.responses[0].op, second.responses[0].op);
    }

    #[test]
    fn required_signing_refuses_a_simple_bind_without_tls_and_leaves_the_connection_anonymous() {
        let ctx = ServerContext {
            policies: Arc::new(crate::ldap::bind::policy::LivePolicies::new(
                crate::ldap::bind::policy::DcPolicies {
                    ldap_signing: crate::ldap::bind::signing::LdapSigning::Required,
                    ..Default::default()
                },
            )),
            ..context()
        };
        let bind = |password: &str| {
            RequestOp::Bind(BindRequest {
                version: 3,
                name: "Administrator@corp.example.test".into(),
                auth: BindAuth::Simple(password.as_bytes().to_vec()),
            })
        };
        let whoami = || RequestOp::Extended {
            oid: OID_WHOAMI.into(),
            value: None,
        };
        let mut plain = Session::new(false);
        let refused = plain.handle(&ctx, request(1, bind(DEFAULT_ADMIN_PASSWORD), vec![]));
        assert_eq!(codes(&refused), vec![Some(code::STRONGER_AUTH_REQUIRED)]);
        assert!(plain.caller().is_anonymous());
        assert!(plain.take_security_layer().is_none());
        let who = plain.handle(&ctx, request(2, whoami(), vec![]));
        assert!(
            matches!(&who.responses[0].op, ResponseOp::ExtendedResponse { value: Some(v), .. } if v.is_empty())
        );
        // An anonymous simple bind stays allowed.
        let anonymous = plain.handle(&ctx, request(3, bind(""), vec![]));
        assert_eq!(codes(&anonymous), vec![Some(code::SUCCESS)]);
        // After StartTLS (or on LDAPS) the same bind completes.
        plain.tls_started();
        let bound = plain.handle(&ctx, request(4, bind(DEFAULT_ADMIN_PASSWORD), vec![]));
        assert_eq!(codes(&bound), vec![Some(code::SUCCESS)]);
        assert!(!plain.caller().is_anonymous());
    }

    /// A GSSAPI bind's AP-REQ is good once (RFC 4120 §3.2.3): the same token on another
    /// connection is refused with KRB_AP_ERR_REPEAT (data 22) and leaves it anonymous.
    #[test]
    fn a_replayed_gssapi_ap_req_is_refused() {
        use crate::auth::gss_krb5::{oid, tok_id, wrap_initial_token};
        use crate::kdc::client::{
            service_name, Answer, ApRequest, AsRequest, ClientKey, GssChecksum, TgsRequest,
        };
        use crate::kdc::crypto::Etype;
        use crate::kdc::{Kdc, KdcConfig, Transport};

        let ctx = context();
        let db = Arc::new(crate::server::kdc::DirectoryKdcDb::new(ctx.dir.clone(), 0));
        let kdc = Kdc::new(db, ctx.dir.clock.clone(), KdcConfig::default());
        let now = ctx.dir.clock.now().unix_seconds();
        let key = ClientKey::from_password(
            Etype::Aes256,
            DEFAULT_ADMIN_PASSWORD,
            "CORP.EXAMPLE.TESTAdministrator",
        )
        .unwrap();
        let as_req = AsRequest::new("CORP.EXAMPLE.TEST", "Administrator", now).with_preauth(key.clone());
        let reply = kdc.handle(&as_req.encode().unwrap(), Transport::Tcp).unwrap();
        let Answer::Ticket(tgt) = as_req.read_reply(&reply, &key).unwrap() else {
            panic!("no TGT")
        };
        let tgs_req = TgsRequest::new(service_name("ldap/dc1.corp.example.test"), now);
        let reply = kdc
            .handle(&tgs_req.encode(&tgt).unwrap(), Transport::Tcp)
            .unwrap();
        let Answer::Ticket(ticket) = tgs_req.read_reply(&reply, &tgt).unwrap() else {
            panic!("no service ticket")
        };
        let ap_req = ApRequest::new(now)
            .gss(GssChecksum::new(0))
            .encode(&ticket)
            .unwrap();
        let token = wrap_initial_token(oid::KRB5, tok_id::AP_REQ, &ap_req);
        let gssapi = |token: &[u8]| {
            request(
                1,
                RequestOp::Bind(BindRequest {
                    version: 3,
                    name: String::new(),
                    auth: BindAuth::Sasl {
                        mechanism: "GSSAPI".into(),
                        credentials: Some(token.to_vec()),
                    },
                }),
                vec![],
            )
        };
        let first = Session::new(false).handle(&ctx, gssapi(&token));
        assert_eq!(codes(&first), vec![Some(code::SASL_BIND_IN_PROGRESS)]);

        let mut second = Session::new(false);
        let replayed = second.handle(&ctx, gssapi(&token));
        assert_eq!(codes(&replayed), vec![Some(code::INVALID_CREDENTIALS)]);
        let text = &replayed.responses[0].result().unwrap().diagnostic;
        assert!(text.contains("AcceptSecurityContext error, data 22,"), "{text}");
        assert!(second.caller().is_anonymous());
    }
}
