//! The Default Domain Policy and the part of SYSVOL it lives in: the domain Kerberos policy.
//!
//! A Group Policy object is two halves (MS-GPOL 1.3): the group policy container in the
//! directory (`CN={31B2F340-016D-11D2-945F-00C04FB984F9},CN=Policies,CN=System,<domain>`, class
//! groupPolicyContainer, whose gPCFileSysPath names the other half) and the group policy
//! template on the DC's SYSVOL share. The Kerberos policy is the `[Kerberos Policy]` section of
//! the template's `MACHINE\Microsoft\Windows NT\SecEdit\GptTmpl.inf` (MS-GPSB 2.2.2: MaxTicketAge
//! in hours, MaxRenewAge in days, MaxServiceAge and MaxClockSkew in minutes, TicketValidateClient).
//! The KDC applies it (MS-KILE 3.3.1, 3.3.3, 3.3.4.1: a configuration change is read again).
//!
//! SYSVOL's files are held with the forest's state ([`Sysvol`], in snapshots and data
//! directories); adsim writes only the sections it models: `[System Access]` is not written,
//! since the domain NC head is where the DC reads the password policy (`password_policy`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::error::code;
use super::request::{ModOp, Modification};
use super::{Caller, Directory, DsError, DsResult};
use crate::model::Dn;

/// The Default Domain Policy's name, the same in every domain (MS-ADTS 6.1.1.2.x; MS-GPOL).
pub const DEFAULT_DOMAIN_POLICY: &str = "{31B2F340-016D-11D2-945F-00C04FB984F9}";

/// The Security client-side extension and its snap-in, as gPCMachineExtensionNames lists them
/// on a new domain's Default Domain Policy (MS-GPSB 2.1: the CSE GUID).
pub const SECURITY_EXTENSIONS: &str = "[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{53D6AB1B-2488-11D1-A28C-00C04FB94F17}][{827D319E-6EAC-11D2-A4EA-00C04F79F83A}{803E14A0-B4FB-11D0-A0D0-00A0C9F4D88C}][{B1BE8D72-6EAC-11D2-A4EA-00C04F79F83A}{53D6AB1B-2488-11D1-A28C-00C04FB94F17}]";

/// SYSVOL's files by path below the share (`corp.example.test/Policies/{…}/GPT.INI`), as text.
/// Cloning is O(1), as the rest of the directory's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sysvol(Arc<BTreeMap<String, String>>);

impl Sysvol {
    pub fn from_files(files: BTreeMap<String, String>) -> Sysvol {
        Sysvol(Arc::new(files))
    }

    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn get(&self, path: &str) -> Option<&str> {
        self.0.get(path).map(String::as_str)
    }

    pub fn put(&mut self, path: String, text: String) {
        Arc::make_mut(&mut self.0).insert(path, text);
    }
}

/// The policy's folder below SYSVOL's share, for the domain `dns`.
fn policy_folder(dns: &str) -> String {
    format!("{}/Policies/{DEFAULT_DOMAIN_POLICY}", dns.to_ascii_lowercase())
}

/// Where GptTmpl.inf lives below the share (MS-GPSB 2.2: `MACHINE\Microsoft\Windows NT\SecEdit`).
pub fn gpt_tmpl_path(dns: &str) -> String {
    format!(
        "{}/MACHINE/Microsoft/Windows NT/SecEdit/GptTmpl.inf",
        policy_folder(dns)
    )
}

/// GPT.INI, whose Version the Group Policy engine compares with the container's versionNumber.
pub fn gpt_ini_path(dns: &str) -> String {
    format!("{}/GPT.INI", policy_folder(dns))
}

/// The gPCFileSysPath of the domain `dns`'s Default Domain Policy.
pub fn file_sys_path(dns: &str) -> String {
    format!(
        "\\\\{dns}\\SysVol\\{dns}\\Policies\\{DEFAULT_DOMAIN_POLICY}",
        dns = dns.to_ascii_lowercase()
    )
}

/// The group policy container's DN in the domain whose NC head is `domain`.
pub fn container_dn(domain: &Dn) -> Dn {
    domain
        .child("CN", "System")
        .child("CN", "Policies")
        .child("CN", DEFAULT_DOMAIN_POLICY)
}

