//! The caller's authorization context for access checks (MS-DTYP 2.5.2 Token/Authorization
//! Context, reduced to what the directory uses): the user SID and every group SID.
//!
//! The caller builds the token: it must expand group membership transitively (nested groups,
//! primary group, BUILTIN aliases) before calling [`Token::new`]; the access check only asks
//! "is this SID in the token".

use super::sid::Sid;
use super::well_known;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub user: Sid,
    /// Group SIDs, already transitively expanded. Tokens hold tens of SIDs, so a linear
    /// search is as fast as hashing and keeps the fields plain.
    pub groups: Vec<Sid>,
}

impl Token {
    /// A token for `user` holding `groups` (duplicates are dropped).
    pub fn new(user: Sid, groups: impl IntoIterator<Item = Sid>) -> Token {
        let mut token = Token {
            user,
            groups: Vec::new(),
        };
        for g in groups {
            token.add_group(g);
        }
        token
    }

    /// True when `sid` is the user or one of the groups.
    pub fn contains(&self, sid: &Sid) -> bool {
        self.user == *sid || self.groups.contains(sid)
    }

    /// Adds a group SID unless the token already holds it.
    pub fn add_group(&mut self, sid: Sid) {
        if !self.contains(&sid) {
            self.groups.push(sid);
        }
    }

    /// Adds the SIDs Windows puts in the token of an authenticated network logon
    /// ([`well_known::authenticated_network_logon`]).
    pub fn add_authenticated_network_sids(&mut self) {
        for sid in well_known::authenticated_network_logon() {
            self.add_group(sid);
        }
    }

    /// A network-logon token for an authenticated principal.
    pub fn authenticated_network(user: Sid, groups: impl IntoIterator<Item = Sid>) -> Token {
        let mut token = Token::new(user, groups);
        token.add_authenticated_network_sids();
        token
    }

    /// The token of an anonymous (unauthenticated) LDAP session: user ANONYMOUS LOGON, plus
    /// NETWORK. Everyone is added only when `everyone_includes_anonymous` is true: since
    /// Windows Server 2003 the policy "Network access: Let Everyone permissions apply to
    /// anonymous users" (EveryoneIncludesAnonymous) is off by default and the anonymous token
    /// then has no Everyone SID.
    pub fn anonymous(everyone_includes_anonymous: bool) -> Token {
        let mut token = Token::new(well_known::anonymous(), [well_known::network()]);
        if everyone_includes_anonymous {
            token.add_group(well_known::everyone());
        }
        token
    }

    /// The LocalSystem token. The directory itself acts as SYSTEM; callers bypass the access
    /// check for it (docs/notes/gmsa-gkdi.md §5: "SYSTEM always passes") rather than rely on ACEs.
    pub fn system() -> Token {
        Token::new(
            well_known::system(),
            [
                well_known::builtin_administrators(),
                well_known::everyone(),
                well_known::authenticated_users(),
            ],
        )
    }

    pub fn is_system(&self) -> bool {
        self.user == well_known::system()
    }

    pub fn is_anonymous(&self) -> bool {
        self.user == well_known::anonymous()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(s: &str) -> Sid {
        s.parse().unwrap()
    }

    #[test]
    fn contains_user_and_groups_once() {
        let user = sid("S-1-5-21-1-2-3-1105");
        let group = sid("S-1-5-21-1-2-3-1200");
        let t = Token::authenticated_network(user.clone(), [group.clone(), group.clone()]);
        assert!(t.contains(&user));
        assert!(t.contains(&group));
        assert!(t.contains(&well_known::everyone()));
        assert!(t.contains(&well_known::authenticated_users()));
        assert!(t.contains(&well_known::network()));
        assert!(!t.contains(&well_known::anonymous()));
        assert!(!t.contains(&sid("S-1-5-21-1-2-3-512")));
        assert_eq!(t.groups.iter().filter(|g| **g == group).count(), 1);
        assert!(!t.is_system());
    }

    #[test]
    fn anonymous_token_and_everyone_policy() {
        let strict = Token::anonymous(false);
        assert!(strict.is_anonymous());
        assert!(strict.contains(&well_known::anonymous()));
        assert!(!strict.contains(&well_known::everyone()));
        assert!(!strict.contains(&well_known::authenticated_users()));
        let lax = Token::anonymous(true);
        assert!(lax.contains(&well_known::everyone()));
        assert!(Token::system().is_system());
    }
}
