//! The objects the cmdlets output, as PowerShell's ActiveDirectory module builds them: ordered
//! properties with PowerShell's names and types, derived from the directory attributes (the
//! "default and extended properties" of Get-ADServiceAccount: Microsoft Learn's TechNet wiki
//! article 29827 gives each property's source attribute; `Enabled` is userAccountControl without
//! bit 2, `PrincipalsAllowedToRetrieveManagedPassword` the DNs of the principals the
//! msDS-GroupMSAMembership DACL allows, `ManagedPasswordIntervalInDays` msDS-ManagedPasswordInterval,
//! `KerberosEncryptionType` msDS-SupportedEncryptionTypes' names, `HostComputers`
//! msDS-HostServiceAccountBL).

use serde_json::{json, Value};

use crate::clock::NtTime;
use crate::dsa::request::AttributeList;
use crate::security::acl::{Ace, AceType};
use crate::security::descriptor::SecurityDescriptor;
use crate::security::Sid;

/// An output object: a .NET type name and ordered properties.
#[derive(Debug, Clone, PartialEq)]
pub struct PsObject {
    pub type_name: String,
    pub properties: Vec<(String, Value)>,
}

impl PsObject {
    pub fn new(type_name: &str) -> Self {
        PsObject {
            type_name: type_name.to_string(),
            properties: Vec::new(),
        }
    }

    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.set(name, value);
        self
    }

    pub fn set(&mut self, name: &str, value: Value) {
        match self
            .properties
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.properties.push((name.to_string(), value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// `{"type": …, "properties": [[name, value], …]}`: JSON objects do not keep an order.
    pub fn to_json(&self) -> Value {
        json!({
            "type": self.type_name,
            "properties": self.properties.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
        })
    }

    pub fn from_json(v: &Value) -> Option<PsObject> {
        let props = v.get("properties")?.as_array()?;
        Some(PsObject {
            type_name: v.get("type")?.as_str()?.to_string(),
            properties: props
                .iter()
                .filter_map(|p| Some((p.get(0)?.as_str()?.to_string(), p.get(1)?.clone())))
                .collect(),
        })
    }
}

/// msDS-SupportedEncryptionTypes bits and the ADKerberosEncryptionType names
/// (MS-KILE 2.2.7; the enumeration of the AD module: DES, RC4, AES128, AES256).
pub const ENCRYPTION_TYPES: &[(u32, &str)] = &[(0x3, "DES"), (0x4, "RC4"), (0x8, "AES128"), (0x10, "AES256")];

/// `-KerberosEncryptionType` names (`None`, `DES`, `RC4`, `AES128`, `AES256`, also comma
/// lists as one string) to the attribute's bits.
pub fn encryption_bits(names: &[String]) -> Result<u32, String> {
    let mut bits = 0;
    for n in names.iter().flat_map(|s| s.split(',')).map(str::trim) {
        if n.eq_ignore_ascii_case("None") {
            continue;
        }
        bits |= ENCRYPTION_TYPES
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(n))
            .map(|(b, _)| *b)
            .ok_or_else(|| {
                format!("Cannot convert value \"{n}\" to type \"Microsoft.ActiveDirectory.Management.ADKerberosEncryptionType\". Error: \"Unable to match the identifier name {n} to a valid enumerator name. Specify one of the following enumerator names and try again:\nNone, DES, RC4, AES128, AES256\"")
            })?;
    }
    Ok(bits)
}

fn encryption_names(bits: u32) -> Vec<Value> {
    if bits & 0x1F == 0 {
        return vec![json!("None")];
    }
    ENCRYPTION_TYPES
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| json!(n))
        .collect()
}

/// `MM/dd/yyyy HH:mm:ss`-style en-US text PowerShell shows for a DateTime (`12/3/2026 11:39:52 AM`), in UTC.
pub fn date_text(t: NtTime) -> String {
    let secs = t.unix_seconds();
    let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return String::new();
    };
    let (h, ampm) = match dt.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{}/{}/{} {}:{:02}:{:02} {}",
        u8::from(dt.month()),
        dt.day(),
        dt.year(),
        h,
        dt.minute(),
        dt.second(),
        ampm
    )
}

fn generalized_to_nt(s: &str) -> Option<NtTime> {
    // yyyyMMddHHmmss.0Z
    let d = s.get(..14)?;
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[8..10],
        &d[10..12],
        &d[12..14]
    );
    NtTime::parse_rfc3339(&iso)
}

