//! The grammar of the subset (about_Parsing's two modes): statements separated by newlines or
//! `;` — an assignment `$x = <pipeline>`, `foreach ($x in <expression>) { statements }`,
//! `if (<pipeline>) { … } elseif (…) { … } else { … }` (about_If), or a pipeline
//! `element | element …` (a trailing `|` continues on the next line) whose first element is a
//! command (a word, then arguments in argument mode) or an expression (expression mode), and
//! whose later elements are commands. Expressions: strings, numbers, variables, `@( )` arrays,
//! `@{ }` hashtables, `( )` pipelines, comma lists (`'a', 'b'`), script blocks `{ … }`
//! (about_Script_Blocks: ForEach-Object's and Where-Object's, or a -Filter), member access
//! `.Name` / `.Method(args)`, and the operators of [`OPERATORS`] (about_Comparison_Operators,
//! about_Logical_Operators: comparisons bind tighter than `-and`/`-or`, which are left
//! associative with equal precedence). Anything else (while, functions, arithmetic, other
//! operators…) is a [`ParseError`] naming it.

use std::sync::Arc;

use super::lexer::{lex, Pos, StrPart, Tok, Token};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Str(Vec<StrPart>),
    Number(i64),
    Var(String),
    Array(Vec<Expr>),
    Hash(Vec<(String, Expr)>),
    /// `( pipeline )`.
    Sub(Box<Pipeline>),
    /// `target.name` or `target.name(args)`.
    Member {
        target: Box<Expr>,
        name: String,
        args: Option<Vec<Expr>>,
    },
    /// A bare word in argument mode (a string).
    Bare(String),
    /// `{ statements }`.
    Block(Arc<ScriptBlock>),
    /// `left -op right`.
    Binary {
        op: Op,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `-not value`.
    Not(Box<Expr>),
}

/// A script block: its statements and its text between the braces (what PowerShell's
/// ToString gives, and what a -Filter receives).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptBlock {
    pub body: Vec<Statement>,
    pub text: String,
}

/// The binary operators of the subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
    Gt,
    Ge,
    Lt,
    Le,
    And,
    Or,
}

/// Operator names (case-insensitive, as written after `-`), one table.
pub const OPERATORS: &[(&str, Op)] = &[
    ("eq", Op::Eq),
    ("ne", Op::Ne),
    ("like", Op::Like),
    ("notlike", Op::NotLike),
    ("gt", Op::Gt),
    ("ge", Op::Ge),
    ("lt", Op::Lt),
    ("le", Op::Le),
    ("and", Op::And),
    ("or", Op::Or),
];

fn operator(name: &str) -> Option<Op> {
    OPERATORS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, op)| *op)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `-Name`, `-Name value` or `-Name:value`.
    Named {
        name: String,
        value: Option<Expr>,
        pos: Pos,
    },
    Positional(Expr),
    Splat(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Element {
    Command { name: String, args: Vec<Arg> },
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub elements: Vec<Element>,
    pub pos: Pos,
    /// Source byte range, for error displays.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Assign {
        var: String,
        value: Pipeline,
    },
    Foreach {
        var: String,
        collection: Expr,
        body: Vec<Statement>,
    },
    /// `if (c) { … } elseif (c) { … } else { … }`: the conditions with their bodies, in order.
    If {
        branches: Vec<(Pipeline, Vec<Statement>)>,
        otherwise: Option<Vec<Statement>>,
    },
    Pipeline(Pipeline),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct ParseError {
    pub pos: Pos,
    pub message: String,
}

/// Nesting depth limit (brackets, foreach bodies): bounds the recursion.
pub const MAX_DEPTH: usize = 64;

pub fn parse(src: &str) -> Result<Vec<Statement>, ParseError> {
    let tokens = lex(src).map_err(|e| ParseError {
        pos: e.pos,
        message: e.message,
    })?;
    let mut p = Parser {
        t: tokens,
        i: 0,
        depth: 0,
        src,
    };
    let body = p.statements(None)?;
    Ok(body)
}

struct Parser<'s> {
    t: Vec<Token>,
    i: usize,
    depth: usize,
    src: &'s str,
}

