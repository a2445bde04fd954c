"""Workbooks written by other programs than the Rust tests' writer: the sample export as an
OpenDocument spreadsheet (odfpy, as LibreOffice stores one) and as an Excel 97-2003
workbook (xlwt), run through the research pipeline by the doel binary; the extract must
be the one the Parquet export gives, row for row.

Run from the repository root: python -m unittest discover -s python/tests
"""

import datetime
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

import pyarrow.parquet as pq

from test_spark_equivalence import ROOT, doel_binary

RESEARCH = ROOT / "pipelines" / "onderzoek-ontwikkeling.toml"


def cells(table):
    """The sample's rows as cells: BSNs of digits as the number an administration system
    makes of them (where one lost zero at most is left to restore), the rest as they are."""
    names = table.column_names
    rows = []
    for row in table.to_pylist():
        out = []
        for name in names:
            value = row[name]
            if (
                name == "kind_bsn"
                and isinstance(value, str)
                and value.isdigit()
                and len(value.lstrip("0")) >= 8
            ):
                value = int(value)
            out.append(value)
        rows.append(out)
    return names, rows


def write_ods(path, names, rows):
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    sheet = Table(name="Klanten")

    def cell(value):
        if value is None:
            return TableCell()
        if isinstance(value, bool):
            c = TableCell(valuetype="boolean", booleanvalue="true" if value else "false")
        elif isinstance(value, (int, float)):
            c = TableCell(valuetype="float", value=str(value))
        elif isinstance(value, datetime.date):
            c = TableCell(valuetype="date", datevalue=value.isoformat())
        else:
            c = TableCell(valuetype="string")
        c.addElement(P(text=str(value)))
        return c

    for values in [names] + rows:
        tr = TableRow()
        for value in values:
            tr.addElement(cell(value))
        sheet.addElement(tr)
    doc.spreadsheet.addElement(sheet)
    doc.save(str(path))


def write_xls(path, names, rows):
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Klanten")
    date = xlwt.easyxf(num_format_str="DD-MM-YYYY")
    for c, name in enumerate(names):
        sheet.write(0, c, name)
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, datetime.date):
                sheet.write(r, c, value, date)
            else:
                sheet.write(r, c, value)
    book.save(str(path))


class Workbooks(unittest.TestCase):
    def run_research(self, directory, source, output):
        text = RESEARCH.read_text().replace(
            'path = "sample-data/export.parquet"', f'path = "{source}"'
        )
        pipeline = Path(directory) / f"{output}.toml"
        pipeline.write_text(text)
        env = dict(os.environ, DOEL_REGISTER=str(Path(directory) / "register.jsonl"))
        out = Path(directory) / f"{output}.parquet"
        done = subprocess.run(
            [doel_binary(), "run", str(pipeline), "--output", str(out),
             "--key-file", "sample-data/demo.key", "--run-date", "2026-11-01"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        return pq.read_table(out)

    def test_ods_and_xls_give_the_parquet_extract(self):
        table = pq.read_table(ROOT / "sample-data" / "export.parquet")
        names, rows = cells(table)
        with tempfile.TemporaryDirectory() as directory:
            expected = self.run_research(directory, ROOT / "sample-data" / "export.parquet", "parquet")
            for suffix, write in [(".ods", write_ods), (".xls", write_xls)]:
                path = Path(directory) / f"export{suffix}"
                write(path, names, rows)
                got = self.run_research(directory, path, suffix[1:])
                self.assertEqual(got.num_rows, expected.num_rows, suffix)
                self.assertTrue(got.equals(expected), suffix)


if __name__ == "__main__":
    unittest.main()
