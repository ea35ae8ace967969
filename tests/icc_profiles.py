"""ICC v2 matrix/TRC RGB profiles built byte by byte, for colour-management tests (the test
machines carry no .icc files, and Pillow builds only sRGB, LAB and XYZ itself)."""

from __future__ import annotations

import struct

#: sRGB's primaries adapted to D50 (the ICC connection space), red, green, blue.
SRGB_RED = (0.4361, 0.2225, 0.0139)
SRGB_GREEN = (0.3851, 0.7169, 0.0971)
SRGB_BLUE = (0.1431, 0.0606, 0.7141)
_D50 = (0.9642, 1.0, 0.8249)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + _s15(x) + _s15(y) + _s15(z)


def rgb_profile(
    red: tuple[float, float, float], green: tuple[float, float, float],
    blue: tuple[float, float, float], name: bytes = b"test profile",
) -> bytes:  # fmt: skip
    """A display profile with these primaries and linear tone curves."""
    desc = (b"desc\x00\x00\x00\x00" + struct.pack(">I", len(name) + 1) + name + b"\x00"
            + b"\x00" * 8 + b"\x00" * 3 + b"\x00" * 67)  # fmt: skip
    linear = b"curv\x00\x00\x00\x00" + struct.pack(">I", 0)
    tags = [(b"desc", desc), (b"wtpt", _xyz(*_D50)), (b"rXYZ", _xyz(*red)),
            (b"gXYZ", _xyz(*green)), (b"bXYZ", _xyz(*blue)), (b"rTRC", linear),
            (b"gTRC", linear), (b"bTRC", linear), (b"cprt", b"text\x00\x00\x00\x00none\x00")]  # fmt: skip
    start = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        body += b"\x00" * (-(start + len(body)) % 4)
        table += signature + struct.pack(">II", start + len(body), len(data))
        body += data
    body += b"\x00" * (-len(body) % 4)
    header = (
        struct.pack(">I", start + len(body)) + b"\x00" * 4 + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ " + b"\x00" * 12 + b"acsp" + b"\x00" * 24 + struct.pack(">I", 0)
        + _s15(_D50[0]) + _s15(_D50[1]) + _s15(_D50[2]) + b"\x00" * 48
    )  # fmt: skip
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def swapped_profile() -> bytes:
    """A profile whose first channel is sRGB's green and second sRGB's red: a pixel stored
    as (255, 0, 0) in it is pure green in sRGB, so a conversion is unmistakable."""
    return rgb_profile(SRGB_GREEN, SRGB_RED, SRGB_BLUE, b"swapped red-green")
