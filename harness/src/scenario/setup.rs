//! From a scenario's `[forest]` and `[principals]` to a forest: the provisioning settings,
//! the LDIF records that create its accounts and groups, and the principals steps act as.

use std::collections::HashMap;

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::forest::DEFAULT_ADMIN_PASSWORD;
use adsim_simulator::dsa::{ChildDomainConfig, ForestConfig, KdsRootKeyMode};
use adsim_simulator::ldif::{self, LdifChange, LdifMod, LdifRecord, ModOp};

use super::backend::Endpoints;
use super::format::{AccountSpec, ForestSpec, GroupScope, RootKeyState, Scenario, ADMINISTRATOR};
use super::ldap::unicode_pwd;
use crate::topology::{Topology, DEFAULT_ROOT_DOMAIN};

/// The principal name that binds nobody.
pub const ANONYMOUS: &str = "anonymous";

/// An account a step acts as.
#[derive(Clone)]
pub struct Principal {
    /// sAMAccountName.
    pub account: String,
    /// Index of its domain in the endpoints.
    pub domain: usize,
    /// `None` for the anonymous principal.
    pub password: Option<String>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("account", &self.account)
            .field("domain", &self.domain)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Principal {
    /// The simple-bind name: `NETBIOS\account` (MS-ADTS 5.1.1.1.1).
    pub fn bind_name(&self, eps: &Endpoints) -> String {
        format!("{}\\{}", eps.domains[self.domain].netbios, self.account)
    }
}

pub fn admin_password(spec: &ForestSpec) -> String {
    spec.admin_password
        .as_ref()
        .map(|p| p.0.clone())
        .unwrap_or_else(|| DEFAULT_ADMIN_PASSWORD.to_string())
}

/// What to provision for an in-process run.
pub fn forest_config(spec: &ForestSpec) -> Result<ForestConfig, String> {
    let start_time = spec
        .start_time
        .as_deref()
        .map(|t| NtTime::parse_rfc3339(t).ok_or_else(|| format!("start_time {t:?} is not RFC 3339")))
        .transpose()?;
    // The topology rules (DNS names, labels, NetBIOS names) apply to scenarios too.
    let mut topology = Topology::new(spec.domain.as_deref().unwrap_or(DEFAULT_ROOT_DOMAIN), None)
        .map_err(|e| format!("forest.domain: {e}"))?;
    for label in &spec.children {
        topology
            .add_child(label, None)
            .map_err(|e| format!("forest.children: {e}"))?;
    }
    Ok(ForestConfig {
        root_domain: topology.root().dns_name.clone(),
        root_netbios: Some(topology.root().netbios.clone()),
        children: topology
            .children()
            .iter()
            .map(|d| ChildDomainConfig {
                label: d.dns_name.split('.').next().unwrap_or_default().to_string(),
                netbios: Some(d.netbios.clone()),
            })
            .collect(),
        admin_password: admin_password(spec),
        seed: spec.seed,
        start_time,
        kds_root_key: match spec.kds_root_key.unwrap_or(RootKeyState::Backdated) {
            RootKeyState::None => KdsRootKeyMode::None,
            RootKeyState::Immediate => KdsRootKeyMode::Immediate,
            RootKeyState::Backdated => KdsRootKeyMode::Backdated,
        },
    })
}

/// The fixture files' and the inline LDIF's records, in that order.
pub fn fixture_records(s: &Scenario) -> Result<Vec<LdifRecord>, String> {
    let mut out = Vec::new();
    for f in &s.forest.fixtures {
        let path = s.fixture_path(f);
        out.extend(ldif::parse_file(&path).map_err(|e| format!("fixture {}: {e}", path.display()))?);
    }
    if let Some(text) = &s.forest.ldif {
        out.extend(ldif::parse(text).map_err(|e| format!("forest.ldif: {e}"))?);
    }
    Ok(out)
}

/// Where a declared account or group lives.
struct Placed<'a> {
    sam: String,
    domain: usize,
    dn: String,
    spec: Option<&'a AccountSpec>,
}

fn text(v: &str) -> Vec<u8> {
    v.as_bytes().to_vec()
}

