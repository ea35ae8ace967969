"""Generation settings in image files: read them back (ours and other tools'), and the JSON
sidecar written next to outputs.

:func:`inspect` reads an image's metadata without decoding its pixels (PNG chunks are walked
by hand, IDAT skipped; JPEG and WebP headers only) and returns an :class:`ImportedSettings`:
one normalized record (source, prompt, negative prompt, seed, steps, guidance, sampler,
size, model, raw) plus a ``request`` shaped like ``POST /api/jobs`` so it can be run again.
Sources, first found wins: Pixelforge's own ``pixelforge`` JSON, InvokeAI, ComfyUI, NovelAI,
AUTOMATIC1111 ``parameters`` (PNG text, or EXIF UserComment in JPEG/WebP). Malformed
metadata gives a partial record with ``warnings``, never an error; only a file that is not
a PNG, JPEG or WebP (415) or is over the size limit (413) is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from pydantic import ValidationError

from pixelforge import __version__
from pixelforge.domain import parse_size
from pixelforge.domain.request import MAX_SEED, EngineOptions
from pixelforge.errors import ImageTooLargeError, InvalidRequestError, UnsupportedImageError
from pixelforge.postprocess.encode import parameters_line
from pixelforge.postprocess.provenance import sniff_format
from pixelforge.services import metadata_tools as tools
from pixelforge.services.generate import TURN_KEY, EncodedImage
from pixelforge.services.images import MAX_BYTES

#: Largest text one PNG chunk may inflate to, and all of them together (Pillow's limits).
MAX_CHUNK_TEXT = 1024 * 1024
MAX_TEXT_TOTAL = 64 * 1024 * 1024
#: Most text chunks read, and chunks walked, in one PNG (a real file has a handful of the one
#: and at most thousands of the other); past them the rest of the file is left unread.
MAX_TEXT_CHUNKS = 256
MAX_CHUNKS = 100_000
#: How much of each raw text field the record echoes back, and of all of them.
MAX_RAW_CHARS = 256 * 1024
MAX_RAW_TOTAL = 2 * 1024 * 1024
_EXIF_DESCRIPTION, _EXIF_SOFTWARE, _EXIF_IFD, _USER_COMMENT = 0x010E, 0x0131, 0x8769, 0x9286
_XMP_PARAMETERS = re.compile(r"<pixelforge:parameters>(.*?)</pixelforge:parameters>", re.S)

#: Metadata keys that never leave the server, whatever their value: they name secrets.
_SECRET_KEY = re.compile(
    r"api[_-]?key|secret|passw|authoriz|cookie|private[_-]?key|access[_-]?token|bearer|"
    r"credential|database[_-]?url", re.I,
)  # fmt: skip
SIDECAR_VERSION = 1

Served = Mapping[str, "type[EngineOptions] | None"]


@dataclass(frozen=True, slots=True)
class ImportedSettings:
    """An image's generation settings, whichever tool wrote them."""

    source: str
    format: str
    width: int
    height: int
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    sampler: str | None = None
    scheduler: str | None = None
    size: str | None = None
    model: str | None = None
    raw: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    request: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": "image.metadata", "source": self.source, "format": self.format,
            "width": self.width, "height": self.height, "prompt": self.prompt,
            "negative_prompt": self.negative_prompt, "seed": self.seed, "steps": self.steps,
            "guidance": self.guidance, "sampler": self.sampler, "size": self.size,
            "model": self.model, "raw": self.raw, "warnings": list(self.warnings),
            "request": self.request,
        }  # fmt: skip


# -- reading the text fields --------------------------------------------------------------


@dataclass
class _Fields:
    format: str
    width: int = 0
    height: int = 0
    text: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _inflate(data: bytes, name: str, out: _Fields) -> str | None:
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(data, MAX_CHUNK_TEXT)
    except zlib.error as exc:
        out.warnings.append(f"{name}: compressed text is corrupt ({exc}); skipped")
        return None
    if inflater.unconsumed_tail:
        out.warnings.append(f"{name}: text inflates past {MAX_CHUNK_TEXT} bytes; skipped")
        return None
    return text.decode("utf-8", "replace")


