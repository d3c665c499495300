//! The cmdlets by name, with PowerShell's parameters: binding ([`super::params`]), the
//! directory operation as the calling principal (the access layer decides), the objects
//! PowerShell outputs ([`super::object`]) or an error record ([`super::record`]).
//!
//! Parameter sets follow Microsoft Learn's syntax blocks: New-ADServiceAccount has "Group"
//! (`-DNSHostName` mandatory), "RestrictedToOutboundAuthenticationOnly" and
//! "RestrictedToSingleComputer" (a standalone MSA, `msDS-ManagedServiceAccount`: no
//! `-DNSHostName`, `-PrincipalsAllowedToRetrieveManagedPassword` or
//! `-ManagedPasswordIntervalInDays`). Set-ADServiceAccount has no
//! `-ManagedPasswordIntervalInDays` (the interval is chosen at creation only), so giving it is
//! NamedParameterNotFound, as PowerShell reports it.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::hosts::Hosts;
use super::object::{self, Attrs, PsObject, Resolver};
use super::params::{bind, p, required, value_strings, Bound, Kind, Spec};
use super::record::ErrorRecord;
use super::{membership_sd, quoted_utf16, NewAccount};
use crate::clock::NtTime;
use crate::dsa::request::{ModOp, Modification, Scope, SearchRequest, View};
use crate::dsa::{Caller, Directory, DsError};
use crate::kds::Effective;
use crate::model::entry::EntryId;
use crate::model::filter::Filter;
use crate::security::Sid;

/// What one cmdlet produced: output objects (JSON scalars or [`PsObject::to_json`] maps) and
/// warnings (PowerShell's warning stream).
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub objects: Vec<Value>,
    pub warnings: Vec<String>,
}

impl Output {
    fn none() -> Result<Output, ErrorRecord> {
        Ok(Output::default())
    }

    fn one(v: Value) -> Result<Output, ErrorRecord> {
        Ok(Output {
            objects: vec![v],
            warnings: Vec::new(),
        })
    }
}

/// A forest's cmdlet runtime: its directory and its member hosts.
pub struct Session {
    pub dir: Arc<Directory>,
    pub hosts: Hosts,
}

/// One call's context.
struct Ctx<'a> {
    s: &'a Session,
    caller: Caller,
    /// The member host the cmdlet runs on (`adsim ps --host`), for the cmdlets that act on
    /// the local computer.
    host: Option<&'a str>,
    domain: usize,
    name: &'static str,
}

type Handler = fn(&Ctx, &Bound) -> Result<Output, ErrorRecord>;

struct Cmdlet {
    name: &'static str,
    params: &'static [Spec],
    /// Parameters bound by position, in order.
    positional: &'static [&'static str],
    run: Handler,
}

use Kind::{Bool, Hashtable, Int, Strings, Switch};
const STR: Kind = Kind::String;

/// The parameters of the Get-AD* cmdlets (Microsoft Learn's syntax: the Identity, Filter and
/// LDAPFilter parameter sets).
const GET_PARAMS: &[Spec] = &[
    p("Identity", STR),
    p("Filter", STR),
    p("LDAPFilter", STR),
    p("Properties", Strings),
    p("SearchBase", STR),
];

/// Every cmdlet adsim runs (one table; `names()` lists them).
const CMDLETS: &[Cmdlet] = &[
    Cmdlet {
        name: "New-ADServiceAccount",
        params: &[
            required("Name", STR),
            p("DNSHostName", STR),
            p("PrincipalsAllowedToRetrieveManagedPassword", Strings),
            p("RestrictToOutboundAuthenticationOnly", Switch),
            p("RestrictToSingleComputer", Switch),
            p("ManagedPasswordIntervalInDays", Int),
            p("ServicePrincipalNames", Strings),
            p("KerberosEncryptionType", Strings),
            p("Path", STR),
            p("Enabled", Bool),
            p("Description", STR),
            p("DisplayName", STR),
            p("SamAccountName", STR),
            p("AccountPassword", STR),
            p("OtherAttributes", Hashtable),
            p("PassThru", Switch),
        ],
        positional: &["Name"],
        run: new_service_account,
    },
    Cmdlet {
        name: "Get-ADServiceAccount",
        params: GET_PARAMS,
        positional: &["Identity"],
        run: get_service_account,
    },
    Cmdlet {
        name: "Get-ADComputer",
        params: GET_PARAMS,
        positional: &["Identity"],
        run: get_computer,
    },
    Cmdlet {
        name: "Get-ADGroup",
        params: GET_PARAMS,
        positional: &["Identity"],
        run: get_group,
    },
    Cmdlet {
        name: "Get-ADUser",
        params: GET_PARAMS,
        positional: &["Identity"],
        run: get_user,
    },
    Cmdlet {
        name: "Set-ADServiceAccount",
        params: &[
            required("Identity", STR),
            p("Description", STR),
            p("DisplayName", STR),
            p("DNSHostName", STR),
            p("Enabled", Bool),
            p("KerberosEncryptionType", Strings),
            p("PrincipalsAllowedToRetrieveManagedPassword", Strings),
            p("ServicePrincipalNames", Hashtable),
            p("SamAccountName", STR),
            p("AccountNotDelegated", Bool),
            p("TrustedForDelegation", Bool),
            p("Add", Hashtable),
            p("Remove", Hashtable),
            p("Replace", Hashtable),
            p("Clear", Strings),
            p("PassThru", Switch),
        ],
        positional: &["Identity"],
        run: set_service_account,
    },
    Cmdlet {
        name: "Remove-ADServiceAccount",
        params: &[required("Identity", STR)],
        positional: &["Identity"],
        run: remove_service_account,
    },
    Cmdlet {
        name: "Test-ADServiceAccount",
        params: &[required("Identity", STR)],
        positional: &["Identity"],
        run: test_service_account,
    },
    Cmdlet {
        name: "Install-ADServiceAccount",
        params: &[required("Identity", STR), p("Force", Switch)],
        positional: &["Identity"],
        run: install_service_account,
    },
    Cmdlet {
        name: "Uninstall-ADServiceAccount",
        params: &[required("Identity", STR), p("ForceRemoveLocal", Switch)],
        positional: &["Identity"],
        run: uninstall_service_account,
    },
    Cmdlet {
        name: "Add-ADGroupMember",
        params: &[
            required("Identity", STR),
            required("Members", Strings),
            p("PassThru", Switch),
        ],
        positional: &["Identity", "Members"],
        run: add_group_member,
    },
    Cmdlet {
        name: "Remove-ADGroupMember",
        params: &[
            required("Identity", STR),
            required("Members", Strings),
            p("PassThru", Switch),
        ],
        positional: &["Identity", "Members"],
        run: remove_group_member,
    },
    Cmdlet {
        name: "Add-ADPrincipalGroupMembership",
        params: &[
            required("Identity", STR),
            required("MemberOf", Strings),
            p("PassThru", Switch),
        ],
        positional: &["Identity", "MemberOf"],
        run: add_principal_group_membership,
    },
    Cmdlet {
        name: "Remove-ADPrincipalGroupMembership",
        params: &[
            required("Identity", STR),
            required("MemberOf", Strings),
            p("PassThru", Switch),
        ],
        positional: &["Identity", "MemberOf"],
        run: remove_principal_group_membership,
    },
    Cmdlet {
        name: "Get-KdsRootKey",
        params: &[],
        positional: &[],
        run: get_kds_root_key,
    },
    Cmdlet {
        name: "Add-KdsRootKey",
        params: &[
            p("EffectiveImmediately", Switch),
            p("EffectiveTime", STR),
            p("LocalTestOnly", Switch),
        ],
        positional: &["EffectiveTime"],
        run: add_kds_root_key,
    },
    Cmdlet {
        name: "New-ADComputer",
        params: &[
            required("Name", STR),
            p("SamAccountName", STR),
            p("DNSHostName", STR),
            p("Path", STR),
            p("Enabled", Bool),
            p("AccountPassword", STR),
            p("Description", STR),
            p("PassThru", Switch),
        ],
        positional: &["Name"],
        run: new_computer,
    },
    Cmdlet {
        name: "New-ADUser",
        params: &[
            required("Name", STR),
            p("SamAccountName", STR),
            p("UserPrincipalName", STR),
            p("Path", STR),
            p("Enabled", Bool),
            p("AccountPassword", STR),
            p("Description", STR),
            p("DisplayName", STR),
            p("PassThru", Switch),
        ],
        positional: &["Name"],
        run: new_user,
    },
    Cmdlet {
        name: "New-ADGroup",
        params: &[
            required("Name", STR),
            required("GroupScope", STR),
            p("GroupCategory", STR),
            p("SamAccountName", STR),
            p("Path", STR),
            p("Description", STR),
            p("PassThru", Switch),
        ],
        positional: &["Name", "GroupScope"],
        run: new_group,
    },
    Cmdlet {
        name: "Add-LocalGroupMember",
        params: &[required("Group", STR), required("Member", Strings)],
        positional: &["Group", "Member"],
        run: add_local_group_member,
    },
    Cmdlet {
        name: "Get-LocalGroupMember",
        params: &[required("Group", STR)],
        positional: &["Group"],
        run: get_local_group_member,
    },
    // adsim's own (no module has them: administrators edit the Default Domain Policy with the
    // Group Policy editor or secedit): the domain Kerberos policy, MS-GPSB 2.2.2's names.
    Cmdlet {
        name: "Get-AdsimKerberosPolicy",
        params: &[],
        positional: &[],
        run: get_kerberos_policy,
    },
    Cmdlet {
        name: "Set-AdsimKerberosPolicy",
        params: &[
            p("MaxTicketAge", Int),
            p("MaxRenewAge", Int),
            p("MaxServiceAge", Int),
            p("MaxClockSkew", Int),
            p("TicketValidateClient", Bool),
            p("PassThru", Switch),
        ],
        positional: &[],
        run: set_kerberos_policy,
    },
];

