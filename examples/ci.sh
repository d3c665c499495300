#!/usr/bin/env bash
# A CI job against adsim, with nothing but `adsim serve`, `adsim ctl` and OpenLDAP's tools:
# start a forest, wait for its ready line, create a gMSA that only the host WEB01 may use,
# read its password as WEB01 over LDAPS, move the simulated clock 30 days, read it again
# (rotated: the old password is now the previous one), stop.
#
#   ADSIM=target/release/adsim ./examples/ci.sh
#
# Needs: adsim ($ADSIM, else on PATH), ldap-utils (ldapadd, ldapsearch), coreutils, iconv.
set -euo pipefail

ADSIM="${ADSIM:-adsim}"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "ci.sh: $*" >&2; [ -f "$WORK/adsim.log" ] && tail -n 20 "$WORK/adsim.log" >&2; exit 1; }

# 1. Start on ephemeral ports (no clashes with other jobs) with the clock frozen at a known
#    instant, and wait for the one-line JSON ready message.
"$ADSIM" serve --ldap-port 0 --ldaps-port 0 --gc-port 0 --kdc-port 0 --kpasswd-port 0 --dns-port 0 --control-port 0 \
  --seed 42 --start-time 2026-01-05T10:00:00Z >"$WORK/ready.json" 2>"$WORK/adsim.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  [ "$(wc -l <"$WORK/ready.json")" -ge 1 ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "adsim exited before it was ready"
  sleep 0.1
done
READY="$(head -n 1 "$WORK/ready.json")"
[ -n "$READY" ] || fail "no ready line after 30 s"
# The first occurrence of a key is the forest root's (per-domain copies come later).
field() { printf '%s' "$READY" | grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d '"' -f 4; }
LDAPS_URL="$(field ldaps_url)"
BASE="$(field base_dn)"
export ADSIM_CONTROL_URL="$(field control_url)"   # for adsim ctl
export LDAPTLS_CACERT="$(field ca_cert)"          # LDAPS verifies against adsim's CA
export LDAPTLS_REQCERT=demand
ADMIN=(-x -H "$LDAPS_URL" -D 'CORP\Administrator' -w "${ADSIM_ADMIN_PASSWORD:-Adsim-Passw0rd!}")
echo "adsim ready: $LDAPS_URL ($BASE)"

# 2. Two hosts with machine passwords (unicodePwd: the quoted password in UTF-16LE, LDAPS only).
unicode_pwd() { printf '"%s"' "$1" | iconv -f UTF-8 -t UTF-16LE | base64 | tr -d '\n'; }
WEB01_PW='Web01-Machine-Passw0rd!'
WEB02_PW='Web02-Machine-Passw0rd!'
ldapadd "${ADMIN[@]}" >/dev/null <<LDIF
dn: CN=WEB01,CN=Computers,$BASE
objectClass: computer
sAMAccountName: WEB01\$
userAccountControl: 4096
unicodePwd:: $(unicode_pwd "$WEB01_PW")

dn: CN=WEB02,CN=Computers,$BASE
objectClass: computer
sAMAccountName: WEB02\$
userAccountControl: 4096
unicodePwd:: $(unicode_pwd "$WEB02_PW")
LDIF

# 3. The gMSA, allowed for WEB01 only: msDS-GroupMSAMembership is the security descriptor
#    New-ADServiceAccount -PrincipalsAllowedToRetrieveManagedPassword WEB01$ writes,
#    O:S-1-5-32-544D:(A;;0x0f01ff;;;<WEB01's SID>), self-relative (MS-DTYP 2.4.6).
SID_B64="$(ldapsearch "${ADMIN[@]}" -LLL -o ldif-wrap=no -b "CN=WEB01,CN=Computers,$BASE" -s base objectSid \
  | sed -n 's/^objectSid:: //p')"
