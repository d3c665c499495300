//! The limits that keep one LDAP or Kerberos client from hurting the others (issue 13): AD's
//! name limits on DNs and linear DN work, the paged-search policies, the smaller PDU limit
//! before a bind, per-message and handshake deadlines, and connection slots that go to new
//! clients before idle ones. Session-level rules run sans I/O; the socket rules against a
//! forest on ephemeral loopback ports, with small configured limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::forest::DEFAULT_ADMIN_PASSWORD;
use adsim_simulator::dsa::{Directory, ForestConfig};
use adsim_simulator::kdc::{Kdc, KdcConfig};
use adsim_simulator::ldap::codec::{BindAuth, BindRequest, Control, LdapRequest, RequestOp};
use adsim_simulator::ldap::codec::{LdapResponse, SearchRequest as WireSearch};
use adsim_simulator::ldap::controls::{RequestControl, ResponseControl};
use adsim_simulator::ldap::session::{PagedLimits, ServerContext, Session};
use adsim_simulator::model::filter::Filter;
use adsim_simulator::server::{ConnectionLimits, RunningForest, ServerConfig};
use ldap3_proto::proto::{
    LdapAddRequest, LdapAttribute, LdapDerefAliases, LdapModify, LdapModifyDNRequest, LdapModifyRequest,
    LdapModifyType, LdapPartialAttribute, LdapSearchScope,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) const USERS: &str = "CN=Users,DC=corp,DC=example,DC=test";

pub(crate) fn config() -> ForestConfig {
    ForestConfig {
        seed: Some(13),
        start_time: NtTime::parse_rfc3339("2026-01-05T10:00:00Z"),
        ..ForestConfig::default()
    }
}

pub(crate) fn context() -> ServerContext {
    let dir = Directory::provision(&config()).unwrap();
    let keys = Arc::new(adsim_simulator::server::kdc::DirectoryKdcDb::new(dir.clone(), 0));
    ServerContext {
        domain_urls: vec!["ldap://127.0.0.1:389".into()],
        ..ServerContext::new(dir, 0, keys)
    }
}

pub(crate) fn request(msgid: i32, op: RequestOp, controls: Vec<Control>) -> LdapRequest {
    LdapRequest { msgid, op, controls }
}

fn search(base: &str, scope: LdapSearchScope, filter: &str) -> RequestOp {
    RequestOp::Search(WireSearch {
        base: base.into(),
        scope,
        deref: LdapDerefAliases::Never,
        size_limit: 0,
        time_limit: 0,
        types_only: false,
        filter: Filter::parse(filter).unwrap(),
        attrs: vec!["cn".into()],
    })
}

pub(crate) fn bound_session(ctx: &ServerContext, limits: PagedLimits) -> Session {
    let mut session = Session::with_paged_limits(true, limits);
    let bind = RequestOp::Bind(BindRequest {
        version: 3,
        name: "Administrator@corp.example.test".into(),
        auth: BindAuth::Simple(DEFAULT_ADMIN_PASSWORD.as_bytes().to_vec()),
    });
    let out = session.handle(ctx, request(1, bind, vec![]));
    assert_eq!(out.responses[0].result().unwrap().code, 0);
    session
}

/// The result of the last response (the one that ends the operation).
pub(crate) fn last_result(responses: &[LdapResponse]) -> (u32, String, String) {
    let r = responses.last().and_then(|r| r.result()).expect("a result");
    (
        r.code,
        String::from_utf8_lossy(&r.matched_dn).into_owned(),
        r.diagnostic.clone(),
    )
}

