#!/usr/bin/env bash
# The Python package in CI: build the adsim-dc wheel (maturin, bindings = "bin") from the
# workspace, install it into a fresh venv and run examples/python with pytest, serially and with
# pytest-xdist on 4 workers (each its own forest on its own ports). Fails when any test fails.
#
#   ./scripts/test-python.sh                  (called by scripts/test.sh after cargo test)
#
# The wheel is built with the dev profile: after `cargo test` most of the workspace is already
# compiled, and the binary's speed does not matter to these tests. A release wheel is built with
# `maturin build --release` (see docs/architecture.md, "Python package").
# ADSIM_PYTHON_VENV=DIR keeps the venv in DIR (scripts/bench-python.sh reuses it).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
VENV="${ADSIM_PYTHON_VENV:-$WORK/venv}"

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r python/requirements-ci.txt

start=$(date +%s)
"$VENV/bin/maturin" build --quiet --profile dev --strip --compatibility linux --out "$WORK/dist"
echo "test-python: wheel built in $(( $(date +%s) - start )) s: $(ls "$WORK/dist")"
"$VENV/bin/pip" install -q --disable-pip-version-check "$WORK"/dist/adsim_dc-*.whl

# The venv's adsim, not a cargo-built one from PATH.
test "$("$VENV/bin/python" -c 'import adsim; print(adsim.binary_path())')" = "$VENV/bin/adsim"
"$VENV/bin/adsim" --version

cd examples/python
"$VENV/bin/python" -m pytest -q -p no:cacheprovider
"$VENV/bin/python" -m pytest -q -p no:cacheprovider -n 4
