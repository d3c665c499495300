//! Directory errors as Windows puts them on the wire: an LDAP result code, a Win32 error code,
//! and the extended diagnostic text `XXXXXXXX: <Kind>Err: DSID-…, problem NNNN (NAME), data N`
//! (shape from docs/notes/windows-behaviour.md; DSIDs vary by Windows build, so ours are fixed and plausible).

use std::fmt;

/// LDAP result codes (RFC 4511 §4.1.9, Appendix A); any other u32 may be sent as well.
pub mod code {
    pub const SUCCESS: u32 = 0;
    pub const OPERATIONS_ERROR: u32 = 1;
    pub const PROTOCOL_ERROR: u32 = 2;
    pub const TIME_LIMIT_EXCEEDED: u32 = 3;
    pub const SIZE_LIMIT_EXCEEDED: u32 = 4;
    pub const COMPARE_FALSE: u32 = 5;
    pub const COMPARE_TRUE: u32 = 6;
    pub const AUTH_METHOD_NOT_SUPPORTED: u32 = 7;
    pub const STRONGER_AUTH_REQUIRED: u32 = 8;
    pub const REFERRAL: u32 = 10;
    pub const ADMIN_LIMIT_EXCEEDED: u32 = 11;
    pub const UNAVAILABLE_CRITICAL_EXTENSION: u32 = 12;
    pub const CONFIDENTIALITY_REQUIRED: u32 = 13;
    pub const SASL_BIND_IN_PROGRESS: u32 = 14;
    pub const NO_SUCH_ATTRIBUTE: u32 = 16;
    pub const UNDEFINED_ATTRIBUTE_TYPE: u32 = 17;
    pub const INAPPROPRIATE_MATCHING: u32 = 18;
    pub const CONSTRAINT_VIOLATION: u32 = 19;
    pub const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
    pub const INVALID_ATTRIBUTE_SYNTAX: u32 = 21;
    pub const NO_SUCH_OBJECT: u32 = 32;
    pub const ALIAS_PROBLEM: u32 = 33;
    pub const INVALID_DN_SYNTAX: u32 = 34;
    pub const ALIAS_DEREFERENCING_PROBLEM: u32 = 36;
    pub const INAPPROPRIATE_AUTHENTICATION: u32 = 48;
    pub const INVALID_CREDENTIALS: u32 = 49;
    pub const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
    pub const BUSY: u32 = 51;
    pub const UNAVAILABLE: u32 = 52;
    pub const UNWILLING_TO_PERFORM: u32 = 53;
    pub const LOOP_DETECT: u32 = 54;
    pub const NAMING_VIOLATION: u32 = 64;
    pub const OBJECT_CLASS_VIOLATION: u32 = 65;
    pub const NOT_ALLOWED_ON_NON_LEAF: u32 = 66;
    pub const NOT_ALLOWED_ON_RDN: u32 = 67;
    pub const ENTRY_ALREADY_EXISTS: u32 = 68;
    pub const OBJECT_CLASS_MODS_PROHIBITED: u32 = 69;
    pub const AFFECTS_MULTIPLE_DSAS: u32 = 71;
    pub const OTHER: u32 = 80;
    /// RFC 3909 (Cancel), also returned by AD for an abandoned paged search.
    pub const CANCELED: u32 = 118;
}

