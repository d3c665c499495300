//! The interpreter: runs parsed statements against a [`Backend`] (the control API in
//! `adsim ps`), keeps `$variables`, expands strings, splats hashtables, and formats what each
//! statement outputs ([`super::format`]). A few commands run here, as they run in the shell
//! and not on a server: Select-Object, Format-List, Write-Output/Write-Host, Get-Date,
//! ConvertTo-SecureString, Import-Module ActiveDirectory, ForEach-Object / Where-Object (`%`,
//! `?`, with `$_`), `klist … purge` and Restart-Computer (the member host's ticket cache), the
//! rest go to the backend by name. `$env:NAME` reads the session's environment as Windows
//! sets it for the domain administrator's logon ([`Backend::environment`]).
//! A statement that fails prints its error record and the script goes on, as PowerShell does
//! with a non-terminating or statement-terminating error.

use std::collections::HashMap;
use std::sync::Arc;

use adsim_simulator::clock::NtTime;
use adsim_simulator::cmdlets::object::{date_text, PsObject};
use adsim_simulator::cmdlets::record::ErrorRecord;
use serde_json::{json, Map, Value};

use super::format::{self, Extent};
use super::lexer::StrPart;
use super::parser::{parse, Arg, Element, Expr, Op, ParseError, Pipeline, ScriptBlock, Statement};

/// What a cmdlet run on the backend answered.
pub struct Answer {
    pub output: Vec<Value>,
    pub warnings: Vec<String>,
    pub error: Option<ErrorRecord>,
}

/// Where the cmdlets run. `Err` is a failure to reach it (the script stops).
#[allow(async_fn_in_trait)]
pub trait Backend {
    async fn cmdlet(
        &mut self,
        name: &str,
        named: Map<String, Value>,
        positional: Vec<Value>,
    ) -> Result<Answer, String>;
    /// `klist -li 0x3e7 purge` on the session's host.
    async fn klist_purge(&mut self) -> Result<(), String>;
    /// Restart-Computer: `host`, or the session's host.
    async fn restart(&mut self, host: Option<&str>) -> Result<(), String>;
    /// The forest's clock (Get-Date).
    async fn now(&mut self) -> Result<NtTime, String>;
    /// The session's host name (`--host`).
    fn host(&self) -> Option<String>;
    /// The environment variables of the session (`$env:NAME`): names and values.
    async fn environment(&mut self) -> Result<Vec<(String, String)>, String>;
}

/// A value of the subset.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Array(Vec<Val>),
    Hash(Vec<(String, Val)>),
    Object(PsObject),
    Date(NtTime),
    /// A SecureString (ConvertTo-SecureString): shown as its type name, sent as its text.
    Secure(String),
    /// Format-List's output: text already formatted.
    Formatted(String),
    /// A script block (`{ … }`).
    Block(Arc<ScriptBlock>),
}

impl Val {
    fn from_json(v: &Value) -> Val {
        if let Some(o) = PsObject::from_json(v) {
            return Val::Object(o);
        }
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => n.as_i64().map_or(Val::Str(n.to_string()), Val::Int),
            Value::String(s) => Val::Str(s.clone()),
            Value::Array(a) => Val::Array(a.iter().map(Val::from_json).collect()),
            Value::Object(o) => Val::Hash(o.iter().map(|(k, v)| (k.clone(), Val::from_json(v))).collect()),
        }
    }

    /// As a cmdlet parameter: an AD object stands for its DistinguishedName (the module takes
    /// the object as `-Identity` or a member).
    fn to_param(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => json!(b),
            Val::Int(n) => json!(n),
            Val::Str(s) | Val::Secure(s) | Val::Formatted(s) => json!(s),
            Val::Array(a) => Value::Array(a.iter().map(Val::to_param).collect()),
            Val::Hash(h) => Value::Object(h.iter().map(|(k, v)| (k.clone(), v.to_param())).collect()),
            Val::Object(o) => json!(format::object_text(o)),
            Val::Date(t) => json!(t.to_rfc3339()),
            // A script block given to a cmdlet (a -Filter) is its text, as ToString gives it.
            Val::Block(b) => json!(b.text),
        }
    }

    /// For output formatting.
    fn to_output(&self) -> Value {
        match self {
            Val::Object(o) => o.to_json(),
            Val::Date(t) => json!(date_text(*t)),
            Val::Secure(_) => json!("System.Security.SecureString"),
            Val::Array(a) => Value::Array(a.iter().map(Val::to_output).collect()),
            other => other.to_param(),
        }
    }

    /// Inside a double-quoted string.
    fn text(&self) -> String {
        match self {
            Val::Array(a) => a.iter().map(Val::text).collect::<Vec<_>>().join(" "),
            Val::Object(o) => format::object_text(o),
            Val::Date(t) => date_text(*t),
            Val::Secure(_) => "System.Security.SecureString".into(),
            Val::Hash(_) => "System.Collections.Hashtable".into(),
            Val::Block(b) => b.text.clone(),
            other => format::value_text(&other.to_param()),
        }
    }

    /// PowerShell's conversion to Boolean (about_Booleans): $null, 0, '' and an empty
    /// collection are false; a one-item collection is its item's truth.
    fn truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Int(n) => *n != 0,
            Val::Str(s) | Val::Secure(s) | Val::Formatted(s) => !s.is_empty(),
            Val::Array(a) => match a.as_slice() {
                [] => false,
                [one] => one.truthy(),
                _ => true,
            },
            _ => true,
        }
    }

    /// The items a pipeline or foreach enumerates.
    fn items(self) -> Vec<Val> {
        match self {
            Val::Array(a) => a,
            Val::Null => Vec::new(),
            other => vec![other],
        }
    }
}

