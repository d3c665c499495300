//! The control API: HTTP with JSON bodies, for tests and operators rather than for AD clients.
//! It moves the simulated clock, adds KDS root keys and exports client artifacts (krb5.conf,
//! keytabs). It is unauthenticated and hands out keys, so it binds to loopback unless told
//! otherwise (`--control-listen`), and [`guard`] refuses what a web page could send it: a
//! `Host` that is not the listener's address (DNS rebinding, 421), an `Origin` that is not the
//! API's own (403), and a POST or DELETE without `Content-Type: application/json` (a plain
//! cross-site form, 415).
//!
//! Routes (all under `/v1`): `GET health`, `GET clock`, `POST clock` (`{"advance_seconds": N}`
//! or `{"set": "RFC3339"}`), `POST kds/root-keys` (`{"effective": "immediately" | "RFC3339"}`),
//! `GET krb5.conf[?relation=value…]`, `GET keytab?principal=NAME`, `GET export.ldif`,
//! `GET snapshots`, `POST snapshots` (optional `{"path": "NAME"}` also writes it to the file NAME
//! in the snapshot directory, never elsewhere, never over an existing file),
//! `GET snapshots/{id}/file` (the snapshot file's bytes), `POST snapshots/{id}/restore`,
//! `DELETE snapshots/{id}`, `POST reset`, `POST sdprop` (runs SDProp now: protected objects get
//! AdminSDHolder's DACL; answers `{"protected": N, "updated": M}`), `GET cmdlets`, `POST cmdlets/{name}` (`{"parameters":
//! {…}, "positional": […], "host": "WEB01", "as": "CORP\\alice"}`: one ActiveDirectory-module
//! cmdlet, answered `{"output": […], "warnings": […]}` or 422 with the PowerShell error record
//! in `error_record`), `GET hosts`, `POST hosts/{name}/klist-purge`, `POST hosts/{name}/restart`,
//! `GET events[?after=N]` (the DC's KdsSvc operational events), `GET domains/{d}/kerberos-policy`
//! and `PUT domains/{d}/kerberos-policy` (`{"MaxTicketAge": 1, …}`: the Default Domain Policy's
//! [Kerberos Policy] in MS-GPSB 2.2.2's names and units, honoured by the KDC at once). Errors are `{"error": "…"}` with
//! a 4xx status.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::kdc::{krb5_conf_with_kpasswd, DirectoryKdcDb, ExportError};
use crate::clock::{NtTime, TICKS_PER_SECOND};
use crate::dsa::error::code as ldap_code;
use crate::dsa::{Caller, Directory, DsError};
use crate::kds::Effective;
use crate::snapshot::file::SnapshotFileError;
use crate::snapshot::{SnapshotError, SnapshotId, Snapshots};

/// Clock moves beyond this many seconds (about 200 years) are refused: they leave NTTIME's
/// useful range and overflow the clock's offset.
const MAX_CLOCK_STEP_SECONDS: i64 = 200 * 366 * 86_400;

/// What the handlers share.
#[derive(Clone)]
pub struct ControlState {
    pub dir: Arc<Directory>,
    /// Each domain's KDC address, in the forest's domain order.
    pub kdcs: Vec<SocketAddr>,
    /// Each domain's kpasswd address (RFC 3244), same order; empty when not served.
    pub kpasswd: Vec<SocketAddr>,
    pub snapshots: Arc<Snapshots>,
    /// The only directory `POST /v1/snapshots {"path": NAME}` writes into.
    pub snapshot_dir: PathBuf,
    /// The LDAP bind policies every listener reads (`/v1/policies`).
    pub policies: Arc<crate::ldap::bind::policy::LivePolicies>,
    /// The cmdlets and the member hosts they run on (`/v1/cmdlets`, `/v1/hosts`).
    pub cmdlets: Arc<crate::cmdlets::run::Session>,
}

impl ControlState {
    /// The control API of `dir` alone: its snapshots, KDCs at `kdcs`, snapshot files written
    /// into `snapshot_dir`, default bind policies (for tests and fuzzing of the router).
    pub fn new(dir: Arc<Directory>, kdcs: Vec<SocketAddr>, snapshot_dir: PathBuf) -> ControlState {
        ControlState {
            snapshots: Arc::new(Snapshots::new(dir.clone())),
            cmdlets: Arc::new(crate::cmdlets::run::Session::new(
                dir.clone(),
                crate::cmdlets::hosts::Hosts::in_process(dir.clone()),
            )),
            dir,
            kdcs,
            kpasswd: Vec::new(),
            snapshot_dir,
            policies: Default::default(),
        }
    }
}