/// Win32 error codes (winerror.h) that AD puts first in its diagnostics.
pub mod win32 {
    pub const ERROR_ACCESS_DENIED: u32 = 5;
    pub const ERROR_DS_INSUFF_ACCESS_RIGHTS: u32 = 0x2098;
    pub const ERROR_USER_EXISTS: u32 = 0x524;
    pub const ERROR_DS_CANT_ON_NON_LEAF: u32 = 0x2015;
    pub const ERROR_DS_CONFIDENTIALITY_REQUIRED: u32 = 0x202D;
    pub const ERROR_DS_OBJ_STRING_NAME_EXISTS: u32 = 0x2071;
    pub const ERROR_DS_NO_SUCH_OBJECT: u32 = 0x208D;
    pub const ERROR_DS_INVALID_DN_SYNTAX: u32 = 0x2032;
    pub const ERROR_DS_NAME_TOO_MANY_PARTS: u32 = 0x209B;
    pub const ERROR_DS_NAME_VALUE_TOO_LONG: u32 = 0x209D;
    pub const ERROR_DS_NAME_NOT_UNIQUE: u32 = 0x217B;
    pub const ERROR_DS_SPN_VALUE_NOT_UNIQUE_IN_FOREST: u32 = 0x21C7;
    pub const ERROR_DS_UPN_VALUE_NOT_UNIQUE_IN_FOREST: u32 = 0x21C8;
    pub const ERROR_DS_UNWILLING_TO_PERFORM: u32 = 0x20EF;
    pub const ERROR_DS_ATT_IS_NOT_ON_OBJ: u32 = 0x2077;
    pub const ERROR_DS_ATT_VAL_ALREADY_EXISTS: u32 = 0x2083;
    pub const ERROR_DS_CANT_REM_MISSING_ATT_VAL: u32 = 0x2080;
    pub const ERROR_DS_CANT_MOD_SYSTEM_ONLY: u32 = 0x20F1;
    pub const ERROR_DS_OPERATIONS_ERROR: u32 = 0x20E6;
    /// "A database error has occurred" (winerror.h 8409).
    pub const ERROR_DS_DATABASE_ERROR: u32 = 0x20D9;
    pub const ERROR_DS_UNAVAILABLE_CRIT_EXTENSION: u32 = 0x20C3;
    pub const ERROR_DS_CONSTRAINT_VIOLATION: u32 = 0x202F;
    pub const ERROR_INVALID_PASSWORD: u32 = 0x56B;
    pub const ERROR_PASSWORD_RESTRICTION: u32 = 0x52D;
    pub const ERROR_DS_NO_PARENT_OBJECT: u32 = 0x2089;
    pub const ERROR_NOT_AUTHENTICATED: u32 = 0x4DC;
    pub const NTE_NO_KEY: u32 = 0x8009_000D;
    pub const ERROR_DS_REFERRAL: u32 = 0x202B;
}

#[derive(Clone, PartialEq, Eq)]
pub struct DsError {
    /// LDAP result code.
    pub code: u32,
    /// Win32 error code carried in the diagnostic.
    pub win32: u32,
    /// The whole diagnostic message as sent on the wire.
    pub text: String,
    /// matchedDN for noSuchObject (the deepest existing ancestor).
    pub matched_dn: String,
    /// Referral URLs (resultCode 10).
    pub referrals: Vec<String>,
}

impl fmt::Debug for DsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DsError({}: {})", self.code, self.text)
    }
}

impl fmt::Display for DsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LDAP {}: {}", self.code, self.text)
    }
}

impl std::error::Error for DsError {}

pub type DsResult<T> = Result<T, DsError>;

impl From<crate::schema::SchemaViolation> for DsError {
    fn from(v: crate::schema::SchemaViolation) -> DsError {
        DsError::new(v.result_code.clone() as i64 as u32, v.win32, v.wire_message())
    }
}

impl DsError {
    pub fn new(code: u32, win32: u32, text: impl Into<String>) -> DsError {
        DsError {
            code,
            win32,
            text: text.into(),
            matched_dn: String::new(),
            referrals: Vec::new(),
        }
    }

    /// `UpdErr` shape: problems while updating (MS-ADTS 3.1.1.5).
    pub fn upd(code: u32, win32: u32, problem: u32, name: &str) -> DsError {
        DsError::new(
            code,
            win32,
            format!("{win32:08X}: UpdErr: DSID-031A11E2, problem {problem} ({name}), data 0\n"),
        )
    }

    /// `SvcErr` shape: the service refuses.
    pub fn svc(code: u32, win32: u32, problem: u32, name: &str, data: u32) -> DsError {
        DsError::new(
            code,
            win32,
            format!("{win32:08X}: SvcErr: DSID-031A1254, problem {problem} ({name}), data {data}\n"),
        )
    }