/// The `[Kerberos Policy]` section (MS-GPSB 2.2.2). Zero in an age means "never expires".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KerberosPolicy {
    /// "Maximum lifetime for user ticket", hours (0–99,999).
    pub max_ticket_age_hours: u32,
    /// "Maximum lifetime for user ticket renewal", days (0–99,999).
    pub max_renew_age_days: u32,
    /// "Maximum lifetime for service ticket", minutes (10 to MaxTicketAge, or 0).
    pub max_service_age_minutes: u32,
    /// "Maximum tolerance for computer clock synchronization", minutes (0–99,999).
    pub max_clock_skew_minutes: u32,
    /// "Enforce user logon restrictions".
    pub ticket_validate_client: bool,
}

impl Default for KerberosPolicy {
    /// A new domain's Default Domain Policy (MS-GPSB 2.2.2's defaults; Microsoft Learn,
    /// "Kerberos Policy": 10 hours, 7 days, 600 minutes, 5 minutes, enabled).
    fn default() -> Self {
        KerberosPolicy {
            max_ticket_age_hours: 10,
            max_renew_age_days: 7,
            max_service_age_minutes: 600,
            max_clock_skew_minutes: 5,
            ticket_validate_client: true,
        }
    }
}

/// ERROR_INVALID_PARAMETER (MS-ERREF 2.2): what the policy editor's write reports for a
/// value out of range.
const ERROR_INVALID_PARAMETER: u32 = 87;

/// The largest value of a setting (MS-GPSB 2.2.2: `Value = 1*5DIGIT`).
pub const MAX_SETTING: u32 = 99_999;

/// The section's keys, as MS-GPSB 2.2.2 spells them, in the order secedit writes them.
const KEYS: [&str; 5] = [
    "MaxTicketAge",
    "MaxRenewAge",
    "MaxServiceAge",
    "MaxClockSkew",
    "TicketValidateClient",
];

impl KerberosPolicy {
    /// A TGT's longest life in seconds (`None`: no limit).
    pub fn max_ticket_seconds(&self) -> Option<i64> {
        nonzero(self.max_ticket_age_hours, 3600)
    }

    /// The longest renew-till from the AS request, in seconds.
    pub fn max_renew_seconds(&self) -> Option<i64> {
        nonzero(self.max_renew_age_days, 86_400)
    }

    /// A service ticket's longest life, in seconds.
    pub fn max_service_seconds(&self) -> Option<i64> {
        nonzero(self.max_service_age_minutes, 60)
    }

    /// The clock skew tolerated, in seconds (0 is no tolerance at all).
    pub fn max_clock_skew_seconds(&self) -> i64 {
        i64::from(self.max_clock_skew_minutes) * 60
    }

    /// The value of a key (MS-GPSB 2.2.2).
    fn value(&self, key: &str) -> u32 {
        match key {
            "MaxTicketAge" => self.max_ticket_age_hours,
            "MaxRenewAge" => self.max_renew_age_days,
            "MaxServiceAge" => self.max_service_age_minutes,
            "MaxClockSkew" => self.max_clock_skew_minutes,
            _ => u32::from(self.ticket_validate_client),
        }
    }

    fn set_value(&mut self, key: &str, v: u32) {
        match key {
            "MaxTicketAge" => self.max_ticket_age_hours = v,
            "MaxRenewAge" => self.max_renew_age_days = v,
            "MaxServiceAge" => self.max_service_age_minutes = v,
            "MaxClockSkew" => self.max_clock_skew_minutes = v,
            _ => self.ticket_validate_client = v != 0,
        }
    }

    /// The rules MS-GPSB 2.2.2 and the policy editor hold a value to: at most five digits;
    /// MaxServiceAge 10 minutes or more and no longer than MaxTicketAge (0 = never expires).
    pub fn validate(&self) -> Result<(), String> {
        for key in KEYS {
            if self.value(key) > MAX_SETTING {
                return Err(format!("{key} must be between 0 and {MAX_SETTING}"));
            }
        }
        let service = self.max_service_age_minutes;
        if service != 0 && service < 10 {
            return Err("MaxServiceAge must be 10 minutes or more (or 0: never expires)".into());
        }
        let ticket_minutes = u64::from(self.max_ticket_age_hours) * 60;
        if self.max_ticket_age_hours != 0 && (service == 0 || u64::from(service) > ticket_minutes) {
            return Err(format!(
                "MaxServiceAge ({service} minutes) must not exceed MaxTicketAge ({} hours)",
                self.max_ticket_age_hours
            ));
        }
        Ok(())
    }