/// The cmdlet names adsim knows, as PowerShell spells them.
pub fn names() -> Vec<&'static str> {
    CMDLETS.iter().map(|c| c.name).collect()
}

impl Session {
    pub fn new(dir: Arc<Directory>, hosts: Hosts) -> Session {
        Session { dir, hosts }
    }

    /// Runs cmdlet `name` with named `params` and `positional` arguments, as `caller`, on
    /// `host` (the local computer of Test-/Install-ADServiceAccount) or on no host.
    pub fn run(
        &self,
        caller: Caller,
        host: Option<&str>,
        name: &str,
        params: &Map<String, Value>,
        positional: &[Value],
    ) -> Result<Output, ErrorRecord> {
        let cmdlet = CMDLETS
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| ErrorRecord::command_not_found(name))?;
        let mut params = params.clone();
        for (i, v) in positional.iter().enumerate() {
            let Some(slot) = cmdlet.positional.get(i) else {
                return Err(ErrorRecord::new(
                    "InvalidArgument",
                    format!(
                        "PositionalParameterNotFound,{}",
                        super::record::command_class(cmdlet.name)
                    ),
                    format!(
                        "A positional parameter cannot be found that accepts argument '{}'.",
                        value_strings(v).join(" ")
                    ),
                ));
            };
            if params.keys().any(|k| k.eq_ignore_ascii_case(slot)) {
                return Err(ErrorRecord::new(
                    "InvalidArgument",
                    format!("ParameterAlreadyBound,{}", super::record::command_class(cmdlet.name)),
                    format!("Cannot bind parameter because parameter '{slot}' is specified more than once. To provide multiple values to parameters that can accept multiple values, use the array syntax. For example, \"-parameter value1,value2,value3\"."),
                ));
            }
            params.insert(slot.to_string(), v.clone());
        }
        let bound = bind(cmdlet.name, cmdlet.params, &params)?;
        let domain = match bound.string("Server") {
            None => 0,
            Some(s) => {
                let d = self
                    .dir
                    .forest
                    .domain_by_name(&s)
                    .or_else(|| self.dir.forest.domains.iter().find(|d| d.dc_fqdn.eq_ignore_ascii_case(&s)))
                    .ok_or_else(|| {
                        ErrorRecord::new(
                            "ResourceUnavailable",
                            format!("ActiveDirectoryServer:0,{}", super::record::command_class(cmdlet.name)),
                            "Unable to contact the server. This may be because this server does not exist, it is currently down, or it does not have the Active Directory Web Services running.",
                        )
                    })?;
                d.index
            }
        };
        let ctx = Ctx {
            s: self,
            caller,
            host,
            domain,
            name: cmdlet.name,
        };
        (cmdlet.run)(&ctx, &bound)
    }
}

impl Resolver for Directory {
    fn dn_of_sid(&self, sid: &Sid) -> Option<String> {
        let st = self.read();
        let id = st.store.find_eq("objectsid", &sid.to_bytes())?.first().copied()?;
        st.store.get(id).map(|e| e.dn.to_string())
    }
}

