"""One client process of `cargo bench --bench binds`: real client libraries, unmodified.

    client.py MODE --config JSON

MODE is one of
  simple    ldap3 2.9.1: new connection, simple bind, unbind (over ldap:// or ldaps://, per config)
  ntlm      impacket 0.13.1 LDAPConnection.login: new connection, SASL GSS-SPNEGO with NTLM
            (signing and sealing negotiated, as impacket and bloodyAD do), unbind (sealed)
  kerberos  impacket LDAPConnection.kerberosLogin with a service ticket obtained once before the
            run (MIT kinit + kvno, see service_ticket), so each bind costs the server one AP-REQ
            (ticket, PAC, authenticator); new connection, bind (sealed), unbind
  read      one impacket NTLM-sealed connection on ldap://, bound before the run; each operation
            is a base-object search for the gMSA's msDS-ManagedPassword, which must come back
  rootdse   one ldap3 connection on ldap://, simply bound before the run; each operation is a
            base search of the rootDSE for defaultNamingContext, which must come back
  equality  the same connection; each operation is a subtree search of the domain for
            (sAMAccountName=<user>), which must find exactly one entry
  kinit     impacket getKerberosTGT per operation with the AES256 key derived once: an AS
            exchange as kinit makes it (an AS-REQ without pre-authentication,
            KDC_ERR_PREAUTH_REQUIRED, then the pre-authenticated AS-REQ and the TGT)

The config (JSON) names the server: {"dc_host", "ip", "ldap_port", "ldaps_port", "kdc_port",
"realm", "domain", "base_dn", "user", "password", "gmsa_dn", "simple_over_tls", "seconds"}.

Protocol with the orchestrator: after its set-up (imports, tickets, the read connection) the
client prints {"ready": true}, waits for one line on stdin, runs MODE for `seconds`, prints
{"ops": n, "errors": e, "seconds": s, "first_error": text|null} and exits. Only the time between
the go line and the end is measured, and only operations that succeeded are counted.

impacket and ldap3 connect to standard ports (389, 636, 88) by the DC's host name; the script maps
that name to the configured address and the standard ports to the configured ones in
socket.getaddrinfo (the same approach as tests/e2e_sasl.rs). Traffic stays on 127.0.0.0/8.
"""

import json
import socket
import sys
import time


def patch_resolver(cfg):
    if not cfg["ip"].startswith("127."):
        raise SystemExit(f"not a loopback address: {cfg['ip']}")
    ports = {389: cfg["ldap_port"], 636: cfg["ldaps_port"], 88: cfg["kdc_port"]}
    real = socket.getaddrinfo

    def patched(host, port, *args, **kwargs):
        if host in (cfg["dc_host"], cfg["ip"]):
            return real(cfg["ip"], ports.get(port, port), *args, **kwargs)
        return real(host, port, *args, **kwargs)

    socket.getaddrinfo = patched


def unbind(conn):
    """impacket has no unbind; send the UnbindRequest (sealed after a sealed bind) and close."""
    from impacket.ldap import ldapasn1

    conn.send(ldapasn1.UnbindRequest())
    conn.close()


def simple_once(cfg):
    import ldap3

    if cfg["simple_over_tls"]:
        tls = ldap3.Tls(validate=0)  # ssl.CERT_NONE: both servers have self-signed certificates
        server = ldap3.Server(cfg["ip"], port=cfg["ldaps_port"], use_ssl=True, tls=tls, get_info=ldap3.NONE)
    else:
        server = ldap3.Server(cfg["ip"], port=cfg["ldap_port"], get_info=ldap3.NONE)
    user = f"{cfg['domain']}\\{cfg['user']}"

    def once():
        conn = ldap3.Connection(server, user=user, password=cfg["password"], authentication=ldap3.SIMPLE)
        if not conn.bind():
            raise RuntimeError(f"simple bind: {conn.result}")
        conn.unbind()

    return once


def ntlm_once(cfg):
    from impacket.ldap import ldap

    def once():
        conn = ldap.LDAPConnection(f"ldap://{cfg['dc_host']}", cfg["base_dn"])
        conn.login(cfg["user"], cfg["password"], cfg["domain"])
        unbind(conn)

    return once


def service_ticket(cfg, workdir):
    """The TGT and the ldap/<dc> service ticket, obtained once with MIT kinit and kvno into a
    ccache, then loaded as impacket's `-k` tools (bloodyAD, GetADUsers) load KRB5CCNAME.

    impacket's own getKerberosTGS is not used: Samba 4.22's KDC refuses its TGS-REQ (the
    PA-TGS-REQ authenticator carries no checksum of the request body) with
    KRB_AP_ERR_INAPP_CKSUM. MIT's client asks for AES first, so on both servers the session key is
    AES256 and the sealed unbind uses RFC 4121 Wrap tokens."""
    import os
    import subprocess

    from impacket.krb5.ccache import CCache

    realm = cfg["realm"]
    conf = os.path.join(workdir, "krb5.conf")
    with open(conf, "w") as f:
        f.write(
            f"[libdefaults]\n default_realm = {realm}\n dns_lookup_kdc = false\n"
            f" dns_lookup_realm = false\n rdns = false\n"
            f"[realms]\n {realm} = {{\n  kdc = {cfg['ip']}:{cfg['kdc_port']}\n }}\n"
        )
    cache = os.path.join(workdir, "ccache")
    env = dict(os.environ, KRB5_CONFIG=conf, KRB5CCNAME=f"FILE:{cache}")
    spn = f"ldap/{cfg['dc_host']}@{realm}"
    for argv, stdin in ((["kinit", f"{cfg['user']}@{realm}"], cfg["password"] + "\n"), (["kvno", spn], None)):
        done = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)}: {done.stderr.strip()}")
    creds = CCache.loadFile(cache).getCredential(spn, anySPN=False)
    if creds is None:
        raise SystemExit(f"no {spn} in the ccache")
    ticket = creds.toTGS(spn)
    # Both servers must be measured with the same cipher (AES256: RFC 3962 / RFC 4121 tokens).
    if ticket["sessionKey"].enctype != 18:
        raise SystemExit(f"the {spn} session key has etype {ticket['sessionKey'].enctype}, not 18 (AES256)")
    return ticket


