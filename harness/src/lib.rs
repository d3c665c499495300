//! adsim-harness: adsim's embedding API, fixtures (LDIF, topology TOML) and scenario runner.

pub mod ldif;
pub mod topology;