#[test]
fn an_oversized_dn_gets_ads_error_at_once_on_every_operation() {
    let ctx = context();
    let mut session = bound_session(&ctx, PagedLimits::default());
    // 40 KB of DN two ways: 8,000 RDNs, and one RDN value of 40,000 characters.
    let many = format!("{}{USERS}", "CN=a,".repeat(8000));
    let long = format!("CN={},{USERS}", "v".repeat(40_000));
    for (dn, win32) in [(&many, "0000209B"), (&long, "0000209D")] {
        let ops = vec![
            search(dn, LdapSearchScope::Base, "(objectClass=*)"),
            search(USERS, LdapSearchScope::Base, "(objectClass=*)"),
            RequestOp::Add(LdapAddRequest {
                dn: dn.clone(),
                attributes: vec![LdapAttribute {
                    atype: "objectClass".into(),
                    vals: vec![b"container".to_vec()],
                }],
            }),
            RequestOp::Modify(LdapModifyRequest {
                dn: dn.clone(),
                changes: vec![LdapModify {
                    operation: LdapModifyType::Replace,
                    modification: LdapPartialAttribute {
                        atype: "description".into(),
                        vals: vec![b"x".to_vec()],
                    },
                }],
            }),
            RequestOp::ModifyDn(LdapModifyDNRequest {
                dn: dn.clone(),
                newrdn: "CN=b".into(),
                deleteoldrdn: true,
                new_superior: None,
            }),
            RequestOp::ModifyDn(LdapModifyDNRequest {
                dn: format!("CN=Guest,{USERS}"),
                newrdn: "CN=Guest".into(),
                deleteoldrdn: true,
                new_superior: Some(dn.clone()),
            }),
            RequestOp::Compare {
                dn: dn.clone(),
                attr: "cn".into(),
                value: b"a".to_vec(),
            },
            RequestOp::Delete(dn.clone()),
        ];
        for (i, op) in ops.into_iter().enumerate() {
            let valid_base = i == 1;
            let started = Instant::now();
            let out = session.handle(&ctx, request(10 + i as i32, op, vec![]));
            // The old walk over the ancestors took seconds for such a DN; a generous bound.
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "op {i} took {:?}",
                started.elapsed()
            );
            let (code, _, message) = last_result(&out.responses);
            if valid_base {
                // The server goes on serving.
                assert_eq!(code, 0);
                continue;
            }
            assert_eq!(code, 34, "op {i}: invalidDNSyntax, got {code} {message}");
            assert!(message.starts_with(win32), "op {i}: {message}");
        }
    }
}

