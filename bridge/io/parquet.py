"""Apache Parquet via pyarrow: dtypes (including categoricals) are preserved.  Blocks of
rows can be streamed into one file (one row group each), for stacked imputations larger
than memory."""
from __future__ import annotations

import pandas as pd

from .metadata import Metadata

LABEL = "Parquet"


def read(path) -> tuple[pd.DataFrame, Metadata]:
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
