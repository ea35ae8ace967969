"""Encode a result image with its generation parameters as metadata.

PNG gets text chunks: ``parameters`` (the AUTOMATIC1111 infotext other tools read: prompt,
``Negative prompt:`` line, then one line of ``Key: value`` pairs) and ``pixelforge`` (JSON).
JPEG and WebP get the same JSON in EXIF ImageDescription, the infotext in EXIF UserComment
(where AUTOMATIC1111 keeps it, so its readers find it) and in an XMP packet. Only request
fields go in: never keys or secrets.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Mapping
from html import escape

from PIL import Image, PngImagePlugin

from pixelforge import __version__
from pixelforge.domain import OutputFormat

_EXIF_DESCRIPTION = 0x010E
_EXIF_SOFTWARE = 0x0131
_EXIF_IFD = 0x8769
_EXIF_USER_COMMENT = 0x9286

#: zlib level for PNG when the request names no compression: fast, as rasterizers do.
DEFAULT_PNG_LEVEL = 1
DEFAULT_LOSSY_QUALITY = 92


#: Pixelforge scheduler name -> AUTOMATIC1111 (sampler, schedule type).
A1111_SAMPLERS = {
    "euler": ("Euler", ""), "euler_a": ("Euler a", ""), "dpmpp_2m": ("DPM++ 2M", ""),
    "dpmpp_2m_karras": ("DPM++ 2M", "Karras"), "ddim": ("DDIM", ""), "pndm": ("PLMS", ""),
    "heun": ("Heun", ""), "unipc": ("UniPC", ""), "lcm": ("LCM", ""),
}  # fmt: skip


def a1111_quote(value: str) -> str:
    """A value as AUTOMATIC1111 writes it: JSON-quoted when it holds ``,``, ``:`` or a
    newline (which would end the pair), as is otherwise."""
    if any(c in value for c in ",:\n"):
        return json.dumps(value, ensure_ascii=False)
    return value


def parameters_line(meta: Mapping[str, str]) -> str:
    """The AUTOMATIC1111 ``parameters`` text: the prompt, ``Negative prompt: ...`` on its own
    line, then one line of ``Key: value`` pairs (Steps, Sampler, Schedule type, CFG scale,
    Seed, Size, Model, ...). Without a prompt (prompt metadata off) only the pairs remain."""
    sampler, schedule = A1111_SAMPLERS.get(meta.get("scheduler", ""), ("", ""))
    pairs = {
        "Steps": meta.get("steps", ""), "Sampler": sampler, "Schedule type": schedule,
        "CFG scale": meta.get("guidance", ""), "Seed": meta.get("seed", ""),
        "Size": meta.get("size", ""), "Model": meta.get("model", ""),
        "Lora": meta.get("loras", ""), "Template": meta.get("template", ""),
        "Style": meta.get("style", ""), "Version": f"Pixelforge {__version__}",
    }  # fmt: skip
    line = ", ".join(f"{k}: {a1111_quote(v)}" for k, v in pairs.items() if v)
    head = meta.get("prompt", "")
    if meta.get("negative prompt"):
        head += f"\nNegative prompt: {meta['negative prompt']}"
    return f"{head}\n{line}".strip()


def user_comment(text: str) -> bytes:
    """EXIF UserComment bytes as AUTOMATIC1111 writes them (piexif's ``unicode``): the
    ``UNICODE`` prefix, then UTF-16 big-endian."""
    return b"UNICODE\x00" + text.encode("utf-16-be")


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
    *,
    icc_profile: bytes | None = None,
) -> bytes:
    """Bytes of ``image`` in ``fmt`` with ``metadata`` embedded (and ``icc_profile``, when
    given, as the colour profile).

    ``compression`` (0-100) follows OpenAI's ``output_compression``, where 100 keeps the
    most quality: JPEG/WebP quality = compression; for PNG, zlib level = (100 - c) * 9 / 100.
    """
    buf = io.BytesIO()
    as_json = json.dumps(dict(metadata), ensure_ascii=False, sort_keys=True)
    software = f"Pixelforge ({metadata.get('model', '')})"
    icc = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt is OutputFormat.PNG:
        info = PngImagePlugin.PngInfo()
        info.add_itxt("parameters", parameters_line(metadata))
        info.add_itxt("pixelforge", as_json)
        info.add_text("Software", software)
        level = DEFAULT_PNG_LEVEL if compression is None else round((100 - compression) * 9 / 100)
        image.save(buf, "PNG", pnginfo=info, compress_level=level, **icc)
        return buf.getvalue()
    exif = Image.Exif()
    # EXIF ImageDescription is ASCII: escape non-ASCII text so it survives (JSON \u escapes).
    exif[_EXIF_DESCRIPTION] = json.dumps(dict(metadata), ensure_ascii=True, sort_keys=True)
    exif[_EXIF_SOFTWARE] = software
    exif.get_ifd(_EXIF_IFD)[_EXIF_USER_COMMENT] = user_comment(parameters_line(metadata))
    quality = DEFAULT_LOSSY_QUALITY if compression is None else max(1, compression)
    if fmt is OutputFormat.JPEG:
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        rgb.save(buf, "JPEG", quality=quality, exif=exif.tobytes(), xmp=_xmp(metadata), **icc)
    else:
        image.save(buf, "WEBP", quality=quality, exif=exif.tobytes(), xmp=_xmp(metadata), **icc)
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
