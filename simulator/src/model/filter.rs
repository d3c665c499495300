//! Search filters (RFC 4511 §4.5.1) with binary-safe assertion values. The BER and RFC 4515
//! string codecs live in `ldap::filter`.

/// RFC 4511 §4.5.1.7 `Filter`. Attribute descriptions and matching rule ids are LDAPStrings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    EqualityMatch(String, Vec<u8>),
    Substrings {
        attr: String,
        initial: Option<Vec<u8>>,
        any: Vec<Vec<u8>>,
        final_: Option<Vec<u8>>,
    },
    GreaterOrEqual(String, Vec<u8>),
    LessOrEqual(String, Vec<u8>),
    Present(String),
    ApproxMatch(String, Vec<u8>),
    ExtensibleMatch {
        rule: Option<String>,
        attr: Option<String>,
        value: Vec<u8>,
        dn_attributes: bool,
    },
}