/// Why evaluating a statement stopped: a PowerShell error (printed, the script goes on) or
/// a failure to reach the backend (the script stops).
enum Stop {
    Record {
        command: String,
        record: Box<ErrorRecord>,
    },
    Fatal(String),
}

fn record(command: &str, r: ErrorRecord) -> Stop {
    Stop::Record {
        command: command.to_string(),
        record: Box::new(r),
    }
}

/// Runs scripts; output accumulates in [`Interpreter::output`].
pub struct Interpreter<B: Backend> {
    pub backend: B,
    vars: HashMap<String, Val>,
    /// Everything printed so far.
    pub output: String,
    /// Error records printed so far.
    pub errors: usize,
    /// `line` for `-c`, else the script's path (error displays).
    origin: String,
    /// The script's text (error displays).
    src: String,
    /// Statements run so far (bounded by [`MAX_STEPS`]).
    steps: usize,
    /// Where pipeline output goes inside a script block: collected, not printed.
    captures: Vec<Vec<Val>>,
    /// `$env:` variables, lower-cased names; read from the backend at the first `run`.
    env: Option<HashMap<String, String>>,
}

/// Statements run at most (foreach bodies included): a bound on a script's work.
pub const MAX_STEPS: usize = 100_000;

impl<B: Backend> Interpreter<B> {
    pub fn new(backend: B, origin: Option<&str>) -> Self {
        Interpreter {
            backend,
            vars: HashMap::new(),
            output: String::new(),
            errors: 0,
            origin: origin.unwrap_or("line").to_string(),
            src: String::new(),
            steps: 0,
            captures: Vec::new(),
            env: None,
        }
    }

    /// Parses all of `src` first (a parse error runs nothing, as in PowerShell), then runs it.
    /// `Err` for a parse error or a backend failure.
    pub async fn run(&mut self, src: &str) -> Result<(), RunError> {
        let statements = parse(src).map_err(RunError::Parse)?;
        if self.env.is_none() {
            let vars = self.backend.environment().await.map_err(RunError::Backend)?;
            self.env = Some(
                vars.into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect(),
            );
        }
        self.src = src.to_string();
        self.steps = 0;
        self.block(&statements).await
    }

