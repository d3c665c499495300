//! Known answers: every vector of tests/data/gmsa-gkdi.json byte for byte, RFC 3962
//! appendix B, and malformed inputs.

use adsim_simulator::clock::NtTime;
use adsim_simulator::gmsa::{raw_kdf_output, ManagedPassword, ManagedPasswordBlob, ManagedPasswordId};
use adsim_simulator::kds::{
    l1_seed_key, l2_seed_key, seed_key_with_sd, select_for_new_gmsa, Gkid, KdfHash, KdfParameters, KdsError,
    RootKey, SeedKeyCache, GMSA_SECURITY_DESCRIPTOR, KEY_CYCLE,
};
use adsim_simulator::keys;
use adsim_simulator::security::Sid;
use base64::Engine;
use serde_json::Value;
use uuid::Uuid;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/gmsa-gkdi.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("vector file")).expect("vector JSON")
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn gkid(v: &Value) -> Gkid {
    let a = v.as_array().expect("gkid array");
    let n = |i: usize| a[i].as_i64().expect("index") as i32;
    Gkid {
        l0: n(0),
        l1: n(1),
        l2: n(2),
    }
}

fn root_from(v: &Value) -> RootKey {
    let id: Uuid = v["root_key_id"].as_str().unwrap().parse().unwrap();
    let hash = KdfHash::from_name(v["hash"].as_str().unwrap()).unwrap();
    RootKey::new_sp800_108(id, hash, hx(&v["root_key_data"]), NtTime(0), NtTime(1), "CN=DC1")
}

#[test]
fn samba_seed_keys_all_four_hashes() {
    let v = vectors();
    let cases = v["samba_gkdi_seed_keys"].as_array().unwrap();
    assert_eq!(cases.len(), 12);
    let mut hashes_seen = std::collections::BTreeSet::new();
    let cache = SeedKeyCache::new();
    for c in cases {
        let root = root_from(c);
        hashes_seen.insert(root.hash);
        let g = gkid(&c["gkid"]);
        let expected = hx(&c["expected_key"]);
        assert_eq!(hx(&c["target_sd"]), GMSA_SECURITY_DESCRIPTOR, "{}", c["name"]);
        let (plain, cached) = match c["kind"].as_str().unwrap() {
            "L1" => (
                l1_seed_key(&root, g.l0, g.l1).unwrap(),
                cache.l1_seed_key(&root, g.l0, g.l1).unwrap(),
            ),
            "L2" => (
                l2_seed_key(&root, g).unwrap(),
                cache.l2_seed_key(&root, g).unwrap(),
            ),
            k => panic!("unknown kind {k}"),
        };
        let general = seed_key_with_sd(&root, &hx(&c["target_sd"]), g).unwrap();
        assert_eq!(plain.as_bytes()[..], expected[..], "{}", c["name"]);
        assert_eq!(cached, plain, "{} (cached)", c["name"]);
        assert_eq!(general, plain, "{} (explicit SD)", c["name"]);
    }
    assert_eq!(hashes_seen.len(), 4);
}

#[test]
fn gmsa_passwords_goldengmsa_and_sha256() {
    let v = vectors();
    for c in v["gmsa_passwords"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let root = root_from(c);
        let g = gkid(&c["gkid"]);
        let sid: Sid = c["sid"].as_str().unwrap().parse().unwrap();
        assert_eq!(sid.to_bytes(), hx(&c["sid_bytes"]), "{name}");

        let l2 = l2_seed_key(&root, g).unwrap();
        assert_eq!(
            l2.as_bytes()[..],
            hx(&c["l2_seed_key"])[..],
            "{name}: L2 seed key"
        );
        let raw = raw_kdf_output(root.hash, &l2, &sid);
        assert_eq!(
            raw[..],
            hx(&c["raw_kdf_output_256"])[..],
            "{name}: raw KDF output"
        );

        let pw = adsim_simulator::gmsa::password_for(&root, g, &sid, None).unwrap();
        let cached = adsim_simulator::gmsa::password_for(&root, g, &sid, Some(&SeedKeyCache::new())).unwrap();
        assert_eq!(pw, cached);
        assert_eq!(
            pw.with_terminator()[..],
            hx(&c["password_utf16_with_nul_258"])[..],
            "{name}: password"
        );
        assert_eq!(
            hex::encode(pw.nt_hash()),
            c["nt_hash"].as_str().unwrap(),
            "{name}: NT hash"
        );

        if let Some(b64) = c["expected"]["password_b64"].as_str() {
            let decoded = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
            assert_eq!(
                decoded[..],
                pw.as_utf16le()[..],
                "{name}: GoldenGMSA base64 password"
            );
        }
    }
}