    /// `AtrErr` shape: a problem with one attribute (docs/notes/windows-behaviour.md row 3). The
    /// `Att` field is the attribute's ATTRTYP, computed from its attributeID through the
    /// prefix table (MS-DRSR 5.16.4; `sAMAccountName` is 900dd, `unicodePwd` 9005a), 0 for a
    /// name the schema does not know or whose prefix has no fixed index.
    pub fn atr(code: u32, win32: u32, problem: u32, name: &str, attr: &str) -> DsError {
        let attr_id = crate::schema::Schema::ad()
            .attribute(attr)
            .and_then(|a| a.attribute_id())
            .unwrap_or(0);
        DsError::new(
            code,
            win32,
            format!(
                "{win32:08X}: AtrErr: DSID-03200BBA, #1:\n\t0: {win32:08X}: DSID-03200BBA, problem {problem} ({name}), data 0, Att {attr_id:x} ({attr})\n"
            ),
        )
    }

    /// `LdapErr` shape, from the LDAP head of the DC (binds, protocol-level refusals).
    pub fn ldap(code: u32, win32: u32, comment: &str, data: &str) -> DsError {
        DsError::new(
            code,
            win32,
            format!("{win32:08X}: LdapErr: DSID-0C090A5C, comment: {comment}, data {data}, v4563\u{0}"),
        )
    }

    pub fn no_such_object(matched: &str) -> DsError {
        let mut e = DsError::new(
            code::NO_SUCH_OBJECT,
            win32::ERROR_DS_NO_SUCH_OBJECT,
            format!(
                "0000208D: NameErr: DSID-03100213, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'{matched}'\n"
            ),
        );
        e.matched_dn = matched.to_string();
        e
    }

    pub fn invalid_dn(detail: &str) -> DsError {
        DsError::new(
            code::INVALID_DN_SYNTAX,
            win32::ERROR_DS_INVALID_DN_SYNTAX,
            format!("00002081: NameErr: DSID-03050F42, problem 2003 (BAD_ATT_SYNTAX), data 0, {detail}\n"),
        )
    }

    /// A DN beyond AD's name limits (winerror.h: ERROR_DS_NAME_TOO_MANY_PARTS, "The name has
    /// too many parts."; ERROR_DS_NAME_VALUE_TOO_LONG, "The name value is too long.").
    /// invalidDNSyntax in AD's NameErr shape; docs/fidelity.md "DN limits" (inferred).
    pub fn name_limit(limit: crate::model::dn::DnLimit) -> DsError {
        use crate::model::dn::DnLimit;
        let (win32, problem) = match limit {
            DnLimit::TooManyParts => (
                win32::ERROR_DS_NAME_TOO_MANY_PARTS,
                "The name has too many parts.",
            ),
            DnLimit::ValueTooLong => (win32::ERROR_DS_NAME_VALUE_TOO_LONG, "The name value is too long."),
        };
        DsError::new(
            code::INVALID_DN_SYNTAX,
            win32,
            format!(
                "{win32:08X}: NameErr: DSID-03050F42, problem 2003 (BAD_ATT_SYNTAX), data 0, {problem}\n"
            ),
        )
    }

    /// Row 2 of docs/notes/windows-behaviour.md: the DN already exists.
    pub fn dn_exists() -> DsError {
        DsError::new(
            code::ENTRY_ALREADY_EXISTS,
            win32::ERROR_DS_OBJ_STRING_NAME_EXISTS,
            "00002071: UpdErr: DSID-030502F1, problem 6005 (ENTRY_EXISTS), data 0\n",
        )
    }

    /// Row 1 of docs/notes/windows-behaviour.md: sAMAccountName already used in the domain.
    pub fn sam_exists() -> DsError {
        DsError::upd(
            code::ENTRY_ALREADY_EXISTS,
            win32::ERROR_USER_EXISTS,
            6005,
            "ENTRY_EXISTS",
        )
    }

    /// The new parent is not among the class's possSuperiors (ERROR_DS_ILLEGAL_SUPERIOR,
    /// 0x2099; namingViolation, MS-ADTS 3.1.1.5.4.1.2 / 3.1.1.5.2.2; text shape inferred).
    pub fn illegal_superior() -> DsError {
        DsError::new(
            code::NAMING_VIOLATION,
            0x2099,
            "00002099: NameErr: DSID-0305109C, problem 2005 (NAMING_VIOLATION), data 0, best match of:\n\t''\n",
        )
    }

