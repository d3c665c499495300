//! kpasswd as a retrying client and a skewed one meet it (issue 15): impacket builds the
//! request and reads the replies (tests/scripts/kpasswd_udp.py); the identical UDP datagram
//! sent again gets the identical reply (RFC 3244 over UDP, retransmitted as MIT's krb5_sendto
//! does), and the authenticator's tolerated skew is the domain's Kerberos policy MaxClockSkew,
//! changed at run time through the control API, as the KDC's is (MS-KILE 3.3.4.1).

use std::process::Command;

use crate::common::{text, Adsim};
use crate::e2e_kpasswd::{add_users, binds, ALICE_PW};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/kpasswd_udp.py");

/// KRB_AP_ERR_SKEW (RFC 4120 §7.5.9).
const KRB_AP_ERR_SKEW: &str = "37";

fn port(addr: &str) -> &str {
    addr.rsplit_once(':').unwrap().1
}

/// The script's reply lines, `[n, digest, result, message…]` split on spaces.
fn send(a: &Adsim, old: &str, new: &str, skew: i64, copies: u32) -> Vec<Vec<String>> {
    let (kdc, kpasswd) = (a.kdc(), a.kpasswd());
    let out = Command::new("python3")
        .args([
            SCRIPT,
            port(&kdc),
            port(&kpasswd),
            "corp.example.test",
            "alice",
            old,
            new,
            &skew.to_string(),
            &copies.to_string(),
        ])
        .output()
        .expect("python3 with impacket (tests/requirements.txt)");
    assert!(out.status.success(), "{}", text(&out));
    let lines: Vec<Vec<String>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("reply "))
        .map(|l| l.splitn(4, ' ').map(str::to_string).collect())
        .collect();
    assert_eq!(lines.len(), copies as usize, "{}", text(&out));
    lines
}

#[test]
fn join_kpasswd_retransmission_gets_the_same_reply_and_the_skew_follows_the_policy() {
    let a = Adsim::start(&[]);
    add_users(&a, true);
    let first = "Changed-Passw0rd";

    // Three copies of one change: one password change, three identical successful replies.
    let replies = send(&a, ALICE_PW, first, 0, 3);
    for r in &replies {
        assert_eq!(r[2], "0", "{replies:?}");
        assert_eq!(r[1], replies[0][1], "the same bytes: {replies:?}");
    }
    assert!(binds(&a, "alice", first) && !binds(&a, "alice", ALICE_PW));

    // Seven minutes ahead: outside the default MaxClockSkew of 5 minutes, so refused…
    let second = "Second-Passw0rd";
    let refused = send(&a, first, second, 420, 1);
    assert_eq!(refused[0][2..], ["krb-error", KRB_AP_ERR_SKEW], "{refused:?}");
    assert!(binds(&a, "alice", first));
    // …and inside once the domain's policy allows 10 minutes.
    a.cli_ok(&["ctl", "kerberos-policy", "--max-clock-skew", "10"]);
    let accepted = send(&a, first, second, 420, 1);
    assert_eq!(accepted[0][2], "0", "{accepted:?}");
    assert!(binds(&a, "alice", second));
    // Back to 2 minutes: three minutes behind is refused again.
    a.cli_ok(&["ctl", "kerberos-policy", "--max-clock-skew", "2"]);
    let refused = send(&a, second, first, -180, 1);
    assert_eq!(refused[0][2..], ["krb-error", KRB_AP_ERR_SKEW], "{refused:?}");
}
