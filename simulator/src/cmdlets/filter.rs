//! The ActiveDirectory module's `-Filter` language (about_ActiveDirectory_Filter), the subset
//! adsim translates to an LDAP filter that then runs through the directory as the caller:
//! `*`, `<Property> <op> <value>` with `-eq -ne -like -notlike -le -ge -lt -gt`, `-and`,
//! `-or`, `-not` and parentheses. Values are quoted strings (`'x'` or `"x"`), bare words,
//! numbers, `$true`/`$false`. Properties are the module's names (`Name`, `SamAccountName`,
//! `Enabled`, `SID`…, [`PROPERTIES`]) or LDAP display names, as the module accepts both.
//!
//! Translation rules, each with its source:
//! - `-ne` matches only objects that have the attribute: `(&(a=*)(!(a=v)))` (TechNet wiki
//!   34674, "PowerShell Troubleshooting: -ne Operator in Active Directory Cmdlets");
//! - `-like` with `*` is an LDAP substring filter, `-like '*'` a presence filter
//!   (about_ActiveDirectory_Filter);
//! - `Enabled` is userAccountControl's ACCOUNTDISABLE bit (0x2) through the bitwise-AND rule
//!   1.2.840.113556.1.4.803 (MS-ADTS 3.1.1.3.4.4.1);
//! - an operator the module does not have, or text it cannot parse, is its
//!   ADFilterParsingException: "Error parsing query: '<filter>' Error Message: 'Operator Not
//!   supported: <op>' at position: '<n>'." or "… 'syntax error' at position: '<n>'.", the
//!   position 1-based at the offending token (observed output quoted in EvotecIT/GPOZaurr pull
//!   request #90 and EvotecIT/Testimo issue #97; the 1-based counting is inferred from the
//!   first). A `$variable` is not resolved here (the module reads it from the caller's
//!   scope, which a server does not see): it is refused with an adsim message naming the
//!   double-quoted-string form instead.

use crate::dsa::matching::RULE_BIT_AND;
use crate::model::filter::Filter;
use crate::security::Sid;

/// Module property names that differ from their attribute (about_ActiveDirectory_Filter's
/// property mapping; TechNet wiki 29827 for the service-account ones). Others are taken as
/// LDAP display names.
pub const PROPERTIES: &[(&str, &str)] = &[
    ("Name", "name"),
    ("SamAccountName", "sAMAccountName"),
    ("DistinguishedName", "distinguishedName"),
    ("DNSHostName", "dNSHostName"),
    ("UserPrincipalName", "userPrincipalName"),
    ("ObjectClass", "objectClass"),
    ("ObjectGUID", "objectGUID"),
    ("SID", "objectSid"),
    ("Description", "description"),
    ("DisplayName", "displayName"),
    ("GivenName", "givenName"),
    ("Surname", "sn"),
    ("ServicePrincipalNames", "servicePrincipalName"),
    ("MemberOf", "memberOf"),
    ("Members", "member"),
    ("ManagedPasswordIntervalInDays", "msDS-ManagedPasswordInterval"),
];

/// The comparison operators, one table: name and how it builds the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
    Le,
    Ge,
    Lt,
    Gt,
}

const OPERATORS: &[(&str, Op)] = &[
    ("eq", Op::Eq),
    ("ne", Op::Ne),
    ("like", Op::Like),
    ("notlike", Op::NotLike),
    ("le", Op::Le),
    ("ge", Op::Ge),
    ("lt", Op::Lt),
    ("gt", Op::Gt),
];

/// Why a filter does not translate: the module's message and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    /// `-word`.
    Op(String),
    /// A quoted string.
    Quoted(String),
    /// A bare word (property name, number, `*`, `$true`).
    Word(String),
}

/// Longest filter accepted (characters): bounds the work.
pub const MAX_FILTER: usize = 8192;

/// Translates `text` to an LDAP filter.
pub fn translate(text: &str) -> Result<Filter, FilterError> {
    let syntax = |pos: usize| FilterError {
        message: format!("Error parsing query: '{text}' Error Message: 'syntax error' at position: '{pos}'."),
    };
    if text.chars().count() > MAX_FILTER {
        return Err(syntax(MAX_FILTER));
    }
    if text.trim() == "*" {
        return Ok(Filter::Present("objectClass".into()));
    }
    let toks = tokens(text).map_err(syntax)?;
    let mut p = Parser {
        text,
        toks,
        i: 0,
        depth: 0,
    };
    let f = p.or()?;
    match p.toks.get(p.i) {
        None => Ok(f),
        Some((_, pos)) => Err(syntax(*pos)),
    }
}