impl Ctx<'_> {
    fn dir(&self) -> &Directory {
        &self.s.dir
    }

    fn domain_dn(&self) -> String {
        self.dir().forest.domains[self.domain].dn.to_string()
    }

    fn ds(&self, e: DsError) -> ErrorRecord {
        ErrorRecord::directory(self.name, &e)
    }

    /// An `-Identity` (DN, GUID, SID, sAMAccountName — `svc` also finds `svc$`, `DOMAIN\name`)
    /// to the entry, in the cmdlet's domain.
    fn resolve(&self, identity: &str) -> Result<(EntryId, String), ErrorRecord> {
        let dir = self.dir();
        let st = dir.read();
        let id = identity.trim();
        let found = if id.contains('=') {
            crate::model::dn::Dn::parse(id)
                .ok()
                .and_then(|dn| st.store.lookup(&dn))
        } else if id.contains('\\') || id.contains('@') {
            dir.resolve_account(&st, id)
        } else if let Ok(sid) = id.parse::<Sid>() {
            st.store
                .find_eq("objectsid", &sid.to_bytes())
                .and_then(|v| v.first().copied())
        } else if let Ok(g) = uuid::Uuid::parse_str(id) {
            st.store
                .find_eq("objectguid", &crate::security::guid::to_ms_bytes(&g))
                .and_then(|v| v.first().copied())
        } else {
            dir.find_sam(&st, self.domain, id)
                .or_else(|| dir.find_sam(&st, self.domain, &format!("{id}$")))
        };
        found
            .and_then(|i| st.store.get(i).map(|e| (i, e.dn.to_string())))
            .ok_or_else(|| ErrorRecord::identity_not_found(self.name, identity, &self.domain_dn()))
    }

    /// A service account's `-Identity`: not found unless it is one (the cmdlet filters on
    /// the class).
    fn service_account(&self, identity: &str) -> Result<(EntryId, String), ErrorRecord> {
        self.of_kind(identity, &object::SERVICE_ACCOUNT)
    }

    /// An `-Identity` of the kind's class, else the module's identity-not-found record.
    fn of_kind(&self, identity: &str, kind: &object::Kind) -> Result<(EntryId, String), ErrorRecord> {
        let (id, dn) = self.resolve(identity)?;
        if !self.is_kind(id, kind) {
            return Err(ErrorRecord::identity_not_found(
                self.name,
                identity,
                &self.domain_dn(),
            ));
        }
        Ok((id, dn))
    }

    fn sid(&self, identity: &str) -> Result<Sid, ErrorRecord> {
        let (id, _) = self.resolve(identity)?;
        let st = self.dir().read();
        st.store
            .get(id)
            .and_then(|e| e.first("objectSid"))
            .and_then(|b| Sid::from_bytes(b).ok())
            .ok_or_else(|| ErrorRecord::identity_not_found(self.name, identity, &self.domain_dn()))
    }

    fn read(
        &self,
        caller: &Caller,
        dn: &str,
        attrs: &[&str],
    ) -> Result<crate::dsa::request::AttributeList, ErrorRecord> {
        let out = self
            .dir()
            .search(
                caller,
                &SearchRequest {
                    base: dn.to_string(),
                    scope: Scope::Base,
                    filter: Filter::Present("objectClass".into()),
                    attrs: attrs.iter().map(|a| a.to_string()).collect(),
                    types_only: false,
                    size_limit: 0,
                    view: View::Dc { domain: self.domain },
                },
            )
            .map_err(|e| self.ds(e))?;
        Ok(out
            .entries
            .into_iter()
            .next()
            .map(|e| e.attrs)
            .unwrap_or_default())
    }

    fn modify(&self, dn: &str, mods: Vec<Modification>) -> Result<(), ErrorRecord> {
        if mods.is_empty() {
            return Ok(());
        }
        self.dir().modify(&self.caller, dn, mods).map_err(|e| self.ds(e))
    }

    fn host(&self) -> Result<&str, ErrorRecord> {
        self.host.ok_or_else(|| {
            ErrorRecord::new(
                "InvalidOperation",
                format!("adsim:NoLocalComputer,{}", super::record::command_class(self.name)),
                format!("{} acts on the local computer: name the member host it runs on (adsim ps --host NAME, or \"host\" in the control API request).", self.name),
            )
        })
    }

    /// Whether the entry is of one of the kind's classes and none it excludes.
    fn is_kind(&self, id: EntryId, kind: &object::Kind) -> bool {
        let st = self.dir().read();
        st.store.get(id).is_some_and(|e| {
            kind.classes.iter().any(|c| e.is_class(c)) && !kind.excluded.iter().any(|c| e.is_class(c))
        })
    }

    /// An object as the Get-AD* cmdlet of `kind` outputs it, read as the caller: the default
    /// properties, then `properties` (`*` for every attribute, and the extended properties where
    /// the kind's `*` adds them), sorted by name where the kind is (always under `*`).
    fn object(&self, kind: &object::Kind, dn: &str, properties: &[String]) -> Result<PsObject, ErrorRecord> {
        let extended = |want: &str| {
            object::EXTENDED_PROPERTIES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(want))
        };
        let all = properties.iter().any(|p| p == "*");
        let named: Vec<&str> = properties
            .iter()
            .filter(|p| *p != "*")
            .map(String::as_str)
            .collect();
        let mut attrs: Vec<&str> = object::DEFAULT_ATTRIBUTES.to_vec();
        attrs.extend(named.iter().map(|p| extended(p).map_or(*p, |(_, a)| *a)));
        if all {
            attrs.extend(["*", "memberOf", "whenCreated", "whenChanged", "objectCategory"]);
        }
        let list = self.read(&self.caller, dn, &attrs)?;
        let a = Attrs { list: &list };
        let dir: &Directory = self.dir();
        let mut o = PsObject::new(kind.type_name);
        let star: &[(&str, &str)] = if all && kind.star_extended {
            object::EXTENDED_PROPERTIES
        } else {
            &[]
        };
        for name in kind.defaults.iter().chain(star.iter().map(|(n, _)| n)) {
            o.set(name, object::property(name, &a, dn, dir));
        }
        let every: &[(String, Vec<Vec<u8>>)] = if all { &list } else { &[] };
        for want in named.into_iter().chain(every.iter().map(|(n, _)| n.as_str())) {
            if let Some((name, _)) = extended(want) {
                o.set(name, object::property(name, &a, dn, dir));
            } else if let Some((name, values)) = list.iter().find(|(n, _)| n.eq_ignore_ascii_case(want)) {
                if o.get(name).is_none() {
                    o.set(name, object::raw_attribute(name, values));
                }
            }
        }
        if kind.sorted || all {
            o.properties.sort_by_key(|(n, _)| n.to_ascii_lowercase());
        }
        Ok(o)
    }

    /// The object of `dn` as `-PassThru` outputs it: the kind of its class.
    fn passthru(&self, dn: &str) -> Result<Output, ErrorRecord> {
        let (id, _) = self.resolve(dn)?;
        let kind = [
            object::SERVICE_ACCOUNT,
            object::COMPUTER,
            object::GROUP,
            object::USER,
        ]
        .into_iter()
        .find(|k| self.is_kind(id, k))
        .unwrap_or(object::PRINCIPAL);
        Output::one(self.object(&kind, dn, &[])?.to_json())
    }

    fn sids(&self, names: &[String]) -> Result<Vec<Sid>, ErrorRecord> {
        names.iter().map(|n| self.sid(n)).collect()
    }

    fn container(&self, path: Option<String>, default: &str) -> String {
        path.unwrap_or_else(|| format!("{default},{}", self.domain_dn()))
    }
}

fn s(v: &str) -> Vec<Vec<u8>> {
    vec![v.as_bytes().to_vec()]
}

fn kerberos_bits(ctx: &Ctx, b: &Bound) -> Result<Option<u32>, ErrorRecord> {
    if !b.has("KerberosEncryptionType") {
        return Ok(None);
    }
    object::encryption_bits(&b.strings("KerberosEncryptionType"))
        .map(Some)
        .map_err(|e| ErrorRecord::bad_argument(ctx.name, "KerberosEncryptionType", &e))
}

fn new_service_account(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let single = b.switch("RestrictToSingleComputer");
    let outbound = b.switch("RestrictToOutboundAuthenticationOnly");
    // Parameter sets (Microsoft Learn New-ADServiceAccount syntax).
    if single
        && (outbound
            || b.has("DNSHostName")
            || b.has("PrincipalsAllowedToRetrieveManagedPassword")
            || b.has("ManagedPasswordIntervalInDays"))
    {
        return Err(ErrorRecord::ambiguous_parameter_set(ctx.name));
    }
    if !single && !outbound && !b.has("DNSHostName") {
        return Err(ErrorRecord::missing_mandatory(ctx.name, &["DNSHostName"]));
    }
    if !single && b.has("AccountPassword") {
        return Err(ErrorRecord::ambiguous_parameter_set(ctx.name));
    }
    let name = b.string("Name").unwrap_or_default();
    let dn = format!(
        "CN={name},{}",
        ctx.container(b.string("Path"), "CN=Managed Service Accounts")
    );
    let params = super::NewServiceAccount {
        name,
        dns_host_name: b.string("DNSHostName"),
        allowed_principals: b.strings("PrincipalsAllowedToRetrieveManagedPassword"),
        interval_days: b.int("ManagedPasswordIntervalInDays"),
        restrict_to_outbound_only: outbound,
        service_principal_names: b.strings("ServicePrincipalNames"),
        // The module writes 0x1C (RC4, AES128, AES256) unless told otherwise.
        supported_encryption_types: kerberos_bits(ctx, b)?,
        path: None,
        domain: None,
        restrict_to_single_computer: single,
        sam_account_name: b.string("SamAccountName"),
        enabled: b.bool("Enabled"),
        description: b.string("Description"),
        display_name: b.string("DisplayName"),
        account_password: b.string("AccountPassword"),
    };
    let sids = ctx.sids(&params.allowed_principals)?;
    let mut attrs = params.attributes(&sids).map_err(|e| {
        ErrorRecord::bad_argument(
            ctx.name,
            "PrincipalsAllowedToRetrieveManagedPassword",
            &e.to_string(),
        )
    })?;
    if let Some(other) = b.hashtable("OtherAttributes") {
        for (k, v) in other {
            attrs.push((
                k.clone(),
                value_strings(v).iter().map(|x| x.as_bytes().to_vec()).collect(),
            ));
        }
    }
    ctx.dir()
        .add(&ctx.caller, &dn, attrs)
        .map_err(|e| ctx.ds(e).with_target(dn.clone()))?;
    if b.switch("PassThru") {
        return Output::one(ctx.object(&object::SERVICE_ACCOUNT, &dn, &[])?.to_json());
    }
    Output::none()
}

