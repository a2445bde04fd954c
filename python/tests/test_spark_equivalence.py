"""The same pipeline on local Spark (doel.spark) and with `doel run` gives the same
pseudonyms, the same excluded rows (counted by reason) and the same protected table.

Run from the repository root after `cargo build` and `maturin develop` (`.ci/run` does
both): python -m unittest discover -s python/tests
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

import doel
from doel import spark as doel_spark

ROOT = Path(__file__).resolve().parents[2]
KEY = ROOT / "sample-data" / "demo.key"
RUN_DATE = "2026-11-01"


def doel_binary():
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return os.environ.get("DOEL_BIN", str(Path(target) / "debug" / "doel"))


def sorted_rows(table):
    """The rows of ``table`` as sorted tuples: order is not part of the contract."""
    columns = table.column_names
    return sorted(
        (tuple(row[c] for c in columns) for row in table.to_pylist()),
        key=lambda r: tuple((v is None, str(v)) for v in r),
    )


class SparkEquivalence(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = Path(tempfile.mkdtemp(prefix="doel-spark-"))
        cls.spark = doel_spark.session("local[2]")
        cls.spark.sparkContext.setLogLevel("ERROR")

    @classmethod
    def tearDownClass(cls):
        cls.spark.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def single_machine(self, pipeline, output, input=None):
        """`doel run` on one machine: its output and its manifest."""
        result = subprocess.run(
            [doel_binary(), "run", pipeline, "--key-file", str(KEY), "--run-date", RUN_DATE,
             "--output", str(output), "--quiet", *(["--input", input] if input else [])],
            cwd=ROOT, capture_output=True, text=True,
            env={**os.environ, "DOEL_REGISTER": str(self.dir / "register.jsonl")},
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        manifest = json.loads(Path(str(output) + ".manifest.json").read_text())
        return manifest

    def on_spark(self, pipeline, output, input=None):
        cwd = os.getcwd()
        os.chdir(ROOT)
        try:
            return doel_spark.run(pipeline, spark=self.spark, key_file=str(KEY),
                                  run_date=RUN_DATE, output=str(output), input=input)
        finally:
            os.chdir(cwd)

    def assert_same_exclusions(self, manifest, summary):
        counts = manifest["counts"]["excluded"]
        for reason in ("restriction", "objection", "retention", "retention_undated", "unreadable_flag"):
            self.assertEqual(summary["excluded"][reason], counts[reason], reason)
        self.assertEqual(summary["rows_read"], manifest["counts"]["rows_read"])
        self.assertEqual(summary["rows_dropped"], manifest["counts"]["rows_dropped"])

    def run_both(self, pipeline, name, read, input=None):
        """`doel run` and doel.spark on ``pipeline``, writing ``name`` each: the same
        columns, the same rows (in any order), the same exclusions by reason."""
        single_path, spark_path = self.dir / f"single-{name}", self.dir / f"spark-{name}"
        manifest = self.single_machine(pipeline, single_path, input)
        summary = self.on_spark(pipeline, spark_path, input)
        single, spark = read(single_path), read(spark_path)
        self.assertEqual(spark.column_names, single.column_names)
        self.assertEqual(spark.num_rows, single.num_rows)
        self.assertEqual(sorted_rows(spark.cast(single.schema.remove_metadata())),
                         sorted_rows(single))
        self.assert_same_exclusions(manifest, summary)
        return single, manifest, summary

    def test_research_records(self):
        """Flags, an objection list (broadcast join), BSN, name and link pseudonyms,
        generalisations and scrubbed free text, Parquet in and out (Spark writes a
        directory of parts)."""
        single, manifest, summary = self.run_both(
            "pipelines/onderzoek-ontwikkeling.toml", "research.parquet",
            lambda p: ds.dataset(p, format="parquet").to_table())
        self.assertGreater(single.num_rows, 1000)
        self.assertGreater(summary["excluded"]["objection"], 0)
        self.assertEqual(summary["rows_written"], manifest["counts"]["rows_written"])

    def test_statistics_records_as_csv(self):
        """Flags only (no list), age bands, PC4, top-coding; CSV output (Spark: a
        directory of parts)."""
        self.run_both("pipelines/gemeente-jeugd.toml", "jeugd.csv",
                      lambda p: ds.dataset(p, format="csv").to_table(),
                      input="sample-data/export.parquet")

    def test_csv_input_refused(self):
        """Spark's CSV reader makes none of doel's checks: CSV input is refused."""
        with self.assertRaisesRegex(doel.DoelError, "not read on Spark"):
            self.on_spark("pipelines/gemeente-jeugd.toml", self.dir / "refused.csv")

    def test_list_without_header_refused(self):
        """A list whose first line is a BSN would lose that person's objection: refused."""
        headerless = self.dir / "headerless.csv"
        headerless.write_text("".join(line + "\n" for line in (
            (ROOT / "sample-data/bezwaren.csv").read_text().splitlines()[1:])))
        pipeline = self.dir / "headerless.toml"
        pipeline.write_text((ROOT / "pipelines/onderzoek-ontwikkeling.toml").read_text().replace(
            '"sample-data/bezwaren.csv"', f'"{headerless}"'))
        with self.assertRaisesRegex(doel.DoelError, "first line is a BSN"):
            self.on_spark(str(pipeline), self.dir / "headerless.parquet")

    def test_protected_table(self):
        """Aggregated in Spark SQL, protected by doel's code: the same cells, counts,
        sums and suppressions."""
        single, manifest, summary = self.run_both(
            "pipelines/gemeente-tabel.toml", "tabel.csv", pacsv.read_csv)
        statuses = set(single.column("status").to_pylist())
        self.assertIn("published", statuses)
        self.assertTrue(any(s.startswith("suppressed") for s in statuses))
        self.assertEqual(summary["disclosure"], manifest["disclosure"])

    def test_key_never_in_the_closure(self):
        """What Spark pickles for the executors (cloudpickle, as Spark does, of the
        function mapInArrow runs) names the key's file or variable, never the key."""
        from functools import partial

        from pyspark import cloudpickle

        key_hex = KEY.read_text().strip()
        text = (ROOT / "pipelines/onderzoek-ontwikkeling.toml").read_text()
        for key_file, key_env in ((str(KEY), None), (None, "DOEL_KEY_SECRET")):
            config = doel_spark._Config("p.toml", text, "", pa.schema([]), RUN_DATE, key_file, key_env)
            for function in (doel_spark._bsn_key, doel_spark._classify):
                pickled = cloudpickle.dumps(partial(function, config))
                self.assertNotIn(key_hex.encode(), pickled)
                self.assertNotIn(key_hex.upper().encode(), pickled)
                self.assertNotIn(bytes.fromhex(key_hex), pickled)

    def test_string_large_string_and_string_view_batches_agree(self):
        """The extension takes Spark's `string` and `large_string` (and `string_view`)
        columns alike: the same released values from each."""
        pipeline = "pipelines/gemeente-jeugd.toml"
        text = (ROOT / pipeline).read_text()
        catalogue = (ROOT / "pipelines/catalogue.toml").read_text()
        table = pq.read_table(ROOT / "sample-data/export.parquet")
        outputs = []
        for kind in (pa.string(), pa.large_string(), pa.string_view()):
            schema = pa.schema([pa.field(f.name, kind if pa.types.is_string(f.type) else f.type)
                                for f in table.schema])
            batch = table.cast(schema).combine_chunks().to_batches()[0]
            plan = doel.Plan(pipeline, text, catalogue, schema, RUN_DATE)
            cwd = os.getcwd()
            os.chdir(ROOT)
            try:
                rows = plan.rows(key_file=str(KEY), lists_joined=False)
            finally:
                os.chdir(cwd)
            out = rows.apply(batch.select(plan.needed_inputs))
            outputs.append(pa.Table.from_batches([out]).cast(
                pa.schema([pa.field(f.name, pa.string() if "string" in str(f.type) else f.type)
                           for f in out.schema])))
        self.assertGreater(outputs[0].num_rows, 1000)
        self.assertTrue(outputs[0].equals(outputs[1]))
        self.assertTrue(outputs[0].equals(outputs[2]))

    def test_key_files_read_as_the_cli_reads_them(self):
        """The extension reads key files with doel's own reader: /dev/zero and an
        oversized file are refused (not read until memory runs out), and so is a signing
        key's public half, each with the CLI's message."""
        pipeline = "pipelines/gemeente-jeugd.toml"
        text = (ROOT / pipeline).read_text()
        catalogue = (ROOT / "pipelines/catalogue.toml").read_text()
        schema = pq.read_schema(ROOT / "sample-data/export.parquet")
        plan = doel.Plan(pipeline, text, catalogue, schema, RUN_DATE)
        big = self.dir / "big.key"
        big.write_bytes(b"0" * (1 << 20))
        public = self.dir / "sign.key.pub"
        public.write_text("doel-ed25519-public " + "ab" * 32 + "\n")
        for path, message in (("/dev/zero", "key file /dev/zero"),
                              (str(big), "big.key"),
                              (str(public), "is a signing key, not a pseudonym key")):
            with self.assertRaisesRegex(doel.DoelError, message):
                plan.rows(key_file=path, lists_joined=False)

    def test_microdata_refused(self):
        with self.assertRaisesRegex(doel.DoelError, "not run on Spark yet"):
            self.on_spark("pipelines/onderzoek-microdata.toml", self.dir / "micro.parquet")


if __name__ == "__main__":
    unittest.main()
