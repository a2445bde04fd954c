"""doel's pipeline, kernels and table protection over pyarrow record batches.

The native module ``doel._doel`` is the Rust crate's ``apply`` layer (the code
``doel run`` applies to every batch), built with maturin. ``doel.spark`` runs a
pipeline on Apache Spark with it.
"""

from ._doel import (
    BSN_COLUMN,
    EXCLUDED_COLUMN,
    LISTED_COLUMN,
    SPEC_VERSION,
    Cells,
    DoelError,
    Plan,
    Rows,
    canonical_bsn,
    pipeline_info,
)

__all__ = [
    "BSN_COLUMN",
    "EXCLUDED_COLUMN",
    "LISTED_COLUMN",
    "SPEC_VERSION",
    "Cells",
    "DoelError",
    "Plan",
    "Rows",
    "canonical_bsn",
    "pipeline_info",
]
