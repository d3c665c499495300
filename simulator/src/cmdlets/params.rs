//! Parameter binding for the cmdlets: named parameters as JSON values (string, number, bool,
//! array, object for a hashtable, null), matched case-insensitively by full name or by an
//! unambiguous prefix as PowerShell does, converted to the parameter's type, and every
//! parameter the caller gave but the cmdlet does not have refused with PowerShell's
//! NamedParameterNotFound error.

use serde_json::{Map, Value};

use super::record::ErrorRecord;

/// A parameter's type, for conversion and the errors of a wrong value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Strings,
    Int,
    Bool,
    Switch,
    Hashtable,
}

/// One parameter of a cmdlet: its name as PowerShell spells it and its type.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    pub mandatory: bool,
}

pub const fn p(name: &'static str, kind: Kind) -> Spec {
    Spec {
        name,
        kind,
        mandatory: false,
    }
}

pub const fn required(name: &'static str, kind: Kind) -> Spec {
    Spec {
        name,
        kind,
        mandatory: true,
    }
}

/// The parameters every AD cmdlet takes and adsim accepts without effect: `-Server` is kept
/// (it picks the domain), the common parameters and `-Confirm` change nothing here (no prompts).
const COMMON: &[Spec] = &[
    p("Server", Kind::String),
    p("Confirm", Kind::Switch),
    p("WhatIf", Kind::Switch),
    p("Verbose", Kind::Switch),
    p("ErrorAction", Kind::String),
    p("WarningAction", Kind::String),
    p("Credential", Kind::String),
    p("AuthType", Kind::String),
];

/// The bound parameters of one call.
#[derive(Debug, Clone)]
pub struct Bound {
    pub cmdlet: String,
    values: Vec<(&'static str, Value)>,
}

/// Binds `given` to `specs` (and the common parameters).
pub fn bind(cmdlet: &str, specs: &[Spec], given: &Map<String, Value>) -> Result<Bound, ErrorRecord> {
    let mut values = Vec::new();
    for (name, value) in given {
        let spec = resolve(cmdlet, specs, name)?;
        let v = convert(cmdlet, spec, value)?;
        values.push((spec.name, v));
    }
    let missing: Vec<&str> = specs
        .iter()
        .filter(|s| s.mandatory && !values.iter().any(|(n, _)| n == &s.name))
        .map(|s| s.name)
        .collect();
    if !missing.is_empty() {
        return Err(ErrorRecord::missing_mandatory(cmdlet, &missing));
    }
    Ok(Bound {
        cmdlet: cmdlet.to_string(),
        values,
    })
}

/// A full name, case-insensitively, or a prefix naming exactly one parameter.
fn resolve<'s>(cmdlet: &str, specs: &'s [Spec], name: &str) -> Result<&'s Spec, ErrorRecord> {
    let all = || specs.iter().chain(COMMON.iter());
    if let Some(s) = all().find(|s| s.name.eq_ignore_ascii_case(name)) {
        return Ok(s);
    }
    let lower = name.to_ascii_lowercase();
    let matches: Vec<&Spec> = all()
        .filter(|s| !name.is_empty() && s.name.to_ascii_lowercase().starts_with(&lower))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(ErrorRecord::parameter_not_found(cmdlet, name)),
        many => Err(ErrorRecord::new(
            "InvalidArgument",
            format!("AmbiguousParameter,{}", super::record::command_class(cmdlet)),
            format!(
                "Parameter cannot be processed because the parameter name '{name}' is ambiguous. Possible matches include: {}.",
                many.iter().map(|s| format!("-{}", s.name)).collect::<Vec<_>>().join(" ")
            ),
        )),
    }
}

