"""impacket 0.13's Wrap for LDAP as impacket/ldap/ldap.py uses it after a Kerberos GSS-SPNEGO
bind: RFC 4121 AES (impacket/krb5/gssapi.py GSSAPI_AES256), or RFC 4757 RC4-HMAC (GSSAPI_RC4)
when ETYPE is 23.

  krb5_wrap.py wrap KEYHEX SEQ DATAHEX [ETYPE]   -> token hex
  krb5_wrap.py unwrap KEYHEX TOKENHEX [ETYPE]    -> plaintext hex (token from the acceptor)
"""
import sys
from binascii import hexlify, unhexlify

from impacket.krb5 import crypto
from impacket.krb5.gssapi import GSSAPI_AES256, GSSAPI_RC4

cmd = sys.argv[1]
etype = int(sys.argv[5] if cmd == 'wrap' and len(sys.argv) > 5 else
            sys.argv[4] if cmd == 'unwrap' and len(sys.argv) > 4 else 18)
key = crypto.Key(etype, unhexlify(sys.argv[2]))
gss = GSSAPI_RC4() if etype == 23 else GSSAPI_AES256()
if cmd == 'wrap':
    cipher, header = gss.GSS_Wrap_LDAP(key, unhexlify(sys.argv[4]), int(sys.argv[3]))
    print(hexlify(header + cipher).decode())
elif cmd == 'unwrap':
    plain, _ = gss.GSS_Unwrap_LDAP(key, unhexlify(sys.argv[3]), 0)
    print(hexlify(plain).decode())