/// What an attribute's values read as, for the objects (strings, numbers, SIDs, GUIDs, dates).
pub struct Attrs<'a> {
    pub list: &'a AttributeList,
}

impl<'a> Attrs<'a> {
    pub fn values(&self, name: &str) -> &'a [Vec<u8>] {
        self.list
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    pub fn str(&self, name: &str) -> Option<String> {
        self.values(name)
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn strs(&self, name: &str) -> Vec<Value> {
        self.values(name)
            .iter()
            .map(|v| json!(String::from_utf8_lossy(v)))
            .collect()
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.str(name).and_then(|s| s.trim().parse().ok())
    }
}

/// The caller-independent facts the derivation needs from the directory: DN of a SID.
pub trait Resolver {
    fn dn_of_sid(&self, sid: &Sid) -> Option<String>;
}

/// The object types the Get-AD* cmdlets output: .NET type name, the LDAP filter of the class
/// the cmdlet searches (the module's `-Filter` runs inside it), and the default property set,
/// in the order PowerShell prints it (alphabetical for ADComputer, ADGroup and ADUser:
/// Get-ADComputer, Get-ADGroup and Get-ADUser outputs in Microsoft Learn's examples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub noun: &'static str,
    pub type_name: &'static str,
    /// The objectClass values of the class (any matches) and those excluded.
    pub classes: &'static [&'static str],
    pub excluded: &'static [&'static str],
    pub defaults: &'static [&'static str],
    /// `-Properties` are sorted in among the defaults; otherwise they follow them, and only
    /// `*` sorts.
    pub sorted: bool,
    /// `-Properties *` adds every extended property, not only those named as an attribute is.
    pub star_extended: bool,
}

/// ADServiceAccount (Get-ADServiceAccount, both kinds of service account): the default
/// properties in the order of Microsoft Learn's Get-ADServiceAccount example 1
/// (examples/ps/expected/get-adserviceaccount-default.txt); `-Properties *` adds the extended
/// properties (TechNet wiki 29827).
pub const SERVICE_ACCOUNT: Kind = Kind {
    noun: "ADServiceAccount",
    type_name: "Microsoft.ActiveDirectory.Management.ADServiceAccount",
    classes: &["msDS-GroupManagedServiceAccount", "msDS-ManagedServiceAccount"],
    excluded: &[],
    defaults: &[
        "Enabled",
        "Name",
        "UserPrincipalName",
        "SamAccountName",
        "ObjectClass",
        "SID",
        "ObjectGUID",
        "HostComputers",
        "DistinguishedName",
    ],
    sorted: false,
    star_extended: true,
};

/// ADComputer: objectClass computer, which the service accounts' classes derive from, so
/// Get-ADComputer -Filter * lists them too (inferred from the class hierarchy, MS-ADSC 2.140).
pub const COMPUTER: Kind = Kind {
    noun: "ADComputer",
    type_name: "Microsoft.ActiveDirectory.Management.ADComputer",
    classes: &["computer"],
    excluded: &[],
    defaults: &[
        "DistinguishedName",
        "DNSHostName",
        "Enabled",
        "Name",
        "ObjectClass",
        "ObjectGUID",
        "SamAccountName",
        "SID",
        "UserPrincipalName",
    ],
    sorted: true,
    star_extended: false,
};

pub const GROUP: Kind = Kind {
    noun: "ADGroup",
    type_name: "Microsoft.ActiveDirectory.Management.ADGroup",
    classes: &["group"],
    excluded: &[],
    defaults: &[
        "DistinguishedName",
        "GroupCategory",
        "GroupScope",
        "Name",
        "ObjectClass",
        "ObjectGUID",
        "SamAccountName",
        "SID",
    ],
    sorted: true,
    star_extended: false,
};

/// ADUser: objectClass user without the computers (computer derives from user).
pub const USER: Kind = Kind {
    noun: "ADUser",
    type_name: "Microsoft.ActiveDirectory.Management.ADUser",
    classes: &["user"],
    excluded: &["computer"],
    defaults: &[
        "DistinguishedName",
        "Enabled",
        "GivenName",
        "Name",
        "ObjectClass",
        "ObjectGUID",
        "SamAccountName",
        "SID",
        "Surname",
        "UserPrincipalName",
    ],
    sorted: true,
    star_extended: false,
};

/// ADPrincipal (Add-/Remove-ADPrincipalGroupMembership -PassThru).
pub const PRINCIPAL: Kind = Kind {
    noun: "ADPrincipal",
    type_name: "Microsoft.ActiveDirectory.Management.ADPrincipal",
    classes: &["user", "group"],
    excluded: &[],
    defaults: &[
        "DistinguishedName",
        "Name",
        "ObjectClass",
        "ObjectGUID",
        "SamAccountName",
        "SID",
    ],
    sorted: true,
    star_extended: false,
};

