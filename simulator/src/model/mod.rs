//! The forest's data model: DNs, entries and account secrets.

pub mod dn;
pub mod entry;
pub mod filter;
pub mod secrets;

pub use dn::Dn;
pub use entry::{Attr, AttrRef, Entry, EntryId, Name, Values};
pub use secrets::AccountSecrets;
