#!/usr/bin/env bash
# What adsim's pytest fixtures cost, in one run (examples/python/bench): per test, the
# function-scoped adsim_forest (setup, and the teardown's restore) and a bound adsim_ldap3
# connection; per session, the forest's start; and bare `adsim serve` starts next to it.
# Builds the adsim-dc wheel (dev profile, as CI; --release for the release binary), installs it
# into a fresh venv and prints the table. ~20 s once the workspace is built.
#   ./scripts/bench-python.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=(--profile dev)
if [ "${1:-}" = "--release" ]; then PROFILE=(--release); fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check -r python/requirements-ci.txt
"$WORK/venv/bin/maturin" build --quiet "${PROFILE[@]}" --strip --compatibility linux --out "$WORK/dist"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check "$WORK"/dist/adsim_dc-*.whl

cd examples/python
"$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider -p no:xdist bench