#[test]
fn goldengmsa_password_id_blob_decodes_and_re_encodes() {
    let v = vectors();
    let c = &v["gmsa_passwords"][0];
    let blob = base64::engine::general_purpose::STANDARD
        .decode(c["msDS-ManagedPasswordId_b64"].as_str().unwrap())
        .unwrap();
    assert_eq!(blob.len(), 120);
    let id = ManagedPasswordId::decode(&blob).unwrap();
    assert_eq!(id.version, 1);
    assert_eq!(id.flags, 2);
    assert_eq!(id.gkid, gkid(&c["gkid"]));
    assert_eq!(
        id.root_key_id,
        c["root_key_id"].as_str().unwrap().parse::<Uuid>().unwrap()
    );
    assert!(id.key_info.is_empty());
    assert_eq!(id.domain, "shenanigans.labs");
    assert_eq!(id.forest, "shenanigans.labs");
    assert_eq!(id.encode().unwrap(), blob);

    // The same id built the way a DC writes it.
    let root = root_from(c);
    let built = ManagedPasswordId::new(&root, id.gkid, "shenanigans.labs", "shenanigans.labs");
    assert_eq!(built.encode().unwrap(), blob);
}

#[test]
fn goldengmsa_root_key_metadata() {
    let v = vectors();
    let c = &v["gmsa_passwords"][0];
    let meta = &c["root_key_meta"];
    let create = NtTime(meta["msKds-CreateTime"].as_u64().unwrap());
    let use_start = NtTime(meta["msKds-UseStartTime"].as_u64().unwrap());
    let param = hx(&meta["msKds-KDFParam"]);
    assert_eq!(
        KdfParameters::parse(&param).unwrap().hash().unwrap(),
        KdfHash::Sha512
    );

    let mut root = root_from(c);
    root.create_time = create;
    root.use_start_time = use_start;
    root.kdf_param = param;
    root.domain_id = meta["msKds-DomainID"].as_str().unwrap().to_string();
    root.private_key_length = meta["msKds-PrivateKeyLength"].as_u64().unwrap() as u32;
    root.public_key_length = meta["msKds-PublicKeyLength"].as_u64().unwrap() as u32;
    root.validate().unwrap();

    // -EffectiveTime (Get-Date).AddHours(-10): 10 h 00 m 00.03 s before creation.
    assert_eq!(create.0 - use_start.0, 10 * 3600 * 10_000_000 + 304_978);
    // The key's creation interval is the gMSA's password interval (360,16,3) ...
    assert_eq!(Gkid::from_time(create), gkid(&c["gkid"]));
    // ... and such a key is usable for a new gMSA 10 h 05 m after its UseStartTime, that is
    // about 5 min after creation, still inside interval (360,16,3).
    let from = root.usable_for_new_gmsa_from();
    assert_eq!(from.0, use_start.0 + 10 * 3600 * 10_000_000 + 3_000_000_000);
    assert_eq!(Gkid::from_time(from), gkid(&c["gkid"]));
    let keys = [root];
    assert!(select_for_new_gmsa(&keys, NtTime(from.0 - 1)).is_none());
    assert!(select_for_new_gmsa(&keys, from).is_some());
}