    async fn block(&mut self, statements: &[Statement]) -> Result<(), RunError> {
        for st in statements {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err(RunError::Backend(format!("more than {MAX_STEPS} statements run")));
            }
            match st {
                Statement::Foreach {
                    var,
                    collection,
                    body,
                } => {
                    let items = match Box::pin(self.expr(collection)).await {
                        Ok(v) => v.items(),
                        Err(stop) => {
                            self.report(stop, None)?;
                            continue;
                        }
                    };
                    for item in items {
                        self.vars.insert(var.to_ascii_lowercase(), item);
                        Box::pin(self.block(body)).await?;
                    }
                }
                Statement::If { branches, otherwise } => {
                    let mut chosen = otherwise.as_ref();
                    for (condition, body) in branches {
                        match Box::pin(self.pipeline(condition)).await {
                            Ok(v) if v.truthy() => {
                                chosen = Some(body);
                                break;
                            }
                            Ok(_) => {}
                            Err(stop) => {
                                // A failed condition ends the statement (PowerShell's
                                // statement-terminating error).
                                self.report(stop, Some(condition))?;
                                chosen = None;
                                break;
                            }
                        }
                    }
                    if let Some(body) = chosen {
                        Box::pin(self.block(body)).await?;
                    }
                }
                Statement::Assign { var, value } => match Box::pin(self.pipeline(value)).await {
                    Ok(v) => {
                        self.vars.insert(var.to_ascii_lowercase(), v);
                    }
                    Err(stop) => self.report(stop, Some(value))?,
                },
                Statement::Pipeline(p) => match Box::pin(self.pipeline(p)).await {
                    Ok(v) if !self.captures.is_empty() => {
                        // Inside a script block: the output is the block's, not printed;
                        // Write-Host's text goes to the console all the same.
                        for x in v.items() {
                            match x {
                                Val::Formatted(t) => self.output.push_str(&t),
                                other => self.captures.last_mut().expect("non-empty").push(other),
                            }
                        }
                    }
                    Ok(v) => {
                        let shown: Vec<Value> = match v {
                            Val::Formatted(text) => {
                                self.output.push_str(&text);
                                continue;
                            }
                            Val::Array(a)
                                if a.iter().all(|x| matches!(x, Val::Formatted(_))) && !a.is_empty() =>
                            {
                                for x in a {
                                    if let Val::Formatted(t) = x {
                                        self.output.push_str(&t);
                                    }
                                }
                                continue;
                            }
                            Val::Array(a) => a.iter().map(Val::to_output).collect(),
                            other => vec![other.to_output()],
                        };
                        self.output.push_str(&format::out_default(&shown));
                    }
                    Err(stop) => self.report(stop, Some(p))?,
                },
            }
        }
        Ok(())
    }

    fn report(&mut self, stop: Stop, p: Option<&Pipeline>) -> Result<(), RunError> {
        match stop {
            Stop::Fatal(m) => Err(RunError::Backend(m)),
            Stop::Record { command, record } => {
                self.errors += 1;
                let (line, col, text) = match p {
                    Some(p) => (p.pos.line, p.pos.col, self.src.get(p.start..p.end).unwrap_or("")),
                    None => (1, 1, ""),
                };
                self.output.push_str(&format::error(
                    &command,
                    &record,
                    &Extent {
                        origin: &self.origin,
                        line,
                        col,
                        text,
                    },
                ));
                Ok(())
            }
        }
    }

    async fn pipeline(&mut self, p: &Pipeline) -> Result<Val, Stop> {
        let mut input: Option<Val> = None;
        for el in &p.elements {
            input = Some(match el {
                Element::Expr(e) => Box::pin(self.expr(e)).await?,
                Element::Command { name, args } => Box::pin(self.command(name, args, input.take())).await?,
            });
        }
        Ok(input.unwrap_or(Val::Null))
    }

    async fn expr(&mut self, e: &Expr) -> Result<Val, Stop> {
        Ok(match e {
            Expr::Number(n) => Val::Int(*n),
            Expr::Bare(w) => Val::Str(w.clone()),
            Expr::Str(parts) => Val::Str(self.expand(parts)),
            Expr::Var(v) => self.var(v),
            Expr::Array(items) => {
                let mut out = Vec::new();
                for it in items {
                    match Box::pin(self.expr(it)).await? {
                        // `@( a; b )` flattens what its pipelines output.
                        Val::Array(a) if matches!(it, Expr::Sub(_)) => out.extend(a),
                        Val::Null if matches!(it, Expr::Sub(_)) => {}
                        v => out.push(v),
                    }
                }
                Val::Array(out)
            }
            Expr::Hash(pairs) => {
                let mut out = Vec::new();
                for (k, v) in pairs {
                    out.push((k.clone(), Box::pin(self.expr(v)).await?));
                }
                Val::Hash(out)
            }
            Expr::Sub(p) => Box::pin(self.pipeline(p)).await?,
            Expr::Block(b) => Val::Block(b.clone()),
            Expr::Not(e) => Val::Bool(!Box::pin(self.expr(e)).await?.truthy()),
            Expr::Binary { op, left, right } => {
                let l = Box::pin(self.expr(left)).await?;
                match op {
                    // Short-circuit (about_Logical_Operators).
                    Op::And if !l.truthy() => Val::Bool(false),
                    Op::Or if l.truthy() => Val::Bool(true),
                    Op::And | Op::Or => Val::Bool(Box::pin(self.expr(right)).await?.truthy()),
                    _ => compare(*op, l, &Box::pin(self.expr(right)).await?),
                }
            }
            Expr::Member { target, name, args } => {
                let t = Box::pin(self.expr(target)).await?;
                let mut a = Vec::new();
                for x in args.iter().flatten() {
                    a.push(Box::pin(self.expr(x)).await?);
                }
                member(t, name, args.as_ref().map(|_| a))?
            }
        })
    }

    fn var(&self, name: &str) -> Val {
        match name.to_ascii_lowercase().as_str() {
            "true" => Val::Bool(true),
            "false" => Val::Bool(false),
            "null" => Val::Null,
            // An unset environment variable is $null (empty inside a string).
            n if n.starts_with("env:") => self
                .env
                .as_ref()
                .and_then(|e| e.get(&n[4..]))
                .map_or(Val::Null, |v| Val::Str(v.clone())),
            n => self.vars.get(n).cloned().unwrap_or(Val::Null),
        }
    }

    fn expand(&self, parts: &[StrPart]) -> String {
        parts
            .iter()
            .map(|p| match p {
                StrPart::Text(t) => t.clone(),
                StrPart::Var(v) => self.var(v).text(),
            })
            .collect()
    }

    /// Arguments to named and positional values; splats expand here.
    async fn bind_args(&mut self, args: &[Arg]) -> Result<(Vec<(String, Option<Val>)>, Vec<Val>), Stop> {
        let mut named = Vec::new();
        let mut positional = Vec::new();
        for a in args {
            match a {
                Arg::Named { name, value, .. } => {
                    let v = match value {
                        Some(e) => Some(Box::pin(self.expr(e)).await?),
                        None => None,
                    };
                    named.push((name.clone(), v));
                }
                Arg::Positional(e) => positional.push(Box::pin(self.expr(e)).await?),
                Arg::Splat(v) => match self.var(v) {
                    Val::Hash(h) => named.extend(h.into_iter().map(|(k, v)| (k, Some(v)))),
                    Val::Array(a) => positional.extend(a),
                    Val::Null => {}
                    other => positional.push(other),
                },
            }
        }
        Ok((named, positional))
    }

    async fn command(&mut self, name: &str, args: &[Arg], input: Option<Val>) -> Result<Val, Stop> {
        let (named, positional) = self.bind_args(args).await?;
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "select-object" | "select" => select(name, input, &named, &positional),
            "format-list" | "fl" => {
                let v = select(name, input, &named, &positional)?;
                let objects: Vec<PsObject> = v
                    .items()
                    .into_iter()
                    .filter_map(|x| match x {
                        Val::Object(o) => Some(o),
                        _ => None,
                    })
                    .collect();
                Ok(Val::Formatted(format::list(&objects)))
            }
            "write-output" | "echo" | "write-host" => {
                let mut all = positional;
                if let Some(i) = input {
                    all.extend(i.items());
                }
                if lower == "write-host" {
                    let line = all.iter().map(Val::text).collect::<Vec<_>>().join(" ");
                    return Ok(Val::Formatted(format!("{line}\n")));
                }
                Ok(if all.len() == 1 {
                    all.remove(0)
                } else {
                    Val::Array(all)
                })
            }
            "foreach-object" | "%" | "foreach" => {
                let action = match (named.as_slice(), positional.as_slice()) {
                    ([], [one]) => one.clone(),
                    ([(n, Some(v))], []) if is_param(n, "Process") || is_param(n, "MemberName") => v.clone(),
                    _ => return Err(unsupported_use(name, "a script block { … } or a property name")),
                };
                let items = input.map_or_else(|| vec![Val::Null], Val::items);
                let mut out = Vec::new();
                for item in items {
                    match &action {
                        Val::Block(b) => out.extend(self.invoke(b, item).await?),
                        // `ForEach-Object Name`: the property of each object.
                        property => out.extend(member(item, &property.text(), None)?.items()),
                    }
                }
                Ok(collected(out))
            }
            "where-object" | "?" | "where" => {
                let items = input.map(Val::items).unwrap_or_default();
                let mut out = Vec::new();
                match (named.as_slice(), positional.as_slice()) {
                    ([], [Val::Block(b)]) | ([(_, Some(Val::Block(b)))], []) => {
                        for item in items {
                            if collected(self.invoke(b, item.clone()).await?).truthy() {
                                out.push(item);
                            }
                        }
                    }
                    // The simplified syntax: `Where-Object Name -eq 'x'`.
                    ([(op, Some(value))], [property]) => {
                        let op = super::parser::OPERATORS
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case(op) && !matches!(n, &"and" | &"or"))
                            .map(|(_, o)| *o)
                            .ok_or_else(|| unsupported_use(name, "a script block or 'Property -op value'"))?;
                        for item in items {
                            let v = member(item.clone(), &property.text(), None)?;
                            if compare(op, v, value).truthy() {
                                out.push(item);
                            }
                        }
                    }
                    _ => return Err(unsupported_use(name, "a script block or 'Property -op value'")),
                }
                Ok(collected(out))
            }
            "get-date" => {
                if let Some((n, _)) = named.first() {
                    return Err(record(name, ErrorRecord::parameter_not_found(name, n)));
                }
                self.backend.now().await.map(Val::Date).map_err(Stop::Fatal)
            }
            "convertto-securestring" => {
                let text = named
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("String"))
                    .and_then(|(_, v)| v.clone())
                    .or_else(|| positional.first().cloned())
                    .ok_or_else(|| record(name, ErrorRecord::missing_mandatory(name, &["String"])))?;
                let plain = named.iter().any(|(n, _)| n.eq_ignore_ascii_case("AsPlainText"));
                if !plain {
                    return Err(record(name, ErrorRecord::new("InvalidArgument", "ImportSecureString_InvalidArgument_CryptographicError,Microsoft.PowerShell.Commands.ConvertToSecureStringCommand", "adsim ps converts plain text only: add -AsPlainText -Force")));
                }
                Ok(Val::Secure(text.text()))
            }
            "import-module" => {
                let module = positional
                    .first()
                    .or_else(|| {
                        named
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case("Name"))
                            .and_then(|(_, v)| v.as_ref())
                    })
                    .map(Val::text)
                    .unwrap_or_default();
                if module.eq_ignore_ascii_case("ActiveDirectory") || module.eq_ignore_ascii_case("Kds") {
                    Ok(Val::Null)
                } else {
                    Err(record(name, ErrorRecord::new("ResourceUnavailable", "Modules_ModuleNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand", format!("The specified module '{module}' was not loaded because no valid module file was found in any module directory."))))
                }
            }
            "klist" | "klist.exe" => {
                klist_args(&named, &positional)
                    .map_err(|m| record("klist", ErrorRecord::new("InvalidArgument", "adsim:klist", m)))?;
                self.backend.klist_purge().await.map_err(Stop::Fatal)?;
                let lines = "\nTargeted LogonId is 0:0x3e7\n\tDeleting all tickets:\n\tTicket(s) purged!\n";
                Ok(Val::Formatted(lines.to_string()))
            }
            "restart-computer" => {
                let host = named
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("ComputerName"))
                    .and_then(|(_, v)| v.as_ref().map(Val::text))
                    .or_else(|| positional.first().map(Val::text));
                self.backend.restart(host.as_deref()).await.map_err(Stop::Fatal)?;
                Ok(Val::Null)
            }
            _ => {
                let mut params = Map::new();
                for (n, v) in named {
                    params.insert(n, v.map_or(Value::Null, |v| v.to_param()));
                }
                let mut pos: Vec<Value> = positional.iter().map(Val::to_param).collect();
                if let Some(i) = input {
                    // Pipeline input binds to -Identity (ByValue), as the AD cmdlets take it.
                    let items = i.items();
                    if !items.is_empty() && !params.keys().any(|k| k.eq_ignore_ascii_case("Identity")) {
                        pos.insert(0, items[0].to_param());
                    }
                }
                let answer = self
                    .backend
                    .cmdlet(name, params, pos)
                    .await
                    .map_err(Stop::Fatal)?;
                for w in &answer.warnings {
                    self.output.push_str(&format!("WARNING: {w}\n"));
                }
                if let Some(r) = answer.error {
                    return Err(record(name, r));
                }
                let mut out: Vec<Val> = answer.output.iter().map(Val::from_json).collect();
                Ok(match out.len() {
                    0 => Val::Null,
                    1 => out.remove(0),
                    _ => Val::Array(out),
                })
            }
        }
    }
}

