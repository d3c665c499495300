//! Who a SASL or Sicily bind authenticated, as the directory sees it: the NTLM account look-up
//! (NT hash from the account's secrets) and the caller built from a Kerberos ticket's PAC.

use crate::auth::ntlm::{NtlmAccount, NtlmAccounts};
use crate::dsa::caller::well_known;
use crate::dsa::{Caller, Directory};
use crate::kdc::messages::EncTicketPart;
use crate::kdc::pac::Pac;
use crate::kdc::ticket::find_pac;
use crate::model::EntryId;
use crate::security::Sid;

/// NTLM accounts of a forest: `(domain, user)` as the client sent them, the domain by NetBIOS or
/// DNS name (empty: the DC's own domain); computers as `NAME$`.
pub struct DirectoryAccounts<'a> {
    pub dir: &'a Directory,
    /// The domain an empty domain name means (the DC's).
    pub default_domain: usize,
}

impl NtlmAccounts for DirectoryAccounts<'_> {
    type Ref = EntryId;

    fn lookup(&self, domain: &str, user: &str) -> Option<NtlmAccount<EntryId>> {
        let index = if domain.is_empty() {
            self.default_domain
        } else {
            self.dir.forest.domain_by_name(domain)?.index
        };
        let id = self.dir.find_sam(&self.dir.read(), index, user)?;
        // A gMSA whose interval has passed rolls over on use, so the hash below is current
        // (as for the KDC's keys).
        if let Err(e) = self.dir.roll_over_if_due(id) {
            tracing::warn!(error = %e, "gMSA rollover failed; using the stored hash");
        }
        let st = self.dir.read();
        let entry = st.store.get(id)?;
        let secrets = entry.secrets.as_ref()?;
        Some(NtlmAccount {
            nt_hash: secrets.nt_hash,
            account: id,
            locked_out: self.dir.check_not_locked(&st, entry).is_err(),
        })
    }

    fn wrong_password(&self, account: &EntryId) {
        self.dir.record_logon(*account, false);
    }
}

/// The caller of an NTLM logon, its token computed afresh from the directory, or the
/// sub-status the account's state refuses it with ([`Directory::logon`]).
pub fn ntlm_logon(dir: &Directory, id: EntryId) -> Result<Caller, u32> {
    let caller = dir.logon(&dir.read(), id)?;
    dir.record_logon(id, true);
    Ok(caller)
}

/// Why a ticket names no caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacIdentityError {
    NoPac,
    BadPac,
}

/// The caller of a Kerberos logon, from the ticket's PAC: the user SID and the groups the KDC
/// froze into the TGT (MS-PAC 2.5; a group change shows only with a new TGT, as on Windows),
/// plus the well-known SIDs of a network logon. The account entry is found by its SID.
pub fn caller_from_ticket(dir: &Directory, ticket: &EncTicketPart) -> Result<Caller, PacIdentityError> {
    let bytes = find_pac(ticket).ok_or(PacIdentityError::NoPac)?;
    let info = Pac::from_bytes(&bytes)
        .and_then(|p| p.logon_info())
        .map_err(|_| PacIdentityError::BadPac)?;
    let user = info.user_sid();
    let st = dir.read();
    let entry = st
        .store
        .find_eq("objectsid", &user.to_bytes())
        .and_then(|v| v.first().copied());
    let mut token: Vec<Sid> = vec![user.clone()];
    for sid in info.group_sids() {
        if !token.contains(&sid) {
            token.push(sid);
        }
    }
    token.extend(well_known::authenticated_network_logon());
    let domain = entry
        .and_then(|id| st.store.get(id))
        .and_then(|e| dir.forest.domain_of(&e.dn))
        .map(|d| d.index);
    crate::dsa::token::add_well_known_groups(&st, &dir.forest, domain, &mut token);
    Ok(Caller {
        entry,
        dn: entry
            .and_then(|id| st.store.get(id))
            .map(|e| e.dn.to_string())
            .unwrap_or_default(),
        sid: Some(user),
        token,
        encrypted: false,
        system: false,
        sd_flags: None,
    })
}
