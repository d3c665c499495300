//! End-to-end gMSA life cycle with ldap-utils and python against `adsim serve`.

use crate::common;

use adsim_simulator::gmsa::{self, ManagedPasswordId};
use adsim_simulator::kds::{self, RootKey};
use adsim_simulator::security::Sid;
use base64::Engine;
use common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct Lab {
    a: Adsim,
    base: String,
}

impl Lab {
    fn admin_args(&self, url: &str) -> Vec<String> {
        ["-x", "-H", url, "-D", "CORP\\Administrator", "-w", ADMIN_PASSWORD]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn run(&self, tool: &str, args: &[String], input: Option<&str>) -> String {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = ldap_tool(tool, &self.a.ca(), &refs, input);
        text(&o)
    }

    fn ldif_add(&self, ldif: &str) {
        let out = self.run("ldapadd", &self.admin_args(&self.a.ldaps()), Some(ldif));
        assert!(
            out.contains("adding new entry") && !out.contains("ldap_add:"),
            "{out}"
        );
    }

    /// One attribute's values from `ldapsearch -LLL` output, base64-decoded where needed.
    fn values(&self, args: &[String], attr: &str) -> Vec<Vec<u8>> {
        let out = self.run("ldapsearch", args, None);
        let unfolded = out.replace("\n ", "");
        unfolded
            .lines()
            .filter_map(|l| {
                if let Some(v) = l.strip_prefix(&format!("{attr}:: ")) {
                    Some(B64.decode(v).unwrap())
                } else {
                    l.strip_prefix(&format!("{attr}: "))
                        .map(|v| v.as_bytes().to_vec())
                }
            })
            .collect()
    }

    fn read_gmsa(&self, bind: &[&str], attrs: &[&str]) -> String {
        let mut args: Vec<String> = bind.iter().map(|s| s.to_string()).collect();
        args.extend(
            [
                "-LLL",
                "-b",
                &format!("CN=svc-web,CN=Managed Service Accounts,{}", self.base),
                "-s",
                "base",
                "(objectClass=*)",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        args.extend(attrs.iter().map(|s| s.to_string()));
        self.run("ldapsearch", &args, None)
    }
}

fn lab(extra: &[&str]) -> Lab {
    let a = Adsim::start(extra);
    let base = a.base();
    let lab = Lab {
        a,
        base: base.clone(),
    };
    let pw = |p: &str| unicode_pwd_b64(p);
    lab.ldif_add(&format!(
        "dn: CN=WebHosts,CN=Users,{base}\nobjectClass: group\n\n\
         dn: CN=WEB01,CN=Computers,{base}\nobjectClass: computer\nsAMAccountName: WEB01$\nuserAccountControl: 4096\nunicodePwd:: {}\n\n\
         dn: CN=WEB02,CN=Computers,{base}\nobjectClass: computer\nsAMAccountName: WEB02$\nuserAccountControl: 4096\nunicodePwd:: {}\n",
        pw("Web01-Passw0rd!"),
        pw("Web02-Passw0rd!")
    ));
    let out = lab.run(
        "ldapmodify",
        &lab.admin_args(&lab.a.ldap()),
        Some(&format!("dn: CN=WebHosts,CN=Users,{base}\nchangetype: modify\nadd: member\nmember: CN=WEB01,CN=Computers,{base}\n")),
    );
    assert!(out.contains("modifying entry"), "{out}");
    // PrincipalsAllowedToRetrieveManagedPassword as PowerShell writes it, base64 in LDIF.
    let group_sid = Sid::from_bytes(
        &lab.values(
            &[
                lab.admin_args(&lab.a.ldap()),
                vec![
                    "-LLL".into(),
                    "-b".into(),
                    format!("CN=WebHosts,CN=Users,{base}"),
                    "-s".into(),
                    "base".into(),
                    "objectSid".into(),
                ],
            ]
            .concat(),
            "objectSid",
        )[0],
    )
    .unwrap();
    lab.ldif_add(&format!(
        "dn: CN=svc-web,CN=Managed Service Accounts,{base}\nobjectClass: msDS-GroupManagedServiceAccount\nsAMAccountName: svc-web$\ndNSHostName: svc-web.corp.example.test\nmsDS-SupportedEncryptionTypes: 28\nmsDS-ManagedPasswordInterval: 30\nmsDS-GroupMSAMembership:: {}\n",
        gmsa_membership_b64(&group_sid)
    ));
    lab
}

/// The NT hash of the blob's current password, computed by python (pycryptodome MD4), the way
/// gMSADumper does: CurrentPassword[:-2] at offset 16.
fn python_nt_hash(blob: &[u8]) -> String {
    let script = r#"
import sys, base64, struct
from Cryptodome.Hash import MD4
b = base64.b64decode(sys.argv[1])
version, reserved, length, cur = struct.unpack_from('<HHIH', b, 0)
assert version == 1 and length == len(b) and cur == 16
pw = b[16:16 + 258][:-2]
print(MD4.new(pw).hexdigest())
"#;
    let o = python(script, &[&B64.encode(blob)]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn allowed_host_reads_the_password_over_ldaps_and_starttls_and_the_hash_matches_the_kds_engine() {
    let l = lab(&[]);
    let web01 = ["-x", "-D", "CORP\\WEB01$", "-w", "Web01-Passw0rd!"];
    let ldaps = [&["-H", l.a.ldaps().leak() as &str][..], &web01[..]].concat();
    let starttls = [&["-ZZ", "-H", l.a.ldap().leak() as &str][..], &web01[..]].concat();
    let mut blobs = Vec::new();
    for bind in [&ldaps, &starttls] {
        let args: Vec<String> = bind
            .iter()
            .map(|s| s.to_string())
            .chain(
                [
                    "-LLL",
                    "-b",
                    &format!("CN=svc-web,CN=Managed Service Accounts,{}", l.base),
                    "-s",
                    "base",
                    "(objectClass=*)",
                    "msDS-ManagedPassword",
                ]
                .iter()
                .map(|s| s.to_string()),
            )
            .collect();
        let v = l.values(&args, "msDS-ManagedPassword");
        assert_eq!(v.len(), 1, "{:?}", l.read_gmsa(bind, &["msDS-ManagedPassword"]));
        blobs.push(v[0].clone());
    }
    // Same password over both transports (the intervals move with the running clock).
    assert_eq!(blobs[0][16..274], blobs[1][16..274]);
    let blob = &blobs[0];
    assert_eq!(blob.len(), 290, "no previous password yet: 290 bytes");

    // The KDS engine's answer for the stored id and SID, from data read over LDAP as Administrator.
    let admin = l.admin_args(&l.a.ldaps());
    let gmsa_args = [
        admin.clone(),
        vec![
            "-LLL".into(),
            "-b".into(),
            format!("CN=svc-web,CN=Managed Service Accounts,{}", l.base),
            "-s".into(),
            "base".into(),
            "msDS-ManagedPasswordId".into(),
            "objectSid".into(),
        ],
    ]
    .concat();
    let id = ManagedPasswordId::decode(&l.values(&gmsa_args, "msDS-ManagedPasswordId")[0]).unwrap();
    let sid = Sid::from_bytes(&l.values(&gmsa_args, "objectSid")[0]).unwrap();
    let key_args = [
        admin,
        vec![
            "-LLL".into(),
            "-b".into(),
            format!(
                "CN={},CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,{}",
                id.root_key_id, l.base
            ),
            "-s".into(),
            "base".into(),
            "*".into(),
        ],
    ]
    .concat();
    let get = |a: &str| {
        l.values(&key_args, a)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("root key attribute {a}"))
    };
    let num = |a: &str| String::from_utf8(get(a)).unwrap().parse::<u64>().unwrap();
    let root = RootKey::new_sp800_108(
        id.root_key_id,
        kds::hash_from_kdf_param(&get("msKds-KDFParam")).unwrap(),
        get("msKds-RootKeyData"),
        adsim_simulator::clock::NtTime(num("msKds-CreateTime")),
        adsim_simulator::clock::NtTime(num("msKds-UseStartTime")),
        &String::from_utf8(get("msKds-DomainID")).unwrap(),
    );
    let expected = gmsa::password_for(&root, id.gkid, &sid, None).unwrap();
    assert_eq!(python_nt_hash(blob), hex::encode(expected.nt_hash()));
}

#[test]
fn refused_host_plain_ldap_and_non_admin_root_key_reads() {
    let l = lab(&[]);
    // A computer outside the group: the entry without the attribute.
    let out = l.read_gmsa(
        &[
            "-x",
            "-H",
            &l.a.ldaps(),
            "-D",
            "CORP\\WEB02$",
            "-w",
            "Web02-Passw0rd!",
        ],
        &["msDS-ManagedPassword", "sAMAccountName"],
    );
    assert!(
        out.contains("sAMAccountName: svc-web$") && !out.contains("msDS-ManagedPassword"),
        "{out}"
    );
    // Plain LDAP: the whole search fails with operationsError 0000202D.
    let out = l.read_gmsa(
        &[
            "-x",
            "-H",
            &l.a.ldap(),
            "-D",
            "CORP\\WEB01$",
            "-w",
            "Web01-Passw0rd!",
        ],
        &["msDS-ManagedPassword"],
    );
    assert!(
        out.contains("Operations error (1)") && out.contains("0000202D"),
        "{out}"
    );
    // Modifying the interval is refused.
    let out = l.run(
        "ldapmodify",
        &l.admin_args(&l.a.ldaps()),
        Some(&format!("dn: CN=svc-web,CN=Managed Service Accounts,{}\nchangetype: modify\nreplace: msDS-ManagedPasswordInterval\nmsDS-ManagedPasswordInterval: 7\n", l.base)),
    );
    assert!(out.contains("Constraint violation (19)"), "{out}");
    // Root key objects are for admins only.
    let out = l.run(
        "ldapsearch",
        &[
            "-x",
            "-H",
            &l.a.ldaps(),
            "-D",
            "CORP\\WEB01$",
            "-w",
            "Web01-Passw0rd!",
            "-LLL",
            "-b",
            &format!(
                "CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,{}",
                l.base
            ),
            "(objectClass=msKds-ProvRootKey)",
            "msKds-RootKeyData",
            "msKds-UseStartTime",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
        None,
    );
    // The msKds-ProvRootKey class default SD (MS-ADTS schema, defaultSecurityDescriptor
    // `D:(A;;…;;;EA)(A;;…;;;SY)(A;;…;;;DA)`) grants a computer nothing, and the Master Root
    // Keys container passes it nothing inheritable: the filter on objectClass is Undefined and
    // the entry is not returned at all (before the SD model: the entry without the key data).
    assert!(
        !out.contains("dn:") && !out.contains("msKds-UseStartTime") && !out.contains("msKds-RootKeyData"),
        "{out}"
    );
}

#[test]
fn duplicate_gmsa_name_in_a_child_domain_is_refused() {
    let l = lab(&["--child-domain", "child"]);
    let child = &l.a.ready["domains"][1];
    let url = child["ldaps_url"].as_str().unwrap().to_string();
    let out = l.run(
        "ldapadd",
        &["-x", "-H", &url, "-D", "CHILD\\Administrator", "-w", ADMIN_PASSWORD].iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        Some("dn: CN=svc-web,CN=Managed Service Accounts,DC=child,DC=corp,DC=example,DC=test\nobjectClass: msDS-GroupManagedServiceAccount\nsAMAccountName: svc-web$\nmsDS-ManagedPasswordInterval: 30\n"),
    );
    assert!(
        out.contains("Already exists (68)") && out.contains("0000217B"),
        "{out}"
    );
}

#[test]
fn no_root_key_means_no_gmsa() {
    let a = Adsim::start(&["--kds-root-key", "none"]);
    let o = a.as_admin(
        "ldapadd",
        &a.ldaps(),
        &[],
        Some(&format!(
            "dn: CN=svc-x,CN=Managed Service Accounts,{}\nobjectClass: msDS-GroupManagedServiceAccount\nmsDS-ManagedPasswordInterval: 30\n",
            a.base()
        )),
    );
    let t = text(&o);
    assert!(
        t.contains("Server is unwilling to perform (53)") && t.contains("8009000D"),
        "{t}"
    );
}
