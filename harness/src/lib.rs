//! adsim-harness: adsim's embedding API ([`forest::Forest`]: a whole forest in a test, with
//! snapshots), fixtures (LDIF, topology TOML), cmdlet-style operations, ACL grant/revoke helpers
//! ([`acl`]) and the scenario runner
//! ([`scenario`]), and the client of a running server's control API ([`control::Client`]).

pub use adsim_simulator::cmdlets;
/// Granting and revoking rights the ways administrators do (`adsim_simulator::cmdlets::acl`).
pub use adsim_simulator::cmdlets::acl;
pub mod control;
pub mod forest;
pub mod ps;
pub mod scenario;
pub mod topology;

/// LDIF (RFC 2849), shared with the server, which imports fixtures and exports the directory.
pub use adsim_simulator::ldif;

/// Loading LDIF fixtures into a forest and exporting it.
pub use adsim_simulator::dsa::fixtures;