/// An error answer: a 4xx status and `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<DsError> for ApiError {
    fn from(e: DsError) -> ApiError {
        let status = match e.code {
            ldap_code::INSUFFICIENT_ACCESS_RIGHTS => StatusCode::FORBIDDEN,
            ldap_code::NO_SUCH_OBJECT => StatusCode::NOT_FOUND,
            // The directory refused in its present state (no usable key, a rule…).
            _ => StatusCode::CONFLICT,
        };
        ApiError {
            status,
            message: e.text.trim_end_matches(['\n', '\0']).to_string(),
        }
    }
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> ApiError {
        match e {
            ExportError::UnknownRealm(_) | ExportError::UnknownPrincipal(_) => {
                ApiError::not_found(e.to_string())
            }
            ExportError::NoKeys(_) => ApiError {
                status: StatusCode::CONFLICT,
                message: e.to_string(),
            },
            ExportError::Keytab(_) => ApiError::bad_request(e.to_string()),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

pub fn router(state: ControlState) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/clock", get(get_clock).post(post_clock))
        .route("/v1/kds/root-keys", post(post_root_key))
        .route("/v1/krb5.conf", get(get_krb5_conf))
        .route("/v1/keytab", get(get_keytab))
        .route("/v1/export.ldif", get(get_export))
        .route("/v1/snapshots", get(list_snapshots).post(post_snapshot))
        .route("/v1/snapshots/{id}", axum::routing::delete(delete_snapshot))
        .route("/v1/snapshots/{id}/file", get(get_snapshot_file))
        .route("/v1/snapshots/{id}/restore", post(restore_snapshot))
        .route("/v1/reset", post(post_reset))
        .route("/v1/sdprop", post(post_sdprop))
        .route("/v1/policies", get(get_policies).put(put_policies))
        .route(
            "/v1/domains/{domain}/kerberos-policy",
            get(get_kerberos_policy).put(put_kerberos_policy),
        )
        .route("/v1/cmdlets", get(list_cmdlets))
        .route("/v1/cmdlets/{name}", post(post_cmdlet))
        .route("/v1/hosts", get(list_hosts))
        .route("/v1/hosts/{name}/klist-purge", post(post_klist_purge))
        .route("/v1/hosts/{name}/restart", post(post_restart_host))
        .route("/v1/events", get(get_events))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                message: "method not allowed on this endpoint".into(),
            }
        })
        .with_state(state)
}

/// The whole control application for the listener at `addr`: [`router`] and `GET /v1/ready`
/// behind [`guard`].
pub fn app(state: ControlState, ready: super::control_ready::ReadySlot, addr: SocketAddr) -> Router {
    router(state)
        .merge(super::control_ready::router(ready))
        .layer(middleware::from_fn_with_state(addr, guard))
}

/// Serves the control API on `listener` until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    state: ControlState,
    ready: super::control_ready::ReadySlot,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    axum::serve(listener, app(state, ready, addr)).await
}

/// Refuses requests a web browser could make on a page's behalf (see the module's text); `addr`
/// is the control listener's address.
pub async fn guard(State(addr): State<SocketAddr>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    let Some(host) = host.filter(|h| host_allowed(h, addr)) else {
        return ApiError {
            status: StatusCode::MISDIRECTED_REQUEST,
            message: format!(
                "Host {:?} is not this control API's address; use http://{addr}",
                host.unwrap_or_default()
            ),
        }
        .into_response();
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        let own = format!("http://{host}");
        if !origin.to_str().is_ok_and(|o| o.eq_ignore_ascii_case(&own)) {
            return ApiError {
                status: StatusCode::FORBIDDEN,
                message: format!("cross-origin requests are refused (Origin {origin:?}, expected {own:?})"),
            }
            .into_response();
        }
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) && !is_json(headers) {
        return ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!("{} needs Content-Type: application/json", request.method()),
        }
        .into_response();
    }
    next.run(request).await
}

