//! LDIF parsing of inputs covering the features of RFC 2849's examples 1–7, plus folding and
//! line-ending edge cases. The inputs are written for adsim, not copied from the RFC.

use adsim_harness::ldif::{
    parse, parse_bytes, parse_file, parse_with, LdifChange, LdifControl, LdifMod, LdifRecord, ModOp,
    ParseOptions,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

fn attr(name: &str, value: &str) -> (String, Vec<u8>) {
    (name.to_string(), value.as_bytes().to_vec())
}

fn content(dn: &str, attrs: &[(&str, &str)]) -> LdifRecord {
    LdifRecord::Content {
        dn: dn.to_string(),
        attrs: attrs.iter().map(|(a, v)| attr(a, v)).collect(),
    }
}

fn change(dn: &str, change: LdifChange) -> LdifRecord {
    LdifRecord::Change {
        dn: dn.to_string(),
        controls: Vec::new(),
        change,
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("adsim-ldif-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Example 1's features: version line directly followed by a record, two content records,
/// multi-valued attributes, a blank-line separator.
#[test]
fn two_content_records() {
    let text = "version: 1\n\
        dn: CN=Ann Archer,OU=Labs,DC=corp,DC=example,DC=test\n\
        objectClass: top\n\
        objectClass: person\n\
        cn: Ann Archer\n\
        cn: Annie Archer\n\
        sn: Archer\n\
        telephoneNumber: +1 555 0100\n\
        \n\
        dn: CN=Ben Bright,OU=Labs,DC=corp,DC=example,DC=test\n\
        objectClass: top\n\
        objectClass: person\n\
        cn: Ben Bright\n\
        sn: Bright\n";
    assert_eq!(
        parse(text).unwrap(),
        vec![
            content(
                "CN=Ann Archer,OU=Labs,DC=corp,DC=example,DC=test",
                &[
                    ("objectClass", "top"),
                    ("objectClass", "person"),
                    ("cn", "Ann Archer"),
                    ("cn", "Annie Archer"),
                    ("sn", "Archer"),
                    ("telephoneNumber", "+1 555 0100"),
                ]
            ),
            content(
                "CN=Ben Bright,OU=Labs,DC=corp,DC=example,DC=test",
                &[
                    ("objectClass", "top"),
                    ("objectClass", "person"),
                    ("cn", "Ben Bright"),
                    ("sn", "Bright")
                ]
            ),
        ]
    );
}

/// Example 2's feature: a value folded over several lines; a continuation keeps every space
/// after the first one.
#[test]
fn folded_value() {
    let text = "dn: CN=Ann,DC=corp,DC=example,DC=test\n\
        description: Ann likes long\n  walks in the park and eats\n  lunch at noo\n n.\n";
    assert_eq!(
        parse(text).unwrap(),
        vec![content(
            "CN=Ann,DC=corp,DC=example,DC=test",
            &[(
                "description",
                "Ann likes long walks in the park and eats lunch at noon."
            )]
        )]
    );
}

/// Example 3's feature: a base64 value that holds CR LF, folded inside the base64 text.
#[test]
fn base64_value_with_line_breaks() {
    let value = "first line\r\nsecond line\r\n";
    let encoded = STANDARD.encode(value);
    let (head, tail) = encoded.split_at(10);
    let text = format!("dn: CN=Ann,DC=corp,DC=example,DC=test\ndescription:: {head}\n {tail}\n");
    assert_eq!(
        parse(&text).unwrap(),
        vec![content(
            "CN=Ann,DC=corp,DC=example,DC=test",
            &[("description", value)]
        )]
    );
}

/// Example 4's features: a base64 UTF-8 DN, base64 UTF-8 values and attribute options.
#[test]
fn utf8_dn_and_attribute_options() {
    let dn = "CN=Zoë Ødegård,OU=Ventes,DC=corp,DC=example,DC=test";
    let text = format!(
        "version: 1\n\ndn:: {}\nobjectClass: top\ndescription;lang-fr:: {}\ndescription;lang-en: Sales\n\
         userCertificate;binary:: AAEC/w==\n",
        STANDARD.encode(dn),
        STANDARD.encode("Équipe des ventes"),
    );
    let records = parse(&text).unwrap();
    assert_eq!(
        records,
        vec![LdifRecord::Content {
            dn: dn.to_string(),
            attrs: vec![
                attr("objectClass", "top"),
                attr("description;lang-fr", "Équipe des ventes"),
                attr("description;lang-en", "Sales"),
                ("userCertificate;binary".to_string(), vec![0, 1, 2, 0xff]),
            ],
        }]
    );
}

/// Example 5's feature: a value read from a file URL, absolute or relative to the LDIF file.
#[test]
fn values_from_file_urls() {
    let dir = temp_dir("url");
    let photo = dir.join("photo one.bin");
    std::fs::write(&photo, [0xffu8, 0xd8, 0x00, 0x0a]).unwrap();
    let absolute = format!("file://{}", photo.display().to_string().replace(' ', "%20"));
    let text = format!("dn: CN=Ann,DC=corp,DC=example,DC=test\njpegPhoto:< {absolute}\n");
    let expected = vec![LdifRecord::Content {
        dn: "CN=Ann,DC=corp,DC=example,DC=test".into(),
        attrs: vec![("jpegPhoto".into(), vec![0xff, 0xd8, 0x00, 0x0a])],
    }];
    assert_eq!(parse(&text).unwrap(), expected);

    let ldif = dir.join("with-url.ldif");
    std::fs::write(
        &ldif,
        "dn: CN=Ann,DC=corp,DC=example,DC=test\njpegPhoto:<file:photo%20one.bin\n",
    )
    .unwrap();
    assert_eq!(parse_file(&ldif).unwrap(), expected);

    let options = ParseOptions {
        base_dir: Some(dir.clone()),
        allow_file_urls: true,
    };
    assert_eq!(
        parse_with(
            b"dn: CN=Ann,DC=corp,DC=example,DC=test\njpegPhoto:< file:photo%20one.bin\n",
            &options
        )
        .unwrap(),
        expected
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Example 6's features: add, delete, modrdn and moddn (with and without newsuperior),
/// modify with add/delete/replace, deletion of a whole attribute and replace with no value.
#[test]
fn change_records() {
    let text = "version: 1\n\
        # an add\n\
        dn: CN=Fiona,OU=Labs,DC=corp,DC=example,DC=test\n\
        changetype: add\n\
        objectClass: top\n\
        objectClass: person\n\
        cn: Fiona\n\
        \n\
        dn: CN=Gus,OU=Labs,DC=corp,DC=example,DC=test\n\
        changetype: delete\n\
        \n\
        dn: CN=Hal,OU=Labs,DC=corp,DC=example,DC=test\n\
        changetype: modrdn\n\
        newrdn: CN=Hal Hughes\n\
        deleteoldrdn: 1\n\
        \n\
        dn: CN=Ivy,OU=Labs,DC=corp,DC=example,DC=test\n\
        changetype: moddn\n\
        newrdn: CN=Ivy\n\
        deleteoldrdn: 0\n\
        newsuperior: OU=Sales,DC=corp,DC=example,DC=test\n\
        \n\
        dn: CN=Jo,OU=Labs,DC=corp,DC=example,DC=test\n\
        changetype: modify\n\
        add: mail\n\
        mail: jo@corp.example.test\n\
        mail: j@corp.example.test\n\
        -\n\
        delete: description\n\
        -\n\
        delete: telephoneNumber\n\
        telephoneNumber: +1 555 0101\n\
        -\n\
        replace: title\n\
        title: Boss\n\
        -\n\
        replace: seeAlso\n\
        -\n";
    let labs = |cn: &str| format!("CN={cn},OU=Labs,DC=corp,DC=example,DC=test");
    assert_eq!(
        parse(text).unwrap(),
        vec![
            change(
                &labs("Fiona"),
                LdifChange::Add(vec![
                    attr("objectClass", "top"),
                    attr("objectClass", "person"),
                    attr("cn", "Fiona")
                ])
            ),
            change(&labs("Gus"), LdifChange::Delete),
            change(
                &labs("Hal"),
                LdifChange::ModDn {
                    new_rdn: "CN=Hal Hughes".into(),
                    delete_old_rdn: true,
                    new_superior: None
                }
            ),
            change(
                &labs("Ivy"),
                LdifChange::ModDn {
                    new_rdn: "CN=Ivy".into(),
                    delete_old_rdn: false,
                    new_superior: Some("OU=Sales,DC=corp,DC=example,DC=test".into()),
                }
            ),
            change(
                &labs("Jo"),
                LdifChange::Modify(vec![
                    LdifMod {
                        op: ModOp::Add,
                        attr: "mail".into(),
                        values: vec![b"jo@corp.example.test".to_vec(), b"j@corp.example.test".to_vec()],
                    },
                    LdifMod {
                        op: ModOp::Delete,
                        attr: "description".into(),
                        values: vec![]
                    },
                    LdifMod {
                        op: ModOp::Delete,
                        attr: "telephoneNumber".into(),
                        values: vec![b"+1 555 0101".to_vec()]
                    },
                    LdifMod {
                        op: ModOp::Replace,
                        attr: "title".into(),
                        values: vec![b"Boss".to_vec()]
                    },
                    LdifMod {
                        op: ModOp::Replace,
                        attr: "seeAlso".into(),
                        values: vec![]
                    },
                ])
            ),
        ]
    );
}

/// Example 7's feature: controls on change records, with and without criticality and value.
#[test]
fn controls() {
    let text = "dn: CN=Kim,DC=corp,DC=example,DC=test\n\
        control: 1.2.840.113556.1.4.805 true\n\
        changetype: delete\n\
        \n\
        dn: CN=Lee,DC=corp,DC=example,DC=test\n\
        control: 1.2.840.113556.1.4.801 false:: MAMCAQc=\n\
        control: 1.2.840.113556.1.4.417\n\
        control: 1.3.6.1.1.13.1: cn\n\
        control: 1.3.6.1.1.13.2 TRUE: sn\n\
        changetype: modify\n\
        replace: description\n\
        description: hello\n\
        -\n";
    assert_eq!(
        parse(text).unwrap(),
        vec![
            LdifRecord::Change {
                dn: "CN=Kim,DC=corp,DC=example,DC=test".into(),
                controls: vec![LdifControl {
                    oid: "1.2.840.113556.1.4.805".into(),
                    critical: true,
                    value: None
                }],
                change: LdifChange::Delete,
            },
            LdifRecord::Change {
                dn: "CN=Lee,DC=corp,DC=example,DC=test".into(),
                controls: vec![
                    LdifControl {
                        oid: "1.2.840.113556.1.4.801".into(),
                        critical: false,
                        value: Some(vec![0x30, 0x03, 0x02, 0x01, 0x07]),
                    },
                    LdifControl {
                        oid: "1.2.840.113556.1.4.417".into(),
                        critical: false,
                        value: None
                    },
                    LdifControl {
                        oid: "1.3.6.1.1.13.1".into(),
                        critical: false,
                        value: Some(b"cn".to_vec())
                    },
                    LdifControl {
                        oid: "1.3.6.1.1.13.2".into(),
                        critical: true,
                        value: Some(b"sn".to_vec())
                    },
                ],
                change: LdifChange::Modify(vec![LdifMod {
                    op: ModOp::Replace,
                    attr: "description".into(),
                    values: vec![b"hello".to_vec()],
                }]),
            },
        ]
    );
}

/// RFC 4525 §3: `increment:` in modify records.
#[test]
fn increment_modification() {
    let text = "dn: CN=Counter,DC=corp,DC=example,DC=test\nchangetype: modify\nincrement: uidNumber\nuidNumber: 1\n-\n";
    assert_eq!(
        parse(text).unwrap(),
        vec![change(
            "CN=Counter,DC=corp,DC=example,DC=test",
            LdifChange::Modify(vec![LdifMod {
                op: ModOp::Increment,
                attr: "uidNumber".into(),
                values: vec![b"1".to_vec()]
            }])
        )]
    );
}

#[test]
fn crlf_and_lf_give_the_same_records() {
    let lf = "version: 1\n\ndn: CN=A,DC=corp,DC=example,DC=test\ncn: A\ndescription: folded\n  value\n\n\n\ndn: CN=B,DC=corp,DC=example,DC=test\ncn: B\n";
    let crlf = lf.replace('\n', "\r\n");
    let records = parse(lf).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(parse(&crlf).unwrap(), records);
    assert_eq!(
        records[0],
        content(
            "CN=A,DC=corp,DC=example,DC=test",
            &[("cn", "A"), ("description", "folded value")]
        )
    );
}

/// A fold may fall inside a UTF-8 sequence: unfolding works on bytes.
#[test]
fn fold_inside_utf8_sequence() {
    let mut input = b"dn: CN=Zo".to_vec();
    input.extend_from_slice(&"ë".as_bytes()[..1]);
    input.extend_from_slice(b"\n ");
    input.extend_from_slice(&"ë".as_bytes()[1..]);
    input.extend_from_slice(b",DC=corp,DC=example,DC=test\ncn: Zo\xc3\n \xab\n");
    assert_eq!(
        parse_bytes(&input).unwrap(),
        vec![content("CN=Zoë,DC=corp,DC=example,DC=test", &[("cn", "Zoë")])]
    );
}

#[test]
fn comments_including_folded_ones_are_ignored() {
    let text = "# a comment\n#  that is folded\n  over two lines\nversion: 1\n\n\
        dn: CN=A,DC=corp,DC=example,DC=test\n# inside a record\n continued\ncn: A\n\n# trailing\n";
    assert_eq!(
        parse(text).unwrap(),
        vec![content("CN=A,DC=corp,DC=example,DC=test", &[("cn", "A")])]
    );
}

#[test]
fn leniencies() {
    // No version line, keywords in upper case, a UTF-8 plain value, no final `-`, a BOM, an
    // empty value and an empty base64 value.
    let text = "\u{feff}DN: CN=A,DC=corp,DC=example,DC=test\nCHANGETYPE: Modify\nREPLACE: description\n\
        description: café\n\ndn: CN=B,DC=corp,DC=example,DC=test\ndescription:\ninfo::\n";
    assert_eq!(
        parse(text).unwrap(),
        vec![
            change(
                "CN=A,DC=corp,DC=example,DC=test",
                LdifChange::Modify(vec![LdifMod {
                    op: ModOp::Replace,
                    attr: "description".into(),
                    values: vec!["café".as_bytes().to_vec()],
                }])
            ),
            content(
                "CN=B,DC=corp,DC=example,DC=test",
                &[("description", ""), ("info", "")]
            ),
        ]
    );
}

#[test]
fn empty_inputs_give_no_records() {
    for text in [
        "",
        "\n\n",
        "version: 1\n",
        "# only a comment\n",
        "version: 1\n\n# c\n\n",
    ] {
        assert_eq!(parse(text).unwrap(), Vec::new(), "{text:?}");
    }
}

#[test]
fn trailing_spaces_of_plain_values_are_kept_and_fill_is_skipped() {
    let text = "dn:    CN=A,DC=corp,DC=example,DC=test\ncn:   A  \ndescription::   IGI=  \n";
    assert_eq!(
        parse(text).unwrap(),
        vec![content(
            "CN=A,DC=corp,DC=example,DC=test",
            &[("cn", "A  "), ("description", " b")]
        )]
    );
}