impl<B: Backend> Interpreter<B> {
    /// Runs a script block with `$_` = `item`; what its statements output.
    async fn invoke(&mut self, block: &Arc<ScriptBlock>, item: Val) -> Result<Vec<Val>, Stop> {
        let saved = self.vars.insert("_".into(), item);
        self.captures.push(Vec::new());
        let ran = Box::pin(self.block(&block.body)).await;
        let out = self.captures.pop().unwrap_or_default();
        match saved {
            Some(v) => self.vars.insert("_".into(), v),
            None => self.vars.remove("_"),
        };
        ran.map_err(|e| Stop::Fatal(e.to_string()))?;
        Ok(out)
    }
}

/// A cmdlet's output: nothing, one object, or a collection.
fn collected(mut out: Vec<Val>) -> Val {
    match out.len() {
        0 => Val::Null,
        1 => out.remove(0),
        _ => Val::Array(out),
    }
}

fn is_param(given: &str, name: &str) -> bool {
    !given.is_empty() && name.to_ascii_lowercase().starts_with(&given.to_ascii_lowercase())
}

fn unsupported_use(command: &str, what: &str) -> Stop {
    record(
        command,
        ErrorRecord::new(
            "InvalidArgument",
            "adsim:UnsupportedSyntax",
            format!("unsupported syntax: adsim ps runs {command} with {what} only"),
        ),
    )
}