/// Whether `host` (a `Host` header: `name[:port]`) names the listener at `addr`: its IP
/// literal (any IP literal when it listens on every address) or `localhost` when it listens on
/// loopback, and its port. A DNS name an attacker controls never matches.
fn host_allowed(host: &str, addr: SocketAddr) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !p.contains(']') => (n, p.parse::<u16>().ok()),
        _ => (host, Some(80)),
    };
    if port != Some(addr.port()) {
        return false;
    }
    let listen = addr.ip();
    let literal = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    match literal.parse::<IpAddr>() {
        Ok(ip) => ip == listen || listen.is_unspecified(),
        Err(_) => name.eq_ignore_ascii_case("localhost") && (listen.is_loopback() || listen.is_unspecified()),
    }
}

/// `Content-Type: application/json`, parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

async fn health(State(s): State<ControlState>) -> Json<Value> {
    let root = s.dir.forest.root();
    Json(json!({
        "status": "ok",
        "domain": root.dns_name,
        "netbios": root.netbios,
        "dc": root.dc_fqdn,
        "realm": root.realm,
        "now": s.dir.clock.now().to_rfc3339(),
    }))
}

fn clock_view(dir: &Directory) -> Json<Value> {
    let host = NtTime::from_system_time(std::time::SystemTime::now());
    let now = dir.clock.now();
    // Rounded, so a clock moved by -6m reads -360 and not the -359 truncation would give.
    let ticks = TICKS_PER_SECOND as i128;
    let diff = now.0 as i128 - host.0 as i128;
    let offset_seconds = (diff + diff.signum() * ticks / 2) / ticks;
    Json(json!({
        "now": now.to_rfc3339(),
        "nttime": now.0,
        "offset_seconds": offset_seconds as i64,
        "frozen": dir.clock.is_frozen(),
    }))
}

async fn get_clock(State(s): State<ControlState>) -> Json<Value> {
    clock_view(&s.dir)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    advance_seconds: Option<i64>,
    set: Option<String>,
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

async fn post_clock(State(s): State<ControlState>, body: Bytes) -> ApiResult<Json<Value>> {
    let change: ClockChange = parse_json(&body)?;
    match (change.advance_seconds, change.set) {
        (Some(n), None) => {
            if n.unsigned_abs() > MAX_CLOCK_STEP_SECONDS as u64 {
                return Err(ApiError::bad_request(format!(
                    "advance_seconds must be within ±{MAX_CLOCK_STEP_SECONDS}"
                )));
            }
            s.dir.advance_clock(n)?;
        }
        (None, Some(t)) => {
            let at = NtTime::parse_rfc3339(&t).ok_or_else(|| {
                ApiError::bad_request(format!("set: {t:?} is not an RFC 3339 time after 1601"))
            })?;
            let now = s.dir.clock.now().unix_seconds();
            if (at.unix_seconds() - now).abs() > MAX_CLOCK_STEP_SECONDS {
                return Err(ApiError::bad_request("set: too far from the current time"));
            }
            s.dir.set_clock(at)?;
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of advance_seconds or set",
            ))
        }
    }
    tracing::info!(now = %s.dir.clock.now().to_rfc3339(), "simulated clock moved");
    Ok(clock_view(&s.dir))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RootKeyRequest {
    effective: String,
}

async fn post_root_key(State(s): State<ControlState>, body: Bytes) -> ApiResult<Response> {
    let req: RootKeyRequest = parse_json(&body)?;
    let effective = if req.effective.eq_ignore_ascii_case("immediately") {
        Effective::Immediately
    } else {
        Effective::At(NtTime::parse_rfc3339(&req.effective).ok_or_else(|| {
            ApiError::bad_request(format!(
                "effective: {:?} is neither \"immediately\" nor an RFC 3339 time",
                req.effective
            ))
        })?)
    };
    let dir = s.dir.clone();
    let id = tokio::task::spawn_blocking(move || dir.add_kds_root_key(&Caller::system(), effective))
        .await
        .map_err(|e| ApiError::bad_request(format!("root key task failed: {e}")))??;
    Ok((StatusCode::CREATED, Json(json!({ "id": id.to_string() }))).into_response())
}

/// `[libdefaults]` relations a caller may add: a plain name and a value on one line.
fn check_relation(name: &str, value: &str) -> ApiResult<()> {
    let name_ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let value_ok = !value.is_empty()
        && value
            .chars()
            .all(|c| (c.is_ascii_graphic() || c == ' ') && !matches!(c, '{' | '}' | '[' | ']'));
    if name_ok && value_ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "krb5.conf relation {name:?} = {value:?} is not allowed"
        )))
    }
}

