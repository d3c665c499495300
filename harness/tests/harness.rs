//! The harness's integration tests, in one binary: one link instead of one
//! per file, and one process whose threads run every test. Each file below is a module; shared
//! helpers are modules too (a new test file must be listed here).

mod acl_grants;
mod fixtures_and_cmdlets;
mod forest_api;
mod ldif_errors;
mod ldif_fixtures;
mod ldif_parse;
mod ldif_roundtrip;
mod ldif_topology;
mod scenario_runner;