[ -n "$SID_B64" ] || fail "no objectSid for WEB01"
SID_LEN=$(printf '%s' "$SID_B64" | base64 -d | wc -c)
ACE_SIZE=$((8 + SID_LEN))
ACL_SIZE=$((8 + ACE_SIZE))
hex16() { printf "\\x$(printf %02x "$1")\\x00"; }   # a little-endian u16 below 256
SD_B64="$({
  printf '\x01\x00\x04\x80\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x24\x00\x00\x00'  # header
  printf '\x01\x02\x00\x00\x00\x00\x00\x05\x20\x00\x00\x00\x20\x02\x00\x00'                  # owner S-1-5-32-544
  printf '\x02\x00'; hex16 "$ACL_SIZE"; printf '\x01\x00\x00\x00'                              # DACL, one ACE
  printf '\x00\x00'; hex16 "$ACE_SIZE"; printf '\xff\x01\x0f\x00'                              # allow 0x000f01ff
  printf '%s' "$SID_B64" | base64 -d                                                           # to WEB01
} | base64 | tr -d '\n')"
GMSA_DN="CN=svc-web,CN=Managed Service Accounts,$BASE"
ldapadd "${ADMIN[@]}" >/dev/null <<LDIF
dn: $GMSA_DN
objectClass: msDS-GroupManagedServiceAccount
sAMAccountName: svc-web\$
dNSHostName: svc-web.corp.example.test
msDS-ManagedPasswordInterval: 30
msDS-GroupMSAMembership:: $SD_B64
LDIF
echo "created gMSA svc-web\$ (retrievable by WEB01\$)"

# 4. Read msDS-ManagedPassword (MS-ADTS 2.2.19) as a host over LDAPS. Only fingerprints are
#    printed: the blob is a secret.
read_blob() {  # $1 = host, $2 = its password; prints the blob in base64 (empty when refused)
  ldapsearch -x -LLL -o ldif-wrap=no -H "$LDAPS_URL" -D "CORP\\$1\$" -w "$2" \
    -b "$GMSA_DN" -s base msDS-ManagedPassword | sed -n 's/^msDS-ManagedPassword:: //p'
}
u16_at() { printf '%s' "$1" | base64 -d | od -An -tu2 -j "$2" -N 2 | tr -d ' '; }
password_at() { printf '%s' "$1" | base64 -d | dd bs=1 skip="$2" count=256 2>/dev/null | sha256sum | cut -c1-16; }
current() { password_at "$1" "$(u16_at "$1" 8)"; }
previous() { local off; off="$(u16_at "$1" 10)"; [ "$off" = 0 ] && echo none || password_at "$1" "$off"; }

DAY0="$(read_blob WEB01 "$WEB01_PW")"
[ -n "$DAY0" ] || fail "WEB01 could not read the managed password"
[ -z "$(read_blob WEB02 "$WEB02_PW")" ] || fail "WEB02 must not get the managed password"
echo "day 0:  current $(current "$DAY0"), previous $(previous "$DAY0"); WEB02 refused"

# 5. Thirty simulated days later the password has rotated (the default interval is 30 days).
"$ADSIM" ctl clock --advance 30d >/dev/null
DAY30="$(read_blob WEB01 "$WEB01_PW")"
echo "day 30: current $(current "$DAY30"), previous $(previous "$DAY30")"
[ "$(current "$DAY30")" != "$(current "$DAY0")" ] || fail "the password did not rotate"
[ "$(previous "$DAY30")" = "$(current "$DAY0")" ] || fail "the previous password is not day 0's"
echo "rotated: day 0's password is now the previous one"

# 6. Stop (the trap also stops adsim if anything above failed).
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

# 7. The server's log, written to a file, is plain text and names the account that rotated.
grep -q 'gMSA password rolled over' "$WORK/adsim.log" || fail "no rollover line in the log"
grep 'gMSA password rolled over' "$WORK/adsim.log" | grep -q 'svc-web\$' || fail "the rollover line does not name svc-web\$"
if grep -q "$(printf '\033')" "$WORK/adsim.log"; then fail "the log file carries terminal colour codes"; fi
echo "log: plain text, rollover of svc-web\$ recorded"
echo "ok"