/// Records creating `[[forest.user]]`, `[[forest.computer]]` and `[[forest.group]]`: accounts
/// and groups first, then memberships (so groups may nest in any order).
pub fn account_records(spec: &ForestSpec, eps: &Endpoints) -> Result<Vec<LdifRecord>, String> {
    let mut placed: Vec<Placed> = Vec::new();
    let mut records = Vec::new();
    for (u, is_computer) in spec
        .users
        .iter()
        .map(|u| (u, false))
        .chain(spec.computers.iter().map(|c| (c, true)))
    {
        let (di, d) = eps.domain(u.domain.as_deref())?;
        let container = if is_computer { "Computers" } else { "Users" };
        let dn = format!("CN={},CN={container},{}", u.name, d.base_dn);
        let mut attrs: Vec<(String, Vec<u8>)> = Vec::new();
        let sam = if is_computer {
            let host = u
                .dns_host_name
                .clone()
                .unwrap_or_else(|| format!("{}.{}", u.name, d.domain).to_ascii_lowercase());
            attrs.push(("objectClass".into(), text("computer")));
            attrs.push(("sAMAccountName".into(), text(&format!("{}$", u.name))));
            // WORKSTATION_TRUST_ACCOUNT, as a domain join leaves it (MS-ADTS 2.2.16).
            attrs.push(("userAccountControl".into(), text("4096")));
            attrs.push(("dNSHostName".into(), text(&host)));
            // The SPNs a domain join registers, then the declared ones.
            let mut spns = vec![
                format!("HOST/{host}"),
                format!("HOST/{}", u.name.to_ascii_uppercase()),
            ];
            spns.extend(u.spns.iter().cloned());
            for spn in spns {
                attrs.push(("servicePrincipalName".into(), text(&spn)));
            }
            format!("{}$", u.name)
        } else {
            attrs.push(("objectClass".into(), text("user")));
            attrs.push(("sAMAccountName".into(), text(&u.name)));
            attrs.push((
                "userPrincipalName".into(),
                text(&format!("{}@{}", u.name, d.domain)),
            ));
            // NORMAL_ACCOUNT, enabled, once it has a password.
            if u.password.is_some() {
                attrs.push(("userAccountControl".into(), text("512")));
            }
            for spn in &u.spns {
                attrs.push(("servicePrincipalName".into(), text(spn)));
            }
            u.name.clone()
        };
        if let Some(pw) = &u.password {
            attrs.push(("unicodePwd".into(), unicode_pwd(&pw.0)));
        }
        records.push(LdifRecord::Content {
            dn: dn.clone(),
            attrs,
        });
        placed.push(Placed {
            sam,
            domain: di,
            dn,
            spec: Some(u),
        });
    }
    for g in &spec.groups {
        let (di, d) = eps.domain(g.domain.as_deref())?;
        let dn = format!("CN={},CN=Users,{}", g.name, d.base_dn);
        let group_type = g.scope.unwrap_or(GroupScope::Global).group_type();
        records.push(LdifRecord::Content {
            dn: dn.clone(),
            attrs: vec![
                ("objectClass".into(), text("group")),
                ("sAMAccountName".into(), text(&g.name)),
                ("groupType".into(), text(&group_type.to_string())),
            ],
        });
        placed.push(Placed {
            sam: g.name.clone(),
            domain: di,
            dn,
            spec: None,
        });
    }
    for g in &spec.groups {
        let (di, _) = eps.domain(g.domain.as_deref())?;
        let group_dn = placed
            .iter()
            .find(|p| p.spec.is_none() && p.domain == di && p.sam.eq_ignore_ascii_case(&g.name))
            .map(|p| p.dn.clone())
            .ok_or_else(|| format!("group {} not placed", g.name))?;
        let mut values = Vec::new();
        for m in &g.members {
            if m.contains('=') {
                values.push(text(m));
                continue;
            }
            let (name, domain) = match m.rsplit_once('@') {
                Some((n, d)) => (n, eps.domain(Some(d))?.0),
                None => (m.as_str(), di),
            };
            let p = placed
                .iter()
                .find(|p| p.domain == domain && p.sam.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!(
                        "group {}: member {m:?} is not a declared user, computer or group (write its DN)",
                        g.name
                    )
                })?;
            values.push(text(&p.dn));
        }
        if !values.is_empty() {
            records.push(LdifRecord::Change {
                dn: group_dn,
                controls: vec![],
                change: LdifChange::Modify(vec![LdifMod {
                    op: ModOp::Add,
                    attr: "member".into(),
                    values,
                }]),
            });
        }
    }
    Ok(records)
}

