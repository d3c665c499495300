//! Searches that stream (issue 12): a paged search keeps a position in an O(1) copy of the
//! store, not its results; a search's responses are produced a bounded chunk at a time; and a
//! connection whose search is still running does not keep another connection waiting.

use std::time::Duration;

use adsim_simulator::dsa::cursor::CHUNK;
use adsim_simulator::dsa::{Caller, Directory};
use adsim_simulator::ldap::codec::{LdapResponse, ResponseOp};
use adsim_simulator::ldap::controls::ResponseControl;
use adsim_simulator::ldap::session::{PagedLimits, MAX_PAGE_SIZE};
use adsim_simulator::server::ConnectionLimits;
use ldap3_proto::proto::LdapSearchScope;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::ldap_limits::{
    addr, bound_session, context, cookie_of, forest, last_result, message, op_and_code, read_pdu, request,
    root_dse, simple_bind, tlv, USERS,
};

/// `n` containers below a new OU (cheap entries, so that the test's forest is quick to fill);
/// the OU's DN.
fn fill(dir: &Directory, n: usize) -> String {
    let ou = format!("OU=Many,{}", USERS.split_once(',').unwrap().1);
    let sys = Caller::system();
    let v = |s: &str| vec![s.as_bytes().to_vec()];
    dir.add(&sys, &ou, vec![("objectClass".into(), v("organizationalUnit"))])
        .unwrap();
    for i in 0..n {
        dir.add(
            &sys,
            &format!("CN=c{i:05},{ou}"),
            vec![("objectClass".into(), v("container"))],
        )
        .unwrap();
    }
    ou
}

fn one_level(base: &str, filter: &str) -> adsim_simulator::ldap::codec::RequestOp {
    use adsim_simulator::ldap::codec::{RequestOp, SearchRequest};
    RequestOp::Search(SearchRequest {
        base: base.into(),
        scope: LdapSearchScope::OneLevel,
        deref: ldap3_proto::proto::LdapDerefAliases::Never,
        size_limit: 0,
        time_limit: 0,
        types_only: false,
        filter: adsim_simulator::model::filter::Filter::parse(filter).unwrap(),
        attrs: vec!["cn".into()],
    })
}

fn entries(responses: &[LdapResponse]) -> Vec<String> {
    responses
        .iter()
        .filter_map(|r| match &r.op {
            ResponseOp::SearchResultEntry { dn, .. } => Some(dn.clone()),
            _ => None,
        })
        .collect()
}

/// Between pages a paged search holds its position (a chunk of ids at most), not the 1,500
/// entries still to come (tens of kilobytes before); every entry comes once over the pages, and
/// a page never exceeds MaxPageSize whatever size is asked.
#[test]
fn a_paged_search_keeps_a_position_not_its_results() {
    let ctx = context();
    let ou = fill(&ctx.dir, 1500);
    let mut session = bound_session(&ctx, PagedLimits::default());
    let paged =
        |size: i32, cookie: Vec<u8>| vec![ResponseControl::PagedResults { size, cookie }.to_control()];
    let first = session.handle(&ctx, request(2, one_level(&ou, "(cn=*)"), paged(10, vec![])));
    assert_eq!(entries(&first.responses).len(), 10);
    let (sets, bytes) = session.paged_results_held();
    assert_eq!(sets, 1);
    assert!(bytes < 4096, "{bytes} bytes held between pages");
    let mut seen = entries(&first.responses);
    let mut cookie = cookie_of(&first.responses);
    let mut msgid = 3;
    while !cookie.is_empty() {
        let page = session.handle(
            &ctx,
            request(msgid, one_level(&ou, "(cn=*)"), paged(5000, cookie)),
        );
        assert_eq!(last_result(&page.responses).0, 0);
        let got = entries(&page.responses);
        assert!(got.len() <= MAX_PAGE_SIZE, "{} entries in a page", got.len());
        seen.extend(got);
        cookie = cookie_of(&page.responses);
        msgid += 1;
        assert!(msgid < 100);
    }
    // 10, then 1000 (MaxPageSize, not the 5000 asked), then the last 490.
    assert_eq!(msgid, 5);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (1500, 1500));
    assert_eq!(session.paged_results_held(), (0, 0));
}

/// A search's responses come a chunk at a time: none from `begin`, then chunks of at most
/// CHUNK entries, and a search without paging stops at MaxPageSize with sizeLimitExceeded.
#[test]
fn a_search_is_answered_a_bounded_chunk_at_a_time() {
    let ctx = context();
    let ou = fill(&ctx.dir, 1500);
    let mut session = bound_session(&ctx, PagedLimits::default());
    let begun = session.begin(&ctx, request(2, one_level(&ou, "(cn=*)"), vec![]));
    assert!(begun.responses.is_empty() && session.searching());
    let mut chunks = Vec::new();
    while let Some(chunk) = session.continue_search(&ctx) {
        assert!(entries(&chunk).len() <= CHUNK);
        chunks.push(chunk);
        assert!(chunks.len() < 1000);
    }
    assert!(!session.searching());
    let all: Vec<LdapResponse> = chunks.iter().flatten().cloned().collect();
    assert!(chunks.len() > MAX_PAGE_SIZE / CHUNK, "{} chunks", chunks.len());
    assert_eq!(entries(&all).len(), MAX_PAGE_SIZE);
    assert_eq!(last_result(&all).0, 4, "sizeLimitExceeded");
    assert!(all.iter().all(|r| r.msgid == 2));
}

