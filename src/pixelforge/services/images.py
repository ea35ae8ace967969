"""Ingest of user images: only PNG, JPEG or WebP by content, bounded, metadata stripped.

Every input image is decoded with an explicit format allowlist, checked for size before the
full decode, rotated by its EXIF orientation, and re-encoded from pixels, so nothing of the
original file (metadata, trailing data) reaches an engine or an output.

Contracts (tests/services/test_ingest.py holds the malicious-file corpus for each):

* The bytes decide the format, never the name. Anything that is not PNG, JPEG or WebP by
  content (EPS, PS, PDF, TIFF, JPEG 2000, PSD, FITS, GIF, SVG, BMP, empty bytes, ...) is
  refused with 415 ``unsupported_image_format``; ``Image.open`` is always given ``formats=``, so
  no other Pillow plugin ever parses the bytes.
* More than ``max_bytes`` bytes -> 413 ``file_too_large`` before any parsing.
* Dimensions are checked from the header before the pixel data is decoded: more than
  ``max_pixels`` pixels, or one side longer than ``MAX_SIDE``, -> 413 ``image_too_large``. This
  per-call check is the control; it does not rely on ``Image.MAX_IMAGE_PIXELS``, which this
  module never sets. Pillow's own ``DecompressionBombWarning``/``Error`` (global threshold) are
  also answered with 413 ``image_too_large``.
* PNG text/ICC chunks that decompress beyond Pillow's ``PngImagePlugin.MAX_TEXT_CHUNK`` (1 MiB
  each) or ``MAX_TEXT_MEMORY`` (64 MiB in all) are refused with 413 ``image_too_large``: they
  are decompression bombs, so they get the same answer as a pixel bomb. Pillow stops inflating
  at the limit, so memory stays bounded.
* Animated WebP and PNG (APNG), and multi-picture JPEG (MPO): only the first frame is decoded
  and kept; frames are never iterated, so the frame count does not cost time.
* Truncated or corrupt data of an allowed format -> 400 ``invalid_image`` (never a 500).
  ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left alone (False).
* The result is always a fresh PNG (RGB, or RGBA when the input has transparency) encoded from
  the pixels after the EXIF orientation is applied: no EXIF, GPS, XMP, ICC, text chunks or
  trailing bytes survive.

Nothing here changes Pillow globals. The only process-wide state touched is the warnings filter,
inside ``warnings.catch_warnings`` for the duration of a decode: ``DecompressionBombWarning`` is
an error and Pillow's other warnings about the input are dropped, so the outcome does not depend
on the process's own warning filters (``-W error`` included). A concurrent thread can at worst
see that filter briefly, which is harmless.
"""

from __future__ import annotations

import contextlib
import io
import struct
import warnings
import zlib
from collections.abc import Iterator

from PIL import Image, ImageOps, UnidentifiedImageError

from pixelforge.domain import ImageInput
from pixelforge.errors import ImageTooLargeError, InvalidRequestError, UnsupportedImageError

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
MASK_FORMATS = ("PNG",)
MAX_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 16_384

# What a broken file of an allowed format can make Pillow raise while decoding. Any of these is
# the caller's bad input (400 invalid_image), not our failure.
_DECODE_ERRORS = (
    OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, IndexError, KeyError,
    TypeError,
)  # fmt: skip
# Pillow's messages for PNG text/ICC chunks that would inflate past its limits.
_TEXT_BOMB_MARKERS = ("MAX_TEXT_CHUNK", "MAX_TEXT_MEMORY")


def load_image(
    data: bytes, param: str = "image", name: str | None = None,
    max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
) -> ImageInput:  # fmt: skip
    """Decode, check and re-encode an uploaded image (see the module docstring for outcomes).

    Returns an ``ImageInput`` whose ``data`` is a fresh PNG of the first frame, upright, with
    no metadata. Raises only ``UnsupportedImageError`` (415), ``ImageTooLargeError`` (413) or
    ``InvalidRequestError`` (400, code ``invalid_image``).
    """
    label = f"{name!r}" if name else "the image"
    im = _decode(data, param, label, ALLOWED_FORMATS, max_bytes, max_pixels)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    clean = _convert(im, "RGBA" if has_alpha else "RGB", param, label)
    return ImageInput(_encode_png(clean), clean.width, clean.height, "png", name)


