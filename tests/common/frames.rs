//! Reading Parquet files, for the tests that compare extracts (cli.rs, workbook.rs include
//! it beside `common`).

use std::path::Path;

use polars::prelude::*;

/// The committed sample export.
pub fn sample() -> DataFrame {
    read_parquet(&crate::common::repo("sample-data/export.parquet"))
}

pub fn read_parquet(path: &Path) -> DataFrame {
    let path = PlRefPath::new(path.to_str().unwrap());
    LazyFrame::scan_parquet(path, ScanArgsParquet::default())
        .unwrap()
        .collect()
        .unwrap()
}
