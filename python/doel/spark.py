"""Run a doel pipeline on Apache Spark, with doel's own code deciding every row and cell.

What runs where:

* the driver validates the pipeline and resolves its plan against the input's schema
  (the same checks as ``doel plan``), reads the exclusion lists, and protects the
  aggregated table cells (threshold, rounding, secondary suppression);
* Spark reads the input, joins it with the lists (a broadcast join on the canonical
  BSN), counts the exclusions, aggregates tables and writes the output;
* the executors run the row-local plan (canonical forms, pseudonyms, tokens,
  generalisations, scrubbing, invalid values) in ``mapInArrow``, reading the key from a
  file or an environment variable themselves: it never travels in a pickled closure.

Not on Spark yet (refused with a message): ``kind = "microdata"`` (k-anonymity needs the
class counts of ``doel run``), ``[table] p_percent``, CSV and Arrow IPC input (Parquet
only: Spark's CSV reader makes none of doel's checks), and the manifest, register entry,
signature and encrypted delivery of ``doel run``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import sys
import tempfile
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import _doel
from ._doel import DoelError

EXIT_USAGE, EXIT_POLICY, EXIT_IO, EXIT_INTERNAL = 1, 2, 3, 4

_RESTRICTION, _OBJECTION = "restriction", "objection"


class _Config:
    """What an executor needs to rebuild the plan: texts, schema, date, and where the
    key is (a path or a variable name), never the key."""

    def __init__(self, pipeline, pipeline_text, catalogue_text, schema, run_date, key_file, key_env):
        self.args = (pipeline, pipeline_text, catalogue_text, schema, run_date)
        self.key_file, self.key_env = key_file, key_env

    def rows(self):
        return _doel.Plan(*self.args).rows(key_file=_local(self.key_file), key_env=self.key_env)


def _local(key_file):
    """``key_file`` where it exists here, else the copy Spark shipped with ``--files``
    (``spark.files``) under that name."""
    if key_file is None or os.path.exists(key_file):
        return key_file
    from pyspark import SparkFiles

    shipped = SparkFiles.get(os.path.basename(key_file))
    return shipped if os.path.exists(shipped) else key_file


def _plain(schema: pa.Schema) -> pa.Schema:
    """``schema`` without field metadata, as Spark declares it."""
    return pa.schema([pa.field(f.name, f.type, f.nullable) for f in schema])


def _with_string(schema, name):
    """A copy of the Spark ``schema`` with a nullable string column ``name`` added
    (``StructType.add`` would change the DataFrame's own schema object)."""
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType([*schema.fields, StructField(name, StringType(), True)])


def _bsn_key(config, batches):
    rows = config.rows()
    for batch in batches:
        yield rows.bsn_key(batch)


def _classify(config, batches):
    rows = config.rows()
    for batch in batches:
        yield rows.classify(batch)


def _apply(config, target, batches):
    rows = config.rows()
    for batch in batches:
        out = rows.apply(batch)
        # Spark may hand over large_string where it declares string: give back its types.
        yield out if out.schema.equals(target) else out.cast(target)


def _read_input(spark, path, fmt):
    fmt = fmt or Path(path).suffix.lstrip(".").lower()
    if fmt == "parquet":
        return spark.read.parquet(path)
    # Not CSV: Spark's reader does not make doel's checks (a row with more fields than
    # the header, a header-less file, an undeclared encoding or separator are read
    # silently, values landing in other columns), and its errors quote the row.
    raise DoelError(
        f"input {path}: {fmt or 'this format'} is not read on Spark; Parquet is\n"
        "  hint: run the CSV through `doel run` (it checks what Spark's reader does not), "
        "or convert it to Parquet after checking it with `doel scan`"
    )


def _load_list(path):
    """The canonical BSNs of one list file (its first column, with a header row), and
    the number of entries without a canonical form. Refused, as `doel run` refuses it,
    when its header is a BSN (no header row: the first entry would be lost) or when no
    entry is a BSN (another separator, or another column first)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        table = pq.read_table(path)
        header = table.column_names[0] if table.num_columns else ""
        column = table.column(0).cast(pa.string()) if table.num_columns else pa.chunked_array([], pa.string())
    elif suffix in (".csv", ".txt"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f), [""])
            header = header[0] if header else ""
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types={header: pa.string()}))
        column = table.column(0)
    else:
        raise DoelError(f"exclusion list {path}: not .csv or .parquet\n  hint: give the list as CSV or Parquet")
    if _doel.canonical_bsn(pa.array([header], pa.string())).to_pylist()[0] is not None:
        raise DoelError(
            f"exclusion list {path}: the first line is a BSN, not a header\n"
            "  hint: add a header line (e.g. `bsn`); without it the first entry would be read as the header"
        )
    values = column.combine_chunks()
    canonical = _doel.canonical_bsn(values).to_pylist()
    blank = pc.equal(pc.utf8_trim_whitespace(values).fill_null(""), "").to_pylist()
    valid = [b for b in canonical if b is not None]
    invalid = sum(1 for c, b in zip(canonical, blank) if c is None and not b)
    if invalid and not valid:
        raise DoelError(
            f"exclusion list {path}: no entry of its first column is a BSN\n"
            "  hint: the BSNs must be the first column, separated by commas"
        )
    return valid, invalid


def run(
    pipeline: str,
    *,
    spark,
    key_file: str | None = None,
    key_env: str | None = None,
    run_date: str | None = None,
    input: str | None = None,
    output: str | None = None,
) -> dict:
    """Run ``pipeline`` on ``spark``; returns what was done, under the names the
    manifest of ``doel run`` uses: rows read, excluded by reason, dropped and written,
    and for a table the disclosure results."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema

    text = Path(pipeline).read_text(encoding="utf-8")
    info = _doel.pipeline_info(pipeline, text)
    catalogue_text = Path(info["catalogue"]).read_text(encoding="utf-8")
    run_date = run_date or datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    input_path = input or info["input"]
    output_path = output or info["output"]
    output_format = Path(output_path).suffix.lstrip(".").lower() if output else info["output_format"]

    if output_format not in ("csv", "parquet"):
        raise DoelError(
            f"output {output_path}: Spark writes csv or parquet here\n"
            "  hint: name a .csv or .parquet output"
        )
    df = _read_input(spark, input_path, info["input_format"])
    schema = _plain(to_arrow_schema(df.schema))
    plan = _doel.Plan(pipeline, text, catalogue_text, schema, run_date)
    if plan.output_kind == "microdata":
        raise DoelError(
            f"pipeline {pipeline}: kind = \"microdata\" is not run on Spark yet\n"
            "  hint: run it with `doel run`, which checks k-anonymity over the whole extract"
        )
    table = plan.table()
    if table and table["p_percent"] is not None:
        raise DoelError(
            f"pipeline {pipeline}: [table] p_percent is not applied on Spark yet\n"
            "  hint: run it with `doel run`, or remove p_percent"
        )
    config = _Config(pipeline, text, catalogue_text, schema, run_date, key_file, key_env)
    # The key is read here too, so that a missing or malformed key fails before Spark starts.
    rows = config.rows()

    df = df.select(*[F.col(f"`{c}`") for c in plan.needed_inputs])
    summary = {"pipeline": info["name"], "engine": "spark", "run_date": run_date, "lists": []}
    if plan.exclusion_key is not None:
        listed = {}
        for path, reason in plan.exclusion_lists:
            valid, invalid = _load_list(path)
            summary["lists"].append({"path": path, "reason": reason, "entries": len(valid) + invalid, "invalid": invalid})
            for bsn in valid:
                # A BSN on both kinds of list counts as restricted, as in `doel run`.
                if listed.get(bsn) != _RESTRICTION:
                    listed[bsn] = reason
        lists = spark.createDataFrame(
            sorted(listed.items()), f"{_doel.BSN_COLUMN} string, {_doel.LISTED_COLUMN} string"
        )
        key_schema = _with_string(df.schema, _doel.BSN_COLUMN)
        df = (
            df.mapInArrow(partial(_bsn_key, config), key_schema)
            .join(F.broadcast(lists), on=_doel.BSN_COLUMN, how="left")
            .drop(_doel.BSN_COLUMN)
        )
    classified = df.mapInArrow(partial(_classify, config), _with_string(df.schema, _doel.EXCLUDED_COLUMN))
    # In memory only: the cached rows still hold BSNs and names, which must not be
    # spilled to the executors' local disks.
    classified = classified.persist(StorageLevel.MEMORY_ONLY)
    try:
        return _finish(plan, rows, table, classified, config, summary, output_path, output_format)
    finally:
        classified.unpersist()


def _finish(plan, rows, table, classified, config, summary, output_path, output_format):
    """Count, transform, aggregate and write what ``classified`` holds."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    counts = {r[0]: r[1] for r in classified.groupBy(_doel.EXCLUDED_COLUMN).count().collect()}
    kept = classified.filter(F.col(_doel.EXCLUDED_COLUMN).isNull()).drop(_doel.EXCLUDED_COLUMN)
    target = _plain(rows.output_schema(_plain(to_arrow_schema(kept.schema))))
    out = kept.mapInArrow(partial(_apply, config, target), from_arrow_schema(target))
    out = out.persist(StorageLevel.MEMORY_ONLY)
    try:
        _write(out, table, plan, summary, counts, output_path, output_format)
    finally:
        out.unpersist()
    return summary


def _write(out, table, plan, summary, counts, output_path, output_format):
    """Count what ``out`` holds and write it (records) or its protected table."""
    rows_kept = counts.get(None, 0)
    rows_transformed = out.count()
    summary.update(
        rows_read=sum(counts.values()),
        excluded={
            "restriction": counts.get("restriction", 0),
            "objection": counts.get("objection", 0),
            "retention": counts.get("retention", 0) + counts.get("retention_undated", 0),
            "retention_undated": counts.get("retention_undated", 0),
            "unreadable_flag": counts.get("unreadable", 0),
        },
        rows_dropped=rows_kept - rows_transformed,
        output=output_path,
    )
    if table is None:
        # Spark's own commit protocol: a directory of parts, `_SUCCESS` once complete.
        writer = out.write.mode("errorifexists")
        if output_format == "csv":
            writer = _neutralised(out).write.mode("errorifexists")
            writer.option("header", True).option("escape", '"').csv(output_path)
        else:
            writer.parquet(output_path)
        summary["rows_written"] = rows_transformed
    else:
        published, report = _table(plan, table, out)
        _write_table(published, output_path, output_format)
        summary["rows_written"] = published.num_rows
        summary["disclosure"] = {
            "kind": "table",
            "cells": report["cells"],
            "margins": report["margins"],
            "suppressed_primary": report["primary"],
            "suppressed_secondary": report["secondary"],
            "invalid_amounts": _invalid_amounts(table["sums"], out),
        }


# Text a spreadsheet evaluates when a CSV cell starts with it (OWASP), as the Rust
# writer (src/engine/output.rs) neutralises it: a ' in front.
_FORMULA = "^[=+\\-@\t\r\uff1d\uff0b\uff0d\uff20]"


def _neutralised(frame):
    """``frame`` with its text values that start like a formula prefixed with '."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    return frame.select(*[
        F.when(F.col(f"`{f.name}`").rlike(_FORMULA), F.concat(F.lit("'"), F.col(f"`{f.name}`")))
        .otherwise(F.col(f"`{f.name}`")).alias(f.name)
        if isinstance(f.dataType, StringType) else F.col(f"`{f.name}`")
        for f in frame.schema.fields
    ])