const KEYWORDS: &[&str] = &[
    "while", "do", "for", "switch", "function", "filter", "param", "return", "try", "catch", "finally",
    "throw", "break", "continue", "begin", "process", "end", "trap", "class", "using",
];

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i).map(|t| &t.tok)
    }

    fn pos(&self) -> Pos {
        self.t
            .get(self.i)
            .or_else(|| self.t.last())
            .map_or(Pos { line: 1, col: 1 }, |t| t.pos)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            pos: self.pos(),
            message: message.into(),
        })
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.t.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn skip_newlines(&mut self) {
        while matches!(self.peek(), Some(Tok::Newline | Tok::Semi)) {
            self.i += 1;
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(format!("nesting deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }

    /// Statements until `close` (a `}` or `)`) or the end.
    fn statements(&mut self, close: Option<Tok>) -> Result<Vec<Statement>, ParseError> {
        let mut out = Vec::new();
        loop {
            self.skip_newlines();
            match self.peek() {
                None => {
                    if close.is_some() {
                        return self.err("missing closing '}'");
                    }
                    return Ok(out);
                }
                Some(t) if Some(t) == close.as_ref() => return Ok(out),
                _ => {}
            }
            out.push(self.statement()?);
            match self.peek() {
                None | Some(Tok::Newline | Tok::Semi) => {}
                Some(t) if Some(t) == close.as_ref() => {}
                Some(other) => {
                    let o = format!("{other:?}");
                    return self.err(format!("unexpected {o} after a statement"));
                }
            }
        }
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("foreach") => self.foreach(),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("if") => self.if_statement(),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("else") || w.eq_ignore_ascii_case("elseif") => {
                let w = w.clone();
                self.err(format!("'{w}' without an 'if' before it"))
            }
            Some(Tok::Word(w)) if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w)) => {
                let w = w.clone();
                self.err(format!("unsupported syntax: the '{w}' statement (adsim ps runs cmdlets, assignments, foreach and pipelines)"))
            }
            Some(Tok::Var(v)) if matches!(self.t.get(self.i + 1).map(|t| &t.tok), Some(Tok::Assign)) => {
                let var = v.clone();
                self.i += 2;
                let value = self.pipeline()?;
                Ok(Statement::Assign { var, value })
            }
            _ => Ok(Statement::Pipeline(self.pipeline()?)),
        }
    }

    fn foreach(&mut self) -> Result<Statement, ParseError> {
        self.i += 1;
        if self.next().map(|t| t.tok) != Some(Tok::LParen) {
            self.i -= 1;
            return self.err("foreach needs '(' $item in $collection ')'");
        }
        let var = match self.next().map(|t| t.tok) {
            Some(Tok::Var(v)) => v,
            _ => {
                self.i -= 1;
                return self.err("foreach needs a $variable after '('");
            }
        };
        match self.next().map(|t| t.tok) {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => {}
            _ => {
                self.i -= 1;
                return self.err("foreach needs 'in' after its variable");
            }
        }
        let collection = self.expression()?;
        if self.next().map(|t| t.tok) != Some(Tok::RParen) {
            self.i -= 1;
            return self.err("foreach: expected ')' after the collection");
        }
        let body = self.braced_body("foreach")?;
        Ok(Statement::Foreach {
            var,
            collection,
            body,
        })
    }

    /// `{ statements }` after optional newlines (the body of `what`).
    fn braced_body(&mut self, what: &str) -> Result<Vec<Statement>, ParseError> {
        self.skip_only_newlines();
        if self.next().map(|t| t.tok) != Some(Tok::LBrace) {
            self.i -= 1;
            return self.err(format!("{what}: expected '{{' to open its body"));
        }
        self.enter()?;
        let body = self.statements(Some(Tok::RBrace))?;
        self.depth -= 1;
        self.i += 1;
        Ok(body)
    }

    /// `( pipeline )` of an if or elseif.
    fn condition(&mut self, what: &str) -> Result<Pipeline, ParseError> {
        if self.next().map(|t| t.tok) != Some(Tok::LParen) {
            self.i -= 1;
            return self.err(format!("{what} needs a condition in '(' ')'"));
        }
        self.skip_only_newlines();
        let p = self.pipeline()?;
        self.skip_only_newlines();
        if self.next().map(|t| t.tok) != Some(Tok::RParen) {
            self.i -= 1;
            return self.err(format!("{what}: expected ')' after the condition"));
        }
        Ok(p)
    }

    fn if_statement(&mut self) -> Result<Statement, ParseError> {
        self.i += 1;
        let mut branches = vec![(self.condition("if")?, self.braced_body("if")?)];
        let mut otherwise = None;
        loop {
            // `else` / `elseif` may follow on a later line.
            let back = self.i;
            self.skip_only_newlines();
            match self.peek() {
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("elseif") => {
                    self.i += 1;
                    branches.push((self.condition("elseif")?, self.braced_body("elseif")?));
                }
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("else") => {
                    self.i += 1;
                    otherwise = Some(self.braced_body("else")?);
                    break;
                }
                _ => {
                    self.i = back;
                    break;
                }
            }
        }
        Ok(Statement::If { branches, otherwise })
    }

    /// `{ statements }` as a value; the opening brace is the current token.
    fn script_block(&mut self) -> Result<Expr, ParseError> {
        let open = self.next().expect("at '{'");
        self.enter()?;
        let body = self.statements(Some(Tok::RBrace))?;
        self.depth -= 1;
        let close = self.next().expect("statements stop at '}'");
        let text = self.src.get(open.end..close.start).unwrap_or("").to_string();
        Ok(Expr::Block(Arc::new(ScriptBlock { body, text })))
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let pos = self.pos();
        let start = self.t.get(self.i).map_or(self.src.len(), |t| t.start);
        let mut elements = vec![self.element(true)?];
        while self.peek() == Some(&Tok::Pipe) {
            self.i += 1;
            self.skip_only_newlines();
            elements.push(self.element(false)?);
        }
        let end = self
            .t
            .get(self.i.saturating_sub(1))
            .map_or(self.src.len(), |t| t.end);
        Ok(Pipeline {
            elements,
            pos,
            start,
            end,
        })
    }

    fn skip_only_newlines(&mut self) {
        while self.peek() == Some(&Tok::Newline) {
            self.i += 1;
        }
    }

    fn element(&mut self, first: bool) -> Result<Element, ParseError> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let name = w.clone();
                self.i += 1;
                let args = self.arguments()?;
                Ok(Element::Command { name, args })
            }
            Some(_) if first => Ok(Element::Expr(self.expression()?)),
            _ => self.err("a pipeline element after '|' must be a command"),
        }
    }

    /// Arguments of a command, until the end of the statement, `|`, `)` or `}`.
    fn arguments(&mut self) -> Result<Vec<Arg>, ParseError> {
        let mut args = Vec::new();
        loop {
            match self.peek() {
                None | Some(Tok::Newline | Tok::Semi | Tok::Pipe | Tok::RParen | Tok::RBrace) => {
                    return Ok(args)
                }
                Some(Tok::Param { name, colon }) => {
                    let (name, colon) = (name.clone(), *colon);
                    let pos = self.pos();
                    self.i += 1;
                    let value = if colon || self.starts_value() {
                        Some(self.argument_value()?)
                    } else {
                        None
                    };
                    args.push(Arg::Named { name, value, pos });
                }
                Some(Tok::Splat(v)) => {
                    args.push(Arg::Splat(v.clone()));
                    self.i += 1;
                }
                Some(Tok::Assign) => return self.err("unsupported syntax: '=' in a command's arguments"),
                Some(_) => args.push(Arg::Positional(self.argument_value()?)),
            }
        }
    }

    fn starts_value(&self) -> bool {
        matches!(
            self.peek(),
            Some(
                Tok::Word(_)
                    | Tok::Var(_)
                    | Tok::Number(_)
                    | Tok::Str(_)
                    | Tok::ArrayOpen
                    | Tok::HashOpen
                    | Tok::LParen
                    | Tok::LBrace
            )
        )
    }

    /// One argument in argument mode: a primary (a bare word is a string) and a comma list.
    fn argument_value(&mut self) -> Result<Expr, ParseError> {
        let first = self.primary(true)?;
        self.comma_list(first, true)
    }

    fn comma_list(&mut self, first: Expr, bare: bool) -> Result<Expr, ParseError> {
        if self.peek() != Some(&Tok::Comma) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek() == Some(&Tok::Comma) {
            self.i += 1;
            self.skip_only_newlines();
            items.push(self.primary(bare)?);
        }
        Ok(Expr::Array(items))
    }

    /// An expression in expression mode: operands joined by `-and` / `-or`, left to right.
    fn expression(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.comparison()?;
        while let Some(op @ (Op::And | Op::Or)) = self.operator()? {
            self.i += 1;
            self.skip_only_newlines();
            let right = self.comparison()?;
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    /// The operator at the current token, if it is one (`-eq`…); an error naming any other
    /// `-word` found where an operator belongs.
    fn operator(&self) -> Result<Option<Op>, ParseError> {
        match self.peek() {
            Some(Tok::Param { name, .. }) => match operator(name) {
                Some(op) => Ok(Some(op)),
                None => {
                    let n = name.clone();
                    self.err(format!(
                        "unsupported syntax: the operator -{n} (adsim ps has {})",
                        operator_names()
                    ))
                }
            },
            _ => Ok(None),
        }
    }

    /// A comma list, optionally compared with another (`a -eq b`).
    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.unary()?;
        match self.operator()? {
            Some(op) if !matches!(op, Op::And | Op::Or) => {
                self.i += 1;
                let right = self.unary()?;
                if matches!(self.operator()?, Some(o) if !matches!(o, Op::And | Op::Or)) {
                    return self.err("unsupported syntax: chained comparisons (put one in parentheses)");
                }
                Ok(Expr::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                })
            }
            _ => Ok(left),
        }
    }

    /// `-not x` or a comma list of primaries.
    fn unary(&mut self) -> Result<Expr, ParseError> {
        if matches!(self.peek(), Some(Tok::Param { name, .. }) if name.eq_ignore_ascii_case("not")) {
            self.i += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        let first = self.primary(false)?;
        self.comma_list(first, false)
    }

    fn primary(&mut self, bare: bool) -> Result<Expr, ParseError> {
        let Some(t) = self.next() else {
            return self.err("expected a value, found the end of the script");
        };
        let e = match t.tok {
            Tok::Str(parts) => Expr::Str(parts),
            Tok::Number(n) => Expr::Number(n),
            Tok::Var(v) => Expr::Var(v),
            Tok::Word(w) if bare => Expr::Bare(w),
            Tok::Word(w) => {
                self.i -= 1;
                return self.err(format!("unsupported syntax: bare word '{w}' in an expression (quote it, or put a command in parentheses)"));
            }
            Tok::ArrayOpen => {
                self.enter()?;
                let body = self.statements(Some(Tok::RParen))?;
                self.depth -= 1;
                self.i += 1;
                let mut items = Vec::new();
                for st in body {
                    match st {
                        Statement::Pipeline(p) => items.push(Expr::Sub(Box::new(p))),
                        _ => {
                            return Err(ParseError {
                                pos: t.pos,
                                message: "unsupported syntax: only pipelines inside @( )".into(),
                            })
                        }
                    }
                }
                Expr::Array(items)
            }
            Tok::HashOpen => self.hashtable()?,
            Tok::LBrace => {
                self.i -= 1;
                return self.script_block();
            }
            Tok::LParen => {
                self.enter()?;
                self.skip_only_newlines();
                let p = self.pipeline()?;
                self.skip_only_newlines();
                if self.next().map(|t| t.tok) != Some(Tok::RParen) {
                    self.i -= 1;
                    return self.err("expected ')'");
                }
                self.depth -= 1;
                Expr::Sub(Box::new(p))
            }
            other => {
                self.i -= 1;
                return self.err(format!("unexpected {other:?} where a value was expected"));
            }
        };
        self.members(e)
    }

    /// `.Name` and `.Method(args)` right after a value.
    fn members(&mut self, mut e: Expr) -> Result<Expr, ParseError> {
        while self.peek() == Some(&Tok::Dot) {
            self.i += 1;
            let name = match self.next().map(|t| t.tok) {
                Some(Tok::Word(w)) => w,
                _ => {
                    self.i -= 1;
                    return self.err("expected a member name after '.'");
                }
            };
            let args = if self.peek() == Some(&Tok::LParen) {
                self.i += 1;
                let mut args = Vec::new();
                while self.peek() != Some(&Tok::RParen) {
                    args.push(self.primary(false)?);
                    match self.peek() {
                        Some(Tok::Comma) => self.i += 1,
                        Some(Tok::RParen) => {}
                        _ => return self.err("expected ',' or ')' in a method call"),
                    }
                }
                self.i += 1;
                Some(args)
            } else {
                None
            };
            e = Expr::Member {
                target: Box::new(e),
                name,
                args,
            };
        }
        Ok(e)
    }

    fn hashtable(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut pairs = Vec::new();
        loop {
            self.skip_newlines();
            let key = match self.next().map(|t| t.tok) {
                Some(Tok::RBrace) => break,
                Some(Tok::Word(w)) => w,
                Some(Tok::Str(parts)) => parts
                    .iter()
                    .map(|p| match p {
                        StrPart::Text(t) => t.clone(),
                        StrPart::Var(v) => format!("${v}"),
                    })
                    .collect(),
                None => return self.err("missing closing '}' of a hashtable"),
                Some(other) => {
                    self.i -= 1;
                    return self.err(format!("unexpected {other:?} where a hashtable key was expected"));
                }
            };
            if self.next().map(|t| t.tok) != Some(Tok::Assign) {
                self.i -= 1;
                return self.err(format!("expected '=' after the hashtable key '{key}'"));
            }
            self.skip_only_newlines();
            let value = if matches!(self.peek(), Some(Tok::Word(_))) {
                // `Key = Get-Something` is a command in PowerShell.
                Expr::Sub(Box::new(self.pipeline()?))
            } else {
                self.expression()?
            };
            pairs.push((key, value));
        }
        self.depth -= 1;
        Ok(Expr::Hash(pairs))
    }
}

