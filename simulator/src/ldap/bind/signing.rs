//! The DC's LDAP signing policy ("Domain controller: LDAP server signing requirements", the
//! `LDAPServerIntegrity` registry value): which completed binds it refuses, one table row per
//! rule (docs/fidelity.md, docs/notes/windows-behaviour.md row 19).

use crate::dsa::error::code;
use crate::ldap::codec::LdapResult;

/// "Domain controller: LDAP server signing requirements".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LdapSigning {
    /// None (`LDAPServerIntegrity` 1, AD's default): every bind the mechanisms accept.
    #[default]
    None,
    /// Require signing (`LDAPServerIntegrity` 2): without TLS, a bind must negotiate a SASL
    /// integrity (or confidentiality) layer.
    Required,
}

impl LdapSigning {
    /// The name `--ldap-signing` and the ready line use.
    pub fn name(self) -> &'static str {
        match self {
            LdapSigning::None => "none",
            LdapSigning::Required => "required",
        }
    }
}

/// The connection a bind completes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// Plain LDAP (no StartTLS).
    Plain,
    /// LDAPS, or plain LDAP after StartTLS.
    Tls,
}

impl Channel {
    pub fn of(tls: bool) -> Channel {
        if tls {
            Channel::Tls
        } else {
            Channel::Plain
        }
    }
}

/// What a bind the mechanism accepted would establish, as the policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Established {
    /// A simple bind without a password (anonymous or unauthenticated, RFC 4513 §5.1).
    Anonymous,
    /// A simple bind with a password.
    Simple,
    /// A SASL or Sicily bind that negotiated no security layer.
    SaslNoLayer,
    /// A SASL bind whose layer signs or seals every later PDU.
    SaslLayer,
}

/// The binds a policy refuses, one row per rule; every other bind completes.
const REFUSED: &[(LdapSigning, Channel, Established)] = &[
    // Row 19: a simple bind in clear text ("LDAP simple binds not using SSL are rejected").
    (LdapSigning::Required, Channel::Plain, Established::Simple),
    // ADV190023 / event 2886: "SASL (Negotiate, Kerberos, NTLM, or Digest) LDAP binds that do
    // not request signing (integrity verification)"; TLS already protects the connection.
    (LdapSigning::Required, Channel::Plain, Established::SaslNoLayer),
];

/// AD's refusal (docs/notes/windows-behaviour.md row 19).
fn integrity_required() -> LdapResult {
    LdapResult::new(
        code::STRONGER_AUTH_REQUIRED,
        "00002028: LdapErr: DSID-0C090256, comment: The server requires binds to turn on integrity checking if SSL\\TLS are not already active on the connection, data 0, v3839\u{0}",
    )
}

/// The policy's verdict on a bind the mechanism accepted: `Err` with the answer to send when
/// the policy refuses it.
pub fn check(policy: LdapSigning, channel: Channel, bind: Established) -> Result<(), LdapResult> {
    if REFUSED.contains(&(policy, channel, bind)) {
        Err(integrity_required())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Established; 4] = [
        Established::Anonymous,
        Established::Simple,
        Established::SaslNoLayer,
        Established::SaslLayer,
    ];

    #[test]
    fn none_refuses_nothing() {
        for channel in [Channel::Plain, Channel::Tls] {
            for bind in ALL {
                assert!(
                    check(LdapSigning::None, channel, bind).is_ok(),
                    "{channel:?} {bind:?}"
                );
            }
        }
    }

    #[test]
    fn required_refuses_unprotected_binds_in_clear_text_only() {
        for bind in ALL {
            assert!(
                check(LdapSigning::Required, Channel::Tls, bind).is_ok(),
                "{bind:?}"
            );
        }
        for bind in [Established::Anonymous, Established::SaslLayer] {
            assert!(
                check(LdapSigning::Required, Channel::Plain, bind).is_ok(),
                "{bind:?}"
            );
        }
        for bind in [Established::Simple, Established::SaslNoLayer] {
            let refused = check(LdapSigning::Required, Channel::Plain, bind).unwrap_err();
            assert_eq!(refused.code, code::STRONGER_AUTH_REQUIRED);
            assert!(
                refused.diagnostic.starts_with("00002028: LdapErr: DSID-0C090256, comment: The server requires binds to turn on integrity checking if SSL\\TLS are not already active on the connection, data 0, v3839"),
                "{}",
                refused.diagnostic
            );
        }
    }
}
