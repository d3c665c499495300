//! A krb5.conf for clients of the simulated forest (MIT krb5.conf(5)). DNS lookups are off, so
//! clients use exactly the listed KDCs; `rdns = false` stops MIT canonicalizing host names
//! through reverse DNS (docs/notes/client-interop.md §2).

use std::fmt::Write as _;

/// One realm, the `host:port` addresses of its KDCs and of its password service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmKdcs {
    pub realm: String,
    pub kdcs: Vec<String>,
    /// `kpasswd_server` (krb5.conf(5)): where MIT's kpasswd and krb5_change_password go; without
    /// it they try the KDC's host on port 464.
    pub kpasswd: Option<String>,
}

/// Renders krb5.conf. The first realm is the default realm. `domain_realm` maps DNS domains
/// to realms; each domain is written both as itself and as `.domain` (its hosts).
pub fn render(realms: &[RealmKdcs], domain_realm: &[(String, String)]) -> String {
    render_with(realms, domain_realm, &[])
}

/// As `render`, with extra `[libdefaults]` settings such as `kdc_timesync = 0` or
/// `udp_preference_limit = 1`; a setting given here replaces the default of the same name.
pub fn render_with(
    realms: &[RealmKdcs],
    domain_realm: &[(String, String)],
    libdefaults: &[(&str, &str)],
) -> String {
    let mut defaults: Vec<(String, String)> = Vec::new();
    if let Some(first) = realms.first() {
        defaults.push(("default_realm".into(), first.realm.clone()));
    }
    for (k, v) in [
        ("dns_lookup_kdc", "false"),
        ("dns_lookup_realm", "false"),
        ("rdns", "false"),
        ("dns_canonicalize_hostname", "false"),
    ] {
        defaults.push((k.into(), v.into()));
    }
    for (k, v) in libdefaults {
        match defaults.iter_mut().find(|(name, _)| name == k) {
            Some(existing) => existing.1 = v.to_string(),
            None => defaults.push((k.to_string(), v.to_string())),
        }
    }
    let mut out = String::from("[libdefaults]\n");
    for (k, v) in &defaults {
        let _ = writeln!(out, "    {k} = {v}");
    }
    out.push_str("\n[realms]\n");
    for r in realms {
        let _ = writeln!(out, "    {} = {{", r.realm);
        for kdc in &r.kdcs {
            let _ = writeln!(out, "        kdc = {kdc}");
        }
        if let Some(k) = &r.kpasswd {
            let _ = writeln!(out, "        kpasswd_server = {k}");
        }
        out.push_str("    }\n");
    }
    out.push_str("\n[domain_realm]\n");
    for (domain, realm) in domain_realm {
        let domain = domain.trim_start_matches('.').to_lowercase();
        let _ = writeln!(out, "    {domain} = {realm}");
        let _ = writeln!(out, "    .{domain} = {realm}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_realms_ports_and_mappings() {
        let text = render_with(
            &[
                RealmKdcs {
                    realm: "CORP.EXAMPLE.TEST".into(),
                    kdcs: vec!["127.0.0.1:50088".into()],
                    kpasswd: Some("127.0.0.1:50464".into()),
                },
                RealmKdcs {
                    realm: "EU.CORP.EXAMPLE.TEST".into(),
                    kdcs: vec!["127.0.0.2:88".into()],
                    kpasswd: None,
                },
            ],
            &[("Corp.Example.Test".into(), "CORP.EXAMPLE.TEST".into())],
            &[("kdc_timesync", "0"), ("rdns", "true")],
        );
        assert!(text.contains("default_realm = CORP.EXAMPLE.TEST\n"));
        assert!(text.contains("dns_lookup_kdc = false\n"));
        assert!(text.contains("dns_lookup_realm = false\n"));
        assert!(text.contains("rdns = true\n") && !text.contains("rdns = false"));
        assert!(text.contains("kdc_timesync = 0\n"));
        assert!(text.contains(
            "CORP.EXAMPLE.TEST = {\n        kdc = 127.0.0.1:50088\n        kpasswd_server = 127.0.0.1:50464\n    }"
        ));
        assert!(text.contains("EU.CORP.EXAMPLE.TEST = {\n        kdc = 127.0.0.2:88\n    }"));
        assert!(text.contains("kdc = 127.0.0.2:88"));
        assert!(text.contains(
            "    corp.example.test = CORP.EXAMPLE.TEST\n    .corp.example.test = CORP.EXAMPLE.TEST\n"
        ));
    }
}