fn operator_names() -> String {
    OPERATORS
        .iter()
        .map(|(n, _)| format!("-{n}"))
        .collect::<Vec<_>>()
        .join(" ")
        + " -not"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_arguments_and_pipelines() {
        let s =
            parse("Get-ADServiceAccount -Identity svc -Properties * | Select-Object -Property Name,Enabled")
                .unwrap();
        let Statement::Pipeline(p) = &s[0] else { panic!() };
        assert_eq!(p.elements.len(), 2);
        let Element::Command { name, args } = &p.elements[0] else {
            panic!()
        };
        assert_eq!(name, "Get-ADServiceAccount");
        assert!(
            matches!(&args[1], Arg::Named { name, value: Some(Expr::Bare(v)), .. } if name == "Properties" && v == "*")
        );
        let Element::Command { args, .. } = &p.elements[1] else {
            panic!()
        };
        assert!(matches!(&args[0], Arg::Named { value: Some(Expr::Array(a)), .. } if a.len() == 2));
    }

    #[test]
    fn assignments_foreach_hashtables_splatting_members() {
        let src = r#"
$computerNames = @("WEB01$", "WEB02$")
$params = @{
    Identity = "gmsa-web-hosts"
    Members  = $computerNames
}
foreach ($c in $computerNames) { Add-ADGroupMember @params; Write-Output "$c" }
Add-KdsRootKey -EffectiveTime ((Get-Date).AddHours(-10))
New-ADServiceAccount -Name x -Enabled:$true -RestrictToSingleComputer
"#;
        let s = parse(src).unwrap();
        assert_eq!(s.len(), 5);
        assert!(
            matches!(&s[0], Statement::Assign { var, value } if var == "computerNames" && value.elements.len() == 1)
        );
        let Statement::Assign { value, .. } = &s[1] else {
            panic!()
        };
        assert!(matches!(&value.elements[0], Element::Expr(Expr::Hash(p)) if p.len() == 2));
        let Statement::Foreach { body, .. } = &s[2] else {
            panic!()
        };
        assert_eq!(body.len(), 2);
        let Statement::Pipeline(p) = &s[3] else { panic!() };
        let Element::Command { args, .. } = &p.elements[0] else {
            panic!()
        };
        assert!(matches!(
            &args[0],
            Arg::Named {
                value: Some(Expr::Sub(_)),
                ..
            }
        ));
        let Statement::Pipeline(p) = &s[4] else { panic!() };
        let Element::Command { args, .. } = &p.elements[0] else {
            panic!()
        };
        assert!(matches!(&args[2], Arg::Named { value: None, .. }));
    }

    #[test]
    fn script_blocks_multiline_pipelines_if_and_operators() {
        let src = "$names = 'DC1', 'WEB01'\n$names | ForEach-Object { Get-ADComputer -Identity $_ } |\n    % { Add-ADGroupMember -Identity g -Members $_ }\nif ($g -eq 'Domain Controllers') {\n  $x = 1\n}\nelseif (-not $y -and $z -like 'a*') { $x = 2 } else { $x = 3 }\nNew-ADServiceAccount -Name a -DNSHostName \"a.$env:USERDNSDOMAIN\" `\n -KerberosEncryptionType ('AES128','AES256')\nGet-ADComputer -Filter { Name -like 'web*' }";
        let s = parse(src).unwrap();
        assert_eq!(s.len(), 5);
        let Statement::Assign { value, .. } = &s[0] else {
            panic!()
        };
        assert!(matches!(&value.elements[0], Element::Expr(Expr::Array(a)) if a.len() == 2));
        let Statement::Pipeline(p) = &s[1] else { panic!() };
        assert_eq!(p.elements.len(), 3);
        let Element::Command { name, args } = &p.elements[1] else {
            panic!()
        };
        assert_eq!(name, "ForEach-Object");
        let Arg::Positional(Expr::Block(b)) = &args[0] else {
            panic!()
        };
        assert_eq!(b.text, " Get-ADComputer -Identity $_ ");
        assert_eq!(b.body.len(), 1);
        let Statement::If { branches, otherwise } = &s[2] else {
            panic!()
        };
        assert_eq!(branches.len(), 2);
        assert!(otherwise.is_some());
        let Element::Expr(Expr::Binary {
            op: Op::And, left, ..
        }) = &branches[1].0.elements[0]
        else {
            panic!("{:?}", branches[1].0)
        };
        assert!(matches!(**left, Expr::Not(_)));
        let Statement::Pipeline(p) = &s[3] else { panic!() };
        let Element::Command { args, .. } = &p.elements[0] else {
            panic!()
        };
        assert_eq!(args.len(), 3, "the backtick joins the lines: {args:?}");
        let Statement::Pipeline(p) = &s[4] else { panic!() };
        let Element::Command { args, .. } = &p.elements[0] else {
            panic!()
        };
        assert!(
            matches!(&args[0], Arg::Named { value: Some(Expr::Block(b)), .. } if b.text == " Name -like 'web*' ")
        );
    }

    #[test]
    fn unknown_syntax_is_named_with_its_position() {
        let e = parse("while ($x) { Get-X }").unwrap_err();
        assert!(e.message.contains("the 'while' statement"), "{}", e.message);
        let e = parse("$a = $b -match 1").unwrap_err();
        assert!(
            e.message.contains("unsupported syntax: the operator -match"),
            "{}",
            e.message
        );
        assert_eq!(e.pos, Pos { line: 1, col: 9 });
        let e = parse("$a = 1 -lt 2 -lt 3").unwrap_err();
        assert!(e.message.contains("chained comparisons"), "{}", e.message);
        let e = parse("else { }").unwrap_err();
        assert!(e.message.contains("without an 'if'"), "{}", e.message);
        let e = parse("Get-X | { $_ }").unwrap_err();
        assert!(e.message.contains("must be a command"), "{}", e.message);
        let e = parse("foreach ($x $y) {}").unwrap_err();
        assert!(e.message.contains("'in'"), "{}", e.message);
        let e = parse(&"(".repeat(100)).unwrap_err();
        assert!(e.message.contains("nesting"), "{}", e.message);
    }
}
