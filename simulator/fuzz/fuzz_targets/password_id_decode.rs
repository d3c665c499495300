//! msDS-ManagedPasswordId decoder: never panics; whatever decodes re-encodes to the same bytes.
#![no_main]

use adsim_simulator::gmsa::ManagedPasswordId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = ManagedPasswordId::decode(data) {
        let again = id.encode().expect("a decoded id encodes");
        assert_eq!(again, data, "decode is strict, so encoding gives the input back");
    }
});
