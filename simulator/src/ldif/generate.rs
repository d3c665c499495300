//! Synthetic user populations for benchmarks and the paged-search tests.

use super::{write_all, LdifRecord};

/// The DNS name spelled by the `DC=` components of `dn`, e.g. `corp.example.test` for
/// `OU=Bench,DC=corp,DC=example,DC=test`; `None` when `dn` has no `DC=` component. Components
/// are split on unescaped commas; DC values with escaped characters are not expected (DNS
/// labels cannot hold them).
pub fn upn_suffix_of(dn: &str) -> Option<String> {
    let labels: Vec<&str> = dn
        .split(',')
        .filter_map(|rdn| {
            let (attr, value) = rdn.split_once('=')?;
            attr.trim().eq_ignore_ascii_case("dc").then(|| value.trim())
        })
        .collect();
    (!labels.is_empty()).then(|| labels.join(".").to_ascii_lowercase())
}

/// `count` user entries `CN=userNNNNN,<base_dn>` numbered from `start_index`, each with
/// `objectClass: top/person/organizationalPerson/user`, `cn`, `sAMAccountName` (`userNNNNN`,
/// at least five digits) and, when `base_dn` has `DC=` components, `userPrincipalName`
/// (`userNNNNN@<dns name of base_dn>`). No password is set: the directory applies its defaults.
pub fn generate_user_records(base_dn: &str, count: usize, start_index: usize) -> Vec<LdifRecord> {
    let suffix = upn_suffix_of(base_dn);
    (start_index..start_index.saturating_add(count))
        .map(|index| {
            let name = format!("user{index:05}");
            let mut attrs: Vec<(String, Vec<u8>)> = ["top", "person", "organizationalPerson", "user"]
                .iter()
                .map(|class| ("objectClass".to_string(), class.as_bytes().to_vec()))
                .collect();
            attrs.push(("cn".to_string(), name.clone().into_bytes()));
            attrs.push(("sAMAccountName".to_string(), name.clone().into_bytes()));
            if let Some(suffix) = &suffix {
                attrs.push((
                    "userPrincipalName".to_string(),
                    format!("{name}@{suffix}").into_bytes(),
                ));
            }
            LdifRecord::Content {
                dn: format!("CN={name},{base_dn}"),
                attrs,
            }
        })
        .collect()
}

/// [`generate_user_records`] as an LDIF file (with its `version: 1` header).
pub fn generate_users(base_dn: &str, count: usize, start_index: usize) -> String {
    write_all(&generate_user_records(base_dn, count, start_index))
}