fn get_service_account(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    get_objects(ctx, b, &object::SERVICE_ACCOUNT)
}

fn class_filter(class: &str) -> Filter {
    Filter::EqualityMatch("objectClass".into(), class.as_bytes().to_vec())
}

/// The `-Filter` (the module's language, [`super::filter`]) or `-LDAPFilter` search of a
/// Get-AD* cmdlet inside `classes`, under -SearchBase or the domain, as the caller: the DNs
/// found, in the directory's order.
fn search_filter(ctx: &Ctx, b: &Bound, classes: Filter) -> Result<Vec<String>, ErrorRecord> {
    let class = super::record::command_class(ctx.name);
    let wanted = match (b.string("Filter"), b.string("LDAPFilter")) {
        (Some(f), None) => super::filter::translate(&f).map_err(|e| {
            ErrorRecord::new(
                "ParserError",
                format!("ActiveDirectoryCmdlet:Microsoft.ActiveDirectory.Management.ADFilterParsingException,{class}"),
                e.message,
            )
            .with_reason("ADFilterParsingException")
        })?,
        // ERROR_DS_FILTER_UNKNOWN, the DC's answer to a filter it cannot read (inferred: the
        // module passes -LDAPFilter to the DC unchanged).
        (None, Some(f)) => Filter::parse(&f).map_err(|_| {
            ErrorRecord::new(
                "NotSpecified",
                format!("ActiveDirectoryServer:8254,{class}"),
                "The search filter cannot be recognized",
            )
        })?,
        (None, None) => return Err(ErrorRecord::missing_mandatory(ctx.name, &["Filter"])),
        _ => return Err(ErrorRecord::ambiguous_parameter_set(ctx.name)),
    };
    let base = b.string("SearchBase").unwrap_or_else(|| ctx.domain_dn());
    let out = ctx
        .dir()
        .search(
            &ctx.caller,
            &SearchRequest {
                base,
                scope: Scope::Subtree,
                filter: Filter::And(vec![classes, wanted]),
                attrs: vec!["1.1".into()],
                types_only: false,
                size_limit: 0,
                view: View::Dc { domain: ctx.domain },
            },
        )
        .map_err(|e| ctx.ds(e))?;
    Ok(out.entries.into_iter().map(|e| e.dn).collect())
}

/// Get-ADServiceAccount / Get-ADComputer / Get-ADGroup / Get-ADUser: `-Identity` (an object of the kind, else the
/// module's identity-not-found record), or a `-Filter` / `-LDAPFilter` search.
fn get_objects(ctx: &Ctx, b: &Bound, kind: &object::Kind) -> Result<Output, ErrorRecord> {
    let props = b.strings("Properties");
    if let Some(identity) = b.string("Identity") {
        if b.has("Filter") || b.has("LDAPFilter") {
            return Err(ErrorRecord::ambiguous_parameter_set(ctx.name));
        }
        let (_, dn) = ctx.of_kind(&identity, kind)?;
        return Output::one(ctx.object(kind, &dn, &props)?.to_json());
    }
    let mut classes: Vec<Filter> = vec![Filter::Or(kind.classes.iter().map(|c| class_filter(c)).collect())];
    classes.extend(
        kind.excluded
            .iter()
            .map(|c| Filter::Not(Box::new(class_filter(c)))),
    );
    let mut objects = Vec::new();
    for dn in search_filter(ctx, b, Filter::And(classes))? {
        objects.push(ctx.object(kind, &dn, &props)?.to_json());
    }
    Ok(Output {
        objects,
        warnings: Vec::new(),
    })
}

fn get_computer(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    get_objects(ctx, b, &object::COMPUTER)
}

fn get_group(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    get_objects(ctx, b, &object::GROUP)
}

fn get_user(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    get_objects(ctx, b, &object::USER)
}

fn replace(attr: &str, values: Vec<Vec<u8>>) -> Modification {
    Modification {
        op: ModOp::Replace,
        attr: attr.into(),
        values,
    }
}

fn set_service_account(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let identity = b.string("Identity").unwrap_or_default();
    let (_, dn) = ctx.service_account(&identity)?;
    let mut mods = Vec::new();
    for (param, attr) in [
        ("Description", "description"),
        ("DisplayName", "displayName"),
        ("DNSHostName", "dNSHostName"),
        ("SamAccountName", "sAMAccountName"),
    ] {
        if let Some(v) = b.string(param) {
            mods.push(replace(attr, if v.is_empty() { vec![] } else { s(&v) }));
        }
    }
    if let Some(bits) = kerberos_bits(ctx, b)? {
        mods.push(replace("msDS-SupportedEncryptionTypes", s(&bits.to_string())));
    }
    if b.has("PrincipalsAllowedToRetrieveManagedPassword") {
        let names = b.strings("PrincipalsAllowedToRetrieveManagedPassword");
        let sd = membership_sd(&ctx.sids(&names)?).map_err(|e| {
            ErrorRecord::bad_argument(
                ctx.name,
                "PrincipalsAllowedToRetrieveManagedPassword",
                &e.to_string(),
            )
        })?;
        mods.push(replace("msDS-GroupMSAMembership", vec![sd]));
    }
    // userAccountControl bits: Enabled (not 0x2), AccountNotDelegated 0x100000,
    // TrustedForDelegation 0x80000 (TechNet wiki 29827).
    let flags = [
        ("Enabled", 0x2u32, true),
        ("AccountNotDelegated", 0x10_0000, false),
        ("TrustedForDelegation", 0x8_0000, false),
    ];
    if flags.iter().any(|(n, _, _)| b.has(n)) {
        let attrs = ctx.read(&ctx.caller, &dn, &["userAccountControl"])?;
        let mut uac = Attrs { list: &attrs }.int("userAccountControl").unwrap_or(0x1000) as u32;
        for (param, bit, inverted) in flags {
            if let Some(v) = b.bool(param) {
                if v != inverted {
                    uac |= bit;
                } else {
                    uac &= !bit;
                }
            }
        }
        mods.push(replace("userAccountControl", s(&uac.to_string())));
    }
    if let Some(spn) = b.hashtable("ServicePrincipalNames") {
        mods.extend(hashtable_mods(
            ctx,
            "ServicePrincipalNames",
            spn,
            Some("servicePrincipalName"),
        )?);
    }
    for (param, op) in [
        ("Add", ModOp::Add),
        ("Remove", ModOp::Delete),
        ("Replace", ModOp::Replace),
    ] {
        if let Some(h) = b.hashtable(param) {
            for (attr, v) in h {
                mods.push(Modification {
                    op,
                    attr: attr.clone(),
                    values: value_strings(v).iter().map(|x| x.as_bytes().to_vec()).collect(),
                });
            }
        }
    }
    for attr in b.strings("Clear") {
        mods.push(replace(&attr, vec![]));
    }
    ctx.modify(&dn, mods)?;
    if b.switch("PassThru") {
        return Output::one(ctx.object(&object::SERVICE_ACCOUNT, &dn, &[])?.to_json());
    }
    Output::none()
}

