"""The malicious-file corpus (security.md rows 8-14), built in memory; nothing is stored in the
repository. Every builder returns bytes and is cached, so the slow ones (1000-frame animations,
bombs) are built once per test session."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Iterator
from functools import cache

from PIL import ExifTags, Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- raw PNG pieces


def png_chunk(cid: bytes, data: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data))


def _deflate_stream(blocks: Iterator[bytes]) -> bytes:
    comp = zlib.compressobj(9)
    return b"".join(comp.compress(b) for b in blocks) + comp.flush()


def raw_png_1bit(width: int, height: int, before_idat: bytes = b"") -> bytes:
    """A valid 1-bit grayscale PNG of all-black pixels, built row by row without ever holding
    the pixels: a 20000x20000 one is ~50 MB raw but only a few tens of KB on disk."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    rows_per_block = max(1, (1 << 20) // len(row))

    def blocks() -> Iterator[bytes]:
        left = height
        while left:
            n = min(left, rows_per_block)
            yield row * n
            left -= n

    idat = _deflate_stream(blocks())
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + before_idat
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def _zeros(total: int) -> Iterator[bytes]:
    block = b"\x00" * (1 << 20)
    left = total
    while left:
        n = min(left, len(block))
        yield block[:n]
        left -= n


# ---------------------------------------------------------------------------- bombs


@cache
def pixel_bomb_png() -> bytes:
    """20000x20000 1-bit PNG: 400 Mpx (a full decode needs >= 400 MB), tiny on disk."""
    return raw_png_1bit(20_000, 20_000)


@cache
def over_cap_png() -> bytes:
    """8000x8000 = 64 Mpx: over our 40 Mpx cap but under Pillow's own bomb threshold
    (89 Mpx), so only our per-call check can catch it."""
    return raw_png_1bit(8_000, 8_000)


@cache
def long_side_png() -> bytes:
    """16385x1: only 16385 pixels, but one side over the 16384 limit."""
    return raw_png_1bit(16_385, 1)


BOMB_INFLATED = 128 * 1024 * 1024


@cache
def _deflated_zeros(total: int = BOMB_INFLATED) -> bytes:
    return _deflate_stream(_zeros(total))


@cache
def ztxt_bomb_png() -> bytes:
    """A 1x1 PNG with a zTXt chunk that inflates to 128 MiB (~130 KB on disk)."""
    text = b"Comment\x00\x00" + _deflated_zeros()
    return raw_png_1bit(1, 1, before_idat=png_chunk(b"zTXt", text))


@cache
def itxt_bomb_png() -> bytes:
    """Same as ``ztxt_bomb_png`` through a compressed iTXt (XMP) chunk."""
    text = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + _deflated_zeros()
    return raw_png_1bit(1, 1, before_idat=png_chunk(b"iTXt", text))


@cache
def iccp_bomb_png() -> bytes:
    """Same through the iCCP (ICC profile) chunk."""
    text = b"icc\x00\x00" + _deflated_zeros()
    return raw_png_1bit(1, 1, before_idat=png_chunk(b"iCCP", text))


@cache
def text_memory_bomb_png() -> bytes:
    """70 zTXt chunks of just under 1 MiB each: every one is under MAX_TEXT_CHUNK, together
    they pass MAX_TEXT_MEMORY (64 MiB)."""
    one = _deflate_stream(_zeros((1 << 20) - 16))
    chunks = b"".join(png_chunk(b"zTXt", b"k%d\x00\x00" % i + one) for i in range(70))
    return raw_png_1bit(1, 1, before_idat=chunks)


# ---------------------------------------------------------------------------- other formats


