"""An independent reader of the characteristics of a Stata .dta file (Stata's dta manual,
formats 114 and 117-119), the oracle the tests of our writer compare with."""
from __future__ import annotations

import struct


def parse_characteristics(path) -> dict:
    """Independent reader of .dta characteristics (Stata's dta manual), formats 114/117-119."""
    data = open(path, "rb").read()
    chars = {}
    if data.startswith(b"<stata_dta>"):
        release = int(data[28:31])
        width = 33 if release == 117 else 129
        little = b"<byteorder>LSF</byteorder>" in data[:200]
        section = data[data.index(b"<characteristics>") + 17: data.index(b"</characteristics>")]
        while section:
            assert section.startswith(b"<ch>")
            length = struct.unpack(("<" if little else ">") + "I", section[4:8])[0]
            body = section[8: 8 + length]
            var, name = (body[:width].split(b"\0")[0].decode(), body[width:2 * width].split(b"\0")[0].decode())
            chars[(var, name)] = body[2 * width:].rstrip(b"\0").decode()
            assert section[8 + length: 13 + length] == b"</ch>"
            section = section[13 + length:]
        # the map must point at the sections that follow
        map_at = data.index(b"<map>") + 5
        offsets = struct.unpack(("<" if little else ">") + "14Q", data[map_at: map_at + 112])
        assert data[offsets[9]: offsets[9] + 6] == b"<data>"
        assert data[offsets[10]: offsets[10] + 7] == b"<strls>"
        assert data[offsets[11]: offsets[11] + 14] == b"<value_labels>"
        assert offsets[13] == len(data)
    else:
        little = data[1] == 2
        nvar = struct.unpack(("<" if little else ">") + "H", data[4:6])[0]
        pos = 109 + nvar * 199 + 2
        while True:
            kind, length = struct.unpack(("<" if little else ">") + "bi", data[pos: pos + 5])
            if kind == 0:
                break
            body = data[pos + 5: pos + 5 + length]
            chars[(body[:33].split(b"\0")[0].decode(), body[33:66].split(b"\0")[0].decode())] = \
                body[66:].rstrip(b"\0").decode()
            pos += 5 + length
    return chars
