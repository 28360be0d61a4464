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
    frame.to_csv(path, index=False, na_rep="")