#[test]
fn the_matched_dn_of_a_long_missing_dn_is_its_deepest_existing_ancestor() {
    let ctx = context();
    let mut session = bound_session(&ctx, PagedLimits::default());
    // 250 RDNs of 150 characters each (about 38 KB), within AD's limits, below CN=Users.
    let rdn = format!("CN={},", "w".repeat(150));
    let dn = format!("{}{USERS}", rdn.repeat(250));
    let started = Instant::now();
    let out = session.handle(
        &ctx,
        request(2, search(&dn, LdapSearchScope::Base, "(cn=*)"), vec![]),
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let (code, matched, _) = last_result(&out.responses);
    assert_eq!((code, matched.as_str()), (32, USERS));
    // Nothing of the DN exists: no matchedDN at all.
    let out = session.handle(
        &ctx,
        request(3, RequestOp::Delete(format!("{rdn}DC=nowhere")), vec![]),
    );
    assert_eq!(last_result(&out.responses).0, 32);
    assert_eq!(last_result(&out.responses).1, "");
}

/// Starts a paged search of CN=Users with one entry per page; its cookie.
fn start_paged(session: &mut Session, ctx: &ServerContext, msgid: i32) -> Vec<u8> {
    let out = session.handle(
        ctx,
        request(
            msgid,
            search(USERS, LdapSearchScope::OneLevel, "(cn=*)"),
            vec![ResponseControl::PagedResults {
                size: 1,
                cookie: vec![],
            }
            .to_control()],
        ),
    );
    cookie_of(&out.responses)
}

pub(crate) fn cookie_of(responses: &[LdapResponse]) -> Vec<u8> {
    let done = responses.last().unwrap();
    assert_eq!(done.result().unwrap().code, 0);
    match RequestControl::decode(&done.controls[0]) {
        Ok(Some(RequestControl::PagedResults { cookie, .. })) => cookie,
        other => panic!("no paged results control: {other:?}"),
    }
}

fn next_page(
    session: &mut Session,
    ctx: &ServerContext,
    msgid: i32,
    size: i32,
    cookie: Vec<u8>,
) -> Vec<LdapResponse> {
    session
        .handle(
            ctx,
            request(
                msgid,
                search(USERS, LdapSearchScope::OneLevel, "(cn=*)"),
                vec![ResponseControl::PagedResults { size, cookie }.to_control()],
            ),
        )
        .responses
}

#[test]
fn paged_result_sets_are_capped_per_connection_and_freed_on_abandon() {
    let ctx = context();
    let mut session = bound_session(
        &ctx,
        PagedLimits {
            max_sets: 3,
            max_bytes: 1 << 30,
        },
    );
    let cookies: Vec<Vec<u8>> = (0..5).map(|i| start_paged(&mut session, &ctx, 10 + i)).collect();
    // MaxResultSetsPerConn: only the three newest are kept; the oldest cookies are refused.
    assert_eq!(session.paged_results_held().0, 3);
    let stale = next_page(&mut session, &ctx, 20, 1, cookies[0].clone());
    assert_eq!(last_result(&stale).0, 53);
    let fresh = next_page(&mut session, &ctx, 21, 1, cookies[4].clone());
    assert_eq!(fresh.len(), 2, "one entry and the done");
    // An Abandon of the message that was answered with a cookie frees its result set.
    session.handle(&ctx, request(22, RequestOp::Abandon(13), vec![]));
    assert_eq!(session.paged_results_held().0, 2);
    let abandoned = next_page(&mut session, &ctx, 23, 1, cookies[3].clone());
    assert_eq!(last_result(&abandoned).0, 53);
    // RFC 2696 §3: size 0 with a cookie ends the search and frees it.
    let ended = next_page(&mut session, &ctx, 24, 0, cookies[2].clone());
    assert_eq!(cookie_of(&ended), Vec::<u8>::new());
    assert_eq!(session.paged_results_held().0, 1);
    // Ten thousand abandoned searches on one connection keep at most three result sets.
    for i in 0..10_000 {
        start_paged(&mut session, &ctx, 100 + i);
    }
    assert_eq!(session.paged_results_held().0, 3);
}

#[test]
fn paged_results_kept_are_capped_in_bytes_but_the_newest_search_always_works() {
    let ctx = context();
    let mut session = bound_session(
        &ctx,
        PagedLimits {
            max_sets: 10,
            max_bytes: 64,
        },
    );
    let first = start_paged(&mut session, &ctx, 2);
    let second = start_paged(&mut session, &ctx, 3);
    // MaxResultSetSize: the older set went to make room, the newer one is kept whatever it weighs.
    let (sets, bytes) = session.paged_results_held();
    assert_eq!(sets, 1);
    assert!(bytes > 64);
    assert_eq!(last_result(&next_page(&mut session, &ctx, 4, 1, first)).0, 53);
    let mut cookie = second;
    let mut pages = 0;
    while !cookie.is_empty() {
        cookie = cookie_of(&next_page(&mut session, &ctx, 5 + pages, 1, cookie));
        pages += 1;
        assert!(pages < 1000);
    }
    assert!(pages > 2);
    assert_eq!(session.paged_results_held(), (0, 0));
}

// ---- sockets ---------------------------------------------------------------------------------

pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.push(0x84);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(content);
    out
}

pub(crate) fn message(msgid: u8, op: Vec<u8>) -> Vec<u8> {
    tlv(0x30, &[tlv(0x02, &[msgid]), op].concat())
}

pub(crate) fn simple_bind(msgid: u8, name: &str, password: &str) -> Vec<u8> {
    let op = [
        tlv(0x02, &[3]),
        tlv(0x04, name.as_bytes()),
        tlv(0x80, password.as_bytes()),
    ]
    .concat();
    message(msgid, tlv(0x60, &op))
}

/// A base search of the rootDSE; `padding` bytes go in an attribute selector, to make the PDU
/// as large as wanted.
pub(crate) fn root_dse(msgid: u8, padding: usize) -> Vec<u8> {
    let mut selectors = tlv(0x04, b"defaultNamingContext");
    if padding > 0 {
        selectors.extend(tlv(0x04, &vec![b'x'; padding]));
    }
    let op = [
        tlv(0x04, b""),
        tlv(0x0a, &[0]),
        tlv(0x0a, &[0]),
        tlv(0x02, &[0]),
        tlv(0x02, &[0]),
        tlv(0x01, &[0]),
        tlv(0x87, b"objectClass"),
        tlv(0x30, &selectors),
    ]
    .concat();
    message(msgid, tlv(0x63, &op))
}

