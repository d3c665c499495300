//! The operations administrators know from the ActiveDirectory PowerShell module, over a
//! forest's directory. Two faces: [`Cmdlets`], typed methods for Rust tests
//! (New-ADServiceAccount, New-ADComputer, New-ADUser, Add-KdsRootKey, Add-/Remove-ADGroupMember,
//! Test-ADServiceAccount, Get-ADServiceAccount), and [`run::Session`], every cmdlet the gMSA
//! guides use by name with PowerShell's named parameters, output objects and error records (the
//! control API's `POST /v1/cmdlets/{name}`, `adsim ps`). Each runs as a given caller, through
//! the same rules as LDAP, so a refused operation returns the same error a client would see.

pub mod acl;
pub mod filter;
pub mod hosts;
pub mod object;
pub mod params;
pub mod record;
pub mod run;

use crate::clock::NtTime;
use crate::dsa::request::{ModOp, Modification, Scope, SearchRequest, View};
use crate::dsa::{Caller, Directory, DsError, DsResult};
use crate::kds::Effective;
use crate::model::filter::Filter;
use crate::security::{sddl, AliasDomains, Sid};

/// Attributes as returned by a search: name and values.
pub type Properties = crate::dsa::search::AttributeList;

/// The attributes of an object to add: names with their values.
pub type NewAttributes = Vec<(String, Vec<Vec<u8>>)>;

/// New-ADComputer / New-ADUser: the attributes the ActiveDirectory module writes. The account is
/// created disabled unless `enabled` (the module's default), and without a password it needs
/// PASSWD_NOTREQD; a computer is a workstation trust account (0x1000) named `NAME$` with
/// dNSHostName `name.<domain>` unless given, a user a normal account (0x200) named NAME.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub computer: bool,
    pub name: String,
    pub sam_account_name: Option<String>,
    /// Computers only.
    pub dns_host_name: Option<String>,
    pub user_principal_name: Option<String>,
    pub password: Option<String>,
    pub enabled: bool,
    pub description: Option<String>,
    pub display_name: Option<String>,
}

impl NewAccount {
    pub fn computer(name: &str) -> NewAccount {
        NewAccount {
            computer: true,
            name: name.to_string(),
            ..Default::default()
        }
    }

