#!/usr/bin/env bash
# The slapd side of the scale curve (docs/benchmarks.md, issue 12): for each N, N inetOrgPerson
# users (uid, cn, sn; the ldap benchmark's population) are bulk-loaded with `slapadd -q` into an
# empty mdb database (same slapd.conf as benches/ldap: stock schemas, indexes on objectClass, uid
# and cn, dbnosync), then slapd is started on a loopback port until it answers a rootDSE search.
# Prints load time (slapadd + start), VmRSS once answering, and VmRSS after one search that
# reads every user (mdb maps the database; pages count once touched), then, slapd stopped, the
# time `slapcat` takes to export the database as LDIF and that file's size (what adsim's
# snapshot file is compared with), one table row per N.
# Usage: scripts/scale-slapd.sh 1000 10000 100000 [1000000]
set -euo pipefail
SLAPD=${SLAPD:-/usr/sbin/slapd}
SLAPADD=${SLAPADD:-/usr/sbin/slapadd}
SLAPCAT=${SLAPCAT:-/usr/sbin/slapcat}
SUFFIX="dc=bench,dc=test"
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
echo "| users | slapadd + start | VmRSS answering | VmRSS after a full read | slapcat | slapcat LDIF |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in "$@"; do
  dir="$work/$n"; mkdir -p "$dir/db"
  cat > "$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
loglevel none
database mdb
maxsize 17179869184
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw secret
directory $dir/db
dbnosync
index objectClass eq
index uid eq
index cn eq
CONF
  {
    printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: bench\no: bench\n\n' "$SUFFIX"
    printf 'dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n' "$SUFFIX"
    awk -v n="$n" -v s="$SUFFIX" 'BEGIN { for (i = 0; i < n; i++) {
      u = sprintf("user%05d", i)
      printf "dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n\n", u, s, u, u, u } }'
  } > "$dir/users.ldif"
  port=$((20000 + RANDOM % 20000))
  start=$(date +%s.%N)
  "$SLAPADD" -q -f "$dir/slapd.conf" -l "$dir/users.ldif" 2>"$dir/slapadd.log"
  "$SLAPD" -h "ldap://127.0.0.1:$port/" -f "$dir/slapd.conf" -d 0 2>"$dir/slapd.log" &
  pid=$!
  for _ in $(seq 1 2000); do
    if ldapsearch -x -H "ldap://127.0.0.1:$port/" -s base -b "" namingContexts >/dev/null 2>&1; then break; fi
    sleep 0.005
  done
  end=$(date +%s.%N)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  ldapsearch -x -H "ldap://127.0.0.1:$port/" -D "cn=admin,$SUFFIX" -w secret -b "ou=people,$SUFFIX" \
    -z 0 "(objectClass=inetOrgPerson)" uid >/dev/null 2>&1 || true
  rss2=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  cat_start=$(date +%s.%N)
  "$SLAPCAT" -f "$dir/slapd.conf" -l "$dir/export.ldif" 2>"$dir/slapcat.log"
  cat_end=$(date +%s.%N)
  size=$(stat -c %s "$dir/export.ldif")
  awk -v n="$n" -v t="$(echo "$end - $start" | bc)" -v r="$rss" -v r2="$rss2" \
    -v ct="$(echo "$cat_end - $cat_start" | bc)" -v sz="$size" \
    'BEGIN { printf "| %d | %.2f s | %.0f MiB | %.0f MiB | %.2f s | %.1f MiB |\n", n, t, r/1024, r2/1024, ct, sz/1048576 }'
  rm -rf "$dir"
done
