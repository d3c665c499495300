#!/usr/bin/env bash
# Benchmarks adsim, each figure next to a baseline measured in the same run:
#   ldap      adsim next to OpenLDAP slapd (start-up, memory, search throughput)   ~40 s
#   gmsa      msDS-ManagedPassword reads over LDAPS next to a plain attribute read,
#             and the latency of the read that rolls the password over           ~20 s
#   kerberos  adsim's KDC next to MIT krb5kdc (AS and TGS exchanges per second)    ~40 s
# Installs Debian's slapd, krb5-kdc and krb5-admin-server if they are missing (the benchmarks
# start their own throwaway instances on loopback ports; the packages' default services are not
# used), builds the release binary, then runs `cargo bench --bench NAME` for each benchmark.
# Tables are printed and written to target/bench-NAME.md.
# Usage: ./scripts/bench.sh [ldap] [gmsa] [kerberos]   (default: all three; as root, or with sudo
#        available for the install)
set -euo pipefail
cd "$(dirname "$0")/.."

BENCHES=("$@")
if [ ${#BENCHES[@]} -eq 0 ]; then BENCHES=(ldap gmsa kerberos); fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for bench in "${BENCHES[@]}"; do
  case "$bench" in
    ldap)
      if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then missing+=(slapd); fi ;;
    gmsa) ;;
    kerberos)
      if ! command -v krb5kdc >/dev/null 2>&1 && [ ! -x /usr/sbin/krb5kdc ]; then missing+=(krb5-kdc); fi
      if ! command -v kadmin.local >/dev/null 2>&1 && [ ! -x /usr/sbin/kadmin.local ]; then
        missing+=(krb5-admin-server)
      fi ;;
    *) echo "unknown benchmark: $bench (ldap, gmsa, kerberos)" >&2; exit 2 ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo build --release
for bench in "${BENCHES[@]}"; do
  cargo bench --bench "$bench"
done