fn convert(cmdlet: &str, spec: &Spec, v: &Value) -> Result<Value, ErrorRecord> {
    let bad = |what: &str| ErrorRecord::bad_argument(cmdlet, spec.name, what);
    Ok(match spec.kind {
        Kind::String => match v {
            Value::String(_) => v.clone(),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(if *b { "True" } else { "False" }.into()),
            Value::Array(a) if a.len() == 1 => return convert(cmdlet, spec, &a[0]),
            _ => return Err(bad("Cannot convert the value to type \"System.String\".")),
        },
        Kind::Strings => match v {
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| convert(cmdlet, &p(spec.name, Kind::String), x))
                    .collect::<Result<_, _>>()?,
            ),
            other => Value::Array(vec![convert(cmdlet, &p(spec.name, Kind::String), other)?]),
        },
        Kind::Int => match v {
            Value::Number(n) if n.is_i64() => v.clone(),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| bad(&format!("Cannot convert value \"{s}\" to type \"System.Int32\". Error: \"Input string was not in a correct format.\"")))?,
            _ => return Err(bad("Cannot convert the value to type \"System.Int32\".")),
        },
        Kind::Bool | Kind::Switch => match v {
            Value::Bool(_) => v.clone(),
            Value::Null if spec.kind == Kind::Switch => Value::Bool(true),
            Value::Number(n) => Value::Bool(n.as_i64() != Some(0)),
            _ => {
                return Err(bad(
                    "Cannot convert value \"System.String\" to type \"System.Boolean\". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
                ))
            }
        },
        Kind::Hashtable => match v {
            Value::Object(_) => v.clone(),
            _ => return Err(bad("Cannot convert the value to type \"System.Collections.Hashtable\".")),
        },
    })
}

impl Bound {
    fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).and_then(Value::as_str).map(str::to_string)
    }

    pub fn strings(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(Value::as_bool)
    }

    /// A switch: given and not `:$false`.
    pub fn switch(&self, name: &str) -> bool {
        self.bool(name).unwrap_or(false)
    }

    pub fn hashtable(&self, name: &str) -> Option<&Map<String, Value>> {
        self.get(name).and_then(Value::as_object)
    }
}

/// A hashtable value as strings (a scalar or an array).
pub fn value_strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().flat_map(value_strings).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(b) => vec![if *b { "TRUE" } else { "FALSE" }.to_string()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPECS: &[Spec] = &[
        required("Name", Kind::String),
        p("ManagedPasswordIntervalInDays", Kind::Int),
        p("ServicePrincipalNames", Kind::Strings),
        p("Enabled", Kind::Bool),
        p("RestrictToSingleComputer", Kind::Switch),
    ];

    fn b(v: Value) -> Result<Bound, ErrorRecord> {
        bind("New-ADServiceAccount", SPECS, v.as_object().unwrap())
    }

    #[test]
    fn binds_names_case_insensitively_and_by_prefix_and_converts() {
        let r = b(json!({"name": "svc", "ManagedPassword": "30", "ServicePrincipalNames": "a/b", "restricttosingle": null}))
            .unwrap();
        assert_eq!(r.string("Name").as_deref(), Some("svc"));
        assert_eq!(r.int("ManagedPasswordIntervalInDays"), Some(30));
        assert_eq!(r.strings("ServicePrincipalNames"), vec!["a/b"]);
        assert!(r.switch("RestrictToSingleComputer"));
    }

    #[test]
    fn refuses_unknown_missing_and_mistyped_parameters() {
        let e = b(json!({"Name": "x", "Nope": 1})).unwrap_err();
        assert_eq!(
            e.message,
            "A parameter cannot be found that matches parameter name 'Nope'."
        );
        assert!(e.fully_qualified_error_id.starts_with("NamedParameterNotFound,"));
        let e = b(json!({})).unwrap_err();
        assert_eq!(
            e.message,
            "Cannot process command because of one or more missing mandatory parameters: Name."
        );
        let e = b(json!({"Name": "x", "ManagedPasswordIntervalInDays": "ten"})).unwrap_err();
        assert!(e
            .fully_qualified_error_id
            .starts_with("ParameterArgumentTransformationError"));
        let e = b(json!({"Name": "x", "Enabled": "yes"})).unwrap_err();
        assert!(
            e.message
                .contains("Boolean parameters accept only Boolean values"),
            "{}",
            e.message
        );
        // "Se" is both -ServicePrincipalNames and -Server.
        let e = b(json!({"Name": "x", "Se": "a"})).unwrap_err();
        assert!(
            e.fully_qualified_error_id.starts_with("AmbiguousParameter,"),
            "{e:?}"
        );
    }
}
