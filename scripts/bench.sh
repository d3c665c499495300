#!/usr/bin/env bash
# Benchmarks adsim, each figure next to a baseline measured in the same run:
#   ldap      adsim next to OpenLDAP slapd (start-up, memory, search throughput)   ~40 s
#   gmsa      msDS-ManagedPassword reads over LDAPS next to a plain attribute read,
#             and the latency of the read that rolls the password over           ~20 s
#   kerberos  adsim's KDC next to MIT krb5kdc (AS and TGS exchanges per second)    ~40 s
#   scale     the scale curve: fixture load, memory, equality search and modify of adsim at
#             1,000 / 10,000 / 100,000 users (in process), slapadd + start and memory of slapd ~4 min
#   binds     simple, NTLM and Kerberos binds and sealed msDS-ManagedPassword reads next to
#             Samba 4.22 as an AD DC (scripts/samba-peer.sh; needs root, the Python clients of
#             tests/requirements.txt, MIT kinit/kvno)                               ~2 min
# Installs Debian's slapd, krb5-kdc and krb5-admin-server if they are missing (the benchmarks
# start their own throwaway instances on loopback ports; the packages' default services are not
# used), builds the release binary, then runs `cargo bench --bench NAME` for each benchmark.
# Tables are printed and written to target/bench-NAME.md.
# Usage: ./scripts/bench.sh [ldap] [gmsa] [kerberos] [binds] [scale]   (default: the first four; as root, or with
#        sudo available for the install; binds runs Samba and so needs root itself)
set -euo pipefail
cd "$(dirname "$0")/.."

BENCHES=("$@")
if [ ${#BENCHES[@]} -eq 0 ]; then BENCHES=(ldap gmsa kerberos binds); fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for bench in "${BENCHES[@]}"; do
  case "$bench" in
    ldap|scale)
      if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then missing+=(slapd); fi ;;
    gmsa) ;;
    kerberos)
      if ! command -v krb5kdc >/dev/null 2>&1 && [ ! -x /usr/sbin/krb5kdc ]; then missing+=(krb5-kdc); fi
      if ! command -v kadmin.local >/dev/null 2>&1 && [ ! -x /usr/sbin/kadmin.local ]; then
        missing+=(krb5-admin-server)
      fi ;;
    binds)
      # Samba itself is installed by scripts/samba-peer.sh (from bookworm-backports) when the
      # benchmark starts it; the clients need kinit/kvno and ldapsearch.
      if ! command -v kvno >/dev/null 2>&1; then missing+=(krb5-user); fi
      if ! command -v ldapsearch >/dev/null 2>&1; then missing+=(ldap-utils); fi ;;
    *) echo "unknown benchmark: $bench (ldap, gmsa, kerberos, binds, scale)" >&2; exit 2 ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for bench in "${BENCHES[@]}"; do
  if [ "$bench" = binds ] && ! python3 -c 'import impacket, ldap3' 2>/dev/null; then
    python3 -m pip install -q -r tests/requirements.txt
  fi
done

cargo build --release
for bench in "${BENCHES[@]}"; do
  if [ "$bench" = scale ]; then
    cargo bench -p adsim-simulator --bench scale -- 1000 10000 100000
    scripts/scale-slapd.sh 1000 10000 100000
  else
    cargo bench --bench "$bench"
  fi
done