def decode_image(
    data: bytes, param: str = "image", max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Decode an uploaded image for reading only (nothing is stored): the same checks and
    errors as :func:`load_image`, without the re-encode."""
    return _decode(data, param, "the image", ALLOWED_FORMATS, max_bytes, max_pixels)


def load_mask(
    data: bytes, image: ImageInput, param: str = "mask", name: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> ImageInput:  # fmt: skip
    """Decode and check an edit mask for ``image``; return it as a fresh RGBA PNG.

    The rules (OpenAI's): the mask must be a PNG by content (anything else, JPEG included, is
    415 ``unsupported_image_format``), exactly the size of ``image`` after EXIF orientation
    (else 400 ``mask_dimension_mismatch`` naming both sizes), and have an alpha channel with at
    least one fully transparent pixel, alpha 0 marking the area to edit (else 400
    ``invalid_mask``). The pixel cap is the image's own pixel count, checked before decoding.
    """
    label = f"{name!r}" if name else "the mask"
    im = _decode(data, param, label, MASK_FORMATS, max_bytes, image.width * image.height)
    if im.size != (image.width, image.height):
        raise InvalidRequestError(
            f"{param}: {label} is {im.width}x{im.height}; it must be the same size as the image,"
            f" {image.width}x{image.height}",
            param=param, code="mask_dimension_mismatch",
        )  # fmt: skip
    if not (im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info):
        raise InvalidRequestError(
            f"{param}: {label} has no alpha channel (mode {im.mode}); a mask must be a PNG with"
            " an alpha channel where fully transparent pixels (alpha 0) mark the area to edit",
            param=param, code="invalid_mask",
        )  # fmt: skip
    clean = _convert(im, "RGBA", param, label)
    lowest_alpha = clean.getchannel("A").getextrema()[0]
    if lowest_alpha != 0:
        raise InvalidRequestError(
            f"{param}: {label} has no fully transparent pixel (lowest alpha {lowest_alpha});"
            " fully transparent pixels (alpha 0) mark the area to edit, so at least one is needed",
            param=param, code="invalid_mask",
        )  # fmt: skip
    return ImageInput(_encode_png(clean), clean.width, clean.height, "png", name)


def _decode(
    data: bytes, param: str, label: str, formats: tuple[str, ...], max_bytes: int, max_pixels: int
) -> Image.Image:
    """Open ``data`` as one of ``formats``, check its size from the header, decode the first
    frame and return it upright (EXIF orientation applied). Raises only our 415/413/400."""
    allowed = ", ".join(f.lower() for f in formats)
    kinds = " or ".join(f.replace("WEBP", "WebP") for f in formats)
    if len(data) > max_bytes:
        raise ImageTooLargeError(
            f"{param}: {label} is {len(data)} bytes; at most {max_bytes}",
            param=param, code="file_too_large",
        )  # fmt: skip
    try:
        with _pillow_warnings():
            im = Image.open(io.BytesIO(data), formats=formats)
            _check_size(im.size, param, label, max_pixels)
            im.load()  # the current frame only: frame 0 right after open
            return ImageOps.exif_transpose(im)
    except UnidentifiedImageError:
        raise UnsupportedImageError(
            f"{param}: {label} is not a {kinds} image by content; allowed: {allowed}",
            param=param,
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(
            f"{param}: {label} is too large to decode ({exc}); at most {max_pixels} pixels",
            param=param,
        ) from None
    except _DECODE_ERRORS as exc:
        if isinstance(exc, ValueError) and any(m in str(exc) for m in _TEXT_BOMB_MARKERS):
            raise ImageTooLargeError(
                f"{param}: {label} has a metadata chunk that decompresses past the limit ({exc})",
                param=param,
            ) from None
        raise InvalidRequestError(
            f"{param}: {label} could not be decoded ({type(exc).__name__}: {exc});"
            f" expected a complete {kinds} file",
            param=param, code="invalid_image",
        ) from None  # fmt: skip


@contextlib.contextmanager
def _pillow_warnings() -> Iterator[None]:
    """Turn ``DecompressionBombWarning`` into an error and drop Pillow's other warnings about
    the input ("Invalid APNG", "Corrupt EXIF data", ...): attacker-made noise that would flood
    the logs, and that a process running with ``-W error`` would see as unmapped exceptions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _check_size(size: tuple[int, int], param: str, label: str, max_pixels: int) -> None:
    """Refuse, from the header alone, more than ``max_pixels`` pixels or a side > MAX_SIDE."""
    w, h = size
    if w * h > max_pixels or max(w, h) > MAX_SIDE:
        raise ImageTooLargeError(
            f"{param}: {label} is {w}x{h} = {w * h} pixels; at most {max_pixels} pixels"
            f" and {MAX_SIDE} per side",
            param=param,
        )


def _convert(im: Image.Image, mode: str, param: str, label: str) -> Image.Image:
    """Convert to ``mode`` with no metadata left in ``info``; odd modes Pillow cannot convert
    (a 400, the input's fault) are reported as ``invalid_image``."""
    try:
        with _pillow_warnings():
            clean = im.convert(mode)
    except (ValueError, OSError) as exc:
        raise InvalidRequestError(
            f"{param}: {label} has pixel mode {im.mode}, which cannot be converted to {mode}"
            f" ({exc})",
            param=param, code="invalid_image",
        ) from None  # fmt: skip
    clean.info = {}  # convert() copies info (ICC, EXIF, text); the PNG encoder would reuse ICC
    return clean


def _encode_png(im: Image.Image) -> bytes:
    """Encode pixels only: no ICC, EXIF, text chunks or anything else from the source."""
    out = io.BytesIO()
    im.save(out, "PNG", compress_level=1, icc_profile=None)
    return out.getvalue()
