#!/usr/bin/env python3
"""Captures the request PDUs that OpenLDAP's command-line tools (Debian ldap-utils 2.5) send, and
writes them as hex files under openldap/ next to this script; simulator/tests/ldap_codec.rs
decodes them.

Run once (needs `apt-get install ldap-utils`):
    python3 simulator/tests/ldap_codec/capture_openldap.py
The outputs are committed; this script documents the exact commands.

A minimal loopback-only responder answers every request with success (and compareTrue), enough
for the tools to send their whole conversation; it never interprets the requests.
"""
import os
import socket
import subprocess
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'openldap')
BASE = 'DC=corp,DC=example,DC=test'
SID_ESCAPED = '\\01\\05\\00\\00\\00\\00\\00\\05\\15\\00\\00\\00\\dc\\f4\\dc\\3b\\83\\3d\\2b\\46\\82\\2a\\8b\\28\\28\\01\\00\\00'

OP_NAMES = {0x60: 'bind', 0x42: 'unbind', 0x63: 'search', 0x66: 'modify', 0x68: 'add', 0x4a: 'delete',
            0x6c: 'moddn', 0x6e: 'compare', 0x50: 'abandon', 0x77: 'extended'}
# Response [APPLICATION n] tag for each request tag, and the result code to send.
RESPONSES = {0x60: (0x61, 0), 0x63: (0x65, 0), 0x66: (0x67, 0), 0x68: (0x69, 0), 0x4a: (0x6b, 0),
             0x6c: (0x6d, 0), 0x6e: (0x6f, 6), 0x77: (0x78, 0)}


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, 'big')
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def read_pdu(conn):
    def exactly(n):
        data = b''
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data
    head = exactly(2)
    if head[1] & 0x80:
        extra = exactly(head[1] & 0x7f)
        length = int.from_bytes(extra, 'big')
        head += extra
    else:
        length = head[1]
    return head + exactly(length)


def msgid_and_op(pdu):
    i = 2 + (pdu[1] & 0x7f if pdu[1] & 0x80 else 0)
    assert pdu[i] == 0x02
    n = pdu[i + 1]
    msgid = int.from_bytes(pdu[i + 2:i + 2 + n], 'big')
    return msgid, pdu[i + 2 + n]


class Responder:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.captured = []

    def serve_one(self):
        conn, _ = self.sock.accept()
        with conn:
            try:
                while True:
                    pdu = read_pdu(conn)
                    self.captured.append(pdu)
                    msgid, op = msgid_and_op(pdu)
                    if op == 0x42:
                        return
                    if op in RESPONSES:
                        tag, code = RESPONSES[op]
                        result = tlv(0x0a, bytes([code])) + tlv(0x04, b'') + tlv(0x04, b'')
                        conn.sendall(tlv(0x30, tlv(0x02, bytes([msgid])) + tlv(tag, result)))
            except EOFError:
                return


def capture(name, argv, stdin=None):
    responder = Responder()
    thread = threading.Thread(target=responder.serve_one)
    thread.start()
    url = 'ldap://127.0.0.1:%d' % responder.port
    argv = [a.replace('URL', url) for a in argv]
    subprocess.run(argv, input=stdin, capture_output=True, timeout=20)
    thread.join(timeout=20)
    responder.sock.close()
    for n, pdu in enumerate(responder.captured):
        op = OP_NAMES.get(msgid_and_op(pdu)[1], 'unknown')
        with open(os.path.join(OUT, '%s_%d_%s.hex' % (name, n, op)), 'w') as f:
            f.write(pdu.hex() + '\n')


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.remove(os.path.join(OUT, old))
    capture('ldapsearch_sid_paged', [
        'ldapsearch', '-x', '-H', 'URL', '-D', 'Administrator@corp.example.test', '-w', 'Passw0rd!',
        '-b', BASE, '-s', 'sub', '-E', 'pr=250/noprompt', '-E', '!1.2.840.113556.1.4.801=::MAMCAQc=',
        '-E', '!showDeleted', '-E', '!1.2.840.113556.1.4.2065',
        '(objectSid=%s)' % SID_ESCAPED, 'cn', 'objectGUID'])
    capture('ldapsearch_rootdse', [
        'ldapsearch', '-x', '-H', 'URL', '-b', '', '-s', 'base', '(objectClass=*)', '*', '+'])
    capture('ldapsearch_sorted', [
        'ldapsearch', '-x', '-H', 'URL', '-b', BASE, '-E', 'sss=sn/-givenName:2.5.13.3', '-E', 'extendedDn=1',
        '-E', 'domainScope', '-M', '(&(objectCategory=person)(userAccountControl:1.2.840.113556.1.4.803:=2)'
        '(!(cn=a\\2a*b*c)))', 'sn'])
    capture('ldapwhoami', ['ldapwhoami', '-x', '-H', 'URL'])
    capture('ldapmodify', ['ldapmodify', '-x', '-H', 'URL'], stdin=(
        'dn: CN=alice,CN=Users,%s\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: '
        'IgBTAGUAYwByAGUAdAAtAFAAYQA1ADUAIgA=\n-\nadd: member\nmember: CN=bob,CN=Users,%s\n-\n\n'
        'dn: CN=carol,CN=Users,%s\nchangetype: add\nobjectClass: user\nsAMAccountName: carol\n'
        'objectSid:: AQUAAAAAAAUVAAAA3PTcO4M9K0aCKosoKAEAAA==\n\n'
        'dn: CN=carol,CN=Users,%s\nchangetype: modrdn\nnewrdn: CN=carol2\ndeleteoldrdn: 1\n'
        'newsuperior: OU=Staff,%s\n\n'
        'dn: CN=carol2,OU=Staff,%s\nchangetype: delete\n' % ((BASE,) * 6)).encode())
    capture('ldapcompare', ['ldapcompare', '-x', '-H', 'URL', 'CN=carol,CN=Users,' + BASE,
                            'objectSid::AQUAAAAAAAUVAAAA3PTcO4M9K0aCKosoKAEAAA=='])


if __name__ == '__main__':
    main()