/// A comparison (about_Comparison_Operators): the right side converted to the left side's
/// type, strings case-insensitive, `-like` with wildcards; a collection on the left gives its
/// matching items.
fn compare(op: Op, left: Val, right: &Val) -> Val {
    if let Val::Array(items) = left {
        return Val::Array(
            items
                .into_iter()
                .filter(|x| compare(op, x.clone(), right).truthy())
                .collect(),
        );
    }
    let ordering = || -> std::cmp::Ordering {
        match (&left, right) {
            (Val::Int(a), r) => match r {
                Val::Int(b) => a.cmp(b),
                other => other
                    .text()
                    .trim()
                    .parse::<i64>()
                    .map_or_else(|_| a.to_string().cmp(&other.text()), |b| a.cmp(&b)),
            },
            (Val::Bool(a), r) => a.cmp(&r.truthy()),
            (Val::Null, Val::Null) => std::cmp::Ordering::Equal,
            (Val::Null, _) => std::cmp::Ordering::Less,
            (l, r) => l.text().to_lowercase().cmp(&r.text().to_lowercase()),
        }
    };
    let b = match op {
        Op::Eq => ordering().is_eq(),
        Op::Ne => !ordering().is_eq(),
        Op::Like => wildcard(&right.text(), &left.text()),
        Op::NotLike => !wildcard(&right.text(), &left.text()),
        Op::Gt => ordering().is_gt(),
        Op::Ge => ordering().is_ge(),
        Op::Lt => ordering().is_lt(),
        Op::Le => ordering().is_le(),
        Op::And => left.truthy() && right.truthy(),
        Op::Or => left.truthy() || right.truthy(),
    };
    Val::Bool(b)
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Parse(ParseError),
    #[error("{0}")]
    Backend(String),
}

