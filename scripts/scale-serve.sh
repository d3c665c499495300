#!/usr/bin/env bash
# The server side of the scale curve (docs/benchmarks.md, issue 12): for each N, an LDIF of N
# users below CN=Users (the population of `ldif::generate_users`: objectClass, cn,
# sAMAccountName, userPrincipalName) is loaded by the release binary with
# `adsim serve --fixture` on ephemeral loopback ports. VmRSS is polled every 0.5 s until the
# ready line; then one user is searched by sAMAccountName and all of CN=Users is paged through
# with ldapsearch (`-E pr=1000/noprompt`). Prints time to ready, VmRSS at ready, peak (VmHWM),
# VmRSS after the paged search, the entries it returned and the equality search's wall time,
# one row per N. Run scripts/scale-slapd.sh with the same N in the same session for the peer.
# Usage: scripts/scale-serve.sh 100000 [1000000]   (builds target/release/adsim if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
ADSIM=${ADSIM:-target/release/adsim}
[[ -x $ADSIM ]] || cargo build --release --bin adsim
BASE="DC=corp,DC=example,DC=test"
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
echo "| users | ready after | VmRSS at ready | peak (VmHWM) | VmRSS after the paged search | entries paged | equality search |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for n in "$@"; do
  python3 - "$n" "$BASE" > "$work/users.ldif" <<'PY'
import sys
n, base = int(sys.argv[1]), sys.argv[2]
suffix = ".".join(p.split("=", 1)[1] for p in base.split(",")).lower()
out = sys.stdout
out.write("version: 1\n\n")
for i in range(n):
    name = f"user{i:05}"
    out.write(f"dn: CN={name},CN=Users,{base}\nobjectClass: top\nobjectClass: person\n"
              f"objectClass: organizationalPerson\nobjectClass: user\ncn: {name}\n"
              f"sAMAccountName: {name}\nuserPrincipalName: {name}@{suffix}\n\n")
PY
  start=$(date +%s.%N)
  "$ADSIM" serve --fixture "$work/users.ldif" --admin-password 'Passw0rd!' --ldap-port 0 \
    --ldaps-port 0 --gc-port 0 --gcs-port 0 --kdc-port 0 --kpasswd-port 0 --control-port 0 \
    --dns-port 0 > "$work/ready" 2> "$work/log" &
  pid=$!
  for _ in $(seq 1 72000); do
    grep -q ldap_url "$work/ready" 2>/dev/null && break
    kill -0 "$pid" || { cat "$work/log"; exit 1; }
    sleep 0.05
  done
  ready=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f} s')")
  url=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["ldap_url"])' "$work/ready")
  rss=$(kib "$pid" VmRSS)
  t0=$(date +%s.%N)
  ldapsearch -LLL -x -H "$url" -D "CN=Administrator,CN=Users,$BASE" -w 'Passw0rd!' \
    -b "$BASE" "(sAMAccountName=user00042)" dn > /dev/null
  eq=$(python3 -c "print(f'{($(date +%s.%N) - $t0) * 1000:.0f} ms')")
  paged=$(ldapsearch -LLL -x -H "$url" -D "CN=Administrator,CN=Users,$BASE" -w 'Passw0rd!' \
    -E pr=1000/noprompt -b "CN=Users,$BASE" -s one "(objectClass=user)" dn | grep -c '^dn:' || true)
  after=$(kib "$pid" VmRSS)
  hwm=$(kib "$pid" VmHWM)
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  echo "| $n | $ready | $((rss / 1024)) MiB | $((hwm / 1024)) MiB | $((after / 1024)) MiB | $paged | $eq |"
done
