//! The KDC over the real directory (`server::kdc::DirectoryKdcDb`), in process on a frozen
//! clock: accounts added through `Directory::add`, tickets opened with the keys the directory
//! holds, and the PAC's groups frozen at TGT time (the Windows behaviour behind
//! `klist purge -li 0x3e7`: a host added to a group keeps its old groups until a new TGT).

use crate::common;

use std::sync::Arc;

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::request::{ModOp, Modification};
use adsim_simulator::dsa::{Caller, Directory, ForestConfig};
use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::ticket::logon_info_from_ticket;
use adsim_simulator::kdc::{Kdc, KdcConfig, KdcDatabase, KdcPrincipal, PrincipalLookup};
use adsim_simulator::model::Dn;
use adsim_simulator::security::Sid;
use adsim_simulator::server::kdc::DirectoryKdcDb;
use common::{get_service_ticket, get_tgt, AnswerExt, TgsRequest, REALM, T0};

const ALICE_PASSWORD: &str = "Alice-Passw0rd!";
const ALICE_SALT: &str = "CORP.EXAMPLE.TESTalice";
const WEB01_PASSWORD: &str = "Web01-Machine-Passw0rd!";
const WEB01_SPN: [&str; 2] = ["HTTP", "web01.corp.example.test"];

fn values(v: &str) -> Vec<Vec<u8>> {
    vec![v.as_bytes().to_vec()]
}

