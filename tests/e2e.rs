//! End-to-end tests with real clients, in one binary: one link instead of one
//! per file, and one process whose threads run every test. Each file below is a module; shared
//! helpers are modules too (a new test file must be listed here).

mod common;

mod e2e_account_state;
mod e2e_acl;
mod e2e_clients;
mod e2e_control;
mod e2e_data_dir;
mod e2e_dns;
mod e2e_dyndns;
mod e2e_examples;
mod e2e_fixtures;
mod e2e_gmsa;
mod e2e_join;
mod e2e_join_kpasswd;
mod e2e_kerberos;
mod e2e_kpasswd;
mod e2e_ldap;
mod e2e_limits;
mod e2e_ps;
mod e2e_record;
mod e2e_sasl;
mod e2e_scenarios;
mod e2e_snapshots;
mod peer_samba;
