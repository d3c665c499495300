#!/usr/bin/env bash
# Runs every cargo-fuzz target in simulator/fuzz for SECONDS each (default 60) and prints, per
# target, the executions and the crashes found (crash inputs are kept under
# target/fuzz/artifacts/<target>/). Seeds: simulator/fuzz/corpus/<target>/ and
# simulator/fuzz/seeds/<target>/ (read only; new inputs go to target/fuzz/corpus/<target>/).
#
# cargo-fuzz needs nightly features (sanitizers): with a nightly toolchain installed it uses it;
# otherwise it tries the stable toolchain with RUSTC_BOOTSTRAP=1. Without cargo-fuzz
# (`cargo install cargo-fuzz`) it says so and exits 0: CI runs the stable mutation pass
# (simulator/tests/fuzz_mutations.rs) instead.
# Usage: ./scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH="${1:-60}"
shift || true
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is not installed (cargo install cargo-fuzz); no fuzzing done." \
       "The stable mutation pass runs with: cargo test -p adsim-simulator --test simulator fuzz_mutations"
  exit 0
fi
if rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
  CARGO=(cargo +nightly)
  echo "fuzz.sh: using the nightly toolchain"
else
  CARGO=(cargo)
  export RUSTC_BOOTSTRAP=1
  echo "fuzz.sh: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1"
fi

ROOT="$PWD"
WORK="${CARGO_TARGET_DIR:-$ROOT/target}/fuzz"
mkdir -p "$WORK"
cd simulator
if [ $# -gt 0 ]; then TARGETS=("$@"); else mapfile -t TARGETS < <("${CARGO[@]}" fuzz list); fi

summary=()
for t in "${TARGETS[@]}"; do
  corpus="$WORK/corpus/$t"
  artifacts="$WORK/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  seeds=()
  for d in "fuzz/corpus/$t" "fuzz/seeds/$t"; do
    if [ -d "$d" ]; then seeds+=("$d"); fi
  done
  log="$WORK/$t.log"
  echo "== $t: ${SECONDS_EACH} s"
  status=0
  "${CARGO[@]}" fuzz run "$t" "$corpus" "${seeds[@]}" -- \
    -max_total_time="$SECONDS_EACH" -artifact_prefix="$artifacts/" -max_len=262144 \
    >"$log" 2>&1 || status=$?
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -1 || true)
  if [ -z "$runs" ]; then
    runs=$(grep -Eo '^#[0-9]+' "$log" | tr -d '#' | tail -1 || true)
  fi
  crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
  summary+=("$(printf '%-22s executions %-10s crashes %s (exit %s)' "$t" "${runs:-?}" "$crashes" "$status")")
  if [ "$status" != 0 ]; then tail -n 30 "$log"; fi
done
echo
echo "fuzz.sh summary (${SECONDS_EACH} s per target; logs and artifacts in $WORK):"
printf '%s\n' "${summary[@]}"
