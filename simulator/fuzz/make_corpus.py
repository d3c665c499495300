#!/usr/bin/env python3
"""Writes the seed corpora of the cargo-fuzz targets (simulator/fuzz/corpus/<target>/) from files
already in the repository, so every seed has a stated origin:

  ldap_request        the PDUs of simulator/tests/ldap_codec/{requests,openldap}/*.hex
                      (python ldap3 goldens and OpenLDAP client captures)
  kerberos_request    simulator/tests/data/captures/asreq*.der (MIT, impacket, minikerberos)
  ldap_filter         RFC 4515 filters of the kinds AD clients send (below)
  ldif                fixtures/users-small.ldif and a change-record set (below)
  security_descriptor SDDL strings (below) and the binary gMSA membership SD of tests/e2e_record.rs
  control_json        control API bodies: first byte 0 = POST /v1/clock, 1 = POST /v1/kds/root-keys
  snapshot_file       a snapshot file (format version 2) of a throwaway seed-3 forest, written by
                      `adsim ctl snapshot --out` from the adsim binary given as the first argument

Usage: python3 simulator/fuzz/make_corpus.py target/debug/adsim
"""
import base64, json, os, pathlib, shutil, subprocess, sys, tempfile, time

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "simulator/fuzz/corpus"


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def main(adsim):
    shutil.rmtree(OUT, ignore_errors=True)
    for sub in ("requests", "openldap"):
        for f in sorted((ROOT / "simulator/tests/ldap_codec" / sub).glob("*.hex")):
            put("ldap_request", f"{sub}-{f.stem}", bytes.fromhex(f.read_text().split()[0]))
    for f in sorted((ROOT / "simulator/tests/data/captures").glob("asreq*.der")):
        put("kerberos_request", f.name, f.read_bytes())
    filters = [
        "(objectClass=*)",
        "(&(objectCategory=person)(userAccountControl:1.2.840.113556.1.4.803:=2))",
        "(memberOf:1.2.840.113556.1.4.1941:=CN=Administrators,CN=Builtin,DC=corp,DC=example,DC=test)",
        "(|(sAMAccountName=svc-web$)(servicePrincipalName=HTTP/web01*))",
        "(objectSid=S-1-5-21-1-2-3-500)",
        "(!(cn=a\\2ab\\00c))",
        "(whenChanged>=20260101000000.0Z)",
        "(cn~=alice)",
    ]
    for i, f in enumerate(filters):
        put("ldap_filter", f"filter{i}", f)
    put("ldif", "users-small.ldif", (ROOT / "fixtures/users-small.ldif").read_bytes())
    put("ldif", "changes.ldif",
        "version: 1\n\ndn: CN=alice,CN=Users,DC=corp,DC=example,DC=test\nchangetype: modify\n"
        "replace: description\ndescription: changed\n-\nadd: member\nmember: CN=bob\n-\n\n"
        "dn: CN=bob,CN=Users,DC=corp,DC=example,DC=test\nchangetype: delete\n\n"
        "dn: CN=carol,CN=Users,DC=corp,DC=example,DC=test\nchangetype: modrdn\nnewrdn: CN=caroline\n"
        "deleteoldrdn: 1\n")
    sddls = [
        "O:S-1-5-32-544D:(A;;0x0f01ff;;;S-1-5-21-1-2-3-1105)",
        "O:DAG:DUD:P(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(OA;;CR;00299570-246d-11d0-a768-00aa006e0529;;WD)"
        "(OA;CIIO;WP;bf967a7f-0de6-11d0-a285-00aa003049e2;bf967aba-0de6-11d0-a285-00aa003049e2;PS)S:(AU;SA;WP;;;WD)",
    ]
    for i, s in enumerate(sddls):
        put("security_descriptor", f"sddl{i}", s)
    put("security_descriptor", "gmsa-membership.bin", base64.b64decode(
        "AQAEgBQAAAAAAAAAAAAAACQAAAABAgAAAAAABSAAAAAgAgAAAgAcAAEAAAAAABQA/wEPAAEBAAAAAAAFCwAAAA=="))
    put("control_json", "clock-advance", b"\x00" + b'{"advance_seconds":2592000}')
    put("control_json", "clock-set", b"\x00" + b'{"set":"2030-01-01T00:00:00Z"}')
    put("control_json", "root-key", b"\x01" + b'{"effective":"immediately"}')
    put("control_json", "root-key-time", b"\x01" + b'{"effective":"2026-01-01T00:00:00Z"}')
    snapshot_seed(adsim)


def snapshot_seed(adsim):
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [adsim, "serve", "--seed", "3", "--start-time", "2026-01-05T10:00:00Z", "--state-dir", tmp,
             "--ldap-port", "0", "--ldaps-port", "0", "--gc-port", "0", "--gcs-port", "0",
             "--kdc-port", "0", "--kpasswd-port", "0", "--control-port", "0", "--dns-port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            ready = json.loads(server.stdout.readline())
            out = pathlib.Path(tmp) / "snapshot.json"
            subprocess.run([adsim, "ctl", "--url", ready["control_url"], "snapshot", "--out", str(out)],
                           check=True, stdout=subprocess.DEVNULL)
            put("snapshot_file", "seed3-v2.json", out.read_bytes())
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
