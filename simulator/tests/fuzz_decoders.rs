//! What each fuzz target does with its input, shared by the cargo-fuzz targets
//! (simulator/fuzz/fuzz_targets/*.rs include this file) and the stable mutation pass
//! (fuzz_mutations.rs). Each function must return for any input, never panic; the assertions
//! are properties of what decodes.
#![allow(dead_code)]

use adsim_simulator::kdc::messages::{ApReq, KdcReq};
use adsim_simulator::ldap::codec::{decode_request, frame_len};
use adsim_simulator::ldap::controls::RequestControl;
use adsim_simulator::ldap::filter::Filter;
use adsim_simulator::ldif::{parse_with, ParseOptions};
use adsim_simulator::security::{sddl, AliasDomains, SecurityDescriptor};
use adsim_simulator::snapshot::file;

/// Every decoder the LDAP front end runs on a PDU: framing, the request, its controls, and the
/// filter's text form read back.
pub fn ldap_request(data: &[u8]) {
    if let Ok(Some(n)) = frame_len(data, 1 << 20) {
        assert!(n <= data.len());
    }
    if let Ok(req) = decode_request(data) {
        for control in &req.controls {
            let _ = RequestControl::decode(control);
        }
        if let adsim_simulator::ldap::codec::RequestOp::Search(search) = &req.op {
            let _ = Filter::parse(&search.filter.to_string());
        }
    }
}

pub fn ldap_filter(data: &[u8]) {
    if let Ok(f) = Filter::parse(&String::from_utf8_lossy(data)) {
        // What parses prints and parses back to the same filter.
        assert_eq!(Filter::parse(&f.to_string()).as_ref(), Ok(&f));
    }
}

pub fn kerberos_request(data: &[u8]) {
    let _ = KdcReq::from_der(data);
    let _ = ApReq::from_der(data);
}

pub fn ldif(data: &[u8]) {
    let options = ParseOptions {
        base_dir: None,
        allow_file_urls: false,
    };
    let _ = parse_with(data, &options);
}

/// The domain the SDDL seeds' aliases (DA, DU, …) resolve in.
pub fn sddl_context() -> AliasDomains {
    AliasDomains::single("S-1-5-21-1-2-3".parse().expect("a domain SID"))
}

pub fn security_descriptor(data: &[u8]) {
    let ctx = sddl_context();
    if let Ok(sd) = sddl::parse(&String::from_utf8_lossy(data), &ctx) {
        if let Ok(bytes) = sd.to_bytes() {
            assert!(SecurityDescriptor::from_bytes(&bytes).is_ok());
        }
    }
    if let Ok(sd) = SecurityDescriptor::from_bytes(data) {
        let _ = sddl::format(&sd, &ctx);
        let _ = sd.to_bytes();
    }
}

pub fn snapshot_file(data: &[u8]) {
    let _ = file::decode(data);
}

/// One control API request from a fuzz input: first byte the endpoint, the rest the body.
pub async fn control_request(app: &axum::Router, input: &[u8]) -> u16 {
    use tower::ServiceExt;
    let (route, body) = match input.split_first() {
        Some((b, rest)) => (b % 2, rest.to_vec()),
        None => (0, Vec::new()),
    };
    let path = ["/v1/clock", "/v1/kds/root-keys"][usize::from(route)];
    let request = axum::http::Request::post(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status().as_u16()
}