/// One whole LDAPMessage from the server, `None` at EOF or after `wait`.
pub(crate) async fn read_pdu(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    tokio::time::timeout(wait, async {
        let mut head = [0u8; 2];
        stream.read_exact(&mut head).await.ok()?;
        let mut pdu = head.to_vec();
        let len = if head[1] < 0x80 {
            usize::from(head[1])
        } else {
            let mut octets = vec![0u8; usize::from(head[1] & 0x7f)];
            stream.read_exact(&mut octets).await.ok()?;
            pdu.extend_from_slice(&octets);
            octets.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b))
        };
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await.ok()?;
        pdu.extend(body);
        Some(pdu)
    })
    .await
    .ok()
    .flatten()
}

/// The protocolOp tag of a response and its resultCode (the first ENUMERATED in it).
pub(crate) fn op_and_code(pdu: &[u8]) -> (u8, Option<u8>) {
    let mut i = 2 + if pdu[1] & 0x80 != 0 {
        usize::from(pdu[1] & 0x7f)
    } else {
        0
    };
    i += 2 + usize::from(pdu[i + 1]); // messageID
    let op = pdu[i];
    let code = pdu[i..]
        .windows(3)
        .find(|w| w[0] == 0x0a && w[1] == 1)
        .map(|w| w[2]);
    (op, code)
}

/// Whether the server has closed the connection (EOF or reset) within `wait`, reading and
/// dropping anything it sends before.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(wait, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

