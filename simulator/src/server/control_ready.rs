//! `GET /v1/ready`: the ready description (`adsim serve`'s first output line: every domain's
//! LDAP/LDAPS URLs, KDC, SIDs) plus the CA certificate as PEM, so a client that only knows the
//! control URL (`adsim scenario run --against URL`) can reach every DC and verify its TLS.
//! The description is filled in once every listener is bound; before that the answer is 503.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::ReadyInfo;

/// Where the server puts its ready description once it has one.
pub type ReadySlot = Arc<OnceLock<Value>>;

/// The description served: the ready line's fields and `ca_pem`.
pub fn describe(ready: &ReadyInfo, ca_pem: &str) -> Value {
    let mut v = serde_json::to_value(ready).unwrap_or_else(|_| json!({}));
    v["ca_pem"] = Value::String(ca_pem.to_string());
    v
}

pub fn router(slot: ReadySlot) -> Router {
    Router::new().route("/v1/ready", get(ready)).with_state(slot)
}

async fn ready(State(slot): State<ReadySlot>) -> Response {
    match slot.get() {
        Some(v) => Json(v.clone()).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "the forest is still starting" })),
        )
            .into_response(),
    }
}
