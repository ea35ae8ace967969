"""``pixelforge upscale``: an image file, bigger (2x, 4x, or to 2K/4K), in the same format.

The file runs on the ``upscale`` engine (classical, or a super-resolution model from the
models folder) through the same output chain as every image. A file ``compose`` made (its
embedded metadata names the model, prompt, seed and size) is instead rendered again at the
target size, so its text and shapes stay crisp, unless ``--no-rerender``. The metadata does
not carry a structured brief, a brand kit or an input image, so the design is first rendered
at the file's own size and compared with the file's pixels: only a match is re-rendered;
anything else is upscaled (and says so). Bad input exits 2 naming the option.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from PIL import Image

if TYPE_CHECKING:
    from pixelforge.bootstrap import App
    from pixelforge.domain import GenerationRequest, ImageInput, OutputFormat

#: Request field -> the option that sets it, for error messages.
_OPTION_OF = {"factor": "-x", "tier": "--to", "model": "--model", "image": "IMAGE", "-x": "-x",
              "--to": "--to"}  # fmt: skip
#: Mean absolute difference (levels, on 256 px thumbnails) under which a re-render of the
#: file's metadata is the file's design (the watermark and JPEG/WebP coding stay far below).
SAME_DESIGN_LEVELS = 4.0


def _usage(exc: Exception) -> Exception:
    from pixelforge.cli_support import UsageError
    from pixelforge.errors import InvalidRequestError

    assert isinstance(exc, InvalidRequestError)
    param = exc.param or "factor"
    root = param.split(".")[-1] if param.startswith("options.") else param
    root = {"to": "tier"}.get(root, root)
    message = exc.message.removeprefix(f"{exc.param}: ") if exc.param else exc.message
    return UsageError(f"{_OPTION_OF.get(root, '--' + root)}: {message}")


def same_design(a: Image.Image, b: Image.Image) -> bool:
    """Whether two images show the same design (sizes may differ by rounding)."""

    def thumb(im: Image.Image) -> np.ndarray:
        return np.asarray(im.convert("RGB").resize((256, 256), Image.Resampling.BOX), np.float32)

    return float(np.abs(thumb(a) - thumb(b)).mean()) <= SAME_DESIGN_LEVELS


def compose_source(
    built: App, data: bytes, picture: ImageInput, fmt: OutputFormat
) -> tuple[GenerationRequest | None, str]:
    """The compose request that made the file (checked by rendering it), or None and why not
    (empty when the file is not compose-made)."""
    from pixelforge.domain import GenerationRequest, Tier, parse_size
    from pixelforge.domain.request import Background, Quality, parse_enum
    from pixelforge.domain.sizes import resolve_size
    from pixelforge.errors import InvalidRequestError
    from pixelforge.postprocess.encode import embedded_metadata

    meta = embedded_metadata(data) or {}
    if meta.get("model") != "compose" or "compose" not in {m.id for m in built.registry.models()}:
        return None, ""
    why = "its design cannot be rebuilt from its metadata"
    if meta.get("mode", "generate") != "generate" or meta.get("brand"):
        return None, f"{why} (it used an input image or a brand kit)"
    try:
        size = parse_size(meta.get("size", ""))
        ratio = meta.get("aspect_ratio", "")
        tier = next((t for t in Tier if ratio and resolve_size(ratio, t) == size), None)
        with Image.open(io.BytesIO(picture.data)) as im:
            transparent = im.mode in ("RGBA", "LA")
        request = GenerationRequest(
            prompt=meta["prompt"], model="compose", seed=int(meta.get("seed", "")),
            quality=parse_enum(Quality, meta.get("quality", "auto"), "quality"),
            output_format=fmt,
            background=Background.TRANSPARENT if transparent else Background.AUTO,
            **({"aspect_ratio": ratio, "tier": tier} if tier is not None else {"size": size}),
        )  # fmt: skip
        engine, _ = built.registry.resolve("compose")
        probe = engine.generate(request).images[0].image
    except (InvalidRequestError, KeyError, ValueError):
        return None, why
    with Image.open(io.BytesIO(picture.data)) as im:
        if not same_design(probe, im):
            return None, f"{why} (it was made from a structured brief or changed since)"
    return request, ""


_MODEL_HELP = ("auto (the best installed super-resolution model, else classical), classical, "
               "or an upscaler's name.")  # fmt: skip
_RERENDER_HELP = ("Upscale a compose-made file's pixels instead of rendering its design again "
                  "at the target size.")  # fmt: skip


def upscale(
    image: Annotated[Path, typer.Argument(help="The image to upscale (PNG, JPEG or WebP).")],
    factor: Annotated[
        str | None, typer.Option("-x", "--factor", help="2 or 4 times the size (default 2).")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="2K or 4K: that long edge, the image's aspect ratio kept."),
    ] = None,
    model: Annotated[str, typer.Option("--model", "-m", help=_MODEL_HELP)] = "auto",
    no_rerender: Annotated[bool, typer.Option("--no-rerender", help=_RERENDER_HELP)] = False,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("."),
) -> None:
    """IMAGE, bigger: 2x, 4x or to 2K/4K, same format; print the path written.

    A file compose made is rendered again at the target size (crisp text and shapes) unless
    --no-rerender; any other image runs on an upscaler (see `pixelforge models`).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pixelforge.cli_support import _file_format, _integer, _read_file, build_app, err, out
    from pixelforge.domain import GenerationRequest, Mode, Reference, Tier
    from pixelforge.engines.base import ProgressEvent
    from pixelforge.engines.upscale import UpscaleOptions
    from pixelforge.errors import InvalidRequestError
    from pixelforge.postprocess.encode import embedded_metadata
    from pixelforge.postprocess.upscale import target_size
    from pixelforge.services.generate import write_outputs
    from pixelforge.services.images import load_image
    from pixelforge.services.upscale import rerender_request, upscale_engine

    data = _read_file(image, "IMAGE")
    try:
        picture = load_image(data, param="image", name=image.name)
        times = _integer(factor, "factor") if factor is not None else None
        if times is None and to is None:
            times = 2
        width, height = target_size(picture.width, picture.height, factor=times, tier=to,
                                    factor_param="-x", tier_param="--to")  # fmt: skip
        tier = Tier.parse(to, "tier").value if to is not None else None
        built = build_app()
        fmt = _file_format(data)
        request, why = (None, "") if no_rerender else compose_source(built, data, picture, fmt)
        if request is not None:
            assert request.seed is not None
            request = rerender_request(request, picture.width, picture.height, factor=times,
                                       tier=tier, seed=request.seed)  # fmt: skip
        else:
            if why:
                err.print(f"{image.name}: {why}; upscaling its pixels", markup=False)
            upscaler = upscale_engine(built.registry).resolve(
                model, max(width / picture.width, height / picture.height))  # fmt: skip
            meta = embedded_metadata(data) or {}
            seed = meta.get("seed", "")
            request = GenerationRequest(
                prompt=meta.get("prompt", ""), model=upscaler.model_id, mode=Mode.EDIT,
                references=(Reference(picture),), output_format=fmt,
                seed=int(seed) if seed.isdigit() else 0,
                options=UpscaleOptions.model_validate({"factor": times, "to": tier}),
            )  # fmt: skip
        built.generate.check(request)
    except InvalidRequestError as exc:
        raise _usage(exc) from None
    label = request.model if request.model == "compose" else request.model.split("/", 1)[1]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), console=err, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(f"{label}: upscaling", total=1.0)

        def on_progress(event: ProgressEvent) -> None:
            bar.update(task, completed=event.fraction, description=f"{label}: {event.message}")

        _, images, seconds = built.generate.run(request, on_progress)
    stem = f"{image.stem}-{f'x{times}' if times is not None else tier}"
    for path in write_outputs(images, out_dir, stem):
        out.print(str(path), markup=False)
    done = images[0]
    what = "re-rendered by compose" if request.model == "compose" else f"upscaled by {label}"
    err.print(f"{done.width}x{done.height}, {what}, in {seconds:.2f}s", style="dim")
