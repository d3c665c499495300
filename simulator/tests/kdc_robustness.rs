//! Bad input never crashes the KDC: truncated, mutated and garbage requests get
//! KRB_ERR_GENERIC (or another KRB-ERROR) or are dropped, in process and on the wire.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use adsim_simulator::kdc::messages::KrbError;
use adsim_simulator::kdc::net::{serve_tcp, serve_udp};
use adsim_simulator::kdc::{Kdc, KdcConfig, Transport};
use common::*;
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/captures");

fn seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..5)
        .map(|i| std::fs::read(format!("{CAPTURES}/asreq{i}.der")).unwrap())
        .collect();
    // A TGS-REQ too, so mutations reach the AP-REQ, ticket and authenticator decoders.
    let (kdc, _) = frozen_kdc(standard_db());
    let tgt = get_tgt(
        &kdc,
        "alice",
        ALICE_PASSWORD,
        "CORP.EXAMPLE.TESTalice",
        adsim_simulator::kdc::crypto::Etype::Aes256,
    )
    .unwrap();
    out.push(TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0).encode(&tgt));
    out
}

/// Either no answer, or a well-formed KRB-ERROR / KDC reply.
fn check_answer(answer: Option<Vec<u8>>) {
    if let Some(bytes) = answer {
        let is_error = KrbError::from_der(&bytes).is_ok();
        let is_reply = adsim_simulator::kdc::messages::KdcRep::from_der(&bytes).is_ok();
        assert!(is_error || is_reply, "answer is neither KRB-ERROR nor KDC-REP");
    }
}

#[test]
fn truncations_of_every_seed_are_answered_or_dropped() {
    let (kdc, _) = frozen_kdc(standard_db());
    for seed in seeds() {
        for cut in 0..seed.len() {
            let answer = kdc.handle(&seed[..cut], Transport::Tcp);
            if cut > 0 {
                // Starts like an AS-REQ/TGS-REQ but is cut short: KRB_ERR_GENERIC.
                let err = KrbError::from_der(answer.as_ref().expect("an error reply")).unwrap();
                assert_eq!(err.error_code, 60, "cut at {cut}");
                assert_eq!(err.stime, T0);
            } else {
                assert!(answer.is_none());
            }
        }
    }
}

#[test]
fn garbage_is_dropped() {
    let (kdc, _) = frozen_kdc(standard_db());
    assert!(kdc.handle(b"", Transport::Udp).is_none());
    assert!(kdc.handle(b"GET / HTTP/1.1\r\n\r\n", Transport::Udp).is_none());
    assert!(kdc
        .handle(&[0x30, 0x03, 0x02, 0x01, 0x05], Transport::Tcp)
        .is_none());
}

#[test]
fn a_tgs_req_with_a_garbage_ap_req_gets_an_error() {
    let (kdc, _) = frozen_kdc(standard_db());
    let mut tgs = seeds().pop().unwrap();
    // Flip bytes deep inside the AP-REQ's ticket cipher: still DER, but it will not decrypt.
    let at = tgs.len() / 2;
    tgs[at] ^= 0xff;
    let err = KrbError::from_der(&kdc.handle(&tgs, Transport::Tcp).unwrap()).unwrap();
    assert!([31, 41, 60].contains(&err.error_code), "{}", err.error_code);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    /// Random byte edits on captured and generated requests (the seed corpus).
    #[test]
    fn mutated_requests_never_panic(seed_index in 0usize..6, edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        static KDC: std::sync::OnceLock<(Kdc, Vec<Vec<u8>>)> = std::sync::OnceLock::new();
        let (kdc, seeds) = KDC.get_or_init(|| (frozen_kdc(standard_db()).0, seeds()));
        let mut bytes = seeds[seed_index].clone();
        for (pos, value) in edits {
            let at = pos % bytes.len();
            bytes[at] = value;
        }
        check_answer(kdc.handle(&bytes, Transport::Tcp));
        check_answer(kdc.handle(&bytes, Transport::Udp));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        static KDC: std::sync::OnceLock<Kdc> = std::sync::OnceLock::new();
        let kdc = KDC.get_or_init(|| frozen_kdc(standard_db()).0);
        check_answer(kdc.handle(&bytes, Transport::Udp));
        let mut tagged = bytes.clone();
        tagged.insert(0, 0x6a);
        check_answer(kdc.handle(&tagged, Transport::Tcp));
    }
}

async fn read_framed(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await.ok()?;
    Some(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wire_survives_bad_input() {
    let config = KdcConfig {
        tcp_read_timeout: Duration::from_millis(300),
        max_tcp_request_size: 4096,
        ..KdcConfig::default()
    };
    let kdc = Arc::new(Kdc::new(
        standard_db(),
        adsim_simulator::clock::Clock::system(),
        config,
    ));
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (tcp_addr, udp_addr) = (tcp.local_addr().unwrap(), udp.local_addr().unwrap());
    tokio::spawn(serve_tcp(tcp, kdc.clone()));
    tokio::spawn(serve_udp(udp, kdc.clone()));
    let seed = seeds().remove(0);

    // UDP: garbage and a truncated AS-REQ are dropped (no amplification), a good one gets an
    // answer — the first datagram to arrive back.
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(b"\x00\x01garbage", udp_addr).await.unwrap();
    client.send_to(&seed[..40], udp_addr).await.unwrap();
    client.send_to(&[0x6a], udp_addr).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    client
        .send_to(&AsRequest::new(REALM, "alice").encode(), udp_addr)
        .await
        .unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(KrbError::from_der(&buf[..n]).unwrap().error_code, 25);

    // TCP: an oversized length and a length with the reserved high bit get FIELD_TOOLONG.
    for len in [100_000u32, 0x8000_0010] {
        let mut s = tokio::net::TcpStream::connect(tcp_addr).await.unwrap();
        s.write_all(&len.to_be_bytes()).await.unwrap();
        let reply = read_framed(&mut s).await.expect("an error reply");
        assert_eq!(KrbError::from_der(&reply).unwrap().error_code, 61);
        assert!(read_framed(&mut s).await.is_none(), "connection closed");
    }
    // A frame that promises more than it sends is timed out and closed, not waited on forever.
    let mut s = tokio::net::TcpStream::connect(tcp_addr).await.unwrap();
    s.write_all(&200u32.to_be_bytes()).await.unwrap();
    s.write_all(&seed[..20]).await.unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(5), read_framed(&mut s))
        .await
        .unwrap()
        .is_none());
    // Two requests on one connection are both answered; garbage in a frame closes it.
    let mut s = tokio::net::TcpStream::connect(tcp_addr).await.unwrap();
    for _ in 0..2 {
        let req = AsRequest::new(REALM, "alice").encode();
        s.write_all(&(req.len() as u32).to_be_bytes()).await.unwrap();
        s.write_all(&req).await.unwrap();
        assert_eq!(
            KrbError::from_der(&read_framed(&mut s).await.unwrap())
                .unwrap()
                .error_code,
            25
        );
    }
    s.write_all(&4u32.to_be_bytes()).await.unwrap();
    s.write_all(b"zzzz").await.unwrap(); // not a Kerberos tag (note: b"j…" would be 0x6a, AS-REQ)
    assert!(read_framed(&mut s).await.is_none());
    // The listeners still serve after all that.
    let mut s = tokio::net::TcpStream::connect(tcp_addr).await.unwrap();
    s.write_all(&(seed.len() as u32).to_be_bytes()).await.unwrap();
    s.write_all(&seed).await.unwrap();
    assert!(read_framed(&mut s).await.is_some());
}
