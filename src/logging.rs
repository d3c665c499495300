//! The log format of `adsim serve`: tracing-subscriber's default fields, with every control
//! character escaped. Realms, principal names, DNs and filters in log lines come from clients;
//! a realm of `"X\n2026-… INFO adsim: forged"` must not start a line of its own, and a bidi
//! override must not reorder one (issue 13 item 7). tracing-subscriber already escapes ESC and
//! the C1 controls; this also escapes CR, LF, the other C0 controls and the Unicode bidi
//! controls, in one place for every present and future log call.

use std::fmt;

use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::FormatFields;

/// [`DefaultFields`] with control characters escaped as `\u{…}` (`\n`, `\r`, `\t` as such).
#[derive(Debug, Default)]
pub struct EscapedFields(DefaultFields);

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut plain = String::new();
        self.0.format_fields(Writer::new(&mut plain), fields)?;
        write_escaped(&mut writer, &plain)
    }
}

/// Whether `c` must not reach a log line as itself.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    for c in text.chars() {
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if is_unsafe(c) => write!(out, "\\u{{{:x}}}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn client_strings_cannot_forge_lines_or_reorder_them() {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(EscapedFields::default())
            .finish();
        let realm = "EVIL\n2026-01-01T00:00:00Z  INFO adsim: forged\r\x1b[31mred\u{202e}txt";
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(realm = %realm, sname = ?realm, "KDC refusal {}", realm);
        });
        let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            !out.contains('\x1b') && !out.contains('\r') && !out.contains('\u{202e}'),
            "{out:?}"
        );
        assert!(
            out.contains("realm=EVIL\\n2026-01-01T00:00:00Z  INFO adsim: forged\\r"),
            "{out}"
        );
        assert!(out.contains("\\u{202e}txt"), "{out}");
    }
}