/// The attributes the kinds' default properties read.
pub const DEFAULT_ATTRIBUTES: &[&str] = &[
    "msDS-HostServiceAccountBL",
    "cn",
    "sAMAccountName",
    "objectClass",
    "objectGUID",
    "objectSid",
    "userAccountControl",
    "dNSHostName",
    "userPrincipalName",
    "groupType",
    "givenName",
    "sn",
];

/// The extended properties adsim derives, with the attributes they read (TechNet wiki 29827).
pub const EXTENDED_PROPERTIES: &[(&str, &str)] = &[
    ("AccountExpirationDate", "accountExpires"),
    ("AccountNotDelegated", "userAccountControl"),
    ("CN", "cn"),
    ("Created", "whenCreated"),
    ("Description", "description"),
    ("DisplayName", "displayName"),
    ("DNSHostName", "dNSHostName"),
    ("KerberosEncryptionType", "msDS-SupportedEncryptionTypes"),
    ("ManagedPasswordIntervalInDays", "msDS-ManagedPasswordInterval"),
    ("MemberOf", "memberOf"),
    ("Modified", "whenChanged"),
    ("ObjectCategory", "objectCategory"),
    ("PasswordLastSet", "pwdLastSet"),
    (
        "PrincipalsAllowedToRetrieveManagedPassword",
        "msDS-GroupMSAMembership",
    ),
    ("ServicePrincipalNames", "servicePrincipalName"),
    ("TrustedForDelegation", "userAccountControl"),
];

/// The value of one property of an account, from its attributes.
pub fn property(name: &str, a: &Attrs, dn: &str, r: &dyn Resolver) -> Value {
    let uac = a.int("userAccountControl").unwrap_or(0);
    let sid = a
        .values("objectSid")
        .first()
        .and_then(|b| Sid::from_bytes(b).ok());
    match name {
        "Enabled" => json!(uac & 2 == 0),
        "Name" | "CN" => a.str("cn").map_or(Value::Null, Value::from),
        "UserPrincipalName" => a.str("userPrincipalName").map_or(Value::Null, Value::from),
        "SamAccountName" => a.str("sAMAccountName").map_or(Value::Null, Value::from),
        "ObjectClass" => a
            .values("objectClass")
            .last()
            .map_or(Value::Null, |v| json!(String::from_utf8_lossy(v))),
        "SID" => sid.map_or(Value::Null, |s| json!(s.to_string())),
        "ObjectGUID" => a
            .values("objectGUID")
            .first()
            .and_then(|b| crate::security::guid::from_ms_slice(b).ok())
            .map_or(Value::Null, |g| json!(g.hyphenated().to_string())),
        // Empty shows blank, as in Microsoft Learn's Get-ADServiceAccount example 1.
        "HostComputers" => match a.strs("msDS-HostServiceAccountBL") {
            v if v.is_empty() => Value::Null,
            v => json!(v),
        },
        "DistinguishedName" => json!(dn),
        "GroupCategory" => match a.int("groupType") {
            Some(gt) if (gt as u32) & 0x8000_0000 != 0 => json!("Security"),
            Some(_) => json!("Distribution"),
            None => Value::Null,
        },
        // groupType's scope bits (MS-ADTS 2.2.12).
        "GroupScope" => match a.int("groupType").map(|g| g as u32) {
            Some(gt) if gt & 0x4 != 0 => json!("DomainLocal"),
            Some(gt) if gt & 0x8 != 0 => json!("Universal"),
            Some(_) => json!("Global"),
            None => Value::Null,
        },
        "GivenName" => a.str("givenName").map_or(Value::Null, Value::from),
        "Surname" => a.str("sn").map_or(Value::Null, Value::from),
        "AccountExpirationDate" => match a.int("accountExpires") {
            Some(0) | Some(i64::MAX) | None => Value::Null,
            Some(t) => json!(date_text(NtTime(t as u64))),
        },
        "AccountNotDelegated" => json!(uac & 0x10_0000 != 0),
        "TrustedForDelegation" => json!(uac & 0x8_0000 != 0),
        "Created" => a
            .str("whenCreated")
            .and_then(|s| generalized_to_nt(&s))
            .map_or(Value::Null, |t| json!(date_text(t))),
        "Modified" => a
            .str("whenChanged")
            .and_then(|s| generalized_to_nt(&s))
            .map_or(Value::Null, |t| json!(date_text(t))),
        "Description" => a.str("description").map_or(Value::Null, Value::from),
        "DisplayName" => a.str("displayName").map_or(Value::Null, Value::from),
        "DNSHostName" => a.str("dNSHostName").map_or(Value::Null, Value::from),
        "KerberosEncryptionType" => json!(encryption_names(
            a.int("msDS-SupportedEncryptionTypes").unwrap_or(0) as u32
        )),
        "ManagedPasswordIntervalInDays" => a
            .int("msDS-ManagedPasswordInterval")
            .map_or(Value::Null, Value::from),
        "MemberOf" => json!(a.strs("memberOf")),
        "ObjectCategory" => a.str("objectCategory").map_or(Value::Null, Value::from),
        "PasswordLastSet" => match a.int("pwdLastSet") {
            Some(t) if t > 0 => json!(date_text(NtTime(t as u64))),
            _ => Value::Null,
        },
        "PrincipalsAllowedToRetrieveManagedPassword" => json!(allowed_principals(
            a.values("msDS-GroupMSAMembership").first().map(Vec::as_slice),
            r
        )),
        "ServicePrincipalNames" => json!(a.strs("servicePrincipalName")),
        _ => Value::Null,
    }
}

