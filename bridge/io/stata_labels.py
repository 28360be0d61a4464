"""Value-label set names in a .dta file written by pyreadstat.

pyreadstat names every variable's value-label set itself (``sex`` becomes ``sex0``) and
writes one set per variable, so the names a user's do-files refer to (``label values q1
yesno``) would be lost.  :func:`name_label_sets` sets them in the written file: the name in
each variable's entry of the label-name list, and the name of each label table.  Both
are fixed-width, null-padded fields (33 bytes in formats 114 and 117, 129 in 118 and
119; Stata's ``dta`` manual), so the file keeps its size and every offset.  A set shared
by several variables is written once, by the writer, under its first variable; the other
variables get its name in their entry.

Where the fields are:

* 117-119: ``<value_label_names>`` holds one field per variable; ``<value_labels>`` holds
  ``<lbl>`` records: a 4-byte length, the name field, 3 padding bytes, the table.
* 114: the label-name list follows the header (109 bytes), type list (1 byte per
  variable), names (33), sort list (2 per variable + 2) and formats (49); the tables follow
  the data: a 4-byte length, the 33-byte name, 3 padding bytes, the table.
"""
from __future__ import annotations

import struct
from pathlib import Path

from ..errors import FormatError

_WIDTH_114 = 33
_TYPE_WIDTHS_114 = {251: 1, 252: 2, 253: 4, 254: 4, 255: 8}


def _field(name: str, width: int) -> bytes:
    raw = name.encode("utf-8")
    if len(raw) >= width:
        raise FormatError(f"value-label set name '{name}' is too long for this .dta format")
    return raw + b"\0" * (width - len(raw))


def _name_at(data: bytes, at: int, width: int) -> str:
    return data[at: at + width].split(b"\0", 1)[0].decode("utf-8")


def name_label_sets(path: str | Path, set_of_column: list[str]) -> None:
    """Give the label sets of a written .dta file the names in `set_of_column` (one entry
    per column, in column order; "" for a column without value labels).  The file's own
    tables are renamed from the (generated) name of the first column that carries them."""
    path = Path(path)
    data = bytearray(path.read_bytes())
    if data.startswith(b"<stata_dta>"):
        width = 33 if int(data[28:31]) == 117 else 129
        start = data.find(b"<value_label_names>") + len(b"<value_label_names>")
        entries = [start + k * width for k in range(len(set_of_column))]
        tables = _tables_xml(data, width)
    elif data[0] == 114:
        width = _WIDTH_114
        entries, tables = _positions_114(data, len(set_of_column))
    else:
        raise FormatError(f"file '{path}': value-label set names can be set in .dta formats "
                          "114 and 117-119 only")
    renamed = {}
    for at, wanted in zip(entries, set_of_column):
        written = _name_at(data, at, width)
        if written and wanted:
            renamed.setdefault(written, wanted)
        data[at: at + width] = _field(wanted, width)
    for at in tables:
        written = _name_at(data, at, width)
        data[at: at + width] = _field(renamed.get(written, written), width)
    path.write_bytes(bytes(data))


def _tables_xml(data: bytearray, width: int) -> list[int]:
    """Offsets of the name field of every <lbl> record."""
    found, at = [], data.find(b"<value_labels>")
    end = data.find(b"</value_labels>", at)
    while True:
        at = data.find(b"<lbl>", at, end)
        if at < 0:
            return found
        found.append(at + len(b"<lbl>") + 4)
        at += len(b"<lbl>") + 4 + width


def _positions_114(data: bytearray, nvar: int) -> tuple[list[int], list[int]]:
    endian = "<" if data[1] == 2 else ">"
    nobs = struct.unpack(endian + "i", data[6:10])[0]
    types = data[109: 109 + nvar]
    lbllist = 109 + nvar * (1 + 33) + 2 * (nvar + 1) + nvar * 49
    entries = [lbllist + k * _WIDTH_114 for k in range(nvar)]
    position = lbllist + nvar * _WIDTH_114 + nvar * 81          # variable labels follow
    while True:                                                   # expansion fields
        kind, length = struct.unpack(endian + "bi", data[position: position + 5])
        position += 5
        if kind == 0 and length == 0:
            break
        position += length
    row = sum(_TYPE_WIDTHS_114.get(t, t) for t in types)
    position += nobs * row
    tables = []
    while position + 4 <= len(data):
        length = struct.unpack(endian + "i", data[position: position + 4])[0]
        tables.append(position + 4)
        position += 4 + _WIDTH_114 + 3 + length
    return entries, tables
