//! Malformed LDIF: each error carries the right line number and says what was expected.

use adsim_harness::ldif::{parse, parse_bytes, parse_file, parse_with, LdifError, ParseOptions};

#[track_caller]
fn error_of(text: &str) -> LdifError {
    match parse(text) {
        Ok(records) => panic!("expected an error, parsed {records:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_error(text: &str, line: usize, fragment: &str) {
    let err = error_of(text);
    assert_eq!(err.line, line, "wrong line for {err}");
    assert!(
        err.message.contains(fragment),
        "`{}` does not mention `{fragment}`",
        err.message
    );
    assert!(
        err.to_string().starts_with(&format!("LDIF line {line}: ")),
        "{err}"
    );
}

const DN: &str = "dn: CN=A,DC=corp,DC=example,DC=test\n";

#[test]
fn line_without_colon() {
    assert_error(
        &format!("version: 1\n\n{DN}cn: A\nthis line has no colon\n"),
        5,
        "expected `attribute: value`",
    );
}

#[test]
fn line_numbers_count_folded_and_comment_lines() {
    // The bad line starts on physical line 7, after a folded value and a folded comment.
    let text = format!("{DN}description: a\n b\n# note\n more note\ncn: A\nbad_name: x\n");
    assert_error(&text, 7, "invalid attribute description `bad_name`");
}

#[test]
fn invalid_base64_reports_the_first_line_of_a_folded_value() {
    assert_error(
        &format!("{DN}cn: A\ndescription:: QUJD\n RE!!\n"),
        3,
        "not valid base64",
    );
}

#[test]
fn record_must_start_with_dn() {
    assert_error(
        "version: 1\n\ncn: A\n",
        3,
        "expected `dn:` to start a record, found `cn:`",
    );
}

#[test]
fn record_without_attributes() {
    assert_error(
        &format!("{DN}\n"),
        1,
        "expected `attribute: value` lines or `changetype:`",
    );
}

#[test]
fn unsupported_version() {
    assert_error("version: 2\n\n", 1, "expected `version: 1`");
    assert_error(
        &format!("{DN}cn: A\n\nversion: 1\n"),
        4,
        "only appear on the first line",
    );
}

#[test]
fn continuation_without_a_line_to_continue() {
    assert_error(" leading space\n", 1, "no line to continue");
    assert_error(&format!("{DN}cn: A\n\n continued?\n"), 4, "no line to continue");
}

#[test]
fn unknown_changetype() {
    assert_error(
        &format!("{DN}changetype: rename\n"),
        2,
        "expected add, delete, modify, modrdn or moddn",
    );
}

#[test]
fn controls_need_a_changetype() {
    assert_error(
        &format!("{DN}control: 1.2.3 true\ncn: A\n"),
        3,
        "expected `changetype:`",
    );
    assert_error(
        &format!("{DN}control: 1.2.3 true\n"),
        2,
        "found the end of the record",
    );
}

#[test]
fn malformed_controls() {
    assert_error(
        &format!("{DN}control: not-an-oid\nchangetype: delete\n"),
        2,
        "numeric OID",
    );
    assert_error(
        &format!("{DN}control: 1.2.3 maybe\nchangetype: delete\n"),
        2,
        "after the OID",
    );
    assert_error(
        &format!("{DN}control:: MS4yLjM=\nchangetype: delete\n"),
        2,
        "expected `control:",
    );
}

#[test]
fn add_needs_attributes_and_delete_needs_none() {
    assert_error(&format!("{DN}changetype: add\n"), 2, "at least one");
    assert_error(
        &format!("{DN}changetype: delete\ncn: A\n"),
        3,
        "expected the end of the record",
    );
}

#[test]
fn modify_errors() {
    assert_error(
        &format!("{DN}changetype: modify\nadd: mail\nmail: a@b\ncn: A\n-\n"),
        5,
        "expected a value of `mail` or `-`",
    );
    assert_error(
        &format!("{DN}changetype: modify\nmail: a@b\n"),
        3,
        "expected `add:`, `delete:`",
    );
    assert_error(&format!("{DN}changetype: modify\n-\n"), 3, "found `-`");
    assert_error(
        &format!("{DN}changetype: modify\nreplace: not valid\n-\n"),
        3,
        "attribute description",
    );
}

#[test]
fn moddn_errors() {
    assert_error(&format!("{DN}changetype: modrdn\n"), 2, "expected `newrdn:`");
    assert_error(
        &format!("{DN}changetype: modrdn\ndeleteoldrdn: 1\n"),
        3,
        "expected `newrdn:`",
    );
    assert_error(
        &format!("{DN}changetype: modrdn\nnewrdn: CN=B\n"),
        3,
        "expected `deleteoldrdn: 0`",
    );
    assert_error(
        &format!("{DN}changetype: modrdn\nnewrdn: CN=B\ndeleteoldrdn: yes\n"),
        4,
        "found `yes`",
    );
    assert_error(
        &format!("{DN}changetype: moddn\nnewrdn: CN=B\ndeleteoldrdn: 0\nnewsuperior: DC=x\ncn: B\n"),
        6,
        "end of the modrdn record",
    );
}

#[test]
fn plain_values_cannot_hold_nul_or_cr() {
    assert_error(&format!("{DN}cn: A\0B\n"), 2, "NUL byte");
    assert_error(&format!("{DN}cn: A\rB\n"), 2, "CR byte");
}

#[test]
fn dns_must_be_utf8_and_cannot_come_from_urls() {
    let err = parse_bytes(b"dn:: /w==\ncn: A\n").unwrap_err();
    assert_eq!((err.line, err.message.contains("UTF-8")), (1, true), "{err}");
    assert_error("dn:< file:///etc/hostname\ncn: A\n", 1, "`dn:<` is not allowed");
}

#[test]
fn url_errors() {
    assert_error(
        &format!("{DN}jpegPhoto:< http://example.test/a.jpg\n"),
        2,
        "unsupported URL scheme `http`",
    );
    assert_error(
        &format!("{DN}jpegPhoto:< file:photo.jpg\n"),
        2,
        "needs a base directory",
    );
    assert_error(
        &format!("{DN}jpegPhoto:< file:///nonexistent/adsim/photo.jpg\n"),
        2,
        "cannot read",
    );
    let disabled = ParseOptions {
        base_dir: None,
        allow_file_urls: false,
    };
    let err = parse_with(
        format!("{DN}jpegPhoto:< file:///etc/hostname\n").as_bytes(),
        &disabled,
    )
    .unwrap_err();
    assert!(err.message.contains("disabled"), "{err}");
}

#[test]
fn unreadable_file_has_no_line() {
    let err = parse_file("/nonexistent/adsim/fixture.ldif").unwrap_err();
    assert_eq!(err.line, 0);
    assert!(err.message.contains("/nonexistent/adsim/fixture.ldif"), "{err}");
}

#[test]
fn huge_offending_text_is_shortened_in_messages() {
    let err = error_of(&format!("{DN}{}\n", "x".repeat(10_000)));
    assert!(err.message.len() < 300, "{}", err.message.len());
}