    /// A write, add, delete or rename the directory's access check refuses
    /// (ERROR_DS_INSUFF_ACCESS_RIGHTS). Windows' text as clients quote it for a denied
    /// attribute write or group-member write: `00002098: SecErr: DSID-03150F94, problem 4003
    /// (INSUFF_ACCESS_RIGHTS), data 0` (ltb-project/self-service-password#537,
    /// LDAPAccountManager/lam#352, rapid7/insightconnect-plugins#840); Samba 4.22 answers the
    /// same code.
    pub fn insufficient_access() -> DsError {
        DsError::new(
            code::INSUFFICIENT_ACCESS_RIGHTS,
            win32::ERROR_DS_INSUFF_ACCESS_RIGHTS,
            "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n",
        )
    }

    /// A refusal from the paths that answer ERROR_ACCESS_DENIED instead: the security
    /// descriptor write (`00000005: SecErr: DSID-03152E13 …` for an nTSecurityDescriptor write
    /// without the rights its parts need, skelsec/msldap#34) and the SAM password paths
    /// (`00000005: SecErr: DSID-031A11B9 …` for a denied unicodePwd reset, authelia#1715; other
    /// clients quote 00002098 for a reset, so this one is *inferred*).
    pub fn access_denied() -> DsError {
        DsError::new(
            code::INSUFFICIENT_ACCESS_RIGHTS,
            win32::ERROR_ACCESS_DENIED,
            "00000005: SecErr: DSID-03152E13, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n",
        )
    }

    pub fn unwilling(win32: u32) -> DsError {
        DsError::svc(code::UNWILLING_TO_PERFORM, win32, 5003, "WILL_NOT_PERFORM", 0)
    }

    pub fn constraint(win32: u32, attr: &str) -> DsError {
        DsError::atr(
            code::CONSTRAINT_VIOLATION,
            win32,
            1005,
            "CONSTRAINT_ATT_TYPE",
            attr,
        )
    }

    pub fn not_on_non_leaf() -> DsError {
        DsError::upd(
            code::NOT_ALLOWED_ON_NON_LEAF,
            win32::ERROR_DS_CANT_ON_NON_LEAF,
            6003,
            "CANT_ON_NON_LEAF",
        )
    }

    /// An operation other than bind or rootDSE read on an anonymous connection (AD answers this
    /// to every anonymous search below the rootDSE).
    pub fn needs_bind() -> DsError {
        DsError::ldap(
            code::OPERATIONS_ERROR,
            win32::ERROR_NOT_AUTHENTICATED,
            "In order to perform this operation a successful bind must be completed on the connection.",
            "0",
        )
    }

    /// MS-ADTS 3.1.1.4.4 / docs/notes/gmsa-gkdi.md §5: msDS-ManagedPassword over a channel that is neither
    /// TLS nor SASL-sealed fails the whole search.
    pub fn confidentiality_required() -> DsError {
        DsError::svc(
            code::OPERATIONS_ERROR,
            win32::ERROR_DS_CONFIDENTIALITY_REQUIRED,
            5012,
            "DIR_ERROR",
            0,
        )
    }

    pub fn operations(win32: u32, what: &str) -> DsError {
        DsError::new(
            code::OPERATIONS_ERROR,
            win32,
            format!("{win32:08X}: SvcErr: DSID-03200A0F, {what}\n"),
        )
    }

    pub fn protocol(what: &str) -> DsError {
        DsError::new(
            code::PROTOCOL_ERROR,
            0x20E5,
            format!("000020E5: LdapErr: DSID-0C0C0968, comment: {what}, data 0, v4563\u{0}"),
        )
    }

    pub fn no_such_attribute(attr: &str) -> DsError {
        DsError::atr(
            code::NO_SUCH_ATTRIBUTE,
            win32::ERROR_DS_ATT_IS_NOT_ON_OBJ,
            1001,
            "NO_ATTRIBUTE_OR_VALUE",
            attr,
        )
    }

    pub fn value_exists(attr: &str) -> DsError {
        DsError::atr(
            code::ATTRIBUTE_OR_VALUE_EXISTS,
            win32::ERROR_DS_ATT_VAL_ALREADY_EXISTS,
            1006,
            "ATT_OR_VALUE_EXISTS",
            attr,
        )
    }

    /// The 8-hex-digit Win32 prefix of the diagnostic, as clients classify it.
    pub fn win32_prefix(&self) -> String {
        format!("{:08X}", self.win32)
    }
}
