"""Stata .dta via pyreadstat.

Reading: variable labels, value labels with their set names, and display formats go to
the metadata.  The system missing value ``.`` becomes NaN; the extended missing values
``.a``-``.z`` become NaN too, with their letters kept in ``Metadata.hard_missing``: as in
Stata's ``mi`` they are hard missing, never imputed, and every block of a .dta output
gets them back with their tags.  Writing: format 118 (Stata 14 and later) by default,
``dta_format=114`` for old readers such as MLwiN's ``RSTA``; labels, label-set names
(:mod:`.stata_labels`), formats and extended missing values are written back, and so are
characteristics (``_dta[_mi_*]`` for Stata's ``mi``, see :mod:`.stata_characteristics`).

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

import numpy as np
import pandas as pd

from ..errors import FormatError
from .metadata import Metadata
from .stata_characteristics import add_characteristics, read_characteristics
from .stata_labels import name_label_sets
from .stata_storage import narrow_storage

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


def _pyreadstat():
    """pyreadstat, imported when a .dta file is read or written (not for CSV users)."""
    import pyreadstat
    return pyreadstat


def read(path) -> tuple[pd.DataFrame, Metadata]:
    frame, meta = _pyreadstat().read_dta(str(path), user_missing=True)
    labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    metadata = Metadata(variable_labels=labels,
                        value_labels=dict(meta.variable_value_labels or {}),
                        source_format="dta", timestamp=meta.modification_time,
                        value_label_names={k: v for k, v in (meta.variable_to_label or {}).items() if v},
                        formats=dict(meta.original_variable_types or {}),
                        file_label=meta.file_label or "",
                        storage={k: _NARROW[v] for k, v in (meta.readstat_variable_types or {}).items()
                                 if v in _NARROW})
    # notes and other characteristics, not mi's bookkeeping (a new run writes its own)
    metadata.characteristics = {key: text for key, text in read_characteristics(path).items()
                                if not key[1].startswith("_mi_")}
    for name in meta.missing_user_values or {}:
        frame[name], tags = _split_extended_missing(frame[name])
        if tags:
            metadata.hard_missing[name] = tags
    # pyreadstat gives an integer variable (byte, int, long) with missing values as
    # Python objects; it is a number column (missing as NaN), not text
    for name, kind in (meta.readstat_variable_types or {}).items():
        if kind != "string" and frame[name].dtype == object and not _is_date_format(metadata, name):
            frame[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
    return frame, metadata


def _is_date_format(metadata: Metadata, name: str) -> bool:
    """A %td/%tc (and other %t) variable: pyreadstat gives it as dates, left as such."""
    return str(metadata.formats.get(name, "")).lstrip("%-").startswith("t")


def _split_extended_missing(column: pd.Series) -> tuple[pd.Series, dict[int, str]]:
    """pyreadstat gives a column with extended missing values as objects, the letters
    among the numbers: the numbers as float64 (the letters NaN) and {row: letter}."""
    letters = column.map(lambda v: isinstance(v, str))
    tags = {int(k): str(v) for k, v in enumerate(column) if isinstance(v, str)}
    numbers = pd.to_numeric(column.where(~letters), errors="raise").astype("float64")
    return numbers, tags


_STATA_NAME = re.compile(r"^[^\W\d]\w{0,31}$")     # Stata 14+: Unicode letters allowed
_OLD_STATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$", re.ASCII)   # formats 114, 117


def check_columns(columns, dta_format: int = 118) -> None:
    """Refuse column names Stata cannot hold (letters, digits and _, not starting with a
    digit, at most 32 characters; ASCII only before format 118): called before any work,
    so no run ends on it."""
    pattern = _STATA_NAME if dta_format >= 118 else _OLD_STATA_NAME
    for name in columns:
        if not pattern.match(str(name)):
            why = ("has more than 32 characters" if len(str(name)) > 32 else
                   "is not a Stata name (letters, digits and _, not starting with a digit"
                   + ("" if dta_format >= 118 else "; ASCII only in this .dta format") + ")")
            raise FormatError(f"column '{name}' {why}; rename it for .dta output")


#: pyreadstat's names of the storage types it reads but does not write
_NARROW = {"int8": "byte", "int16": "int"}
#: the storage types ``mi set`` gives its own variables
MI_STORAGE = {"_mi_m": "int", "_mi_miss": "byte"}


def _storage_wanted(frame: pd.DataFrame, metadata: Metadata) -> dict[str, str]:
    """Columns to store as byte or int: as the source stored them, as their dtype says
    (int8/int16), and mi's own; :func:`narrow_storage` keeps any whose values do not fit."""
    wanted = {name: kind for name, kind in (metadata.storage or {}).items() if name in frame.columns}
    for name in frame.columns:
        dtype = frame[name].dtype
        if pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
            size = np.dtype(getattr(dtype, "numpy_dtype", dtype)).itemsize
            if size <= 2:
                wanted.setdefault(name, "byte" if size == 1 else "int")
    wanted.update({c: kind for c, kind in MI_STORAGE.items() if c in frame.columns})
    return wanted


