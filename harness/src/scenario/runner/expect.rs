//! Checking a step's expectations against what it observed, and capturing values.

use adsim_simulator::security::Sid;

use super::super::duration::{format_ticks, parse_seconds};
use super::super::format::{CodeSpec, Expect, Step};
use super::super::kerberos::error_name;
use super::super::ldap::result_code_by_name;
use super::super::report::Mismatch;
use super::observed::{
    describe_code, describe_outcome, fingerprint, render_value, utf16_hex, Kind, Observed,
};
use super::Run;

impl Run<'_> {
    /// Compares what was observed with what the step expects.
    pub(super) async fn check(&self, e: &Expect, obs: &Observed) -> Vec<Mismatch> {
        let mut out = Vec::new();
        let mut push = |what: &str, expected: String, actual: String| {
            out.push(Mismatch {
                what: what.to_string(),
                expected,
                actual,
            })
        };
        if matches!(obs.kind, Kind::Ldap | Kind::Compare) {
            let o = obs.ldap.clone().unwrap_or_default();
            let want = match &e.result {
                None if obs.kind == Kind::Compare => Ok(6),
                None => Ok(0),
                Some(CodeSpec::Number(n)) => u32::try_from(*n).map_err(|_| format!("result {n}")),
                Some(CodeSpec::Name(n)) => {
                    result_code_by_name(n).ok_or_else(|| format!("unknown result name {n:?}"))
                }
            };
            match want {
                Ok(w) if w != o.code => push("result code", describe_code(w), describe_outcome(&o)),
                Ok(_) => {}
                Err(msg) => push("result code", msg, describe_outcome(&o)),
            }
            if let Some(prefix) = &e.diagnostic {
                if !o
                    .diagnostic
                    .to_ascii_lowercase()
                    .starts_with(&prefix.to_ascii_lowercase())
                {
                    push(
                        "diagnostic",
                        format!("starts with {prefix:?}"),
                        format!("{:?}", o.diagnostic),
                    );
                }
            }
            if let Some(n) = e.entries {
                if o.entries.len() != n {
                    push("entries", n.to_string(), o.entries.len().to_string());
                }
            }
            let entry = o.entries.first();
            let needs_entry = !e.present.is_empty() || !e.absent.is_empty() || !e.values.is_empty();
            match entry {
                None if needs_entry => push("entry", "an entry".into(), "no entry returned".into()),
                None => {}
                Some(entry) => {
                    let names: Vec<&str> = entry.attrs.iter().map(|(n, _)| n.as_str()).collect();
                    for a in &e.present {
                        if entry.get(a).is_none() {
                            push(
                                &format!("attribute {a}"),
                                "present".into(),
                                format!("absent (entry has {})", names.join(", ")),
                            );
                        }
                    }
                    for a in &e.absent {
                        if entry.get(a).is_some() {
                            push(&format!("attribute {a}"), "absent".into(), "present".into());
                        }
                    }
                    for (a, want) in &e.values {
                        let got: Vec<String> = entry
                            .get(a)
                            .map(|vs| vs.iter().map(|v| render_value(a, v)).collect())
                            .unwrap_or_default();
                        let norm = |v: &[String]| {
                            let mut x: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
                            x.sort();
                            x
                        };
                        if norm(want) != norm(&got) {
                            push(&format!("values of {a}"), format!("{want:?}"), format!("{got:?}"));
                        }
                    }
                }
            }
        }
        self.check_password(e, obs, &mut out);
        if obs.kind == Kind::Kerberos {
            let want = e.krb_error_code();
            let show = |c: Option<i32>| match c {
                None => "a ticket".to_string(),
                Some(c) => format!("KRB-ERROR {c} {}", error_name(c)),
            };
            match want {
                Ok(w) if w != obs.krb_error => out.push(Mismatch {
                    what: "Kerberos answer".into(),
                    expected: show(w),
                    actual: show(obs.krb_error),
                }),
                Ok(_) => {}
                Err(msg) => out.push(Mismatch {
                    what: "Kerberos answer".into(),
                    expected: msg,
                    actual: show(obs.krb_error),
                }),
            }
        }
        if !e.groups_include.is_empty() || !e.groups_exclude.is_empty() {
            out.extend(self.check_groups(e, obs).await);
        }
        out
    }

    fn check_password(&self, e: &Expect, obs: &Observed, out: &mut Vec<Mismatch>) {
        let wants = e.password_equals.is_some()
            || e.password_differs.is_some()
            || e.previous_equals.is_some()
            || e.previous.is_some()
            || e.query_interval.is_some()
            || e.unchanged_interval.is_some();
        if !wants {
            return;
        }
        let mut push = |what: &str, expected: String, actual: String| {
            out.push(Mismatch {
                what: what.into(),
                expected,
                actual,
            })
        };
        let Some(blob) = &obs.blob else {
            push(
                "managed password",
                "msDS-ManagedPassword returned".into(),
                "not returned".into(),
            );
            return;
        };
        let current = utf16_hex(&blob.current);
        let previous = blob.previous.as_deref().map(utf16_hex);
        let var = |name: &str| self.vars.get(name).map(str::to_string);
        let show = |v: Option<&String>| v.map_or("none".to_string(), |x| fingerprint(x));
        if let Some(name) = &e.password_equals {
            match var(name) {
                Some(v) if v == current => {}
                v => push(
                    "current password",
                    format!("equal to ${{{name}}} ({})", show(v.as_ref())),
                    fingerprint(&current),
                ),
            }
        }
        if let Some(name) = &e.password_differs {
            match var(name) {
                Some(v) if v != current => {}
                v => push(
                    "current password",
                    format!("different from ${{{name}}} ({})", show(v.as_ref())),
                    fingerprint(&current),
                ),
            }
        }
        if let Some(name) = &e.previous_equals {
            let v = var(name);
            if v.is_none() || v != previous {
                push(
                    "previous password",
                    format!("equal to ${{{name}}} ({})", show(v.as_ref())),
                    show(previous.as_ref()),
                );
            }
        }
        if let Some(p) = &e.previous {
            let has = previous.is_some();
            if (p == "present") != has {
                push(
                    "previous password",
                    p.clone(),
                    if has { "present" } else { "absent" }.into(),
                );
            }
        }
        // The blob's intervals, to the second (a running clock moves between steps).
        for (what, want, got) in [
            ("query password interval", &e.query_interval, blob.query_interval),
            (
                "unchanged password interval",
                &e.unchanged_interval,
                blob.unchanged_interval,
            ),
        ] {
            let Some(want) = want else { continue };
            let Ok(secs) = parse_seconds(want) else { continue };
            let want_ticks = i128::from(secs) * 10_000_000;
            if (want_ticks - i128::from(got)).abs() > 10_000_000 {
                push(what, want.clone(), format_ticks(got));
            }
        }
    }

    async fn check_groups(&self, e: &Expect, obs: &Observed) -> Vec<Mismatch> {
        let mut out = Vec::new();
        let Some((domain_sid, groups)) = &obs.pac_groups else {
            out.push(Mismatch {
                what: "ticket groups".into(),
                expected: "a service ticket with a PAC (a kerberos_tgs step that succeeds)".into(),
                actual: obs.lines.join("; "),
            });
            return out;
        };
        for (include, list) in [(true, &e.groups_include), (false, &e.groups_exclude)] {
            for g in list {
                let sid = match self.group_sid(g, domain_sid, obs.ticket_domain).await {
                    Ok(s) => s,
                    Err(err) => {
                        out.push(Mismatch {
                            what: format!("ticket group {g}"),
                            expected: "a known group".into(),
                            actual: err,
                        });
                        continue;
                    }
                };
                if groups.contains(&sid) != include {
                    out.push(Mismatch {
                        what: format!("ticket group {g} ({sid})"),
                        expected: if include { "in the PAC" } else { "not in the PAC" }.into(),
                        actual: if include { "missing" } else { "present" }.into(),
                    });
                }
            }
        }
        out
    }

    /// A group given as a SID, a RID of the client's domain, or a name.
    async fn group_sid(&self, g: &str, domain_sid: &Sid, domain: usize) -> Result<Sid, String> {
        if g.starts_with("S-") {
            return g.parse::<Sid>().map_err(|e| format!("{g}: {e:?}"));
        }
        if let Ok(rid) = g.parse::<u32>() {
            return Ok(domain_sid.with_rid(rid));
        }
        let (_, sid, _) = self.resolve(g, domain).await?;
        sid.ok_or_else(|| format!("{g} has no objectSid"))
    }

    /// Stores the step's values in variables; a value that is not there is a mismatch.
    pub(super) fn capture(&mut self, step: &Step, obs: &Observed) -> Vec<Mismatch> {
        let mut out = Vec::new();
        if let Some(var) = &step.capture {
            match &obs.value {
                Some(v) => self.vars.set(var, v.clone()),
                None => out.push(Mismatch {
                    what: format!("capture {var}"),
                    expected: "a value to capture".into(),
                    actual: "the step returned none".into(),
                }),
            }
        }
        if let Some(var) = &step.capture_previous {
            match obs.blob.as_ref().and_then(|b| b.previous.as_deref()) {
                Some(p) => self.vars.set(var, utf16_hex(p)),
                None => out.push(Mismatch {
                    what: format!("capture_previous {var}"),
                    expected: "a previous managed password".into(),
                    actual: "none returned".into(),
                }),
            }
        }
        let entry = obs.ldap.as_ref().and_then(|o| o.entries.first());
        for (var, attr) in &step.captures {
            match entry.and_then(|e| e.get(attr)).and_then(|v| v.first()) {
                Some(v) => self.vars.set(var, render_value(attr, v)),
                None => out.push(Mismatch {
                    what: format!("capture {var} from {attr}"),
                    expected: format!("{attr} in the first entry"),
                    actual: "absent".into(),
                }),
            }
        }
        out
    }
}
