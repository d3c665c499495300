//! Tokens of the PowerShell subset `adsim ps` runs (about_Parsing, about_Quoting_Rules,
//! about_Comments): words, `-Parameter` and `-Parameter:`, `$variables` (`${name}` too),
//! `@splat`, numbers (decimal and `0x` hex), strings (single-quoted literal with `''`,
//! double-quoted with `` ` `` escapes, `""` and `$var` / `$(...)`-free expansion), `@(`, `@{`,
//! brackets, `,` `;` `=` `|` `.`, newlines, `#` and `<# #>` comments and the backtick line
//! continuation. Anything else is an error naming the character and its position.

/// A position: line and column, both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.col)
    }
}

/// A part of a double-quoted string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrPart {
    Text(String),
    Var(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A bare word: a command name, a bare argument, a keyword (`foreach`, `in`).
    Word(String),
    /// `-Name`; `colon` when written `-Name:` (the value follows).
    Param {
        name: String,
        colon: bool,
    },
    Var(String),
    Splat(String),
    Number(i64),
    /// A single-quoted string or a double-quoted one, with its parts.
    Str(Vec<StrPart>),
    ArrayOpen,
    HashOpen,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Semi,
    Assign,
    Pipe,
    Dot,
    Newline,
}

/// The one-character tokens, one table.
fn punctuation(c: char) -> Option<Tok> {
    Some(match c {
        '(' => Tok::LParen,
        ')' => Tok::RParen,
        '{' => Tok::LBrace,
        '}' => Tok::RBrace,
        ',' => Tok::Comma,
        ';' => Tok::Semi,
        '|' => Tok::Pipe,
        '=' => Tok::Assign,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// Byte offsets of the token in the source (for the error display's underline).
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct LexError {
    pub pos: Pos,
    pub message: String,
}

/// Longest script accepted (bytes): the lexer and parser are linear, this bounds memory.
pub const MAX_SCRIPT: usize = 1 << 20;

fn word_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c,
            '(' | ')' | '{' | '}' | ',' | ';' | '|' | '"' | '\'' | '=' | '#' | '$' | '@' | '`'
        )
}

pub fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    if src.len() > MAX_SCRIPT {
        return Err(LexError {
            pos: Pos { line: 1, col: 1 },
            message: format!("script longer than {MAX_SCRIPT} bytes"),
        });
    }
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let (mut line, mut line_start) = (1usize, 0usize);
    let pos_of = |i: usize, line: usize, line_start: usize| Pos {
        line,
        col: i - line_start + 1,
    };
    let at = |i: usize| chars.get(i).map(|c| c.1);
    let offset = |i: usize| chars.get(i).map_or(src.len(), |c| c.0);
    while i < chars.len() {
        let c = chars[i].1;
        let pos = pos_of(i, line, line_start);
        let start = i;
        let err = |message: String| LexError { pos, message };
        let push = |tok: Tok, end: usize, out: &mut Vec<Token>| {
            out.push(Token {
                tok,
                pos,
                start: offset(start),
                end: offset(end),
            })
        };
        match c {
            '\n' => {
                push(Tok::Newline, i + 1, &mut out);
                i += 1;
                line += 1;
                line_start = i;
            }
            c if c.is_whitespace() => i += 1,
            '`' => {
                // A line continuation: backtick, optional spaces, newline.
                let mut j = i + 1;
                while at(j).is_some_and(|c| c == ' ' || c == '\t' || c == '\r') {
                    j += 1;
                }
                if at(j) == Some('\n') {
                    i = j + 1;
                    line += 1;
                    line_start = i;
                } else {
                    return Err(err("a backtick outside a string must end the line (line continuation)".into()));
                }
            }
            '#' => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
            }
            '<' if at(i + 1) == Some('#') => {
                i += 2;
                loop {
                    match at(i) {
                        None => return Err(err("unterminated block comment <# … #>".into())),
                        Some('#') if at(i + 1) == Some('>') => {
                            i += 2;
                            break;
                        }
                        Some('\n') => {
                            i += 1;
                            line += 1;
                            line_start = i;
                        }
                        _ => i += 1,
                    }
                }
            }
            c if punctuation(c).is_some() => {
                push(punctuation(c).expect("matched"), i + 1, &mut out);
                i += 1;
            }
            '@' => match at(i + 1) {
                Some('(') => {
                    push(Tok::ArrayOpen, i + 2, &mut out);
                    i += 2;
                }
                Some('{') => {
                    push(Tok::HashOpen, i + 2, &mut out);
                    i += 2;
                }
                Some(c) if c.is_alphanumeric() || c == '_' => {
                    let mut j = i + 1;
                    while at(j).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        j += 1;
                    }
                    let name: String = chars[i + 1..j].iter().map(|c| c.1).collect();
                    push(Tok::Splat(name), j, &mut out);
                    i = j;
                }
                _ => return Err(err("unsupported syntax: '@' must start @( ), @{ } or a splatted @variable (here-strings @\" \"@ are not supported)".into())),
            },
            '$' => {
                let (name, j) = variable(&chars, i).ok_or_else(|| err("'$' must start a variable name ($name or ${name}); subexpressions $( ) are not supported".into()))?;
                push(Tok::Var(name), j, &mut out);
                i = j;
            }
            '\'' => {
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    match at(j) {
                        None => return Err(err("unterminated single-quoted string".into())),
                        Some('\'') if at(j + 1) == Some('\'') => {
                            text.push('\'');
                            j += 2;
                        }
                        Some('\'') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                                line_start = j + 1;
                            }
                            text.push(c);
                            j += 1;
                        }
                    }
                }
                push(Tok::Str(vec![StrPart::Text(text)]), j + 1, &mut out);
                i = j + 1;
            }
            '"' => {
                let mut parts = Vec::new();
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    match at(j) {
                        None => return Err(err("unterminated double-quoted string".into())),
                        Some('"') if at(j + 1) == Some('"') => {
                            text.push('"');
                            j += 2;
                        }
                        Some('"') => break,
                        Some('`') => {
                            let e = at(j + 1).ok_or_else(|| err("unterminated double-quoted string".into()))?;
                            text.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                            j += 2;
                        }
                        Some('$') => match variable(&chars, j) {
                            Some((name, k)) => {
                                if !text.is_empty() {
                                    parts.push(StrPart::Text(std::mem::take(&mut text)));
                                }
                                parts.push(StrPart::Var(name));
                                j = k;
                            }
                            None if at(j + 1) == Some('(') => {
                                return Err(LexError {
                                    pos: pos_of(j, line, line_start),
                                    message: "unsupported syntax: subexpression $( ) in a string".into(),
                                })
                            }
                            None => {
                                text.push('$');
                                j += 1;
                            }
                        },
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                                line_start = j + 1;
                            }
                            text.push(c);
                            j += 1;
                        }
                    }
                }
                if !text.is_empty() || parts.is_empty() {
                    parts.push(StrPart::Text(text));
                }
                push(Tok::Str(parts), j + 1, &mut out);
                i = j + 1;
            }
            '.' if !at(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                push(Tok::Dot, i + 1, &mut out);
                i += 1;
            }
            '-' if at(i + 1).is_some_and(|c| c.is_alphabetic()) => {
                let mut j = i + 1;
                while at(j).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().map(|c| c.1).collect();
                let colon = at(j) == Some(':');
                push(Tok::Param { name, colon }, if colon { j + 1 } else { j }, &mut out);
                i = if colon { j + 1 } else { j };
            }
            c if word_char(c) => {
                let mut j = i;
                loop {
                    match at(j) {
                        Some(c) if word_char(c) => j += 1,
                        // `WEB01$`: a `$` that starts no variable name stays in the word.
                        Some('$') if !at(j + 1).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '{') => j += 1,
                        _ => break,
                    }
                }
                let w: String = chars[i..j].iter().map(|c| c.1).collect();
                let tok = number(&w).map_or(Tok::Word(w), Tok::Number);
                push(tok, j, &mut out);
                i = j;
            }
            other => return Err(err(format!("unexpected character {other:?}"))),
        }
    }
    Ok(out)
}

