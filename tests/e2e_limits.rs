//! Descriptors and connection slots end to end: `adsim serve` under a low open-file limit
//! (`ulimit -n 64`), flooded with more idle LDAP and Kerberos TCP connections than fit, still
//! answers the control API, serves a new LDAP client (ldapsearch) and a new Kerberos request
//! over TCP (MIT kinit).

use std::net::TcpStream;

use crate::common::*;

fn host_port(url: &str) -> String {
    url.rsplit("//").next().unwrap().to_string()
}

#[test]
fn a_low_open_file_limit_and_idle_floods_leave_every_service_answering() {
    let adsim = Adsim::start_with_open_file_limit(64, &[]);
    let (ldap, gc, kdc) = (
        host_port(&adsim.ldap()),
        host_port(&adsim.s("gc_url")),
        adsim.kdc(),
    );
    // 120 idle connections to LDAP and the GC, 60 to the KDC's TCP port: far more than 64
    // descriptors. Each is accepted (taking the slot of an older idle one) or refused.
    let mut idle = Vec::new();
    for i in 0..180 {
        let to = match i % 3 {
            0 => &ldap,
            1 => &gc,
            _ => &kdc,
        };
        if let Ok(s) = TcpStream::connect(to) {
            idle.push(s);
        }
    }
    assert!(idle.len() >= 60, "connections opened: {}", idle.len());

    // The control API answers.
    let (status, body) = http(&adsim.control_url(), "GET", "/v1/health", None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // A new LDAP client is served. Its connection may still be queued behind the flood's when
    // the server frees a descriptor, so a client retries a refused connection as ldap clients
    // do; three attempts at most (the old server froze every one).
    let search = || {
        adsim.as_admin(
            "ldapsearch",
            &adsim.ldap(),
            &["-b", "", "-s", "base", "defaultNamingContext"],
            None,
        )
    };
    let mut o = search();
    for _ in 0..2 {
        if o.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        o = search();
    }
    assert!(o.status.success(), "ldapsearch: {}", text(&o));
    assert!(text(&o).contains(&adsim.base()), "{}", text(&o));

    // A new Kerberos request over TCP is served.
    let dir = std::env::temp_dir().join(format!("adsim-e2e-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("krb5.conf");
    adsim.cli_ok(&[
        "export",
        "krb5-conf",
        "--out",
        conf.to_str().unwrap(),
        "--set",
        "udp_preference_limit=1",
    ]);
    let realm = adsim.s("realm");
    let o = kinit_with_password(
        &conf,
        &dir.join("ccache"),
        &format!("Administrator@{realm}"),
        ADMIN_PASSWORD,
    );
    assert!(o.status.success(), "kinit: {}", text(&o));
    drop(idle);
    let _ = std::fs::remove_dir_all(&dir);
}
