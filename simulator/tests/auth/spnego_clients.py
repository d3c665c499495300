"""impacket 0.13's GSS-SPNEGO code paths (impacket/spnego.py, impacket/ldap/ldap.py) for
tests/auth_spnego.rs.

  spnego_clients.py ntlm-init                 -> NegTokenInit hex (NTLMSSP, type 1), as ldap.py
  spnego_clients.py ntlm-finish RESPHEX USER PASSWORD DOMAIN
        -> JSON: NegTokenResp hex (type 3 + mechListMIC) and framed sealed PDUs, as ldap.py
  spnego_clients.py krb-init MECHTOKENHEX     -> NegTokenInit hex ([MS KRB5], raw AP-REQ), as ldap.py
  spnego_clients.py parse-resp HEX            -> JSON of impacket's SPNEGO_NegTokenResp parse
"""
import json
import sys
from binascii import hexlify, unhexlify

from impacket import ntlm
from impacket.ntlm import VERSION
from impacket.spnego import SPNEGO_NegTokenInit, SPNEGO_NegTokenResp, SPNEGOCipher, TypesMech


def type1():
    version = VERSION()
    version['ProductMajorVersion'], version['ProductMinorVersion'], version['ProductBuild'] = 10, 0, 19041
    return ntlm.getNTLMSSPType1('', 'CORP', signingRequired=True, use_ntlmv2=True, version=version), version


cmd = sys.argv[1]
if cmd == 'ntlm-init':
    t1, _ = type1()
    blob = SPNEGO_NegTokenInit()
    blob['MechTypes'] = [TypesMech['NTLMSSP - Microsoft NTLM Security Support Provider']]
    blob['MechToken'] = t1.getData()
    print(hexlify(blob.getData()).decode())
elif cmd == 'ntlm-finish':
    resp = SPNEGO_NegTokenResp(unhexlify(sys.argv[2]))
    type2 = resp['ResponseToken']
    t1, version = type1()
    t3, key = ntlm.getNTLMSSPType3(t1, type2, sys.argv[3], sys.argv[4], sys.argv[5], service='ldap',
                                    version=version, use_ntlmv2=True)
    t3['MIC'] = ntlm.hmac_md5(key, t1.getData() + ntlm.NTLMAuthChallenge(type2).getData() + t3.getData())
    blob = SPNEGO_NegTokenResp()
    blob['ResponseToken'] = t3.getData()
    cipher = SPNEGOCipher(flags=t1['flags'], randomSessionKey=key)
    blob['mechListMIC'] = cipher.sign(b'0\x0c\x06\n+\x06\x01\x04\x01\x827\x02\x02\n', 0, reset_cipher=True).getData()
    framed = []
    for pdu in [b'0\x05\x02\x01\x02\x42\x00', b'second PDU']:
        sig, sealed = cipher.encrypt(pdu)
        data = sig.getData() + sealed
        framed.append(hexlify(len(data).to_bytes(4, 'big') + data).decode())
    print(json.dumps({'resp': hexlify(blob.getData()).decode(), 'framed': framed}))
elif cmd == 'krb-init':
    blob = SPNEGO_NegTokenInit()
    blob['MechTypes'] = [TypesMech['MS KRB5 - Microsoft Kerberos 5']]
    blob['MechToken'] = unhexlify(sys.argv[2])
    print(hexlify(blob.getData()).decode())
elif cmd == 'parse-resp':
    r = SPNEGO_NegTokenResp(unhexlify(sys.argv[2]))
    out = {}
    for k in ('NegState', 'SupportedMech', 'ResponseToken'):
        if k in r.fields:
            out[k] = hexlify(r[k]).decode()
    print(json.dumps(out))