/// `$name` or `${name}` at `i`: the name and the index after it.
fn variable(chars: &[(usize, char)], i: usize) -> Option<(String, usize)> {
    let at = |i: usize| chars.get(i).map(|c| c.1);
    if at(i + 1) == Some('{') {
        let mut j = i + 2;
        while at(j).is_some_and(|c| c != '}') {
            j += 1;
        }
        at(j)?;
        return Some((chars[i + 2..j].iter().map(|c| c.1).collect(), j + 1));
    }
    let mut j = i + 1;
    while at(j).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
        j += 1;
    }
    // `$env:NAME` keeps its colon; a trailing colon belongs to the text after.
    while j > i + 1 && at(j - 1) == Some(':') {
        j -= 1;
    }
    (j > i + 1).then(|| (chars[i + 1..j].iter().map(|c| c.1).collect(), j))
}

fn number(w: &str) -> Option<i64> {
    if let Some(h) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok();
    }
    if w.starts_with('-') && w.len() > 1 {
        return w[1..].parse::<i64>().ok().map(|n| -n);
    }
    w.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_params_variables_strings() {
        assert_eq!(
            toks("New-ADServiceAccount -Name $n -Confirm:$false # c"),
            vec![
                Tok::Word("New-ADServiceAccount".into()),
                Tok::Param {
                    name: "Name".into(),
                    colon: false
                },
                Tok::Var("n".into()),
                Tok::Param {
                    name: "Confirm".into(),
                    colon: true
                },
                Tok::Var("false".into()),
            ]
        );
        assert_eq!(
            toks("'it''s'"),
            vec![Tok::Str(vec![StrPart::Text("it's".into())])]
        );
        assert_eq!(
            toks(r#""a $x-b `"q`"""#),
            vec![Tok::Str(vec![
                StrPart::Text("a ".into()),
                StrPart::Var("x".into()),
                StrPart::Text("-b \"q\"".into()),
            ])]
        );
        assert_eq!(
            toks("0x3e7 10 -1"),
            vec![Tok::Number(0x3e7), Tok::Number(10), Tok::Number(-1)]
        );
        assert_eq!(
            toks("@params @( @{"),
            vec![Tok::Splat("params".into()), Tok::ArrayOpen, Tok::HashOpen]
        );
        assert_eq!(
            toks("a `\n b <# x\n y #> c"),
            vec![
                Tok::Word("a".into()),
                Tok::Word("b".into()),
                Tok::Word("c".into())
            ]
        );
        assert_eq!(toks("${my var}"), vec![Tok::Var("my var".into())]);
        assert_eq!(
            toks("WEB01$, DC1$"),
            vec![Tok::Word("WEB01$".into()), Tok::Comma, Tok::Word("DC1$".into())]
        );
    }

    #[test]
    fn errors_name_the_construct_and_position() {
        let e = lex("Get-X\n  $(1)").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, col: 3 });
        assert!(e.message.contains("subexpressions"), "{}", e.message);
        assert!(lex("'abc")
            .unwrap_err()
            .message
            .contains("unterminated single-quoted"));
        assert!(lex("@\"\nx\n\"@").unwrap_err().message.contains("here-strings"));
        assert!(lex("a ` b").unwrap_err().message.contains("backtick"));
    }
}