    pub fn user(name: &str) -> NewAccount {
        NewAccount {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Where the account goes without -Path (the domain's DN follows).
    pub fn default_container(&self) -> &'static str {
        if self.computer {
            "CN=Computers"
        } else {
            "CN=Users"
        }
    }

    /// The add's attributes in the domain whose DNS name is `dns_domain`.
    pub fn attributes(&self, dns_domain: &str) -> Vec<(String, Vec<Vec<u8>>)> {
        let s = |v: &str| vec![v.as_bytes().to_vec()];
        let (class, mut uac, sam) = if self.computer {
            ("computer", 0x1000u32, format!("{}$", self.name))
        } else {
            ("user", 0x200, self.name.clone())
        };
        let mut attrs = vec![
            ("objectClass".to_string(), s(class)),
            (
                "sAMAccountName".into(),
                s(self.sam_account_name.as_deref().unwrap_or(&sam)),
            ),
        ];
        if self.computer {
            let host = self
                .dns_host_name
                .clone()
                .unwrap_or_else(|| format!("{}.{dns_domain}", self.name.to_lowercase()));
            attrs.push(("dNSHostName".into(), s(&host)));
        }
        if !self.enabled {
            uac |= 0x2;
        }
        match &self.password {
            Some(pw) => attrs.push(("unicodePwd".into(), vec![quoted_utf16(pw)])),
            None => uac |= 0x20,
        }
        attrs.push(("userAccountControl".into(), s(&uac.to_string())));
        for (attr, value) in [
            ("userPrincipalName", &self.user_principal_name),
            ("description", &self.description),
            ("displayName", &self.display_name),
        ] {
            if let Some(v) = value {
                attrs.push((attr.into(), s(v)));
            }
        }
        attrs
    }
}

/// `New-ADServiceAccount` parameters.
#[derive(Clone, Debug, Default)]
pub struct NewServiceAccount {
    /// `-Name`: the CN; the sAMAccountName is `<name>$`.
    pub name: String,
    /// `-DNSHostName` (required unless `restrict_to_outbound_only`).
    pub dns_host_name: Option<String>,
    /// `-PrincipalsAllowedToRetrieveManagedPassword`: account or group names (sAMAccountName,
    /// `DOMAIN\name`, UPN or DN).
    pub allowed_principals: Vec<String>,
    /// `-ManagedPasswordIntervalInDays` (30 when absent).
    pub interval_days: Option<i64>,
    /// `-RestrictToOutboundAuthenticationOnly`.
    pub restrict_to_outbound_only: bool,
    /// `-ServicePrincipalNames`.
    pub service_principal_names: Vec<String>,
    /// `-KerberosEncryptionType`: msDS-SupportedEncryptionTypes (the cmdlet writes 0x1C, AES + RC4).
    pub supported_encryption_types: Option<u32>,
    /// `-Path`: the container (default `CN=Managed Service Accounts,<domain>`).
    pub path: Option<String>,
    /// Domain (DNS or NetBIOS name) to create it in; the forest root by default.
    pub domain: Option<String>,
    /// `-RestrictToSingleComputer`: a standalone MSA (`msDS-ManagedServiceAccount`).
    pub restrict_to_single_computer: bool,
    /// `-SamAccountName` (default `<name>$`).
    pub sam_account_name: Option<String>,
    /// `-Enabled` (default true).
    pub enabled: Option<bool>,
    /// `-Description`.
    pub description: Option<String>,
    /// `-DisplayName`.
    pub display_name: Option<String>,
    /// `-AccountPassword` (standalone MSAs only).
    pub account_password: Option<String>,
}

/// Errors of the cmdlet layer itself (before the directory is asked).
#[derive(Debug, thiserror::Error)]
pub enum CmdletError {
    #[error("{0}")]
    Parameter(String),
    #[error("cannot find an object with identity: '{0}'")]
    NotFound(String),
    #[error(transparent)]
    Directory(#[from] DsError),
}

impl NewServiceAccount {
    /// The cmdlet's parameter sets require -DNSHostName unless
    /// -RestrictToOutboundAuthenticationOnly; the DC itself does not (dNSHostName is optional in
    /// the schema).
    pub fn check_parameters(&self) -> Result<(), CmdletError> {
        if self.dns_host_name.is_none()
            && !self.restrict_to_outbound_only
            && !self.restrict_to_single_computer
        {
            return Err(CmdletError::Parameter(
                "New-ADServiceAccount: -DNSHostName is required unless -RestrictToOutboundAuthenticationOnly is given".into(),
            ));
        }
        Ok(())
    }

    /// The new account's DN in the domain whose naming context is `domain_dn`.
    pub fn dn(&self, domain_dn: &str) -> String {
        let container = self
            .path
            .clone()
            .unwrap_or_else(|| format!("CN=Managed Service Accounts,{domain_dn}"));
        format!("CN={},{}", self.name, container)
    }

    /// The attributes the cmdlet writes, `allowed` being the SIDs of `allowed_principals` (in
    /// order): the same whether the add goes to the directory in process or over LDAP.
    pub fn attributes(&self, allowed: &[Sid]) -> Result<NewAttributes, CmdletError> {
        let s = |v: &str| vec![v.as_bytes().to_vec()];
        let class = if self.restrict_to_single_computer {
            "msDS-ManagedServiceAccount"
        } else {
            "msDS-GroupManagedServiceAccount"
        };
        let sam = self
            .sam_account_name
            .clone()
            .unwrap_or_else(|| format!("{}$", self.name));
        // WORKSTATION_TRUST_ACCOUNT, ACCOUNTDISABLE when -Enabled $false.
        let uac: u32 = if self.enabled == Some(false) {
            0x1002
        } else {
            0x1000
        };
        let mut attrs = vec![
            ("objectClass".to_string(), s(class)),
            ("sAMAccountName".to_string(), s(&sam)),
            ("userAccountControl".to_string(), s(&uac.to_string())),
            (
                "msDS-SupportedEncryptionTypes".to_string(),
                s(&self.supported_encryption_types.unwrap_or(0x1C).to_string()),
            ),
        ];
        for (attr, value) in [
            ("dNSHostName", &self.dns_host_name),
            ("description", &self.description),
            ("displayName", &self.display_name),
        ] {
            if let Some(v) = value {
                attrs.push((attr.into(), s(v)));
            }
        }
        if !self.restrict_to_single_computer {
            // The class requires the interval (MS-ADSC 2.140): 30 when not given or 0.
            let days = self
                .interval_days
                .filter(|d| *d != 0)
                .unwrap_or(crate::dsa::gmsa::DEFAULT_INTERVAL_DAYS);
            attrs.push(("msDS-ManagedPasswordInterval".into(), s(&days.to_string())));
        }
        if !self.service_principal_names.is_empty() {
            attrs.push((
                "servicePrincipalName".into(),
                self.service_principal_names
                    .iter()
                    .map(|x| x.as_bytes().to_vec())
                    .collect(),
            ));
        }
        if !allowed.is_empty() {
            attrs.push(("msDS-GroupMSAMembership".into(), vec![membership_sd(allowed)?]));
        }
        if let Some(pw) = &self.account_password {
            attrs.push(("unicodePwd".into(), vec![quoted_utf16(pw)]));
        }
        Ok(attrs)
    }
}

/// The SD PowerShell writes for PrincipalsAllowedToRetrieveManagedPassword:
/// `O:S-1-5-32-544D:(A;;0x0f01ff;;;<SID>)…`.
pub fn membership_sd(allowed: &[Sid]) -> Result<Vec<u8>, CmdletError> {
    let mut text = String::from("O:S-1-5-32-544D:");
    for sid in allowed {
        text.push_str(&format!("(A;;0x0f01ff;;;{sid})"));
    }
    let sd = sddl::parse(&text, &AliasDomains::none()).map_err(|e| CmdletError::Parameter(e.to_string()))?;
    sd.to_bytes().map_err(|e| CmdletError::Parameter(e.to_string()))
}

/// The cmdlets, bound to one forest and one caller.
pub struct Cmdlets<'a> {
    pub dir: &'a Directory,
    pub caller: Caller,
}

impl<'a> Cmdlets<'a> {
    pub fn new(dir: &'a Directory, caller: Caller) -> Self {
        Cmdlets { dir, caller }
    }

    /// As SYSTEM (the DC itself), over an encrypted channel.
    pub fn system(dir: &'a Directory) -> Self {
        Cmdlets {
            dir,
            caller: Caller::system(),
        }
    }

    /// New-ADServiceAccount: returns the new account's DN.
    pub fn new_ad_service_account(&self, p: &NewServiceAccount) -> Result<String, CmdletError> {
        p.check_parameters()?;
        let domain = self.domain(p.domain.as_deref())?;
        let dn = p.dn(&domain.dn.to_string());
        let allowed = self.sids_of(&p.allowed_principals)?;
        self.dir.add(&self.caller, &dn, p.attributes(&allowed)?)?;
        Ok(dn)
    }

    /// New-ADComputer -Name NAME -AccountPassword … -Enabled $true, as a domain join leaves it:
    /// `CN=NAME,CN=Computers`, sAMAccountName `NAME$`, dNSHostName `name.<domain>`, a
    /// workstation trust account (userAccountControl 0x1000). Returns the DN.
    pub fn new_ad_computer(
        &self,
        name: &str,
        password: &str,
        domain: Option<&str>,
    ) -> Result<String, CmdletError> {
        self.new_enabled_account(NewAccount::computer(name), password, domain)
    }

    /// New-ADUser -Name NAME -AccountPassword … -Enabled $true: `CN=NAME,CN=Users`,
    /// sAMAccountName NAME, userPrincipalName `NAME@<domain>`, a normal enabled account
    /// (userAccountControl 0x200). Returns the DN.
    pub fn new_ad_user(
        &self,
        name: &str,
        password: &str,
        domain: Option<&str>,
    ) -> Result<String, CmdletError> {
        let d = self.domain(domain)?;
        let account = NewAccount {
            user_principal_name: Some(format!("{name}@{}", d.dns_name)),
            ..NewAccount::user(name)
        };
        self.new_enabled_account(account, password, domain)
    }

    /// An enabled account with a password in its class's default container.
    fn new_enabled_account(
        &self,
        account: NewAccount,
        password: &str,
        domain: Option<&str>,
    ) -> Result<String, CmdletError> {
        let d = self.domain(domain)?;
        let account = NewAccount {
            password: Some(password.to_string()),
            enabled: true,
            ..account
        };
        let dn = format!("CN={},{},{}", account.name, account.default_container(), d.dn);
        self.dir.add(&self.caller, &dn, account.attributes(&d.dns_name))?;
        Ok(dn)
    }

    /// Set-ADServiceAccount -PrincipalsAllowedToRetrieveManagedPassword.
    pub fn set_allowed_principals(&self, account: &str, principals: &[String]) -> Result<(), CmdletError> {
        let dn = self.resolve_dn(account)?;
        let sd = membership_sd(&self.sids_of(principals)?)?;
        self.dir.modify(
            &self.caller,
            &dn,
            vec![Modification {
                op: ModOp::Replace,
                attr: "msDS-GroupMSAMembership".into(),
                values: vec![sd],
            }],
        )?;
        Ok(())
    }

    /// Add-KdsRootKey: `None` = -EffectiveImmediately; `Some(t)` = -EffectiveTime t.
    pub fn add_kds_root_key(&self, effective_time: Option<NtTime>) -> Result<uuid::Uuid, CmdletError> {
        let eff = effective_time.map_or(Effective::Immediately, Effective::At);
        Ok(self.dir.add_kds_root_key(&self.caller, eff)?)
    }

    pub fn add_ad_group_member(&self, group: &str, members: &[&str]) -> Result<(), CmdletError> {
        self.change_members(group, members, ModOp::Add)
    }

    pub fn remove_ad_group_member(&self, group: &str, members: &[&str]) -> Result<(), CmdletError> {
        self.change_members(group, members, ModOp::Delete)
    }

    fn change_members(&self, group: &str, members: &[&str], op: ModOp) -> Result<(), CmdletError> {
        let g = self.resolve_dn(group)?;
        let values = members
            .iter()
            .map(|m| self.resolve_dn(m).map(String::into_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        self.dir.modify(
            &self.caller,
            &g,
            vec![Modification {
                op,
                attr: "member".into(),
                values,
            }],
        )?;
        Ok(())
    }

    /// Test-ADServiceAccount run on `host`: true when the host may retrieve the password
    /// (its token, with transitive groups, is granted by msDS-GroupMSAMembership).
    pub fn test_ad_service_account(&self, account: &str, host: &str) -> Result<bool, CmdletError> {
        let st = self.dir.read();
        let gmsa = self
            .dir
            .resolve_account(&st, &self.down_level_or_dn(account))
            .ok_or_else(|| CmdletError::NotFound(account.into()))?;
        let h = self
            .dir
            .resolve_account(&st, &self.down_level_or_dn(host))
            .ok_or_else(|| CmdletError::NotFound(host.into()))?;
        let host_caller = self.dir.caller_for(&st, h).with_encryption(true);
        drop(st);
        Ok(self.dir.may_retrieve_managed_password(&host_caller, gmsa))
    }

    /// Get-ADServiceAccount: the account's attributes as the caller may read them.
    pub fn get_ad_service_account(
        &self,
        account: &str,
        properties: &[&str],
    ) -> Result<Properties, CmdletError> {
        let dn = self.resolve_dn(account)?;
        let out = self.dir.search(
            &self.caller,
            &SearchRequest {
                base: dn,
                scope: Scope::Base,
                filter: Filter::Present("objectClass".into()),
                attrs: properties.iter().map(|p| p.to_string()).collect(),
                types_only: false,
                size_limit: 0,
                view: View::Dc { domain: 0 },
            },
        )?;
        Ok(out
            .entries
            .into_iter()
            .next()
            .map(|e| e.attrs)
            .unwrap_or_default())
    }

    fn sids_of(&self, names: &[String]) -> Result<Vec<Sid>, CmdletError> {
        names.iter().map(|n| self.sid_of(n)).collect()
    }

    pub(crate) fn sid_of(&self, name: &str) -> Result<Sid, CmdletError> {
        let st = self.dir.read();
        let id = self
            .dir
            .resolve_account(&st, &self.down_level_or_dn(name))
            .ok_or_else(|| CmdletError::NotFound(name.into()))?;
        st.store
            .get(id)
            .and_then(|e| e.first("objectSid"))
            .and_then(|b| Sid::from_bytes(b).ok())
            .ok_or_else(|| CmdletError::NotFound(name.into()))
    }

    fn resolve_dn(&self, name: &str) -> Result<String, CmdletError> {
        let st = self.dir.read();
        let id = self
            .dir
            .resolve_account(&st, &self.down_level_or_dn(name))
            .ok_or_else(|| CmdletError::NotFound(name.into()))?;
        Ok(st.store.get(id).map(|e| e.dn.to_string()).unwrap_or_default())
    }

    /// Bare names (`WEB01$`, `WebHosts`) resolve in the root domain, as the cmdlets do against
    /// their default server.
    fn down_level_or_dn(&self, name: &str) -> String {
        if name.contains('=') || name.contains('\\') || name.contains('@') {
            name.to_string()
        } else {
            format!("{}\\{}", self.dir.forest.root().netbios, name)
        }
    }

    fn domain(&self, name: Option<&str>) -> DsResult<crate::dsa::DomainInfo> {
        match name {
            None => Ok(self.dir.forest.root().clone()),
            Some(n) => self
                .dir
                .forest
                .domain_by_name(n)
                .cloned()
                .ok_or_else(|| DsError::no_such_object("")),
        }
    }
}

/// A unicodePwd value: the password in double quotes, UTF-16LE (MS-ADTS 3.1.1.3.1.5.1).
pub(crate) fn quoted_utf16(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}
