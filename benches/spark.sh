#!/usr/bin/env bash
# doel on Spark beside doel on one machine: the same pipeline on the same generated
# export, wall time and rows/s of each (release builds), after checking that both wrote
# the same rows (the equivalence test's comparison).
#   benches/spark.sh [ROWS...]        (default: the 3 000-row sample, then 1 000 000)
# Needs what .ci/run installs: the virtual environment with python/requirements-test.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/doel-target}"
venv="${DOEL_VENV:-$HOME/.cache/doel-venv}"
master="${DOEL_SPARK_MASTER:-local[2]}"
pipeline=pipelines/onderzoek-ontwikkeling.toml
cargo build --release --quiet --bin doel --bin doel-sample
(cd python && CARGO_TARGET_DIR="${DOEL_PYTHON_TARGET_DIR:-$HOME/.cache/doel-python-target}" \
  VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --quiet)
bin="$CARGO_TARGET_DIR/release"
seconds() { awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$1" |
  awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }'; }
for rows in "${@:-3000 1000000}"; do
  work="${TMPDIR:-/tmp}/doel-spark-$rows"
  mkdir -p "$work"
  if [ "$rows" = 3000 ]; then input=sample-data/export.parquet
  else
    input="$work/export.parquet"
    [ -f "$input" ] || "$bin/doel-sample" --rows "$rows" --out-dir "$work" --formats parquet >/dev/null
  fi
  rm -rf "$work/single.parquet" "$work/spark.parquet"
  /usr/bin/time -v "$bin/doel" run "$pipeline" --key-file sample-data/demo.key --run-date 2026-11-01 \
    --input "$input" --output "$work/single.parquet" --quiet --register "$work/register.jsonl" 2> "$work/single.time"
  /usr/bin/time -v env DOEL_SPARK_MASTER="$master" "$venv/bin/python" -m doel.spark "$pipeline" \
    --key-file sample-data/demo.key --run-date 2026-11-01 --input "$input" \
    --output "$work/spark.parquet" > "$work/spark.json" 2> "$work/spark.time"
  "$venv/bin/python" - "$work" <<'PY'
import sys, pyarrow.dataset as ds, pyarrow.parquet as pq
work = sys.argv[1]
single = pq.read_table(f"{work}/single.parquet")
spark = ds.dataset(f"{work}/spark.parquet", format="parquet").to_table()
key = lambda t: sorted(map(tuple, zip(*[t.column(c).to_pylist() for c in single.column_names])), key=repr)
assert spark.num_rows == single.num_rows, (spark.num_rows, single.num_rows)
assert key(spark.cast(single.schema.remove_metadata())) == key(single), "rows differ"
PY
  s1=$(seconds "$work/single.time"); s2=$(seconds "$work/spark.time")
  echo "rows=$rows doel_run=${s1}s ($(awk -v r="$rows" -v s="$s1" 'BEGIN{printf "%.0f", r/s}') rows/s)" \
    "spark_${master}=${s2}s ($(awk -v r="$rows" -v s="$s2" 'BEGIN{printf "%.0f", r/s}') rows/s, JVM start included)" \
    "same_rows=yes"
done
