//! The two kinds of schema object AD has: attributeSchema (MS-ADTS 3.1.1.2.3) and classSchema
//! (MS-ADTS 3.1.1.2.4), with the facts adsim needs from each.

use uuid::Uuid;

use super::syntax::Syntax;

/// systemFlags bits on attributeSchema objects (MS-ADTS 2.2.10 "systemFlags").
pub const FLAG_ATTR_NOT_REPLICATED: u32 = 0x0000_0001;
pub const FLAG_ATTR_REQ_PARTIAL_SET_MEMBER: u32 = 0x0000_0002;
pub const FLAG_ATTR_IS_CONSTRUCTED: u32 = 0x0000_0004;
pub const FLAG_ATTR_IS_OPERATIONAL: u32 = 0x0000_0008;
pub const FLAG_SCHEMA_BASE_OBJECT: u32 = 0x0000_0010;
pub const FLAG_ATTR_IS_RDN: u32 = 0x0000_0020;

/// searchFlags bits (MS-ADTS 2.2.9 "searchFlags").
pub const F_ATTINDEX: u32 = 0x0000_0001;
pub const F_ANR: u32 = 0x0000_0004;
pub const F_PRESERVEONDELETE: u32 = 0x0000_0008;
pub const F_CONFIDENTIAL: u32 = 0x0000_0080;
pub const F_RODC_FILTERED: u32 = 0x0000_0200;

// Packed booleans of the generated table (see `attr`).
pub(super) const SINGLE: u8 = 1;
pub(super) const SYS_ONLY: u8 = 2;
pub(super) const PAS: u8 = 4;

/// MS-DRSR 4.1.10.3.11 IsSecretAttribute: values that never leave the DC through LDAP reads.
const SECRET_ATTRIBUTES: [&str; 11] = [
    "currentValue",
    "dBCSPwd",
    "initialAuthIncoming",
    "initialAuthOutgoing",
    "lmPwdHistory",
    "ntPwdHistory",
    "priorValue",
    "supplementalCredentials",
    "trustAuthIncoming",
    "trustAuthOutgoing",
    "unicodePwd",
];

/// MS-DRSR 5.12.2: the prefix table every DC starts with. An ATTRTYP is
/// `index << 16 | last arc` for OIDs whose prefix is listed here (MS-DRSR 5.16.4).
const DEFAULT_PREFIX_TABLE: [(u32, &str); 19] = [
    (0x00, "2.5.4"),
    (0x01, "2.5.6"),
    (0x02, "1.2.840.113556.1.2"),
    (0x03, "1.2.840.113556.1.3"),
    (0x04, "2.16.840.1.101.2.2.1"),
    (0x05, "2.16.840.1.101.2.2.3"),
    (0x06, "2.16.840.1.101.2.1.5"),
    (0x07, "2.16.840.1.101.2.1.4"),
    (0x08, "2.5.5"),
    (0x09, "1.2.840.113556.1.4"),
    (0x0A, "1.2.840.113556.1.5"),
    (0x13, "0.9.2342.19200300.100"),
    (0x14, "2.16.840.1.113730.3"),
    (0x15, "0.9.2342.19200300.100.1"),
    (0x16, "2.16.840.1.113730.3.1"),
    (0x17, "1.2.840.113556.1.5.7000"),
    (0x18, "2.5.21"),
    (0x19, "2.5.18"),
    (0x1A, "2.5.20"),
];

