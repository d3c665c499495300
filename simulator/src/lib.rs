//! adsim's simulated domain controller. Rooms, top to bottom (nothing below imports anything above):
//! `server` (tokio edges), `ldap`/`kdc` (protocol front ends), `dsa` (directory semantics),
//! `gmsa`/`kds` (pure engines), `security`, `store`/`model`, `clock`.

pub mod clock;
pub mod kdc;
pub mod security;
