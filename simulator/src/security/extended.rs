//! The one table of controlAccessRight GUIDs adsim uses (MS-ADTS 5.1.3.2.1 control access
//! rights, 5.1.3.2.2 validated writes, 5.1.3.2.3 property sets): the rightsGuid of each
//! CN=Extended-Rights object, with the name Windows tools show. No other module spells these
//! GUIDs; callers ask by [`Name`](ExtendedRight::name) or use the constants below.

use uuid::Uuid;

/// validAccesses of a controlAccessRight: what an object ACE naming it grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RIGHT_DS_CONTROL_ACCESS (CR).
    ControlAccess,
    /// RIGHT_DS_SELF (SW): a validated write.
    ValidatedWrite,
    /// RIGHT_DS_READ_PROPERTY / RIGHT_DS_WRITE_PROPERTY on every attribute whose
    /// attributeSecurityGUID names it.
    PropertySet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedRight {
    /// The CN of the controlAccessRight object (MS-ADTS 5.1.3.2).
    pub name: &'static str,
    pub guid: Uuid,
    pub kind: Kind,
}

const fn right(name: &'static str, guid: u128, kind: Kind) -> ExtendedRight {
    ExtendedRight {
        name,
        guid: Uuid::from_u128(guid),
        kind,
    }
}

use Kind::*;

pub const USER_FORCE_CHANGE_PASSWORD: ExtendedRight = right(
    "User-Force-Change-Password",
    0x00299570_246d_11d0_a768_00aa006e0529,
    ControlAccess,
);
pub const USER_CHANGE_PASSWORD: ExtendedRight = right(
    "User-Change-Password",
    0xab721a53_1e2f_11d0_9819_00aa0040529b,
    ControlAccess,
);
pub const VALIDATED_SPN: ExtendedRight = right(
    "Validated-SPN",
    0xf3a64788_5306_11d1_a9c5_0000f80367c1,
    ValidatedWrite,
);
pub const VALIDATED_DNS_HOST_NAME: ExtendedRight = right(
    "Validated-DNS-Host-Name",
    0x72e39547_7b18_11d1_adef_00c04fd8d5cd,
    ValidatedWrite,
);
pub const SELF_MEMBERSHIP: ExtendedRight = right(
    "Self-Membership",
    0xbf9679c0_0de6_11d0_a285_00aa003049e2,
    ValidatedWrite,
);
pub const USER_ACCOUNT_RESTRICTIONS: ExtendedRight = right(
    "User-Account-Restrictions",
    0x4c164200_20c0_11d0_a768_00aa006e0529,
    PropertySet,
);

/// MS-ADTS 5.1.3.2.1-3: the rights adsim's operations and tools name.
pub const TABLE: &[ExtendedRight] = &[
    USER_FORCE_CHANGE_PASSWORD,
    USER_CHANGE_PASSWORD,
    right("Send-As", 0xab721a54_1e2f_11d0_9819_00aa0040529b, ControlAccess),
    right(
        "Receive-As",
        0xab721a56_1e2f_11d0_9819_00aa0040529b,
        ControlAccess,
    ),
    right(
        "DS-Replication-Get-Changes",
        0x1131f6aa_9c07_11d1_f79f_00c04fc2dcd2,
        ControlAccess,
    ),
    right(
        "DS-Replication-Get-Changes-All",
        0x1131f6ad_9c07_11d1_f79f_00c04fc2dcd2,
        ControlAccess,
    ),
    right(
        "Allowed-To-Authenticate",
        0x68b1d179_0d15_4d4f_ab71_46152e79a7bc,
        ControlAccess,
    ),
    VALIDATED_SPN,
    VALIDATED_DNS_HOST_NAME,
    SELF_MEMBERSHIP,
    USER_ACCOUNT_RESTRICTIONS,
    right("User-Logon", 0x5f202010_79a5_11d0_9020_00c04fc2d4cf, PropertySet),
    right("Membership", 0xbc0ac240_79a9_11d0_9020_00c04fc2d4cf, PropertySet),
    right(
        "General-Information",
        0x59ba2f42_79a2_11d0_9020_00c04fc2d3cf,
        PropertySet,
    ),
    right(
        "Personal-Information",
        0x77b5b886_944a_11d1_aebd_0000f80367c1,
        PropertySet,
    ),
    right(
        "Public-Information",
        0xe48d0154_bcf8_11d1_8702_00c04fb96050,
        PropertySet,
    ),
    right(
        "Email-Information",
        0xe45795b2_9455_11d1_aebd_0000f80367c1,
        PropertySet,
    ),
    right(
        "Web-Information",
        0xe45795b3_9455_11d1_aebd_0000f80367c1,
        PropertySet,
    ),
    right(
        "Private-Information",
        0x91e647de_d96f_4b70_9557_d63ff4f3ccd8,
        PropertySet,
    ),
];

/// A right by its name (any case).
pub fn by_name(name: &str) -> Option<&'static ExtendedRight> {
    TABLE.iter().find(|r| r.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_guids_are_unique() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.guid, b.guid);
            }
        }
        assert_eq!(
            by_name("user-force-change-password").unwrap().guid.to_string(),
            "00299570-246d-11d0-a768-00aa006e0529"
        );
        // The property set is the one the schema names for userAccountControl.
        assert_eq!(
            crate::schema::Schema::ad()
                .attribute("userAccountControl")
                .unwrap()
                .attribute_security_guid,
            Some(USER_ACCOUNT_RESTRICTIONS.guid)
        );
    }
}