def _save(im: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def _sample(mode: str = "RGB", size: tuple[int, int] = (16, 16)) -> Image.Image:
    im = Image.new(mode, size)
    im.putdata([(x * 16, y * 16, 128)[: len(mode)] for y in range(size[1]) for x in range(size[0])])
    return im


def eps() -> bytes:
    return _save(_sample(), "EPS")


def postscript() -> bytes:
    return b"%!PS-Adobe-3.0\n%%BoundingBox: 0 0 16 16\n/Helvetica findfont 12 scalefont\nshowpage\n"


def pdf() -> bytes:
    return _save(_sample(), "PDF")


def tiff() -> bytes:
    return _save(_sample(), "TIFF")


def jpeg2000() -> bytes:
    return _save(_sample(), "JPEG2000")


def psd() -> bytes:
    """A minimal 2x2 8-bit grayscale Photoshop file."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 1, 2, 2, 8, 1)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, resources, layers
    return header + sections + struct.pack(">H", 0) + b"\x10\x20\x30\x40"


def fits() -> bytes:
    """A minimal 2x2 8-bit FITS file (header cards padded to 2880 bytes)."""
    cards = ["SIMPLE  =                    T", "BITPIX  =                    8",
             "NAXIS   =                    2", "NAXIS1  =                    2",
             "NAXIS2  =                    2", "END"]  # fmt: skip
    header = "".join(c.ljust(80) for c in cards).ljust(2880).encode("ascii")
    return header + b"\x01\x02\x03\x04".ljust(2880, b"\x00")


def svg() -> bytes:
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16">'
        b'<image href="http://169.254.169.254/latest/meta-data/"/>'
        b"<script>alert(1)</script></svg>"
    )


def gif() -> bytes:
    return _save(_sample().convert("P"), "GIF")


def bmp() -> bytes:
    return _save(_sample(), "BMP")


def ico() -> bytes:
    return _save(_sample(), "ICO")


def ppm() -> bytes:
    return _save(_sample(), "PPM")


def _frames(n: int, size: tuple[int, int] = (32, 32)) -> list[Image.Image]:
    """``n`` distinct frames (so no encoder can merge them)."""
    return [
        Image.new("RGB", size, (i % 256, (i // 256) * 40, 255 - i % 256)) for i in range(n)
    ]  # fmt: skip


@cache
def animated_gif(n: int = 1000) -> bytes:
    first, *rest = _frames(n)
    return _save(first, "GIF", save_all=True, append_images=rest, duration=10, loop=0)


@cache
def animated_webp(n: int = 1000) -> bytes:
    first, *rest = _frames(n)
    return _save(first, "WEBP", save_all=True, append_images=rest, duration=10, lossless=True)


@cache
def apng(n: int = 50) -> bytes:
    first, *rest = _frames(n)
    return _save(first, "PNG", save_all=True, append_images=rest, duration=10)


FIRST_FRAME_RGB = (0, 0, 255)  # the colour of frame 0 of the animations above


# ---------------------------------------------------------------------------- polyglot, EXIF


def plain_png(size: tuple[int, int] = (16, 16), mode: str = "RGB") -> bytes:
    return _save(_sample(mode, size), "PNG")


@cache
def noisy(fmt: str, size: tuple[int, int] = (64, 64)) -> bytes:
    """An incompressible image, so truncating the file cuts into the pixel data."""
    data = random.Random(0).randbytes(size[0] * size[1] * 3)
    return _save(Image.frombytes("RGB", size, data), fmt)


def png_zip_polyglot() -> bytes:
    """A valid PNG with a ZIP archive (holding an HTML page) appended: both readers accept it."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("index.html", "<html><script>alert(document.cookie)</script></html>")
    return plain_png() + archive.getvalue()


# Stored as 40x20: the left 10 columns red, the rest blue. Orientation 6 means "rotate 90
# degrees clockwise to display", so upright it is 20x40 with the top 10 rows red.
EXIF_STORED_SIZE = (40, 20)


def jpeg_with_gps_exif() -> bytes:
    """JPEG 40x20 with GPS EXIF, Orientation=6, an ICC profile and XMP."""
    im = Image.new("RGB", EXIF_STORED_SIZE, (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 10, 20))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneCo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 36.0)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><secret>home address</secret></x:xmpmeta>'
    icc = b"\x00" * 128 + b"fake-icc-profile"
    return _save(im, "JPEG", exif=exif, icc_profile=icc, xmp=xmp, quality=95)


# ---------------------------------------------------------------------------- masks


def mask_png(size: tuple[int, int], *, mode: str = "RGBA", hole: bool = True) -> bytes:
    """A mask of ``size``: opaque black, with a fully transparent top-left quarter if ``hole``."""
    im = Image.new(mode, size, (0, 0, 0, 255)[: len(mode)] if mode != "P" else 0)
    if hole:
        im.paste((0, 0, 0, 0)[: len(mode)], (0, 0, size[0] // 2, size[1] // 2))
    return _save(im, "PNG")


def palette_mask_png(size: tuple[int, int]) -> bytes:
    """A palette PNG whose index 1 is fully transparent (tRNS): it has alpha without RGBA."""
    im = Image.new("P", size, 0)
    im.putpalette([0, 0, 0, 255, 255, 255])
    im.paste(1, (0, 0, size[0] // 2, size[1] // 2))
    return _save(im, "PNG", transparency=1)


def opaque_mask_png(size: tuple[int, int]) -> bytes:
    """RGBA, but every pixel is at least slightly opaque: there is nothing to edit."""
    return _save(Image.new("RGBA", size, (0, 0, 0, 1)), "PNG")


def jpeg_mask(size: tuple[int, int]) -> bytes:
    return _save(Image.new("RGB", size, (0, 0, 0)), "JPEG")


def webp_mask(size: tuple[int, int]) -> bytes:
    return _save(Image.new("RGBA", size, (0, 0, 0, 0)), "WEBP", lossless=True)


def invalid_apng() -> bytes:
    """An APNG whose acTL claims 0 frames: Pillow warns "Invalid APNG" and uses the default
    image (under ``-W error`` that warning would be an exception)."""
    data = apng(3)
    at = data.index(b"acTL") - 4
    length = struct.unpack(">I", data[at : at + 4])[0]
    body = struct.pack(">II", 0, 0)
    assert length == len(body)
    return data[:at] + png_chunk(b"acTL", body) + data[at + 12 + length :]