    /// The policy a GptTmpl.inf states: its `[Kerberos Policy]` section, a key it does not
    /// define keeping the default (MS-GPSB 2.2.2: implementations use the defaults). Lines
    /// that are not `Key = digits` are skipped, as the Security CSE skips them.
    pub fn from_inf(text: &str) -> KerberosPolicy {
        let mut policy = KerberosPolicy::default();
        let mut in_section = false;
        for line in text.lines().map(str::trim) {
            if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                in_section = header.trim().eq_ignore_ascii_case("Kerberos Policy");
                continue;
            }
            let Some((key, value)) = line.split_once('=').filter(|_| in_section) else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            let parsed = (value.len() <= 5 && !value.is_empty())
                .then(|| value.parse::<u32>().ok())
                .flatten();
            if let (Some(k), Some(v)) = (KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)), parsed) {
                policy.set_value(k, v);
            }
        }
        policy
    }

    /// GptTmpl.inf as adsim writes it: the sections secedit writes around the one it models.
    pub fn to_inf(&self) -> String {
        let mut out = String::from("[Unicode]\r\nUnicode=yes\r\n[Kerberos Policy]\r\n");
        for key in KEYS {
            out.push_str(&format!("{key} = {}\r\n", self.value(key)));
        }
        out.push_str("[Version]\r\nsignature=\"$CHICAGO$\"\r\nRevision=1\r\n");
        out
    }
}

impl KerberosPolicy {
    /// The policy as the control API shows it: MS-GPSB 2.2.2's key names and units.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for key in KEYS {
            let v = self.value(key);
            m.insert(
                key.to_string(),
                if key == "TicketValidateClient" {
                    serde_json::Value::Bool(v != 0)
                } else {
                    serde_json::Value::from(v)
                },
            );
        }
        serde_json::Value::Object(m)
    }

    /// This policy with the keys `changes` names (MS-GPSB 2.2.2 names, case-insensitive;
    /// whole numbers in the key's unit, a boolean or 0/1 for TicketValidateClient), checked
    /// with [`KerberosPolicy::validate`]. An unknown key or a bad value changes nothing.
    pub fn changed_by(
        &self,
        changes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<KerberosPolicy, String> {
        let mut out = *self;
        for (name, value) in changes {
            let key = KEYS
                .iter()
                .find(|k| k.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!(
                        "unknown Kerberos policy setting {name:?} (known: {})",
                        KEYS.join(", ")
                    )
                })?;
            let v = match value {
                serde_json::Value::Bool(b) if *key == "TicketValidateClient" => u32::from(*b),
                v => v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("{key} must be a whole number from 0 to {MAX_SETTING}"))?,
            };
            out.set_value(key, v);
        }
        out.validate()?;
        Ok(out)
    }
}

fn nonzero(v: u32, unit: i64) -> Option<i64> {
    (v != 0).then(|| i64::from(v) * unit)
}

/// GPT.INI for a template at `version` (MS-GPOL 2.2.4).
pub fn gpt_ini(version: u32) -> String {
    format!("[General]\r\nVersion={version}\r\n")
}

impl Directory {
    /// The Kerberos policy of domain `domain` (index): its Default Domain Policy's GptTmpl.inf,
    /// or the defaults when SYSVOL has none (a snapshot from before it was modelled).
    pub fn kerberos_policy(&self, domain: usize) -> KerberosPolicy {
        let Some(d) = self.forest.domains.get(domain) else {
            return KerberosPolicy::default();
        };
        let st = self.read();
        st.sysvol
            .get(&gpt_tmpl_path(&d.dns_name))
            .map(KerberosPolicy::from_inf)
            .unwrap_or_default()
    }