/// The DNs of the principals an msDS-GroupMSAMembership DACL allows (a SID without an object
/// shows as the SID, as the module does for an unresolvable one).
pub fn allowed_principals(sd: Option<&[u8]>, r: &dyn Resolver) -> Vec<String> {
    let Some(sd) = sd.and_then(|b| SecurityDescriptor::from_bytes(b).ok()) else {
        return Vec::new();
    };
    sd.dacl
        .iter()
        .flat_map(|acl| acl.aces.iter())
        .filter_map(|ace| match ace {
            Ace::Standard(a) if a.ace_type == AceType::AccessAllowed => Some(&a.sid),
            _ => None,
        })
        .map(|sid| r.dn_of_sid(sid).unwrap_or_else(|| sid.to_string()))
        .collect()
}

/// How a raw attribute shows under `-Properties *`: its text, the SID or GUID text, a
/// security descriptor as the .NET type name PowerShell prints, other binary as bytes.
pub fn raw_attribute(name: &str, values: &[Vec<u8>]) -> Value {
    let lower = name.to_ascii_lowercase();
    let one = |v: &Vec<u8>| -> Value {
        match lower.as_str() {
            "objectsid" => Sid::from_bytes(v).map_or(Value::Null, |s| json!(s.to_string())),
            "objectguid" => crate::security::guid::from_ms_slice(v)
                .map_or(Value::Null, |g| json!(g.hyphenated().to_string())),
            "msds-groupmsamembership" | "ntsecuritydescriptor" => {
                json!("System.DirectoryServices.ActiveDirectorySecurity")
            }
            _ => match std::str::from_utf8(v) {
                Ok(s) if !s.chars().any(char::is_control) => json!(s),
                _ => json!(v.iter().map(|b| json!(b)).collect::<Vec<_>>()),
            },
        }
    };
    let single = matches!(
        lower.as_str(),
        "objectsid" | "objectguid" | "cn" | "samaccountname" | "distinguishedname"
    );
    if values.len() == 1 && (single || !multi_valued(&lower)) {
        one(&values[0])
    } else {
        json!(values.iter().map(one).collect::<Vec<_>>())
    }
}

fn multi_valued(lower: &str) -> bool {
    matches!(
        lower,
        "objectclass" | "serviceprincipalname" | "memberof" | "member" | "msds-hostserviceaccountbl"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_type_names_round_trip() {
        assert_eq!(encryption_bits(&["AES128,AES256".into()]).unwrap(), 0x18);
        assert_eq!(encryption_bits(&["RC4".into(), "AES256".into()]).unwrap(), 0x14);
        assert!(encryption_bits(&["AES512".into()])
            .unwrap_err()
            .contains("AES512"));
        assert_eq!(
            encryption_names(0x1C),
            vec![json!("RC4"), json!("AES128"), json!("AES256")]
        );
    }

    #[test]
    fn dates_print_as_en_us() {
        let t = NtTime::parse_rfc3339("2026-12-03T13:05:09Z").unwrap();
        assert_eq!(date_text(t), "12/3/2026 1:05:09 PM");
        assert_eq!(generalized_to_nt("20261203130509.0Z"), Some(t));
    }
}
