//! gMSA engine: password ids, passwords, the msDS-ManagedPassword blob and the rollover policy
//! (MS-ADTS 2.2.19, 3.1.1.4.5.39; docs/notes/gmsa-gkdi.md §3–4, §6). No directory, no I/O.

pub mod blob;
pub mod error;
pub mod password;
pub mod password_id;
pub mod rollover;

pub use blob::ManagedPasswordBlob;
pub use error::GmsaError;
pub use password::{password_for, raw_kdf_output, ManagedPassword, GMSA_PASSWORD_LEN};
pub use password_id::{ManagedPasswordId, PasswordRef, KDSK_MAGIC};
pub use rollover::{evaluate, is_due, on_create, rollover_interval, RolloverDecision, RolloverInput};
