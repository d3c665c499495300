//! KRB-ERROR replies (RFC 4120 §5.9.1). Every error carries stime/susec from the simulated
//! clock: MIT's default `kdc_timesync = 1` uses them to correct a skewed client
//! (docs/notes/client-interop.md §11).

use super::messages::{name_type, KrbError, PrincipalName};

macro_rules! error_codes {
    ($($name:ident = $value:literal,)*) => {
        /// Error codes by their RFC names (`code::KRB_AP_ERR_SKEW`).
        #[allow(missing_docs)]
        pub mod code {
            $(pub const $name: i32 = $value;)*
        }
        /// Every code with its name, in numeric order.
        pub const ERROR_CODES: &[(i32, &str)] = &[$(($value, stringify!($name)),)*];
    };
}

// RFC 4120 §7.5.9 in full, then the FAST codes of RFC 6113 (MS-KILE supports FAST; the
// KDC here does not and sends RFC 4120 codes only). The recorder and the scenario format name
// errors from this table.
error_codes! {
    KDC_ERR_NONE = 0,
    KDC_ERR_NAME_EXP = 1,
    KDC_ERR_SERVICE_EXP = 2,
    KDC_ERR_BAD_PVNO = 3,
    KDC_ERR_C_OLD_MAST_KVNO = 4,
    KDC_ERR_S_OLD_MAST_KVNO = 5,
    KDC_ERR_C_PRINCIPAL_UNKNOWN = 6,
    KDC_ERR_S_PRINCIPAL_UNKNOWN = 7,
    KDC_ERR_PRINCIPAL_NOT_UNIQUE = 8,
    KDC_ERR_NULL_KEY = 9,
    KDC_ERR_CANNOT_POSTDATE = 10,
    KDC_ERR_NEVER_VALID = 11,
    KDC_ERR_POLICY = 12,
    KDC_ERR_BADOPTION = 13,
    KDC_ERR_ETYPE_NOSUPP = 14,
    KDC_ERR_SUMTYPE_NOSUPP = 15,
    KDC_ERR_PADATA_TYPE_NOSUPP = 16,
    KDC_ERR_TRTYPE_NOSUPP = 17,
    KDC_ERR_CLIENT_REVOKED = 18,
    KDC_ERR_SERVICE_REVOKED = 19,
    KDC_ERR_TGT_REVOKED = 20,
    KDC_ERR_CLIENT_NOTYET = 21,
    KDC_ERR_SERVICE_NOTYET = 22,
    KDC_ERR_KEY_EXPIRED = 23,
    KDC_ERR_PREAUTH_FAILED = 24,
    KDC_ERR_PREAUTH_REQUIRED = 25,
    KDC_ERR_SERVER_NOMATCH = 26,
    KDC_ERR_MUST_USE_USER2USER = 27,
    KDC_ERR_PATH_NOT_ACCEPTED = 28,
    KDC_ERR_SVC_UNAVAILABLE = 29,
    KRB_AP_ERR_BAD_INTEGRITY = 31,
    KRB_AP_ERR_TKT_EXPIRED = 32,
    KRB_AP_ERR_TKT_NYV = 33,
    KRB_AP_ERR_REPEAT = 34,
    KRB_AP_ERR_NOT_US = 35,
    KRB_AP_ERR_BADMATCH = 36,
    KRB_AP_ERR_SKEW = 37,
    KRB_AP_ERR_BADADDR = 38,
    KRB_AP_ERR_BADVERSION = 39,
    KRB_AP_ERR_MSG_TYPE = 40,
    KRB_AP_ERR_MODIFIED = 41,
    KRB_AP_ERR_BADORDER = 42,
    KRB_AP_ERR_BADKEYVER = 44,
    KRB_AP_ERR_NOKEY = 45,
    KRB_AP_ERR_MUT_FAIL = 46,
    KRB_AP_ERR_BADDIRECTION = 47,
    KRB_AP_ERR_METHOD = 48,
    KRB_AP_ERR_BADSEQ = 49,
    KRB_AP_ERR_INAPP_CKSUM = 50,
    KRB_AP_PATH_NOT_ACCEPTED = 51,
    KRB_ERR_RESPONSE_TOO_BIG = 52,
    KRB_ERR_GENERIC = 60,
    KRB_ERR_FIELD_TOOLONG = 61,
    KDC_ERROR_CLIENT_NOT_TRUSTED = 62,
    KDC_ERROR_KDC_NOT_TRUSTED = 63,
    KDC_ERROR_INVALID_SIG = 64,
    KDC_ERR_KEY_TOO_WEAK = 65,
    KDC_ERR_CERTIFICATE_MISMATCH = 66,
    KRB_AP_ERR_NO_TGT = 67,
    KDC_ERR_WRONG_REALM = 68,
    KRB_AP_ERR_USER_TO_USER_REQUIRED = 69,
    KDC_ERR_CANT_VERIFY_CERTIFICATE = 70,
    KDC_ERR_INVALID_CERTIFICATE = 71,
    KDC_ERR_REVOKED_CERTIFICATE = 72,
    KDC_ERR_REVOCATION_STATUS_UNKNOWN = 73,
    KDC_ERR_REVOCATION_STATUS_UNAVAILABLE = 74,
    KDC_ERR_CLIENT_NAME_MISMATCH = 75,
    KDC_ERR_KDC_NAME_MISMATCH = 76,
    KDC_ERR_PREAUTH_EXPIRED = 90,
    KDC_ERR_MORE_PREAUTH_DATA_REQUIRED = 91,
    KDC_ERR_PREAUTH_BAD_AUTHENTICATION_SET = 92,
    KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS = 93,
}

/// The RFC name of an error code (`37` → `KRB_AP_ERR_SKEW`).
pub fn error_name(code: i32) -> Option<&'static str> {
    ERROR_CODES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// The code of an error name, case-insensitive (`krb_ap_err_skew` → 37).
pub fn error_code(name: &str) -> Option<i32> {
    ERROR_CODES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(c, _)| *c)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        assert_eq!(error_name(code::KRB_AP_ERR_SKEW), Some("KRB_AP_ERR_SKEW"));
        assert_eq!(error_name(11), Some("KDC_ERR_NEVER_VALID"));
        assert_eq!(error_code("kdc_err_never_valid"), Some(11));
        assert_eq!(error_code("KDC_ERR_PREAUTH_FAILED"), Some(24));
        assert_eq!(error_name(30), None, "30 is unassigned");
        assert_eq!(error_code("KRB_NOT_A_THING"), None);
        // Moved from the scenario client, whose names these were.
        assert_eq!(error_code("krb_ap_err_skew"), Some(37));
        assert_eq!(error_name(37), Some("KRB_AP_ERR_SKEW"));
        assert_eq!(error_code("NOT_AN_ERROR"), None);
        for (c, n) in ERROR_CODES {
            assert_eq!((error_name(*c), error_code(n)), (Some(*n), Some(*c)));
        }
        assert!(
            ERROR_CODES.windows(2).all(|w| w[0].0 < w[1].0),
            "numeric order, no repeats"
        );
    }
}
