//! PowerShell error records as the ActiveDirectory module reports them: a category
//! (System.Management.Automation.ErrorCategory), a fully qualified error id and a message.
//!
//! Shapes (sources in docs/fidelity.md, "cmdlets" rows):
//! - a directory error: `ActiveDirectoryServer:<Win32 code>,Microsoft.ActiveDirectory.Management.Commands.<Verb><Noun>`,
//!   category NotSpecified, the message the Win32 code's text (1316 "The specified account already
//!   exists", 8305 "An attempt was made to add an object to the directory with a name that is
//!   already in use", NTE_NO_KEY "Key does not exist");
//! - an identity that resolves to nothing: ADIdentityNotFoundException, ObjectNotFound, "Cannot
//!   find an object with identity: 'X' under: 'DC=…'.";
//! - access denied: System.UnauthorizedAccessException, PermissionDenied, "Insufficient access
//!   rights to perform the operation";
//! - parameter binding: NamedParameterNotFound, MissingMandatoryParameter,
//!   AmbiguousParameterSet, ParameterArgumentTransformationError (InvalidArgument or InvalidData),
//!   with PowerShell's own texts;
//! - an unknown command: CommandNotFoundException, ObjectNotFound.

use serde_json::{json, Value};

use crate::dsa::error::code;
use crate::dsa::DsError;

/// One PowerShell error record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRecord {
    /// `ErrorCategory` name: NotSpecified, ObjectNotFound, InvalidArgument, PermissionDenied…
    pub category: &'static str,
    pub fully_qualified_error_id: String,
    pub message: String,
    /// The target object's text in CategoryInfo (`(CN=x,…:String)`), when there is one.
    pub target: Option<String>,
    /// The exception type in CategoryInfo (`ADException`, `ParameterBindingException`…).
    pub reason: &'static str,
}

/// `Microsoft.ActiveDirectory.Management.Commands.NewADServiceAccount` for `New-ADServiceAccount`.
pub fn command_class(cmdlet: &str) -> String {
    let compact: String = cmdlet.chars().filter(|c| *c != '-').collect();
    if cmdlet.to_ascii_lowercase().contains("kdsrootkey") {
        format!("Microsoft.KeyDistributionService.Cmdlets.{compact}")
    } else {
        format!("Microsoft.ActiveDirectory.Management.Commands.{compact}")
    }
}

/// Win32 / HRESULT codes the directory reports and the message text Windows gives them
/// (FormatMessage), as the AD module shows them. One table per enumeration.
const WIN32_MESSAGES: &[(u32, &str)] = &[
    (5, "Access is denied"),
    (1316, "The specified account already exists"),
    (
        8305,
        "An attempt was made to add an object to the directory with a name that is already in use",
    ),
    (
        8647,
        "The operation failed because SPN value provided for addition/modification is not unique forest-wide",
    ),
    (
        8648,
        "The operation failed because UPN value provided for addition/modification is not unique forest-wide",
    ),
    (0x8009_000D, "Key does not exist"),
    (
        8202,
        "The directory service cannot perform the requested operation on the RDN attribute of an object",
    ),
    (8197, "The object class is not supported"),
];

