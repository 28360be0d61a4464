"""Reading and writing data files: one module per format, chosen by file extension.

Each format module has ``read(path) -> (frame, Metadata)`` and
``write(frame, path, metadata)`` (CSV and Parquet also ``write_parts``, which streams
blocks of rows); :func:`read_data` and :func:`write_data` are the single
entry point.  Writers always go through :func:`atomic_path`, so a failed write leaves
nothing behind.  :mod:`.stack` gives stacked imputations each ecosystem's shape (Stata
flong, R long), :mod:`.realcom` REALCOM's text files, :mod:`.paths` checks what a command
reads and writes before it starts.

The lowest layer of the bridge: it imports nothing of mlimpute but :mod:`mlimpute.errors`;
every other layer may import it.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import FormatError
from . import csv as _csv
from . import parquet as _parquet
from . import rfiles as _rfiles
from . import stata as _stata
from .atomic import atomic_path, atomic_write_text
from .metadata import Metadata

FORMATS = {
    ".csv": _csv,
    ".parquet": _parquet,
    ".pq": _parquet,
    ".dta": _stata,
    ".rds": _rfiles,
    ".rdata": _rfiles,
    ".rda": _rfiles,
}

#: extensions of R's own data files, whose stacked output defaults to R's long shape
R_SUFFIXES = (".rds", ".rdata", ".rda")


def format_for(path: str | Path):
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise FormatError(f"file '{path}': unknown file type '{suffix or '(none)'}' "
                          f"(known: {known})") from None


def read_data(path: str | Path, na_values=None) -> tuple[pd.DataFrame, Metadata]:
    """Read a data file into a frame and its metadata (labels, source format).

    ``na_values``: text fields read as missing besides the empty field and ``NA`` (CSV
    only; other formats have their own missing values)."""
    path = Path(path)
    module = format_for(path)
    if path.is_dir():
        raise FormatError(f"file '{path}': is a folder, not a data file")
    if not path.is_file():
        raise FormatError(f"file '{path}': not found")
    options = {}
    if na_values:
        if module is not _csv:
            raise FormatError(f"file '{path}': extra missing-value markers apply to CSV input only")
        options["na_values"] = list(na_values)
    try:
        return module.read(path, **options)
    except FormatError:
        raise
    except Exception as exc:  # the readers' own errors become one line naming the file
        raise FormatError(f"file '{path}': cannot read as {module.LABEL}: {_first_line(exc)}") from None


def check_output_columns(columns, path: str | Path, **options) -> None:
    """Refuse, before any work, column names the output format cannot hold (``options``
    as for :func:`write_data`, e.g. ``dta_format=114``)."""
    _format_check(path, "check_columns", columns, options)


def check_output_frame(frame: pd.DataFrame, path: str | Path, **options) -> None:
    """Refuse, before any work, values the output format cannot hold (e.g. long text in
    .dta format 114); ``options`` as for :func:`write_data`."""
    _format_check(path, "check_frame", frame, options)


def _format_check(path, check: str, what, options: dict) -> None:
    """Run the output format's `check` (if it has one), its error naming the file."""
    module = format_for(path)
    if hasattr(module, check):
        try:
            getattr(module, check)(what, **options)
        except FormatError as exc:
            raise FormatError(f"file '{path}': {exc}") from None


def write_data(frame: pd.DataFrame, path: str | Path, metadata: Metadata | None = None,
               **options) -> None:
    """Write a frame in the format of `path`'s extension, atomically.

    ``options`` are format-specific keywords (e.g. ``dta_format=114`` for .dta).
    """
    _write(path, "write", frame, metadata, options)


def write_stacked(parts, path: str | Path, metadata: Metadata | None = None, **options) -> None:
    """Write stacked imputations given as blocks of rows (see
    :func:`mlimpute.io.stack.stacked_parts`), atomically.  CSV and Parquet stream the
    blocks, holding one completed data set in memory at a time; the other formats'
    writers need the whole table and get the blocks concatenated."""
    if not hasattr(format_for(path), "write_parts"):
        write_data(pd.concat(parts, ignore_index=True), path, metadata, **options)
        return
    _write(path, "write_parts", parts, metadata, options)


def _write(path, method: str, data, metadata: Metadata | None, options: dict) -> None:
    """Call the format module's `method` on a temporary file that replaces `path` only
    on success; the writer's own errors become one line naming the file."""
    path = Path(path)
    module = format_for(path)
    if not path.parent.exists() and str(path.parent):
        raise FormatError(f"file '{path}': directory '{path.parent}' does not exist")
    try:
        with atomic_path(path) as tmp:
            getattr(module, method)(data, tmp, metadata or Metadata(), **options)
    except FormatError:
        raise
    except Exception as exc:
        raise FormatError(f"file '{path}': cannot write as {module.LABEL}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = ["FORMATS", "R_SUFFIXES", "Metadata", "atomic_path", "atomic_write_text", "check_output_columns", "check_output_frame",
           "format_for",
           "read_data", "write_data", "write_stacked"]
