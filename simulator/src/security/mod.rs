//! SIDs, GUIDs, security descriptors, tokens and the access check (MS-DTYP).

pub mod sid;

pub use sid::Sid;
