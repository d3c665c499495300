//! Setting the forest up before the steps: fixtures, accounts and groups, password resets, and
//! for a remote forest the clock and the root key state the scenario starts from.

use adsim_simulator::clock::NtTime;
use adsim_simulator::kds::Effective;
use adsim_simulator::ldif::{LdifChange, LdifRecord};

use super::super::backend::Backend;
use super::super::format::{Action, ModKind, RootKeyState, Scope, Step, Transport, ADMINISTRATOR};
use super::super::ldap::unicode_pwd;
use super::super::setup;
use super::observed::describe_outcome;
use super::Run;

impl Run<'_> {
    /// Fixtures, accounts, groups, password resets, and for a remote forest the clock and root
    /// key the scenario starts from.
    pub(super) async fn populate(&mut self) -> Result<(), String> {
        let s = self.scenario;
        if let Backend::Remote { .. } = self.backend {
            if let Some(t) = &s.forest.start_time {
                let at = NtTime::parse_rfc3339(t).ok_or_else(|| format!("start_time {t:?}"))?;
                self.backend.set_clock(at).await?;
            }
        }
        if !matches!(self.backend, Backend::InProcess { .. }) {
            self.match_root_key_state().await?;
        }
        let mut records = setup::fixture_records(s)?;
        if let Some(map) = &self.map {
            records = records.iter().map(|r| map.apply_record(r)).collect();
        }
        records.extend(setup::account_records(&s.forest, &self.eps)?);
        match self.backend {
            Backend::InProcess { .. } => self.backend.apply_as_system(&records)?,
            Backend::Remote { .. } => self.apply_over_ldap(&records).await?,
            Backend::Peer => {
                self.clear_peer_names(&records).await?;
                self.apply_over_ldap(&records).await?
            }
        }
        for (name, p) in &s.principals {
            if !p.reset_password {
                continue;
            }
            if let Some(opts) = &self.peer {
                // The peer's Administrator is the one of --peer-credentials; other existing
                // accounts (a DC's machine account) only on a disposable peer.
                if p.account.eq_ignore_ascii_case(ADMINISTRATOR) {
                    continue;
                }
                if !opts.reset_passwords {
                    return Err(format!(
                        "principal {name} needs the password of {} reset on the peer (--peer-reset-passwords allows it on a disposable DC)",
                        p.account
                    ));
                }
            }
            let domain = self.eps.domain(p.domain.as_deref())?.0;
            let (dn, _, _) = self.resolve(&p.account, domain).await?;
            let mut c = self.admin_connection(domain, Transport::Ldaps).await?;
            let o = c
                .modify(
                    &dn,
                    vec![(
                        ModKind::Replace,
                        "unicodePwd".into(),
                        vec![unicode_pwd(&p.password.0)],
                    )],
                )
                .await?;
            c.close().await;
            if o.code != 0 {
                return Err(format!(
                    "resetting the password of principal {name}: {}",
                    describe_outcome(&o)
                ));
            }
        }
        Ok(())
    }

    /// A remote forest must already have, or be given, the root key state the scenario wants:
    /// `none` needs a server without keys; `backdated` needs a key usable for new gMSAs now
    /// (UseStartTime at least 10 h 05 min back, docs/notes/gmsa-gkdi.md §1 rule 1) and adds one otherwise;
    /// `immediate` needs that no key is usable yet and adds one effective now if there is none.
    async fn match_root_key_state(&mut self) -> Result<(), String> {
        const WAIT_SECONDS: i64 = 10 * 3600 + 5 * 60;
        let want = self
            .scenario
            .forest
            .kds_root_key
            .unwrap_or(RootKeyState::Backdated);
        let container = format!(
            "CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,{}",
            self.eps.root().base_dn
        );
        let mut c = self.admin_connection(0, Transport::Ldaps).await?;
        let o = c
            .search(
                &container,
                Scope::One,
                "(objectClass=msKds-ProvRootKey)",
                &["msKds-UseStartTime".to_string()],
            )
            .await?;
        c.close().await;
        let starts: Vec<u64> = o
            .entries
            .iter()
            .filter_map(|e| e.get("msKds-UseStartTime")?.first().cloned())
            .filter_map(|v| String::from_utf8(v).ok()?.parse().ok())
            .collect();
        let now = self.backend.now().await?;
        let usable_from = now.saturating_add_seconds(-WAIT_SECONDS);
        let any_usable = starts.iter().any(|s| *s <= usable_from.0);
        match want {
            RootKeyState::None if !o.entries.is_empty() => Err(format!(
                "the scenario starts without a KDS root key, and the server has {}",
                o.entries.len()
            )),
            RootKeyState::Immediate if any_usable => Err(
                "the scenario starts with a root key effective now, and the server already has one usable for new gMSAs"
                    .into(),
            ),
            RootKeyState::Immediate if o.entries.is_empty() => self.add_key(Effective::Immediately).await,
            // As `adsim serve --kds-root-key backdated`: usable for gMSAs at once.
            RootKeyState::Backdated if !any_usable => self.add_key(Effective::At(usable_from)).await,
            _ => Ok(()),
        }
    }

    /// Before a peer run: objects the scenario is about to add (set-up records and the adds
    /// and New-ADServiceAccount steps), and accounts with the same sAMAccountName, are removed
    /// from the peer, so a rerun (or a provisioning script's account of the same name) does
    /// not collide.
    async fn clear_peer_names(&self, records: &[LdifRecord]) -> Result<(), String> {
        let mut dns: Vec<String> = Vec::new();
        let mut sams: Vec<String> = Vec::new();
        for r in records {
            if let LdifRecord::Content { dn, attrs }
            | LdifRecord::Change {
                dn,
                change: LdifChange::Add(attrs),
                ..
            } = r
            {
                dns.push(dn.clone());
                sams.extend(
                    attrs
                        .iter()
                        .filter(|(n, _)| n.eq_ignore_ascii_case("sAMAccountName"))
                        .filter_map(|(_, v)| String::from_utf8(v.clone()).ok()),
                );
            }
        }
        for table in &self.scenario.steps {
            let Some(map) = &self.map else { break };
            let Ok(step) = self
                .vars
                .substitute_table(&map.apply_table(table))
                .and_then(|t| Step::from_table(&t))
            else {
                continue;
            };
            match step.action {
                Action::Add { dn, .. } => dns.push(dn),
                Action::NewServiceAccount(p) => {
                    let base = &self.eps.root().base_dn;
                    let cmdlet = crate::cmdlets::NewServiceAccount {
                        name: p.name.clone(),
                        ..Default::default()
                    };
                    dns.push(cmdlet.dn(base));
                    sams.push(format!("{}$", p.name));
                }
                _ => {}
            }
        }
        let mut c = self.admin_connection(0, Transport::Ldaps).await?;
        let base = self.eps.root().base_dn.clone();
        for sam in &sams {
            let filter = format!("(sAMAccountName={})", ldap3::ldap_escape(sam));
            let o = c.search(&base, Scope::Sub, &filter, &[]).await?;
            for e in o.entries.iter().take(10) {
                dns.push(e.dn.clone());
            }
        }
        for dn in &dns {
            self.remove_existing(&mut c, dn).await?;
        }
        c.close().await;
        Ok(())
    }

    async fn add_key(&self, e: Effective) -> Result<(), String> {
        let (o, _) = self.backend.add_kds_root_key(e).await?;
        if o.code != 0 {
            return Err(format!("adding the KDS root key: {}", describe_outcome(&o)));
        }
        Ok(())
    }

    async fn apply_over_ldap(&self, records: &[LdifRecord]) -> Result<(), String> {
        for r in records {
            let domain = self.eps.domain_of_dn(r.dn());
            let mut c = self.admin_connection(domain, Transport::Ldaps).await?;
            let group = |pairs: &[(String, Vec<u8>)]| {
                let mut out: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
                for (n, v) in pairs {
                    match out.iter_mut().find(|(x, _)| x.eq_ignore_ascii_case(n)) {
                        Some((_, vs)) => vs.push(v.clone()),
                        None => out.push((n.clone(), vec![v.clone()])),
                    }
                }
                out
            };
            let o = match r {
                LdifRecord::Content { dn, attrs }
                | LdifRecord::Change {
                    dn,
                    change: LdifChange::Add(attrs),
                    ..
                } => c.add(dn, group(attrs)).await?,
                LdifRecord::Change {
                    dn,
                    change: LdifChange::Delete,
                    ..
                } => c.delete(dn).await?,
                LdifRecord::Change {
                    dn,
                    change: LdifChange::Modify(mods),
                    ..
                } => {
                    let mut changes = Vec::new();
                    for m in mods {
                        let kind = match m.op {
                            adsim_simulator::ldif::ModOp::Add => ModKind::Add,
                            adsim_simulator::ldif::ModOp::Delete => ModKind::Delete,
                            adsim_simulator::ldif::ModOp::Replace => ModKind::Replace,
                            adsim_simulator::ldif::ModOp::Increment => {
                                return Err(format!("{dn}: increment is not supported over LDAP setup"))
                            }
                        };
                        changes.push((kind, m.attr.clone(), m.values.clone()));
                    }
                    c.modify(dn, changes).await?
                }
                LdifRecord::Change { dn, .. } => {
                    return Err(format!("{dn}: modrdn records are not supported over LDAP setup"))
                }
            };
            c.close().await;
            if o.code != 0 {
                return Err(format!("setup {}: {}", r.dn(), describe_outcome(&o)));
            }
            if let (
                Some(_),
                LdifRecord::Content { dn, .. }
                | LdifRecord::Change {
                    dn,
                    change: LdifChange::Add(_),
                    ..
                },
            ) = (&self.peer, r)
            {
                self.created
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(dn.clone());
            }
        }
        Ok(())
    }
}
