"""Export: an image re-encoded as PNG, JPEG or WebP, and a gallery as a streamed zip.

An export is made from the pixels: converted to sRGB (from the file's embedded ICC profile,
when it has one) and tagged sRGB; alpha kept for PNG/WebP when the source has it and the
background is ``auto`` or ``transparent``; composited on the background colour otherwise
(JPEG has no alpha: ``auto`` means white). The metadata goes with it (without prompt text
when prompt metadata is off), and with provenance on the export is signed again with the
source file as its ``parentOf`` ingredient, so the C2PA chain runs through the re-encode.

A gallery export streams a zip (one image at a time, so memory stays bounded): each image,
its JSON sidecar, and ``manifest.json`` last. Images go in as stored, unless prompt
metadata is off and the stored file still carries prompt text (made while it was on): then
it is exported again in its own format without it (so is a plain download of such a file).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from PIL import Image, ImageCms
from sqlalchemy import select

from pixelforge.domain import OutputFormat
from pixelforge.errors import InvalidRequestError, NotFoundError, PixelforgeError
from pixelforge.postprocess.chain import OutputChain
from pixelforge.postprocess.encode import encode
from pixelforge.postprocess.provenance import Ingredient, sniff_format
from pixelforge.services import metadata
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.services.assets import AssetService
from pixelforge.services.images import MAX_PIXELS, decode_image
from pixelforge.store.models import Asset

DEFAULT_QUALITY = 92
#: Quality used when a stored file must be re-encoded for a gallery export (privacy).
REENCODE_QUALITY = 95
MAX_EXPORT_IDS = 500
MAX_EXPORT_ASSETS = 10_000
BACKGROUNDS = ("auto", "transparent", "#rrggbb")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


@dataclass(frozen=True, slots=True)
class ExportOptions:
    format: OutputFormat | None = None
    """None: the source's own format."""
    quality: int = DEFAULT_QUALITY
    background: str = "auto"
    """``auto``, ``transparent`` or ``#rrggbb``."""


def export_options(
    format: str | None = None, quality: str | int | None = None, background: str | None = None
) -> ExportOptions:
    """Check export parameters; errors name the parameter, the value and what is allowed."""
    fmt = None
    if format is not None:
        name = format.strip().lower()
        try:
            fmt = OutputFormat("jpeg" if name == "jpg" else name)
        except ValueError:
            raise InvalidRequestError(
                f"format: {format!r} is not allowed; allowed: png, jpeg, webp", param="format"
            ) from None
    level = DEFAULT_QUALITY
    if quality is not None:
        text = str(quality).strip()
        if not text.isdigit() or not 1 <= int(text) <= 100:
            raise InvalidRequestError(
                f"quality: {quality!r} is not allowed; allowed: a whole number from 1 to 100",
                param="quality",
            )
        level = int(text)
    fill = (background or "auto").strip().lower()
    if fill not in ("auto", "transparent") and not _HEX.fullmatch(fill):
        raise InvalidRequestError(
            f"background: {background!r} is not allowed; allowed: auto, transparent or a "
            "colour as #rrggbb (e.g. #ffffff)", param="background",
        )  # fmt: skip
    if fill == "transparent" and fmt is OutputFormat.JPEG:
        raise InvalidRequestError(
            "background: 'transparent' needs a format with alpha; allowed with transparent: "
            "png, webp (JPEG takes auto or #rrggbb)", param="background",
        )  # fmt: skip
    return ExportOptions(fmt, level, fill)


