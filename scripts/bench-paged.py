#!/usr/bin/env python3
"""Paged search of N users while another client loops rootDSE reads, then a snapshot file (issue 12).
Usage: scripts/bench-paged.py ADSIM_BINARY N PORT_BASE. Prints one JSON line."""
import json, os, subprocess, sys, tempfile, threading, time
import ldap3

binary, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tmp = tempfile.mkdtemp(prefix="adsim-b2-")
ldif = os.path.join(tmp, "users.ldif")
with open(ldif, "w") as f:
    for i in range(n):
        f.write(f"dn: CN=user{i:06},CN=Users,DC=corp,DC=example,DC=test\nobjectClass: user\n"
                f"sAMAccountName: user{i:06}\n\n")
ports = dict(zip(["--ldap-port", "--ldaps-port", "--gc-port", "--gcs-port", "--kdc-port",
                  "--kpasswd-port", "--control-port", "--dns-port"], range(base, base + 8)))
args = [binary, "serve", "--fixture", ldif, "--state-dir", tmp, "--seed", "1", "--admin-password", "Bench-Passw0rd!"]
for k, v in ports.items():
    args += [k, str(v)]
t0 = time.monotonic()
proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open("/tmp/b2/bench/server.err", "w"), text=True)
import atexit
atexit.register(lambda: proc.poll() is None and proc.terminate())
proc.stdout.readline()  # the ready line
load = time.monotonic() - t0
server = ldap3.Server(f"ldap://127.0.0.1:{base}", get_info=ldap3.NONE)
def conn():
    return ldap3.Connection(server, "Administrator@corp.example.test", "Bench-Passw0rd!", auto_bind=True, check_names=False)

def probe(seconds, out):
    c = conn()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s = time.perf_counter()
        c.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["defaultNamingContext"])
        out.append(time.perf_counter() - s)

def p(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

idle = []
probe(3, idle)
# The prober runs in its own process: in this one it would share the GIL with the pager.
import multiprocessing
def prober(q, stop):
    c = conn()
    lat = []
    while not stop.is_set():
        s = time.perf_counter()
        c.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["defaultNamingContext"])
        lat.append(time.perf_counter() - s)
    q.put(lat)
q, stop = multiprocessing.Queue(), multiprocessing.Event()
th = multiprocessing.Process(target=prober, args=(q, stop)); th.start()
time.sleep(0.5)
c = conn()
s = time.perf_counter()
first = None
count = 0
cookie = None
while True:
    c.search("DC=corp,DC=example,DC=test", "(objectClass=user)", attributes=["sAMAccountName"],
             paged_size=1000, paged_cookie=cookie)
    if first is None:
        first = time.perf_counter() - s
    count += len(c.entries)
    cookie = c.result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
    if not cookie:
        break
total = time.perf_counter() - s
stop.set(); busy = q.get(); th.join()
def rss_kib():
    return int(open(f"/proc/{proc.pid}/status").read().split("VmRSS:")[1].split()[0])
print("paged", count, first, total, proc.poll(), file=sys.stderr); rss = rss_kib()
import urllib.request
s = time.perf_counter()
req = urllib.request.Request(f"http://127.0.0.1:{ports['--control-port']}/v1/snapshots",
                             data=json.dumps({"path": "snap.json"}).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
snap_resp = urllib.request.urlopen(req).read()
snap_s = time.perf_counter() - s
rss_after = rss_kib()
snap_size = os.path.getsize(os.path.join(tmp, "snap.json")) if os.path.exists(os.path.join(tmp, "snap.json")) else -1
proc.terminate(); proc.wait()
print(json.dumps({"n": n, "load_s": round(load, 2), "entries": count, "first_page_ms": round(first * 1000, 1),
                  "paged_total_s": round(total, 2), "idle_p50_ms": round(p(idle, .5), 2),
                  "idle_p99_ms": round(p(idle, .99), 2), "busy_p50_ms": round(p(busy, .5), 2),
                  "busy_p99_ms": round(p(busy, .99), 2), "busy_n": len(busy), "rss_kib": rss,
                  "snapshot_s": round(snap_s, 2), "snapshot_mib": round(snap_size / 2**20, 1),
                  "snapshot_rss_growth_mib": round((rss_after - rss) / 1024, 1)}))
