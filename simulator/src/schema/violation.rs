//! Schema errors in the shape a Windows DC puts on the wire: an LDAP result code plus the
//! extended error text `XXXXXXXX: <Kind>Err: DSID-XXXXXXXX, problem NNNN (NAME), data N`, whose
//! leading Win32 code is what clients classify errors by (docs/notes/windows-behaviour.md).
//!
//! Shapes and codes come from captured Windows answers where one exists (noted [C]/[C2]) and are
//! otherwise inferred from MS-ADTS and the Win32 constants (noted [I]). DSIDs name the source line
//! of the Windows build that raised the error; they vary by build and clients do not read them.

use std::fmt;

use ldap3_proto::LdapResultCode;

use super::types::AttributeType;

/// Win32 codes (winerror.h) used by schema checks.
pub mod win32 {
    pub const ERROR_INVALID_PARAMETER: u32 = 87;
    pub const ERROR_DS_OBJECT_CLASS_REQUIRED: u32 = 8315;
    pub const ERROR_DS_MISSING_REQUIRED_ATT: u32 = 8316;
    pub const ERROR_DS_ATT_NOT_DEF_FOR_CLASS: u32 = 8317;
    pub const ERROR_DS_ATT_ALREADY_EXISTS: u32 = 8318;
    pub const ERROR_DS_SINGLE_VALUE_CONSTRAINT: u32 = 8321;
    pub const ERROR_DS_RANGE_CONSTRAINT: u32 = 8322;
    pub const ERROR_DS_ATT_VAL_ALREADY_EXISTS: u32 = 8323;
    pub const ERROR_DS_CANT_ADD_SYSTEM_ONLY: u32 = 8358;
    pub const ERROR_DS_CLASS_MUST_BE_CONCRETE: u32 = 8359;
    pub const ERROR_DS_OBJ_CLASS_NOT_SUBCLASS: u32 = 8372;
}

/// The LdapErr build tag of Windows Server 2016-era DCs (`…, data 0, v4563`).
const LDAP_ERR_VERSION: &str = "v4563";
const DSID_LDAP_CONVERSION: &str = "DSID-0C090D8A"; // [C2] attribute-conversion captures
const DSID_OBJ_CLASS_VIOLATION: &str = "DSID-03151CEB"; // [C2] 0000207C capture
const DSID_ATTRIBUTE: &str = "DSID-03151E6D";
const DSID_SERVICE: &str = "DSID-031A1254";

/// A refused add or modify, ready for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    pub result_code: LdapResultCode,
    /// The Win32 error the text starts with.
    pub win32: u32,
    /// The diagnostic text without the trailing NUL Windows appends (see [`Self::wire_message`]).
    pub message: String,
}

impl SchemaViolation {
    fn new(result_code: LdapResultCode, win32: u32, message: String) -> Self {
        SchemaViolation {
            result_code,
            win32,
            message,
        }
    }

    /// The diagnosticMessage bytes as Windows sends them: the text followed by a NUL (seen in
    /// captures of AD errors, e.g. msldap's `…Att 90303 (servicePrincipalName)\n\x00`) [C2].
    pub fn wire_message(&self) -> String {
        format!("{}\0", self.message)
    }

    /// The LDAP front end could not convert a value or name: AD's `Error in attribute conversion
    /// operation` with ERROR_INVALID_PARAMETER.
    fn conversion(result_code: LdapResultCode) -> Self {
        let message = format!(
            "{:08X}: LdapErr: {DSID_LDAP_CONVERSION}, comment: Error in attribute conversion operation, data 0, \
             {LDAP_ERR_VERSION}",
            win32::ERROR_INVALID_PARAMETER
        );
        Self::new(result_code, win32::ERROR_INVALID_PARAMETER, message)
    }

    fn update_error(result_code: LdapResultCode, code: u32, data: i64) -> Self {
        let message =
            format!("{code:08X}: UpdErr: {DSID_OBJ_CLASS_VIOLATION}, problem 6002 (OBJ_CLASS_VIOLATION), data {data}\n");
        Self::new(result_code, code, message)
    }

    fn attribute_error(result_code: LdapResultCode, code: u32, problem: &str, attr: &AttributeType) -> Self {
        let attid = attr.attribute_id().unwrap_or(0);
        let message = format!(
            "{code:08X}: AtrErr: {DSID_ATTRIBUTE}, #1:\n\t0: {code:08X}: {DSID_ATTRIBUTE}, problem {problem}, data 0, \
             Att {attid:x} ({})\n",
            attr.name
        );
        Self::new(result_code, code, message)
    }

    fn service_error(code: u32) -> Self {
        let message =
            format!("{code:08X}: SvcErr: {DSID_SERVICE}, problem 5003 (WILL_NOT_PERFORM), data 0\n");
        Self::new(LdapResultCode::UnwillingToPerform, code, message)
    }