def _text_chunk(kind: bytes, body: bytes, out: _Fields) -> tuple[str, str | None]:
    keyword, _, rest = body.partition(b"\x00")
    name = keyword.decode("latin-1")
    if kind == b"tEXt":
        return name, rest.decode("latin-1")
    if kind == b"zTXt":
        return name, _inflate(rest[1:], name, out)
    compressed = rest[:1] == b"\x01"  # iTXt: flag, method, language\0, translated\0, text
    parts = rest[2:].split(b"\x00", 2)
    if len(parts) < 3:
        out.warnings.append(f"{name}: malformed iTXt chunk; skipped")
        return name, None
    if compressed:
        return name, _inflate(parts[2], name, out)
    return name, parts[2].decode("utf-8", "replace")


def _png_fields(data: bytes) -> _Fields:
    """Text chunks (before and after the pixels) and the size, without inflating IDAT."""
    out = _Fields("png")
    pos, total, chunks = 8, 0, 0
    while pos + 8 <= len(data):
        chunks += 1
        if chunks > MAX_CHUNKS or len(out.text) >= MAX_TEXT_CHUNKS:
            out.warnings.append("the file has too many chunks; the rest is not read")
            break
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            out.warnings.append(f"the file ends inside a {kind.decode('latin-1')!r} chunk")
            break
        pos += 12 + length
        if kind == b"IHDR" and length >= 8:
            out.width, out.height = struct.unpack(">II", body[:8])
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            name, text = _text_chunk(kind, body, out)
            total += len(text or "")
            if total > MAX_TEXT_TOTAL:
                out.warnings.append(f"text chunks pass {MAX_TEXT_TOTAL} bytes; the rest skipped")
                break
            if text is not None and name not in out.text:
                out.text[name] = text
        elif kind == b"eXIf":
            _exif_fields(Image.Exif(), body, out)
        elif kind == b"IEND":
            break
    if not out.width:
        raise InvalidRequestError("image: the PNG has no readable header (IHDR); expected a "
                                  "complete PNG file", param="image", code="invalid_image")  # fmt: skip
    return out


def decode_user_comment(raw: bytes | str) -> str:
    """EXIF UserComment text: 8-byte charset prefix (``ASCII``, ``UNICODE``, ``JIS``)."""
    if isinstance(raw, str):
        return raw
    prefix, body = raw[:8], raw[8:]
    if prefix == b"UNICODE\x00":
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
            return body.decode("utf-16", "replace")
        even_zeros = body[0::2].count(0)
        odd_zeros = body[1::2].count(0)
        return body.decode("utf-16-be" if even_zeros >= odd_zeros else "utf-16-le", "replace")
    if prefix == b"JIS\x00\x00\x00\x00\x00":
        return body.decode("shift_jis", "replace")
    if prefix in (b"ASCII\x00\x00\x00", b"\x00" * 8):
        return body.decode("utf-8", "replace").rstrip("\x00")
    return raw.decode("utf-8", "replace").rstrip("\x00")


def _exif_fields(exif: Image.Exif, raw: bytes, out: _Fields) -> None:
    try:
        exif.load(raw if raw.startswith(b"Exif") else b"Exif\x00\x00" + raw)
        description = exif.get(_EXIF_DESCRIPTION)
        software = exif.get(_EXIF_SOFTWARE)
        comment = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT)
    except Exception as exc:  # anyone's EXIF: any failure is their data
        out.warnings.append(f"EXIF: unreadable ({type(exc).__name__}); skipped")
        return
    for name, value in (("ImageDescription", description), ("Software", software)):
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            out.text.setdefault(name, value.rstrip("\x00"))
    if isinstance(comment, bytes | str) and comment:
        out.text.setdefault("UserComment", decode_user_comment(comment))


def _header_fields(data: bytes, fmt: str) -> _Fields:
    """JPEG/WebP: EXIF, XMP and comment from the header; the pixels are not decoded."""
    out = _Fields(fmt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=(fmt.upper(),)) as im:
                out.width, out.height = im.size
                info = dict(im.info)
    except Exception as exc:  # a broken header of an allowed format
        raise InvalidRequestError(
            f"image: the {fmt.upper()} header could not be read ({type(exc).__name__}); "
            f"expected a complete {fmt.upper()} file", param="image", code="invalid_image",
        ) from None  # fmt: skip
    if isinstance(info.get("exif"), bytes):
        _exif_fields(Image.Exif(), info["exif"], out)
    xmp = info.get("xmp")
    if isinstance(xmp, bytes):
        xmp = xmp.decode("utf-8", "replace")
    if isinstance(xmp, str) and xmp:
        out.text["XMP"] = xmp
    comment = info.get("comment")
    if isinstance(comment, bytes):
        comment = comment.decode("utf-8", "replace")
    if isinstance(comment, str) and comment.strip():
        out.text.setdefault("Comment", comment)
    return out


