//! The forest's data model: DNs, entries and account secrets.

pub mod dn;
pub mod entry;
pub mod filter;
pub mod secrets;

pub use dn::Dn;
pub use entry::{Attr, AttrRef, Entry, EntryId, Name, Values};
pub use secrets::AccountSecrets;

/// `f` of `bytes` with their ASCII letters lower-cased, on the stack for up to 256 bytes (every
/// schema name, most indexed values) and in a heap copy beyond: look-ups by a name in any case
/// run per attribute of every add, and a heap copy each was a measurable part of a bulk load
/// (issue 12).
pub fn with_ascii_lowercase<R>(bytes: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 256];
    match buf.get_mut(..bytes.len()) {
        Some(lower) => {
            lower.copy_from_slice(bytes);
            lower.make_ascii_lowercase();
            f(lower)
        }
        None => f(&bytes.to_ascii_lowercase()),
    }
}
