#!/usr/bin/env python3
"""CPU time the adsim server spends per LDAP request over one connection (issue 12).

Wall-clock rates on the shared 2-core machine move by ±30 % with other builds; the server's
own CPU time (utime + stime of the process, /proc/PID/stat) per request moves far less. This
starts `adsim serve` with 10,000 users (an LDIF fixture shaped as benches/ldap's users), binds
as Administrator on one connection and sends, one at a time, the `ldap` benchmark's requests:
a replace of one random user's description ("modify") and a subtree equality search for one
random sAMAccountName asking for cn and sAMAccountName ("equality"). The PDUs are encoded here
(RFC 4511, BER definite lengths) so the client costs little; only the server is measured.

Usage: scripts/ldap-cpu.py BINARY [N] [ROUNDS]   (default N = 20000 requests a kind, 3 rounds;
prints each round and the lowest figure, the least disturbed by other processes)
"""
import os, socket, subprocess, sys, tempfile, time

BASE = "DC=corp,DC=example,DC=test"
PASSWORD = "Bench-Passw0rd!"
USERS = 10_000


def length(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + length(len(content)) + content


def integer(v, tag=0x02):
    return tlv(tag, v.to_bytes((v.bit_length() + 8) // 8 or 1, "big", signed=True))


def octets(x):
    return tlv(0x04, x.encode())


def message(msgid, op):
    return tlv(0x30, integer(msgid) + op)


def bind(msgid, dn, password):
    return message(msgid, tlv(0x60, integer(3) + octets(dn) + tlv(0x80, password.encode())))


def modify(msgid, dn, attr, value):
    change = tlv(0x30, integer(2, 0x0A) + tlv(0x30, octets(attr) + tlv(0x31, octets(value))))
    return message(msgid, tlv(0x66, octets(dn) + tlv(0x30, change)))


def search(msgid, base, attr, value, attrs):
    return message(msgid, tlv(0x63, octets(base) + integer(2, 0x0A) + integer(0, 0x0A)
                              + integer(0) + integer(0) + tlv(0x01, b"\x00")
                              + tlv(0xA3, octets(attr) + octets(value))
                              + tlv(0x30, b"".join(octets(a) for a in attrs))))


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def pdu(self):
        while True:
            if len(self.buf) >= 2:
                n, head = self.buf[1], 2
                if n & 0x80:
                    k = n & 0x7F
                    n = int.from_bytes(self.buf[2:2 + k], "big") if len(self.buf) >= 2 + k else None
                    head = 2 + k
                if n is not None and len(self.buf) >= head + n:
                    p, self.buf = self.buf[:head + n], self.buf[head + n:]
                    return p
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("server closed the connection")
            self.buf += data

    def request(self, data, done_tag):
        """Sends one request; returns the entries counted and the final response."""
        self.sock.sendall(data)
        entries = 0
        while True:
            p = self.pdu()
            i = 2 + ((p[1] & 0x7F) if p[1] & 0x80 else 0)
            i += 2 + p[i + 1]  # the message id
            if p[i] == done_tag:
                if b"\x0a\x01\x00" not in p:
                    raise RuntimeError(f"request failed: {p!r}")
                return entries
            entries += p[i] == 0x64


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(binary, n, state):
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    port_no = port.getsockname()[1]
    port.close()
    server = subprocess.Popen(
        [binary, "serve", "--ldap-port", str(port_no), "--ldaps-port", "0", "--gc-port", "0",
         "--gcs-port", "0", "--kdc-port", "0", "--kpasswd-port", "0", "--control-port", "0",
         "--dns-port", "0", "--admin-password", PASSWORD, "--state-dir", state,
         "--fixture", os.path.join(state, "users.ldif")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        if "ready" not in server.stdout.readline():
            raise RuntimeError("adsim did not start")
        conn = Conn(port_no)
        conn.request(bind(1, f"CN=Administrator,CN=Users,{BASE}", PASSWORD), 0x61)
        x = 0x9E3779B97F4A7C15
        msgid = 1
        figures = {}
        for kind in ("modify", "equality"):
            def one(i):
                nonlocal x, msgid
                x ^= (x << 13) & (2**64 - 1)
                x ^= x >> 7
                x ^= (x << 17) & (2**64 - 1)
                name, msgid = f"user{x % USERS:05}", msgid + 1
                if kind == "modify":
                    conn.request(modify(msgid, f"CN={name},CN=Users,{BASE}", "description",
                                        f"changed {i}"), 0x67)
                elif conn.request(search(msgid, BASE, "sAMAccountName", name,
                                         ["cn", "sAMAccountName"]), 0x65) != 1:
                    raise RuntimeError(f"{name} not found once")
            for i in range(500):  # warm-up
                one(i)
            before = cpu_seconds(server.pid)
            for i in range(n):
                one(i)
            figures[kind] = (cpu_seconds(server.pid) - before) / n * 1e6
        return figures
    finally:
        server.kill()
        server.wait()


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    with tempfile.TemporaryDirectory() as state:
        with open(os.path.join(state, "users.ldif"), "w") as f:
            f.write("version: 1\n\n")
            for i in range(USERS):
                f.write(f"dn: CN=user{i:05},CN=Users,{BASE}\nobjectClass: user\n"
                        f"sAMAccountName: user{i:05}\n\n")
        best = {}
        for r in range(rounds):
            figures = run(binary, n, state)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v:.1f} µs" for k, v in figures.items()))
            for k, v in figures.items():
                best[k] = min(best.get(k, v), v)
        print("lowest: " + ", ".join(f"{k} {v:.1f} µs CPU/request" for k, v in best.items()))


if __name__ == "__main__":
    main()