fn tokens(text: &str) -> Result<Vec<(Tok, usize)>, usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, pos));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, pos));
                i += 1;
            }
            '\'' | '"' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(pos),
                        // A doubled quote is the quote itself.
                        Some(&q) if q == c && chars.get(j + 1) == Some(&c) => {
                            s.push(c);
                            j += 2;
                        }
                        Some(&q) if q == c => break,
                        Some(&x) => {
                            s.push(x);
                            j += 1;
                        }
                    }
                }
                out.push((Tok::Quoted(s), pos));
                i = j + 1;
            }
            '-' if chars.get(i + 1).is_some_and(|c| c.is_alphabetic()) => {
                let mut j = i + 1;
                while chars.get(j).is_some_and(|c| c.is_alphanumeric()) {
                    j += 1;
                }
                out.push((Tok::Op(chars[i + 1..j].iter().collect()), pos));
                i = j;
            }
            _ => {
                let mut j = i;
                while chars
                    .get(j)
                    .is_some_and(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '\'' | '"'))
                {
                    j += 1;
                }
                out.push((Tok::Word(chars[i..j].iter().collect()), pos));
                i = j;
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize)>,
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn syntax(&self) -> FilterError {
        let pos = self
            .toks
            .get(self.i)
            .map_or(self.text.chars().count() + 1, |t| t.1);
        FilterError {
            message: format!(
                "Error parsing query: '{}' Error Message: 'syntax error' at position: '{pos}'.",
                self.text
            ),
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.0)
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if o.eq_ignore_ascii_case(k))
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        self.joined("or", Self::and, Filter::Or)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        self.joined("and", Self::unary, Filter::And)
    }

    /// `item (-keyword item)*`: one item as it is, several joined by `join`.
    fn joined(
        &mut self,
        keyword: &str,
        item: fn(&mut Self) -> Result<Filter, FilterError>,
        join: fn(Vec<Filter>) -> Filter,
    ) -> Result<Filter, FilterError> {
        let mut items = vec![item(self)?];
        while self.keyword(keyword) {
            self.i += 1;
            items.push(item(self)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            join(items)
        })
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        self.depth += 1;
        if self.depth > crate::ldap::codec::ber::MAX_DEPTH {
            return Err(self.syntax());
        }
        let f = if self.keyword("not") {
            self.i += 1;
            Filter::Not(Box::new(self.unary()?))
        } else if self.peek() == Some(&Tok::LParen) {
            self.i += 1;
            let f = self.or()?;
            if self.peek() != Some(&Tok::RParen) {
                return Err(self.syntax());
            }
            self.i += 1;
            f
        } else {
            self.comparison()?
        };
        self.depth -= 1;
        Ok(f)
    }

    fn comparison(&mut self) -> Result<Filter, FilterError> {
        let property = match self.peek() {
            Some(Tok::Word(w)) if !w.starts_with('$') => w.clone(),
            _ => return Err(self.syntax()),
        };
        self.i += 1;
        let (op_name, op_pos) = match self.toks.get(self.i) {
            Some((Tok::Op(o), pos)) => (o.clone(), *pos),
            _ => return Err(self.syntax()),
        };
        let Some(op) = OPERATORS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&op_name))
            .map(|(_, op)| *op)
        else {
            return Err(FilterError {
                message: format!(
                    "Error parsing query: '{}' Error Message: 'Operator Not supported: -{op_name}' at position: '{op_pos}'.",
                    self.text
                ),
            });
        };
        self.i += 1;
        let value = match self.peek() {
            Some(Tok::Quoted(s)) => s.clone(),
            Some(Tok::Word(w)) if w.starts_with('$') && !is_bool(w) => {
                return Err(FilterError {
                    message: format!(
                        "adsim does not resolve the variable {w} inside -Filter (the module reads it from the caller's scope): write the value, e.g. -Filter \"{property} -eq '<value>'\" in a double-quoted string"
                    ),
                })
            }
            Some(Tok::Word(w)) => w.clone(),
            _ => return Err(self.syntax()),
        };
        self.i += 1;
        Ok(comparison(&property, op, &value))
    }
}

fn is_bool(w: &str) -> bool {
    w.eq_ignore_ascii_case("$true") || w.eq_ignore_ascii_case("$false")
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "$true" | "true" | "1")
}

/// The attribute a property reads.
pub fn attribute(property: &str) -> String {
    PROPERTIES
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(property))
        .map_or_else(|| property.to_string(), |(_, a)| a.to_string())
}

/// The assertion value's bytes: SIDs and GUIDs in their binary forms, text otherwise.
fn value_bytes(attr: &str, value: &str) -> Vec<u8> {
    if attr.eq_ignore_ascii_case("objectSid") {
        if let Ok(sid) = value.parse::<Sid>() {
            return sid.to_bytes();
        }
    }
    if attr.eq_ignore_ascii_case("objectGUID") {
        if let Ok(g) = uuid::Uuid::parse_str(value) {
            return crate::security::guid::to_ms_bytes(&g).to_vec();
        }
    }
    value.as_bytes().to_vec()
}