/// A search that one step answers (an equality on an indexed attribute, one match) comes in
/// one chunk: its entry and its SearchResultDone together, so the connection writes it once
/// (before, the entry came in one chunk and the done in the next, two writes and a yield).
#[test]
fn an_indexed_equality_is_answered_in_one_chunk() {
    use adsim_simulator::ldap::codec::{RequestOp, SearchRequest};
    let ctx = context();
    let mut session = bound_session(&ctx, PagedLimits::default());
    let base = USERS.split_once(",").unwrap().1;
    let by_name = RequestOp::Search(SearchRequest {
        base: base.into(),
        scope: LdapSearchScope::Subtree,
        deref: ldap3_proto::proto::LdapDerefAliases::Never,
        size_limit: 0,
        time_limit: 0,
        types_only: false,
        filter: adsim_simulator::model::filter::Filter::parse("(sAMAccountName=Administrator)").unwrap(),
        attrs: vec!["cn".into()],
    });
    let begun = session.begin(&ctx, request(2, by_name, vec![]));
    assert!(begun.responses.is_empty() && session.searching());
    let chunk = session.continue_search(&ctx).unwrap();
    assert_eq!(entries(&chunk).len(), 1);
    assert_eq!(last_result(&chunk).0, 0);
    assert!(matches!(
        chunk.last().unwrap().op,
        ResponseOp::SearchResultDone(_)
    ));
    assert!(!session.searching());
    assert!(session.continue_search(&ctx).is_none());
}

/// A one-level search with `filter`, encoded (base `base`, attributes `cn`).
fn search_pdu(msgid: u8, base: &str, filter: Vec<u8>) -> Vec<u8> {
    let op = [
        tlv(0x04, base.as_bytes()),
        tlv(0x0a, &[1]),
        tlv(0x0a, &[0]),
        tlv(0x02, &[0]),
        tlv(0x02, &[0]),
        tlv(0x01, &[0]),
        filter,
        tlv(0x30, &tlv(0x04, b"cn")),
    ]
    .concat();
    message(msgid, tlv(0x63, &op))
}

fn cn_is(value: &str) -> Vec<u8> {
    tlv(0xa3, &[tlv(0x04, b"cn"), tlv(0x04, value.as_bytes())].concat())
}

/// On a single-threaded runtime (server and clients share one thread, so nothing runs in
/// parallel), connection A's search matches the first and the last of 1,500 entries. Once A
/// holds its first entry, connection B asks for the rootDSE and gets its answer while A's search
/// is still running: nothing more of A's has been sent by then. (Before, A's search ran to its
/// end on the worker before anything was sent, so its SearchResultDone was already waiting.)
#[tokio::test(flavor = "current_thread")]
async fn another_connection_is_answered_while_a_large_search_runs() {
    let running = forest(ConnectionLimits::default()).await;
    let ou = fill(&running.dir, 1500);
    let ldap = addr(&running.ready.ldap_url);
    let wait = Duration::from_secs(30);
    let admin = format!("Administrator@{}", running.ready.domain);
    let mut a = TcpStream::connect(&ldap).await.unwrap();
    let mut b = TcpStream::connect(&ldap).await.unwrap();
    for s in [&mut a, &mut b] {
        s.write_all(&simple_bind(
            1,
            &admin,
            adsim_simulator::dsa::forest::DEFAULT_ADMIN_PASSWORD,
        ))
        .await
        .unwrap();
        assert_eq!(op_and_code(&read_pdu(s, wait).await.unwrap()), (0x61, Some(0)));
    }
    let either = tlv(0xa1, &[cn_is("c00000"), cn_is("c01499")].concat());
    a.write_all(&search_pdu(2, &ou, either)).await.unwrap();
    let first = read_pdu(&mut a, wait).await.unwrap();
    assert_eq!(op_and_code(&first).0, 0x64);

    b.write_all(&root_dse(2, 0)).await.unwrap();
    assert_eq!(op_and_code(&read_pdu(&mut b, wait).await.unwrap()).0, 0x64);
    assert_eq!(
        op_and_code(&read_pdu(&mut b, wait).await.unwrap()),
        (0x65, Some(0))
    );
    // A's search is still running: nothing of its rest is waiting in A's socket.
    let mut probe = [0u8; 1];
    assert!(
        matches!(a.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "A's search had already ended"
    );
    let last = read_pdu(&mut a, wait).await.unwrap();
    assert_eq!(op_and_code(&last).0, 0x64);
    assert_eq!(
        op_and_code(&read_pdu(&mut a, wait).await.unwrap()),
        (0x65, Some(0))
    );
}
