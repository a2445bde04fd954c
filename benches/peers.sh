#!/usr/bin/env bash
# End-to-end against peers (issue 6): generate an N-row export with doel-sample, run the
# research job of pipelines/onderzoek-ontwikkeling.toml with doel (release build) and the
# same job with (a) DuckDB SQL, HMAC composed from sha256() over blobs
# (benches/peers/duckdb_job.sql) and (b) pyarrow + Python's hmac module
# (benches/peers/pyarrow_job.py); check that all three wrote the same rows (every column,
# the pseudonyms included: benches/peers/compare.py, fails the script on a difference);
# print wall time, rows/s, peak RSS and doel's speed relative to each peer, and write the
# table to benches/results/peers-<rows>.txt.
#
#   benches/peers.sh [ROWS...]          default 1000000; e.g. benches/peers.sh 1000000 10000000
#
# Environment: PEERS (default "duckdb pyarrow") picks the peers (doel always runs: it is the
# reference); PEERS_VENV (default $CARGO_TARGET_DIR/peers-venv) where duckdb and pyarrow
# are installed from PyPI, at DUCKDB_VERSION / PYARROW_VERSION; PEERS_NO_BUILD=1 uses the
# doel and doel-sample already built in $CARGO_TARGET_DIR/release instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
rows_list=("${@:-1000000}")
tools="doel $(echo "${PEERS:-duckdb pyarrow}" | tr ' ' '\n' | { grep -vx 'doel' || true; } | tr '\n' ' ')"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/doel-target}"
venv="${PEERS_VENV:-$CARGO_TARGET_DIR/peers-venv}"
duckdb_version="${DUCKDB_VERSION:-2.0.0}"
pyarrow_version="${PYARROW_VERSION:-26.0.1}"
pipeline=pipelines/onderzoek-ontwikkeling.toml
key=sample-data/demo.key
objections=sample-data/bezwaren.csv
domain=onderzoek-umc-jeugd   # [pipeline] pseudonym_domain of $pipeline
run_date=2026-11-01

[ -n "${PEERS_NO_BUILD:-}" ] || cargo build --release --quiet --bin doel --bin doel-sample
bin="$CARGO_TARGET_DIR/release"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" - "$duckdb_version" "$pyarrow_version" <<'EOF' ||
import sys, duckdb, pyarrow
sys.exit(0 if [duckdb.__version__, pyarrow.__version__] == sys.argv[1:] else 1)
EOF
    "$venv/bin/pip" install --quiet "duckdb==$duckdb_version" "pyarrow==$pyarrow_version"
py="$venv/bin/python"

source benches/measure.sh

mkdir -p benches/results
for rows in "${rows_list[@]}"; do
    # The same directory and file as benches/e2e.sh: same generator, seed and row count.
    work="${TMPDIR:-/tmp}/doel-e2e-$rows"
    mkdir -p "$work"
    [ -f "$work/export.parquet" ] || "$bin/doel-sample" --rows "$rows" --out-dir "$work" --formats parquet
    input="$work/export.parquet"
    declare -A walls=() rsss=()
    outputs=()
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    for tool in $tools; do
        out="$work/peer-$tool.parquet"
        rm -f "$out"
        echo "running $tool on $rows rows ..." >&2
        case "$tool" in
            doel) measure "$work/time-doel.txt" "$bin/doel" run "$pipeline" --key-file "$key" \
                    --run-date "$run_date" --input "$input" --output "$out" --quiet ;;
            duckdb) measure "$work/time-duckdb.txt" "$py" benches/peers/duckdb_job.py \
                    "$input" "$out" "$key" "$objections" "$run_date" "$domain" ;;
            pyarrow) measure "$work/time-pyarrow.txt" "$py" benches/peers/pyarrow_job.py \
                    "$input" "$out" "$key" "$objections" "$run_date" "$domain" ;;
            *) echo "unknown peer $tool (PEERS: doel duckdb pyarrow)" >&2; exit 2 ;;
        esac
        walls[$tool]=$wall
        rsss[$tool]=$rss
        [ "$tool" = doel ] || outputs+=("$tool=$out")
    done

    result="benches/results/peers-$rows.txt"
    {
        echo "# benches/peers.sh $rows — $(date -u +%Y-%m-%dT%H:%MZ), doel $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+changes')"
        echo "# $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load average before: $load"
        echo "# duckdb $duckdb_version, pyarrow $pyarrow_version, $("$py" -c 'import sys; print("Python", sys.version.split()[0])')"
        echo "# job: $pipeline on $rows rows, run date $run_date; input rows/s = $rows / wall"
        if [ ${#outputs[@]} -gt 0 ]; then
            "$py" benches/peers/compare.py "$work/peer-doel.parquet" "${outputs[@]}" | sed 's/^/# /' || true
        fi
        printf '%-10s %-8s %9s %12s %14s %18s\n' rows tool wall_s rows_per_s peak_rss_mib "doel/peer(speed)"
        for tool in $tools; do
            printf '%-10s %-8s %9.2f %12.0f %14d %18s\n' "$rows" "$tool" "${walls[$tool]}" \
                "$(awk -v r="$rows" -v s="${walls[$tool]}" 'BEGIN { print r / s }')" "${rsss[$tool]}" \
                "$(awk -v p="${walls[$tool]}" -v d="${walls[doel]}" 'BEGIN { printf "%.1fx", p / d }')"
        done
    } > "$result.tmp"
    # compare.py's verdict decides: a mismatch fails the script (the table is kept aside).
    if grep -q '^# MISMATCH' "$result.tmp"; then
        cat "$result.tmp"; mv "$result.tmp" "$result.mismatch"
        echo "peers.sh: outputs differ from doel's (table in $result.mismatch)" >&2; exit 1
    fi
    mv "$result.tmp" "$result"
    cat "$result"
    unset walls rsss
done
