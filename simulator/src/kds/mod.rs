//! The KDS engine (MS-GKDI, symmetric part): root keys, the SP800-108 KDF, GKIDs and the seed-key
//! chain with its cache. Pure: values and times in, keys out. Spec: docs/notes/gmsa-gkdi.md §1–2.

pub mod cache;
pub mod error;
pub mod gkid;
pub mod kdf;
pub mod params;
pub mod root_key;
pub mod seed;
pub mod select;

pub use cache::SeedKeyCache;
pub use error::KdsError;
pub use gkid::{interval_start, Gkid, GkidLevel, KEY_CYCLE, MAX_SKEW};
pub use kdf::{sp800_108_counter_hmac, KdfHash, GMSA_PASSWORD_LABEL, KDS_SERVICE_LABEL};
pub use params::{hash_from_kdf_param, FfcDhParameters, KdfParameters};
pub use root_key::{Effective, RootKey};
pub use seed::{l1_seed_key, l2_seed_key, seed_key_with_sd, SeedKey, GMSA_SECURITY_DESCRIPTOR};
pub use select::{
    check_derivation_time, check_key_serves_gkid, find_by_id, most_recently_created, select_for_interval,
    select_for_new_gmsa,
};
