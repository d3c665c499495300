//! `control_json`: a JSON body for `POST /v1/clock` or `POST /v1/kds/root-keys` (the first byte
//! picks the endpoint) through the control API's router: never a panic, never a 5xx.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_decoders.rs"]
mod decoders;

struct Api {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
}

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        use adsim_simulator::server::control::{router, ControlState};
        let dir = adsim_simulator::dsa::Directory::provision(&adsim_simulator::dsa::ForestConfig {
            seed: Some(9),
            start_time: adsim_simulator::clock::NtTime::parse_rfc3339("2026-02-01T00:00:00Z"),
            ..Default::default()
        })
        .expect("a forest");
        let state = ControlState::new(dir, vec!["127.0.0.1:88".parse().expect("an address")], std::env::temp_dir());
        Api {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
            app: router(state),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let api = api();
    let status = api.rt.block_on(decoders::control_request(&api.app, data));
    assert!(status < 500, "{status}");
});