def read_fields(data: bytes, max_bytes: int = MAX_BYTES) -> _Fields:
    """The image's metadata text fields by name (PNG chunk keywords; for JPEG/WebP:
    ``ImageDescription``, ``Software``, ``UserComment``, ``XMP``, ``Comment``)."""
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"image: the file is {len(data)} bytes; at most {max_bytes}",
                                 param="image", code="file_too_large")  # fmt: skip
    fmt = sniff_format(data)
    if not fmt:
        raise UnsupportedImageError("image: not a PNG, JPEG or WebP image by content; "
                                    "allowed: png, jpeg, webp", param="image")  # fmt: skip
    return _png_fields(data) if fmt == "png" else _header_fields(data, fmt)


# -- interpreting them --------------------------------------------------------------------


def _pixelforge(fields: Mapping[str, str]) -> tools.Found | None:
    """Pixelforge's own JSON (PNG ``pixelforge`` chunk, or the EXIF description)."""
    text = fields.get("pixelforge")
    if text is None:
        desc = fields.get("ImageDescription", "")
        if not (desc.lstrip().startswith("{") and "Pixelforge" in fields.get("Software", "")):
            return None
        text = desc
    found = tools.Found("pixelforge")
    meta = tools.load_json(text, "pixelforge", found)
    if not isinstance(meta, dict):
        if meta is not None:
            found.warnings.append("pixelforge: not a JSON object")
        return found
    return from_meta({str(k): str(v) for k, v in meta.items()}, found)


def from_meta(meta: Mapping[str, str], found: tools.Found | None = None) -> tools.Found:
    """A record from Pixelforge's metadata fields (``services.generate.metadata_for``)."""
    found = found or tools.Found("pixelforge")
    found.prompt = tools.as_text(meta.get("prompt"))
    found.negative_prompt = tools.as_text(meta.get("negative prompt"))
    found.seed = tools.as_int(meta.get("seed"))
    found.steps = tools.as_int(meta.get("steps"))
    found.guidance = tools.as_float(meta.get("guidance"))
    found.sampler = tools.as_text(meta.get("scheduler"))
    found.size = tools.as_text(meta.get("size"))
    found.model = tools.as_text(meta.get("model"))
    found.extra = {k: meta[k] for k in ("mode", "quality", "aspect_ratio") if meta.get(k)}
    return found


def _a1111_text(fields: Mapping[str, str]) -> tuple[str, str] | None:
    for name in ("parameters", "UserComment", "Comment"):
        text = fields.get(name)
        if text and text.strip() and not text.lstrip().startswith("{"):
            return name, text
    xmp = _XMP_PARAMETERS.search(fields.get("XMP", ""))
    if xmp:
        from html import unescape

        return "XMP", unescape(xmp.group(1))
    return None


def interpret(fields: Mapping[str, str]) -> tools.Found:
    """The record of whichever tool wrote ``fields`` (see the module docstring's order)."""
    ours = _pixelforge(fields)
    if ours is not None:
        return ours
    if "invokeai_metadata" in fields:
        return tools.parse_invokeai(fields["invokeai_metadata"])
    if "sd-metadata" in fields:
        return tools.parse_invokeai(fields["sd-metadata"], "sd-metadata")
    if "prompt" in fields and tools.is_comfy_graph(fields["prompt"]):
        found = tools.parse_comfy_prompt(fields["prompt"])
        if found.prompt is None and found.seed is None and "workflow" in fields:
            return tools.parse_comfy_workflow(fields["workflow"])
        return found
    if "workflow" in fields:
        return tools.parse_comfy_workflow(fields["workflow"])
    if "Comment" in fields and tools.is_novelai(fields):
        return tools.parse_novelai(fields["Comment"], fields.get("Source"),
                                   fields.get("Description"))  # fmt: skip
    a1111 = _a1111_text(fields)
    if a1111 is not None:
        found = tools.parse_a1111(a1111[1])
        found.warnings = [w.replace("parameters:", f"{a1111[0]}:", 1) for w in found.warnings]
        return found
    return tools.Found("none")