def srgb_profile() -> bytes:
    """The ICC profile exports are tagged with (LittleCMS's built-in sRGB)."""
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def to_srgb(image: Image.Image) -> Image.Image:
    """``image`` as RGB or RGBA in sRGB: converted from its ICC profile when it carries one
    LittleCMS can use (a profile it cannot read, or of another colour space than the
    pixels, is ignored and the pixels taken as sRGB)."""
    alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    icc = image.info.get("icc_profile")
    if image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        image = image.convert("RGBA" if alpha else "RGB")
    if isinstance(icc, bytes) and icc:
        matte = image.getchannel("A") if image.mode == "RGBA" else None
        base = image.convert("RGB") if image.mode == "RGBA" else image
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            converted = ImageCms.profileToProfile(base, source, target, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None
        if converted is not None:
            if matte is not None:
                converted.putalpha(matte)
            return converted
    return image.convert("RGBA" if alpha or image.mode == "RGBA" else "RGB")


def flatten(image: Image.Image, fmt: OutputFormat, background: str) -> Image.Image:
    """Alpha kept (PNG/WebP, background auto or transparent) or composited on the colour."""
    if image.mode != "RGBA":
        return image
    if fmt is not OutputFormat.JPEG and background in ("auto", "transparent"):
        return image
    colour = "#ffffff" if background in ("auto", "transparent") else background
    ground = Image.new("RGBA", image.size, colour)
    return Image.alpha_composite(ground, image).convert("RGB")


@dataclass(frozen=True, slots=True)
class Exported:
    data: bytes
    format: OutputFormat
    file_name: str


def export_bytes(
    source: bytes, options: ExportOptions, meta: Mapping[str, Any], chain: OutputChain, *,
    model: str, title: str, source_name: str, generation: Mapping[str, Any] | None = None,
    max_pixels: int = MAX_PIXELS,
) -> tuple[bytes, OutputFormat]:  # fmt: skip
    """``source`` (a PNG, JPEG or WebP file) exported (see the module docstring), signed
    when ``chain`` has credentials: ``title`` names the export, ``source_name`` the source
    (its ``parentOf`` ingredient)."""
    image = decode_image(source, "image", max(len(source), 1), max_pixels)
    fmt = options.format or OutputFormat(sniff_format(source) or "png")
    picture = flatten(to_srgb(image), fmt, options.background)
    fields = metadata.public_meta(meta, chain.prompt_metadata)
    quality = None if fmt is OutputFormat.PNG else options.quality
    data = encode(picture, fmt, fields, quality, icc_profile=srgb_profile())
    if chain.credentials is None:
        return data, fmt
    parent = Ingredient(source, sniff_format(source), source_name, "parentOf")
    extra = {k: v for k, v in (generation or {}).items() if v is not None}
    if fields.get("seed"):
        extra.setdefault("seed", fields["seed"])
    signed = chain.credentials.sign(data, fmt.value, model=model, title=title,
                                    ingredients=[parent], generation=extra,
                                    transcoded=True)  # fmt: skip
    return signed, fmt


def carries_prompt(data: bytes, prompt: str) -> bool:
    """Whether a file holds prompt text: a prompt in its metadata, a ``*prompt*`` field in
    its Pixelforge JSON, or the prompt's own bytes anywhere in it."""
    try:
        fields = metadata.read_fields(data, max(len(data), 1))
    except PixelforgeError:
        return True  # unreadable: not known to be clean
    found = metadata.interpret(fields.text)
    if found.prompt or found.negative_prompt:
        return True
    for name in ("pixelforge", "ImageDescription"):
        text = fields.text.get(name, "")
        if text.lstrip().startswith("{") and re.search(r'"[^"]*prompt[^"]*"\s*:', text, re.I):
            return True
    if len(prompt.strip()) < 4:
        return False
    needles = (prompt.encode(), escape(prompt).encode(), prompt.encode("utf-16-be"))
    return any(n in data for n in needles)


@dataclass(frozen=True, slots=True)
class GalleryFilter:
    model: str | None = None
    since: float | None = None
    until: float | None = None


def parse_time(value: float | int | str | None, param: str) -> float | None:
    """Epoch seconds from a number, or an ISO 8601 date or time (UTC unless it says)."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(
            f"{param}: {value!r} is not a time; write YYYY-MM-DD, an ISO 8601 time "
            "(2025-01-31T18:00:00Z) or epoch seconds", param=param,
        ) from None  # fmt: skip
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


class ExportService:
    """Exports of one user's assets (others' are 404, as everywhere)."""

    def __init__(self, assets: AssetService, chain: OutputChain, max_pixels: int = MAX_PIXELS):
        self.assets, self.chain, self.max_pixels = assets, chain, max_pixels

    def file(self, asset_id: str, fmt: OutputFormat | None, principal: Principal = LOCAL
             ) -> tuple[bytes, OutputFormat]:  # fmt: skip
        """The stored file, or (in another format) an export of it. A stored file that still
        carries prompt text while prompt metadata is off is exported without it."""
        asset = self.assets.get(asset_id, principal)
        data = self.assets.data(asset)
        stored = OutputFormat(asset.format)
        if (fmt is None or fmt is stored) and not self._needs_cleaning(asset, data):
            return data, stored
        quality = REENCODE_QUALITY if fmt is None or fmt is stored else DEFAULT_QUALITY
        done = self._export(asset, data, ExportOptions(fmt or stored, quality))
        return done.data, done.format

    def _needs_cleaning(self, asset: Asset, data: bytes) -> bool:
        return not self.chain.prompt_metadata and carries_prompt(data, asset.prompt)

    def export(self, asset_id: str, options: ExportOptions, principal: Principal = LOCAL
               ) -> Exported:  # fmt: skip
        asset = self.assets.get(asset_id, principal)
        return self._export(asset, self.assets.data(asset), options)

    def _export(self, asset: Asset, source: bytes, options: ExportOptions) -> Exported:
        fmt = options.format or OutputFormat(asset.format)
        name = f"{asset.id}.{fmt.extension}"
        data, fmt = export_bytes(
            source, ExportOptions(fmt, options.quality, options.background), asset.params,
            self.chain, model=asset.model, title=name, max_pixels=self.max_pixels,
            source_name=f"{asset.id}.{OutputFormat(asset.format).extension}",
            generation={"watermark_id": asset.watermark_id, "exported_from": asset.id},
        )  # fmt: skip
        return Exported(data, fmt, name)

    def metadata(self, asset_id: str, principal: Principal = LOCAL) -> dict[str, Any]:
        """The asset's JSON sidecar (the same document the CLI writes next to its files)."""
        asset = self.assets.get(asset_id, principal)
        data = self.assets.data(asset)
        return self._sidecar(asset, data, f"{asset.id}.{OutputFormat(asset.format).extension}")

    def _sidecar(self, asset: Asset, data: bytes, name: str) -> dict[str, Any]:
        about = {"id": asset.id, "job_id": asset.job_id, "parent_id": asset.parent_id,
                 "created": int(asset.created_at), "cost": asset.cost}  # fmt: skip
        return metadata.sidecar(
            asset.params, data, name, prompt_metadata=self.chain.prompt_metadata,
            width=asset.width, height=asset.height, watermark_id=asset.watermark_id,
            asset=about,
        )  # fmt: skip

    # -- gallery ----------------------------------------------------------------------------

    def select(
        self, asset_ids: Sequence[str] | None, where: GalleryFilter | None,
        principal: Principal = LOCAL,
    ) -> list[Asset]:  # fmt: skip
        """The assets a gallery export holds: the listed ids (all must be the caller's, else
        404 naming the others), or those the filter matches (at most
        :data:`MAX_EXPORT_ASSETS`)."""
        if (asset_ids is None) == (where is None):
            raise InvalidRequestError(
                f"asset_ids: give asset_ids (1 to {MAX_EXPORT_IDS}) or a filter "
                "{model, since, until}, one of them", param="asset_ids",
            )  # fmt: skip
        if asset_ids is not None:
            return self._by_ids(asset_ids, principal)
        assert where is not None
        owner = None if principal.is_admin else principal.user_id
        page = self.assets.search(owner=owner, model=where.model, since=where.since,
                                  until=where.until, limit=MAX_EXPORT_ASSETS)  # fmt: skip
        if page.total > MAX_EXPORT_ASSETS:
            raise InvalidRequestError(
                f"filter: {page.total} assets match; at most {MAX_EXPORT_ASSETS} in one export; "
                "narrow it with model, since or until", param="filter",
            )  # fmt: skip
        return page.items

    def _by_ids(self, asset_ids: Sequence[str], principal: Principal) -> list[Asset]:
        wanted = list(dict.fromkeys(asset_ids))
        if not 1 <= len(wanted) <= MAX_EXPORT_IDS:
            raise InvalidRequestError(
                f"asset_ids: {len(wanted)} ids; allowed: 1 to {MAX_EXPORT_IDS}",
                param="asset_ids",
            )
        with self.assets.db.read() as s:
            rows = {a.id: a for a in s.scalars(select(Asset).where(Asset.id.in_(wanted)))}
        visible = {
            i: a for i, a in rows.items()
            if not a.deleted and (principal.is_admin or a.user_id == principal.user_id)
        }  # fmt: skip
        missing = [i for i in wanted if i not in visible]
        if missing:
            shown = ", ".join(repr(i) for i in missing[:20])
            more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
            raise NotFoundError(f"asset_ids: not found: {shown}{more}", param="asset_ids",
                                code="asset_not_found")  # fmt: skip
        return [visible[i] for i in wanted]

    def zip_stream(self, assets: Sequence[Asset]) -> Iterator[bytes]:
        """The zip, yielded entry by entry (one image in memory at a time)."""
        sink = _Sink()
        items: list[dict[str, Any]] = []
        missing: list[dict[str, str]] = []
        with zipfile.ZipFile(sink, "w") as archive:
            for asset in assets:
                try:
                    entry = self._zip_entry(archive, asset)
                except PixelforgeError as exc:
                    missing.append({"id": asset.id, "error": exc.message})
                    continue
                items.append(entry)
                yield sink.take()
            manifest = {
                "object": "gallery.export", "created": int(time.time()),
                "count": len(items), "prompt_metadata": self.chain.prompt_metadata,
                "items": items, "missing": missing,
            }  # fmt: skip
            body = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
            archive.writestr(_info("manifest.json", time.time()), body, zipfile.ZIP_DEFLATED)
        yield sink.take()

    def _zip_entry(self, archive: zipfile.ZipFile, asset: Asset) -> dict[str, Any]:
        data = self.assets.data(asset)
        fmt = OutputFormat(asset.format)
        name = f"{asset.id}.{fmt.extension}"
        if self._needs_cleaning(asset, data):
            data = self._export(asset, data, ExportOptions(fmt, REENCODE_QUALITY)).data
        sidecar = self._sidecar(asset, data, name)
        archive.writestr(_info(name, asset.created_at), data, zipfile.ZIP_STORED)
        archive.writestr(_info(f"{asset.id}.json", asset.created_at),
                         metadata.sidecar_json(sidecar), zipfile.ZIP_DEFLATED)  # fmt: skip
        item = {
            "id": asset.id, "file": name, "sidecar": f"{asset.id}.json",
            "sha256": sidecar["sha256"], "bytes": len(data), "format": fmt.value,
            "model": asset.model, "seed": asset.seed, "size": f"{asset.width}x{asset.height}",
        }  # fmt: skip
        if self.chain.prompt_metadata:
            item["prompt"] = asset.prompt
        item |= {"created": int(asset.created_at), "cost": asset.cost,
                 "parent_id": asset.parent_id}  # fmt: skip
        return item


def _info(name: str, when: float) -> zipfile.ZipInfo:
    stamp = dt.datetime.fromtimestamp(max(when, 315532800), dt.UTC)  # zip dates start in 1980
    info = zipfile.ZipInfo(name, stamp.timetuple()[:6])
    info.external_attr = 0o644 << 16
    return info


class _Sink:
    """A write-only stream the zip writer fills and :meth:`take` empties."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out
