"""Reading and writing Stata characteristics (``char _dta[name] text``) of a .dta file.

Neither pyreadstat nor pandas reads or writes characteristics, yet Stata keeps in them
the notes users attach (``notes``: ``_dta[note1]``, ``var[note0]`` ...) and ``mi``'s
bookkeeping, so this module reads them from any .dta file and adds them to a file
written by pyreadstat:

* formats 117-119: ``<ch>`` records in the ``<characteristics>`` section — a 4-byte
  length, the variable name and the characteristic name (33 bytes each in 117, 129 in
  118/119, null-padded) and the null-terminated contents — and the file map's offsets of
  every later section moved by the inserted length (Stata's ``dta`` manual);
* format 114: "expansion fields" after the variable labels — a type byte (1), a 4-byte
  length, 33-byte variable and characteristic names and the null-terminated contents,
  ended by a type-0, length-0 field.

Verified by reading the files back with our own independent parser and with R's
readstata13 (tests/io/test_stata_mi.py); Stata itself is not available here.
"""
from __future__ import annotations

import struct
from pathlib import Path

from ..errors import FormatError

_MAP_ENTRIES = 14
_CHARACTERISTICS_ENTRY = 8     # index of <characteristics> in the map


def _name(text: str, width: int) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) >= width:
        raise FormatError(f"characteristic name '{text}' is too long for this .dta format")
    return raw + b"\0" * (width - len(raw))


def _endian(data: bytes, release: int) -> str:
    if release == 114:
        return "<" if data[1] == 2 else ">"     # byteorder byte: 2 = LOHI
    return "<" if b"<byteorder>LSF</byteorder>" in data[:200] else ">"


def _records_xml(chars: dict[tuple[str, str], str], width: int, endian: str) -> bytes:
    out = b""
    for (var, name), text in chars.items():
        body = _name(var, width) + _name(name, width) + text.encode("utf-8") + b"\0"
        out += b"<ch>" + struct.pack(endian + "I", len(body)) + body + b"</ch>"
    return out


def _records_114(chars: dict[tuple[str, str], str], endian: str) -> bytes:
    out = b""
    for (var, name), text in chars.items():
        body = _name(var, 33) + _name(name, 33) + text.encode("utf-8") + b"\0"
        out += struct.pack(endian + "bi", 1, len(body)) + body
    return out


def read_characteristics(path: str | Path) -> dict[tuple[str, str], str]:
    """{(variable or "_dta", name): contents} of a .dta file (formats 114-119; an
    unreadable or older file gives {})."""
    data = Path(path).read_bytes()
    chars: dict[tuple[str, str], str] = {}
    try:
        if data.startswith(b"<stata_dta><header><release>"):
            release = int(data[28:31])
            endian, width = _endian(data, release), (33 if release == 117 else 129)
            at = data.find(b"<characteristics>") + len(b"<characteristics>")
            end = data.find(b"</characteristics>", at)
            while 0 < at < end and data.startswith(b"<ch>", at):
                length = struct.unpack(endian + "I", data[at + 4: at + 8])[0]
                _store(chars, data[at + 8: at + 8 + length], width)
                at += 8 + length + len(b"</ch>")
        elif data[:1] in (b"\x71", b"\x72") and len(data) > 109:     # 113, 114
            endian = _endian(data, 114)
            nvar = struct.unpack(endian + "H", data[4:6])[0]
            at = 109 + nvar * (1 + 33 + 2 + 49 + 33 + 81) + 2
            while at + 5 <= len(data):
                kind, length = struct.unpack(endian + "bi", data[at: at + 5])
                if kind == 0 and length == 0:
                    break
                _store(chars, data[at + 5: at + 5 + length], 33)
                at += 5 + length
    except (struct.error, ValueError, UnicodeDecodeError):
        return {}
    return chars


def _store(chars: dict, body: bytes, width: int) -> None:
    def text(raw: bytes) -> str:
        return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    chars[(text(body[:width]), text(body[width: 2 * width]))] = text(body[2 * width:])


def add_characteristics(path: str | Path, chars: dict[tuple[str, str], str]) -> None:
    """Add characteristics {(variable or "_dta", name): contents} to a .dta file in place."""
    if not chars:
        return
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(b"<stata_dta><header><release>"):
        release = int(data[28:31])
        endian = _endian(data, release)
        start = data.find(b"<characteristics>") + len(b"<characteristics>")
        end = data.find(b"</characteristics>", start)
        if start < len(b"<characteristics>") or end < 0:
            raise FormatError(f"file '{path}': no characteristics section")
        records = _records_xml(chars, 33 if release == 117 else 129, endian)
        map_at = data.find(b"<map>") + len(b"<map>")
        offsets = list(struct.unpack(endian + f"{_MAP_ENTRIES}Q", data[map_at: map_at + 8 * _MAP_ENTRIES]))
        offsets = [o + len(records) if k > _CHARACTERISTICS_ENTRY else o for k, o in enumerate(offsets)]
        new_map = struct.pack(endian + f"{_MAP_ENTRIES}Q", *offsets)
        data = data[:map_at] + new_map + data[map_at + 8 * _MAP_ENTRIES: end] + records + data[end:]
    elif data[0] == 114:
        endian = _endian(data, 114)
        nvar = struct.unpack(endian + "H", data[4:6])[0]
        fields = 109 + nvar * (1 + 33 + 2 + 49 + 33 + 81) + 2
        # skip any expansion fields already present, up to the terminator
        position = fields
        while True:
            kind, length = struct.unpack(endian + "bi", data[position: position + 5])
            if kind == 0 and length == 0:
                break
            position += 5 + length
        data = data[:position] + _records_114(chars, endian) + data[position:]
    else:
        raise FormatError(f"file '{path}': characteristics can be written to .dta formats "
                          "114 and 117-119 only")
    path.write_bytes(data)
