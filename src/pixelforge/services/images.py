"""Ingest of user images: only PNG, JPEG or WebP by content, bounded, metadata stripped.

Every input image is decoded with an explicit format allowlist, checked for size before the
full decode, rotated by its EXIF orientation, and re-encoded from pixels, so nothing of the
original file (metadata, trailing data) reaches an engine or an output.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from pixelforge.domain import ImageInput
from pixelforge.errors import ImageTooLargeError, InvalidRequestError, UnsupportedImageError

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
MAX_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000


def load_image(
    data: bytes, param: str = "image", name: str | None = None,
    max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
) -> ImageInput:  # fmt: skip
    """Decode, check and re-encode an uploaded image."""
    label = f"{name!r}" if name else "the image"
    if len(data) > max_bytes:
        raise ImageTooLargeError(
            f"{param}: {label} is {len(data)} bytes; at most {max_bytes}",
            param=param, code="file_too_large",
        )  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            w, h = im.size
            if w * h > max_pixels:
                raise ImageTooLargeError(
                    f"{param}: {label} is {w}x{h} = {w * h} pixels; at most {max_pixels}",
                    param=param,
                )
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            im.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnsupportedImageError(
            f"{param}: {label} is not a PNG, JPEG or WebP image; allowed: png, jpeg, webp",
            param=param,
        ) from None
    except OSError as exc:
        raise InvalidRequestError(
            f"{param}: {label} could not be decoded ({exc}); allowed: png, jpeg, webp",
            param=param, code="invalid_image",
        ) from None  # fmt: skip
    upright = ImageOps.exif_transpose(im)
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    clean = upright.convert("RGBA" if has_alpha else "RGB")
    out = io.BytesIO()
    clean.save(out, "PNG", compress_level=1)
    return ImageInput(out.getvalue(), clean.width, clean.height, "png", name)
