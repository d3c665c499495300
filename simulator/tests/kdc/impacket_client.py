"""Runs impacket's Kerberos client against the adsim KDC on a custom port.

impacket hard-codes port 88 in getKerberosTGT, so sendReceive is wrapped to use the test
KDC's port (the only change; the protocol code is impacket's own).

usage: impacket_client.py PORT DOMAIN USER (--password P | --aes-key HEX) SPN CCACHE
Prints one line per step; exits non-zero with the impacket error on failure.
"""

import argparse
import sys

from impacket.krb5 import kerberosv5
from impacket.krb5.ccache import CCache
from impacket.krb5.types import Principal
from impacket.krb5 import constants


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("domain")
    parser.add_argument("user")
    parser.add_argument("--password", default="")
    parser.add_argument("--aes-key", default="")
    parser.add_argument("spn")
    parser.add_argument("ccache")
    args = parser.parse_args()

    original = kerberosv5.sendReceive
    kerberosv5.sendReceive = lambda data, host, kdc_host, port=88: original(data, host, kdc_host, args.port)

    client = Principal(args.user, type=constants.PrincipalNameType.NT_PRINCIPAL.value)
    tgt, cipher, old_session_key, session_key = kerberosv5.getKerberosTGT(
        client, args.password, args.domain, "", "", args.aes_key, "127.0.0.1"
    )
    print(f"TGT etype={cipher.enctype}")
    # Saving the ccache needs EncASRepPart.starttime (docs/notes/client-interop.md §11).
    ccache = CCache()
    ccache.fromTGT(tgt, old_session_key, session_key)
    ccache.saveFile(args.ccache)
    print("ccache saved")

    server = Principal(args.spn, type=constants.PrincipalNameType.NT_SRV_INST.value)
    tgs, tgs_cipher, _, _ = kerberosv5.getKerberosTGS(server, args.domain, "127.0.0.1", tgt, cipher, session_key)
    print(f"TGS etype={tgs_cipher.enctype}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # report impacket's error text to the Rust test
        print(f"ERROR {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
