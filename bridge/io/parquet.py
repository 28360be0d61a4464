"""Apache Parquet via pyarrow: dtypes (including categoricals) are preserved.  Blocks of
rows can be streamed into one file (one row group each), for stacked imputations larger
than memory."""
from __future__ import annotations

import pandas as pd

from ..errors import FormatError
from .metadata import Metadata

LABEL = "Parquet"


def read(path) -> tuple[pd.DataFrame, Metadata]:
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    duplicate = sorted({n for n in names if names.count(n) > 1})
    if duplicate:
        raise FormatError(f"file '{path}': column name '{duplicate[0]}' appears more than once; "
                          "rename one of them")
    return pd.read_parquet(path), Metadata(source_format="parquet")


def write(frame: pd.DataFrame, path, metadata: Metadata, **options) -> None:
    frame.to_parquet(path, index=False)


def write_parts(parts, path, metadata: Metadata, **options) -> None:
    """Write consecutive blocks of rows (same columns and dtypes) as one file, one block
    in memory at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for part in parts:
            if writer is None:
                table = pa.Table.from_pandas(part, preserve_index=False)
                writer = pq.ParquetWriter(path, table.schema)
            else:
                table = pa.Table.from_pandas(part, preserve_index=False, schema=writer.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