/// `@{Add=…; Remove=…; Replace=…}` for a multi-valued property.
fn hashtable_mods(
    ctx: &Ctx,
    param: &str,
    h: &Map<String, Value>,
    attr: Option<&str>,
) -> Result<Vec<Modification>, ErrorRecord> {
    let attr = attr.unwrap_or(param);
    h.iter()
        .map(|(k, v)| {
            let op = match k.to_ascii_lowercase().as_str() {
                "add" => ModOp::Add,
                "remove" => ModOp::Delete,
                "replace" => ModOp::Replace,
                _ => {
                    return Err(ErrorRecord::bad_argument(
                        ctx.name,
                        param,
                        &format!("The key '{k}' is not valid: use Add, Remove or Replace."),
                    ))
                }
            };
            Ok(Modification {
                op,
                attr: attr.into(),
                values: value_strings(v).iter().map(|x| x.as_bytes().to_vec()).collect(),
            })
        })
        .collect()
}

fn remove_service_account(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let (_, dn) = ctx.service_account(&b.string("Identity").unwrap_or_default())?;
    ctx.dir().delete(&ctx.caller, &dn).map_err(|e| ctx.ds(e))?;
    Output::none()
}

/// Whether `host`, logged on with its own cached ticket, reads the account's password (a
/// gMSA: msDS-ManagedPassword is returned to it; a standalone MSA: the account is linked to
/// the host through msDS-HostServiceAccount).
fn host_can_use(ctx: &Ctx, host: &str, id: EntryId, dn: &str) -> Result<bool, ErrorRecord> {
    let gmsa = {
        let st = ctx.dir().read();
        st.store
            .get(id)
            .is_some_and(|e| e.is_class("msDS-GroupManagedServiceAccount"))
    };
    if !gmsa {
        let attrs = ctx.read(&Caller::system(), dn, &["msDS-HostServiceAccountBL"])?;
        let host_dn = ctx.resolve(&format!("{}$", super::hosts::host_key(host)))?.1;
        return Ok(Attrs { list: &attrs }
            .strs("msDS-HostServiceAccountBL")
            .iter()
            .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(&host_dn))));
    }
    let caller = ctx.s.hosts.caller(host).map_err(|e| {
        ErrorRecord::new(
            "NotSpecified",
            format!("adsim:HostLogon,{}", super::record::command_class(ctx.name)),
            format!("The host {host} could not log on: {e}"),
        )
    })?;
    let attrs = ctx.read(&caller, dn, &["msDS-ManagedPassword"])?;
    Ok(!Attrs { list: &attrs }.values("msDS-ManagedPassword").is_empty())
}

/// Test-ADServiceAccount's warning when the test fails (the module's text).
pub fn test_failed_warning(name: &str) -> String {
    format!("Test failed for Managed Service Account {name}. If standalone Managed Service Account, the account is linked to another computer object in the Active Directory. If group Managed Service Account, either this computer does not have permission to use the group MSA or this computer does not support all the Kerberos encryption types required for the gMSA. See the MSA operational log for more information.")
}

fn test_service_account(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let host = ctx.host()?;
    let identity = b.string("Identity").unwrap_or_default();
    let (id, dn) = ctx.service_account(&identity)?;
    let ok = host_can_use(ctx, host, id, &dn)?;
    Ok(Output {
        objects: vec![json!(ok)],
        warnings: if ok {
            vec![]
        } else {
            vec![test_failed_warning(&identity)]
        },
    })
}

fn install_service_account(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let host = ctx.host()?;
    let identity = b.string("Identity").unwrap_or_default();
    let (id, dn) = ctx.service_account(&identity)?;
    let sam = {
        let st = ctx.dir().read();
        st.store
            .get(id)
            .and_then(|e| e.first_str("sAMAccountName"))
            .unwrap_or_default()
            .to_string()
    };
    let gmsa = {
        let st = ctx.dir().read();
        st.store
            .get(id)
            .is_some_and(|e| e.is_class("msDS-GroupManagedServiceAccount"))
    };
    if !gmsa {
        // A standalone MSA: linked to this computer (msDS-HostServiceAccount, whose back
        // link is the account's msDS-HostServiceAccountBL) and given a password the host
        // chooses (MS-ADTS 3.1.1.5.2.4; the Service Accounts step-by-step guide).
        let attrs = ctx.read(&Caller::system(), &dn, &["msDS-HostServiceAccountBL"])?;
        let host_dn = ctx.resolve(&format!("{}$", super::hosts::host_key(host)))?.1;
        let linked = Attrs { list: &attrs }.strs("msDS-HostServiceAccountBL");
        if linked
            .iter()
            .any(|v| !v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(&host_dn)))
        {
            return Err(install_error(
                ctx,
                &identity,
                "The account is linked to another computer object in the Active Directory.",
            ));
        }
        if linked.is_empty() {
            ctx.modify(
                &host_dn,
                vec![Modification {
                    op: ModOp::Add,
                    attr: "msDS-HostServiceAccount".into(),
                    values: vec![dn.clone().into_bytes()],
                }],
            )?;
        }
        let password = host_password(ctx);
        ctx.modify(&dn, vec![replace("unicodePwd", vec![quoted_utf16(&password)])])?;
    } else if !host_can_use(ctx, host, id, &dn)? {
        return Err(install_error(
            ctx,
            &identity,
            "{Access Denied} A process has requested access to an object, but has not been granted those access rights.",
        ));
    }
    ctx.s.hosts.set_installed(host, &sam, true);
    Output::none()
}

/// A standalone MSA's password as the host sets it: 120 random characters.
fn host_password(ctx: &Ctx) -> String {
    use rand::Rng;
    let mut st = ctx.dir().write();
    (0..120)
        .map(|_| char::from(st.rng.gen_range(0x21u8..0x7f)))
        .collect()
}

fn install_error(ctx: &Ctx, identity: &str, why: &str) -> ErrorRecord {
    ErrorRecord::new(
        "WriteError",
        format!(
            "InstallADServiceAccount:PerformOperation,{}",
            super::record::command_class(ctx.name)
        ),
        format!("Cannot install service account. Error Message: '{why}'."),
    )
    .with_target(identity.to_string())
}

fn uninstall_service_account(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let host = ctx.host()?;
    let identity = b.string("Identity").unwrap_or_default();
    let (id, dn) = ctx.service_account(&identity)?;
    let (sam, gmsa) = {
        let st = ctx.dir().read();
        let e = st.store.get(id);
        (
            e.and_then(|e| e.first_str("sAMAccountName"))
                .unwrap_or_default()
                .to_string(),
            e.is_some_and(|e| e.is_class("msDS-GroupManagedServiceAccount")),
        )
    };
    if !gmsa {
        let host_dn = ctx.resolve(&format!("{}$", super::hosts::host_key(host)))?.1;
        let attrs = ctx.read(&Caller::system(), &dn, &["msDS-HostServiceAccountBL"])?;
        let linked = Attrs { list: &attrs }
            .strs("msDS-HostServiceAccountBL")
            .iter()
            .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(&host_dn)));
        if linked {
            ctx.modify(
                &host_dn,
                vec![Modification {
                    op: ModOp::Delete,
                    attr: "msDS-HostServiceAccount".into(),
                    values: vec![dn.into_bytes()],
                }],
            )?;
        }
    }
    ctx.s.hosts.set_installed(host, &sam, false);
    Output::none()
}

