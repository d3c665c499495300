//! KRB-ERROR replies (RFC 4120 §5.9.1). Every error carries stime/susec from the simulated
//! clock: MIT's default `kdc_timesync = 1` uses them to correct a skewed client
//! (client-interop §11).

use super::messages::{name_type, KrbError, PrincipalName};

/// Error codes (RFC 4120 §7.5.9).
pub mod code {
    pub const KDC_ERR_C_PRINCIPAL_UNKNOWN: i32 = 6;
    pub const KDC_ERR_S_PRINCIPAL_UNKNOWN: i32 = 7;
    pub const KDC_ERR_NEVER_VALID: i32 = 11;
    pub const KDC_ERR_BADOPTION: i32 = 13;
    pub const KDC_ERR_ETYPE_NOSUPP: i32 = 14;
    pub const KDC_ERR_SUMTYPE_NOSUPP: i32 = 15;
    pub const KDC_ERR_PADATA_TYPE_NOSUPP: i32 = 16;
    pub const KDC_ERR_CLIENT_REVOKED: i32 = 18;
    pub const KDC_ERR_PREAUTH_FAILED: i32 = 24;
    pub const KDC_ERR_PREAUTH_REQUIRED: i32 = 25;
    pub const KRB_AP_ERR_BAD_INTEGRITY: i32 = 31;
    pub const KRB_AP_ERR_TKT_EXPIRED: i32 = 32;
    pub const KRB_AP_ERR_TKT_NYV: i32 = 33;
    pub const KRB_AP_ERR_NOT_US: i32 = 35;
    pub const KRB_AP_ERR_BADMATCH: i32 = 36;
    pub const KRB_AP_ERR_SKEW: i32 = 37;
    pub const KRB_AP_ERR_MODIFIED: i32 = 41;
    pub const KRB_AP_ERR_BADKEYVER: i32 = 44;
    pub const KRB_AP_ERR_INAPP_CKSUM: i32 = 50;
    pub const KRB_ERR_RESPONSE_TOO_BIG: i32 = 52;
    pub const KRB_ERR_GENERIC: i32 = 60;
    pub const KRB_ERR_FIELD_TOOLONG: i32 = 61;
    pub const KDC_ERR_WRONG_REALM: i32 = 68;
}

/// A refusal on its way to becoming a KRB-ERROR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: i32,
    pub e_data: Option<Vec<u8>>,
    /// Why, for the log only (never sent: Windows sends no e-text).
    pub reason: &'static str,
}

impl Refusal {
    pub fn new(code: i32, reason: &'static str) -> Self {
        Refusal {
            code,
            e_data: None,
            reason,
        }
    }

    pub fn with_e_data(mut self, e_data: Vec<u8>) -> Self {
        self.e_data = Some(e_data);
        self
    }
}

/// What the error names: the request's realm and server, and the client when known.
#[derive(Debug, Clone)]
pub struct ErrorContext {
    pub realm: String,
    pub sname: PrincipalName,
    pub crealm: Option<String>,
    pub cname: Option<PrincipalName>,
}

impl ErrorContext {
    /// For requests that could not be decoded: the KDC's own realm and krbtgt.
    pub fn fallback(realm: &str) -> Self {
        ErrorContext {
            realm: realm.to_string(),
            sname: PrincipalName::new(name_type::NT_SRV_INST, &["krbtgt", realm]),
            crealm: None,
            cname: None,
        }
    }
}

/// Encodes a KRB-ERROR stamped with the KDC's time (`unix` seconds and `usec`).
pub fn encode(refusal: &Refusal, ctx: &ErrorContext, unix: i64, usec: u32) -> Vec<u8> {
    KrbError {
        ctime: None,
        cusec: None,
        stime: unix,
        susec: usec,
        error_code: refusal.code,
        crealm: ctx.crealm.clone(),
        cname: ctx.cname.clone(),
        realm: ctx.realm.clone(),
        sname: ctx.sname.clone(),
        e_text: None,
        e_data: refusal.e_data.clone(),
    }
    .to_der()
}