pub(crate) async fn forest(limits: ConnectionLimits) -> RunningForest {
    RunningForest::start(ServerConfig {
        forest: config(),
        limits,
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

pub(crate) fn addr(url: &str) -> String {
    url.split("//").nth(1).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_a_bind_only_small_pdus_are_read() {
    let running = forest(ConnectionLimits {
        max_pdu_anonymous: 4096,
        ..ConnectionLimits::default()
    })
    .await;
    let ldap = addr(&running.ready.ldap_url);

    // The header of a 9 MB anonymous message, then 64 KB of it: the server answers with a
    // notice of disconnection and closes without waiting for (or buffering) the rest.
    let mut s = TcpStream::connect(&ldap).await.unwrap();
    let mut head = vec![0x30, 0x84];
    head.extend_from_slice(&(9_000_000u32).to_be_bytes());
    s.write_all(&head).await.unwrap();
    let _ = s.write_all(&vec![0u8; 64 * 1024]).await;
    // (The notice may be lost to a reset, as the server drops the bytes it did not read.)
    if let Some(notice) = read_pdu(&mut s, Duration::from_secs(10)).await {
        assert_eq!(op_and_code(&notice), (0x78, Some(2)));
    }
    assert!(closed_within(&mut s, Duration::from_secs(10)).await);

    // A small anonymous request is served; after a bind, a PDU above the anonymous limit is too.
    let mut s = TcpStream::connect(&ldap).await.unwrap();
    s.write_all(&root_dse(1, 0)).await.unwrap();
    let entry = read_pdu(&mut s, Duration::from_secs(10)).await.unwrap();
    assert_eq!(op_and_code(&entry).0, 0x64);
    read_pdu(&mut s, Duration::from_secs(10)).await.unwrap();
    let admin = format!("Administrator@{}", running.ready.domain);
    s.write_all(&simple_bind(2, &admin, DEFAULT_ADMIN_PASSWORD))
        .await
        .unwrap();
    let bound = read_pdu(&mut s, Duration::from_secs(10)).await.unwrap();
    assert_eq!(op_and_code(&bound), (0x61, Some(0)));
    s.write_all(&root_dse(3, 20_000)).await.unwrap();
    let entry = read_pdu(&mut s, Duration::from_secs(10))
        .await
        .expect("served once bound");
    assert_eq!(op_and_code(&entry).0, 0x64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_trickled_in_and_a_silent_handshake_meet_their_deadlines() {
    let running = forest(ConnectionLimits {
        message_timeout: Duration::from_secs(1),
        handshake_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(300),
        ..ConnectionLimits::default()
    })
    .await;
    // One byte every 200 ms: each read is quick, the message never completes. The connection
    // closes about a second after its first byte, while the client is still sending.
    let mut s = TcpStream::connect(addr(&running.ready.ldap_url)).await.unwrap();
    let pdu = root_dse(1, 0);
    let started = Instant::now();
    let mut closed = false;
    for b in &pdu[..pdu.len() - 1] {
        if s.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            closed = true;
            break;
        }
    }
    assert!(closed, "the connection outlived its message deadline");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );

    // LDAPS: connected, but no ClientHello.
    let mut s = TcpStream::connect(addr(&running.ready.ldaps_url)).await.unwrap();
    assert!(
        closed_within(&mut s, Duration::from_secs(6)).await,
        "handshake without deadline"
    );

    // StartTLS accepted, then silence: the same deadline.
    let mut s = TcpStream::connect(addr(&running.ready.ldap_url)).await.unwrap();
    let start_tls = message(1, tlv(0x77, &tlv(0x80, b"1.3.6.1.4.1.1466.20037")));
    s.write_all(&start_tls).await.unwrap();
    let ok = read_pdu(&mut s, Duration::from_secs(10)).await.unwrap();
    assert_eq!(op_and_code(&ok), (0x78, Some(0)));
    assert!(
        closed_within(&mut s, Duration::from_secs(6)).await,
        "StartTLS handshake without deadline"
    );

    // An idle connection (nothing sent) is not cut by the message deadline.
    let mut s = TcpStream::connect(addr(&running.ready.ldap_url)).await.unwrap();
    assert!(!closed_within(&mut s, Duration::from_millis(2500)).await);
    s.write_all(&root_dse(1, 0)).await.unwrap();
    assert!(read_pdu(&mut s, Duration::from_secs(10)).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_limit_a_new_client_replaces_the_longest_idle_one() {
    let running = forest(ConnectionLimits {
        max_connections: 4,
        ..ConnectionLimits::default()
    })
    .await;
    let ldap = addr(&running.ready.ldap_url);
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(&ldap).await.unwrap();
        // A served request makes each one a real, now idle, connection.
        s.write_all(&root_dse(1, 0)).await.unwrap();
        read_pdu(&mut s, Duration::from_secs(10)).await.unwrap();
        read_pdu(&mut s, Duration::from_secs(10)).await.unwrap();
        idle.push(s);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The slots are shared by every LDAP listener: the GC port counts too.
    let mut fresh = TcpStream::connect(addr(&running.ready.gc_url)).await.unwrap();
    fresh.write_all(&root_dse(1, 0)).await.unwrap();
    let entry = read_pdu(&mut fresh, Duration::from_secs(5))
        .await
        .expect("the new client is served");
    assert_eq!(op_and_code(&entry).0, 0x64);
    // The first idle connection made room; the others stay.
    assert!(closed_within(&mut idle[0], Duration::from_secs(5)).await);
    for s in &mut idle[1..] {
        s.write_all(&root_dse(2, 0)).await.unwrap();
        assert!(read_pdu(s, Duration::from_secs(5)).await.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_kerberos_tcp_connections_do_not_delay_a_new_request() {
    let kdc = Arc::new(Kdc::new(
        crate::common::standard_db(),
        adsim_simulator::clock::Clock::system(),
        KdcConfig {
            max_tcp_connections: 4,
            tcp_read_timeout: Duration::from_secs(60),
            max_tcp_request_size: 4096,
            ..KdcConfig::default()
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    tokio::spawn(adsim_simulator::kdc::net::serve_tcp(listener, kdc));
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(at).await.unwrap());
    }
    // A trickled request holds its slot only until its deadline; here, a length with no body.
    idle[7].write_all(&[0, 0]).await.unwrap();
    let started = Instant::now();
    let mut fresh = TcpStream::connect(at).await.unwrap();
    // A length above the limit: KRB_ERR_FIELD_TOOLONG comes back at once when served.
    fresh.write_all(&0x0001_0000u32.to_be_bytes()).await.unwrap();
    let mut len = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), fresh.read_exact(&mut len))
        .await
        .expect("the new connection is served while idle ones hold every slot")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(u32::from_be_bytes(len) > 0);
}
