#!/usr/bin/env bash
# SIGKILL at random moments of runs on a large export (default 1 000 000 rows) with a
# release build: after each kill no file may be at the output path but hidden
# .doel-*.tmp files; a final run beside the leftovers must write the same bytes as an
# undisturbed reference run. tests/kill.rs does the same on a small export.
#   benches/kill.sh [ROWS] [KILLS] [PIPELINE]
# PROFILE=debug runs it on a debug build (for a quick try of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
kills="${2:-20}"
pipeline="${3:-pipelines/onderzoek-ontwikkeling.toml}"
profile="${PROFILE:-release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/doel-target}"
if [ "$profile" = release ]; then
  cargo build --release --quiet --bin doel --bin doel-sample
else
  cargo build --quiet --bin doel --bin doel-sample
fi
bin="$CARGO_TARGET_DIR/$profile"
work="${TMPDIR:-/tmp}/doel-kill-$rows"
mkdir -p "$work"
[ -f "$work/export.parquet" ] || "$bin/doel-sample" --rows "$rows" --out-dir "$work" --formats parquet >/dev/null
# The command of a run writing to $1. Started as a simple command (not a shell function),
# so that `$!` of a run in the background is doel itself: killing a function's subshell
# left doel running on, and writing, beside the next run.
doel_run() {
  cmd=("$bin/doel" run "$pipeline" --key-file sample-data/demo.key --run-date 2026-11-01
       --input "$work/export.parquet" --output "$1" --quiet)
}
rm -rf "$work/out" && mkdir "$work/out"
out="$work/out/extract.parquet"
start=$(date +%s.%N)
doel_run "$work/reference.parquet"
"${cmd[@]}" 2>/dev/null
ref_ms=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%d", (e - s) * 1000 }')
echo "reference run: ${ref_ms} ms"
RANDOM=7  # seeded: the same delays every time
killed=0
for i in $(seq 1 "$kills"); do
  delay_ms=$(( RANDOM % (ref_ms + ref_ms / 10 + 1) ))
  doel_run "$out"
  "${cmd[@]}" 2>/dev/null & pid=$!
  sleep "$(awk -v d="$delay_ms" 'BEGIN { printf "%.3f", d / 1000 }')"
  if kill -KILL "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null && status=0 || status=$?
  if [ -e "$out" ]; then
    # Renamed into place: complete, even if the kill came before the exit.
    cmp -s "$out" "$work/reference.parquet" || { echo "kill $i after ${delay_ms} ms: the output differs"; exit 1; }
    # Killed after the rename, the run may also have written its manifest and report
    # (each renamed into place whole), never before: a manifest there must be whole JSON.
    if [ -e "$out.manifest.json" ] && ! python3 -m json.tool "$out.manifest.json" > /dev/null; then
      echo "kill $i after ${delay_ms} ms: the manifest is not whole"; exit 1
    fi
    rm -f "$out" "$out.manifest.json" "$out.report.html"
  elif [ "$status" = 0 ]; then
    echo "kill $i: the run succeeded without output"; exit 1
  fi
  for f in "$work/out"/* "$work/out"/.[!.]*; do
    [ -e "$f" ] || continue
    case "$(basename "$f")" in .doel-*.tmp) ;; *) echo "kill $i: unexpected $f"; exit 1 ;; esac
  done
done
leftovers=$(find "$work/out" -name '.doel-*.tmp' | wc -l)
doel_run "$out"
"${cmd[@]}" 2>/dev/null
cmp "$out" "$work/reference.parquet"
echo "rows=$rows kills=$kills killed=$killed leftovers=$leftovers: no partial output; the re-run is byte-identical"
rm -rf "$work/out"