def _model_id(model: str | None, served: Served) -> str | None:
    """The served model a tool's model name means: the same id, or its file stem."""
    if not model:
        return None
    lowered = {m.lower(): m for m in served}
    stem = re.split(r"[\\/]", model)[-1]
    stem = re.sub(r"\.(safetensors|ckpt|pt|pth|bin|gguf)$", "", stem, flags=re.I)
    stem = re.sub(r"\s*\[[0-9a-f]{6,}\]$", "", stem, flags=re.I)  # A1111's "name [hash]"
    return lowered.get(model.lower()) or lowered.get(stem.lower())


def request_fields(found: tools.Found, fmt: str, served: Served | None) -> tuple[dict[str, Any],
                                                                                 list[str]]:  # fmt: skip
    """``POST /api/jobs`` fields for the record, and warnings for what had to be left out.

    ``served`` maps this server's model ids to their options type; with it the model (and
    ``options``) are sent only when served (else the server's default model runs), without
    it (a sidecar) the record's model is taken as a Pixelforge id.
    """
    notes: list[str] = []
    out: dict[str, Any] = {}
    if found.prompt:
        out["prompt"] = found.prompt
    if found.negative_prompt:
        out["negative_prompt"] = found.negative_prompt
    if found.seed is not None:
        if 0 <= found.seed <= MAX_SEED:
            out["seed"] = found.seed
        else:
            notes.append(f"seed {found.seed} is outside 0 to {MAX_SEED}; a random one is used")
    if found.size:
        try:
            out["size"] = str(parse_size(found.size))
        except InvalidRequestError as exc:
            notes.append(f"size {found.size}: {exc.message.partition('; ')[2]}; left out")
    model = found.model if served is None else _model_id(found.model, served)
    if found.model and model is None:
        notes.append(f"model {found.model!r} is not served here; choose one (GET /v1/models)")
    if model:
        out["model"] = model
    out["output_format"] = fmt
    options = _options(found, notes)
    if options and served is not None:
        options = _fit(options, served.get(model) if model else None, model, notes)
    if options:
        out["options"] = options
    return out, notes


def _options(found: tools.Found, notes: list[str]) -> dict[str, Any]:
    """Steps, guidance and scheduler (another tool's sampler mapped to ours)."""
    scheduler = found.sampler
    if found.source != "pixelforge":
        scheduler = tools.pixelforge_scheduler(found.sampler, found.scheduler)
        if found.sampler and scheduler is None:
            notes.append(f"sampler {found.sampler!r} has no Pixelforge scheduler; left out")
    values = {"steps": found.steps, "guidance": found.guidance, "scheduler": scheduler}
    return {k: v for k, v in values.items() if v is not None and v != "default"}


def _fit(options: dict[str, Any], kind: type[EngineOptions] | None, model: str | None,
         notes: list[str]) -> dict[str, Any]:  # fmt: skip
    """The options ``kind`` (the model's options type) takes, each valid; others noted."""
    if kind is None:
        if model:
            notes.append(f"model {model!r} takes no options; steps, guidance and sampler left out")
        return {}
    kept = {k: v for k, v in options.items() if k in kind.model_fields}
    while kept:
        try:
            kind.model_validate(kept)
            return kept
        except ValidationError as exc:
            first = exc.errors()[0]
            bad = str(first["loc"][0]) if first["loc"] else ""
            if bad not in kept:
                notes.append(f"options: {first['msg']}; left out")
                return {}
            notes.append(f"options.{bad} {kept.pop(bad)!r}: {first['msg']}; left out")
    return kept


