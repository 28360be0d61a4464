"""What an MLwiN worksheet can hold, checked when writing for MLwiN (``.dta`` format 114,
which MLwiN's ``RSTA`` reads, and REALCOM's impvals files).

* MLwiN does not tell column names apart by case (R2MLwiN refuses such names too):
  ``score`` and ``Score`` would be one column there, so they are refused before any work.
* MLwiN stores a worksheet in single precision (about 7 significant digits): whole numbers
  beyond 2^24 = 16,777,216 (large ids) no longer stay distinct, and other numbers are
  rounded.  That is told in a note naming the columns, since the file itself is exact.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import FormatError

#: the largest whole number single precision holds exactly (and every one below it)
EXACT_SINGLE = 2 ** 24


def check_names(columns, what: str) -> None:
    """Refuse two column names that differ only in case."""
    seen: dict[str, str] = {}
    for name in map(str, columns):
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise FormatError(f"columns '{other}' and '{name}' differ only in case, which "
                              f"MLwiN does not tell apart ({what}); rename one of them")


def precision_notes(frame: pd.DataFrame) -> list[str]:
    """Notes on the numeric columns that single precision would not hold exactly."""
    too_large, rounded = [], []
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(column) \
                or pd.api.types.is_bool_dtype(column):
            continue
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        values = values[np.isfinite(values)]
        if not values.size:
            continue
        whole = values == np.round(values)
        if np.any(np.abs(values[whole]) > EXACT_SINGLE):
            too_large.append(name)
        elif np.any(values.astype(np.float32).astype(float) != values):
            rounded.append(name)
    notes = []
    if too_large:
        notes.append(f"MLwiN keeps numbers in single precision: whole numbers beyond "
                     f"{EXACT_SINGLE:,} in {_names(too_large)} will not stay distinct there "
                     "(recode such ids to 1..N first)")
    if rounded:
        notes.append(f"MLwiN keeps numbers in single precision (about 7 significant digits): "
                     f"{_names(rounded)} will be rounded there")
    return notes


def _names(names: list[str]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:6])
    return shown + (f" and {len(names) - 6} more" if len(names) > 6 else "")
