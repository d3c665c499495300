"""impacket 0.13's RFC 4121 AES Wrap for LDAP (impacket/krb5/gssapi.py GSSAPI_AES256), as
impacket/ldap/ldap.py uses it after a Kerberos GSS-SPNEGO bind.

  krb5_wrap.py wrap KEYHEX SEQ DATAHEX     -> token hex (header || rotated ciphertext)
  krb5_wrap.py unwrap KEYHEX TOKENHEX      -> plaintext hex (token from the acceptor)
"""
import sys
from binascii import hexlify, unhexlify

from impacket.krb5 import crypto
from impacket.krb5.gssapi import GSSAPI_AES256

cmd, key = sys.argv[1], crypto.Key(18, unhexlify(sys.argv[2]))
gss = GSSAPI_AES256()
if cmd == 'wrap':
    cipher, header = gss.GSS_Wrap_LDAP(key, unhexlify(sys.argv[4]), int(sys.argv[3]))
    print(hexlify(header + cipher).decode())
elif cmd == 'unwrap':
    plain, _ = gss.GSS_Unwrap_LDAP(key, unhexlify(sys.argv[3]), 0)
    print(hexlify(plain).decode())