def inspect(data: bytes, served: Served | None = None, max_bytes: int = MAX_BYTES
            ) -> ImportedSettings:  # fmt: skip
    """Read the generation settings an image carries (see the module docstring).

    ``served`` maps this server's model ids to their options type: the record's model goes
    into ``request`` only when served (without ``served``, never)."""
    fields = read_fields(data, max_bytes)
    found = interpret(fields.text)
    request, notes = request_fields(found, fields.format, served if served is not None else {})
    raw, budget = {}, MAX_RAW_TOTAL
    for name, text in fields.text.items():
        keep = min(MAX_RAW_CHARS, budget)
        if len(text) > keep:
            notes.append(f"raw.{name}: {len(text)} characters, cut to {keep}")
            text = text[:keep]
        raw[name] = text
        budget -= len(text)
    return ImportedSettings(
        found.source, fields.format, fields.width, fields.height, found.prompt,
        found.negative_prompt, found.seed, found.steps, found.guidance,
        _sampler_label(found), found.scheduler, found.size, found.model, raw,
        tuple(fields.warnings + found.warnings + notes), request,
    )  # fmt: skip


def _sampler_label(found: tools.Found) -> str | None:
    if found.sampler and found.scheduler and found.scheduler.lower() not in ("normal", "native"):
        return f"{found.sampler} {found.scheduler}"
    return found.sampler


def file_meta(data: bytes, max_bytes: int = MAX_BYTES) -> dict[str, str]:
    """The metadata an export of ``data`` carries on, in Pixelforge's field names: its own
    Pixelforge JSON as is, or another tool's settings (empty when it has none)."""
    fields = read_fields(data, max_bytes)
    found = interpret(fields.text)
    if found.source == "pixelforge":
        text = fields.text.get("pixelforge") or fields.text.get("ImageDescription", "")
        try:
            meta = json.loads(text)
        except ValueError:
            meta = None
        if isinstance(meta, dict):
            return {str(k): str(v) for k, v in meta.items() if v is not None}
    scheduler = tools.pixelforge_scheduler(found.sampler, found.scheduler)
    values = {
        "prompt": found.prompt, "negative prompt": found.negative_prompt, "seed": found.seed,
        "steps": found.steps, "guidance": found.guidance, "scheduler": scheduler,
        "size": found.size, "model": found.model,
    }  # fmt: skip
    return {k: f"{v:g}" if isinstance(v, float) else str(v) for k, v in values.items()
            if v is not None}  # fmt: skip


# -- the JSON sidecar ---------------------------------------------------------------------


def public_meta(meta: Mapping[str, Any], prompt_metadata: bool = True) -> dict[str, str]:
    """The metadata fields that may leave the server: no conversation state, nothing named
    like a secret, and no prompt text (any ``*prompt*`` field) when prompt metadata is off."""
    out: dict[str, str] = {}
    for key, value in meta.items():
        if key == TURN_KEY or _SECRET_KEY.search(key):
            continue
        if not prompt_metadata and "prompt" in key.lower():
            continue
        out[str(key)] = str(value)
    return out


def sidecar(
    meta: Mapping[str, Any], data: bytes, file_name: str, *, prompt_metadata: bool,
    width: int, height: int, watermark_id: int | None = None,
    asset: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The JSON sidecar of an image file: what made it (the record, the A1111 line, every
    public setting, a ``POST /api/jobs`` request to run it again) and the file's digest.
    The CLI writes it as ``<name>.json``; ``GET /api/assets/{id}/metadata`` serves it with
    ``asset`` (id, job, parent, created, cost) filled in."""
    public = public_meta(meta, prompt_metadata)
    found = from_meta(public)
    request, _ = request_fields(found, sniff_format(data) or "png", None)
    out: dict[str, Any] = {
        "object": "image.sidecar", "version": SIDECAR_VERSION,
        "generator": f"Pixelforge {__version__}", "file": file_name,
        "format": sniff_format(data) or None, "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "width": width, "height": height,
        "model": found.model, "seed": found.seed, "size": found.size,
    }  # fmt: skip
    if prompt_metadata:
        out["prompt"], out["negative_prompt"] = found.prompt, found.negative_prompt
    out |= {"parameters": parameters_line(public), "settings": public, "request": request,
            "watermark_id": watermark_id, "asset": dict(asset) if asset is not None else None}  # fmt: skip
    return out


def sidecar_json(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def output_sidecar(image: EncodedImage, file_name: str, *, prompt_metadata: bool) -> bytes:
    """The sidecar of a CLI output (``services.generate.write_outputs``)."""
    return sidecar_json(sidecar(
        image.metadata, image.data, file_name, prompt_metadata=prompt_metadata,
        width=image.width, height=image.height, watermark_id=image.watermark_id,
    ))  # fmt: skip