fn unicode_pwd(pw: &str) -> Vec<Vec<u8>> {
    vec![format!("\"{pw}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()]
}

struct Setup {
    dir: Arc<Directory>,
    db: Arc<DirectoryKdcDb>,
    kdc: Kdc,
    base: String,
}

fn setup() -> Setup {
    let dir = Directory::provision(&ForestConfig {
        seed: Some(11),
        start_time: Some(NtTime::from_unix_seconds(T0)),
        ..ForestConfig::default()
    })
    .unwrap();
    let base = dir.forest.root().dn.to_string();
    let system = Caller::system();
    dir.add(
        &system,
        &format!("CN=Alice,CN=Users,{base}"),
        vec![
            ("objectClass".into(), values("user")),
            ("sAMAccountName".into(), values("alice")),
            ("userAccountControl".into(), values("512")),
            ("unicodePwd".into(), unicode_pwd(ALICE_PASSWORD)),
        ],
    )
    .unwrap();
    dir.add(
        &system,
        &format!("CN=WEB01,CN=Computers,{base}"),
        vec![
            ("objectClass".into(), values("computer")),
            ("sAMAccountName".into(), values("WEB01$")),
            ("dNSHostName".into(), values("web01.corp.example.test")),
            ("userAccountControl".into(), values("4096")),
            ("msDS-SupportedEncryptionTypes".into(), values("24")),
            ("servicePrincipalName".into(), values(&WEB01_SPN.join("/"))),
            ("unicodePwd".into(), unicode_pwd(WEB01_PASSWORD)),
        ],
    )
    .unwrap();
    let db = Arc::new(DirectoryKdcDb::new(dir.clone(), 0));
    let kdc = Kdc::new(db.clone(), dir.clock.clone(), KdcConfig::default());
    Setup { dir, db, kdc, base }
}

impl Setup {
    fn account(&self, sam: &str) -> KdcPrincipal {
        self.db
            .lookup(REALM, &PrincipalLookup::SamAccountName(sam.into()))
            .expect("account exists")
    }

    fn sid_of(&self, dn: &str) -> Sid {
        let st = self.dir.read();
        let id = st.store.lookup(&Dn::parse(dn).unwrap()).unwrap();
        Sid::from_bytes(st.store.get(id).unwrap().first("objectSid").unwrap()).unwrap()
    }

    fn modify(&self, dn: &str, op: ModOp, attr: &str, value: &str) {
        self.dir
            .modify(
                &Caller::system(),
                dn,
                vec![Modification {
                    op,
                    attr: attr.into(),
                    values: values(value),
                }],
            )
            .unwrap();
    }
}

#[test]
fn a_ticket_issued_before_a_group_change_keeps_the_old_groups() {
    let s = setup();
    let group_dn = format!("CN=Web Readers,CN=Users,{}", s.base);
    s.dir
        .add(
            &Caller::system(),
            &group_dn,
            vec![("objectClass".into(), values("group"))],
        )
        .unwrap();
    let group = s.sid_of(&group_dn);
    let domain_users = s.dir.forest.root().sid.with_rid(513);

    let tgt = get_tgt(&s.kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    s.modify(
        &group_dn,
        ModOp::Add,
        "member",
        &format!("CN=Alice,CN=Users,{}", s.base),
    );
    assert!(
        s.account("alice").group_sids.contains(&group),
        "the directory has the new membership"
    );

    let web01_keys = s.account("WEB01$").keys;
    let ticket = get_service_ticket(&s.kdc, &tgt, &TgsRequest::new(&WEB01_SPN, T0)).unwrap();
    // msDS-SupportedEncryptionTypes 24: an AES256 ticket under the account's key version.
    assert_eq!(ticket.ticket.enc_part.etype, 18);
    assert_eq!(ticket.ticket.enc_part.kvno, Some(web01_keys[0].kvno));
    let stale = logon_info_from_ticket(&ticket.ticket, &web01_keys).unwrap();
    assert!(stale.group_sids().contains(&domain_users));
    assert!(
        !stale.group_sids().contains(&group),
        "a service ticket from the old TGT carries the old groups"
    );

    let fresh_tgt = get_tgt(&s.kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    let ticket = get_service_ticket(&s.kdc, &fresh_tgt, &TgsRequest::new(&WEB01_SPN, T0)).unwrap();
    let fresh = logon_info_from_ticket(&ticket.ticket, &web01_keys).unwrap();
    assert!(
        fresh.group_sids().contains(&group),
        "a new TGT carries the new group"
    );
}

#[test]
fn the_pac_names_the_directory_account() {
    let s = setup();
    let alice_sid = s.sid_of(&format!("CN=Alice,CN=Users,{}", s.base));
    let tgt = get_tgt(&s.kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();
    let ticket = get_service_ticket(&s.kdc, &tgt, &TgsRequest::new(&WEB01_SPN, T0)).unwrap();
    let info = logon_info_from_ticket(&ticket.ticket, &s.account("WEB01$").keys).unwrap();
    assert_eq!(info.effective_name, "alice");
    assert_eq!(info.logon_domain_name, "CORP");
    assert_eq!(info.logon_domain_id, s.dir.forest.root().sid);
    assert_eq!(Some(info.user_id), alice_sid.rid());
    assert_eq!(info.primary_group_id, 513);
    assert_eq!(info.logon_server, "DC1");
}

#[test]
fn directory_state_drives_the_kdc_answers() {
    let s = setup();
    // The computer logs in with its password-derived keys (salt REALMhostweb01.domain).
    let web01 = s.account("WEB01$");
    assert_eq!(web01.salt, "CORP.EXAMPLE.TESThostweb01.corp.example.test");
    get_tgt(&s.kdc, "WEB01$", WEB01_PASSWORD, &web01.salt, Etype::Aes256).unwrap();
    // RC4 is outside WEB01's msDS-SupportedEncryptionTypes (24): ETYPE_NOSUPP.
    let e = get_tgt(&s.kdc, "WEB01$", WEB01_PASSWORD, &web01.salt, Etype::Rc4Hmac).unwrap_err();
    assert_eq!(e.error_code, 14);

    // Disabling alice in the directory revokes her at once (KDC_ERR_CLIENT_REVOKED).
    let alice_dn = format!("CN=Alice,CN=Users,{}", s.base);
    s.modify(&alice_dn, ModOp::Replace, "userAccountControl", "514");
    let e = get_tgt(&s.kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap_err();
    assert_eq!(e.error_code, 18);
    s.modify(&alice_dn, ModOp::Replace, "userAccountControl", "512");
    get_tgt(&s.kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap();

    // A password reset replaces the keys and bumps the key version number.
    let before = s.account("alice").keys[0].kvno;
    s.dir
        .modify(
            &Caller::system(),
            &alice_dn,
            vec![Modification {
                op: ModOp::Replace,
                attr: "unicodePwd".into(),
                values: unicode_pwd("Alice-New-Passw0rd!"),
            }],
        )
        .unwrap();
    assert_eq!(s.account("alice").keys[0].kvno, before + 1);
    let e = get_tgt(&s.kdc, "alice", ALICE_PASSWORD, ALICE_SALT, Etype::Aes256).unwrap_err();
    assert_eq!(e.error_code, 24, "the old password no longer works");
    get_tgt(&s.kdc, "alice", "Alice-New-Passw0rd!", ALICE_SALT, Etype::Aes256).unwrap();
}
