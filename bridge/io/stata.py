"""Stata .dta via pyreadstat.

Reading: value labels and variable labels go to the metadata; Stata's missing values
(``.`` and the extended ``.a``-``.z``) all become NaN.  Writing: format 118 (Stata 14
and later) by default, ``dta_format=114`` for old readers such as MLwiN's ``RSTA``;
variable and value labels are written back, and so are characteristics (``_dta[_mi_*]``
for Stata's ``mi``, see :mod:`.stata_characteristics`).

The header's time stamp is not the clock's, so that the same run writes the same bytes:
it is the input's own time stamp when the input is a .dta file, 01 Jan 1960 00:00 (Stata's
origin of time) otherwise, or the time in the environment variable ``SOURCE_DATE_EPOCH``
(seconds since 1970, the reproducible-builds convention) when that is set: run with
``SOURCE_DATE_EPOCH=$(date +%s)`` to stamp files with the real time.
"""
from __future__ import annotations

import os
import re
import struct
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyreadstat

from ..errors import FormatError
from .metadata import Metadata
from .stata_characteristics import add_characteristics

LABEL = "Stata .dta"
#: pyreadstat's `version` argument (a Stata release) for each .dta format number
_RELEASE_FOR_FORMAT = {114: 10, 117: 13, 118: 14, 119: 15}
STATA_ORIGIN = datetime(1960, 1, 1)
_STAMP_114_AT = 91          # byte offset of the 18-byte time stamp in a format-114 header


def output_time(metadata: Metadata) -> datetime:
    """The time written into a .dta output: see the module docstring."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            seconds = int(epoch)
        except ValueError:
            raise FormatError(f"SOURCE_DATE_EPOCH={epoch!r} is not a whole number of seconds") from None
        return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)
    return metadata.timestamp or STATA_ORIGIN


def read(path) -> tuple[pd.DataFrame, Metadata]:
    frame, meta = pyreadstat.read_dta(str(path))
    labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    return frame, Metadata(variable_labels=labels,
                           value_labels=dict(meta.variable_value_labels or {}),
                           source_format="dta", timestamp=meta.modification_time)


_STATA_NAME = re.compile(r"^[^\W\d]\w{0,31}$")     # Stata 14+: Unicode letters allowed


def check_columns(columns) -> None:
    """Refuse column names Stata cannot hold (letters, digits and _, not starting with a
    digit, at most 32 characters): called before any work, so no run ends on it."""
    for name in columns:
        if not _STATA_NAME.match(str(name)):
            why = ("has more than 32 characters" if len(str(name)) > 32 else
                   "is not a Stata name (letters, digits and _, not starting with a digit)")
            raise FormatError(f"column '{name}' {why}; rename it for .dta output")


def write(frame: pd.DataFrame, path, metadata: Metadata, dta_format: int = 118) -> None:
    if dta_format not in _RELEASE_FOR_FORMAT:
        raise FormatError(f"file '{path}': .dta format {dta_format} is not supported "
                          f"(choose one of {sorted(_RELEASE_FOR_FORMAT)})")
    check_columns(frame.columns)
    value_labels = {c: v for c, v in metadata.value_labels.items() if c in frame.columns}
    frame, category_labels = _categoricals_as_labelled_codes(frame)
    value_labels.update(category_labels)
    pyreadstat.write_dta(frame, str(path), version=_RELEASE_FOR_FORMAT[dta_format],
                         column_labels={c: l for c, l in metadata.variable_labels.items()
                                        if c in frame.columns} or None,
                         variable_value_labels=value_labels or None)
    _stamp(Path(path), output_time(metadata))
    add_characteristics(path, metadata.characteristics)


def _stamp(path: Path, when: datetime) -> None:
    """Replace the header's time stamp ("dd Mon yyyy hh:mm") that pyreadstat took from the clock."""
    text = f"{when.day:02d} {when.strftime('%b')} {when.year:04d} {when:%H:%M}".encode("ascii")
    data = bytearray(path.read_bytes())
    if data.startswith(b"<stata_dta>"):
        at = data.find(b"<timestamp>", 0, 300) + len(b"<timestamp>")
        if at < len(b"<timestamp>") or data[at] != len(text):
            raise FormatError(f"file '{path}': unexpected .dta header, cannot set its time stamp")
        data[at + 1: at + 1 + len(text)] = text
    else:
        data[_STAMP_114_AT: _STAMP_114_AT + 18] = struct.pack("18s", text)
    path.write_bytes(bytes(data))


def _categoricals_as_labelled_codes(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Stata has no categorical type: a Categorical with numeric categories is written as
    its numbers; one with text categories as codes 1..K carrying value labels."""
    labels = {}
    out = frame
    for name in frame.columns:
        column = frame[name]
        if not isinstance(column.dtype, pd.CategoricalDtype):
            continue
        if out is frame:
            out = frame.copy()
        categories = column.cat.categories
        if pd.api.types.is_numeric_dtype(categories):
            out[name] = column.astype(float)
        else:
            codes = column.cat.codes.astype(float) + 1
            out[name] = codes.where(column.notna())
            labels[name] = {float(k + 1): str(c) for k, c in enumerate(categories)}
    return out, labels
