//! DC presets (`adsim serve --dc-profile`): the LDAP security policies a freshly installed DC of
//! a given Windows Server release enforces, one table row per profile (docs/fidelity.md,
//! "LDAP signing and channel binding defaults"). Explicit `--ldap-signing` and
//! `--channel-binding` flags override a profile's values.

use crate::ldap::bind::channel_binding::ChannelBindingPolicy;
use crate::ldap::bind::signing::LdapSigning;

/// A preset of DC policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DcProfile {
    /// adsim's defaults: signing not required (LDAPServerIntegrity 1), channel binding when
    /// supported (LdapEnforceChannelBinding 1), so simple binds on plain LDAP keep working.
    Default,
    /// A new Windows Server 2025 forest: "LDAP server signing requirements Enforcement" not
    /// configured means signing required; the channel binding default is unchanged (when
    /// supported, as the default profile).
    Ws2025,
}

/// The policies a profile sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcPolicies {
    pub ldap_signing: LdapSigning,
    pub channel_binding: ChannelBindingPolicy,
}

/// Every profile, its name on the command line and its policies.
const PROFILES: &[(DcProfile, &str, DcPolicies)] = &[
    (
        DcProfile::Default,
        "default",
        DcPolicies {
            ldap_signing: LdapSigning::None,
            channel_binding: ChannelBindingPolicy::WhenSupported,
        },
    ),
    (
        DcProfile::Ws2025,
        "2025",
        DcPolicies {
            ldap_signing: LdapSigning::Required,
            channel_binding: ChannelBindingPolicy::WhenSupported,
        },
    ),
];

impl DcProfile {
    pub fn policies(self) -> DcPolicies {
        PROFILES
            .iter()
            .find(|(p, _, _)| *p == self)
            .map(|(_, _, policies)| *policies)
            .expect("every profile has a row")
    }

    /// The profile named `name` on the command line.
    pub fn by_name(name: &str) -> Option<DcProfile> {
        PROFILES.iter().find(|(_, n, _)| *n == name).map(|(p, _, _)| *p)
    }

    /// Every profile name, for `--help` and errors.
    pub fn names() -> Vec<&'static str> {
        PROFILES.iter().map(|(_, n, _)| *n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_server_2025_requires_signing_and_keeps_channel_binding_when_supported() {
        let p = DcProfile::by_name("2025").unwrap().policies();
        assert_eq!(p.ldap_signing, LdapSigning::Required);
        assert_eq!(p.channel_binding, ChannelBindingPolicy::WhenSupported);
        let d = DcProfile::by_name("default").unwrap().policies();
        assert_eq!(d.ldap_signing, LdapSigning::None);
        assert_eq!(d.channel_binding, ChannelBindingPolicy::WhenSupported);
        assert_eq!(DcProfile::by_name("2019"), None);
    }
}