/// One attributeSchema object (MS-ADTS 3.1.1.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeType {
    /// lDAPDisplayName, the name clients use.
    pub name: &'static str,
    /// The RDN of the attributeSchema object in the schema NC.
    pub cn: &'static str,
    /// attributeID.
    pub oid: &'static str,
    pub syntax: Syntax,
    pub single_valued: bool,
    pub system_only: bool,
    pub system_flags: u32,
    pub search_flags: u32,
    /// isMemberOfPartialAttributeSet: what a Global Catalog holds and serves.
    pub in_partial_attribute_set: bool,
    pub range_lower: Option<u32>,
    pub range_upper: Option<u32>,
    /// linkID: even = forward link, odd = the back link of `link_id - 1` (MS-ADTS 3.1.1.2.3.1).
    pub link_id: Option<i32>,
    pub schema_id_guid: Uuid,
    /// attributeSecurityGUID: the property set the attribute belongs to, for object ACEs.
    pub attribute_security_guid: Option<Uuid>,
}

/// Positional constructor for the generated table (keeps ad_data.rs compact).
#[allow(clippy::too_many_arguments)]
pub(super) const fn attr(
    name: &'static str,
    cn: &'static str,
    oid: &'static str,
    syntax: Syntax,
    flags: u8,
    system_flags: u32,
    search_flags: u32,
    range_lower: Option<u32>,
    range_upper: Option<u32>,
    link_id: Option<i32>,
    schema_id_guid: u128,
    attribute_security_guid: u128,
) -> AttributeType {
    AttributeType {
        name,
        cn,
        oid,
        syntax,
        single_valued: flags & SINGLE != 0,
        system_only: flags & SYS_ONLY != 0,
        system_flags,
        search_flags,
        in_partial_attribute_set: flags & PAS != 0,
        range_lower,
        range_upper,
        link_id,
        schema_id_guid: Uuid::from_u128(schema_id_guid),
        attribute_security_guid: if attribute_security_guid == 0 {
            None
        } else {
            Some(Uuid::from_u128(attribute_security_guid))
        },
    }
}

impl AttributeType {
    /// FLAG_ATTR_IS_CONSTRUCTED: computed at read time, never stored.
    pub fn constructed(&self) -> bool {
        self.system_flags & FLAG_ATTR_IS_CONSTRUCTED != 0
    }

    /// FLAG_ATTR_IS_OPERATIONAL, e.g. nTSecurityDescriptor, replPropertyMetaData.
    pub fn operational(&self) -> bool {
        self.system_flags & FLAG_ATTR_IS_OPERATIONAL != 0
    }

    /// Not returned for `*`: constructed attributes (MS-ADTS 3.1.1.4.5) and operational ones
    /// ("operational attributes must be explicitly retrieved", ADSI) come back only when named.
    pub fn hidden_from_star(&self) -> bool {
        self.system_flags & (FLAG_ATTR_IS_CONSTRUCTED | FLAG_ATTR_IS_OPERATIONAL) != 0
    }

    /// MS-DRSR 4.1.10.3.11: password material that LDAP never returns.
    pub fn is_secret(&self) -> bool {
        SECRET_ATTRIBUTES
            .iter()
            .any(|s| s.eq_ignore_ascii_case(self.name))
    }

    /// searchFlags fCONFIDENTIAL: reading needs CONTROL_ACCESS (MS-ADTS 3.1.1.4.3).
    pub fn confidential(&self) -> bool {
        self.search_flags & F_CONFIDENTIAL != 0
    }

    /// searchFlags fATTINDEX.
    pub fn indexed(&self) -> bool {
        self.search_flags & F_ATTINDEX != 0
    }

    /// A forward link (even linkID), e.g. `member`.
    pub fn is_forward_link(&self) -> bool {
        matches!(self.link_id, Some(id) if id % 2 == 0)
    }

    /// A back link (odd linkID), e.g. `memberOf`; maintained by the DSA, never written.
    pub fn is_back_link(&self) -> bool {
        matches!(self.link_id, Some(id) if id % 2 != 0)
    }

    /// The ATTRTYP (MS-DRSR 5.16.4 MakeAttid) under the default prefix table, as Windows prints it
    /// in extended errors (`Att 90290 (userPrincipalName)`). None when the OID's prefix is not in
    /// the default table: such prefixes get forest-specific indexes.
    pub fn attribute_id(&self) -> Option<u32> {
        attid_from_oid(self.oid)
    }
}