    /// An attribute name the schema does not define: noSuchAttribute (16) [C2: Samba's ldap.py,
    /// written against Windows, and a Windows capture "No such attribute (16) … 00000057"].
    pub fn no_such_attribute() -> Self {
        Self::conversion(LdapResultCode::NoSuchAttribute)
    }

    /// An objectClass value naming no class: also noSuchAttribute (16) [C2, same sources].
    pub fn unknown_class() -> Self {
        Self::conversion(LdapResultCode::NoSuchAttribute)
    }

    /// A value the attribute's syntax rejects: invalidAttributeSyntax (21) [C2: "The syntax is
    /// invalid … Error in attribute conversion operation, data 0, v3839"].
    pub fn invalid_syntax() -> Self {
        Self::conversion(LdapResultCode::InvalidAttributeSyntax)
    }

    /// An attribute listed with no values: constraintViolation (19) [code C2 (Samba/Windows test);
    /// text I].
    pub fn no_values() -> Self {
        Self::conversion(LdapResultCode::ConstraintViolation)
    }

    /// No objectClass at all: 65 `0000207B` [C2: captured text].
    pub fn object_class_required() -> Self {
        Self::update_error(
            LdapResultCode::ObjectClassViolation,
            win32::ERROR_DS_OBJECT_CLASS_REQUIRED,
            0,
        )
    }

    /// A mustContain attribute is absent: 65 `0000207C` [C2: captured text].
    pub fn missing_required(_attr: &AttributeType) -> Self {
        Self::update_error(
            LdapResultCode::ObjectClassViolation,
            win32::ERROR_DS_MISSING_REQUIRED_ATT,
            0,
        )
    }

    /// An attribute outside the object's mayContain/mustContain: 65 `0000207D`. Windows puts the
    /// offending ATTRTYP (as a signed number) in `data` [C2: one ADAM capture; I otherwise].
    pub fn not_allowed(attr: &AttributeType) -> Self {
        let data = attr.attribute_id().map(|id| i64::from(id as i32)).unwrap_or(0);
        Self::update_error(
            LdapResultCode::ObjectClassViolation,
            win32::ERROR_DS_ATT_NOT_DEF_FOR_CLASS,
            data,
        )
    }

    /// Several structural classes not on one inheritance chain, or an abstract class outside the
    /// object's chains: 65 ERROR_DS_OBJ_CLASS_NOT_SUBCLASS [code C2 (MS-ADTS add constraints); text I].
    pub fn class_not_subclass() -> Self {
        Self::update_error(
            LdapResultCode::ObjectClassViolation,
            win32::ERROR_DS_OBJ_CLASS_NOT_SUBCLASS,
            0,
        )
    }

    /// No structural class (only abstract or auxiliary ones): 53 ERROR_DS_CLASS_MUST_BE_CONCRETE
    /// [code C2; text I].
    pub fn class_must_be_concrete() -> Self {
        Self::service_error(win32::ERROR_DS_CLASS_MUST_BE_CONCRETE)
    }

    /// A client add of a systemOnly class: 53 ERROR_DS_CANT_ADD_SYSTEM_ONLY [code C2; text I].
    pub fn cant_add_system_only() -> Self {
        Self::service_error(win32::ERROR_DS_CANT_ADD_SYSTEM_ONLY)
    }

    /// More than one value for a single-valued attribute in an add: 19 `00002081` [I, shaped as
    /// the captured AtrErr answers].
    pub fn single_valued(attr: &AttributeType) -> Self {
        Self::attribute_error(
            LdapResultCode::ConstraintViolation,
            win32::ERROR_DS_SINGLE_VALUE_CONSTRAINT,
            "1005 (CONSTRAINT_ATT_TYPE)",
            attr,
        )
    }

    /// A value outside rangeLower..rangeUpper: 19 `00002082` [I, AtrErr shape].
    pub fn range(attr: &AttributeType) -> Self {
        Self::attribute_error(
            LdapResultCode::ConstraintViolation,
            win32::ERROR_DS_RANGE_CONSTRAINT,
            "1005 (CONSTRAINT_ATT_TYPE)",
            attr,
        )
    }

    /// The same value twice: 20 `00002083` [I, AtrErr shape].
    pub fn value_exists(attr: &AttributeType) -> Self {
        Self::attribute_error(
            LdapResultCode::AttributeOrValueExists,
            win32::ERROR_DS_ATT_VAL_ALREADY_EXISTS,
            "1006 (ATT_OR_VALUE_EXISTS)",
            attr,
        )
    }

    /// The same attribute listed twice in one add: 20 `0000207E` [I, AtrErr shape].
    pub fn attribute_exists(attr: &AttributeType) -> Self {
        Self::attribute_error(
            LdapResultCode::AttributeOrValueExists,
            win32::ERROR_DS_ATT_ALREADY_EXISTS,
            "1006 (ATT_OR_VALUE_EXISTS)",
            attr,
        )
    }
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LDAP {:?}: {}", self.result_code, self.message.trim_end())
    }
}

impl std::error::Error for SchemaViolation {}
