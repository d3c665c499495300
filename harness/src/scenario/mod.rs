//! Replayable scenarios: a forest, principals and ordered steps (LDAP operations as a named
//! principal over plain LDAP, LDAPS or StartTLS; Kerberos AS/TGS exchanges with a client clock
//! offset; clock moves; cmdlet-style group and gMSA changes; snapshots), each with expected
//! outcomes. The format is documented in `scenarios/README.md`.
//!
//! ```no_run
//! # async fn demo() {
//! use adsim_harness::scenario::{run_file, RunOptions};
//! let report = run_file("scenarios/gmsa-allowed-host.toml".as_ref(), &RunOptions::default()).await;
//! print!("{}", report.to_text());
//! assert!(report.passed());
//! # }
//! ```

pub mod backend;
pub mod duration;
pub mod format;
pub mod kerberos;
pub mod ldap;
pub mod peer;
pub mod report;
pub mod runner;
pub mod setup;
pub mod vars;

pub use format::{Scenario, Step};
pub use peer::PeerOptions;
pub use report::{junit_xml, summary_line, PeerStep, PeerVerdict, ScenarioReport, StepReport, StepStatus};
pub use runner::{run, run_file, RunOptions};
