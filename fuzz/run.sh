#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, with cargo-fuzz on nightly
# (fuzz/README.md). Not part of CI (.ci/run). A crash's reproducer is copied into
# fuzz/regressions/<target>/, which tests/fuzz_seeds.rs runs as a regular test; the script
# then exits non-zero.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(request_headers jwt refresh_token session_token stored_record)
fi

failed=()
for target in "${targets[@]}"; do
  printf '\n==> %s (%ss)\n' "$target" "$seconds"
  # libFuzzer adds what it finds to the first directory, a scratch one (fuzz/corpus is not
  # committed); the seeds and reproducers are only read, so they stay small.
  corpus=fuzz/corpus/$target
  artifacts=fuzz/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  inputs=("$corpus" "fuzz/seeds/$target")
  if [ -d "fuzz/regressions/$target" ]; then
    inputs+=("fuzz/regressions/$target")
  fi
  before=$(ls "$artifacts")
  if ! cargo +nightly fuzz run "$target" "${inputs[@]}" -- \
      -max_total_time="$seconds" -timeout=10 -print_final_stats=1; then
    failed+=("$target")
  fi
  # Every new crash, leak, timeout or out-of-memory input becomes a regression test.
  for file in $(ls "$artifacts"); do
    if ! grep -qxF "$file" <<<"$before"; then
      mkdir -p "fuzz/regressions/$target"
      cp "$artifacts/$file" "fuzz/regressions/$target/$file"
      echo "reproducer: fuzz/regressions/$target/$file"
    fi
  done
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "failed: ${failed[*]} (reproducers in fuzz/regressions/)" >&2
  exit 1
fi
echo "no crash in: ${targets[*]}"