#[test]
fn dsinternals_managed_password_blob() {
    let v = vectors();
    let c = &v["managed_password_blobs"][0];
    let bytes = hx(&c["blob_hex"]);
    let parsed = &c["parsed"];
    assert_eq!(bytes.len() as u64, c["len"].as_u64().unwrap());
    let blob = ManagedPasswordBlob::decode(&bytes).unwrap();
    assert_eq!(blob.current.len(), 256);
    assert!(blob.previous.is_none());
    assert_eq!(
        blob.query_interval,
        parsed["query_interval_100ns"].as_u64().unwrap()
    );
    assert_eq!(
        blob.unchanged_interval,
        parsed["unchanged_interval_100ns"].as_u64().unwrap()
    );
    assert_eq!(blob.query_interval - blob.unchanged_interval, 3_000_000_000);
    assert_eq!(
        hex::encode(blob.current_nt_hash()),
        c["expected_nt_hash"].as_str().unwrap()
    );
    assert_eq!(
        blob.encode().unwrap(),
        bytes,
        "re-encoding must be byte-identical"
    );

    // The header offsets as the JSON lists them.
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as u64;
    assert_eq!(u16_at(8), parsed["cur_off"].as_u64().unwrap());
    assert_eq!(u16_at(10), parsed["prev_off"].as_u64().unwrap());
    assert_eq!(u16_at(12), parsed["query_off"].as_u64().unwrap());
    assert_eq!(u16_at(14), parsed["unchanged_off"].as_u64().unwrap());

    // Through the typed password too.
    let pw = ManagedPassword::from_utf16le(&blob.current).unwrap();
    assert_eq!(hex::encode(pw.nt_hash()), c["expected_nt_hash"].as_str().unwrap());
    let rebuilt = ManagedPasswordBlob::new(&pw, None, blob.query_interval, blob.unchanged_interval);
    assert_eq!(rebuilt.encode().unwrap(), bytes);
}

#[test]
fn blob_with_previous_password_layout() {
    let a = ManagedPassword::from_raw_kdf_output([0x41; 256]);
    let b = ManagedPassword::from_raw_kdf_output([0x42; 256]);
    let blob = ManagedPasswordBlob::new(&a, Some(&b), 7, 5).encode().unwrap();
    assert_eq!(blob.len(), 548);
    assert_eq!(
        &blob[..16],
        &[1, 0, 0, 0, 0x24, 0x02, 0, 0, 16, 0, 0x12, 0x01, 0x14, 0x02, 0x1c, 0x02]
    );
    assert_eq!(&blob[272..274], &[0, 0]);
    assert_eq!(&blob[530..532], &[0, 0]);
    assert_eq!(u64::from_le_bytes(blob[532..540].try_into().unwrap()), 7);
    assert_eq!(u64::from_le_bytes(blob[540..548].try_into().unwrap()), 5);
    let back = ManagedPasswordBlob::decode(&blob).unwrap();
    assert_eq!(back.previous.as_deref(), Some(&b.as_utf16le()[..]));
    assert_eq!(
        ManagedPasswordBlob::new(&a, None, 7, 5).encode().unwrap().len(),
        290
    );
}

#[test]
fn time_to_gkid_table() {
    let v = vectors();
    for c in v["time_to_gkid"].as_array().unwrap() {
        let t = NtTime(c["nttime"].as_u64().unwrap());
        let g = Gkid::from_time(t);
        assert_eq!(g, gkid(&c["gkid"]), "t = {}", t.0);
        assert_eq!(g.start_time().unwrap().0, c["interval_start"].as_u64().unwrap());
        assert_eq!(
            adsim_simulator::kds::interval_start(t).0,
            c["interval_start"].as_u64().unwrap()
        );
    }
}