/// `klist purge`, `klist -li 0x3e7 purge`, `klist -lh 0 -li 0x3e7 purge`.
fn klist_args(named: &[(String, Option<Val>)], positional: &[Val]) -> Result<(), String> {
    let usage =
        "adsim ps runs klist only as 'klist [-lh 0] -li 0x3e7 purge' (the SYSTEM logon session's tickets)";
    if positional.len() != 1 || !positional[0].text().eq_ignore_ascii_case("purge") {
        return Err(usage.into());
    }
    for (n, v) in named {
        let ok = matches!(
            (n.to_ascii_lowercase().as_str(), v),
            ("li", Some(Val::Int(0x3e7))) | ("lh", Some(Val::Int(0)))
        );
        if !ok {
            return Err(usage.into());
        }
    }
    Ok(())
}

/// `.Name` of an object or hashtable, `.Count`/`.Length`, DateTime's `AddDays/AddHours/
/// AddMinutes/AddSeconds(n)`.
fn member(t: Val, name: &str, args: Option<Vec<Val>>) -> Result<Val, Stop> {
    let unsupported = |what: &str| {
        record(
            "",
            ErrorRecord::new(
                "InvalidOperation",
                "MethodNotFound",
                format!("adsim ps does not support {what}"),
            ),
        )
    };
    match (t, args) {
        (Val::Date(d), Some(a)) => {
            let unit: i64 = match name.to_ascii_lowercase().as_str() {
                "adddays" => 86_400,
                "addhours" => 3_600,
                "addminutes" => 60,
                "addseconds" => 1,
                _ => return Err(unsupported(&format!("the DateTime method {name}()"))),
            };
            let [Val::Int(n)] = a.as_slice() else {
                return Err(unsupported(&format!("{name}() with these arguments")));
            };
            let ticks = (n * unit) as i128 * adsim_simulator::clock::TICKS_PER_SECOND as i128;
            Ok(Val::Date(NtTime((d.0 as i128 + ticks).max(0) as u64)))
        }
        (_, Some(_)) => Err(unsupported(&format!("the method {name}()"))),
        (Val::Object(o), None) => Ok(o.get(name).map_or(Val::Null, Val::from_json)),
        (Val::Hash(h), None) => Ok(h
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or(Val::Null, |(_, v)| v)),
        (Val::Array(a), None)
            if name.eq_ignore_ascii_case("Count") || name.eq_ignore_ascii_case("Length") =>
        {
            Ok(Val::Int(a.len() as i64))
        }
        (Val::Array(a), None) => Ok(Val::Array(
            a.into_iter()
                .filter_map(|x| match x {
                    Val::Object(o) => o.get(name).map(Val::from_json),
                    _ => None,
                })
                .collect(),
        )),
        (Val::Str(s), None) if name.eq_ignore_ascii_case("Length") => Ok(Val::Int(s.chars().count() as i64)),
        (Val::Null, None) => Ok(Val::Null),
        (_, None) => Err(unsupported(&format!("the property {name} here"))),
    }
}

