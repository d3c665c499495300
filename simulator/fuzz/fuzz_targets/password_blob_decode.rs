//! msDS-ManagedPassword decoder: never panics; whatever decodes and re-encodes decodes the same.
#![no_main]

use adsim_simulator::gmsa::ManagedPasswordBlob;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(blob) = ManagedPasswordBlob::decode(data) {
        // Padded blobs from other writers decode too, so only the canonical form is compared.
        if let Ok(canonical) = blob.encode() {
            assert_eq!(ManagedPasswordBlob::decode(&canonical).as_ref(), Ok(&blob));
        }
    }
});
