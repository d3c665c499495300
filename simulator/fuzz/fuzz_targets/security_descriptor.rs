//! `security_descriptor`: see `simulator/tests/fuzz_decoders.rs` (shared with the stable mutation pass).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_decoders.rs"]
mod decoders;

fuzz_target!(|data: &[u8]| decoders::security_descriptor(data));
