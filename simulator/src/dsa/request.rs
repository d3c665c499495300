//! The shapes of directory requests and answers shared by the operations and their callers
//! (LDAP session, harness, KDC database): search request, scope and view, rendered entries,
//! and modifications. A leaf: it imports nothing from the rest of `dsa`.

use crate::model::filter::Filter;
use crate::model::Dn;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Base,
    OneLevel,
    Subtree,
}

/// Which naming contexts the answering server holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// A domain's DC: its domain NC plus configuration and schema.
    Dc { domain: usize },
    /// A Global Catalog: every NC, partial attribute set, read-only.
    GlobalCatalog,
}

#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub base: String,
    pub scope: Scope,
    pub filter: Filter,
    pub attrs: Vec<String>,
    pub types_only: bool,
    pub size_limit: usize,
    pub view: View,
}

/// Attributes of an entry as returned: name and values, in order.
pub type AttributeList = Vec<(String, Vec<Vec<u8>>)>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchEntry {
    pub dn: String,
    pub attrs: AttributeList,
}

#[derive(Clone, Debug, Default)]
pub struct SearchOutput {
    pub entries: Vec<SearchEntry>,
    /// Subordinate naming contexts below the base held elsewhere (continuation references).
    pub references: Vec<Dn>,
    /// Set when the size limit cut the result (resultCode 4 after the entries).
    pub size_limit_exceeded: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModOp {
    Add,
    Delete,
    Replace,
    Increment,
}

#[derive(Clone, Debug)]
pub struct Modification {
    pub op: ModOp,
    pub attr: String,
    pub values: Vec<Vec<u8>>,
}
