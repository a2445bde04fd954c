#!/usr/bin/env bash
# End-to-end: generate an N-row export (default 1 000 000) and run a pipeline (default
# the research pipeline) on it with a release build, printing wall time, rows/s and
# peak RSS.
#   benches/e2e.sh [ROWS] [THREADS] [PIPELINE]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
threads="${2:-}"
pipeline="${3:-pipelines/onderzoek-ontwikkeling.toml}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/doel-target}"
cargo build --release --quiet --bin doel --bin doel-sample
bin="$CARGO_TARGET_DIR/release"
work="${TMPDIR:-/tmp}/doel-e2e-$rows"
mkdir -p "$work"
[ -f "$work/export.parquet" ] || "$bin/doel-sample" --rows "$rows" --out-dir "$work" --formats parquet
args=(run "$pipeline" --key-file sample-data/demo.key --run-date 2026-11-01
      --input "$work/export.parquet" --output "$work/out.parquet" --quiet)
[ -n "$threads" ] && args+=(--threads "$threads")
/usr/bin/time -v "$bin/doel" "${args[@]}" 2> "$work/time.txt"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
echo "pipeline=$pipeline rows=$rows threads=${threads:-all} wall=${secs}s rows_per_s=$(awk -v r="$rows" -v s="$secs" 'BEGIN { printf "%.0f", r / s }') peak_rss_mib=$((rss_kb / 1024))"
