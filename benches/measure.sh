# Shared by the end-to-end scripts in benches/: source it.

# Runs "$@" under /usr/bin/time -v; sets wall (s) and rss (MiB).
measure() {
    local log="$1"; shift
    if ! /usr/bin/time -v "$@" > "$log.out" 2> "$log"; then
        echo "failed: $*" >&2; cat "$log.out" "$log" >&2; exit 1
    fi
    local hms kb
    hms=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    wall=$(echo "$hms" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
    rss=$((kb / 1024))
}
