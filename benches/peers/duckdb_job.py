"""Run benches/peers/duckdb_job.sql with DuckDB (the Python package), filling in its
{placeholders}. All the work happens in the SQL; this only passes the parameters.

    python duckdb_job.py INPUT OUTPUT KEY_FILE OBJECTION_LIST RUN_DATE DOMAIN
"""
import pathlib
import sys

import duckdb

inp, out, key_file, objections, run_date, domain = sys.argv[1:7]
sql = (pathlib.Path(__file__).with_name("duckdb_job.sql")).read_text()
for name, value in {
    "input": inp, "output": out, "key_file": key_file,
    "objection_list": objections, "run_date": run_date, "domain": domain,
}.items():
    sql = sql.replace("{" + name + "}", value.replace("'", "''"))
con = duckdb.connect()
con.execute(sql)