def kerberos_once(cfg):
    import tempfile

    from impacket.ldap import ldap

    with tempfile.TemporaryDirectory(prefix="adsim-bench-krb-") as workdir:
        ticket = service_ticket(cfg, workdir)

    def once():
        conn = ldap.LDAPConnection(f"ldap://{cfg['dc_host']}", cfg["base_dn"])
        conn.kerberosLogin(cfg["user"], "", cfg["realm"], kdcHost=cfg["dc_host"], TGS=ticket)
        unbind(conn)

    return once


def read_once(cfg):
    from impacket.ldap import ldap, ldapasn1

    conn = ldap.LDAPConnection(f"ldap://{cfg['dc_host']}", cfg["base_dn"])
    conn.login(cfg["user"], cfg["password"], cfg["domain"])
    scope = ldapasn1.Scope("baseObject")

    def once():
        found = False
        for entry in conn.search(
            searchBase=cfg["gmsa_dn"],
            scope=scope,
            searchFilter="(objectClass=*)",
            attributes=["msDS-ManagedPassword"],
        ):
            if isinstance(entry, ldapasn1.SearchResultEntry):
                for attr in entry["attributes"]:
                    if str(attr["type"]) == "msDS-ManagedPassword" and len(bytes(attr["vals"][0])) > 256:
                        found = True
        if not found:
            raise RuntimeError("no msDS-ManagedPassword in the answer")

    return once


def bound_ldap3(cfg):
    import ldap3

    server = ldap3.Server(cfg["ip"], port=cfg["ldap_port"], get_info=ldap3.NONE)
    conn = ldap3.Connection(
        server, user=f"{cfg['domain']}\\{cfg['user']}", password=cfg["password"], authentication=ldap3.SIMPLE
    )
    if not conn.bind():
        raise SystemExit(f"simple bind: {conn.result}")
    return conn


def rootdse_once(cfg):
    import ldap3

    conn = bound_ldap3(cfg)

    def once():
        conn.search("", "(objectClass=*)", ldap3.BASE, attributes=["defaultNamingContext"])
        if len(conn.entries) != 1 or not conn.entries[0]["defaultNamingContext"].value:
            raise RuntimeError(f"rootDSE: {conn.result}")

    return once


def equality_once(cfg):
    import ldap3

    conn = bound_ldap3(cfg)
    flt = f"(sAMAccountName={cfg['user']})"

    def once():
        conn.search(cfg["base_dn"], flt, ldap3.SUBTREE, attributes=["objectSid"])
        if len(conn.entries) != 1:
            raise RuntimeError(f"{flt}: {len(conn.entries)} entries, {conn.result}")

    return once


def kinit_once(cfg):
    from impacket.krb5 import constants
    from impacket.krb5.kerberosv5 import getKerberosTGT
    from impacket.krb5.types import Principal

    from impacket.krb5.crypto import _AES256CTS

    name = Principal(cfg["user"], type=constants.PrincipalNameType.NT_PRINCIPAL.value)
    # The AES256 key, derived once (PBKDF2 in pure Python takes most of a second, which would
    # measure the client): a computer account's salt is REALM + "host" + name + "." + domain.
    if not cfg["user"].endswith("$"):
        raise SystemExit("kinit mode expects a computer account (its salt is computed here)")
    realm = cfg["realm"]
    salt = f"{realm.upper()}host{cfg['user'][:-1].lower()}.{realm.lower()}"
    aes_key = _AES256CTS.string_to_key(cfg["password"], salt, None).contents.hex()

    def once():
        getKerberosTGT(name, "", realm, "", "", aes_key, kdcHost=cfg["dc_host"])

    return once


MODES = {
    "simple": simple_once,
    "ntlm": ntlm_once,
    "kerberos": kerberos_once,
    "read": read_once,
    "rootdse": rootdse_once,
    "equality": equality_once,
    "kinit": kinit_once,
}


def main():
    if len(sys.argv) != 4 or sys.argv[2] != "--config":
        raise SystemExit(__doc__)
    mode, cfg = sys.argv[1], json.loads(sys.argv[3])
    patch_resolver(cfg)
    once = MODES[mode](cfg)
    once()  # one operation before the run: fails early and loudly on a misconfiguration
    print(json.dumps({"ready": True}), flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go line")
    ops, errors, first_error = 0, 0, None
    start = time.monotonic()
    deadline = start + float(cfg["seconds"])
    while time.monotonic() < deadline:
        try:
            once()
            ops += 1
        except Exception as exc:  # counted, not retried: a failing server must not look fast
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
            if errors > 1000:
                break
    elapsed = time.monotonic() - start
    print(json.dumps({"ops": ops, "errors": errors, "seconds": elapsed, "first_error": first_error}), flush=True)


if __name__ == "__main__":
    main()