def _amount(name):
    """A summed column as a number: null where it is none, or NaN, or ±inf (as the
    Rust engine's table step reads it)."""
    from pyspark.sql import functions as F

    value = F.col(f"`{name}`").try_cast("double")
    finite = ~F.isnan(value) & (F.abs(value) != F.lit(float("inf")))
    return F.when(finite, value)


def _invalid_amounts(sums, records):
    """Per summed column, the values present but no finite number."""
    from pyspark.sql import functions as F

    if not sums:
        return []
    row = records.agg(*[
        F.sum(F.when(F.col(f"`{name}`").isNotNull() & _amount(name).isNull(), 1).otherwise(0))
        .alias(f"__invalid{i}")
        for i, name in enumerate(sums)
    ]).collect()[0]
    return [{"column": name, "count": int(row[f"__invalid{i}"] or 0)} for i, name in enumerate(sums)]


def _table(plan, table, records):
    """Aggregate ``records`` in Spark SQL, once per combination of grouped dimensions
    when totals are published, and protect the cells with doel's own code."""
    from pyspark.sql import functions as F

    dims, person, sums = table["dimensions"], table["person"], table["sums"]
    cells = plan.cells()
    subsets = range((1 << len(dims)) - 1, -1, -1) if table["totals"] else [(1 << len(dims)) - 1]
    for subset in subsets:
        grouped = [d for d in range(len(dims)) if subset & (1 << d)]
        aggregates = [F.count(F.lit(1)).alias("__records")]
        if person:
            aggregates.append(F.countDistinct(F.col(f"`{person}`")).alias("__persons"))
        for i, name in enumerate(sums):
            # As polars casts: a value that is no number becomes null (a plain cast
            # would fail the job and quote the value), and so do NaN and ±inf.
            value = _amount(name)
            aggregates.append(F.sum(value).alias(f"__sum{i}"))
            contributors = (
                F.countDistinct(F.when(value.isNotNull(), F.col(f"`{person}`")))
                if person
                else F.count(value)
            )
            aggregates.append(contributors.alias(f"__n{i}"))
        keys = [F.col(f"`{dims[d]}`").cast("string").alias(dims[d]) for d in grouped]
        aggregated = records.groupBy(*keys).agg(*aggregates) if keys else records.agg(*aggregates)
        for batch in aggregated.toArrow().to_batches():
            cells.add(grouped, batch)
    return cells.protect()


