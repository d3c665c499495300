//! TEMPORARY SHIM — the lead replaces this file on merge with the real implementation in
//! `dsa/gmsa.rs` (api-gmsa.md). It exists only so the `wire` branch compiles against the two
//! `Directory` methods the KDC and the control API call. Delete this file and its `mod` line in
//! `lib.rs` when merging.

use crate::dsa::error::{win32, DsError, DsResult};
use crate::dsa::{Caller, Directory};
use crate::kds::Effective;
use crate::model::EntryId;

impl Directory {
    /// SHIM: Add-KdsRootKey is not available in this branch; always refused.
    pub fn add_kds_root_key(&self, _caller: &Caller, _effective: Effective) -> DsResult<uuid::Uuid> {
        Err(DsError::unwilling(win32::ERROR_DS_UNWILLING_TO_PERFORM))
    }

    /// SHIM: no lazy gMSA rollover in this branch; nothing to do.
    pub fn roll_over_if_due(&self, _id: EntryId) -> DsResult<()> {
        Ok(())
    }
}