impl ErrorRecord {
    pub fn new(category: &'static str, id: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorRecord {
            category,
            fully_qualified_error_id: id.into(),
            message: message.into(),
            target: None,
            reason: "ADException",
        }
    }

    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = reason;
        self
    }

    /// The directory refused the cmdlet's operation.
    pub fn directory(cmdlet: &str, e: &DsError) -> ErrorRecord {
        let class = command_class(cmdlet);
        if e.code == code::INSUFFICIENT_ACCESS_RIGHTS {
            return ErrorRecord::new(
                "PermissionDenied",
                format!("ActiveDirectoryCmdlet:System.UnauthorizedAccessException,{class}"),
                "Insufficient access rights to perform the operation",
            )
            .with_reason("UnauthorizedAccessException");
        }
        let message = WIN32_MESSAGES
            .iter()
            .find(|(c, _)| *c == e.win32)
            .map(|(_, m)| m.to_string())
            // A code without a table row: the DC's own diagnostic, as the module does for
            // server errors it has no text for.
            .unwrap_or_else(|| e.text.trim_end_matches(['\n', '\0']).to_string());
        ErrorRecord::new(
            "NotSpecified",
            format!("ActiveDirectoryServer:{},{class}", e.win32 as i32),
            message,
        )
    }

    /// `-Identity` named nothing.
    pub fn identity_not_found(cmdlet: &str, identity: &str, under: &str) -> ErrorRecord {
        ErrorRecord::new(
            "ObjectNotFound",
            format!(
                "ActiveDirectoryCmdlet:Microsoft.ActiveDirectory.Management.ADIdentityNotFoundException,{}",
                command_class(cmdlet)
            ),
            format!("Cannot find an object with identity: '{identity}' under: '{under}'."),
        )
        .with_target(identity.to_string())
        .with_reason("ADIdentityNotFoundException")
    }

    pub fn parameter_not_found(cmdlet: &str, name: &str) -> ErrorRecord {
        ErrorRecord::new(
            "InvalidArgument",
            format!("NamedParameterNotFound,{}", command_class(cmdlet)),
            format!("A parameter cannot be found that matches parameter name '{name}'."),
        )
        .with_reason("ParameterBindingException")
    }

    pub fn missing_mandatory(cmdlet: &str, names: &[&str]) -> ErrorRecord {
        ErrorRecord::new(
            "InvalidArgument",
            format!("MissingMandatoryParameter,{}", command_class(cmdlet)),
            format!(
                "Cannot process command because of one or more missing mandatory parameters: {}.",
                names.join(" ")
            ),
        )
        .with_reason("ParameterBindingException")
    }

    pub fn ambiguous_parameter_set(cmdlet: &str) -> ErrorRecord {
        ErrorRecord::new(
            "InvalidArgument",
            format!("AmbiguousParameterSet,{}", command_class(cmdlet)),
            "Parameter set cannot be resolved using the specified named parameters.",
        )
        .with_reason("ParameterBindingException")
    }

    /// A value that does not convert to the parameter's type.
    pub fn bad_argument(cmdlet: &str, name: &str, detail: &str) -> ErrorRecord {
        ErrorRecord::new(
            "InvalidData",
            format!("ParameterArgumentTransformationError,{}", command_class(cmdlet)),
            format!("Cannot process argument transformation on parameter '{name}'. {detail}"),
        )
        .with_reason("ParameterBindingArgumentTransformationException")
    }

    /// A parameter with an argument it refuses (ValidateSet, ValidateRange…).
    pub fn bad_value(cmdlet: &str, name: &str, detail: &str) -> ErrorRecord {
        ErrorRecord::new(
            "InvalidData",
            format!("ParameterArgumentValidationError,{}", command_class(cmdlet)),
            format!("Cannot validate argument on parameter '{name}'. {detail}"),
        )
        .with_reason("ParameterBindingValidationException")
    }

    pub fn command_not_found(name: &str) -> ErrorRecord {
        ErrorRecord::new(
            "ObjectNotFound",
            "CommandNotFoundException",
            format!(
                "The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
            ),
        )
        .with_target(name.to_string())
        .with_reason("CommandNotFoundException")
    }

    pub fn to_json(&self) -> Value {
        json!({
            "category": self.category,
            "fully_qualified_error_id": self.fully_qualified_error_id,
            "message": self.message,
            "target": self.target,
            "reason": self.reason,
        })
    }

    pub fn from_json(v: &Value) -> Option<ErrorRecord> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(ErrorRecord {
            category: category_name(&s("category")?),
            fully_qualified_error_id: s("fully_qualified_error_id")?,
            message: s("message")?,
            target: s("target"),
            reason: reason_name(&s("reason").unwrap_or_default()),
        })
    }
}

/// ErrorCategory names used here (the enumeration's members).
const CATEGORIES: &[&str] = &[
    "NotSpecified",
    "ObjectNotFound",
    "InvalidArgument",
    "InvalidData",
    "InvalidOperation",
    "PermissionDenied",
    "ResourceExists",
    "WriteError",
    "ParserError",
];

const REASONS: &[&str] = &[
    "ADException",
    "ADIdentityNotFoundException",
    "UnauthorizedAccessException",
    "ParameterBindingException",
    "ParameterBindingArgumentTransformationException",
    "ParameterBindingValidationException",
    "CommandNotFoundException",
    "RuntimeException",
    "ADFilterParsingException",
];

fn category_name(s: &str) -> &'static str {
    CATEGORIES
        .iter()
        .find(|c| **c == s)
        .copied()
        .unwrap_or("NotSpecified")
}

fn reason_name(s: &str) -> &'static str {
    REASONS
        .iter()
        .find(|c| **c == s)
        .copied()
        .unwrap_or("ADException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_errors_carry_the_win32_text_and_code() {
        let r = ErrorRecord::directory("New-ADServiceAccount", &DsError::sam_exists());
        assert_eq!(r.message, "The specified account already exists");
        assert_eq!(
            r.fully_qualified_error_id,
            "ActiveDirectoryServer:1316,Microsoft.ActiveDirectory.Management.Commands.NewADServiceAccount"
        );
        let r = ErrorRecord::directory("New-ADServiceAccount", &crate::dsa::gmsa::no_root_key());
        assert_eq!(r.message, "Key does not exist");
        let r = ErrorRecord::directory("Set-ADServiceAccount", &DsError::insufficient_access());
        assert_eq!(r.category, "PermissionDenied");
        assert_eq!(ErrorRecord::from_json(&r.to_json()), Some(r));
    }
}
