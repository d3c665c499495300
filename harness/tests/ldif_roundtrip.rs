//! Property tests: the writer's output parses back to the same records (also after arbitrary
//! re-folding and with CRLF line ends), stays within 76 ASCII columns, and the parser never
//! panics on arbitrary input.

use adsim_harness::ldif::{
    parse_bytes, parse_with, write_all, write_content, write_record, LdifChange, LdifControl, LdifMod,
    LdifRecord, ModOp, ParseOptions,
};
use proptest::prelude::*;

/// Attribute descriptions with options; names that open a change record or a record are
/// excluded (a content record cannot start with `changetype:` or `control:`).
fn attr_name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9-]{0,14}(;[a-zA-Z0-9-]{1,8}){0,2}|[1-9][0-9]{0,3}(\\.(0|[1-9][0-9]{0,4})){1,5}"
        .prop_filter("LDIF keyword", |n| {
            !["dn", "changetype", "control"]
                .iter()
                .any(|k| n.split(';').next().unwrap().eq_ignore_ascii_case(k))
        })
}

/// Values mixing arbitrary bytes with text that is safe, nearly safe (spaces, colons, `<`) or
/// non-ASCII.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..120),
        "[ :<a-z0-9=,.#-]{0,90}".prop_map(String::into_bytes),
        any::<String>().prop_map(String::into_bytes),
    ]
}

fn dn() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(CN|OU|DC)=[ a-zA-Z0-9ÄØéë\\\\,+]{0,30}(,DC=[a-z]{1,10}){0,4}",
    ]
}

fn attrs(min: usize) -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec((attr_name(), value()), min..8)
}

fn control() -> impl Strategy<Value = LdifControl> {
    (
        "[1-9][0-9]{0,3}(\\.(0|[1-9][0-9]{0,5})){1,8}",
        any::<bool>(),
        proptest::option::of(value()),
    )
        .prop_map(|(oid, critical, value)| LdifControl { oid, critical, value })
}

fn modification() -> impl Strategy<Value = LdifMod> {
    let op = prop_oneof![
        Just(ModOp::Add),
        Just(ModOp::Delete),
        Just(ModOp::Replace),
        Just(ModOp::Increment)
    ];
    (op, attr_name(), proptest::collection::vec(value(), 0..4)).prop_map(|(op, attr, values)| LdifMod {
        op,
        attr,
        values,
    })
}

fn change() -> impl Strategy<Value = LdifChange> {
    prop_oneof![
        attrs(1).prop_map(LdifChange::Add),
        Just(LdifChange::Delete),
        proptest::collection::vec(modification(), 0..5).prop_map(LdifChange::Modify),
        (dn(), any::<bool>(), proptest::option::of(dn())).prop_map(
            |(new_rdn, delete_old_rdn, new_superior)| {
                LdifChange::ModDn {
                    new_rdn,
                    delete_old_rdn,
                    new_superior,
                }
            }
        ),
    ]
}

fn record() -> impl Strategy<Value = LdifRecord> {
    prop_oneof![
        (dn(), attrs(1)).prop_map(|(dn, attrs)| LdifRecord::Content { dn, attrs }),
        (dn(), proptest::collection::vec(control(), 0..3), change())
            .prop_map(|(dn, controls, change)| LdifRecord::Change { dn, controls, change }),
    ]
}

/// Undoes the writer's folding, then folds every line again at the given widths (cycled),
/// anywhere — inside base64 text or a UTF-8 sequence — and joins lines with `eol`.
fn refold(text: &str, widths: &[usize], eol: &[u8]) -> Vec<u8> {
    let unfolded = text.replace("\n ", "");
    let mut out = Vec::new();
    let mut width_index = 0;
    for line in unfolded.lines() {
        let mut rest = line.as_bytes();
        let mut first = true;
        while !rest.is_empty() || first {
            let width = widths[width_index % widths.len()].max(1);
            width_index += 1;
            let cut = width.min(rest.len());
            if !first {
                out.push(b' ');
            }
            out.extend_from_slice(&rest[..cut]);
            out.extend_from_slice(eol);
            rest = &rest[cut..];
            first = false;
        }
    }
    out
}

proptest! {
    // 128 cases per property keeps the suite at a few seconds on a shared machine.
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn write_then_parse_is_identity(records in proptest::collection::vec(record(), 0..6)) {
        let text = write_all(&records);
        prop_assert_eq!(parse_bytes(text.as_bytes()).unwrap(), records.clone());
        // Deterministic: the same records give the same bytes.
        prop_assert_eq!(write_all(&records), text);
    }

    #[test]
    fn single_records_round_trip(record in record()) {
        prop_assert_eq!(parse_bytes(write_record(&record).as_bytes()).unwrap(), vec![record.clone()]);
        if let LdifRecord::Content { dn, attrs } = &record {
            prop_assert_eq!(write_content(dn, attrs), write_record(&record));
        }
    }

    #[test]
    fn output_is_ascii_and_folded_at_76_columns(records in proptest::collection::vec(record(), 1..4)) {
        let text = write_all(&records);
        prop_assert!(text.is_ascii());
        prop_assert!(text.ends_with('\n'));
        for line in text.lines() {
            prop_assert!(line.len() <= 76, "line of {} bytes: {}", line.len(), line);
        }
        // Every plain `name: value` is an RFC 2849 SAFE-STRING: other parsers than ours strip
        // the FILL after the colon and treat `::`/`:<` specially, so such values must be base64.
        for line in text.replace("\n ", "").lines() {
            let Some((_, rest)) = line.split_once(':') else { continue };
            if let Some(plain) = rest.strip_prefix(' ') {
                prop_assert!(!plain.starts_with([' ', ':', '<']), "unsafe start: {}", line);
                prop_assert!(!plain.ends_with(' '), "trailing space: {}", line);
            }
        }
    }

    #[test]
    fn any_refolding_and_line_ending_parses_the_same(
        records in proptest::collection::vec(record(), 1..4),
        widths in proptest::collection::vec(1usize..40, 1..6),
        crlf in any::<bool>(),
    ) {
        let text = write_all(&records);
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let refolded = refold(&text, &widths, eol);
        prop_assert_eq!(parse_bytes(&refolded).unwrap(), records);
    }

    #[test]
    fn parser_never_panics_on_bytes(input in proptest::collection::vec(any::<u8>(), 0..400)) {
        let options = ParseOptions { base_dir: None, allow_file_urls: false };
        let _ = parse_with(&input, &options);
    }

    #[test]
    fn parser_never_panics_on_ldif_like_text(
        input in "((dn|cn|changetype|control|add|delete|replace|increment|newrdn|deleteoldrdn|newsuperior|version|-|#| )?(:|::|:<)?[ a-z0-9=+/.:<#-]{0,12}(\r?\n){1,2}){0,25}"
    ) {
        let options = ParseOptions { base_dir: None, allow_file_urls: false };
        let _ = parse_with(input.as_bytes(), &options);
    }
}
