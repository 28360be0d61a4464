"""CSV: comma-separated text with a header row.

Reading keeps what the file says.  Only the documented missing markers are missing: an
empty field and ``NA`` (R's ``write.csv`` and Stata's ``export delimited`` write these), plus
whatever the caller adds (``--na-values``).  ``None``, ``null``, ``n/a``, ``NaN`` or ``.`` are
data unless added.  A column is numeric only if every non-missing field is a plain
number; a column with a zero-padded integer such as ``01`` (an id or a code, where ``01`` and
``1`` are different values) or any other text stays text, exactly as written (``inf`` and
``-inf`` are numbers; ``nan`` is text unless made a marker).  A row with more fields than
the header is an error, never silently cut.  Integers
without missing values are int64; other numbers are float64, parsed with correct rounding;
integers too large for float64 to hold exactly, when a missing value forces a nullable type,
become nullable Int64.  Duplicate column names are refused (pandas would rename them).

Writing: floats with Python's shortest round-trip representation, so values read back
are bit-identical; missing values as empty fields.
"""
from __future__ import annotations

import csv
import warnings

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from ..errors import FormatError
from .metadata import Metadata

LABEL = "CSV"
#: fields read as missing in every CSV file (more with ``read(..., na_values=[...])``)
MISSING_MARKERS = ("", "NA")

# applied to fields with surrounding spaces stripped; _NUMBER without regard to case
_NUMBER = r"[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|infinity)"
_INTEGER = r"[+-]?[0-9]+"          # ASCII digits only: other scripts' digits stay text
_PADDED = r"[+-]?0[0-9]"
_EXACT_FLOAT_INT = 2 ** 53


def read(path, na_values=()) -> tuple[pd.DataFrame, Metadata]:
    markers = list(MISSING_MARKERS) + [str(v) for v in na_values]
    header = _header(path)
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        separator = "semicolons" if ";" in header[0] else "tabs"
        raise FormatError(f"file '{path}': the header is one column holding {separator}; "
                          "mlimpute reads comma-separated files: save it with commas")
    if any(not name.strip() for name in header):
        position = next(k for k, name in enumerate(header, start=1) if not name.strip())
        raise FormatError(f"file '{path}': column {position} of the header has no name "
                          "(row names written by R's write.csv?); name it or drop it")
    duplicate = sorted({n for n in header if header.count(n) > 1})
    if duplicate:
        raise FormatError(f"file '{path}': column name '{duplicate[0]}' appears more than once; "
                          "rename one of them")
    with warnings.catch_warnings():     # a row longer than the header: refuse, never drop
        warnings.simplefilter("error", pd.errors.ParserWarning)
        text = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=markers,
                           encoding="utf-8-sig", index_col=False)
    frame = pd.DataFrame({name: _typed(text[name]) for name in text.columns}, index=text.index)
    notes = [note for name in text.columns if (note := _stray_text(text[name], frame[name]))]
    return frame, Metadata(source_format="csv", notes=notes)


def _header(path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        try:
            return next(csv.reader(handle))
        except StopIteration:
            raise FormatError(f"file '{path}': empty file, no header row") from None


def _typed(column: pd.Series) -> pd.Series:
    """A column of text fields (missing: NaN) as numbers when every field is a plain number
    that reads back the same, as text otherwise (see the module docstring).  The checks and
    conversions are vectorised string operations (Arrow's, when pandas stores text in
    Arrow); the conversion to float64 is correctly rounded, so values written with the
    shortest round-trip representation read back bit for bit."""
    present = column.dropna()
    if present.empty:
        return column.astype("float64")
    text = present.astype(str).str.strip()
    if not text.str.fullmatch(_NUMBER, case=False).all() or text.str.match(_PADDED).any():
        return column
    if text.str.fullmatch(_INTEGER).all():
        try:
            numbers = text.str.lstrip("+").astype("int64")
        except (OverflowError, ValueError):
            return column           # an id longer than any integer type: keep the text
        if len(present) == len(column):
            return pd.Series(numbers.to_numpy(), index=column.index, dtype="int64", name=column.name)
        if (numbers.abs() >= _EXACT_FLOAT_INT).any():
            out = pd.Series(pd.NA, index=column.index, dtype="Int64", name=column.name)
            out[present.index] = numbers.to_numpy()
            return out
    out = np.full(len(column), np.nan)
    out[column.notna().to_numpy()] = _floats(text)
    return pd.Series(out, index=column.index, name=column.name)


#: a text column is "numbers with a stray field" when at most this many fields, and at
#: most a tenth of them, are not numbers
STRAY_FIELDS = 10


def _stray_text(text: pd.Series, typed: pd.Series) -> str | None:
    """A note for a column read as text although nearly every field is a number (one
    'oops' among ages): it would otherwise be dummy-coded or refused without a word."""
    if is_numeric_dtype(typed):
        return None
    present = text.dropna().astype(str).str.strip()
    odd = present[~present.str.fullmatch(_NUMBER, case=False)]
    if odd.empty or len(odd) > STRAY_FIELDS or len(odd) > 0.1 * len(present) or \
            present.str.match(_PADDED).any():
        return None
    shown = ", ".join(f"'{v}'" for v in list(dict.fromkeys(odd.tolist()))[:3])
    rows = ", ".join(str(int(k) + 2) for k in odd.index[:3])     # file lines (header is 1)
    return (f"column '{text.name}' is numeric except for {len(odd)} field"
            f"{'s' if len(odd) > 1 else ''}: {shown} (line {rows}), so it is read as text; "
            "correct the field, or list it in --na-values if it marks a missing value")


def _floats(text: pd.Series) -> np.ndarray:
    """Numbers from text, correctly rounded (Arrow's cast; Python's float() otherwise)."""
    try:
        return text.astype("float64").to_numpy()
    except (ValueError, TypeError):
        return np.array([float(v) for v in text])


def write(frame: pd.DataFrame, path, metadata: Metadata, **options) -> None:
    write_parts([frame], path, metadata)


def write_parts(parts, path, metadata: Metadata, **options) -> None:
    """Write consecutive blocks of rows (same columns) as one file, one block in memory
    at a time."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        for k, part in enumerate(parts):
            part.to_csv(handle, index=False, na_rep="", header=k == 0)
