#!/usr/bin/env bash
# Benchmarks adsim next to OpenLDAP slapd in one run (start-up, memory, search throughput).
# Installs Debian's slapd if it is missing, builds the release binary, then runs
# `cargo bench --bench ldap`. The table is printed and written to target/bench-ldap.md.
# Usage: ./scripts/bench.sh            (as root, or with sudo available for the install)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# The benchmark starts its own throwaway slapd instances (temporary directories, loopback ports);
# the package's default instance (which apt may start on port 389) is not used.
if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends slapd >/dev/null
fi

cargo build --release
cargo bench --bench ldap "$@"