/// MS-DRSR 5.16.4: the prefix is the OID without its last arc when that arc is below 16384 (two
/// BER bytes or fewer); the low word is the last arc.
pub fn attid_from_oid(oid: &str) -> Option<u32> {
    let (prefix, last) = oid.rsplit_once('.')?;
    let last: u32 = last.parse().ok()?;
    if last >= 0x4000 {
        return None;
    }
    let (index, _) = DEFAULT_PREFIX_TABLE.iter().find(|(_, p)| *p == prefix)?;
    Some(index << 16 | last)
}

/// objectClassCategory (MS-ADTS 3.1.1.2.4.1): 0 = 88 class, 1 structural, 2 abstract, 3 auxiliary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassKind {
    Type88,
    Structural,
    Abstract,
    Auxiliary,
}

impl ClassKind {
    /// Classes that may be the most specific class of an object (structural or 88).
    pub fn is_concrete(self) -> bool {
        matches!(self, ClassKind::Structural | ClassKind::Type88)
    }
}

/// One classSchema object (MS-ADTS 3.1.1.2.4). `must`/`may`/`poss_superiors`/`aux_classes` merge
/// the system* and non-system variants, in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectClass {
    /// lDAPDisplayName.
    pub name: &'static str,
    /// The RDN of the classSchema object in the schema NC.
    pub cn: &'static str,
    /// governsID.
    pub oid: &'static str,
    pub kind: ClassKind,
    /// subClassOf (top names itself).
    pub sub_class_of: &'static str,
    /// rDNAttID: the naming attribute of instances.
    pub rdn_att_id: &'static str,
    pub must: &'static [&'static str],
    pub may: &'static [&'static str],
    pub poss_superiors: &'static [&'static str],
    pub aux_classes: &'static [&'static str],
    pub system_only: bool,
    pub system_flags: u32,
    /// defaultHidingValue: showInAdvancedViewOnly of new instances.
    pub default_hiding_value: bool,
    /// The CN of defaultObjectCategory (a classSchema object in the schema NC), e.g. `Person` for user.
    pub default_object_category: &'static str,
    pub schema_id_guid: Uuid,
    /// defaultSecurityDescriptor in SDDL; empty when the class has none.
    pub default_security_descriptor: &'static str,
}

/// Positional constructor for the generated table.
#[allow(clippy::too_many_arguments)]
pub(super) const fn class(
    name: &'static str,
    cn: &'static str,
    oid: &'static str,
    kind: ClassKind,
    sub_class_of: &'static str,
    rdn_att_id: &'static str,
    must: &'static [&'static str],
    may: &'static [&'static str],
    poss_superiors: &'static [&'static str],
    aux_classes: &'static [&'static str],
    system_only: bool,
    system_flags: u32,
    default_hiding_value: bool,
    default_object_category: &'static str,
    schema_id_guid: u128,
    default_security_descriptor: &'static str,
) -> ObjectClass {
    ObjectClass {
        name,
        cn,
        oid,
        kind,
        sub_class_of,
        rdn_att_id,
        must,
        may,
        poss_superiors,
        aux_classes,
        system_only,
        system_flags,
        default_hiding_value,
        default_object_category,
        schema_id_guid: Uuid::from_u128(schema_id_guid),
        default_security_descriptor,
    }
}

impl ObjectClass {
    /// The DN of defaultObjectCategory under the given schema NC, e.g.
    /// `CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=test` for user.
    pub fn default_object_category_dn(&self, schema_nc: &str) -> String {
        format!("CN={},{}", self.default_object_category, schema_nc)
    }

    /// The DN of this classSchema object itself (what objectCategory of a classSchema points at).
    pub fn dn(&self, schema_nc: &str) -> String {
        format!("CN={},{}", self.cn, schema_nc)
    }
}