/// `*`/`?` wildcards, case-insensitive (about_Wildcards).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Select-Object `-Property a,b` / `*` (or positional): objects keep the matching properties,
/// in the order asked.
fn select(
    command: &str,
    input: Option<Val>,
    named: &[(String, Option<Val>)],
    positional: &[Val],
) -> Result<Val, Stop> {
    let mut wanted: Vec<String> = Vec::new();
    for (n, v) in named {
        if "property".starts_with(&n.to_ascii_lowercase()) && !n.is_empty() {
            wanted.extend(
                v.clone()
                    .map(Val::items)
                    .unwrap_or_default()
                    .iter()
                    .map(Val::text),
            );
        } else {
            return Err(record(command, ErrorRecord::parameter_not_found(command, n)));
        }
    }
    for v in positional {
        wanted.extend(v.clone().items().iter().map(Val::text));
    }
    let items = input.map(Val::items).unwrap_or_default();
    let out: Vec<Val> = items
        .into_iter()
        .map(|x| match x {
            Val::Object(o) if !wanted.is_empty() => {
                let mut s = PsObject::new(&format!("Selected.{}", o.type_name));
                for w in &wanted {
                    if w.contains('*') || w.contains('?') {
                        for (n, v) in o.properties.iter().filter(|(n, _)| wildcard(w, n)) {
                            s.set(n, v.clone());
                        }
                    } else {
                        let (n, v) = o
                            .properties
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case(w))
                            .map(|(n, v)| (n.clone(), v.clone()))
                            .unwrap_or((w.clone(), Value::Null));
                        s.set(&n, v);
                    }
                }
                Val::Object(s)
            }
            other => other,
        })
        .collect();
    Ok(match out.len() {
        1 => out.into_iter().next().unwrap_or(Val::Null),
        _ => Val::Array(out),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the calls and answers from a table: a test double of the control API.
    #[derive(Default)]
    struct Fake {
        calls: Vec<(String, Value, Vec<Value>)>,
        purged: usize,
    }

    impl Backend for Fake {
        async fn cmdlet(
            &mut self,
            name: &str,
            named: Map<String, Value>,
            positional: Vec<Value>,
        ) -> Result<Answer, String> {
            self.calls
                .push((name.to_string(), Value::Object(named.clone()), positional));
            Ok(match name {
                "Get-ADServiceAccount" => Answer {
                    output: vec![PsObject::new("ADServiceAccount")
                        .with(
                            "DistinguishedName",
                            json!("CN=svc,CN=Managed Service Accounts,DC=x"),
                        )
                        .with("Enabled", json!(true))
                        .with("Name", json!("svc"))
                        .with("ObjectClass", json!("msDS-GroupManagedServiceAccount"))
                        .with("SamAccountName", json!("svc$"))
                        .to_json()],
                    warnings: vec![],
                    error: None,
                },
                "Get-ADComputer" => {
                    let id = named
                        .get("Identity")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    Answer {
                        output: vec![PsObject::new("ADComputer")
                            .with("DistinguishedName", json!(format!("CN={id},CN=Computers,DC=x")))
                            .with("Name", json!(id))
                            .to_json()],
                        warnings: vec![],
                        error: None,
                    }
                }
                "Test-ADServiceAccount" => Answer {
                    output: vec![json!(false)],
                    warnings: vec!["Test failed".into()],
                    error: None,
                },
                "New-ADServiceAccount" if named.get("Name") == Some(&json!("dup")) => Answer {
                    output: vec![],
                    warnings: vec![],
                    error: Some(ErrorRecord::new(
                        "NotSpecified",
                        "ActiveDirectoryServer:1316,X",
                        "The specified account already exists",
                    )),
                },
                _ => Answer {
                    output: vec![],
                    warnings: vec![],
                    error: None,
                },
            })
        }
        async fn klist_purge(&mut self) -> Result<(), String> {
            self.purged += 1;
            Ok(())
        }
        async fn restart(&mut self, _: Option<&str>) -> Result<(), String> {
            Ok(())
        }
        async fn now(&mut self) -> Result<NtTime, String> {
            Ok(NtTime::parse_rfc3339("2026-01-02T03:04:05Z").unwrap())
        }
        fn host(&self) -> Option<String> {
            Some("WEB01".into())
        }
        async fn environment(&mut self) -> Result<Vec<(String, String)>, String> {
            Ok(vec![
                ("USERDNSDOMAIN".into(), "CORP.EXAMPLE.TEST".into()),
                ("USERDOMAIN".into(), "CORP".into()),
                ("COMPUTERNAME".into(), "WEB01".into()),
            ])
        }
    }

    fn run(src: &str) -> Interpreter<Fake> {
        let mut i = Interpreter::new(Fake::default(), None);
        futures_lite(i.run(src)).unwrap();
        i
    }

    /// A tiny executor: the fake never awaits anything pending.
    fn futures_lite<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn splatting_foreach_and_expansion_build_the_calls() {
        let i = run(r#"
$names = @("WEB01$", "WEB02$")
$params = @{ Identity = "hosts"; Members = $names }
Add-ADGroupMember @params
foreach ($n in $names) { Add-ADPrincipalGroupMembership -Identity "$n" -MemberOf 'g1','g2' }
New-ADServiceAccount -Name x -Enabled:$false -RestrictToSingleComputer
Add-KdsRootKey -EffectiveTime ((Get-Date).AddHours(-10))
"#);
        let c = &i.backend.calls;
        assert_eq!(
            c[0].1,
            json!({"Identity": "hosts", "Members": ["WEB01$", "WEB02$"]})
        );
        assert_eq!(c[1].1, json!({"Identity": "WEB01$", "MemberOf": ["g1", "g2"]}));
        assert_eq!(c[2].1, json!({"Identity": "WEB02$", "MemberOf": ["g1", "g2"]}));
        assert_eq!(
            c[3].1,
            json!({"Name": "x", "Enabled": false, "RestrictToSingleComputer": null})
        );
        assert_eq!(c[4].1, json!({"EffectiveTime": "2026-01-01T17:04:05Z"}));
        assert_eq!(i.errors, 0);
    }

    #[test]
    fn outputs_objects_warnings_errors_and_selections() {
        let i = run("Get-ADServiceAccount svc | Select-Object -Property Name,Enabled\nTest-ADServiceAccount svc\nNew-ADServiceAccount -Name dup -DNSHostName h");
        assert_eq!(
            i.output,
            "\nName Enabled\n---- -------\nsvc  True\n\nWARNING: Test failed\nFalse\nNew-ADServiceAccount : The specified account already exists\nAt line:3 char:1\n+ New-ADServiceAccount -Name dup -DNSHostName h\n+ ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n    + CategoryInfo          : NotSpecified: (:) [New-ADServiceAccount], ADException\n    + FullyQualifiedErrorId : ActiveDirectoryServer:1316,X\n \n"
        );
        assert_eq!(i.errors, 1);
        assert_eq!(i.backend.calls[0].2, vec![json!("svc")]);
        let i = run("$g = Get-ADServiceAccount svc\n$g.SamAccountName\n\"dn: $g\"\n$g | Format-List Name");
        assert_eq!(
            i.output,
            "svc$\ndn: CN=svc,CN=Managed Service Accounts,DC=x\n\nName : svc\n\n"
        );
    }

    #[test]
    fn script_blocks_dollar_underscore_if_env_and_operators() {
        let i = run(r#"
$hosts = 'DC1', 'WEB01'
Import-Module ActiveDirectory
$hosts | ForEach-Object { Get-ADComputer -Identity $_ } |
    % { Add-ADGroupMember -Identity g -Members $_ }
if ($hosts -eq 'nope') { Write-Output 'wrong' } elseif ($hosts.Count -ge 2 -and -not $null) { Write-Output 'two' } else { Write-Output 'else' }
New-ADServiceAccount -Name a -DNSHostName "a.$env:USERDNSDOMAIN" `
 -KerberosEncryptionType ('AES128','AES256')
"[$env:USERDOMAIN|$env:COMPUTERNAME|$env:NOT_SET]"
$hosts | Where-Object { $_ -like 'w*' }
$hosts | ? { $_ -ne 'WEB01' } | ForEach-Object { "host $_" }
Get-ADComputer -Identity x | Where-Object Name -eq 'x' | ForEach-Object Name
Get-ADComputer -Filter { Name -like 'web*' }
"#);
        let c = &i.backend.calls;
        assert_eq!(c[0].1, json!({"Identity": "DC1"}));
        assert_eq!(c[1].1, json!({"Identity": "WEB01"}));
        // The objects bind to -Members by their DistinguishedName.
        assert_eq!(
            c[2].1,
            json!({"Identity": "g", "Members": "CN=DC1,CN=Computers,DC=x"})
        );
        assert_eq!(
            c[3].1,
            json!({"Identity": "g", "Members": "CN=WEB01,CN=Computers,DC=x"})
        );
        assert_eq!(
            c[4].1,
            json!({"Name": "a", "DNSHostName": "a.CORP.EXAMPLE.TEST", "KerberosEncryptionType": ["AES128", "AES256"]})
        );
        assert_eq!(c[6].1, json!({"Filter": " Name -like 'web*' "}));
        assert_eq!(
            i.output,
            "two\n[CORP|WEB01|]\nWEB01\nhost DC1\nx\n\nDistinguishedName     Name\n-----------------     ----\nCN=,CN=Computers,DC=x\n\n"
        );
        assert_eq!(i.errors, 0);
        // $_ is restored after the block.
        let i = run("$_ = 'outer'\n'a' | % { $_ }\n$_");
        assert_eq!(i.output, "a\nouter\n");
        let i = run("1,2 | ForEach-Object -Begin { }");
        assert!(
            i.output
                .contains("unsupported syntax: adsim ps runs ForEach-Object with"),
            "{}",
            i.output
        );
    }

    #[test]
    fn klist_forms_and_refusals() {
        let i = run("klist -lh 0 -li 0x3e7 purge\nklist purge\nklist tickets");
        assert_eq!(i.backend.purged, 2);
        assert_eq!(i.errors, 1);
        assert!(i.output.contains("Ticket(s) purged!"));
        assert!(i.output.contains("'klist [-lh 0] -li 0x3e7 purge'"));
    }

    #[test]
    fn a_parse_error_runs_nothing() {
        let mut i = Interpreter::new(Fake::default(), None);
        let e = futures_lite(i.run("Get-ADServiceAccount svc\nwhile ($true) { }")).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2, column 1: unsupported syntax: the 'while' statement"),
            "{e}"
        );
        assert!(i.backend.calls.is_empty());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard(
            "Principals*",
            "PrincipalsAllowedToRetrieveManagedPassword"
        ));
        assert!(wildcard("*Name", "SamAccountName"));
        assert!(!wildcard("Name", "SamAccountName"));
        assert!(wildcard("*", ""));
    }
}