def _write_table(batch, path, fmt):
    """The protected table, written whole or not at all (a temporary file beside it,
    renamed over the target when complete, removed on failure)."""
    target = Path(path)
    if target.is_dir():
        raise DoelError(f"output {path}: is a directory\n  hint: name a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        table = pa.Table.from_batches([batch])
        if fmt == "csv":
            pacsv.write_csv(_neutralised_arrow(table), temporary)
        else:
            pq.write_table(table, temporary)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def session(master=None):
    """A Spark session: on ``master`` when given, else on the master spark-submit set,
    else on ``local[2]``; loopback, no UI, UTC."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Workers run this interpreter (the one doel is installed in), not the first python3
    # on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("doel")
    if master:
        builder = builder.master(master)
    elif not SparkConf().contains("spark.master"):
        builder = builder.master("local[2]")
    return (
        builder.config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="doel-spark",
        description="Run a doel pipeline on Apache Spark (see docs/spark.md).",
    )
    parser.add_argument("pipeline")
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--key-file", help="the key file, at this path on the driver and every executor")
    key.add_argument("--key-env", help="an environment variable holding the key's hex, on the driver and every executor")
    parser.add_argument("--run-date", help="YYYY-MM-DD: ages and retention terms count from it (default: today, UTC)")
    parser.add_argument("--input", help="override the pipeline's input")
    parser.add_argument("--output", help="override the pipeline's output")
    parser.add_argument("--master", help="Spark master (default: DOEL_SPARK_MASTER, else spark-submit's, else local[2])")
    args = parser.parse_args(argv)
    try:
        spark = session(args.master or os.environ.get("DOEL_SPARK_MASTER"))
        summary = run(
            args.pipeline,
            spark=spark,
            key_file=args.key_file,
            key_env=args.key_env,
            run_date=args.run_date,
            input=args.input,
            output=args.output,
        )
    except DoelError as e:
        print(f"doel-spark: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"doel-spark: {e.filename or 'a file'}: {e.strerror}", file=sys.stderr)
        return EXIT_IO
    except Exception as e:  # noqa: BLE001 - Spark's errors can quote a row: never print them
        message = str(e)
        marker = "DoelError: "
        if marker in message:
            # doel's own message from an executor: it names columns, never values.
            ours = message[message.index(marker) + len(marker):].split("\n\n")[0]
            print(f"doel-spark: {ours}", file=sys.stderr)
            return EXIT_USAGE
        print(f"doel-spark: the Spark job failed ({type(e).__name__}); its message is not "
              "shown because Spark's can quote data. See the Spark log, with care.", file=sys.stderr)
        return EXIT_INTERNAL
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _neutralised_arrow(table):
    """An Arrow table's text values that start like a formula prefixed with '."""
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.match_substring_regex(column, _FORMULA)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)
