//! The DC's LDAP channel binding requirement ("Domain controller: LDAP server channel binding
//! token requirements", the `LdapEnforceChannelBinding` registry value 0/1/2, KB4034879,
//! KB4520412, ADV190023): on a TLS connection (LDAPS, or LDAP after StartTLS) the NTLM and
//! Kerberos acceptors of Sicily, GSS-SPNEGO and GSSAPI binds are given the connection's
//! `tls-server-end-point` binding (RFC 5929 §4.1) and check the client's against it; on plain
//! LDAP there is no channel to bind to and nothing is checked. The checks themselves live in
//! the acceptors (`auth::ntlm` MsvAvChannelBindings, `auth::gss_krb5` the checksum's `Bnd`).

pub use crate::auth::ntlm::ChannelBindingPolicy;

/// A listener's channel binding: the policy and the binding hash of the DC's certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelBinding {
    /// `LdapEnforceChannelBinding`.
    pub enforce: ChannelBindingPolicy,
    /// MD5 of the gss_channel_bindings_struct whose application data is
    /// `tls-server-end-point:` and the hash of the DC certificate (`ntlm::channel_binding_hash`,
    /// computed once per certificate by `server::tls`).
    pub tls_server_end_point: [u8; 16],
}

impl ChannelBinding {
    /// The binding the acceptors expect on a connection: the certificate's over TLS, none on
    /// plain LDAP (KB4520412: channel binding applies to LDAP over TLS only).
    pub fn expected(&self, tls: bool) -> Option<[u8; 16]> {
        tls.then_some(self.tls_server_end_point)
    }
}

/// Each policy's name (`--channel-binding`, the ready line), one row per value.
const NAMES: &[(ChannelBindingPolicy, &str)] = &[
    (ChannelBindingPolicy::Never, "never"),
    (ChannelBindingPolicy::WhenSupported, "when-supported"),
    (ChannelBindingPolicy::Always, "always"),
];

/// The name of `policy`.
pub fn policy_name(policy: ChannelBindingPolicy) -> &'static str {
    NAMES
        .iter()
        .find(|(p, _)| *p == policy)
        .map(|(_, n)| *n)
        .expect("every policy has a name")
}

/// The policy named `name`.
pub fn policy_by_name(name: &str) -> Option<ChannelBindingPolicy> {
    NAMES.iter().find(|(_, n)| *n == name).map(|(p, _)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tls_connections_have_a_binding_to_check() {
        let cb = ChannelBinding {
            enforce: ChannelBindingPolicy::Always,
            tls_server_end_point: [7; 16],
        };
        assert_eq!(cb.expected(true), Some([7; 16]));
        assert_eq!(cb.expected(false), None);
    }
}