#[test]
fn kerberos_keys_of_the_goldengmsa_password() {
    let v = vectors();
    let c = &v["kerberos_keys"][0];
    let utf16 = hx(&c["password_utf16_hex"]);
    let utf8 = keys::utf16le_to_utf8_munged(&utf16);
    assert_eq!(utf8, hx(&c["utf8_after_munging_hex"]));
    assert_eq!(utf8.len() as u64, c["utf8_len"].as_u64().unwrap());
    let fffd = utf8.windows(3).filter(|w| *w == [0xEF, 0xBF, 0xBD]).count() as u64;
    assert_eq!(fffd, c["fffd_count"].as_u64().unwrap());

    let salt = keys::computer_salt("shenanigans.labs", "gmsa1$", "shenanigans.labs");
    assert_eq!(salt, c["salt"].as_str().unwrap());
    let iterations = c["iterations"].as_u64().unwrap() as u32;
    assert_eq!(iterations, keys::AES_S2K_DEFAULT_ITERATIONS);

    let k = keys::derive_from_utf16(&utf16, &salt);
    assert_eq!(hex::encode(k.nt_hash), c["rc4_hmac_nt_hash"].as_str().unwrap());
    assert_eq!(
        hex::encode(k.aes128),
        c["aes128_cts_hmac_sha1_96"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(k.aes256),
        c["aes256_cts_hmac_sha1_96"].as_str().unwrap()
    );
    let direct = keys::aes_string_to_key(&utf8, salt.as_bytes(), iterations, 32).unwrap();
    assert_eq!(
        hex::encode(direct),
        c["aes256_cts_hmac_sha1_96"].as_str().unwrap()
    );

    // The gMSA password type gives the same keys.
    let pw = ManagedPassword::from_utf16le(&utf16).unwrap();
    assert_eq!(pw.account_keys(&salt), k);
}

/// RFC 3962 appendix B: (pass phrase, salt, iterations, AES128 key, AES256 key).
type S2kCase = (&'static [u8], &'static [u8], u32, &'static str, &'static str);
const RFC3962_B: [S2kCase; 7] = [
    (
        b"password",
        b"ATHENA.MIT.EDUraeburn",
        1,
        "42263c6e89f4fc28b8df68ee09799f15",
        "fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161",
    ),
    (
        b"password",
        b"ATHENA.MIT.EDUraeburn",
        2,
        "c651bf29e2300ac27fa469d693bdda13",
        "a2e16d16b36069c135d5e9d2e25f896102685618b95914b467c67622225824ff",
    ),
    (
        b"password",
        b"ATHENA.MIT.EDUraeburn",
        1200,
        "4c01cd46d632d01e6dbe230a01ed642a",
        "55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a",
    ),
    (
        b"password",
        &[0x12, 0x34, 0x56, 0x78, 0x78, 0x56, 0x34, 0x12],
        5,
        "e9b23d52273747dd5c35cb55be619d8e",
        "97a4e786be20d81a382d5ebc96d5909cabcdadc87ca48f574504159f16c36e31",
    ),
    (
        b"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        b"pass phrase equals block size",
        1200,
        "59d1bb789a828b1aa54ef9c2883f69ed",
        "89adee3608db8bc71f1bfbfe459486b05618b70cbae22092534e56c553ba4b34",
    ),
    (
        b"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        b"pass phrase exceeds block size",
        1200,
        "cb8005dc5f90179a7f02104c0018751d",
        "d78c5c9cb872a8c9dad4697f0bb5b2d21496c82beb2caeda2112fceea057401b",
    ),
    (
        &[0xf0, 0x9d, 0x84, 0x9e],
        b"EXAMPLE.COMpianist",
        50,
        "f149c1f2e154a73452d43e7fe62a56e5",
        "4b6d9839f84406df1f09cc166db4b83c571848b784a3d6bdc346589a3e393f9e",
    ),
];

#[test]
fn rfc3962_appendix_b_string_to_key() {
    for (i, (pass, salt, iterations, aes128, aes256)) in RFC3962_B.iter().enumerate() {
        let k128 = keys::aes_string_to_key(pass, salt, *iterations, 16).unwrap();
        let k256 = keys::aes_string_to_key(pass, salt, *iterations, 32).unwrap();
        assert_eq!(hex::encode(k128), *aes128, "case {}", i + 1);
        assert_eq!(hex::encode(k256), *aes256, "case {}", i + 1);
    }
}

// ---- malformed inputs: errors, never panics ----

fn golden_id_blob() -> Vec<u8> {
    let v = vectors();
    base64::engine::general_purpose::STANDARD
        .decode(
            v["gmsa_passwords"][0]["msDS-ManagedPasswordId_b64"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
}

#[test]
fn password_id_rejects_malformed_blobs() {
    let good = golden_id_blob();
    for cut in 0..good.len() {
        assert!(
            ManagedPasswordId::decode(&good[..cut]).is_err(),
            "truncated at {cut}"
        );
    }
    let patched = |off: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[off..off + bytes.len()].copy_from_slice(bytes);
        ManagedPasswordId::decode(&b)
    };
    assert!(patched(4, b"KDSX").is_err(), "wrong magic");
    assert!(patched(16, &32u32.to_le_bytes()).is_err(), "L1 out of range");
    assert!(
        patched(20, &u32::MAX.to_le_bytes()).is_err(),
        "L2 = -1 is not a password id"
    );
    assert!(
        patched(12, &0x8000_0000u32.to_le_bytes()).is_err(),
        "L0 beyond i32"
    );
    assert!(
        patched(44, &u32::MAX.to_le_bytes()).is_err(),
        "cbDomain overflows"
    );
    assert!(
        patched(40, &u32::MAX.to_le_bytes()).is_err(),
        "cbKeyInfo overflows"
    );
    assert!(patched(44, &33u32.to_le_bytes()).is_err(), "odd cbDomain");
    assert!(patched(84, &[0x41, 0x00]).is_err(), "domain name loses its NUL");
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(ManagedPasswordId::decode(&trailing).is_err());
    // An id with a non-L2 GKID cannot be encoded.
    let mut id = ManagedPasswordId::decode(&good).unwrap();
    id.gkid = Gkid { l0: 1, l1: 2, l2: -1 };
    assert!(id.encode().is_err());
    id.gkid = Gkid { l0: 1, l1: 2, l2: 3 };
    id.domain = "a\0b".into();
    assert!(id.encode().is_err());
}

#[test]
fn key_info_bytes_are_kept_opaque() {
    let mut id = ManagedPasswordId::decode(&golden_id_blob()).unwrap();
    id.key_info = vec![1, 2, 3, 4];
    let blob = id.encode().unwrap();
    assert_eq!(blob.len(), 124);
    assert_eq!(ManagedPasswordId::decode(&blob).unwrap(), id);
}

#[test]
fn password_blob_rejects_malformed_blobs() {
    let v = vectors();
    let good = hx(&v["managed_password_blobs"][0]["blob_hex"]);
    for cut in 0..good.len() {
        assert!(
            ManagedPasswordBlob::decode(&good[..cut]).is_err(),
            "truncated at {cut}"
        );
    }
    let patched = |off: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[off..off + bytes.len()].copy_from_slice(bytes);
        ManagedPasswordBlob::decode(&b)
    };
    assert!(patched(0, &[2, 0]).is_err(), "version");
    assert!(patched(2, &[1, 0]).is_err(), "reserved");
    assert!(patched(4, &u32::MAX.to_le_bytes()).is_err(), "length");
    assert!(patched(12, &[0xff, 0xff]).is_err(), "query offset");
    assert!(
        patched(14, &[0x1c, 0x01]).is_err(),
        "unchanged offset past the end"
    );
    assert!(
        patched(8, &[0x12, 0x01]).is_err(),
        "current offset at the query field"
    );
    assert!(
        patched(8, &[0x02, 0x00]).is_err(),
        "current offset inside the header"
    );
    assert!(
        patched(10, &[0x20, 0x00]).is_err(),
        "previous offset without a terminator before query"
    );
    assert!(
        patched(272, &[0x41, 0x00]).is_err(),
        "current loses its terminator"
    );
    // Encoding refuses what could not be read back.
    let odd = ManagedPasswordBlob {
        current: vec![0x41],
        previous: None,
        query_interval: 0,
        unchanged_interval: 0,
    };
    assert!(odd.encode().is_err());
    let nul = ManagedPasswordBlob {
        current: vec![0x41, 0, 0, 0],
        previous: None,
        query_interval: 0,
        unchanged_interval: 0,
    };
    assert!(nul.encode().is_err());
    let huge = ManagedPasswordBlob {
        current: vec![0x41; 70_000],
        previous: None,
        query_interval: 0,
        unchanged_interval: 0,
    };
    assert!(huge.encode().is_err());
}

#[test]
fn unknown_hash_and_out_of_range_gkids_are_errors() {
    let mut root = RootKey::new_sp800_108(
        Uuid::from_u128(1),
        KdfHash::Sha512,
        vec![0; 64],
        NtTime(0),
        NtTime(1),
        "CN=DC",
    );
    root.kdf_param = KdfParameters {
        hash_name: "SHA3".into(),
    }
    .encode();
    assert_eq!(root.validate(), Err(KdsError::UnknownHash("SHA3".into())));
    let good = RootKey::new_sp800_108(
        Uuid::from_u128(1),
        KdfHash::Sha512,
        vec![0; 64],
        NtTime(0),
        NtTime(1),
        "CN=DC",
    );
    for g in [
        Gkid { l0: 1, l1: 32, l2: 0 },
        Gkid { l0: 1, l1: 0, l2: 32 },
        Gkid {
            l0: -2,
            l1: -1,
            l2: -1,
        },
    ] {
        assert!(matches!(l2_seed_key(&good, g), Err(KdsError::InvalidGkid(_))));
        assert!(
            adsim_simulator::gmsa::password_for(&good, g, &"S-1-5-21-1-2-3-1000".parse().unwrap(), None)
                .is_err()
        );
    }
    let far = Gkid {
        l0: i32::MAX,
        l1: 0,
        l2: 0,
    };
    assert!(matches!(far.start_time(), Err(KdsError::GkidOutOfRange(_))));
    assert_eq!(
        Gkid::from_time(NtTime(KEY_CYCLE * 1024)),
        Gkid { l0: 1, l1: 0, l2: 0 }
    );
}

#[test]
fn post_processing_on_a_real_derivation_with_a_nul_unit() {
    // The spec (§6) names (360,19,6) under the GoldenGMSA root key and SID as a case whose raw
    // KDF output holds a 0x0000 unit.
    let v = vectors();
    let c = &v["gmsa_passwords"][0];
    let root = root_from(c);
    let sid: Sid = c["sid"].as_str().unwrap().parse().unwrap();
    let g = Gkid {
        l0: 360,
        l1: 19,
        l2: 6,
    };
    let raw = raw_kdf_output(root.hash, &l2_seed_key(&root, g).unwrap(), &sid);
    let nul_units: Vec<usize> = (0..128).filter(|i| raw[2 * i..2 * i + 2] == [0, 0]).collect();
    assert!(!nul_units.is_empty(), "this interval's raw output has a NUL unit");
    let pw = adsim_simulator::gmsa::password_for(&root, g, &sid, None).unwrap();
    for i in 0..128 {
        let expected: &[u8] = if nul_units.contains(&i) {
            &[1, 0]
        } else {
            &raw[2 * i..2 * i + 2]
        };
        assert_eq!(&pw.as_utf16le()[2 * i..2 * i + 2], expected);
    }
    // The two hashing conventions of §6 differ exactly here; adsim hashes the set password.
    assert_ne!(pw.nt_hash(), keys::nt_hash(&raw));
    assert_eq!(pw.nt_hash(), keys::nt_hash(pw.as_utf16le()));
}
