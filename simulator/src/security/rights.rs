//! Access-mask bits for directory objects (MS-ADTS 5.1.3.2, MS-DTYP 2.4.3) and the DS generic
//! mapping.

/// CC: create child objects (ObjectType may name the child class).
pub const RIGHT_DS_CREATE_CHILD: u32 = 0x0000_0001;
/// DC: delete child objects.
pub const RIGHT_DS_DELETE_CHILD: u32 = 0x0000_0002;
/// LC: list the children (RIGHT_DS_LIST_CONTENTS).
pub const RIGHT_DS_LIST: u32 = 0x0000_0004;
/// SW / VW: validated writes (RIGHT_DS_WRITE_PROPERTY_EXTENDED).
pub const RIGHT_DS_SELF: u32 = 0x0000_0008;
/// RP: read properties (ObjectType may name a property or property set).
pub const RIGHT_DS_READ_PROPERTY: u32 = 0x0000_0010;
/// WP: write properties.
pub const RIGHT_DS_WRITE_PROPERTY: u32 = 0x0000_0020;
/// DT: delete the subtree.
pub const RIGHT_DS_DELETE_TREE: u32 = 0x0000_0040;
/// LO: list this object.
pub const RIGHT_DS_LIST_OBJECT: u32 = 0x0000_0080;
/// CR: control access (ObjectType names the extended right).
pub const RIGHT_DS_CONTROL_ACCESS: u32 = 0x0000_0100;
/// SD
pub const DELETE: u32 = 0x0001_0000;
/// RC
pub const READ_CONTROL: u32 = 0x0002_0000;
/// WD
pub const WRITE_DAC: u32 = 0x0004_0000;
/// WO
pub const WRITE_OWNER: u32 = 0x0008_0000;
pub const SYNCHRONIZE: u32 = 0x0010_0000;
pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
/// GA
pub const GENERIC_ALL: u32 = 0x1000_0000;
/// GX
pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
/// GW
pub const GENERIC_WRITE: u32 = 0x4000_0000;
/// GR
pub const GENERIC_READ: u32 = 0x8000_0000;

/// Every specific and standard right a directory object has (what GENERIC_ALL maps to).
pub const DS_ALL_RIGHTS: u32 = RIGHT_DS_CREATE_CHILD
    | RIGHT_DS_DELETE_CHILD
    | RIGHT_DS_LIST
    | RIGHT_DS_SELF
    | RIGHT_DS_READ_PROPERTY
    | RIGHT_DS_WRITE_PROPERTY
    | RIGHT_DS_DELETE_TREE
    | RIGHT_DS_LIST_OBJECT
    | RIGHT_DS_CONTROL_ACCESS
    | DELETE
    | READ_CONTROL
    | WRITE_DAC
    | WRITE_OWNER;

/// The DS generic mapping (MS-ADTS 5.1.3.2 / ADS_RIGHTS_ENUM): GENERIC_READ = read the SD,
/// list, read all properties, list the object; GENERIC_WRITE = read the SD, write all
/// properties, validated writes; GENERIC_EXECUTE = read the SD and list; GENERIC_ALL = all.
pub const DS_GENERIC_READ: u32 = READ_CONTROL | RIGHT_DS_LIST | RIGHT_DS_READ_PROPERTY | RIGHT_DS_LIST_OBJECT;
pub const DS_GENERIC_WRITE: u32 = READ_CONTROL | RIGHT_DS_WRITE_PROPERTY | RIGHT_DS_SELF;
pub const DS_GENERIC_EXECUTE: u32 = READ_CONTROL | RIGHT_DS_LIST;
pub const DS_GENERIC_ALL: u32 = DS_ALL_RIGHTS;

/// Replaces the four generic bits of `mask` by the DS rights they stand for (MS-DTYP 2.5.3.3
/// MapGenericBits with the DS mapping). Other bits are kept.
pub fn map_generic_ds(mask: u32) -> u32 {
    let mut out = mask & !(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);
    for (generic, specific) in [
        (GENERIC_READ, DS_GENERIC_READ),
        (GENERIC_WRITE, DS_GENERIC_WRITE),
        (GENERIC_EXECUTE, DS_GENERIC_EXECUTE),
        (GENERIC_ALL, DS_GENERIC_ALL),
    ] {
        if mask & generic != 0 {
            out |= specific;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_mapping() {
        assert_eq!(map_generic_ds(GENERIC_READ), 0x0002_0094);
        assert_eq!(map_generic_ds(GENERIC_WRITE), 0x0002_0028);
        assert_eq!(map_generic_ds(GENERIC_EXECUTE), 0x0002_0004);
        assert_eq!(map_generic_ds(GENERIC_ALL), 0x000f_01ff);
        assert_eq!(map_generic_ds(GENERIC_READ | WRITE_DAC), 0x0006_0094);
        assert_eq!(map_generic_ds(RIGHT_DS_CONTROL_ACCESS), RIGHT_DS_CONTROL_ACCESS);
    }
}
