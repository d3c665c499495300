//! From bytes to records' logical lines: line endings, folding, comments and blank-line
//! separators (RFC 2849 §"Notes on LDIF Syntax" 2 and 3). Works on bytes so that a fold may
//! split a base64 quantum or a UTF-8 sequence.

use std::borrow::Cow;

use super::LdifError;

/// One unfolded line and the physical line number where it starts: borrowed from the input
/// unless it was folded (a copy per line was a tenth of parsing a bulk-load fixture; issue 12).
#[derive(Debug)]
pub(crate) struct LogicalLine<'a> {
    pub number: usize,
    pub bytes: Cow<'a, [u8]>,
}

/// What a continuation line (one starting with a space) would extend.
enum Open {
    /// Nothing: start of file or just after a blank line.
    Nothing,
    /// The last logical line of the current block.
    Line,
    /// A comment, which may itself be folded; its continuations are dropped with it.
    Comment,
}

/// Splits `input` into blocks of logical lines and hands each to `block` as soon as it ends, in
/// order; blocks are separated by one or more blank lines, comments are dropped, and blocks
/// holding only comments disappear. Stops at the first error, or when `block` returns false. One
/// buffer of lines serves every block (a bulk-load fixture has one block per entry).
pub(crate) fn for_each_block<'a>(
    input: &'a [u8],
    mut block: impl FnMut(&[LogicalLine<'a>]) -> Result<bool, LdifError>,
) -> Result<(), LdifError> {
    let mut current: Vec<LogicalLine<'a>> = Vec::new();
    let mut open = Open::Nothing;
    for (index, raw) in input.split(|b| *b == b'\n').enumerate() {
        let number = index + 1;
        // SEP = CR LF / LF: a CR belongs to the separator only right before the LF.
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        match raw.first() {
            None => {
                if !current.is_empty() {
                    if !block(&current)? {
                        return Ok(());
                    }
                    current.clear();
                }
                open = Open::Nothing;
            }
            // A line starting with one space continues the previous line; that one space is
            // removed and everything after it (further spaces included) is kept.
            Some(b' ') => match open {
                Open::Nothing => {
                    return Err(LdifError::at(
                        number,
                        "continuation line (starting with a space) has no line to continue: expected \
                         an `attribute: value` line after a blank line or at the start of the file",
                    ))
                }
                Open::Comment => {}
                Open::Line => {
                    if let Some(last) = current.last_mut() {
                        last.bytes.to_mut().extend_from_slice(&raw[1..]);
                    }
                }
            },
            Some(b'#') => open = Open::Comment,
            Some(_) => {
                current.push(LogicalLine {
                    number,
                    bytes: Cow::Borrowed(raw),
                });
                open = Open::Line;
            }
        }
    }
    if !current.is_empty() {
        block(&current)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_blocks(input: &[u8]) -> Result<Vec<Vec<LogicalLine<'_>>>, LdifError> {
        let mut blocks = Vec::new();
        for_each_block(input, |lines| {
            blocks.push(
                lines
                    .iter()
                    .map(|l| LogicalLine {
                        number: l.number,
                        bytes: l.bytes.clone(),
                    })
                    .collect(),
            );
            Ok(true)
        })?;
        Ok(blocks)
    }

    fn texts(input: &[u8]) -> Vec<Vec<(usize, String)>> {
        split_blocks(input)
            .unwrap()
            .into_iter()
            .map(|b| {
                b.into_iter()
                    .map(|l| (l.number, String::from_utf8(l.bytes.into_owned()).unwrap()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn folds_comments_and_separators() {
        let input = b"# head\n#  folded comment\n  still comment\na: 1\n b\n  c\n# mid\nd: 2\r\n\r\n\n\ne: 3";
        assert_eq!(
            texts(input),
            vec![
                vec![(4, "a: 1b c".to_string()), (8, "d: 2".to_string())],
                vec![(12, "e: 3".to_string())]
            ]
        );
    }

    #[test]
    fn comment_only_blocks_vanish() {
        assert!(texts(b"# a\n\n# b\n").is_empty());
    }

    #[test]
    fn continuation_after_blank_is_an_error() {
        let err = split_blocks(b"a: 1\n\n x\n").unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn lone_cr_is_kept_as_data() {
        assert_eq!(&*split_blocks(b"a: x\ry\n").unwrap()[0][0].bytes, b"a: x\ry");
    }
}
