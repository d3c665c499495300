#!/usr/bin/env bash
# A live peer for adsim: Samba 4.22 as an Active Directory domain controller with gMSA support,
# provisioned from scratch on a loopback alias, used by `cargo bench --bench binds` (and meant for
# the differential runs of issue 14).
#
# Debian 12's own Samba (4.17) has no gMSA; 4.22 comes from Debian's bookworm-backports suite. When
# samba-ad-dc is not installed, the script adds that suite (same mirror as the machine's other
# sources) and installs it; if the suite cannot be reached it stops with exit status 3 and says so.
#
# What it sets up (realm SAMBA.EXAMPLE.TEST, NetBIOS domain SAMBA, DC host name dc1 by default):
#   WEB01$       a computer account with a password, member of gmsa-readers
#   gmsa-readers a global group, named in gmsa1$'s msDS-GroupMSAMembership
#   gmsa1$       a group managed service account (4.22's provision adds a back-dated KDS root key)
#   alice        a user, not allowed to read the gMSA's password
# and prints these facts as one JSON object on stdout (progress goes to stderr).
#
# Usage (as root: it adds the loopback alias and runs samba):
#   scripts/samba-peer.sh [--prefix DIR] [--ip 127.0.0.10] [--host-name dc1] [--option 'name=value']...
#     --prefix   where the domain's files go (removed first; default /tmp/adsim-samba-peer)
#     --ip       a 127.0.0.0/8 address; added to lo if missing; Samba binds only there
#     --option   an extra smb.conf option for the provisioned DC (repeatable), e.g.
#                --option 'ldap server require strong auth = no'
#     --install-only  install Samba 4.22 if missing (exit 0), or exit 3 as below; no DC (scripts/test.sh)
# Stop it with: kill -TERM "$(cat DIR/samba.pid)"   (the master process; its children follow)
# Provisioning takes 6-12 s, the first start another 6-10 s (it generates its TLS key).
set -euo pipefail

PREFIX=/tmp/adsim-samba-peer
IP=127.0.0.10
HOST=dc1
OPTIONS=()
INSTALL_ONLY=no
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=$2; shift 2 ;;
    --ip) IP=$2; shift 2 ;;
    --host-name) HOST=$2; shift 2 ;;
    --option) OPTIONS+=("$2"); shift 2 ;;
    --install-only) INSTALL_ONLY=yes; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "samba-peer.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

REALM=SAMBA.EXAMPLE.TEST
DOMAIN=SAMBA
DNS_DOMAIN=samba.example.test
BASE=DC=samba,DC=example,DC=test
ADMIN_PASSWORD='Adm1n!Pass-7'
READER_PASSWORD='Web01-Passw0rd!'
ALICE_PASSWORD='Alice-Passw0rd!'

say() { echo "samba-peer: $*" >&2; }
die() { local code=$1; shift; say "$*"; exit "$code"; }

[ "$(id -u)" = 0 ] || die 2 "run as root (it adds a loopback alias and starts samba)"
case "$IP" in 127.*) ;; *) die 2 "--ip must be a loopback address (127.0.0.0/8), not $IP" ;; esac
export DEBIAN_FRONTEND=noninteractive LDAPTLS_REQCERT=never

# --- install -------------------------------------------------------------------------------------
if ! dpkg -s samba-ad-dc >/dev/null 2>&1; then
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    mirror=$(grep -rhos '^URIs: *[^ ]*debian/\?$' /etc/apt/sources.list.d/ | head -1 | awk '{print $2}')
    mirror=${mirror:-http://deb.debian.org/debian}
    say "adding bookworm-backports from $mirror"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
      "$mirror" /usr/share/keyrings/debian-archive-keyring.gpg >/etc/apt/sources.list.d/adsim-backports.sources
  fi
  say "apt-get update"
  apt-get update -qq >&2 || true
  # apt-get update succeeds even when one suite fails; what matters is a candidate from backports.
  if ! apt-cache madison samba-ad-dc 2>/dev/null | grep bookworm-backports >/dev/null; then
    die 3 "the bookworm-backports suite cannot be reached (no samba-ad-dc candidate from it after apt-get update); Samba 4.22 cannot be installed, so there is no peer"
  fi
  say "installing samba 4.22 from bookworm-backports"
  apt-get install -y -qq -t bookworm-backports samba samba-ad-dc samba-ad-provision winbind \
    python3-samba ldap-utils >&2 || die 3 "installing samba from bookworm-backports failed"
fi
samba-tool service-account --help >/dev/null 2>&1 \
  || die 3 "this Samba ($(samba -V)) has no 'samba-tool service-account': gMSA needs 4.22 from bookworm-backports"
command -v ldapsearch >/dev/null || die 3 "ldapsearch is missing (apt-get install ldap-utils)"
if [ $INSTALL_ONLY = yes ]; then say "$(samba -V) is installed"; exit 0; fi

# --- provision -----------------------------------------------------------------------------------
# (No `… | grep -q` in this script: under pipefail, grep's early exit can fail the pipeline with
# SIGPIPE when the text is there — the add then failed with "Address already assigned".)
LO_ADDRS=$(ip -4 addr show dev lo)
case "$LO_ADDRS" in *"inet $IP/"*) ;; *) ip addr add "$IP/8" dev lo ;; esac
if [ -f "$PREFIX/samba.pid" ] && kill -0 "$(cat "$PREFIX/samba.pid")" 2>/dev/null; then
  die 2 "a Samba started from $PREFIX is still running (pid $(cat "$PREFIX/samba.pid")); stop it first"