fn comparison(property: &str, op: Op, value: &str) -> Filter {
    let not = |f: Filter| Filter::Not(Box::new(f));
    if property.eq_ignore_ascii_case("Enabled") {
        let disabled = Filter::ExtensibleMatch {
            rule: Some(RULE_BIT_AND.into()),
            attr: Some("userAccountControl".into()),
            value: b"2".to_vec(),
            dn_attributes: false,
        };
        let want_enabled = truthy(value) == matches!(op, Op::Eq | Op::Like);
        return if want_enabled { not(disabled) } else { disabled };
    }
    let attr = attribute(property);
    let bytes = value_bytes(&attr, value);
    let eq = || Filter::EqualityMatch(attr.clone(), bytes.clone());
    match op {
        Op::Eq => eq(),
        Op::Ne => Filter::And(vec![Filter::Present(attr.clone()), not(eq())]),
        Op::Like => like(&attr, value),
        Op::NotLike => Filter::And(vec![Filter::Present(attr.clone()), not(like(&attr, value))]),
        Op::Le => Filter::LessOrEqual(attr, bytes),
        Op::Ge => Filter::GreaterOrEqual(attr, bytes),
        Op::Lt => Filter::And(vec![Filter::LessOrEqual(attr.clone(), bytes.clone()), not(eq())]),
        Op::Gt => Filter::And(vec![
            Filter::GreaterOrEqual(attr.clone(), bytes.clone()),
            not(eq()),
        ]),
    }
}

/// `-like`: `*` wildcards as an LDAP substring filter.
fn like(attr: &str, pattern: &str) -> Filter {
    if !pattern.contains('*') {
        return Filter::EqualityMatch(attr.into(), pattern.as_bytes().to_vec());
    }
    if pattern.chars().all(|c| c == '*') {
        return Filter::Present(attr.into());
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let bytes = |s: &str| (!s.is_empty()).then(|| s.as_bytes().to_vec());
    Filter::Substrings {
        attr: attr.into(),
        initial: bytes(parts[0]),
        any: parts[1..parts.len() - 1]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec())
            .collect(),
        final_: bytes(parts[parts.len() - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(f: &str) -> String {
        translate(f).unwrap().to_string()
    }

    #[test]
    fn comparisons_and_logic_translate_to_ldap() {
        assert_eq!(t("*"), "(objectClass=*)");
        assert_eq!(t("Name -eq 'WEB01'"), "(name=WEB01)");
        assert_eq!(t("name -like \"web*\""), "(name=web*)");
        assert_eq!(t("Name -like '*eb*1'"), "(name=*eb*1)");
        assert_eq!(t("Name -like '*'"), "(name=*)");
        assert_eq!(
            t("SamAccountName -ne 'x$'"),
            "(&(sAMAccountName=*)(!(sAMAccountName=x$)))"
        );
        assert_eq!(
            t("Name -like 'web*' -and (DNSHostName -eq 'a' -or Description -notlike 'b*')"),
            "(&(name=web*)(|(dNSHostName=a)(&(description=*)(!(description=b*)))))"
        );
        assert_eq!(t("-not (cn -eq 'x')"), "(!(cn=x))");
        assert_eq!(
            t("Enabled -eq $true"),
            "(!(userAccountControl:1.2.840.113556.1.4.803:=2))"
        );
        assert_eq!(
            t("Enabled -eq 'False'"),
            "(userAccountControl:1.2.840.113556.1.4.803:=2)"
        );
        assert_eq!(t("Name -eq 'a*(b)'"), "(name=a\\2a\\28b\\29)");
        assert_eq!(t("Name -eq 'it''s'"), "(name=it's)");
        let sid: Sid = "S-1-5-32-544".parse().unwrap();
        assert_eq!(
            translate("SID -eq 'S-1-5-32-544'").unwrap(),
            Filter::EqualityMatch("objectSid".into(), sid.to_bytes())
        );
    }

    #[test]
    fn bad_filters_get_the_module_parse_error() {
        assert_eq!(
            translate("Name -foo 'x'").unwrap_err().message,
            "Error parsing query: 'Name -foo 'x'' Error Message: 'Operator Not supported: -foo' at position: '6'."
        );
        assert_eq!(
            translate("Name -eq").unwrap_err().message,
            "Error parsing query: 'Name -eq' Error Message: 'syntax error' at position: '9'."
        );
        assert_eq!(
            translate("(Name -eq 'a'").unwrap_err().message,
            "Error parsing query: '(Name -eq 'a'' Error Message: 'syntax error' at position: '14'."
        );
        assert!(translate("Name -eq 'a")
            .unwrap_err()
            .message
            .contains("position: '10'"));
        assert!(translate("Name -eq $n")
            .unwrap_err()
            .message
            .contains("variable $n"));
        let deep = format!("{}Name -eq 'a'{}", "(".repeat(500), ")".repeat(500));
        assert!(translate(&deep).is_err());
    }
}