    /// Edits domain `domain`'s Kerberos policy as the Group Policy editor does, as `caller`:
    /// the container's versionNumber goes up by one (the computer half's count, MS-GPOL
    /// 2.2.4: the low 16 bits) through an ordinary modify, so the GPO's DACL decides who may
    /// (Domain Admins, Enterprise Admins, SYSTEM), then GptTmpl.inf and GPT.INI are written.
    /// The KDC reads the new values at its next request (MS-KILE 3.3.4.1).
    pub fn set_kerberos_policy(
        &self,
        caller: &Caller,
        domain: usize,
        policy: KerberosPolicy,
    ) -> DsResult<()> {
        let d = self
            .forest
            .domains
            .get(domain)
            .ok_or_else(|| DsError::no_such_object(&format!("domain {domain}")))?
            .clone();
        policy
            .validate()
            .map_err(|why| DsError::new(code::UNWILLING_TO_PERFORM, ERROR_INVALID_PARAMETER, why))?;
        let gpc = container_dn(&d.dn);
        let version = {
            let st = self.read();
            let entry = st
                .store
                .get_by_dn(&gpc)
                .ok_or_else(|| DsError::no_such_object(&gpc.to_string()))?;
            u32::try_from(entry.first_i64("versionNumber").unwrap_or(0)).unwrap_or(0)
        };
        let next = (version & 0xFFFF_0000) | ((version & 0xFFFF) + 1).min(0xFFFF);
        self.modify(
            caller,
            &gpc.to_string(),
            vec![Modification {
                op: ModOp::Replace,
                attr: "versionNumber".into(),
                values: vec![next.to_string().into_bytes()],
            }],
        )?;
        let mut st = self.write();
        st.sysvol.put(gpt_tmpl_path(&d.dns_name), policy.to_inf());
        st.sysvol.put(gpt_ini_path(&d.dns_name), gpt_ini(next));
        st.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_the_template() {
        let p = KerberosPolicy::default();
        let inf = p.to_inf();
        assert!(inf.contains("[Kerberos Policy]\r\nMaxTicketAge = 10\r\nMaxRenewAge = 7\r\nMaxServiceAge = 600\r\nMaxClockSkew = 5\r\nTicketValidateClient = 1\r\n"), "{inf}");
        assert_eq!(KerberosPolicy::from_inf(&inf), p);
        assert_eq!(p.max_ticket_seconds(), Some(36_000));
        assert_eq!(p.max_renew_seconds(), Some(604_800));
        assert_eq!(p.max_service_seconds(), Some(36_000));
        assert_eq!(p.max_clock_skew_seconds(), 300);
    }

    #[test]
    fn only_the_kerberos_section_counts_and_bad_lines_are_skipped() {
        let inf = "[System Access]\nMaxTicketAge = 1\n[kerberos policy]\nMaxTicketAge=2\nMaxClockSkew = x\nMaxRenewAge = 1234567\nMaxServiceAge = 60\n[Version]\nMaxClockSkew = 9\n";
        let p = KerberosPolicy::from_inf(inf);
        assert_eq!(p.max_ticket_age_hours, 2);
        assert_eq!(p.max_clock_skew_minutes, 5, "not a number: the default stays");
        assert_eq!(
            p.max_renew_age_days, 7,
            "more than five digits: the default stays"
        );
        assert_eq!(p.max_service_age_minutes, 60);
    }

    #[test]
    fn json_changes_are_checked_as_a_whole() {
        let p = KerberosPolicy::default();
        let change = |v: serde_json::Value| p.changed_by(v.as_object().unwrap());
        let q = change(serde_json::json!({"maxticketage": 1, "MaxServiceAge": 30})).unwrap();
        assert_eq!((q.max_ticket_age_hours, q.max_service_age_minutes), (1, 30));
        assert_eq!(q.to_json()["MaxTicketAge"], 1);
        assert!(
            change(serde_json::json!({"MaxTicketAge": 1})).is_err(),
            "600 min > 1 h"
        );
        assert!(change(serde_json::json!({"MaxSkew": 1}))
            .unwrap_err()
            .contains("unknown"));
        assert!(change(serde_json::json!({"MaxClockSkew": -1})).is_err());
        assert!(
            !change(serde_json::json!({"TicketValidateClient": false}))
                .unwrap()
                .ticket_validate_client
        );
    }

    #[test]
    fn validation_follows_ms_gpsb() {
        let ok = KerberosPolicy {
            max_ticket_age_hours: 1,
            max_service_age_minutes: 60,
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        let too_long = KerberosPolicy {
            max_service_age_minutes: 61,
            ..ok
        };
        assert!(too_long.validate().unwrap_err().contains("must not exceed"));
        let too_short = KerberosPolicy {
            max_service_age_minutes: 9,
            ..ok
        };
        assert!(too_short.validate().is_err());
        let never = KerberosPolicy {
            max_ticket_age_hours: 0,
            max_service_age_minutes: 0,
            ..ok
        };
        assert!(never.validate().is_ok());
        assert_eq!(never.max_ticket_seconds(), None);
        let huge = KerberosPolicy {
            max_clock_skew_minutes: 100_000,
            ..ok
        };
        assert!(huge.validate().is_err());
    }
}