#: the longest text a str# variable holds in .dta formats without strL (before 117)
MAX_STR_BYTES_114 = 244
#: display formats ``mi set`` gives its own variables
MI_FORMATS = {"_mi_m": "%8.0g", "_mi_id": "%12.0g", "_mi_miss": "%8.0g"}


def check_frame(frame: pd.DataFrame, dta_format: int = 118) -> None:
    """Refuse, before any work, values the .dta format cannot hold: in format 114 (no
    strL) text longer than 244 bytes."""
    if dta_format >= 117:
        return
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
            lengths = column.dropna().map(lambda v: len(str(v).encode("utf-8")))
            if len(lengths) and lengths.max() > MAX_STR_BYTES_114:
                raise FormatError(f"column '{name}' holds text of {lengths.max()} bytes; .dta "
                                  f"format {dta_format} holds at most {MAX_STR_BYTES_114} "
                                  "(no strL): shorten it, leave it out, or write format 118")


def write(frame: pd.DataFrame, path, metadata: Metadata, dta_format: int = 118) -> None:
    """Write `frame`; labels, label-set names, display formats and extended missing values
    come from `metadata` (see the module docstring)."""
    if dta_format not in _RELEASE_FOR_FORMAT:
        raise FormatError(f"file '{path}': .dta format {dta_format} is not supported "
                          f"(choose one of {sorted(_RELEASE_FOR_FORMAT)})")
    check_columns(frame.columns, dta_format)
    storage = _storage_wanted(frame, metadata)
    value_labels = {c: v for c, v in metadata.value_labels.items() if c in frame.columns and v}
    frame, category_labels = _categoricals_as_labelled_codes(frame)
    value_labels.update(category_labels)
    set_of_column = [metadata.value_label_names.get(c, c) if c in value_labels else ""
                     for c in frame.columns]
    carriers = {}                     # one column writes each set; the others name it
    for column, label_set in zip(frame.columns, set_of_column):
        if label_set:
            carriers.setdefault(label_set, column)
    frame = _integers_as_long(frame)
    formats = {**{c: f for c, f in MI_FORMATS.items() if c in frame.columns},
               **_formats(frame, metadata.formats)}
    frame, missing_letters = _with_extended_missing(frame, metadata.hard_missing)
    _pyreadstat().write_dta(frame, str(path), version=_RELEASE_FOR_FORMAT[dta_format],
                            file_label=metadata.file_label or "",
                            column_labels={c: l for c, l in metadata.variable_labels.items()
                                           if c in frame.columns} or None,
                            variable_value_labels={c: value_labels[c]
                                                   for c in carriers.values()} or None,
                            missing_user_values=missing_letters or None,
                            variable_format=formats or None)
    if carriers:
        name_label_sets(path, set_of_column)
    narrow_storage(path, storage)
    _stamp(Path(path), output_time(metadata))
    add_characteristics(path, {key: text for key, text in metadata.characteristics.items()
                               if key[0] == "_dta" or key[0] in frame.columns})


#: the values a Stata long holds (larger ones are its missing codes)
_LONG_RANGE = (-2147483647, 2147483620)


def _integers_as_long(frame: pd.DataFrame) -> pd.DataFrame:
    """64-bit integer columns whose values fit in a Stata long are written as longs
    (pyreadstat would write them as doubles: an id read from Stata came back a double)."""
    out = frame
    for name in frame.columns:
        column = frame[name]
        if column.dtype == np.int64 and len(column) and \
                _LONG_RANGE[0] <= column.min() and column.max() <= _LONG_RANGE[1]:
            out = frame.copy() if out is frame else out
            out[name] = column.astype(np.int32)
    return out


def _formats(frame: pd.DataFrame, formats: dict[str, str]) -> dict[str, str]:
    """The display formats that still fit their column's type (a string format for text,
    a numeric one for numbers)."""
    fitting = {}
    for name, fmt in formats.items():
        if name in frame.columns and fmt:
            is_text = not pd.api.types.is_numeric_dtype(frame[name]) and \
                not isinstance(frame[name].dtype, pd.CategoricalDtype)
            if fmt.rstrip().endswith("s") == is_text:
                fitting[name] = fmt
    return fitting


def _with_extended_missing(frame: pd.DataFrame, hard_missing: dict[str, dict[int, str]]):
    """Put the letters of Stata's extended missing values back into their cells (rows
    matched through ``_mi_id``/``.id`` in stacked data, by position otherwise), as
    pyreadstat writes them: objects among the numbers, with the letters declared."""
    present = {c: tags for c, tags in hard_missing.items() if c in frame.columns and tags}
    if not present:
        return frame, {}
    for key in ("_mi_id", ".id"):
        if key in frame.columns:
            rows = frame[key].to_numpy().astype(int) - 1
            break
    else:
        rows = range(len(frame))
    frame = frame.copy()
    declared = {}
    for name, tags in present.items():
        values = np.array(frame[name].astype(object).to_numpy(), dtype=object)
        for k, row in enumerate(rows):
            letter = tags.get(int(row))
            if letter is not None:
                values[k] = letter
        frame[name] = values
        declared[name] = sorted(set(tags.values()))
    return frame, declared


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