/// Adds or removes `members` of `group`; the group's DN.
fn change_members(ctx: &Ctx, group: &str, members: &[String], op: ModOp) -> Result<String, ErrorRecord> {
    let (_, g) = ctx.resolve(group)?;
    let values = members
        .iter()
        .map(|m| ctx.resolve(m).map(|(_, dn)| dn.into_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    ctx.modify(
        &g,
        vec![Modification {
            op,
            attr: "member".into(),
            values,
        }],
    )?;
    Ok(g)
}

/// `-PassThru`: the object the cmdlet changed (ADGroup for Add-/Remove-ADGroupMember, the
/// principal for Add-/Remove-ADPrincipalGroupMembership, the new object for New-AD*);
/// without it nothing (Microsoft Learn, each cmdlet's -PassThru).
fn passthru(ctx: &Ctx, b: &Bound, dn: &str) -> Result<Output, ErrorRecord> {
    if b.switch("PassThru") {
        ctx.passthru(dn)
    } else {
        Output::none()
    }
}

fn add_group_member(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    group_member(ctx, b, ModOp::Add)
}

fn remove_group_member(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    group_member(ctx, b, ModOp::Delete)
}

/// Add-/Remove-ADGroupMember: `-Members` into or out of the `-Identity` group.
fn group_member(ctx: &Ctx, b: &Bound, op: ModOp) -> Result<Output, ErrorRecord> {
    let identity = b.string("Identity").unwrap_or_default();
    let group = change_members(ctx, &identity, &b.strings("Members"), op)?;
    passthru(ctx, b, &group)
}

fn add_principal_group_membership(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    principal_group_membership(ctx, b, ModOp::Add)
}

fn remove_principal_group_membership(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    principal_group_membership(ctx, b, ModOp::Delete)
}

/// Add-/Remove-ADPrincipalGroupMembership: the `-Identity` principal into or out of each
/// `-MemberOf` group.
fn principal_group_membership(ctx: &Ctx, b: &Bound, op: ModOp) -> Result<Output, ErrorRecord> {
    let who = b.string("Identity").unwrap_or_default();
    for g in b.strings("MemberOf") {
        change_members(ctx, &g, std::slice::from_ref(&who), op)?;
    }
    let (_, dn) = ctx.resolve(&who)?;
    passthru(ctx, b, &dn)
}

/// Get-KdsRootKey: the root keys the caller can read (a search of the Master Root Keys
/// container as the caller: without the right, nothing — docs/notes/windows-behaviour.md
/// row 23), with the properties of Microsoft.KeyDistributionService.Cmdlets.KdsRootKey.
fn get_kds_root_key(ctx: &Ctx, _b: &Bound) -> Result<Output, ErrorRecord> {
    let container = ctx.dir().root_key_container().to_string();
    let out = ctx
        .dir()
        .search(
            &ctx.caller,
            &SearchRequest {
                base: container,
                scope: Scope::OneLevel,
                filter: Filter::EqualityMatch("objectClass".into(), b"msKds-ProvRootKey".to_vec()),
                attrs: vec!["cn".into()],
                types_only: false,
                size_limit: 0,
                view: View::Dc { domain: 0 },
            },
        )
        .map_err(|e| ctx.ds(e))?;
    let visible: Vec<String> = out
        .entries
        .iter()
        .filter_map(|e| Attrs { list: &e.attrs }.str("cn"))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let keys = {
        let st = ctx.dir().read();
        ctx.dir().root_keys(&st)
    };
    let mut objects = Vec::new();
    for k in keys {
        let id = k.id.hyphenated().to_string();
        if !visible.contains(&id) {
            continue;
        }
        objects.push(
            PsObject::new("Microsoft.KeyDistributionService.Cmdlets.KdsRootKey")
                .with("AttributeOfWrongFormat", Value::Null)
                .with(
                    "KeyValue",
                    json!(k.root_key_data.iter().map(|b| json!(b)).collect::<Vec<_>>()),
                )
                .with("EffectiveTime", json!(object::date_text(k.use_start_time)))
                .with("CreationTime", json!(object::date_text(k.create_time)))
                .with("IsFormatValid", json!(true))
                .with("DomainController", json!(k.domain_id))
                .with(
                    "ServerConfiguration",
                    json!("Microsoft.KeyDistributionService.Cmdlets.KdsServerConfiguration"),
                )
                .with("KeyId", json!(id))
                .with("VersionNumber", json!(k.version))
                .to_json(),
        );
    }
    Ok(Output {
        objects,
        warnings: Vec::new(),
    })
}

/// Add-KdsRootKey: `-EffectiveImmediately` (usable after the DCs' 10-hour replication wait),
/// `-EffectiveTime` (RFC 3339 or `M/d/yyyy h:mm:ss AM`); neither: ten days from now, as the
/// cmdlet's help says (docs/notes/windows-behaviour.md rows 12–13). Outputs the key's GUID.
fn add_kds_root_key(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let eff = match (b.switch("EffectiveImmediately"), b.string("EffectiveTime")) {
        (true, Some(_)) => return Err(ErrorRecord::ambiguous_parameter_set(ctx.name)),
        (true, None) => Effective::Immediately,
        (false, Some(t)) => Effective::At(parse_date(&t).ok_or_else(|| {
            ErrorRecord::bad_argument(
                ctx.name,
                "EffectiveTime",
                &format!("Cannot convert value \"{t}\" to type \"System.DateTime\". Error: \"String was not recognized as a valid DateTime.\""),
            )
        })?),
        (false, None) => Effective::At(NtTime(ctx.dir().clock.now().0 + 10 * 86_400 * crate::clock::TICKS_PER_SECOND)),
    };
    let id = ctx
        .dir()
        .add_kds_root_key(&ctx.caller, eff)
        .map_err(|e| ctx.ds(e))?;
    Output::one(
        PsObject::new("System.Guid")
            .with("Guid", json!(id.hyphenated().to_string()))
            .to_json(),
    )
}

/// The Kerberos policy's settings as cmdlet parameters (hours, days, minutes, minutes).
const KERBEROS_POLICY_PARAMETERS: [&str; 5] = [
    "MaxTicketAge",
    "MaxRenewAge",
    "MaxServiceAge",
    "MaxClockSkew",
    "TicketValidateClient",
];

/// The policy as an object: the domain, the GPO that holds it and its settings.
fn kerberos_policy_object(ctx: &Ctx) -> Value {
    let d = &ctx.dir().forest.domains[ctx.domain];
    let mut o = PsObject::new("Adsim.KerberosPolicy")
        .with("Domain", json!(d.dns_name))
        .with("GpoName", json!("Default Domain Policy"))
        .with("GpoId", json!(crate::dsa::gpo::DEFAULT_DOMAIN_POLICY));
    let settings = ctx.dir().kerberos_policy(ctx.domain).to_json();
    for key in KERBEROS_POLICY_PARAMETERS {
        o.set(key, settings[key].clone());
    }
    o.to_json()
}

/// Get-AdsimKerberosPolicy [-Server domain]: the domain's Default Domain Policy's
/// [Kerberos Policy] (`dsa::gpo`).
fn get_kerberos_policy(ctx: &Ctx, _b: &Bound) -> Result<Output, ErrorRecord> {
    Output::one(kerberos_policy_object(ctx))
}

/// Set-AdsimKerberosPolicy -MaxTicketAge 1 -MaxServiceAge 30 …: edits the Default Domain
/// Policy as the caller (the GPO's DACL decides); the KDC applies it at its next request.
fn set_kerberos_policy(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let mut changes = Map::new();
    for key in KERBEROS_POLICY_PARAMETERS {
        let v = match (b.int(key), b.bool(key)) {
            (Some(n), _) => json!(n),
            (None, Some(flag)) => json!(flag),
            _ => continue,
        };
        changes.insert(key.to_string(), v);
    }
    let policy = ctx
        .dir()
        .kerberos_policy(ctx.domain)
        .changed_by(&changes)
        .map_err(|why| {
            let name = changes.keys().next().map_or("MaxTicketAge", |k| k.as_str());
            ErrorRecord::bad_value(ctx.name, name, &why)
        })?;
    ctx.dir()
        .set_kerberos_policy(&ctx.caller, ctx.domain, policy)
        .map_err(|e| ctx.ds(e))?;
    if b.switch("PassThru") {
        return Output::one(kerberos_policy_object(ctx));
    }
    Output::none()
}

/// RFC 3339, or the en-US DateTime text PowerShell prints (`12/3/2026 1:05:09 PM`, UTC here).
pub fn parse_date(t: &str) -> Option<NtTime> {
    if let Some(x) = NtTime::parse_rfc3339(t.trim()) {
        return Some(x);
    }
    let mut parts = t.split_whitespace();
    let date = parts.next()?;
    let clock = parts.next().unwrap_or("0:00:00");
    let ampm = parts.next();
    let d: Vec<u32> = date.split('/').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let c: Vec<u32> = clock.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let (&[mo, day, year], [h, mi, rest @ ..]) = (d.as_slice(), c.as_slice()) else {
        return None;
    };
    let sec = rest.first().copied().unwrap_or(0);
    let h = match ampm.map(str::to_ascii_uppercase).as_deref() {
        Some("AM") if *h == 12 => 0,
        Some("PM") if *h < 12 => h + 12,
        _ => *h,
    };
    NtTime::parse_rfc3339(&format!("{year:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{sec:02}Z"))
}

fn new_computer(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let account = NewAccount {
        dns_host_name: b.string("DNSHostName"),
        ..NewAccount::computer(&b.string("Name").unwrap_or_default())
    };
    new_account(ctx, b, account)
}

fn new_user(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let account = NewAccount {
        user_principal_name: b.string("UserPrincipalName"),
        display_name: b.string("DisplayName"),
        ..NewAccount::user(&b.string("Name").unwrap_or_default())
    };
    new_account(ctx, b, account)
}

/// New-ADComputer / New-ADUser: the parameters both take, then the one builder.
fn new_account(ctx: &Ctx, b: &Bound, account: NewAccount) -> Result<Output, ErrorRecord> {
    let account = NewAccount {
        sam_account_name: b.string("SamAccountName"),
        password: b.string("AccountPassword"),
        enabled: b.bool("Enabled") == Some(true),
        description: b.string("Description"),
        ..account
    };
    let dn = format!(
        "CN={},{}",
        account.name,
        ctx.container(b.string("Path"), account.default_container())
    );
    let d = &ctx.dir().forest.domains[ctx.domain];
    ctx.dir()
        .add(&ctx.caller, &dn, account.attributes(&d.dns_name))
        .map_err(|e| ctx.ds(e).with_target(dn.clone()))?;
    passthru(ctx, b, &dn)
}

/// ADGroupScope / ADGroupCategory to groupType (MS-ADTS 2.2.12).
fn group_type(ctx: &Ctx, scope: &str, category: Option<&str>) -> Result<i32, ErrorRecord> {
    let scope_bits: u32 = match scope.to_ascii_lowercase().as_str() {
        "domainlocal" | "0" => 0x4,
        "global" | "1" => 0x2,
        "universal" | "2" => 0x8,
        _ => {
            return Err(ErrorRecord::bad_argument(
                ctx.name,
                "GroupScope",
                &format!("Cannot convert value \"{scope}\" to type \"Microsoft.ActiveDirectory.Management.ADGroupScope\". Error: \"Unable to match the identifier name {scope} to a valid enumerator name. Specify one of the following enumerator names and try again:\nDomainLocal, Global, Universal\""),
            ))
        }
    };
    let security = match category.map(str::to_ascii_lowercase).as_deref() {
        None | Some("security") | Some("1") => true,
        Some("distribution") | Some("0") => false,
        Some(_) => {
            return Err(ErrorRecord::bad_argument(
                ctx.name,
                "GroupCategory",
                "Specify one of the following enumerator names and try again:\nDistribution, Security",
            ))
        }
    };
    Ok((scope_bits | if security { 0x8000_0000 } else { 0 }) as i32)
}

fn new_group(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let name = b.string("Name").unwrap_or_default();
    let dn = format!("CN={name},{}", ctx.container(b.string("Path"), "CN=Users"));
    let gt = group_type(
        ctx,
        &b.string("GroupScope").unwrap_or_default(),
        b.string("GroupCategory").as_deref(),
    )?;
    let mut attrs = vec![
        ("objectClass".to_string(), s("group")),
        (
            "sAMAccountName".into(),
            s(&b.string("SamAccountName").unwrap_or_else(|| name.clone())),
        ),
        ("groupType".into(), s(&gt.to_string())),
    ];
    if let Some(v) = b.string("Description") {
        attrs.push(("description".into(), s(&v)));
    }
    ctx.dir()
        .add(&ctx.caller, &dn, attrs)
        .map_err(|e| ctx.ds(e).with_target(dn.clone()))?;
    passthru(ctx, b, &dn)
}

fn add_local_group_member(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let host = ctx.host()?;
    let group = b.string("Group").unwrap_or_default();
    for m in b.strings("Member") {
        ctx.s
            .hosts
            .add_local_group_member(host, &group, &m)
            .map_err(|e| ErrorRecord::new("ObjectNotFound", "adsim:UnknownHost", e.to_string()))?;
    }
    Output::none()
}

fn get_local_group_member(ctx: &Ctx, b: &Bound) -> Result<Output, ErrorRecord> {
    let host = ctx.host()?;
    let group = b.string("Group").unwrap_or_default();
    Ok(Output {
        objects: ctx
            .s
            .hosts
            .local_group_members(host, &group)
            .into_iter()
            .map(|m| {
                PsObject::new("Microsoft.PowerShell.Commands.LocalPrincipal")
                    .with("ObjectClass", json!("User"))
                    .with("Name", json!(m))
                    .with("PrincipalSource", json!("ActiveDirectory"))
                    .to_json()
            })
            .collect(),
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::dsa::testing;

    fn session() -> (Session, Caller) {
        let dir = testing::forest();
        let admin = testing::admin(&dir);
        (Session::new(dir.clone(), Hosts::in_process(dir)), admin)
    }

    fn call(
        s: &Session,
        c: &Caller,
        host: Option<&str>,
        name: &str,
        v: Value,
    ) -> Result<Output, ErrorRecord> {
        s.run(c.clone(), host, name, v.as_object().unwrap(), &[])
    }

    /// New-ADServiceAccount `name` with DNSHostName `name.x`.
    fn new_gmsa(s: &Session, c: &Caller, name: &str) {
        let params = json!({"Name": name, "DNSHostName": format!("{name}.x")});
        call(s, c, None, "New-ADServiceAccount", params).unwrap();
    }

    #[test]
    fn new_service_account_parameter_sets_and_directory_errors() {
        let (s, admin) = session();
        let e = call(&s, &admin, None, "New-ADServiceAccount", json!({"Name": "a"})).unwrap_err();
        assert_eq!(
            e.message,
            "Cannot process command because of one or more missing mandatory parameters: DNSHostName."
        );
        let e = call(
            &s,
            &admin,
            None,
            "New-ADServiceAccount",
            json!({"Name": "a", "RestrictToSingleComputer": true, "ManagedPasswordIntervalInDays": 5}),
        )
        .unwrap_err();
        assert!(e.fully_qualified_error_id.starts_with("AmbiguousParameterSet,"));
        let e = call(
            &s,
            &admin,
            None,
            "New-ADServiceAccount",
            json!({"Name": "a", "DNSHostName": "a.x", "KerberosEncryptionType": "AES512"}),
        )
        .unwrap_err();
        assert!(
            e.message.contains("None, DES, RC4, AES128, AES256"),
            "{}",
            e.message
        );
        call(&s, &admin, None, "New-ADServiceAccount", json!({"Name": "a", "DNSHostName": "a.x", "KerberosEncryptionType": ["AES128", "AES256"], "ServicePrincipalNames": ["HTTP/a.x"]})).unwrap();
        let e = call(
            &s,
            &admin,
            None,
            "New-ADServiceAccount",
            json!({"Name": "a", "DNSHostName": "a.x"}),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "An attempt was made to add an object to the directory with a name that is already in use"
        );
        let out = call(
            &s,
            &admin,
            None,
            "Get-ADServiceAccount",
            json!({"Identity": "a", "Properties": ["KerberosEncryptionType", "ServicePrincipalNames"]}),
        )
        .unwrap();
        let o = PsObject::from_json(&out.objects[0]).unwrap();
        assert_eq!(
            o.get("KerberosEncryptionType"),
            Some(&json!(["AES128", "AES256"]))
        );
        assert_eq!(o.get("ServicePrincipalNames"), Some(&json!(["HTTP/a.x"])));
        assert_eq!(o.get("SamAccountName"), Some(&json!("a$")));
    }

    /// Get-ADServiceAccount builds its object as Get-ADComputer does (one `Ctx::object`): named
    /// properties are read by name, so an operational or constructed attribute comes back, and
    /// a default property keeps its value.
    #[test]
    fn get_ad_service_account_reads_named_properties_as_get_ad_computer_does() {
        let (s, admin) = session();
        new_gmsa(&s, &admin, "a");
        let props = json!(["canonicalName", "ObjectClass", "Description"]);
        let get = |cmdlet: &str| {
            let out = call(
                &s,
                &admin,
                None,
                cmdlet,
                json!({"Identity": "a$", "Properties": props}),
            )
            .unwrap();
            PsObject::from_json(&out.objects[0]).unwrap()
        };
        let (account, computer) = (get("Get-ADServiceAccount"), get("Get-ADComputer"));
        for o in [&account, &computer] {
            assert_eq!(
                o.get("canonicalName"),
                Some(&json!("corp.example.test/Managed Service Accounts/a"))
            );
            assert_eq!(
                o.get("ObjectClass"),
                Some(&json!("msDS-GroupManagedServiceAccount"))
            );
            assert_eq!(o.get("Description"), Some(&Value::Null));
        }
        // Each type in its own order: ADServiceAccount's defaults first, ADComputer's by name.
        let names = |o: &PsObject| o.properties.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&account)[..2], ["Enabled", "Name"]);
        assert_eq!(names(&account)[9..], ["canonicalName", "Description"]);
        assert_eq!(
            names(&computer)[..3],
            ["canonicalName", "Description", "DistinguishedName"]
        );
    }

    #[test]
    fn set_remove_and_identity_errors() {
        let (s, admin) = session();
        new_gmsa(&s, &admin, "b");
        call(&s, &admin, None, "Set-ADServiceAccount", json!({"Identity": "b", "Enabled": false, "Description": "d", "ServicePrincipalNames": {"Add": ["HTTP/b.x"]}})).unwrap();
        let out = call(
            &s,
            &admin,
            None,
            "Get-ADServiceAccount",
            json!({"Identity": "b$", "Properties": ["Description", "ServicePrincipalNames"]}),
        )
        .unwrap();
        let o = PsObject::from_json(&out.objects[0]).unwrap();
        assert_eq!(o.get("Enabled"), Some(&json!(false)));
        assert_eq!(o.get("Description"), Some(&json!("d")));
        assert_eq!(o.get("ServicePrincipalNames"), Some(&json!(["HTTP/b.x"])));
        let e = call(
            &s,
            &admin,
            None,
            "Set-ADServiceAccount",
            json!({"Identity": "b", "ManagedPasswordIntervalInDays": 1}),
        )
        .unwrap_err();
        assert!(e.fully_qualified_error_id.starts_with("NamedParameterNotFound,"));
        call(
            &s,
            &admin,
            None,
            "Remove-ADServiceAccount",
            json!({"Identity": "b"}),
        )
        .unwrap();
        let e = call(&s, &admin, None, "Get-ADServiceAccount", json!({"Identity": "b"})).unwrap_err();
        assert_eq!(e.category, "ObjectNotFound");
        assert!(
            e.message
                .starts_with("Cannot find an object with identity: 'b' under: 'DC="),
            "{}",
            e.message
        );
        let e = call(
            &s,
            &admin,
            None,
            "Test-ADServiceAccount",
            json!({"Identity": "b"}),
        )
        .unwrap_err();
        assert!(e.message.contains("local computer"), "{}", e.message);
        assert_eq!(
            call(&s, &admin, None, "Nope-Thing", json!({}))
                .unwrap_err()
                .fully_qualified_error_id,
            "CommandNotFoundException"
        );
        let e = s
            .run(
                admin.clone(),
                None,
                "Remove-ADServiceAccount",
                &Map::new(),
                &[json!("x"), json!("y")],
            )
            .unwrap_err();
        assert!(e
            .fully_qualified_error_id
            .starts_with("PositionalParameterNotFound,"));
    }

    #[test]
    fn kds_root_keys_and_groups() {
        let (s, admin) = session();
        let e = call(
            &s,
            &admin,
            None,
            "Add-KdsRootKey",
            json!({"EffectiveImmediately": true, "EffectiveTime": "1/1/2026"}),
        )
        .unwrap_err();
        assert!(e
            .fully_qualified_error_id
            .starts_with("AmbiguousParameterSet,Microsoft.KeyDistributionService.Cmdlets.AddKdsRootKey"));
        let out = call(
            &s,
            &admin,
            None,
            "Add-KdsRootKey",
            json!({"EffectiveImmediately": true}),
        )
        .unwrap();
        let id = PsObject::from_json(&out.objects[0])
            .unwrap()
            .get("Guid")
            .cloned()
            .unwrap();
        let keys = call(&s, &admin, None, "Get-KdsRootKey", json!({})).unwrap();
        assert!(keys
            .objects
            .iter()
            .any(|k| PsObject::from_json(k).unwrap().get("KeyId") == Some(&id)));
        let e = call(
            &s,
            &admin,
            None,
            "New-ADGroup",
            json!({"Name": "g", "GroupScope": "Planet"}),
        )
        .unwrap_err();
        assert!(e.message.contains("DomainLocal, Global, Universal"));
        let g = call(
            &s,
            &admin,
            None,
            "New-ADGroup",
            json!({"Name": "g", "GroupScope": "DomainLocal", "PassThru": true}),
        )
        .unwrap();
        let g = PsObject::from_json(&g.objects[0]).unwrap();
        assert_eq!(g.get("GroupScope"), Some(&json!("DomainLocal")));
        assert_eq!(g.get("GroupCategory"), Some(&json!("Security")));
    }

    #[test]
    fn dates_parse_in_both_forms() {
        let t = NtTime::parse_rfc3339("2026-12-03T13:05:09Z").unwrap();
        assert_eq!(parse_date("12/3/2026 1:05:09 PM"), Some(t));
        assert_eq!(parse_date("2026-12-03T13:05:09Z"), Some(t));
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn every_cmdlet_has_unique_parameters_and_positional_names_it_knows() {
        for c in CMDLETS {
            for (i, a) in c.params.iter().enumerate() {
                assert!(!c.params[i + 1..].iter().any(|b| b.name == a.name), "{}", c.name);
            }
            for pos in c.positional {
                assert!(c.params.iter().any(|s| s.name == *pos), "{} {pos}", c.name);
            }
        }
    }
}
