#!/usr/bin/env bash
# A short fuzz smoke run: each target for SECONDS_PER_TARGET (default 30) seconds on one
# core, starting from the committed corpus (not written to). Exits non-zero on a crash;
# libFuzzer then saves the input under fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"

export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}" # cargo fuzz needs nightly flags
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/doel-fuzz-target}"
seconds="${SECONDS_PER_TARGET:-30}"

cargo fuzz build -O -s none --features engine
for target in pipeline canonical scrub csv; do
    echo "== fuzz $target for ${seconds}s"
    scratch="$(mktemp -d)"
    cargo fuzz run -O -s none --features engine "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 \
        -print_final_stats=1
    rm -rf "$scratch"
done
