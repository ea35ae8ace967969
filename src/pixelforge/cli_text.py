"""``pixelforge text``: exact text on any image file, and ``generate --overlay``.

``text`` runs the ``text-overlay`` model on the file (the same output chain as every image:
overlay, watermark, metadata, C2PA with the file as parent ingredient) and writes a new file
in the same format and size. Bad input exits 2 naming the option.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from pixelforge.domain import Brand, TextOverlay

#: Text overlay field -> the ``text`` option that sets it, for error messages.
_OPTION_OF = {
    "headline": "--headline", "subtitle": "--subtitle", "cta": "--cta", "labels": "--label",
    "position": "--position", "color": "--color", "scrim": "--scrim", "fonts": "--font",
}  # fmt: skip


def _fonts(specs: list[str]) -> dict[str, str]:
    """``ROLE=FAMILY`` pairs (``--font headline=serif``)."""
    from pixelforge.cli_support import UsageError

    out: dict[str, str] = {}
    for spec in specs:
        role, sep, family = spec.partition("=")
        if not sep or not role.strip() or not family.strip():
            raise UsageError(f"--font: {spec!r} is not ROLE=FAMILY; e.g. headline=serif (roles: "
                             "headline, subtitle, cta, label)")  # fmt: skip
        out[role.strip()] = family.strip()
    return out


def _brand_kit(name: str) -> Brand:
    """``--brand``: a brand kit of the local reference library, by id or name."""
    from pixelforge.cli_refs import _library
    from pixelforge.cli_support import UsageError
    from pixelforge.errors import InvalidRequestError, NotFoundError
    from pixelforge.services.text_overlay import brand_kit

    try:
        with _library() as library:
            return brand_kit(library, name, param="--brand", by_name=True)
    except NotFoundError:
        raise UsageError(f"--brand: no reference set {name!r} (by id, or by name among the local "
                         "user's sets); see `pixelforge refs list`") from None  # fmt: skip
    except InvalidRequestError as exc:
        raise UsageError(exc.message) from None


def overlay_from_fields(fields: dict[str, Any]) -> TextOverlay:
    """The checked overlay of the ``text`` options; errors name the option."""
    from pixelforge.cli_support import UsageError
    from pixelforge.domain import TextOverlay
    from pixelforge.errors import InvalidRequestError

    try:
        return TextOverlay.from_dict(fields, param="")
    except InvalidRequestError as exc:
        param = exc.param or "headline"
        root = param.split(".")[0].split("[")[0]
        message = exc.message.removeprefix(f"{param}: ")
        if root in ("fonts", "labels") and param != root:
            message = f"{param}: {message}"
        raise UsageError(f"{_OPTION_OF.get(root, '--headline')}: {message}") from None


def overlay_option(value: str) -> TextOverlay:
    """``generate --overlay``: a JSON object inline (``{"headline": "SALE"}``) or the path of
    a JSON file holding one; errors name the overlay's field."""
    from pixelforge.cli_support import UsageError
    from pixelforge.domain import TextOverlay
    from pixelforge.errors import InvalidRequestError

    text = value
    if not value.lstrip().startswith(("{", "[")):
        try:
            text = Path(value).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--overlay: {value!r} is neither a JSON object nor a readable "
                             f"JSON file ({exc.strerror or exc})") from None  # fmt: skip
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--overlay: not valid JSON ({exc.msg} at line {exc.lineno} column "
                         f"{exc.colno}); e.g. '{{\"headline\": \"SALE\"}}'") from None  # fmt: skip
    try:
        return TextOverlay.from_dict(data, param="")
    except InvalidRequestError as exc:
        raise UsageError(f"--overlay: {exc.message}") from None


def text(
    image: Annotated[Path, typer.Argument(help="The image to draw on (PNG, JPEG or WebP).")],
    headline: Annotated[str | None, typer.Option("--headline", help="Headline text.")] = None,
    subtitle: Annotated[str | None, typer.Option("--subtitle", help="Subtitle text.")] = None,
    cta: Annotated[
        str | None, typer.Option("--cta", help="Call to action, drawn as a button-like pill.")
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="A short label, e.g. a price (repeatable).")
    ] = None,
    position: Annotated[
        str, typer.Option("--position", help="auto, top, bottom, center, left or right.")
    ] = "auto",
    color: Annotated[
        str | None, typer.Option("--color", help="Text colour #rrggbb (default: most readable).")
    ] = None,
    scrim: Annotated[
        str, typer.Option("--scrim", help="Panel behind the text: auto, on or off.")
    ] = "auto",
    font: Annotated[
        list[str] | None,
        typer.Option(
            "--font",
            help="ROLE=FAMILY, e.g. headline=serif (repeatable; roles "
            "headline, subtitle, cta, label; families sans, serif, display, mono).",
        ),
    ] = None,
    brand: Annotated[
        str | None,
        typer.Option(
            "--brand",
            help="A brand kit of the reference library (id or name; see "
            "`refs`): its palette and fonts apply.",
        ),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("."),
) -> None:
    """Draw exact text on IMAGE (any script; placed where the image is calm, always
    readable) and print the path of the new file (same size and format)."""
    from pixelforge.cli_support import (
        UsageError,
        _as_cli,
        _file_format,
        _read_file,
        build_app,
        err,
        out,
    )
    from pixelforge.domain import GenerationRequest, Mode, Reference
    from pixelforge.engines.text_overlay import MODEL_ID
    from pixelforge.errors import InvalidRequestError
    from pixelforge.postprocess.encode import embedded_metadata
    from pixelforge.services.generate import write_outputs
    from pixelforge.services.images import load_image
    from pixelforge.services.text_overlay import overlay_prompt
    from pixelforge.services.variations import output_shape

    data = _read_file(image, "IMAGE")
    overlay = overlay_from_fields({
        "headline": headline, "subtitle": subtitle, "cta": cta, "labels": label or [],
        "position": position, "color": color, "scrim": scrim, "fonts": _fonts(font or []),
    })  # fmt: skip
    try:
        picture = load_image(data, param="image", name=image.name)
    except InvalidRequestError as exc:
        raise UsageError(f"IMAGE: {exc.message.removeprefix('image: ')}") from None
    kit = _brand_kit(brand) if brand is not None else None
    try:
        built = build_app()
        _, info = built.registry.resolve(MODEL_ID)
        known = (embedded_metadata(data) or {}).get("seed", "")
        fmt = _file_format(data)
        request = GenerationRequest(
            prompt=overlay_prompt(overlay), model=MODEL_ID, mode=Mode.EDIT,
            references=(Reference(picture),), output_format=fmt, text_overlay=overlay, brand=kit,
            seed=int(known) if known.isdigit() else None,
            **output_shape(info.capabilities, picture.width, picture.height),
        )  # fmt: skip
        built.generate.check(request)
    except InvalidRequestError as exc:
        raise _as_cli(exc) from None
    _, images, seconds = built.generate.run(request)
    stem = re.sub(r"[^A-Za-z0-9]+", "-", image.stem)[:40].strip("-") or "image"
    for path in write_outputs(images, out_dir, f"{stem}-text"):
        out.print(str(path), markup=False)
    err.print(f"text drawn in {seconds:.2f}s", style="dim")
