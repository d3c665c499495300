//! The gMSA and its reader: a computer account WEB01$ (from the start-up fixture, with a
//! password), then, over LDAPS as the Administrator, a gMSA whose
//! `msDS-GroupMSAMembership` allows WEB01$ by SID — what
//! `New-ADServiceAccount -PrincipalsAllowedToRetrieveManagedPassword WEB01$` writes.

use crate::entry;
use crate::serve::{unicode_pwd, BASE_DN, DNS_DOMAIN};
use crate::tls::Ldaps;
use crate::wire::{self, Scope};
use adsim_simulator::gmsa::ManagedPasswordBlob;
use adsim_simulator::security::{sddl, AliasDomains, Sid};
use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;

/// The reader: a member server allowed to retrieve the password.
pub const READER: &str = "CORP\\WEB01$";
pub const READER_PASSWORD: &str = "Web01-Machine-Passw0rd!";
const READER_DN: &str = "CN=WEB01,CN=Computers,DC=corp,DC=example,DC=test";

pub const GMSA_SAM: &str = "svc-bench$";

pub fn gmsa_dn() -> String {
    format!("CN=svc-bench,CN=Managed Service Accounts,{BASE_DN}")
}

/// The start-up fixture: the reader's computer account.
pub fn write_fixture(path: &Path) -> Result<()> {
    let ldif = format!(
        "version: 1\n\n\
         dn: {READER_DN}\nobjectClass: computer\nsAMAccountName: WEB01$\n\
         dNSHostName: web01.{DNS_DOMAIN}\nuserAccountControl: 4096\nunicodePwd:: {}\n",
        unicode_pwd(READER_PASSWORD)
    );
    std::fs::write(path, ldif)?;
    Ok(())
}

/// Adds the gMSA (as `admin`) with the reader's SID in its membership descriptor.
pub async fn create_gmsa(ldaps: &Ldaps, admin: &str, admin_password: &str) -> Result<()> {
    let mut conn = ldaps.bound(admin, admin_password).await?;
    let mut sid = None;
    let found = conn
        .search_each(
            READER_DN,
            Scope::Base,
            &wire::filter_present("objectClass"),
            &["objectSid"],
            |pdu| {
                sid = Some(Sid::from_bytes(entry::single(pdu, "objectSid")?).map_err(|e| anyhow!("{e}"))?);
                Ok(())
            },
        )
        .await?;
    let sid = sid
        .filter(|_| found == 1)
        .ok_or_else(|| anyhow!("{READER_DN} not found"))?;
    // PowerShell's descriptor: owner BUILTIN\Administrators, full control for each principal.
    let sd = sddl::parse(
        &format!("O:S-1-5-32-544D:(A;;0x0f01ff;;;{sid})"),
        &AliasDomains::none(),
    )
    .map_err(|e| anyhow!("{e}"))?
    .to_bytes()
    .map_err(|e| anyhow!("{e}"))?;
    let text = |v: &str| vec![v.as_bytes().to_vec()];
    conn.add(
        &gmsa_dn(),
        &[
            ("objectClass", text("msDS-GroupManagedServiceAccount")),
            ("sAMAccountName", text(GMSA_SAM)),
            ("dNSHostName", text(&format!("svc-bench.{DNS_DOMAIN}"))),
            ("msDS-GroupMSAMembership", vec![sd]),
            ("msDS-ManagedPasswordInterval", text("30")),
        ],
    )
    .await
    .context("adding the gMSA")?;
    conn.unbind().await;
    Ok(())
}

/// Decodes a `msDS-ManagedPassword` value (MS-ADTS 2.2.19).
pub fn blob(value: &[u8]) -> Result<ManagedPasswordBlob> {
    ManagedPasswordBlob::decode(value).map_err(|e| anyhow!("msDS-ManagedPassword: {e}"))
}

/// The first read of a fresh gMSA: a current password and no previous one yet.
pub fn check_first_blob(value: &[u8]) -> Result<ManagedPasswordBlob> {
    let b = blob(value)?;
    if b.previous.is_some() || b.current.is_empty() {
        bail!("a new gMSA's blob should have a current password and no previous one");
    }
    Ok(b)
}
