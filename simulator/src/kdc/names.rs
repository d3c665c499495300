//! Turning request principal names into database lookups (MS-KILE 3.3.5.6 AS and 3.3.5.7 TGS
//! exchanges; RFC 6806 §5 for NT-ENTERPRISE names).

use super::db::{KdcDatabase, KdcPrincipal, PrincipalLookup};
use super::messages::{name_type, PrincipalName};

/// `krbtgt/REALM` for a realm this database serves.
pub fn is_local_krbtgt(name: &PrincipalName, realm: &str) -> bool {
    name.components.len() == 2
        && name.components[0].eq_ignore_ascii_case("krbtgt")
        && name.components[1].eq_ignore_ascii_case(realm)
}

/// A client: one component is a sAMAccountName or, with '@' or as NT-ENTERPRISE, a UPN (AD also
/// takes `sam@domain` as an implicit UPN); several components are an SPN (a host principal).
pub fn find_client(db: &dyn KdcDatabase, realm: &str, name: &PrincipalName) -> Option<KdcPrincipal> {
    match name.components.as_slice() {
        [single] if single.contains('@') || name.name_type == name_type::NT_ENTERPRISE => {
            find_by_upn(db, realm, single)
        }
        [single] => db.lookup(realm, &PrincipalLookup::SamAccountName(single.clone())),
        [] => None,
        _ => db.lookup(realm, &PrincipalLookup::Spn(name.joined())),
    }
}

fn find_by_upn(db: &dyn KdcDatabase, realm: &str, upn: &str) -> Option<KdcPrincipal> {
    if let Some(p) = db.lookup(realm, &PrincipalLookup::Upn(upn.to_string())) {
        return Some(p);
    }
    // Implicit UPN: sAMAccountName@<dns domain of the realm> (MS-ADTS 5.1.1.1.1).
    let (sam, suffix) = upn.rsplit_once('@')?;
    if suffix.eq_ignore_ascii_case(realm) {
        db.lookup(realm, &PrincipalLookup::SamAccountName(sam.to_string()))
    } else {
        None
    }
}

/// A service: the local krbtgt, an SPN (case-insensitive in the database), or a single-name
/// account (sAMAccountName or UPN), which AD also issues tickets to.
pub fn find_service(db: &dyn KdcDatabase, realm: &str, name: &PrincipalName) -> Option<KdcPrincipal> {
    if is_local_krbtgt(name, realm) {
        return db
            .lookup(realm, &PrincipalLookup::SamAccountName("krbtgt".into()))
            .filter(|p| p.is_krbtgt);
    }
    if name
        .components
        .first()
        .is_some_and(|c| c.eq_ignore_ascii_case("krbtgt"))
    {
        // Another realm's krbtgt: cross-realm referrals are not simulated.
        return None;
    }
    find_client(db, realm, name)
}
