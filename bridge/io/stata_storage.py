"""Stata storage types (byte, int) in a .dta file written by pyreadstat.

pyreadstat writes every integer column as ``long`` and every other number as ``double``,
so a survey's ``byte`` variables came back four or eight times their size, and ``mi``'s
own ``_mi_m``/``_mi_miss`` were not the ``int``/``byte`` that ``mi set`` makes.
:func:`narrow_storage` rewrites the columns asked for, in place, when every value fits:

* whole numbers within the type's range (byte -127..100, int -32,767..32,740);
* Stata's missing values moved to the type's own codes (``.`` and ``.a``-``.z``: long
  2,147,483,621 + k, double 2^1023 + k * 2^1015 in its bit pattern, int 32,741 + k,
  byte 101 + k; Stata's ``dta`` manual).

A column that does not fit (an imputed value with a fraction) keeps its type.  The data
rows get narrower, so the type list, the data section and, in formats 117-119, the file
map's offsets of the sections after the data are rewritten.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..errors import FormatError

#: type -> (code in formats 117-119, code in 114, numpy type, lowest, highest, first missing)
TYPES = {
    "byte": (65530, 251, "i1", -127, 100, 101),
    "int": (65529, 252, "i2", -32767, 32740, 32741),
    "long": (65528, 253, "i4", -2147483647, 2147483620, 2147483621),
    "float": (65527, 254, "f4", None, None, None),
    "double": (65526, 255, "f8", None, None, None),
}
_MISSING_DOUBLE = 0x7FE0000000000000      # the bit pattern of '.'; '.a' adds 1 << 40 ...
_MAP_ENTRIES, _DATA_ENTRY = 14, 9


def narrow_storage(path: str | Path, wanted: dict[str, str]) -> None:
    """Store the columns of `wanted` ({name: "byte" or "int"}) in those types where their
    values fit (see the module docstring); other columns are left as they are."""
    if not wanted:
        return
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(b"<stata_dta>"):
        layout = _layout_xml(data)
    elif data[:1] == b"\x72":                  # 114
        layout = _layout_114(data)
    else:
        raise FormatError(f"file '{path}': storage types can be set in .dta formats 114 and "
                          "117-119 only")
    endian, names, codes, n, data_at, code_of, type_of, type_at = layout
    fields = [(f"f{k}", endian + _numpy_type(c, type_of)) for k, c in enumerate(codes)]
    rows = np.frombuffer(data, dtype=np.dtype(fields), count=n, offset=data_at)
    new_codes, columns = list(codes), {}
    for k, name in enumerate(names):
        target = wanted.get(name)
        current = type_of.get(codes[k])
        if target not in ("byte", "int") or current not in ("long", "double", "int"):
            continue
        if np.dtype(TYPES[target][2]).itemsize >= np.dtype(TYPES[current][2]).itemsize:
            continue
        values = _converted(rows[f"f{k}"], current, target)
        if values is not None:
            columns[k], new_codes[k] = values, code_of[target]
    if not columns:
        return
    new_fields = [(f"f{k}", endian + _numpy_type(c, type_of)) for k, c in enumerate(new_codes)]
    narrowed = np.empty(n, dtype=np.dtype(new_fields))
    for k in range(len(codes)):
        narrowed[f"f{k}"] = columns[k] if k in columns else rows[f"f{k}"]
    old_size = n * rows.dtype.itemsize
    body = narrowed.tobytes()
    out = bytearray(data[:data_at]) + body + data[data_at + old_size:]
    type_at(out, new_codes)
    if data.startswith(b"<stata_dta>"):
        _shift_map(out, endian, len(body) - old_size)
    path.write_bytes(bytes(out))


def _numpy_type(code: int, type_of: dict[int, str]) -> str:
    if code in type_of:
        return TYPES[type_of[code]][2]
    return "V8" if code == 32768 else f"S{code}"        # strL reference, str#


def _converted(values: np.ndarray, current: str, target: str) -> np.ndarray | None:
    """`values` in the narrower `target` type, or None when one does not fit."""
    _, _, kind, low, high, missing_new = TYPES[target]
    if current == "double":
        bits = values.astype(values.dtype.newbyteorder("=")).view(np.uint64)
        missing = (bits >= _MISSING_DOUBLE) & (bits < 0x8000000000000000)   # positive, >= 2^1023
        letters = ((bits[missing] - _MISSING_DOUBLE) >> 40).astype(np.int64)
        letters[letters > 26] = 0               # an IEEE NaN or infinity: Stata's '.'
        letters[letters < 0] = 0
        numbers = values[~missing].astype(float)
        if not np.all(numbers == np.round(numbers)):
            return None
    else:
        first_missing = TYPES[current][5]
        raw = values.astype(np.int64)
        missing = raw >= first_missing
        letters = raw[missing] - first_missing
        numbers = raw[~missing]
    if numbers.size and (numbers.min() < low or numbers.max() > high):
        return None
    if letters.size and (letters.min() < 0 or letters.max() > 26):
        return None
    out = np.empty(values.shape, dtype=kind)
    out[~missing] = numbers.astype(kind)
    out[missing] = (missing_new + letters).astype(kind)
    return out


def _layout_xml(data: bytes):
    release = int(data[28:31])
    endian = "<" if b"<byteorder>LSF</byteorder>" in data[:200] else ">"
    k_at = data.find(b"<K>") + 3
    nvar = struct.unpack(endian + ("I" if release == 119 else "H"),
                         data[k_at: k_at + (4 if release == 119 else 2)])[0]
    n_at = data.find(b"<N>") + 3
    n = struct.unpack(endian + ("I" if release == 117 else "Q"),
                      data[n_at: n_at + (4 if release == 117 else 8)])[0]
    # the sections where the file map says they are (text such as "<data>" may also stand
    # in a note among the characteristics)
    map_at = data.find(b"<map>") + len(b"<map>")
    offsets = struct.unpack(endian + f"{_MAP_ENTRIES}Q", data[map_at: map_at + 8 * _MAP_ENTRIES])
    types_at = offsets[2] + len(b"<variable_types>")
    codes = list(struct.unpack(endian + f"{nvar}H", data[types_at: types_at + 2 * nvar]))
    width = 33 if release == 117 else 129
    names_at = offsets[3] + len(b"<varnames>")
    names = [data[names_at + k * width: names_at + (k + 1) * width].split(b"\0", 1)[0].decode("utf-8")
             for k in range(nvar)]
    data_at = offsets[_DATA_ENTRY] + len(b"<data>")
    if data[offsets[_DATA_ENTRY]: data_at] != b"<data>" or data[offsets[2]: types_at] != b"<variable_types>":
        raise FormatError("the .dta file map does not point at its sections")
    code_of = {name: spec[0] for name, spec in TYPES.items()}
    type_of = {spec[0]: name for name, spec in TYPES.items()}

    def set_types(out: bytearray, new_codes: list[int]) -> None:
        out[types_at: types_at + 2 * nvar] = struct.pack(endian + f"{nvar}H", *new_codes)
    return endian, names, codes, n, data_at, code_of, type_of, set_types


def _layout_114(data: bytes):
    endian = "<" if data[1] == 2 else ">"
    nvar, n = struct.unpack(endian + "H", data[4:6])[0], struct.unpack(endian + "I", data[6:10])[0]
    codes = list(data[109: 109 + nvar])
    names_at = 109 + nvar
    names = [data[names_at + k * 33: names_at + (k + 1) * 33].split(b"\0", 1)[0].decode("latin-1")
             for k in range(nvar)]
    position = 109 + nvar * (1 + 33 + 2 + 49 + 33 + 81) + 2
    while True:                                 # expansion fields, up to the terminator
        kind, length = struct.unpack(endian + "bi", data[position: position + 5])
        position += 5 + length
        if kind == 0 and length == 0:
            break
    code_of = {name: spec[1] for name, spec in TYPES.items()}
    type_of = {spec[1]: name for name, spec in TYPES.items()}

    def set_types(out: bytearray, new_codes: list[int]) -> None:
        out[109: 109 + nvar] = bytes(new_codes)
    return endian, names, codes, n, position, code_of, type_of, set_types


def _shift_map(out: bytearray, endian: str, delta: int) -> None:
    """Move the file map's offsets of the sections after the data by `delta` bytes."""
    at = out.find(b"<map>") + len(b"<map>")
    offsets = list(struct.unpack(endian + f"{_MAP_ENTRIES}Q", out[at: at + 8 * _MAP_ENTRIES]))
    offsets = [o + delta if k > _DATA_ENTRY else o for k, o in enumerate(offsets)]
    out[at: at + 8 * _MAP_ENTRIES] = struct.pack(endian + f"{_MAP_ENTRIES}Q", *offsets)
