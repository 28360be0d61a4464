"""Apache Parquet via pyarrow: dtypes (including categoricals) are preserved."""
from __future__ import annotations

import pandas as pd

from .metadata import Metadata

LABEL = "Parquet"


def read(path) -> tuple[pd.DataFrame, Metadata]:
    return pd.read_parquet(path), Metadata(source_format="parquet")


def write(frame: pd.DataFrame, path, metadata: Metadata, **options) -> None:
    frame.to_parquet(path, index=False)
