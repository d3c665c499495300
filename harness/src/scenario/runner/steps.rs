//! Carrying out a step: LDAP operations as a principal, Kerberos exchanges, clock moves,
//! cmdlet-style changes, root keys and snapshots.

use adsim_simulator::clock::NtTime;
use adsim_simulator::gmsa::ManagedPasswordBlob;
use adsim_simulator::kdc::ticket::logon_info_from_ticket;
use adsim_simulator::kds::Effective;

use super::super::backend::Backend;
use super::super::duration::{format_seconds, format_ticks};
use super::super::format::{Action, Conn, KeyEffective, ModKind, NewServiceAccount, Scope, Step};
use super::super::kerberos::{self, error_name, KdcAnswer};
use super::super::ldap::{unicode_pwd, Outcome};
use super::observed::{fingerprint, format_offset, utf16_hex, Kind, Observed};
use super::{Run, Session};
use crate::{acl, cmdlets};
use adsim_simulator::security::{sddl, AliasDomains, SecurityDescriptor};

/// An LDAP operation on one DN.
enum WriteOp {
    Add(Vec<(String, Vec<Vec<u8>>)>),
    Modify(Vec<(ModKind, String, Vec<Vec<u8>>)>),
    Delete,
    Compare(String, Vec<u8>),
}

