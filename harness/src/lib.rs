//! adsim-harness: adsim's embedding API, fixtures (LDIF, topology TOML), cmdlet-style
//! operations and (later) the scenario runner.

pub mod cmdlets;
pub mod fixtures;
pub mod ldif;
pub mod topology;