fi
# Another server on the address would answer the readiness probe below in Samba's place.
if ldapsearch -x -H "ldap://$IP" -b '' -s base >/dev/null 2>&1; then
  die 2 "something already answers on ldap://$IP (another Samba?); stop it or choose another --ip"
fi
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
say "provisioning $REALM in $PREFIX on $IP"
samba-tool domain provision --realm="$REALM" --domain="$DOMAIN" --host-name="$HOST" \
  --server-role=dc --dns-backend=NONE --use-rfc2307 --adminpass="$ADMIN_PASSWORD" \
  --targetdir="$PREFIX" --option="interfaces=$IP" --option='bind interfaces only=yes' \
  >"$PREFIX/provision.log" 2>&1 || die 1 "provision failed; see $PREFIX/provision.log"
# Provision keeps only some --option values in the smb.conf it writes, so extra options go into
# its [global] section here. The run-time directories (pid file, ncalrpc and winbindd sockets)
# default to the machine-wide /run/samba, where a second instance finds the first's pid file and
# refuses to start: they go under the prefix, so peers on different addresses run side by side
# (the binds bench on 127.0.0.10 and the tests of tests/peer_samba.rs on .41 and .42).
mkdir -p "$PREFIX/run"
OPTIONS+=("pid directory = $PREFIX/run" "ncalrpc dir = $PREFIX/run/ncalrpc"
  "winbindd socket directory = $PREFIX/run/winbindd")
for opt in ${OPTIONS[@]+"${OPTIONS[@]}"}; do
  case "$opt" in *=*) ;; *) die 2 "--option wants 'name = value', not $opt" ;; esac
  sed -i "/^\[global\]/a\\\t$opt" "$PREFIX/etc/smb.conf"
done

# --- start ---------------------------------------------------------------------------------------
# In the foreground of its own session, so that one TERM to the master stops the whole tree.
setsid samba -s "$PREFIX/etc/smb.conf" -F --debug-stdout -d1 >"$PREFIX/samba.log" 2>&1 </dev/null &
echo $! >"$PREFIX/samba.pid"
say "samba started (pid $(cat "$PREFIX/samba.pid")), waiting for LDAP"
up=no
for _ in $(seq 600); do # at most 60 s
  if ldapsearch -x -H "ldap://$IP" -b '' -s base dnsHostName >/dev/null 2>&1; then up=yes; break; fi
  kill -0 "$(cat "$PREFIX/samba.pid")" 2>/dev/null || break
  sleep 0.1
done
[ $up = yes ] || die 1 "samba did not answer on ldap://$IP; see $PREFIX/samba.log"

# --- accounts ------------------------------------------------------------------------------------
AS_ADMIN=(-H "ldap://$IP" -U Administrator --password="$ADMIN_PASSWORD")
tool() { samba-tool "$@" "${AS_ADMIN[@]}" >>"$PREFIX/accounts.log" 2>&1 || die 1 "samba-tool $1 $2 failed; see $PREFIX/accounts.log"; }
tool computer add WEB01
tool user setpassword 'WEB01$' --newpassword="$READER_PASSWORD"
tool user add alice "$ALICE_PASSWORD"
tool group add gmsa-readers
tool group addmembers gmsa-readers 'WEB01$'
tool service-account create --name gmsa1 --dns-host-name "gmsa1.$DNS_DOMAIN"
# 4.22 takes the principal as a DN (by name it answers "Principal gmsa-readers not found.").
tool service-account group-msa-membership add --name gmsa1 --principal "CN=gmsa-readers,CN=Users,$BASE"

printf '{"ldap_url":"ldap://%s","ldaps_url":"ldaps://%s","kdc":"%s:88","ip":"%s","realm":"%s","domain":"%s","base_dn":"%s","dc_host":"%s.%s","dc_dn":"CN=%s,OU=Domain Controllers,%s","admin":"Administrator@%s","admin_password":"%s","reader":"WEB01$","reader_password":"%s","reader_group":"CN=gmsa-readers,CN=Users,%s","gmsa":"gmsa1$","gmsa_dn":"CN=gmsa1,CN=Managed Service Accounts,%s","user":"alice","user_password":"%s","pid":%s,"prefix":"%s","version":"%s"}\n' \
  "$IP" "$IP" "$IP" "$IP" "$REALM" "$DOMAIN" "$BASE" "$HOST" "$DNS_DOMAIN" "${HOST^^}" "$BASE" "$REALM" \
  "$ADMIN_PASSWORD" "$READER_PASSWORD" "$BASE" "$BASE" "$ALICE_PASSWORD" "$(cat "$PREFIX/samba.pid")" \
  "$PREFIX" "$(samba -V | sed 's/^Version //')"
