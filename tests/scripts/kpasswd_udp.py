"""impacket's kpasswd request (RFC 3244) sent over UDP as a retrying client sends it.

impacket builds the request (getKerberosTGT for kadmin/changepw, createKPasswdRequest with
an authenticator time of now + SKEW seconds) and reads the replies (decodeKPasswdReply); only
the transport is this script's: the identical datagram is sent COPIES times on one socket, as
MIT's krb5_sendto retransmits an unanswered UDP request.

usage: kpasswd_udp.py KDC_PORT KPASSWD_PORT DOMAIN USER OLD NEW SKEW COPIES
Prints one line per reply: `reply <n> <sha256 of the bytes> <result code> <message>`, or
`reply <n> <sha256> krb-error <error-code>` for a KRB-ERROR (an empty AP-REP, RFC 3244 §2).
"""

import datetime
import hashlib
import socket
import struct
import sys

from impacket.krb5 import constants, kerberosv5, kpasswd
from impacket.krb5.asn1 import AS_REP, KRB_ERROR
from impacket.krb5.crypto import Key
from impacket.krb5.types import Principal, Ticket
from Cryptodome.Random import get_random_bytes
from pyasn1.codec.der import decoder


def main() -> int:
    kdc_port, kpasswd_port = int(sys.argv[1]), int(sys.argv[2])
    domain, user, old, new = sys.argv[3:7]
    skew, copies = int(sys.argv[7]), int(sys.argv[8])

    original = kerberosv5.sendReceive
    kerberosv5.sendReceive = lambda data, host, kdc_host, port=88: original(data, host, kdc_host, kdc_port)

    client = Principal(user, type=constants.PrincipalNameType.NT_PRINCIPAL.value)
    tgt, cipher, _, session_key = kerberosv5.getKerberosTGT(
        client, old, domain, "", "", "", "127.0.0.1", serverName=kpasswd.KRB5_KPASSWD_TGT_SPN
    )
    ticket = Ticket()
    ticket.from_asn1(decoder.decode(tgt, asn1Spec=AS_REP())[0]["ticket"])
    sub_key = Key(cipher.enctype, get_random_bytes(cipher.keysize))
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=skew)
    request = kpasswd.createKPasswdRequest(client, domain, new, ticket, cipher, session_key, sub_key, now=now)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)
    for n in range(copies):
        sock.sendto(request, ("127.0.0.1", kpasswd_port))
        reply, _ = sock.recvfrom(65535)
        digest = hashlib.sha256(reply).hexdigest()
        if struct.unpack("!HHH", reply[:6])[2] == 0:
            error = decoder.decode(reply[6:], asn1Spec=KRB_ERROR())[0]
            print(f"reply {n} {digest} krb-error {int(error['error-code'])}")
            continue
        _, code, _, message = kpasswd.decodeKPasswdReply(reply, cipher, sub_key)
        print(f"reply {n} {digest} {code} {message!r}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # the Rust test shows impacket's error text
        print(f"ERROR {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
