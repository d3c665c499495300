//! Builds a new forest the way dcpromo leaves it: per domain a naming context with the
//! well-known containers, principals with their fixed RIDs (MS-ADTS 6.1.1.6, MS-DTYP 2.4.2.4),
//! the DC's computer object with its SPNs; forest-wide the configuration NC (partitions,
//! sites, services, the KDS containers) and the schema NC.

use rand::{Rng, RngCore};

use super::error::DsResult;
use super::forest::{default_netbios, DomainInfo, ForestConfig, ForestInfo, DEFAULT_SITE};
use super::Directory;
use crate::model::{Dn, Entry, EntryId};
use crate::security::Sid;

/// groupType bits (MS-ADTS 2.2.12).
pub mod group_type {
    pub const BUILTIN_LOCAL: u32 = 0x0000_0001;
    pub const GLOBAL: u32 = 0x0000_0002;
    pub const DOMAIN_LOCAL: u32 = 0x0000_0004;
    pub const UNIVERSAL: u32 = 0x0000_0008;
    pub const SECURITY: u32 = 0x8000_0000;
}

/// sAMAccountType values (MS-ADTS 2.2.16... MS-SAMR 2.2.1.9).
pub mod sam_type {
    pub const GROUP_OBJECT: u32 = 0x1000_0000;
    pub const ALIAS_OBJECT: u32 = 0x2000_0000;
    pub const USER_OBJECT: u32 = 0x3000_0000;
    pub const MACHINE_ACCOUNT: u32 = 0x3000_0001;

    /// An account's type from its userAccountControl: trust accounts are machines.
    pub fn of_account(user_account_control: u32) -> u32 {
        use super::uac;
        if user_account_control & (uac::WORKSTATION_TRUST_ACCOUNT | uac::SERVER_TRUST_ACCOUNT) != 0 {
            MACHINE_ACCOUNT
        } else {
            USER_OBJECT
        }
    }

    /// A group's type from its groupType: local groups are aliases.
    pub fn of_group(gt: u32) -> u32 {
        use super::group_type;
        if gt & (group_type::DOMAIN_LOCAL | group_type::BUILTIN_LOCAL) != 0 {
            ALIAS_OBJECT
        } else {
            GROUP_OBJECT
        }
    }
}

/// userAccountControl bits (MS-ADTS 2.2.16).
pub mod uac {
    pub const ACCOUNTDISABLE: u32 = 0x2;
    pub const PASSWD_NOTREQD: u32 = 0x20;
    pub const NORMAL_ACCOUNT: u32 = 0x200;
    pub const WORKSTATION_TRUST_ACCOUNT: u32 = 0x1000;
    pub const SERVER_TRUST_ACCOUNT: u32 = 0x2000;
    pub const DONT_EXPIRE_PASSWORD: u32 = 0x10000;
    pub const TRUSTED_FOR_DELEGATION: u32 = 0x80000;
}

/// The first RID handed to new accounts in a fresh domain (after the DC's 1000 and the
/// DnsAdmins/DnsUpdateProxy groups Windows creates as 1101/1102).
pub const FIRST_FREE_RID: u32 = 1103;

/// Domain groups created in every domain: (RID, name, groupType scope, root domain only).
const DOMAIN_GROUPS: &[(u32, &str, u32, bool)] = &[
    (
        498,
        "Enterprise Read-only Domain Controllers",
        group_type::UNIVERSAL,
        true,
    ),
    (512, "Domain Admins", group_type::GLOBAL, false),
    (513, "Domain Users", group_type::GLOBAL, false),
    (514, "Domain Guests", group_type::GLOBAL, false),
    (515, "Domain Computers", group_type::GLOBAL, false),
    (516, "Domain Controllers", group_type::GLOBAL, false),
    (517, "Cert Publishers", group_type::DOMAIN_LOCAL, false),
    (518, "Schema Admins", group_type::UNIVERSAL, true),
    (519, "Enterprise Admins", group_type::UNIVERSAL, true),
    (520, "Group Policy Creator Owners", group_type::GLOBAL, false),
    (521, "Read-only Domain Controllers", group_type::GLOBAL, false),
    (522, "Cloneable Domain Controllers", group_type::GLOBAL, false),
    (525, "Protected Users", group_type::GLOBAL, false),
    (526, "Key Admins", group_type::GLOBAL, false),
    (527, "Enterprise Key Admins", group_type::UNIVERSAL, true),
    (553, "RAS and IAS Servers", group_type::DOMAIN_LOCAL, false),
    (
        571,
        "Allowed RODC Password Replication Group",
        group_type::DOMAIN_LOCAL,
        false,
    ),
    (
        572,
        "Denied RODC Password Replication Group",
        group_type::DOMAIN_LOCAL,
        false,
    ),
];

/// BUILTIN aliases (S-1-5-32-RID).
const BUILTIN_GROUPS: &[(u32, &str)] = &[
    (544, "Administrators"),
    (545, "Users"),
    (546, "Guests"),
    (548, "Account Operators"),
    (549, "Server Operators"),
    (550, "Print Operators"),
    (551, "Backup Operators"),
    (552, "Replicator"),
    (554, "Pre-Windows 2000 Compatible Access"),
    (555, "Remote Desktop Users"),
    (556, "Network Configuration Operators"),
    (558, "Performance Monitor Users"),
    (559, "Performance Log Users"),
    (560, "Windows Authorization Access Group"),
    (562, "Distributed COM Users"),
    (568, "IIS_IUSRS"),
    (569, "Cryptographic Operators"),
    (573, "Event Log Readers"),
    (574, "Certificate Service DCOM Access"),
    (578, "Hyper-V Administrators"),
    (579, "Access Control Assistance Operators"),
    (580, "Remote Management Users"),
];

