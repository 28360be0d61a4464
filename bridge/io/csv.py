"""CSV: comma-separated text with a header row; empty fields and "NA" are missing.

Floats are written with Python's shortest round-trip representation, so values read
back are bit-identical to the ones written.
"""
from __future__ import annotations

import pandas as pd

from .metadata import Metadata

LABEL = "CSV"


def read(path) -> tuple[pd.DataFrame, Metadata]:
    frame = pd.read_csv(path, na_values=["", "NA", "."], keep_default_na=True)
    return frame, Metadata(source_format="csv")


def write(frame: pd.DataFrame, path, metadata: Metadata, **options) -> None:
    write_parts([frame], path, metadata)


def write_parts(parts, path, metadata: Metadata, **options) -> None:
    """Write consecutive blocks of rows (same columns) as one file, one block in memory
    at a time."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        for k, part in enumerate(parts):
            part.to_csv(handle, index=False, na_rep="", header=k == 0)
