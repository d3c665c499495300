//! The DC's bind policies as they stand: LDAP signing and channel binding, set at start
//! (`--ldap-signing`, `--channel-binding`, `--dc-profile`) and changed while the DC runs through
//! the control API (`GET`/`PUT /v1/policies`, `adsim ctl policies`), as an administrator changes
//! the "Domain controller: LDAP server signing requirements" and "… channel binding token
//! requirements" settings. Every LDAP listener of the forest shares one; each bind reads it
//! when it completes, so a change applies to the next bind and leaves bound connections as they
//! are (docs/fidelity.md).

use std::sync::RwLock;

use super::channel_binding::{policy_by_name, policy_name, ChannelBindingPolicy};
use super::signing::LdapSigning;

/// The two policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcPolicies {
    pub ldap_signing: LdapSigning,
    pub channel_binding: ChannelBindingPolicy,
}

impl Default for DcPolicies {
    fn default() -> Self {
        DcPolicies {
            ldap_signing: LdapSigning::None,
            channel_binding: ChannelBindingPolicy::WhenSupported,
        }
    }
}

impl DcPolicies {
    /// `{"ldap_signing": "none", "channel_binding": "when-supported"}`.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "ldap_signing": self.ldap_signing.name(),
            "channel_binding": policy_name(self.channel_binding),
        })
    }

    /// These policies with the fields `change` names replaced; an unknown field or value is an
    /// error and changes nothing.
    pub fn changed_by(self, change: &serde_json::Value) -> Result<DcPolicies, String> {
        let obj = change.as_object().ok_or("expected a JSON object")?;
        let mut out = self;
        for (key, value) in obj {
            let name = value
                .as_str()
                .ok_or_else(|| format!("{key}: expected a string"))?;
            match key.as_str() {
                "ldap_signing" => {
                    out.ldap_signing = LdapSigning::by_name(name)
                        .ok_or_else(|| format!("ldap_signing: {name:?} is not one of none, required"))?
                }
                "channel_binding" => {
                    out.channel_binding = policy_by_name(name).ok_or_else(|| {
                        format!("channel_binding: {name:?} is not one of never, when-supported, always")
                    })?
                }
                other => return Err(format!("unknown policy {other:?}")),
            }
        }
        Ok(out)
    }
}

/// The policies in force, shared by the listeners and the control API.
#[derive(Debug, Default)]
pub struct LivePolicies(RwLock<DcPolicies>);

impl LivePolicies {
    pub fn new(policies: DcPolicies) -> LivePolicies {
        LivePolicies(RwLock::new(policies))
    }

    pub fn get(&self) -> DcPolicies {
        *self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, policies: DcPolicies) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = policies;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_names_the_fields_it_replaces_and_refuses_unknown_ones() {
        let start = DcPolicies::default();
        let c = start
            .changed_by(&serde_json::json!({"ldap_signing": "required"}))
            .unwrap();
        assert_eq!(c.ldap_signing, LdapSigning::Required);
        assert_eq!(c.channel_binding, ChannelBindingPolicy::WhenSupported);
        assert_eq!(
            c.to_json(),
            serde_json::json!({"ldap_signing": "required", "channel_binding": "when-supported"})
        );
        assert!(start
            .changed_by(&serde_json::json!({"ldap_signing": "maybe"}))
            .is_err());
        assert!(start
            .changed_by(&serde_json::json!({"signing": "required"}))
            .is_err());
        assert!(start.changed_by(&serde_json::json!(["required"])).is_err());
    }
}
