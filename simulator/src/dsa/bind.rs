//! Simple-bind authentication (RFC 4513 §5.1) the way AD resolves names: a DN, a UPN
//! (`user@domain`, implicit `sam@dnsdomain` included) or a down-level `DOMAIN\user`.

use super::caller::Caller;
use super::error::{code, DsError, DsResult};
use super::provision::uac;
use super::{token, DirState, Directory};
use crate::model::{Dn, EntryId};

/// AcceptSecurityContext failure (docs/notes/windows-behaviour.md row 20). `data` is the NTSTATUS-derived
/// sub-code: 52e bad credentials, 533 disabled, 775 locked out, 532 password expired.
pub fn invalid_credentials(data: &str) -> DsError {
    DsError::new(
        code::INVALID_CREDENTIALS,
        0x8009_0308,
        format!(
            "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data {data}, v4563\u{0}"
        ),
    )
}

impl Directory {
    /// Resolves a bind name to an account entry.
    pub fn resolve_account(&self, st: &DirState, name: &str) -> Option<EntryId> {
        let name = name.trim();
        if let Some((domain, user)) = name.split_once('\\') {
            let d = self.forest.domain_by_name(domain)?;
            return self.find_sam(st, d.index, user);
        }
        if let Some((user, domain)) = name.rsplit_once('@') {
            if let Some(id) = st
                .store
                .find_eq("userprincipalname", name.as_bytes())
                .and_then(|v| v.first().copied())
            {
                return Some(id);
            }
            let d = self.forest.domain_by_name(domain)?;
            return self.find_sam(st, d.index, user);
        }
        if name.contains('=') {
            return Dn::parse(name).ok().and_then(|dn| st.store.lookup(&dn));
        }
        None
    }

    /// The account with this sAMAccountName in one domain.
    pub fn find_sam(&self, st: &DirState, domain: usize, sam: &str) -> Option<EntryId> {
        st.store
            .find_eq("samaccountname", sam.as_bytes())?
            .into_iter()
            .find(|id| {
                st.store
                    .get(*id)
                    .is_some_and(|e| self.forest.domain_of(&e.dn).is_some_and(|d| d.index == domain))
            })
    }

    /// Checks a simple bind. An empty password is an unauthenticated bind (RFC 4513 §5.1.2),
    /// which AD treats as anonymous.
    pub fn simple_bind(&self, name: &str, password: &[u8]) -> DsResult<Caller> {
        if password.is_empty() {
            return Ok(Caller::anonymous());
        }
        let st = self.read();
        let id = self
            .resolve_account(&st, name)
            .ok_or_else(|| invalid_credentials("52e"))?;
        let entry = st.store.get(id).ok_or_else(|| invalid_credentials("52e"))?;
        let secrets = entry.secrets.as_ref().ok_or_else(|| invalid_credentials("52e"))?;
        let utf16: Vec<u8> = String::from_utf8_lossy(password)
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let hash = crate::keys::nt_hash(&utf16);
        // The previous password of a gMSA stays valid too (MS-ADTS 3.1.1.4.5.39).
        let matches = hash == secrets.nt_hash || secrets.previous.as_ref().is_some_and(|p| p.nt_hash == hash);
        if !matches {
            return Err(invalid_credentials("52e"));
        }
        self.logon(&st, id)
            .map_err(|data| invalid_credentials(&format!("{data:x}")))
    }

    /// The caller of an account that has proved its credentials (by password, NT hash or
    /// ticket), or the AcceptSecurityContext sub-status AD refuses the logon with because of the
    /// account's state (0x533: disabled). The one account-state rule every bind mechanism uses.
    pub fn logon(&self, st: &DirState, id: EntryId) -> Result<Caller, u32> {
        let u = st
            .store
            .get(id)
            .and_then(|e| e.first_i64("userAccountControl"))
            .unwrap_or(0) as u32;
        if u & uac::ACCOUNTDISABLE != 0 {
            return Err(0x533);
        }
        Ok(self.caller_for(st, id))
    }

    /// The caller of a bound account: SID, transitive groups and logon SIDs.
    pub fn caller_for(&self, st: &DirState, id: EntryId) -> Caller {
        let entry = st.store.get(id);
        Caller {
            entry: Some(id),
            dn: entry.map(|e| e.dn.to_string()).unwrap_or_default(),
            sid: entry
                .and_then(|e| e.first("objectSid"))
                .and_then(|b| crate::security::Sid::from_bytes(b).ok()),
            token: token::token_for(st, &self.forest, id),
            encrypted: false,
            system: false,
            sd_flags: None,
        }
    }

    /// `u:DOMAIN\user` for WhoAmI (RFC 4532; AD answers with the down-level name).
    pub fn authz_id(&self, caller: &Caller) -> String {
        let st = self.read();
        let Some(e) = caller.entry.and_then(|id| st.store.get(id)) else {
            return String::new();
        };
        let domain = self
            .forest
            .domain_of(&e.dn)
            .map(|d| d.netbios.clone())
            .unwrap_or_default();
        format!(
            "u:{}\\{}",
            domain,
            e.first_str("sAMAccountName").unwrap_or_default()
        )
    }
}