/// objectCategory: the DN of the class's schema object (defaultObjectCategory, MS-ADTS 3.1.1.2.4.8).
pub fn object_category_cn(class: &str) -> &'static str {
    match class.to_ascii_lowercase().as_str() {
        "user" | "person" | "organizationalperson" => "Person",
        "computer" => "Computer",
        "group" => "Group",
        "container" => "Container",
        "organizationalunit" => "Organizational-Unit",
        "domaindns" | "domain" => "Domain-DNS",
        "builtindomain" => "Builtin-Domain",
        "msds-groupmanagedserviceaccount" => "ms-DS-Group-Managed-Service-Account",
        "msds-managedserviceaccount" => "ms-DS-Managed-Service-Account",
        "mskds-provrootkey" => "ms-Kds-Prov-RootKey",
        "mskds-provserverconfiguration" => "ms-Kds-Prov-ServerConfiguration",
        "crossref" => "Cross-Ref",
        "crossrefcontainer" => "Cross-Ref-Container",
        "configuration" => "Configuration",
        "dmd" => "DMD",
        "site" => "Site",
        "sitescontainer" => "Sites-Container",
        "serverscontainer" => "Servers-Container",
        "server" => "Server",
        "ntdsdsa" => "NTDS-DSA",
        "foreignsecurityprincipal" => "Foreign-Security-Principal",
        "lostandfound" => "Lost-And-Found",
        "infrastructureupdate" => "Infrastructure-Update",
        "ntdsservice" => "NTDS-Service",
        "inetorgperson" => "Person",
        _ => "Container",
    }
}

/// The objectClass chain AD stores (top first, structural class last) for the classes adsim
/// provisions itself. Adds through LDAP take the chain from the schema.
fn chain(class: &str) -> &'static [&'static str] {
    match class {
        "user" => &["top", "person", "organizationalPerson", "user"],
        "computer" => &["top", "person", "organizationalPerson", "user", "computer"],
        "group" => &["top", "group"],
        "container" => &["top", "container"],
        "organizationalUnit" => &["top", "organizationalUnit"],
        "domainDNS" => &["top", "domain", "domainDNS"],
        "builtinDomain" => &["top", "builtinDomain"],
        "crossRef" => &["top", "crossRef"],
        "crossRefContainer" => &["top", "crossRefContainer"],
        "configuration" => &["top", "configuration"],
        "dMD" => &["top", "dMD"],
        "sitesContainer" => &["top", "sitesContainer"],
        "site" => &["top", "site"],
        "serversContainer" => &["top", "serversContainer"],
        "server" => &["top", "server"],
        "nTDSDSA" => &["top", "applicationSettings", "nTDSDSA"],
        "nTDSService" => &["top", "nTDSService"],
        "lostAndFound" => &["top", "lostAndFound"],
        "subSchema" => &["top", "subSchema"],
        "infrastructureUpdate" => &["top", "infrastructureUpdate"],
        "foreignSecurityPrincipal" => &["top", "foreignSecurityPrincipal"],
        "msKds-ProvServerConfiguration" => &["top", "msKds-ProvServerConfiguration"],
        "groupPolicyContainer" => &["top", "container", "groupPolicyContainer"],
        _ => &["top", "container"],
    }
}

/// What distinguishes one provisioned account from another.
struct AccountSpec<'a> {
    cn: &'a str,
    class: &'a str,
    sid: &'a Sid,
    sam: &'a str,
    uac: u32,
    primary_group: u32,
}

pub(super) struct Provisioner<'a> {
    pub dir: &'a Directory,
    pub rng: &'a mut rand_chacha::ChaCha20Rng,
}

/// Plans the forest's shape (names, SIDs, DC names) before any object exists.
pub(super) fn plan_forest(config: &ForestConfig, rng: &mut rand_chacha::ChaCha20Rng) -> ForestInfo {
    let root_dns = config.root_domain.to_ascii_lowercase();
    let root_dn = Dn::from_dns_name(&root_dns);
    let config_dn = root_dn.child("CN", "Configuration");
    let schema_dn = config_dn.child("CN", "Schema");
    let mut domains = Vec::new();
    let mut names: Vec<(String, String, Option<usize>)> = vec![(
        root_dns.clone(),
        config
            .root_netbios
            .clone()
            .unwrap_or_else(|| default_netbios(&root_dns)),
        None,
    )];
    for child in &config.children {
        let dns = format!("{}.{}", child.label.to_ascii_lowercase(), root_dns);
        let netbios = child.netbios.clone().unwrap_or_else(|| default_netbios(&dns));
        names.push((dns, netbios, Some(0)));
    }
    for (index, (dns, netbios, parent)) in names.into_iter().enumerate() {
        // MS-DTYP 2.4.2.4: a domain SID is S-1-5-21 followed by three random sub-authorities.
        let sid = Sid::new(
            5,
            &[
                21,
                rng.gen_range(1..u32::MAX),
                rng.gen_range(1..u32::MAX),
                rng.gen_range(1..u32::MAX),
            ],
        );
        let dn = Dn::from_dns_name(&dns);
        let dc_name = format!("DC{}", index + 1);
        let dc_fqdn = format!("{}.{}", dc_name.to_ascii_lowercase(), dns);
        let dc_dn = dn.child("OU", "Domain Controllers").child("CN", &dc_name);
        let server_dn = config_dn
            .child("CN", "Sites")
            .child("CN", DEFAULT_SITE)
            .child("CN", "Servers")
            .child("CN", &dc_name);
        let ntds_settings_dn = server_dn.child("CN", "NTDS Settings");
        domains.push(DomainInfo {
            index,
            realm: dns.to_uppercase(),
            dns_name: dns,
            netbios,
            dn,
            sid,
            parent,
            dc_name,
            dc_fqdn,
            dc_dn,
            server_dn,
            ntds_settings_dn,
        });
    }
    ForestInfo {
        root_dns,
        root_dn,
        config_dn,
        schema_dn,
        domains,
    }
}

