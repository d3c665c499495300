//! adsim's simulated domain controller. Rooms, top to bottom (nothing below imports anything above):
//! `server` (tokio edges), `ldap`/`kdc` (protocol front ends), `dsa` (directory semantics),
//! `gmsa`/`kds` (pure engines), `security`, `schema`, `store`/`model`, `clock`, `slots` (connection
//! slots of the TCP listeners).

pub mod auth;
pub mod clock;
pub mod cmdlets;
pub mod dns;
pub mod dsa;
pub mod events;
pub mod gmsa;
pub mod kdc;
pub mod kds;
pub mod keys;
pub mod kpasswd;
pub mod ldap;
pub mod ldif;
pub mod model;
pub mod schema;
pub mod security;
pub mod server;
pub mod slots;
pub mod snapshot;
pub mod store;
