//! The simulator's integration tests, in one binary: one link instead of one
//! per file, and one process whose threads run every test. Each file below is a module; shared
//! helpers are modules too (a new test file must be listed here).

#[path = "auth/common.rs"]
mod auth_common;
#[path = "kdc/common.rs"]
mod common;
#[path = "kdc/live.rs"]
mod live;

mod auth_krb5;
mod auth_ntlm;
mod auth_spnego;
mod data_dir;
mod dsa_gmsa;
mod dsa_provision;
mod fuzz_decoders;
mod fuzz_mutations;
mod gmsa_rollover;
mod kdc_captures;
mod kdc_client;
mod kdc_exchange;
mod kdc_mit;
mod kdc_python_clients;
mod kdc_replay;
mod kdc_robustness;
mod kds_props;
mod kds_vectors;
mod ldap_codec;
mod ldap_codec_props;
mod ldap_limits;
mod ldap_streaming;
mod mutation;
mod schema_check;
mod schema_ldap3;
mod schema_lookup;
mod schema_render;
mod schema_robustness;
mod schema_syntax;
mod security_access;
mod security_proptest;
mod security_sddl;
mod server_kdc_db;
mod snapshot_file;
