#!/usr/bin/env bash
# PostgreSQL as input beside the Parquet run (issue 24): generate an N-row export with
# doel-sample, load it into a table of a throwaway cluster (as .ci/run starts one), run the
# research job of pipelines/onderzoek-ontwikkeling.toml on the Parquet file and on the
# table with the release build, check that both wrote the same extract, and print wall
# time, rows/s and peak RSS; the table goes to benches/results/postgres-<rows>.txt.
#
#   benches/postgres.sh [ROWS]          default 1000000
#
# PG_NO_BUILD=1 uses the doel and doel-sample already in $CARGO_TARGET_DIR/release.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/doel-target}"
[ -n "${PG_NO_BUILD:-}" ] || cargo build --release --quiet --bin doel --bin doel-sample
bin="$CARGO_TARGET_DIR/release"

work=$(mktemp -d)
pg="$work/pg"
mkdir -p "$pg"
as_owner=()
if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$work"; as_owner=(runuser -u postgres --); fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
echo "doel-bench" > "$pg/pw"
"${as_owner[@]}" "$pg_bin/initdb" -D "$pg/data" -U doel --auth=scram-sha-256 --pwfile="$pg/pw" >/dev/null
"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$pg/data" -l "$pg/log" -w \
  -o "-c listen_addresses='' -c unix_socket_directories=$pg" start >/dev/null
trap '"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null 2>&1; rm -rf "$work"' EXIT
export PGHOST="$pg" PGUSER=doel PGPASSWORD=doel-bench PGDATABASE=postgres DOEL_REGISTER="$work/register.jsonl"

"$bin/doel-sample" --rows "$rows" --out-dir "$work" --formats parquet,csv >/dev/null
chmod -R a+r "$work"
psql -q <<EOF
CREATE TABLE klanten (contract_id text PRIMARY KEY, kind_bsn text, kind_voornaam text, kind_tussenvoegsel text, kind_achternaam text, kind_geboortedatum date, kind_geslacht text, ouder_bsn text, ouder_voornaam text, ouder_tussenvoegsel text, ouder_achternaam text, ouder_email text, ouder_telefoon text, straat text, huisnummer text, postcode text, woonplaats text, gemeentecode text, opvangsoort text, locatie text, contract_start date, contract_einde date, uren_per_maand double precision, uurtarief double precision, kinderopvangtoeslag boolean, medische_info text, religie text, notities text, bezwaar_onderzoek boolean, verwerking_beperkt boolean);
\copy klanten FROM '$work/export.csv' WITH (FORMAT csv, HEADER true)
VACUUM ANALYZE klanten;
EOF
sed 's#^path = "sample-data/export.parquet"#postgres = { table = "klanten" }#' \
  pipelines/onderzoek-ontwikkeling.toml > "$work/from-table.toml"

source benches/measure.sh

common=(--key-file sample-data/demo.key --run-date 2026-11-01 --quiet)
table="source     rows       wall s   rows/s     peak RSS MiB"
for source in parquet postgres; do
    case $source in
        parquet) pipeline=pipelines/onderzoek-ontwikkeling.toml; input=(--input "$work/export.parquet") ;;
        postgres) pipeline="$work/from-table.toml"; input=() ;;
    esac
    rm -f "$work/$source.parquet"*
    measure "$work/$source.log" "$bin/doel" run "$pipeline" "${input[@]}" \
        --output "$work/$source.parquet" "${common[@]}"
    table+=$(printf '\n%-10s %-10s %-8s %-10s %s' "$source" "$rows" "$wall" \
        "$(echo "$rows / $wall" | bc)" "$rss")
done
cmp "$work/parquet.parquet" "$work/postgres.parquet" \
    || { echo "the extracts differ" >&2; exit 1; }
mkdir -p benches/results
{
    echo "# benches/postgres.sh $rows, $(date -u +%F), $(nproc) cores; the extracts are byte-identical"
    echo "$table"
} | tee "benches/results/postgres-$rows.txt"