impl Provisioner<'_> {
    fn guid(&mut self) -> uuid::Uuid {
        let mut b = [0u8; 16];
        self.rng.fill_bytes(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid()
    }

    /// Creates an object with the attributes every AD object carries.
    fn object(
        &mut self,
        st: &mut super::DirState,
        parent: Option<&Dn>,
        rdn: (&str, &str),
        class: &str,
    ) -> Entry {
        let parent_id = parent.and_then(|p| st.store.lookup(p));
        let dn = match parent {
            Some(p) => p.child(rdn.0, rdn.1),
            None => {
                Dn::parse(&format!("{}={}", rdn.0, crate::model::dn::escape_value(rdn.1))).unwrap_or_default()
            }
        };
        let id = st.store.allocate_id();
        let mut e = Entry::new(id, dn, parent_id);
        let guid = self.guid();
        let now = self.dir.clock.now();
        let usn = st.store.next_usn();
        let classes: Vec<Vec<u8>> = chain(class).iter().map(|c| c.as_bytes().to_vec()).collect();
        e.set("objectClass", classes);
        e.set_str(rdn.0, rdn.1);
        e.set_str("name", rdn.1);
        e.set("objectGUID", vec![guid.to_bytes_le().to_vec()]);
        e.set_str("instanceType", "4");
        e.set_str("whenCreated", now.to_generalized_time());
        e.set_str("whenChanged", now.to_generalized_time());
        e.set_str("uSNCreated", usn.to_string());
        e.set_str("uSNChanged", usn.to_string());
        let cn = crate::schema::Schema::ad()
            .class(class)
            .map_or(object_category_cn(class), |c| c.default_object_category);
        let cat = self.dir.forest.schema_dn.child("CN", cn);
        e.set_str("objectCategory", cat.to_string());
        e
    }

    /// AdminSDHolder's default descriptor ([`super::sdprop::ADMIN_SD_HOLDER_SDDL`]).
    fn admin_sd_holder_descriptor(&mut self, st: &mut super::DirState, dn: Dn, d: &DomainInfo) {
        use crate::security::well_known::AliasDomains;
        let ctx = AliasDomains::child(d.sid.clone(), self.dir.forest.root().sid.clone());
        let sd = crate::security::sddl::parse(super::sdprop::ADMIN_SD_HOLDER_SDDL, &ctx)
            .expect("AdminSDHolder SDDL parses")
            .to_bytes()
            .expect("AdminSDHolder SD encodes");
        if let Some(cur) = st.store.get_by_dn(&dn) {
            let mut e = (**cur).clone();
            e.set("nTSecurityDescriptor", vec![sd]);
            st.store.update(e).expect("AdminSDHolder exists");
        }
    }

    /// Stores a provisioned entry with its descriptor: the well-known object's SD (MS-ADTS
    /// 6.1.x) or the class default, inheriting from its parent as an add does (MS-DTYP 2.5.3.4).
    fn insert(&mut self, st: &mut super::DirState, mut e: Entry) -> EntryId {
        if !e.has("nTSecurityDescriptor") {
            let domain = self.dir.forest.domain_of(&e.dn).map(|d| d.index);
            let parent = e.parent.and_then(|p| st.store.get(p)).cloned();
            let supplied = well_known_descriptor(self.dir, &e.dn, domain);
            let class = e.structural_class().unwrap_or("top").to_string();
            if let Some(sd) = super::inherit::new_descriptor(
                self.dir,
                &super::caller::Caller::system(),
                parent.as_deref(),
                &class,
                supplied,
                domain,
            ) {
                e.set("nTSecurityDescriptor", vec![sd]);
            }
        }
        st.store.insert(e).expect("provisioning writes each DN once")
    }

    fn container(
        &mut self,
        st: &mut super::DirState,
        parent: &Dn,
        cn: &str,
        class: &str,
        critical: bool,
    ) -> Dn {
        let mut e = self.object(st, Some(parent), ("CN", cn), class);
        if critical {
            e.set_str("isCriticalSystemObject", "TRUE");
        }
        e.set_str(
            "showInAdvancedViewOnly",
            if cn == "Users" || cn == "Computers" {
                "FALSE"
            } else {
                "TRUE"
            },
        );
        let dn = e.dn.clone();
        self.insert(st, e);
        dn
    }

    fn account(&mut self, st: &mut super::DirState, parent: &Dn, spec: AccountSpec<'_>) -> Entry {
        let AccountSpec {
            cn,
            class,
            sid,
            sam,
            uac,
            primary_group,
        } = spec;
        let mut e = self.object(st, Some(parent), ("CN", cn), class);
        e.set("objectSid", vec![sid.to_bytes()]);
        e.set_str("sAMAccountName", sam);
        let machine = sam_type::of_account(uac) == sam_type::MACHINE_ACCOUNT;
        e.set_str("sAMAccountType", sam_type::of_account(uac).to_string());
        e.set_str("userAccountControl", uac.to_string());
        e.set_str("primaryGroupID", primary_group.to_string());
        e.set_str(
            "accountExpires",
            if machine { "0" } else { "9223372036854775807" },
        );
        e.set_str("pwdLastSet", "0");
        e.set_str("badPwdCount", "0");
        e.set_str("logonCount", "0");
        e.set_str("codePage", "0");
        e.set_str("countryCode", "0");
        e
    }

    fn group(&mut self, st: &mut super::DirState, parent: &Dn, name: &str, sid: &Sid, scope: u32) -> Entry {
        let mut e = self.object(st, Some(parent), ("CN", name), "group");
        e.set("objectSid", vec![sid.to_bytes()]);
        e.set_str("sAMAccountName", name);
        let gt = scope | group_type::SECURITY;
        e.set_str("groupType", (gt as i32).to_string());
        e.set_str("sAMAccountType", sam_type::of_group(scope).to_string());
        e.set_str("isCriticalSystemObject", "TRUE");
        e
    }

    pub fn provision(&mut self, st: &mut super::DirState, config: &ForestConfig) -> DsResult<()> {
        let forest = self.dir.forest.clone();
        for d in &forest.domains {
            self.domain(st, d, config)?;
        }
        self.configuration(st)?;
        self.wire_memberships(st);
        Ok(())
    }

    fn domain(&mut self, st: &mut super::DirState, d: &DomainInfo, config: &ForestConfig) -> DsResult<()> {
        let forest = self.dir.forest.clone();
        let is_root = d.index == 0;
        // The NC head.
        let mut head = self.object(
            st,
            None,
            ("DC", d.dns_name.split('.').next().unwrap_or_default()),
            "domainDNS",
        );
        head.dn = d.dn.clone();
        head.set_str("instanceType", "5");
        head.set("objectSid", vec![d.sid.to_bytes()]);
        head.set_str("msDS-Behavior-Version", "7");
        head.set_str("ms-DS-MachineAccountQuota", "10");
        head.set_str("minPwdLength", "7");
        head.set_str("pwdProperties", "1");
        head.set_str("pwdHistoryLength", "24");
        head.set_str("maxPwdAge", "-36288000000000");
        head.set_str("minPwdAge", "-864000000000");
        head.set_str("lockoutThreshold", "0");
        head.set_str("lockoutDuration", "-18000000000");
        head.set_str("lockOutObservationWindow", "-18000000000");
        head.set_str("forceLogoff", "-9223372036854775808");
        head.set_str("nextRid", "1000");
        head.set_str("isCriticalSystemObject", "TRUE");
        head.set_str("fSMORoleOwner", d.ntds_settings_dn.to_string());
        head.set_str("subRefs", forest.config_dn.to_string());
        let wko: Vec<Vec<u8>> = [
            ("A9D1CA15768811D1ADED00C04FD8D5CD", "CN=Users"),
            ("AA312825768811D1ADED00C04FD8D5CD", "CN=Computers"),
            ("A361B2FFFFD211D1AA4B00C04FD7D83A", "OU=Domain Controllers"),
            ("AB1D30F3768811D1ADED00C04FD8D5CD", "CN=System"),
            ("1EB93889E40C45DF9F0C64D23BBB6237", "CN=Managed Service Accounts"),
            ("18E2EA80684F11D2B9AA00C04F79F805", "CN=Deleted Objects"),
            ("22B70C67D56E4EFB91E9300FCA3DC1AA", "CN=ForeignSecurityPrincipals"),
            ("AB8153B7768811D1ADED00C04FD8D5CD", "CN=LostAndFound"),
            ("2FBAC1870ADE11D297C400C04FD8D5CD", "CN=Infrastructure"),
        ]
        .iter()
        .map(|(g, rdn)| format!("B:32:{g}:{rdn},{}", d.dn).into_bytes())
        .collect();
        head.set("wellKnownObjects", wko);
        // The Default Domain Policy is linked to the domain (MS-GPOL 2.2.2: `[LDAP://dn;0]`).
        head.set_str(
            "gPLink",
            format!("[LDAP://{};0]", super::gpo::container_dn(&d.dn)),
        );
        self.insert(st, head);

        let users = self.container(st, &d.dn, "Users", "container", true);
        self.container(st, &d.dn, "Computers", "container", true);
        let mut dcs = self.object(
            st,
            Some(&d.dn),
            ("OU", "Domain Controllers"),
            "organizationalUnit",
        );
        dcs.set_str("isCriticalSystemObject", "TRUE");
        self.insert(st, dcs);
        let system = self.container(st, &d.dn, "System", "container", true);
        self.container(st, &d.dn, "Managed Service Accounts", "container", true);
        self.container(st, &d.dn, "ForeignSecurityPrincipals", "container", true);
        self.container(st, &d.dn, "Program Data", "container", false);
        let mut lf = self.object(st, Some(&d.dn), ("CN", "LostAndFound"), "lostAndFound");
        lf.set_str("isCriticalSystemObject", "TRUE");
        self.insert(st, lf);
        let mut infra = self.object(st, Some(&d.dn), ("CN", "Infrastructure"), "infrastructureUpdate");
        infra.set_str("fSMORoleOwner", d.ntds_settings_dn.to_string());
        self.insert(st, infra);
        let holder = self.container(st, &system, "AdminSDHolder", "container", true);
        self.admin_sd_holder_descriptor(st, holder, d);

        // BUILTIN domain (S-1-5-32) and its aliases.
        let builtin_sid = Sid::new(5, &[32]);
        let mut builtin = self.object(st, Some(&d.dn), ("CN", "Builtin"), "builtinDomain");
        builtin.set("objectSid", vec![builtin_sid.to_bytes()]);
        builtin.set_str("isCriticalSystemObject", "TRUE");
        let builtin_dn = builtin.dn.clone();
        self.insert(st, builtin);
        for (rid, name) in BUILTIN_GROUPS {
            let g = self.group(
                st,
                &builtin_dn,
                name,
                &builtin_sid.with_rid(*rid),
                group_type::BUILTIN_LOCAL,
            );
            self.insert(st, g);
        }
        for (rid, name, scope, root_only) in DOMAIN_GROUPS {
            if *root_only && !is_root {
                continue;
            }
            let g = self.group(st, &users, name, &d.sid.with_rid(*rid), *scope);
            self.insert(st, g);
        }

        // Administrator (500), Guest (501), krbtgt (502).
        let mut admin = self.account(
            st,
            &users,
            AccountSpec {
                cn: "Administrator",
                class: "user",
                sid: &d.sid.with_rid(500),
                sam: "Administrator",
                uac: uac::NORMAL_ACCOUNT | uac::DONT_EXPIRE_PASSWORD,
                primary_group: 513,
            },
        );
        admin.set_str("userPrincipalName", format!("Administrator@{}", d.dns_name));
        admin.set_str("adminCount", "1");
        admin.set_str("isCriticalSystemObject", "TRUE");
        admin.set_str(
            "description",
            "Built-in account for administering the computer/domain",
        );
        self.dir.apply_password(
            &mut admin,
            &d.realm,
            config.admin_password.as_bytes(),
            self.dir.clock.now(),
        );
        self.insert(st, admin);
        let mut guest = self.account(
            st,
            &users,
            AccountSpec {
                cn: "Guest",
                class: "user",
                sid: &d.sid.with_rid(501),
                sam: "Guest",
                uac: uac::NORMAL_ACCOUNT
                    | uac::ACCOUNTDISABLE
                    | uac::PASSWD_NOTREQD
                    | uac::DONT_EXPIRE_PASSWORD,
                primary_group: 514,
            },
        );
        guest.set_str("isCriticalSystemObject", "TRUE");
        self.insert(st, guest);
        let mut krbtgt = self.account(
            st,
            &users,
            AccountSpec {
                cn: "krbtgt",
                class: "user",
                sid: &d.sid.with_rid(502),
                sam: "krbtgt",
                uac: uac::NORMAL_ACCOUNT | uac::ACCOUNTDISABLE,
                primary_group: 513,
            },
        );
        krbtgt.set_str("servicePrincipalName", "kadmin/changepw");
        krbtgt.set_str("adminCount", "1");
        krbtgt.set_str("isCriticalSystemObject", "TRUE");
        let secret = self.random_password();
        self.dir
            .apply_password(&mut krbtgt, &d.realm, secret.as_bytes(), self.dir.clock.now());
        self.insert(st, krbtgt);

        // The DC's computer object (RID 1000 for the first DC of a domain).
        let dcs_dn = d.dn.child("OU", "Domain Controllers");
        let mut dc = self.account(
            st,
            &dcs_dn,
            AccountSpec {
                cn: &d.dc_name,
                class: "computer",
                sid: &d.sid.with_rid(1000),
                sam: &format!("{}$", d.dc_name),
                uac: uac::SERVER_TRUST_ACCOUNT | uac::TRUSTED_FOR_DELEGATION,
                primary_group: 516,
            },
        );
        dc.set_str("dNSHostName", &d.dc_fqdn);
        dc.set_str("operatingSystem", "Windows Server 2022 Datacenter");
        dc.set_str("operatingSystemVersion", "10.0 (20348)");
        dc.set_str("serverReferenceBL", d.server_dn.to_string());
        dc.set_str("msDS-SupportedEncryptionTypes", "28");
        dc.set_str("isCriticalSystemObject", "TRUE");
        // docs/notes/client-interop.md §3: the SPNs real clients ask for.
        let spns = [
            format!("ldap/{}", d.dc_fqdn),
            format!("ldap/{}/{}", d.dc_fqdn, d.dns_name),
            format!("ldap/{}/{}", d.dc_fqdn, d.netbios),
            format!("ldap/{}", d.dc_name),
            format!("ldap/{}/{}", d.dc_name, d.netbios),
            format!("HOST/{}", d.dc_fqdn),
            format!("HOST/{}/{}", d.dc_fqdn, d.dns_name),
            format!("HOST/{}/{}", d.dc_fqdn, d.netbios),
            format!("HOST/{}", d.dc_name),
            format!("HOST/{}/{}", d.dc_name, d.netbios),
            format!("GC/{}/{}", d.dc_fqdn, forest.root_dns),
            format!("RestrictedKrbHost/{}", d.dc_fqdn),
            format!("RestrictedKrbHost/{}", d.dc_name),
            // The DNS Server service registers it on a DC that runs DNS; secure dynamic
            // update clients (nsupdate -g, Windows' DnsUpdate) ask tickets for it.
            format!("DNS/{}", d.dc_fqdn),
        ];
        dc.set(
            "servicePrincipalName",
            spns.iter().map(|s| s.as_bytes().to_vec()).collect(),
        );
        let secret = self.random_password();
        self.dir
            .apply_password(&mut dc, &d.realm, secret.as_bytes(), self.dir.clock.now());
        self.insert(st, dc);
        self.default_domain_policy(st, d, &system);
        st.next_rid.push(super::provision::FIRST_FREE_RID);
        Ok(())
    }

    /// CN=Policies and the Default Domain Policy: its container (MS-ADTS 6.1.1.2.x; MS-GPOL
    /// 2.3) and its template in SYSVOL with the default Kerberos policy ([`super::gpo`]). The
    /// version a new domain's policy carries (3, container and GPT.INI alike) is inferred.
    fn default_domain_policy(&mut self, st: &mut super::DirState, d: &DomainInfo, system: &Dn) {
        use super::gpo;
        const VERSION: u32 = 3;
        let policies = self.container(st, system, "Policies", "container", true);
        let mut gpc = self.object(
            st,
            Some(&policies),
            ("CN", gpo::DEFAULT_DOMAIN_POLICY),
            "groupPolicyContainer",
        );
        gpc.set_str("displayName", "Default Domain Policy");
        gpc.set_str("gPCFileSysPath", gpo::file_sys_path(&d.dns_name));
        gpc.set_str("gPCFunctionalityVersion", "2");
        gpc.set_str("gPCMachineExtensionNames", gpo::SECURITY_EXTENSIONS);
        gpc.set_str("versionNumber", VERSION.to_string());
        gpc.set_str("flags", "0");
        gpc.set_str("isCriticalSystemObject", "TRUE");
        gpc.set_str("showInAdvancedViewOnly", "TRUE");
        self.insert(st, gpc);
        st.sysvol.put(
            gpo::gpt_tmpl_path(&d.dns_name),
            gpo::KerberosPolicy::default().to_inf(),
        );
        st.sysvol
            .put(gpo::gpt_ini_path(&d.dns_name), gpo::gpt_ini(VERSION));
    }

    fn configuration(&mut self, st: &mut super::DirState) -> DsResult<()> {
        let forest = self.dir.forest.clone();
        let root = forest.root().clone();
        let root_parent = forest.root_dn.clone();
        let mut conf = self.object(st, Some(&root_parent), ("CN", "Configuration"), "configuration");
        conf.parent = None;
        conf.set_str("instanceType", "13");
        self.insert(st, conf);
        let mut schema = self.object(st, Some(&forest.config_dn), ("CN", "Schema"), "dMD");
        schema.set_str("instanceType", "13");
        // objectVersion 88: Windows Server 2019/2022 schema (gMSA needs 52 or later).
        schema.set_str("objectVersion", "88");
        schema.set_str("fSMORoleOwner", root.ntds_settings_dn.to_string());
        self.insert(st, schema);
        // MS-ADTS 3.1.1.3.1.1.4: the subschema entry; its definitions are constructed on read.
        let mut aggregate = self.object(st, Some(&forest.schema_dn), ("CN", "Aggregate"), "subSchema");
        aggregate.set_str("objectClass", "top");
        aggregate.set("objectClass", vec![b"top".to_vec(), b"subSchema".to_vec()]);
        aggregate.set_str("showInAdvancedViewOnly", "TRUE");
        self.insert(st, aggregate);

        let partitions = self.container(st, &forest.config_dn, "Partitions", "crossRefContainer", true);
        if let Some(id) = st.store.lookup(&partitions) {
            let mut p = (**st.store.get(id).expect("just inserted")).clone();
            p.set_str("msDS-Behavior-Version", "7");
            p.set_str("fSMORoleOwner", root.ntds_settings_dn.to_string());
            st.store.update(p).expect("partitions exists");
        }
        for d in &forest.domains {
            let mut x = self.object(st, Some(&partitions), ("CN", &d.netbios.clone()), "crossRef");
            x.set_str("nCName", d.dn.to_string());
            x.set_str("dnsRoot", &d.dns_name);
            x.set_str("nETBIOSName", &d.netbios);
            // systemFlags FLAG_CR_NTDS_NC | FLAG_CR_NTDS_DOMAIN (MS-ADTS 2.2.19... 6.1.1.2.1.1.5).
            x.set_str("systemFlags", "3");
            x.set_str("msDS-Behavior-Version", "7");
            if let Some(p) = d.parent {
                let parent_netbios = forest.domains[p].netbios.clone();
                x.set_str("trustParent", partitions.child("CN", &parent_netbios).to_string());
            }
            self.insert(st, x);
        }
        for (cn, nc) in [
            ("Enterprise Configuration", &forest.config_dn),
            ("Enterprise Schema", &forest.schema_dn),
        ] {
            let mut x = self.object(st, Some(&partitions), ("CN", cn), "crossRef");
            x.set_str("nCName", nc.to_string());
            x.set_str("dnsRoot", &forest.root_dns);
            x.set_str("systemFlags", "1");
            self.insert(st, x);
        }

        let sites = self.container(st, &forest.config_dn, "Sites", "sitesContainer", true);
        let site = self.container(st, &sites, super::forest::DEFAULT_SITE, "site", true);
        let servers = self.container(st, &site, "Servers", "serversContainer", true);
        for d in &forest.domains {
            let mut s = self.object(st, Some(&servers), ("CN", &d.dc_name.clone()), "server");
            s.set_str("dNSHostName", &d.dc_fqdn);
            s.set_str("serverReference", d.dc_dn.to_string());
            let sdn = s.dn.clone();
            self.insert(st, s);
            let mut n = self.object(st, Some(&sdn), ("CN", "NTDS Settings"), "nTDSDSA");
            n.set_str("options", "1");
            n.set_str("msDS-Behavior-Version", "7");
            n.set_str("msDS-HasDomainNCs", d.dn.to_string());
            n.set_str("dMDLocation", forest.schema_dn.to_string());
            n.set_str("invocationId", "");
            let inv = self.guid();
            n.set("invocationId", vec![inv.to_bytes_le().to_vec()]);
            self.insert(st, n);
        }

        let services = self.container(st, &forest.config_dn, "Services", "container", true);
        let wnt = self.container(st, &services, "Windows NT", "container", false);
        let mut ds = self.object(st, Some(&wnt), ("CN", "Directory Service"), "nTDSService");
        ds.set_str("tombstoneLifetime", "180");
        ds.set_str("sPNMappings", super::spn::DEFAULT_SPN_MAPPINGS);
        self.insert(st, ds);
        // MS-GKDI / docs/notes/gmsa-gkdi.md §1: where root keys and the KDS defaults live.
        let gkds = self.container(
            st,
            &services,
            "Group Key Distribution Service",
            "container",
            false,
        );
        self.container(st, &gkds, "Master Root Keys", "container", false);
        let server_conf = self.container(st, &gkds, "Server Configuration", "container", false);
        let mut kdsconf = self.object(
            st,
            Some(&server_conf),
            ("CN", "Group Key Distribution Service Server Configuration"),
            "msKds-ProvServerConfiguration",
        );
        kdsconf.set_str("msKds-Version", "1");
        kdsconf.set_str("msKds-KDFAlgorithmID", "SP800_108_CTR_HMAC");
        kdsconf.set_str("msKds-SecretAgreementAlgorithmID", "DH");
        kdsconf.set_str("msKds-PublicKeyLength", "2048");
        kdsconf.set_str("msKds-PrivateKeyLength", "512");
        self.insert(st, kdsconf);
        Ok(())
    }

    /// The memberships dcpromo sets up (MS-ADTS 6.1.1.6).
    fn wire_memberships(&mut self, st: &mut super::DirState) {
        let forest = self.dir.forest.clone();
        let root = forest.root().clone();
        for d in &forest.domains {
            let builtin = Sid::new(5, &[32]);
            let mut pairs: Vec<(Sid, Sid)> = vec![
                (d.sid.with_rid(512), d.sid.with_rid(500)),
                (d.sid.with_rid(520), d.sid.with_rid(500)),
                (builtin.with_rid(544), d.sid.with_rid(500)),
                (builtin.with_rid(544), d.sid.with_rid(512)),
                (builtin.with_rid(544), root.sid.with_rid(519)),
                (builtin.with_rid(545), d.sid.with_rid(513)),
                (builtin.with_rid(546), d.sid.with_rid(501)),
                (builtin.with_rid(546), d.sid.with_rid(514)),
                (builtin.with_rid(554), d.sid.with_rid(515)),
                (d.sid.with_rid(572), d.sid.with_rid(512)),
                (d.sid.with_rid(572), d.sid.with_rid(502)),
                (d.sid.with_rid(572), d.sid.with_rid(517)),
            ];
            if d.index == 0 {
                pairs.push((d.sid.with_rid(518), d.sid.with_rid(500)));
                pairs.push((d.sid.with_rid(519), d.sid.with_rid(500)));
                pairs.push((d.sid.with_rid(572), d.sid.with_rid(518)));
                pairs.push((d.sid.with_rid(572), d.sid.with_rid(519)));
            }
            // Authenticated Users is a member of Pre-Windows 2000 Compatible Access (the
            // default since Windows Server 2003; Microsoft's "Active Directory security groups"),
            // through its foreignSecurityPrincipal object.
            let au = crate::security::well_known::authenticated_users();
            let fsp_parent = d.dn.child("CN", "ForeignSecurityPrincipals");
            let mut fsp = self.object(
                st,
                Some(&fsp_parent),
                ("CN", &au.to_string()),
                "foreignSecurityPrincipal",
            );
            fsp.set("objectSid", vec![au.to_bytes()]);
            self.insert(st, fsp);
            pairs.push((builtin.with_rid(554), au));
            for (group, member) in pairs {
                let g = find_by_sid(st, &forest, &group, d.index);
                let member_domain = member
                    .parent()
                    .and_then(|p| forest.domain_by_sid(&p))
                    .map_or(d.index, |x| x.index);
                let m = find_by_sid(st, &forest, &member, member_domain);
                if let (Some(g), Some(m)) = (g, m) {
                    let mut ge = (**st.store.get(g).expect("found")).clone();
                    ge.links.entry("member".into()).or_default().push(m);
                    st.store.update(ge).expect("group exists");
                }
            }
        }
    }

    fn random_password(&mut self) -> String {
        // 120 random characters, as a machine account password is random on Windows.
        (0..120)
            .map(|_| char::from(self.rng.gen_range(0x21u8..0x7f)))
            .collect()
    }
}

