"""Encode a result image with its generation parameters as metadata.

PNG gets text chunks: ``parameters`` (the AUTOMATIC1111 one-line format other tools read)
and ``pixelforge`` (JSON). JPEG and WebP get the same JSON in EXIF ImageDescription plus
the parameters line in an XMP packet. Only request fields go in: never keys or secrets.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Mapping
from html import escape

from PIL import Image, PngImagePlugin

from pixelforge.domain import OutputFormat

_EXIF_DESCRIPTION = 0x010E
_EXIF_SOFTWARE = 0x0131

#: zlib level for PNG when the request names no compression: fast, as rasterizers do.
DEFAULT_PNG_LEVEL = 1
DEFAULT_LOSSY_QUALITY = 92


def parameters_line(meta: Mapping[str, str]) -> str:
    """The A1111-style ``parameters`` text: prompt, then ``key: value`` pairs."""
    prompt = meta.get("prompt", "")
    keys = ("Negative prompt", "Steps", "Seed", "Size", "Model", "Template", "Style")
    pairs = [f"{k}: {meta[k.lower()]}" for k in keys if meta.get(k.lower())]
    return f"{prompt}\n" + ", ".join(pairs)


def _xmp(meta: Mapping[str, str]) -> bytes:
    body = escape(parameters_line(meta))
    credits = escape(meta.get("credits", ""))
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:pixelforge="https://pixelforge.dev/ns/1.0/">'
        f"<pixelforge:parameters>{body}</pixelforge:parameters>"
        f"<dc:rights>{credits}</dc:rights>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def encode(
    image: Image.Image,
    fmt: OutputFormat,
    metadata: Mapping[str, str],
    compression: int | None = None,
) -> bytes:
    """Bytes of ``image`` in ``fmt`` with ``metadata`` embedded.

    ``compression`` (0-100) follows OpenAI's ``output_compression``, where 100 keeps the
    most quality: JPEG/WebP quality = compression; for PNG, zlib level = (100 - c) * 9 / 100.
    """
    buf = io.BytesIO()
    as_json = json.dumps(dict(metadata), ensure_ascii=False, sort_keys=True)
    software = f"Pixelforge ({metadata.get('model', '')})"
    if fmt is OutputFormat.PNG:
        info = PngImagePlugin.PngInfo()
        info.add_itxt("parameters", parameters_line(metadata))
        info.add_itxt("pixelforge", as_json)
        info.add_text("Software", software)
        level = DEFAULT_PNG_LEVEL if compression is None else round((100 - compression) * 9 / 100)
        image.save(buf, "PNG", pnginfo=info, compress_level=level)
        return buf.getvalue()
    exif = Image.Exif()
    exif[_EXIF_DESCRIPTION] = as_json
    exif[_EXIF_SOFTWARE] = software
    quality = DEFAULT_LOSSY_QUALITY if compression is None else max(1, compression)
    if fmt is OutputFormat.JPEG:
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        rgb.save(buf, "JPEG", quality=quality, exif=exif.tobytes(), xmp=_xmp(metadata))
    else:
        image.save(buf, "WEBP", quality=quality, exif=exif.tobytes(), xmp=_xmp(metadata))
    return buf.getvalue()


def embedded_metadata(data: bytes) -> dict[str, str] | None:
    """The generation parameters :func:`encode` embedded in ``data`` (the ``pixelforge`` JSON
    of a PNG text chunk, or of the EXIF description of a JPEG or WebP), or None when the file
    carries none or is not a PNG, JPEG or WebP. Only the header is read, not the pixels."""
    try:
        with warnings.catch_warnings():  # a huge image's header: fine, no pixels are decoded
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=("PNG", "JPEG", "WEBP")) as im:
                text = im.info.get("pixelforge") or im.getexif().get(_EXIF_DESCRIPTION)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        meta = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("prompt"), str):
        return None
    return {str(k): str(v) for k, v in meta.items()}
