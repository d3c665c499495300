//! Malformed input gives an error value, never a panic: arbitrary bytes through every syntax, and
//! arbitrary entries through the schema check.

use adsim_simulator::schema::dn::{normalize_dn, parse_dn};
use adsim_simulator::schema::syntax::ALL;
use adsim_simulator::schema::{Schema, Syntax};
use proptest::prelude::*;

/// Bytes biased towards the characters the parsers care about.
fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop::sample::select(b"0123456789-+.,;:=<>#\\\" ZzBbSs\xc3\xa4\xff\x00".to_vec());
    prop::collection::vec(prop_oneof![any::<u8>(), interesting], 0..48)
}

proptest! {
    #[test]
    fn syntaxes_never_panic(a in tricky_bytes(), b in tricky_bytes()) {
        for syntax in ALL {
            let valid = syntax.validate(&a).is_ok();
            let normalized = syntax.normalize(&a);
            let _ = syntax.compare(&a, &b);
            // Normalising a valid value is idempotent and (except for all-space numeric strings,
            // whose spaces are insignificant) yields a valid value again.
            if valid {
                if syntax != Syntax::NumericString {
                    prop_assert!(syntax.validate(&normalized).is_ok(), "{syntax:?} {a:?} -> {normalized:?}");
                }
                prop_assert_eq!(syntax.normalize(&normalized), normalized.clone());
            }
        }
    }

    #[test]
    fn dn_parsing_never_panics(text in "[a-zA-Z0-9=,+\\\\ #<>;\"äé-]{0,40}") {
        if let Ok(normal) = normalize_dn(&text) {
            let again = normalize_dn(&normal);
            prop_assert_eq!(again, Ok(normal.clone()), "normal form is stable");
        }
        let _ = parse_dn(&text);
    }

    #[test]
    fn entry_checks_never_panic(
        classes in prop::collection::vec(prop::sample::select(vec!["top", "user", "group", "computer", "person", "x", "securityPrincipal"]), 0..4),
        attrs in prop::collection::vec(
            (prop::sample::select(vec!["cn", "sAMAccountName", "objectSid", "whenCreated", "member", "bogus", "userAccountControl"]),
             prop::collection::vec(tricky_bytes(), 0..3)),
            0..6),
    ) {
        let _ = Schema::ad().check_entry(&classes, attrs.iter().map(|(n, v)| (*n, v.as_slice().into())));
        let _ = Schema::ad().allowed_attributes(&classes);
    }
}