/// The entry with this objectSid in domain `domain` (BUILTIN SIDs exist once per domain).
fn find_by_sid(st: &super::DirState, forest: &ForestInfo, sid: &Sid, domain: usize) -> Option<EntryId> {
    st.store
        .find_eq("objectsid", &sid.to_bytes())?
        .into_iter()
        .find(|id| {
            st.store
                .get(*id)
                .is_some_and(|e| forest.domain_of(&e.dn).is_some_and(|x| x.index == domain))
        })
}

/// The DACL of a domain NC head and of CN=Builtin (MS-ADTS 6.1.3 / 6.1.4.1: the domain
/// object's security descriptor, as Samba's provision records Windows' values; RU is
/// Pre-Windows 2000 Compatible Access, the object types are user, group and inetOrgPerson
/// and the property sets of docs/fidelity.md "Domain root SD").
const DOMAIN_DACL: &str =
    "(OA;CIIO;RP;4c164200-20c0-11d0-a768-00aa006e0529;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;4c164200-20c0-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;037088f8-0ae1-11d2-b422-00a0c968f939;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;037088f8-0ae1-11d2-b422-00a0c968f939;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;ER)(OA;;CR;1131f6ad-9c07-11d1-f79f-00c04fc2dcd2;;DD)\
(OA;CIIO;RP;b7c69e6d-2cc7-11d2-854e-00a0c983f608;bf967a86-0de6-11d0-a285-00aa003049e2;ED)\
(OA;CIIO;RP;b7c69e6d-2cc7-11d2-854e-00a0c983f608;bf967a9c-0de6-11d0-a285-00aa003049e2;ED)\
(OA;CIIO;RP;b7c69e6d-2cc7-11d2-854e-00a0c983f608;bf967aba-0de6-11d0-a285-00aa003049e2;ED)\
(OA;;CR;89e95b76-444d-4c62-991a-0facbeda640c;;BA)(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;BA)\
(OA;;CR;1131f6ab-9c07-11d1-f79f-00c04fc2dcd2;;BA)(OA;;CR;1131f6ac-9c07-11d1-f79f-00c04fc2dcd2;;BA)\
(OA;;CR;1131f6ad-9c07-11d1-f79f-00c04fc2dcd2;;BA)(OA;;CR;1131f6ae-9c07-11d1-f79f-00c04fc2dcd2;;BA)\
(OA;;RP;c7407360-20bf-11d0-a768-00aa006e0529;;RU)(OA;;RP;b8119fd0-04f6-4762-ab7a-4986c76b3f9a;;RU)\
(OA;CIIO;RPLCLORC;;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RPLCLORC;;bf967a9c-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RPLCLORC;;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;;CR;05c74c5e-4deb-43b4-bd9f-86664c2a7fd5;;AU)(OA;;CR;89e95b76-444d-4c62-991a-0facbeda640c;;ED)\
(OA;;CR;ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501;;AU)(OA;;CR;280f369c-67c7-438e-ae98-1d46f3c6f541;;AU)\
(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;ED)(OA;;CR;1131f6ab-9c07-11d1-f79f-00c04fc2dcd2;;ED)\
(OA;;CR;1131f6ac-9c07-11d1-f79f-00c04fc2dcd2;;ED)(OA;;CR;1131f6ae-9c07-11d1-f79f-00c04fc2dcd2;;ED)\
(OA;;RP;b8119fd0-04f6-4762-ab7a-4986c76b3f9a;;AU)(OA;CIIO;RPWPCR;91e647de-d96f-4b70-9557-d63ff4f3ccd8;;PS)\
(A;;RPWPCRCCLCLORCWOWDSW;;;DA)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)(A;;RPRC;;;RU)(A;CI;LC;;;RU)\
(A;CI;RPWPCRCCLCLORCWOWDSDSW;;;BA)(A;;RP;;;WD)(A;;RPLCLORC;;;ED)(A;;RPLCLORC;;;AU)\
(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)";

