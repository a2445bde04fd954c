"""Check that the peers wrote what doel wrote: the same rows, every column (pseudonyms
included). Row order is not compared (DuckDB writes in parallel and does not keep the input
order): each output is sorted on all its columns, then compared column by column. Exits 1,
naming every differing column and its first differing (sorted) row, when anything differs.

    python compare.py DOEL_OUTPUT LABEL=PEER_OUTPUT...
"""
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def sorted_table(path):
    t = pq.read_table(path)
    t = t.cast(pa.schema([f.with_type(pa.large_string())
                          if pa.types.is_string(f.type) or f.type == pa.string_view()
                          else f.with_nullable(True) for f in t.schema]))
    order = pc.sort_indices(t, sort_keys=[(n, "ascending") for n in t.column_names])
    return t.take(order).combine_chunks()


reference = sorted_table(sys.argv[1])
names = reference.column_names
failed = False
for arg in sys.argv[2:]:
    label, path = arg.split("=", 1)
    peer = sorted_table(path)
    if peer.column_names != names or peer.num_rows != reference.num_rows:
        print(f"MISMATCH {label}: {peer.num_rows} rows, columns {peer.column_names}; "
              f"doel: {reference.num_rows} rows, columns {names}")
        failed = True
        continue
    diffs = []
    for name in names:
        a, b = reference[name], peer[name]
        same = pc.fill_null(pc.or_kleene(pc.equal(a, b), pc.and_(pc.is_null(a), pc.is_null(b))),
                            False)
        n = len(same) - pc.sum(same).as_py() if len(same) else 0
        if n:
            first = pc.index(same, False).as_py()
            diffs.append(f"{name}: {n} rows differ, first at sorted row {first} "
                         f"(doel {a[first].as_py()!r}, {label} {b[first].as_py()!r})")
    if diffs:
        failed = True
        print(f"MISMATCH {label} against doel:\n  " + "\n  ".join(diffs))
    else:
        print(f"same     {label}: {peer.num_rows} rows, all {len(names)} columns equal to doel's "
              f"(as sets of rows; kind_id, ouder_id, koppelsleutel pseudonyms included)")
    del peer
sys.exit(1 if failed else 0)