impl Run<'_> {
    pub(super) async fn execute(&mut self, step: &Step) -> Result<Observed, String> {
        match &step.action {
            Action::Bind(conn) => {
                let (session, where_) = self.session(conn, None).await?;
                let o = match session {
                    Session::Ready(c) => {
                        c.close().await;
                        Outcome::default()
                    }
                    Session::BindFailed(o) => Outcome {
                        bind_failed: false,
                        ..o
                    },
                };
                Ok(Observed::new(Kind::Ldap, format!("bind {where_}")).with_ldap(o))
            }
            Action::Search {
                conn,
                base,
                scope,
                filter,
                attrs,
            } => {
                let (session, where_) = self.session(conn, Some(base)).await?;
                let summary = format!("search {base} {filter} {where_}");
                let o = match session {
                    Session::Ready(mut c) => {
                        let o = c.search(base, *scope, filter, attrs).await?;
                        c.close().await;
                        o
                    }
                    Session::BindFailed(o) => o,
                };
                let mut obs = Observed::new(Kind::Ldap, summary);
                obs.value = o.entries.first().map(|e| e.dn.clone());
                Ok(obs.with_ldap(o))
            }
            Action::Add { conn, dn, attributes } => {
                let attrs = attributes
                    .iter()
                    .map(|(n, vs)| {
                        let values = vs
                            .iter()
                            .map(|v| {
                                if n.eq_ignore_ascii_case("unicodePwd") {
                                    unicode_pwd(v)
                                } else {
                                    v.as_bytes().to_vec()
                                }
                            })
                            .collect();
                        (n.clone(), values)
                    })
                    .collect();
                self.write_op(conn, dn, "add", WriteOp::Add(attrs)).await
            }
            Action::Modify { conn, dn, changes } => {
                let changes: Vec<_> = changes
                    .iter()
                    .map(|ch| {
                        let values = ch
                            .values
                            .iter()
                            .map(|v| {
                                if ch.attr.eq_ignore_ascii_case("unicodePwd") {
                                    unicode_pwd(v)
                                } else {
                                    v.as_bytes().to_vec()
                                }
                            })
                            .collect();
                        (ch.op, ch.attr.clone(), values)
                    })
                    .collect();
                self.write_op(conn, dn, "modify", WriteOp::Modify(changes)).await
            }
            Action::Delete { conn, dn } => self.write_op(conn, dn, "delete", WriteOp::Delete).await,
            Action::Compare {
                conn,
                dn,
                attr,
                value,
            } => {
                let mut obs = self
                    .write_op(
                        conn,
                        dn,
                        &format!("compare {attr}"),
                        WriteOp::Compare(attr.clone(), value.as_bytes().to_vec()),
                    )
                    .await?;
                obs.kind = Kind::Compare;
                Ok(obs)
            }
            Action::ReadManagedPassword { conn, account } => self.read_managed_password(conn, account).await,
            Action::KerberosAs {
                principal,
                client_offset,
                ticket,
            } => {
                self.kerberos_as(principal, *client_offset, ticket.as_deref())
                    .await
            }
            Action::KerberosTgs {
                tgt,
                spn,
                client_offset,
                ticket,
            } => {
                let wants_groups =
                    !step.expect.groups_include.is_empty() || !step.expect.groups_exclude.is_empty();
                self.kerberos_tgs(tgt, spn, *client_offset, ticket.as_deref(), wants_groups)
                    .await
            }
            Action::ClockAdvance(secs) => {
                let now = self.backend.advance_clock(*secs).await?;
                let mut obs =
                    Observed::new(Kind::Control, format!("clock advance {}", format_seconds(*secs)));
                obs.lines.push(format!("now {}", now.to_rfc3339()));
                obs.value = Some(now.to_rfc3339());
                Ok(obs)
            }
            Action::ClockSet(t) => {
                let at =
                    NtTime::parse_rfc3339(t).ok_or_else(|| format!("clock set: {t:?} is not RFC 3339"))?;
                let now = self.backend.set_clock(at).await?;
                let mut obs = Observed::new(Kind::Control, format!("clock set {t}"));
                obs.value = Some(now.to_rfc3339());
                Ok(obs)
            }
            Action::NewServiceAccount(p) => self.new_service_account(p).await,
            Action::AddGroupMember { conn, group, members } => {
                self.group_change(conn, group, members, ModKind::Add).await
            }
            Action::RemoveGroupMember { conn, group, members } => {
                self.group_change(conn, group, members, ModKind::Delete).await
            }
            Action::AddKdsRootKey(eff) => {
                let (effective, text) = match eff {
                    KeyEffective::Immediately => (Effective::Immediately, "immediately".to_string()),
                    KeyEffective::At(t) => (
                        Effective::At(
                            NtTime::parse_rfc3339(t)
                                .ok_or_else(|| format!("effective {t:?} is not RFC 3339"))?,
                        ),
                        t.clone(),
                    ),
                    KeyEffective::Offset(secs) => {
                        let now = self.backend.now().await?;
                        let at = now.saturating_add_seconds(*secs);
                        (
                            Effective::At(at),
                            format!("{} ({})", format_seconds(*secs), at.to_rfc3339()),
                        )
                    }
                };
                let (o, id) = self.backend.add_kds_root_key(effective).await?;
                let mut obs = Observed::new(Kind::Ldap, format!("Add-KdsRootKey effective {text}"));
                obs.value = id;
                Ok(obs.with_ldap(o))
            }
            Action::Grant {
                conn,
                dn,
                principal,
                rights,
                applies_to,
                revoke,
            } => self.grant(conn, dn, principal, rights, applies_to, *revoke).await,
            Action::SetSd {
                conn,
                dn,
                sddl,
                sd_flags,
            } => self.set_sd(conn, dn, sddl, *sd_flags).await,
            Action::Snapshot(name) => {
                let id = self.backend.snapshot(name).await?;
                let mut obs = Observed::new(Kind::Control, format!("snapshot {name}"));
                obs.value = Some(id);
                Ok(obs)
            }
            Action::KerberosPolicy { domain, changes } => {
                let map: serde_json::Map<String, serde_json::Value> = changes
                    .iter()
                    .map(|(k, v)| (k.to_string(), (*v).into()))
                    .collect();
                let now = self.backend.set_kerberos_policy(domain.as_deref(), &map).await?;
                let text: Vec<String> = changes.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                let mut obs = Observed::new(
                    Kind::Control,
                    format!(
                        "Kerberos policy of {}: {}",
                        domain.as_deref().unwrap_or("the root domain"),
                        text.join(", ")
                    ),
                );
                obs.value = Some(now);
                Ok(obs)
            }
            Action::Restore(name) => {
                self.backend.restore(name).await?;
                let now = self.backend.now().await?;
                let mut obs = Observed::new(Kind::Control, format!("restore {name}"));
                obs.lines.push(format!("clock back at {}", now.to_rfc3339()));
                Ok(obs)
            }
        }
    }

    /// One LDAP write (or compare) on `dn` as the step's principal.
    async fn write_op(&self, conn: &Conn, dn: &str, what: &str, op: WriteOp) -> Result<Observed, String> {
        let added = matches!(op, WriteOp::Add(_));
        let (session, where_) = self.session(conn, Some(dn)).await?;
        let o = match session {
            Session::Ready(mut c) => {
                let o = match op {
                    WriteOp::Add(attrs) => c.add(dn, attrs).await?,
                    WriteOp::Modify(changes) => c.modify(dn, changes).await?,
                    WriteOp::Delete => c.delete(dn).await?,
                    WriteOp::Compare(attr, value) => c.compare(dn, &attr, &value).await?,
                };
                c.close().await;
                o
            }
            Session::BindFailed(o) => o,
        };
        if added && o.code == 0 && self.peer.is_some() {
            self.created
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(dn.to_string());
        }
        let mut obs = Observed::new(Kind::Ldap, format!("{what} {dn} {where_}"));
        obs.value = Some(dn.to_string());
        Ok(obs.with_ldap(o))
    }

    async fn read_managed_password(&self, conn: &Conn, account: &str) -> Result<Observed, String> {
        let default_domain = match &conn.domain {
            Some(d) => self.eps.domain(Some(d))?.0,
            None => 0,
        };
        let (dn, _, _) = self.resolve(account, default_domain).await?;
        let (session, where_) = self.session(conn, Some(&dn)).await?;
        let mut obs = Observed::new(
            Kind::Ldap,
            format!("read msDS-ManagedPassword of {account} {where_}"),
        );
        let o = match session {
            Session::Ready(mut c) => {
                let o = c
                    .search(
                        &dn,
                        Scope::Base,
                        "(objectClass=*)",
                        &["msDS-ManagedPassword".to_string()],
                    )
                    .await?;
                c.close().await;
                o
            }
            Session::BindFailed(o) => o,
        };
        if o.code == 0 {
            match o
                .entries
                .first()
                .and_then(|e| e.get("msDS-ManagedPassword"))
                .and_then(|v| v.first())
            {
                Some(bytes) => {
                    let blob = ManagedPasswordBlob::decode(bytes)
                        .map_err(|e| format!("msDS-ManagedPassword: {e}"))?;
                    let current = utf16_hex(&blob.current);
                    obs.lines.push(format!(
                        "current {}, previous {}, query {}, unchanged {}",
                        fingerprint(&current),
                        blob.previous
                            .as_deref()
                            .map_or("none".to_string(), |p| fingerprint(&utf16_hex(p))),
                        format_ticks(blob.query_interval),
                        format_ticks(blob.unchanged_interval)
                    ));
                    obs.value = Some(current);
                    obs.blob = Some(blob);
                }
                None => obs.lines.push("msDS-ManagedPassword not returned".into()),
            }
        }
        Ok(obs.with_ldap(o))
    }

    async fn kerberos_as(
        &mut self,
        name: &str,
        offset: i64,
        ticket: Option<&str>,
    ) -> Result<Observed, String> {
        let p = self.principal(name)?.clone();
        let password = p
            .password
            .clone()
            .ok_or_else(|| format!("principal {name} has no password"))?;
        let d = &self.eps.domains[p.domain];
        let kdc = self.eps.kdc_addr(p.domain)?;
        let now = self.backend.now().await?;
        let client_time = now.unix_seconds() + offset;
        let mut obs = Observed::new(
            Kind::Kerberos,
            format!(
                "AS-REQ for {}@{} with the client clock {}",
                p.account,
                d.realm,
                format_offset(offset)
            ),
        );
        let answer = kerberos::as_exchange(kdc, &d.realm, &p.account, &password, client_time)
            .await
            .map_err(|e| e.to_string())?;
        self.record_answer(&mut obs, answer, ticket.unwrap_or(name));
        obs.ticket_domain = p.domain;
        Ok(obs)
    }

    fn record_answer(&mut self, obs: &mut Observed, answer: KdcAnswer, store_as: &str) {
        match answer {
            KdcAnswer::Ticket(cred) => {
                obs.lines.push(format!(
                    "ticket for {}@{} (valid until {})",
                    cred.ticket.sname.joined(),
                    cred.ticket.realm,
                    NtTime::from_unix_seconds(cred.enc_part.endtime).to_rfc3339()
                ));
                self.tickets.insert(store_as.to_string(), *cred);
            }
            KdcAnswer::Error(e) => {
                obs.lines
                    .push(format!("KRB-ERROR {} {}", e.error_code, error_name(e.error_code)));
                obs.krb_error = Some(e.error_code);
            }
        }
    }

    async fn kerberos_tgs(
        &mut self,
        tgt_name: &str,
        spn: &str,
        offset: i64,
        ticket: Option<&str>,
        wants_groups: bool,
    ) -> Result<Observed, String> {
        let tgt = self
            .tickets
            .get(tgt_name)
            .cloned()
            .ok_or_else(|| format!("no ticket named {tgt_name:?} (a kerberos_as step stores one)"))?;
        let (domain, d) = self.eps.domain(Some(&tgt.ticket.realm))?;
        let realm = d.realm.clone();
        let kdc = self.eps.kdc_addr(domain)?;
        let now = self.backend.now().await?;
        let mut obs = Observed::new(
            Kind::Kerberos,
            format!(
                "TGS-REQ for {spn} with ticket {tgt_name}, client clock {}",
                format_offset(offset)
            ),
        );
        obs.ticket_domain = self.eps.domain(Some(&tgt.crealm)).map_or(domain, |x| x.0);
        let answer = kerberos::tgs_exchange(kdc, &tgt, spn, now.unix_seconds() + offset)
            .await
            .map_err(|e| e.to_string())?;
        let service_ticket = match &answer {
            KdcAnswer::Ticket(c) => Some(c.ticket.clone()),
            KdcAnswer::Error(_) => None,
        };
        let store_as = ticket.map_or_else(|| format!("{tgt_name}→{spn}"), str::to_string);
        self.record_answer(&mut obs, answer, &store_as);
        if let (Some(_), true, Backend::Peer) = (&service_ticket, wants_groups, &self.backend) {
            obs.lines
                .push("PAC groups not decoded: the peer exports no keytab to open the ticket with".into());
        } else if let (Some(t), true) = (service_ticket, wants_groups) {
            // Open the ticket as the service would, with its keys (the keytab export).
            let keys = self.backend.keytab_keys(spn, &realm).await?;
            let info = logon_info_from_ticket(&t, &keys).map_err(|e| format!("service ticket PAC: {e}"))?;
            let groups = info.group_sids();
            let shown: Vec<String> = groups
                .iter()
                .map(|s| match (s.parent(), s.rid()) {
                    (Some(p), Some(rid)) if p == info.logon_domain_id => rid.to_string(),
                    _ => s.to_string(),
                })
                .collect();
            obs.lines.push(format!(
                "PAC groups (RIDs of {}): {}",
                info.logon_domain_id,
                shown.join(", ")
            ));
            obs.pac_groups = Some((info.logon_domain_id.clone(), groups));
        }
        Ok(obs)
    }

    /// New-ADServiceAccount as the step's principal: the cmdlet's rules and attributes
    /// ([`cmdlets::NewServiceAccount`]), the add sent over LDAP (in process or not), the allowed
    /// principals looked up over LDAP in the account's domain.
    async fn new_service_account(&self, p: &NewServiceAccount) -> Result<Observed, String> {
        let cmdlet = cmdlets::NewServiceAccount {
            name: p.name.clone(),
            dns_host_name: p.dns_host_name.clone(),
            allowed_principals: p.allowed.clone(),
            interval_days: p.interval_days.map(i64::from),
            restrict_to_outbound_only: p.restrict_to_outbound_only,
            service_principal_names: p.spns.clone(),
            ..Default::default()
        };
        cmdlet.check_parameters().map_err(|e| e.to_string())?;
        let (domain, d) = self.eps.domain(p.conn.domain.as_deref())?;
        let dn = cmdlet.dn(&d.base_dn);
        let mut allowed = Vec::new();
        for name in &p.allowed {
            let (_, sid, _) = self.resolve(name, domain).await?;
            allowed.push(sid.ok_or_else(|| format!("{name} has no objectSid"))?);
        }
        let attrs = cmdlet.attributes(&allowed).map_err(|e| e.to_string())?;
        let mut obs = self
            .write_op(&p.conn, &dn, "New-ADServiceAccount", WriteOp::Add(attrs))
            .await?;
        obs.summary = format!(
            "New-ADServiceAccount {} (allowed: {}) {}",
            p.name,
            p.allowed.join(", "),
            obs.summary
                .split_once(" as ")
                .map_or(String::new(), |x| format!("as {}", x.1))
        );
        Ok(obs)
    }

    /// `dsacls`-like grant or revoke over LDAP as the step's principal: the DACL read with the
    /// SD flags control (READ_CONTROL decides), edited by `crate::acl`, written back with
    /// the same control (WRITE_DAC decides).
    async fn grant(
        &self,
        conn: &Conn,
        dn: &str,
        principal: &str,
        rights: &[String],
        applies_to: &str,
        revoke: bool,
    ) -> Result<Observed, String> {
        let parsed: Vec<acl::Right> = rights
            .iter()
            .map(|r| acl::Right::parse_list(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?
            .concat();
        let applies = acl::AppliesTo::parse(applies_to).map_err(|e| e.to_string())?;
        let (_, sid, _) = self.resolve(principal, self.eps.domain_of_dn(dn)).await?;
        let sid = sid.ok_or_else(|| format!("{principal} has no objectSid"))?;
        let verb = if revoke { "revoke" } else { "grant" };
        let (session, where_) = self.session(conn, Some(dn)).await?;
        let mut obs = Observed::new(
            Kind::Ldap,
            format!(
                "{verb} {principal} {} on {dn} ({applies_to}) {where_}",
                rights.join(",")
            ),
        );
        obs.value = Some(dn.to_string());
        let o = match session {
            Session::Ready(mut c) => {
                let (o, raw) = c.read_sd(dn, acl::DACL_ONLY).await?;
                let o = match (o.code, raw) {
                    (0, Some(raw)) => {
                        let mut sd = SecurityDescriptor::from_bytes(&raw)
                            .map_err(|e| format!("nTSecurityDescriptor of {dn}: {e}"))?;
                        if revoke {
                            let n = acl::revoke(&mut sd, &sid, &parsed, applies);
                            obs.lines.push(format!("{n} ACE(s) removed"));
                        } else {
                            acl::grant(&mut sd, acl::allow_aces(&sid, &parsed, applies));
                        }
                        let bytes = sd.to_bytes().map_err(|e| e.to_string())?;
                        c.write_sd(dn, bytes, acl::DACL_ONLY).await?
                    }
                    // READ_CONTROL refused: AD leaves the value out; there is nothing to edit.
                    (0, None) => {
                        c.close().await;
                        return Err(format!(
                            "{verb}: nTSecurityDescriptor of {dn} not returned to {} (no READ_CONTROL)",
                            conn.principal
                        ));
                    }
                    _ => o,
                };
                c.close().await;
                o
            }
            Session::BindFailed(o) => o,
        };
        Ok(obs.with_ldap(o))
    }

    /// nTSecurityDescriptor from SDDL (aliases such as DA resolve in `dn`'s domain) written
    /// with the SD flags control: `sd_flags`, else the parts the text has.
    async fn set_sd(
        &self,
        conn: &Conn,
        dn: &str,
        text: &str,
        sd_flags: Option<u32>,
    ) -> Result<Observed, String> {
        let domain = self.eps.domain_of_dn(dn);
        let sid_of = |d: usize| {
            let base = self.eps.domains[d].base_dn.clone();
            async move {
                self.resolve(&base, d)
                    .await?
                    .1
                    .ok_or_else(|| format!("{base} has no objectSid"))
            }
        };
        let ctx = AliasDomains::child(sid_of(domain).await?, sid_of(0).await?);
        let sd = sddl::parse(text, &ctx).map_err(|e| format!("sddl: {e}"))?;
        let flags = sd_flags.unwrap_or_else(|| acl::sddl_parts(&sd));
        let bytes = sd.to_bytes().map_err(|e| e.to_string())?;
        let (session, where_) = self.session(conn, Some(dn)).await?;
        let mut obs = Observed::new(
            Kind::Ldap,
            format!("set nTSecurityDescriptor (SD flags {flags:#x}) of {dn} {where_}"),
        );
        obs.value = Some(dn.to_string());
        let o = match session {
            Session::Ready(mut c) => {
                let o = c.write_sd(dn, bytes, flags).await?;
                c.close().await;
                o
            }
            Session::BindFailed(o) => o,
        };
        Ok(obs.with_ldap(o))
    }

    async fn group_change(
        &self,
        conn: &Conn,
        group: &str,
        members: &[String],
        op: ModKind,
    ) -> Result<Observed, String> {
        let default_domain = match &conn.domain {
            Some(d) => self.eps.domain(Some(d))?.0,
            None => 0,
        };
        let (group_dn, _, group_domain) = self.resolve(group, default_domain).await?;
        let mut values = Vec::new();
        for m in members {
            values.push(self.resolve(m, group_domain).await?.0.into_bytes());
        }
        let verb = if op == ModKind::Add {
            "Add-ADGroupMember"
        } else {
            "Remove-ADGroupMember"
        };
        let mut obs = self
            .write_op(
                conn,
                &group_dn,
                verb,
                WriteOp::Modify(vec![(op, "member".into(), values)]),
            )
            .await?;
        obs.summary = format!(
            "{verb} {group} {} {}",
            members.join(", "),
            obs.summary
                .split_once(" as ")
                .map_or(String::new(), |x| format!("as {}", x.1))
        );
        Ok(obs)
    }
}