/// The principals of a scenario: `Administrator` (the root domain's), `anonymous`, every
/// declared account with a password (by sAMAccountName or its `principal` alias), and
/// `[principals.*]`.
pub fn principals(s: &Scenario, eps: &Endpoints) -> Result<HashMap<String, Principal>, String> {
    let mut out: HashMap<String, Principal> = HashMap::new();
    let mut insert = |name: String, p: Principal| {
        if out.insert(name.to_ascii_lowercase(), p).is_some() {
            return Err(format!(
                "principal name {name:?} is used twice (give one account a `principal` alias)"
            ));
        }
        Ok(())
    };
    insert(
        ADMINISTRATOR.to_string(),
        Principal {
            account: ADMINISTRATOR.into(),
            domain: 0,
            password: Some(admin_password(&s.forest)),
        },
    )?;
    insert(
        ANONYMOUS.to_string(),
        Principal {
            account: String::new(),
            domain: 0,
            password: None,
        },
    )?;
    for (a, is_computer) in s
        .forest
        .users
        .iter()
        .map(|u| (u, false))
        .chain(s.forest.computers.iter().map(|c| (c, true)))
    {
        let Some(pw) = &a.password else { continue };
        let sam = if is_computer {
            format!("{}$", a.name)
        } else {
            a.name.clone()
        };
        let domain = eps.domain(a.domain.as_deref())?.0;
        insert(
            a.principal.clone().unwrap_or_else(|| sam.clone()),
            Principal {
                account: sam,
                domain,
                password: Some(pw.0.clone()),
            },
        )?;
    }
    for (name, p) in &s.principals {
        insert(
            name.clone(),
            Principal {
                account: p.account.clone(),
                domain: eps.domain(p.domain.as_deref())?.0,
                password: Some(p.password.0.clone()),
            },
        )?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn eps() -> Endpoints {
        let d = |dns: &str, nb: &str| {
            serde_json::json!({"domain": dns, "netbios": nb, "realm": dns.to_uppercase(),
                   "base_dn": dns.split('.').map(|l| format!("DC={l}")).collect::<Vec<_>>().join(","),
                   "ldap_url": "ldap://x", "ldaps_url": "ldaps://x", "kdc": "127.0.0.1:88", "domain_sid": "S-1-5-21-1-2-3"})
        };
        Endpoints::from_ready_json(&serde_json::json!({
            "domains": [d("corp.example.test", "CORP"), d("child.corp.example.test", "CHILD")], "ca_pem": "x"
        }))
        .unwrap()
    }

    const TEXT: &str = r#"
[forest]
children = ["child"]
[[forest.computer]]
name = "WEB01"
password = "p1"
[[forest.computer]]
name = "WEB01"
domain = "child"
password = "p2"
principal = "child-web01"
[[forest.group]]
name = "Outer"
members = ["Inner"]
[[forest.group]]
name = "Inner"
members = ["WEB01$", "WEB01$@child"]
[principals.dc]
account = "DC1$"
password = "x"
reset_password = true
[[step]]
action = "bind"
as = "WEB01$"
"#;

    #[test]
    fn accounts_groups_and_nested_memberships() {
        let s = Scenario::from_toml_str(TEXT, Path::new("t.toml")).unwrap();
        let recs = account_records(&s.forest, &eps()).unwrap();
        let dns: Vec<&str> = recs.iter().map(|r| r.dn()).collect();
        assert_eq!(
            dns,
            [
                "CN=WEB01,CN=Computers,DC=corp,DC=example,DC=test",
                "CN=WEB01,CN=Computers,DC=child,DC=corp,DC=example,DC=test",
                "CN=Outer,CN=Users,DC=corp,DC=example,DC=test",
                "CN=Inner,CN=Users,DC=corp,DC=example,DC=test",
                "CN=Outer,CN=Users,DC=corp,DC=example,DC=test",
                "CN=Inner,CN=Users,DC=corp,DC=example,DC=test",
            ]
        );
        let LdifRecord::Change {
            change: LdifChange::Modify(mods),
            ..
        } = &recs[5]
        else {
            panic!("membership change expected")
        };
        assert_eq!(mods[0].values.len(), 2);
        let p = principals(&s, &eps()).unwrap();
        assert_eq!(p["web01$"].domain, 0);
        assert_eq!(p["child-web01"].domain, 1);
        assert_eq!(p["child-web01"].bind_name(&eps()), "CHILD\\WEB01$");
        assert_eq!(p["dc"].account, "DC1$");
        assert!(p["anonymous"].password.is_none());
        assert!(!format!("{s:?}").contains("p1"), "Debug shows a password");
    }

    #[test]
    fn unknown_members_and_duplicate_principals_are_errors() {
        let bad = TEXT.replace("members = [\"Inner\"]", "members = [\"Nobody\"]");
        let s = Scenario::from_toml_str(&bad, Path::new("t.toml")).unwrap();
        assert!(account_records(&s.forest, &eps()).unwrap_err().contains("Nobody"));
        let dup = TEXT.replace("principal = \"child-web01\"", "");
        let s = Scenario::from_toml_str(&dup, Path::new("t.toml")).unwrap();
        assert!(principals(&s, &eps()).unwrap_err().contains("twice"));
    }
}