async fn get_krb5_conf(
    State(s): State<ControlState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(pairs) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    for (k, v) in &pairs {
        check_relation(k, v)?;
    }
    let relations: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let text = krb5_conf_with_kpasswd(&s.dir, &s.kdcs, &s.kpasswd, &relations);
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeytabQuery {
    principal: String,
}

async fn get_keytab(
    State(s): State<ControlState>,
    query: Result<Query<KeytabQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if q.principal.trim().is_empty() {
        return Err(ApiError::bad_request("principal is empty"));
    }
    // NAME@REALM picks the domain; a bare name is looked up in the forest root.
    let realm = match q.principal.rsplit_once('@') {
        Some((_, r))
            if s.dir
                .forest
                .domains
                .iter()
                .any(|d| d.realm.eq_ignore_ascii_case(r)) =>
        {
            r.to_string()
        }
        _ => s.dir.forest.root().realm.clone(),
    };
    let dir = s.dir.clone();
    let bytes =
        tokio::task::spawn_blocking(move || DirectoryKdcDb::for_realm(dir, &realm)?.keytab(&q.principal))
            .await
            .map_err(|e| ApiError::bad_request(format!("keytab task failed: {e}")))??;
    Ok(secret_body("application/octet-stream", bytes))
}

/// An answer holding keys: never cached.
fn secret_body(content_type: &'static str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

/// The whole directory as LDIF (deterministic; secrets are never exported).
async fn get_export(State(s): State<ControlState>) -> Response {
    let text = crate::dsa::fixtures::export(&s.dir);
    ([(header::CONTENT_TYPE, "text/x-ldif; charset=utf-8")], text).into_response()
}

impl From<SnapshotError> for ApiError {
    fn from(e: SnapshotError) -> ApiError {
        match e {
            SnapshotError::UnknownId(_) => ApiError::not_found(e.to_string()),
            SnapshotError::File(SnapshotFileError::Io { ref source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                ApiError {
                    status: StatusCode::CONFLICT,
                    message: e.to_string(),
                }
            }
            SnapshotError::File(_) => ApiError::bad_request(e.to_string()),
            SnapshotError::Directory(e) => e.into(),
        }
    }
}

async fn list_snapshots(State(s): State<ControlState>) -> Json<Value> {
    let list: Vec<Value> = s
        .snapshots
        .list()
        .into_iter()
        .map(|i| json!({ "id": i.id.to_string(), "time": i.time.to_rfc3339(), "entries": i.entries }))
        .collect();
    Json(json!({ "snapshots": list }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SnapshotRequest {
    /// Also write the snapshot to this file in the snapshot directory (a plain file name).
    path: Option<String>,
}

/// Where `POST /v1/snapshots {"path": name}` writes: `name` must be a plain file name (no
/// directory part, not `.`/`..`, not hidden, not one of the writer's temporary names), so the
/// file lands in `dir` and nowhere else; the writer then refuses an existing name, symlinks
/// included.
fn snapshot_target(dir: &std::path::Path, name: &str) -> ApiResult<PathBuf> {
    if name.trim().is_empty() {
        return Err(ApiError::bad_request("path is empty"));
    }
    let plain = name.len() <= 255
        && !name.starts_with('.')
        && !name.chars().any(|c| matches!(c, '/' | '\\') || c.is_control())
        && !crate::snapshot::file::is_temp_name(name);
    if !plain {
        return Err(ApiError::bad_request(format!(
            "path {name:?} must be a plain file name: snapshot files are written only into the \
             snapshot directory (adsim serve --snapshot-dir); GET /v1/snapshots/ID/file downloads one"
        )));
    }
    Ok(dir.join(name))
}

async fn post_snapshot(State(s): State<ControlState>, body: Bytes) -> ApiResult<Response> {
    let req: SnapshotRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SnapshotRequest::default()
    } else {
        parse_json(&body)?
    };
    let target = req
        .path
        .as_deref()
        .map(|name| snapshot_target(&s.snapshot_dir, name))
        .transpose()?;
    let snapshots = s.snapshots.clone();
    let path = target.clone();
    // Writing 10 000 entries takes a moment: off the async workers.
    let id = tokio::task::spawn_blocking(move || -> Result<SnapshotId, SnapshotError> {
        let id = snapshots.take();
        if let Some(p) = &path {
            if let Err(e) = snapshots.save(id, p) {
                let _ = snapshots.remove(id);
                return Err(e);
            }
        }
        Ok(id)
    })
    .await
    .map_err(|e| ApiError::bad_request(format!("snapshot task failed: {e}")))??;
    let info = s.snapshots.list().into_iter().find(|i| i.id == id);
    let mut answer = json!({
        "id": id.to_string(),
        "time": info.map(|i| i.time.to_rfc3339()),
    });
    if let Some(p) = target {
        answer["path"] = json!(p.display().to_string());
    }
    tracing::info!(%id, "snapshot taken");
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// The snapshot file of a snapshot held (it holds every secret of the forest).
async fn get_snapshot_file(State(s): State<ControlState>, Path(id): Path<String>) -> ApiResult<Response> {
    let id = snapshot_id(&id)?;
    let snapshots = s.snapshots.clone();
    let bytes = tokio::task::spawn_blocking(move || snapshots.encode(id))
        .await
        .map_err(|e| ApiError::bad_request(format!("snapshot task failed: {e}")))??;
    // Version 3 files are binary (snapshot::compact).
    Ok(secret_body("application/octet-stream", bytes))
}

fn snapshot_id(text: &str) -> ApiResult<SnapshotId> {
    text.parse()
        .map_err(|e: SnapshotError| ApiError::not_found(e.to_string()))
}

async fn restore_snapshot(State(s): State<ControlState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = snapshot_id(&id)?;
    s.snapshots.restore(id)?;
    tracing::info!(%id, "snapshot restored");
    Ok(Json(
        json!({ "restored": id.to_string(), "now": s.dir.clock.now().to_rfc3339() }),
    ))
}

async fn delete_snapshot(State(s): State<ControlState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = snapshot_id(&id)?;
    s.snapshots.remove(id)?;
    Ok(Json(json!({ "deleted": id.to_string() })))
}

/// Runs SDProp now (MS-ADTS 3.1.1.6.1; on Windows, the RunProtectAdminGroupsTask rootDSE
/// operation).
async fn post_sdprop(State(s): State<ControlState>) -> ApiResult<Json<Value>> {
    let report = s.dir.sdprop()?;
    Ok(Json(
        json!({ "protected": report.protected, "updated": report.updated }),
    ))
}

async fn post_reset(State(s): State<ControlState>) -> ApiResult<Json<Value>> {
    s.snapshots.try_reset()?;
    tracing::info!("forest reset to its state after start");
    Ok(Json(
        json!({ "reset": true, "now": s.dir.clock.now().to_rfc3339() }),
    ))
}

/// The DC's LDAP signing and channel binding policies as they stand.
async fn get_policies(State(s): State<ControlState>) -> Json<Value> {
    Json(s.policies.get().to_json())
}

/// Changes the policies the body names (`{"ldap_signing": "required"}`); binds completed from
/// then on follow them, bound connections stay as they are. An unknown name or value is 400
/// and changes nothing.
async fn put_policies(State(s): State<ControlState>, body: Bytes) -> ApiResult<Json<Value>> {
    let change: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
    let policies = s
        .policies
        .get()
        .changed_by(&change)
        .map_err(ApiError::bad_request)?;
    s.policies.set(policies);
    tracing::info!(
        ldap_signing = policies.ldap_signing.name(),
        channel_binding = crate::ldap::bind::channel_binding::policy_name(policies.channel_binding),
        "bind policies changed"
    );
    Ok(Json(policies.to_json()))
}

/// The domain a path names: its DNS name (or realm) or NetBIOS name, case-insensitive.
fn domain_index(s: &ControlState, name: &str) -> ApiResult<usize> {
    s.dir
        .forest
        .domain_by_name(name)
        .map(|d| d.index)
        .ok_or_else(|| ApiError::not_found(format!("no domain {name:?} in this forest")))
}

fn kerberos_policy_json(s: &ControlState, domain: usize) -> Value {
    let mut v = s.dir.kerberos_policy(domain).to_json();
    v["domain"] = json!(s.dir.forest.domains[domain].dns_name);
    v["gpo"] = json!(crate::dsa::gpo::DEFAULT_DOMAIN_POLICY);
    v
}

/// The domain's Kerberos policy: its Default Domain Policy's [Kerberos Policy] section
/// (MS-GPSB 2.2.2 names and units: hours, days, minutes, minutes).
async fn get_kerberos_policy(
    State(s): State<ControlState>,
    Path(domain): Path<String>,
) -> ApiResult<Json<Value>> {
    let d = domain_index(&s, &domain)?;
    Ok(Json(kerberos_policy_json(&s, d)))
}

/// Changes the settings the body names (`{"MaxTicketAge": 1, "MaxServiceAge": 30}`), as the
/// domain's Administrator edits the GPO; the KDC applies them at its next request. A value
/// out of MS-GPSB's ranges is 400 and changes nothing.
async fn put_kerberos_policy(
    State(s): State<ControlState>,
    Path(domain): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let d = domain_index(&s, &domain)?;
    let changes: serde_json::Map<String, Value> = parse_json(&body)?;
    let policy = s
        .dir
        .kerberos_policy(d)
        .changed_by(&changes)
        .map_err(ApiError::bad_request)?;
    s.dir.set_kerberos_policy(&Caller::system(), d, policy)?;
    tracing::info!(domain = %s.dir.forest.domains[d].dns_name, ?policy, "Kerberos policy changed");
    Ok(Json(kerberos_policy_json(&s, d)))
}

async fn list_cmdlets() -> Json<Value> {
    Json(json!({ "cmdlets": crate::cmdlets::run::names() }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CmdletRequest {
    #[serde(default)]
    parameters: serde_json::Map<String, Value>,
    #[serde(default)]
    positional: Vec<Value>,
    /// The member host the cmdlet runs on (the local computer of Test-ADServiceAccount…).
    host: Option<String>,
    /// The account that runs it (`DOMAIN\\name`, a UPN or a DN); the root domain's
    /// Administrator when absent, as the guides are run by a domain administrator.
    #[serde(rename = "as")]
    run_as: Option<String>,
}

/// Runs one cmdlet. A PowerShell error is an answer (422 with the record), not a failure of
/// the API.
async fn post_cmdlet(
    State(s): State<ControlState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: CmdletRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CmdletRequest::default()
    } else {
        parse_json(&body)?
    };
    let dir = s.dir.clone();
    let caller = {
        let st = dir.read();
        let who = req
            .run_as
            .clone()
            .unwrap_or_else(|| format!("{}\\Administrator", dir.forest.root().netbios));
        let id = dir
            .resolve_account(&st, &who)
            .ok_or_else(|| ApiError::bad_request(format!("as: no account {who:?}")))?;
        dir.caller_for(&st, id).with_encryption(true)
    };
    let session = s.cmdlets.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        session.run(
            caller,
            req.host.as_deref(),
            &name,
            &req.parameters,
            &req.positional,
        )
    })
    .await
    .map_err(|e| ApiError::bad_request(format!("cmdlet task failed: {e}")))?;
    Ok(match outcome {
        Ok(out) => Json(json!({ "output": out.objects, "warnings": out.warnings })).into_response(),
        Err(record) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": record.message, "error_record": record.to_json() })),
        )
            .into_response(),
    })
}

async fn list_hosts(State(s): State<ControlState>) -> Json<Value> {
    let hosts: Vec<Value> = s
        .cmdlets
        .hosts
        .list()
        .into_iter()
        .map(|(name, h)| {
            json!({
                "name": name,
                "has_tgt": h.tgt.is_some(),
                "installed": h.installed,
                "local_groups": h.local_groups,
            })
        })
        .collect();
    Json(json!({ "hosts": hosts }))
}

fn host_error(e: crate::cmdlets::hosts::HostError) -> ApiError {
    ApiError::not_found(e.to_string())
}

/// `klist -lh 0 -li 0x3e7 purge` on a host: its SYSTEM session's tickets are dropped.
async fn post_klist_purge(State(s): State<ControlState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let purged = s.cmdlets.hosts.purge(&name).map_err(host_error)?;
    Ok(Json(json!({ "host": name, "purged": purged })))
}

/// A reboot of a host: an empty ticket cache afterwards.
async fn post_restart_host(
    State(s): State<ControlState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    s.cmdlets.hosts.restart(&name).map_err(host_error)?;
    Ok(Json(json!({ "host": name, "restarted": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<u64>,
}

/// The event log, oldest first; `after` skips the records already seen.
async fn get_events(
    State(s): State<ControlState>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let events: Vec<Value> = s
        .dir
        .events
        .since(q.after.unwrap_or(0))
        .into_iter()
        .map(|e| {
            json!({
                "record_id": e.record_id,
                "time": e.time.to_rfc3339(),
                "provider": e.provider,
                "channel": e.channel,
                "event_id": e.event_id,
                "level": e.level,
                "message": e.message,
                "data": e.data.into_iter().map(|(k, v)| (k.to_string(), Value::from(v))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "events": events })))
}
