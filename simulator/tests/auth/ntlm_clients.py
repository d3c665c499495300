"""Drives real NTLM client code (impacket 0.13, ldap3 2.9) for tests/auth_ntlm.rs.

Usage:
  ntlm_clients.py impacket-type1
  ntlm_clients.py impacket-type3 TYPE2HEX USER PASSWORD DOMAIN CBHEX
  ntlm_clients.py ldap3 USER PASSWORD DOMAIN  (reads CHALLENGE hex on stdin after printing NEGOTIATE)
Prints hex / JSON on stdout. The impacket type-3 step mirrors impacket/ldap/ldap.py's
GSS-SPNEGO NTLM login (MIC, mechListMIC with reset, then SPNEGOCipher.encrypt).
"""
import json
import sys
from binascii import hexlify, unhexlify

from impacket import ntlm
from impacket.ntlm import VERSION


def type1():
    version = VERSION()
    version['ProductMajorVersion'], version['ProductMinorVersion'], version['ProductBuild'] = 10, 0, 19041
    return ntlm.getNTLMSSPType1('', 'CORP', signingRequired=True, use_ntlmv2=True, version=version), version


def main():
    cmd = sys.argv[1]
    if cmd == 'impacket-type1':
        t1, _ = type1()
        print(hexlify(t1.getData()).decode())
    elif cmd == 'impacket-type3':
        type2 = unhexlify(sys.argv[2])
        user, password, domain = sys.argv[3], sys.argv[4], sys.argv[5]
        cb = unhexlify(sys.argv[6])
        t1, version = type1()
        t3, key = ntlm.getNTLMSSPType3(t1, type2, user, password, domain, service='ldap', version=version,
                                        use_ntlmv2=True, channel_binding_value=cb)
        t3['MIC'] = ntlm.hmac_md5(key, t1.getData() + ntlm.NTLMAuthChallenge(type2).getData() + t3.getData())
        from impacket.spnego import SPNEGOCipher
        cipher = SPNEGOCipher(flags=t1['flags'], randomSessionKey=key)
        mech_list_mic = cipher.sign(b'0\x0c\x06\n+\x06\x01\x04\x01\x827\x02\x02\n', 0, reset_cipher=True).getData()
        sig, sealed = cipher.encrypt(b'first LDAP PDU')
        sig2, sealed2 = cipher.encrypt(b'second LDAP PDU')
        print(json.dumps({
            'type3': hexlify(t3.getData()).decode(),
            'key': hexlify(key).decode(),
            'mech_list_mic': hexlify(mech_list_mic).decode(),
            'wrapped': [hexlify(sig.getData() + sealed).decode(), hexlify(sig2.getData() + sealed2).decode()],
        }))
    elif cmd == 'ldap3':
        # ldap3 takes MD4 from `Crypto` (pycryptodome) because OpenSSL 3's hashlib has none; this
        # machine has the same code as `Cryptodome` (pycryptodomex). Alias it; ldap3 is unchanged.
        import Cryptodome
        import Cryptodome.Hash
        import Cryptodome.Hash.MD4
        sys.modules.setdefault('Crypto', Cryptodome)
        sys.modules.setdefault('Crypto.Hash', Cryptodome.Hash)
        sys.modules.setdefault('Crypto.Hash.MD4', Cryptodome.Hash.MD4)
        from ldap3.utils.ntlm import NtlmClient
        user, password, domain = sys.argv[2], sys.argv[3], sys.argv[4]
        c = NtlmClient(domain, user, password)
        print(hexlify(c.create_negotiate_message()).decode(), flush=True)
        challenge = unhexlify(sys.stdin.readline().strip())
        if c.parse_challenge_message(challenge) is False:
            print('PARSE-FAILED')
            return
        print(hexlify(c.create_authenticate_message()).decode())
    else:
        raise SystemExit('unknown command ' + cmd)


if __name__ == '__main__':
    main()
