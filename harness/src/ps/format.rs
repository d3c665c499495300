//! PowerShell's default formatting (Out-Default) of what a statement outputs: a scalar as its
//! text; an object with fewer than five properties as a table, with five or more as a list
//! (about_Format.ps1xml: objects without a view use a table up to four properties, else a
//! list); `Name : Value` lines aligned on the longest name; collections as `{a, b, c, d...}`
//! ($FormatEnumerationLimit = 4); `$true` as `True`; error records as the console host prints
//! them (message, position, underline, CategoryInfo, FullyQualifiedErrorId).

use adsim_simulator::cmdlets::object::PsObject;
use adsim_simulator::cmdlets::record::ErrorRecord;
use serde_json::Value;

/// `$FormatEnumerationLimit`'s default.
pub const ENUMERATION_LIMIT: usize = 4;

/// A property value as a cell shows it.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let shown: Vec<String> = a.iter().take(ENUMERATION_LIMIT).map(value_text).collect();
            let more = if a.len() > ENUMERATION_LIMIT { "..." } else { "" };
            format!("{{{}{more}}}", shown.join(", "))
        }
        Value::Object(o) => match PsObject::from_json(v) {
            Some(p) => object_text(&p),
            None => format!("{{{}}}", o.keys().cloned().collect::<Vec<_>>().join(", ")),
        },
    }
}

/// An object inside a string or a cell: its DistinguishedName, else its type name (what
/// ToString gives for AD objects and others).
pub fn object_text(o: &PsObject) -> String {
    o.get("DistinguishedName")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| match o.properties.as_slice() {
            [(_, v)] => value_text(v),
            _ => o.type_name.clone(),
        })
}

/// `Name : Value` lines, names padded to the longest.
pub fn list(objects: &[PsObject]) -> String {
    let mut out = String::from("\n");
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let width = o
            .properties
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(0);
        for (n, v) in &o.properties {
            let line = format!("{n:<width$} : {}", value_text(v));
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

/// A table: headers, dashes under each header's text, left-aligned cells.
pub fn table(objects: &[PsObject]) -> String {
    let Some(first) = objects.first() else {
        return String::new();
    };
    let names: Vec<&str> = first.properties.iter().map(|(n, _)| n.as_str()).collect();
    let cells: Vec<Vec<String>> = objects
        .iter()
        .map(|o| {
            names
                .iter()
                .map(|n| o.get(n).map(value_text).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(n.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let row = |items: Vec<String>| -> String {
        let mut line = String::new();
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            line.push_str(&format!("{it:<w$}", w = widths[i]));
        }
        line.trim_end().to_string() + "\n"
    };
    let mut out = String::from("\n");
    out.push_str(&row(names.iter().map(|n| n.to_string()).collect()));
    out.push_str(&row(names
        .iter()
        .map(|n| "-".repeat(n.chars().count()))
        .collect()));
    for r in cells {
        out.push_str(&row(r));
    }
    out.push('\n');
    out
}

/// Out-Default for one statement's output: runs of objects of one type share a view.
pub fn out_default(values: &[Value]) -> String {
    let mut out = String::new();
    let mut run: Vec<PsObject> = Vec::new();
    let flush = |run: &mut Vec<PsObject>, out: &mut String| {
        if run.is_empty() {
            return;
        }
        if run[0].properties.len() >= 5 {
            out.push_str(&list(run));
        } else {
            out.push_str(&table(run));
        }
        run.clear();
    };
    for v in values {
        match PsObject::from_json(v) {
            Some(o) => {
                if run.first().is_some_and(|r| r.type_name != o.type_name) {
                    flush(&mut run, &mut out);
                }
                run.push(o);
            }
            None => {
                flush(&mut run, &mut out);
                match v {
                    Value::Array(a) => {
                        for x in a {
                            out.push_str(&value_text(x));
                            out.push('\n');
                        }
                    }
                    Value::Null => {}
                    other => {
                        out.push_str(&value_text(other));
                        out.push('\n');
                    }
                }
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Where an error happened, for its display.
pub struct Extent<'a> {
    /// `line:1` for `-c`, the script's path otherwise.
    pub origin: &'a str,
    pub line: usize,
    pub col: usize,
    /// The statement's text (its first line is shown).
    pub text: &'a str,
}

/// An error record as the console shows it (Windows PowerShell 5.1's NormalView).
pub fn error(command: &str, r: &ErrorRecord, at: &Extent) -> String {
    let first = at.text.lines().next().unwrap_or("");
    let activity = if r.reason == "CommandNotFoundException" {
        String::new()
    } else {
        command.to_string()
    };
    let prefix = if command.is_empty() {
        String::new()
    } else {
        format!("{command} : ")
    };
    let place = if at.origin == "line" {
        format!("At line:{} char:{}", at.line, at.col)
    } else {
        format!("At {}:{} char:{}", at.origin, at.line, at.col)
    };
    format!(
        "{prefix}{}\n{place}\n+ {first}\n+ {}\n    + CategoryInfo          : {}: ({}:String) [{activity}], {}\n    + FullyQualifiedErrorId : {}\n \n",
        r.message,
        "~".repeat(first.chars().count().max(1)),
        r.category,
        r.target.as_deref().unwrap_or(""),
        r.reason,
        r.fully_qualified_error_id,
    )
    .replace("(:String)", "(:)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_align_names_and_tables_underline_headers() {
        let o = PsObject::new("T")
            .with("Enabled", json!(true))
            .with("Name", json!("svc"))
            .with("UserPrincipalName", Value::Null)
            .with("ServicePrincipalNames", json!(["a", "b", "c", "d", "e"]))
            .with("HostComputers", json!([]));
        assert_eq!(
            out_default(&[o.to_json()]),
            "\nEnabled               : True\nName                  : svc\nUserPrincipalName     :\nServicePrincipalNames : {a, b, c, d...}\nHostComputers         : {}\n\n"
        );
        let g = PsObject::new("System.Guid").with("Guid", json!("1b7b"));
        assert_eq!(out_default(&[g.to_json()]), "\nGuid\n----\n1b7b\n\n");
        assert_eq!(out_default(&[json!(false)]), "False\n");
    }

    #[test]
    fn errors_print_as_the_console_does() {
        let r = ErrorRecord::new(
            "NotSpecified",
            "ActiveDirectoryServer:1316,X",
            "The specified account already exists",
        )
        .with_target("CN=a");
        let text = error(
            "New-ADServiceAccount",
            &r,
            &Extent {
                origin: "line",
                line: 1,
                col: 1,
                text: "New-ADServiceAccount -Name a",
            },
        );
        assert_eq!(
            text,
            "New-ADServiceAccount : The specified account already exists\nAt line:1 char:1\n+ New-ADServiceAccount -Name a\n+ ~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n    + CategoryInfo          : NotSpecified: (CN=a:String) [New-ADServiceAccount], ADException\n    + FullyQualifiedErrorId : ActiveDirectoryServer:1316,X\n \n"
        );
    }
}