/// The security descriptors dcpromo gives the well-known objects (MS-ADTS 6.1.3-6.1.5 and
/// Windows' values as recorded by Samba's provision, python/samba/provision/descriptor.py:
/// domain, Users, Computers, Domain Controllers, System, LostAndFound, Builtin, and the
/// configuration and schema NC heads). `None` for other objects: they get their class default.
fn well_known_descriptor(
    dir: &Directory,
    dn: &Dn,
    domain: Option<usize>,
) -> Option<crate::security::SecurityDescriptor> {
    use crate::security::sddl;
    use crate::security::well_known::AliasDomains;
    let d = &dir.forest.domains[domain.unwrap_or(0)];
    let text = if *dn == dir.forest.schema_dn {
        // The schema NC head (Samba provision get_schema_descriptor, Windows' value): every
        // authenticated user reads and lists the schema, the subschema entry included.
        "O:SAG:SAD:(A;CI;RPLCLORC;;;AU)(A;CI;RPWPCRCCLCLORCWOWDSW;;;SA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)\
(OA;;CR;e12b56b6-0a95-11d1-adbb-00c04fd8d5cd;;SA)(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;ED)\
(OA;;CR;1131f6ab-9c07-11d1-f79f-00c04fc2dcd2;;ED)(OA;;CR;1131f6ac-9c07-11d1-f79f-00c04fc2dcd2;;ED)\
(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;BA)(OA;;CR;1131f6ab-9c07-11d1-f79f-00c04fc2dcd2;;BA)\
(OA;;CR;1131f6ac-9c07-11d1-f79f-00c04fc2dcd2;;BA)(OA;;CR;1131f6ad-9c07-11d1-f79f-00c04fc2dcd2;;BA)\
(OA;;CR;1131f6ad-9c07-11d1-f79f-00c04fc2dcd2;;ED)(OA;;CR;89e95b76-444d-4c62-991a-0facbeda640c;;BA)\
(OA;;CR;89e95b76-444d-4c62-991a-0facbeda640c;;ED)(OA;;CR;1131f6ae-9c07-11d1-f79f-00c04fc2dcd2;;ED)\
(OA;;CR;1131f6ae-9c07-11d1-f79f-00c04fc2dcd2;;BA)"
            .to_string()
    } else if *dn == dir.forest.config_dn {
        "O:EAG:EAD:(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;ED)(OA;;CR;1131f6ab-9c07-11d1-f79f-00c04fc2dcd2;;ED)\
(OA;;CR;1131f6ac-9c07-11d1-f79f-00c04fc2dcd2;;ED)(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;BA)\
(OA;;CR;1131f6ab-9c07-11d1-f79f-00c04fc2dcd2;;BA)(OA;;CR;1131f6ac-9c07-11d1-f79f-00c04fc2dcd2;;BA)\
(A;;RPLCLORC;;;AU)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)\
(A;CIIO;RPWPCRCCLCLORCWOWDSDSW;;;DA)(OA;;CR;1131f6ad-9c07-11d1-f79f-00c04fc2dcd2;;ED)\
(OA;;CR;89e95b76-444d-4c62-991a-0facbeda640c;;ED)(OA;;CR;1131f6ad-9c07-11d1-f79f-00c04fc2dcd2;;BA)\
(OA;;CR;89e95b76-444d-4c62-991a-0facbeda640c;;BA)(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;ER)"
            .to_string()
    } else if domain.is_some() && *dn == d.dn {
        format!("O:BAG:BAD:AI{DOMAIN_DACL}")
    } else if domain.is_some() && dn.parent().as_ref() == Some(&d.dn) {
        let rdn = dn.rdn()?;
        match (
            rdn.attr.to_ascii_uppercase().as_str(),
            rdn.value.to_ascii_lowercase().as_str(),
        ) {
            ("CN", "builtin") => format!("D:{DOMAIN_DACL}"),
            ("CN", "users") => "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCDCLCLORCWOWDSW;;;DA)\
(OA;;CCDC;bf967aba-0de6-11d0-a285-00aa003049e2;;AO)(OA;;CCDC;bf967a9c-0de6-11d0-a285-00aa003049e2;;AO)\
(OA;;CCDC;bf967aa8-0de6-11d0-a285-00aa003049e2;;PO)(A;;RPLCLORC;;;AU)\
(OA;;CCDC;4828cc14-1437-45bc-9b07-ad6f015e5f28;;AO)"
                .to_string(),
            ("CN", "computers") => "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCDCLCLORCWOWDSW;;;DA)\
(OA;;CCDC;bf967a86-0de6-11d0-a285-00aa003049e2;;AO)(OA;;CCDC;bf967aba-0de6-11d0-a285-00aa003049e2;;AO)\
(OA;;CCDC;bf967a9c-0de6-11d0-a285-00aa003049e2;;AO)(OA;;CCDC;bf967aa8-0de6-11d0-a285-00aa003049e2;;PO)\
(A;;RPLCLORC;;;AU)(OA;;CCDC;4828cc14-1437-45bc-9b07-ad6f015e5f28;;AO)"
                .to_string(),
            ("OU", "domain controllers") => "D:(A;;RPLCLORC;;;AU)(A;;RPWPCRCCLCLORCWOWDSW;;;DA)\
(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPLCLORC;;;ED)"
                .to_string(),
            ("CN", "system") => {
                "D:AI(A;;RPLCLORC;;;AU)(A;;RPWPCRCCLCLORCWOWDSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"
                    .to_string()
            }
            ("CN", "lostandfound") => {
                "D:AI(A;;RPLCLORC;;;AU)(A;;RPWPCRCCDCLCLORCWOWDSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"
                    .to_string()
            }
            _ => return None,
        }
    } else {
        return None;
    };
    let ctx = AliasDomains::child(d.sid.clone(), dir.forest.root().sid.clone());
    let mut sd = sddl::parse(&text, &ctx).ok()?;
    // "AI" in the text is the auto-inherited flag of a stored SD; the inheritance below sets it.
    sd.control &= !crate::security::descriptor::control::DACL_AUTO_INHERITED;
    Some(sd)
}

/// A class's defaultSecurityDescriptor (MS-ADTS 3.1.1.2.4.? defaultSecurityDescriptor), owned by
/// Domain Admins when it names no owner; `dsa::inherit` merges it with the parent's
/// inheritable ACEs.
pub(super) fn default_security_descriptor(
    dir: &Directory,
    class: &str,
    domain: Option<usize>,
) -> Option<Vec<u8>> {
    use crate::security::sddl;
    use crate::security::well_known::AliasDomains;
    let d = &dir.forest.domains[domain.unwrap_or(0)];
    let ctx = AliasDomains::child(d.sid.clone(), dir.forest.root().sid.clone());
    let text = crate::schema::Schema::ad()
        .class(class)
        .map(|c| c.default_security_descriptor)
        .unwrap_or("");
    let mut sd = sddl::parse(text, &ctx)
        .or_else(|_| sddl::parse("D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPLCLORC;;;AU)", &ctx))
        .ok()?;
    if sd.owner.is_none() {
        sd.owner = Some(d.sid.with_rid(512));
    }
    if sd.group.is_none() {
        sd.group = Some(d.sid.with_rid(512));
    }
    sd.to_bytes().ok()
}
