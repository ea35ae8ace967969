"""The ``pixelforge`` command line (Typer + rich).

Bad input exits with code 2 and one line naming the option, the bad value and what is
allowed; no file is written unless every image succeeded.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pixelforge.bootstrap import open_store
from pixelforge.cli_accounts import credits_app, keys_app, users_app
from pixelforge.cli_batch import batch_app
from pixelforge.cli_export import export_command, gallery_app, inspect_command, sidecar_writer
from pixelforge.cli_models import models_app
from pixelforge.cli_refs import refs_app
from pixelforge.cli_support import (
    UsageError,
    _as_cli,
    _built,
    _file_format,
    _integer,
    _read_file,
    _read_ref,
    _store,
    build_app,
    err,
    out,
)
from pixelforge.cli_text import overlay_option
from pixelforge.cli_text import text as text_command
from pixelforge.cli_threads import thread_app
from pixelforge.cli_upscale import upscale as upscale_command
from pixelforge.cli_verify import verify
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest, Reference, Tier, parse_size
from pixelforge.domain.request import (
    Background,
    EngineOptions,
    ImageInput,
    Mode,
    OutputFormat,
    ReferenceRole,
    parse_enum,
)
from pixelforge.engines.base import ProgressEvent
from pixelforge.engines.compose.brief import parse_brief
from pixelforge.engines.compose.engine import ComposeOptions
from pixelforge.engines.compose.parse import suggest_aspect_ratio
from pixelforge.errors import EngineError, InvalidRequestError, PixelforgeError
from pixelforge.services.images import load_image, load_mask
from pixelforge.services.pricing import from_micro

if TYPE_CHECKING:
    pass

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Pixelforge: generate designed images from prompts, offline or with any engine.",
)


def _read_brief(path: Path) -> ComposeOptions:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--brief: cannot read {str(path)!r} ({exc.strerror})") from None
    return ComposeOptions(brief=parse_brief(text))


def _number(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a number") from None


def _local_options(
    steps: str | None, guidance: str | None, scheduler: str | None, strength: str | None,
    loras: list[str], fast_decode: bool,
) -> EngineOptions | None:  # fmt: skip
    """LocalOptions from the local-model flags, or None when none is given."""
    if steps is None and guidance is None and scheduler is None and strength is None \
            and not loras and not fast_decode:  # fmt: skip
        return None
    from pydantic import ValidationError

    from pixelforge.engines.local.options import LocalOptions

    weights = []
    for text in loras:
        lora_name, _, weight = text.partition(":")
        weights.append({"name": lora_name, "weight": _number(weight, "--lora") if weight else 1.0})
    fields = {"steps": _integer(steps, "steps") if steps is not None else None,
              "guidance": _number(guidance, "--guidance") if guidance is not None else None,
              "strength": _number(strength, "--strength") if strength is not None else None,
              "scheduler": scheduler or "default", "loras": weights, "fast_decode": fast_decode}  # fmt: skip
    try:
        return LocalOptions.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "options"
        option = {"loras": "--lora", "fast_decode": "--fast-decode"}.get(where, f"--{where}")
        raise UsageError(f"{option}: {first['msg']} (got {first.get('input')!r})") from None


def _read_mask(path: Path, refs: tuple[Reference, ...]) -> ImageInput:
    if not refs:
        raise UsageError("--mask: a mask needs the image it applies to; add --ref IMAGE")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--mask: cannot read {str(path)!r} ({exc.strerror})") from None
    return load_mask(data, refs[0].image, param="mask", name=path.name)


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help='What to make; quote exact text in "...".')],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model id (see `models`).")
    ] = "compose",
    aspect: Annotated[
        str | None, typer.Option("--aspect", "-a", help="Aspect ratio, e.g. 16:9.")
    ] = None,
    resolution: Annotated[
        str, typer.Option("--resolution", "-r", help="512, 1K, 2K or 4K (long edge).")
    ] = "1K",
    size: Annotated[str | None, typer.Option("--size", help="Explicit WIDTHxHEIGHT.")] = None,
    n: Annotated[str, typer.Option("-n", help="Number of images, 1-10.")] = "1",
    seed: Annotated[str | None, typer.Option("--seed", help="Seed for repeatable output.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="png, jpeg or webp.")] = "png",
    compression: Annotated[str | None, typer.Option("--compression", help="0-100.")] = None,
    background: Annotated[
        str, typer.Option("--background", help="auto, opaque or transparent.")
    ] = "auto",
    mode: Annotated[str | None, typer.Option("--mode", help="generate, edit or variation.")] = None,
    ref: Annotated[
        list[Path] | None, typer.Option("--ref", help="Reference image (repeatable).")
    ] = None,
    ref_role: Annotated[
        str, typer.Option("--ref-role", help="Role of the references.")
    ] = "subject",
    brief: Annotated[Path | None, typer.Option("--brief", help="Structured brief (JSON).")] = None,
    svg: Annotated[bool, typer.Option("--svg", help="Also write the SVG (compose).")] = False,
    reframe: Annotated[
        str, typer.Option("--reframe", help="crop or pad an input image to the ratio (compose).")
    ] = "crop",
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("."),
    negative: Annotated[
        str | None, typer.Option("--negative", help="Negative prompt (models that take one).")
    ] = None,
    mask: Annotated[
        Path | None, typer.Option("--mask", help="Edit mask PNG: transparent = area to edit.")
    ] = None,
    steps: Annotated[str | None, typer.Option("--steps", help="Steps (local models).")] = None,
    guidance: Annotated[
        str | None, typer.Option("--guidance", help="Guidance scale (local models).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Sampler, e.g. euler_a (local models).")
    ] = None,
    strength: Annotated[
        str | None, typer.Option("--strength", help="Image-to-image strength 0-1 (local).")
    ] = None,
    lora: Annotated[
        list[str] | None, typer.Option("--lora", help="NAME or NAME:WEIGHT (repeatable, local).")
    ] = None,
    fast_decode: Annotated[
        bool, typer.Option("--fast-decode", help="Tiny-autoencoder decode (local).")
    ] = False,
    ref_set: Annotated[
        list[str] | None,
        typer.Option(
            "--ref-set",
            help="Saved reference set SET[:ROLE][:N] (repeatable; see `refs`); a brand kit "
            "applies its palette, fonts, tone and logo.",
        ),
    ] = None,
    overlay: Annotated[
        str | None,
        typer.Option(
            "--overlay",
            help='Exact text drawn on every image: a JSON object, e.g. \'{"headline": "SALE", '
            '"cta": "Shop now"}\', or a JSON file (fields as `pixelforge text`; see '
            "docs/output.md).",
        ),
    ] = None,
    sidecar: Annotated[
        bool, typer.Option("--sidecar", help="Also write NAME.json (settings, sha256) per image.")
    ] = False,
) -> None:
    """Generate images and print the paths written."""
    from pixelforge.services.generate import write_outputs

    try:
        role = parse_enum(ReferenceRole, ref_role, "role")
        refs = tuple(_read_ref(p, role) for p in ref or [])
        options: EngineOptions | None = _read_brief(brief) if brief else None
        if reframe not in ("crop", "pad"):
            raise UsageError(f"--reframe: {reframe!r} is not allowed; allowed: crop, pad")
        if svg or reframe != "crop":
            options = (
                options if isinstance(options, ComposeOptions) else ComposeOptions()
            ).model_copy(update={"svg": svg, "reframe": reframe})
        local = _local_options(steps, guidance, scheduler, strength, lora or [], fast_decode)
        if local is not None:
            _, info = build_app().registry.resolve(model)
            if info.capabilities.options_type is not type(local):
                given = [flag for flag, value in (
                    ("--steps", steps), ("--guidance", guidance), ("--scheduler", scheduler),
                    ("--strength", strength), ("--lora", lora), ("--fast-decode", fast_decode),
                ) if value]  # fmt: skip
                raise UsageError(f"{given[0]}: applies to local diffusion models; "
                                 f"{model!r} is not one (see `pixelforge models`)")  # fmt: skip
            options = local
        edit_mask = _read_mask(mask, refs) if mask else None
        from_sets: tuple[Reference, ...] = ()
        brand = None
        if ref_set:
            from pixelforge.cli_refs import ref_sets

            from_sets, brand = ref_sets(ref_set, model, len(refs), build_app().registry)
        text_overlay = overlay_option(overlay) if overlay is not None else None
        request = GenerationRequest(
            prompt=prompt,
            model=model,
            negative_prompt=negative,
            mask=edit_mask,
            mode=parse_enum(Mode, mode, "mode") if mode else (Mode.EDIT if refs else Mode.GENERATE),
            references=(*refs, *from_sets),
            aspect_ratio=aspect
            or (suggest_aspect_ratio(prompt) if size is None else None)
            or "1:1",
            tier=Tier.parse(resolution),
            size=parse_size(size) if size else None,
            n=_integer(n, "n"),
            seed=_integer(seed, "seed") if seed is not None else None,
            output_format=parse_enum(
                OutputFormat, fmt.lower().replace("jpg", "jpeg"), "output_format"
            ),
            output_compression=_integer(compression, "output_compression")
            if compression is not None
            else None,
            background=parse_enum(Background, background, "background"),
            options=options,
            brand=brand,
            text_overlay=text_overlay,
        )
        service = build_app().generate
        service.check(request)
    except InvalidRequestError as exc:
        raise _as_cli(exc) from None

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), console=err, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(f"{model}: generating", total=1.0)

        def on_progress(event: ProgressEvent) -> None:
            bar.update(task, completed=event.fraction, description=f"{model}: {event.message}")

        _, images, seconds = service.run(request, on_progress)
    stem = re.sub(r"[^a-z0-9]+", "-", prompt.lower())[:40].strip("-") or "image"
    for path in write_outputs(images, out_dir, stem, sidecar_writer(sidecar)):
        out.print(str(path), markup=False)
    err.print(f"{len(images)} image(s) in {seconds:.2f}s", style="dim")


def _accounts_on(settings: Settings) -> bool:
    if settings.auth == "off":
        return False
    store = open_store(settings)
    try:
        return store.accounts.any_users()
    finally:
        store.db.dispose()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (non-loopback needs accounts).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker threads.")] = None,
) -> None:
    """Start the studio server (OpenAI-compatible API, jobs, assets) on the embedded defaults."""
    import uvicorn

    from pixelforge.api.app import create_app

    settings = Settings() if workers is None else Settings(workers=workers)
    if not _is_loopback(host) and not _accounts_on(settings):
        raise UsageError(
            f"--host: {host!r} is not a loopback address and no accounts exist; create an admin "
            "first (pixelforge users create EMAIL --admin), or serve on 127.0.0.1"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    err.print(f"Pixelforge on http://{host}:{port}  (data: {settings.home})", markup=False)
    uvicorn.run(create_app(settings), host=host.strip("[]"), port=port, log_level="warning")


@app.command()
def compare(
    prompt: Annotated[str, typer.Argument(help="The brief every model gets.")],
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Model id (repeat: 2-8 models).")
    ] = None,
    aspect: Annotated[str | None, typer.Option("--aspect", "-a", help="Aspect ratio.")] = None,
    resolution: Annotated[str, typer.Option("--resolution", "-r", help="512-4K.")] = "1K",
    size: Annotated[str | None, typer.Option("--size", help="Explicit WIDTHxHEIGHT.")] = None,
    seed: Annotated[str | None, typer.Option("--seed", help="One seed for every model.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="png, jpeg or webp.")] = "png",
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("."),
) -> None:
    """Run one brief on several models; print seconds, cost, size and file side by side."""
    from pixelforge.services.compare import MAX_ENTRIES, MIN_ENTRIES, run_locally
    from pixelforge.services.generate import write_outputs
    from pixelforge.services.pricing import PriceTable

    models = model or []
    if not MIN_ENTRIES <= len(models) <= MAX_ENTRIES:
        raise UsageError(f"--model: give {MIN_ENTRIES} to {MAX_ENTRIES} models to compare, "
                         f"e.g. -m compose -m OTHER (got {len(models)})")  # fmt: skip
    if len(set(models)) != len(models):
        twice = next(m for m in models if models.count(m) > 1)
        raise UsageError(f"--model: {twice!r} is given twice; give each model once")
    built = build_app()
    requests = []
    for name in models:
        try:
            request = GenerationRequest(
                prompt=prompt, model=name, tier=Tier.parse(resolution),
                aspect_ratio=aspect or (suggest_aspect_ratio(prompt) if size is None else None)
                or "1:1", size=parse_size(size) if size else None,
                seed=_integer(seed, "seed") if seed is not None else None,
                output_format=parse_enum(OutputFormat, fmt.lower().replace("jpg", "jpeg"),
                                         "output_format"),
            )  # fmt: skip
            built.generate.check(request)
        except InvalidRequestError as exc:
            which = "" if repr(name) in exc.message else f" (model {name!r})"
            raise UsageError(f"{_as_cli(exc)}{which}") from None
        requests.append(request)
    prices = PriceTable.load(built.settings.prices_file, built.settings.local_price_per_image)
    with err.status(f"running {len(requests)} models"):
        outcomes = run_locally(built.generate, prices, requests)
    stem = re.sub(r"[^a-z0-9]+", "-", prompt.lower())[:40].strip("-") or "image"
    table = Table("model", "seconds", "cost (USD)", "size", "file", title=prompt[:60])
    for outcome, request in zip(outcomes, requests, strict=True):
        if outcome.error is not None:
            table.add_row(outcome.model, "-", "-", "-", f"failed: {outcome.error}")
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", outcome.model.lower()).strip("-") or "model"
        paths = write_outputs(outcome.images, out_dir, f"{stem}-{slug}", sidecar_writer())
        pixels = request.output_size
        table.add_row(
            outcome.model, f"{outcome.seconds:.2f}",
            str(from_micro(outcome.cost)) if outcome.cost is not None else "-",
            f"{pixels.width}x{pixels.height}, {sum(len(i.data) for i in outcome.images):,} B",
            "\n".join(str(p) for p in paths if p.suffix != ".svg"),
        )  # fmt: skip
    table.columns[4].overflow = "fold"
    out.print(table)
    failed = [o.model for o in outcomes if o.error is not None]
    if failed:
        raise EngineError(f"{len(failed)} of {len(outcomes)} models failed: {', '.join(failed)}")


@app.command()
def leaderboard(
    category: Annotated[
        str | None, typer.Option("--category", help="poster, product, portrait, ..., other.")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Arena ratings from the compare votes in the database (Bradley-Terry, 95% intervals)."""
    from pixelforge.services.arena import Arena
    from pixelforge.services.compare import Category

    try:
        wanted = parse_enum(Category, category, "category") if category is not None else None
    except InvalidRequestError as exc:
        raise _as_cli(exc) from None
    store = _store()
    try:
        board = Arena(store.db).leaderboard(wanted)
    finally:
        store.db.dispose()
    if as_csv:
        sys.stdout.write(board.to_csv())
        return
    table = Table("#", "model", "label", "rating", "95% interval", "W-L-T", "votes",
                  title=f"leaderboard: {category or 'all categories'}")  # fmt: skip
    for row in board.rows:
        r = row.rating
        table.add_row(str(row.rank), row.model, row.label, f"{r.rating:.0f}",
                      f"{r.ci_low:.0f} to {r.ci_high:.0f}", f"{r.wins}-{r.losses}-{r.ties}",
                      str(r.votes))  # fmt: skip
    out.print(table)
    if not board.rows:
        err.print("no votes yet: vote on compares with POST /api/compare/{id}/votes", style="dim")


@app.command()
def demo(out_dir: Annotated[Path | None, typer.Option("--out", "-o")] = None) -> None:
    """Generate a demo poster and print its path (what `make run` does until the server)."""
    target = out_dir or build_app().settings.home / "demo"
    generate(
        'Minimal poster for a coffee shop, headline "OPEN LATE", subtitle "Fresh espresso '
        'until 2 AM", warm palette',
        aspect="4:5", resolution="2K", seed="7", out_dir=target,
        model="compose", size=None, n="1", fmt="png", compression=None, background="auto",
        mode=None, ref=None, ref_role="subject", brief=None, svg=False, reframe="crop",
    )  # fmt: skip


prompt_app = typer.Typer(help="Prompt tools.", no_args_is_help=True)
app.add_typer(prompt_app, name="prompt")
app.add_typer(batch_app, name="batch")
app.add_typer(refs_app, name="refs")
_PROMPT_OPTIONS = {"prompt": "TEXT", "model": "--model", "use_case": "--use-case",
                   "style": "--style", "rewrite": "--rewrite"}  # fmt: skip


@prompt_app.command("optimize")
def prompt_optimize(
    text: Annotated[str, typer.Argument(help='The rough prompt; quote exact text in "...".')],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Phrase for this model (default compose).")
    ] = None,
    use_case: Annotated[
        str | None, typer.Option("--use-case", help="poster, product_shot, portrait, ... .")
    ] = None,
    style: Annotated[
        str | None, typer.Option("--style", help="keywords, sentences or brief.")
    ] = None,
    rewrite: Annotated[str, typer.Option("--rewrite", help="rules or llm.")] = "rules",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Turn a rough prompt into a structured one; prints the original beside it."""

    from rich.text import Text

    from pixelforge.bootstrap import prompt_optimizer
    from pixelforge.errors import PermissionDeniedError

    settings = Settings()
    # The registry knows local and hosted model ids; only needed to pick a phrasing.
    registry = build_app(settings).registry if model and style is None else None
    try:
        result = prompt_optimizer(settings, registry).optimize(
            text, model, use_case, style, rewrite
        )
    except (InvalidRequestError, PermissionDeniedError) as exc:
        option = _PROMPT_OPTIONS.get(exc.param or "", f"--{exc.param}")
        raise UsageError(f"{option}: {exc.message.removeprefix(f'{exc.param}: ')}") from None
    if as_json:
        out.print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2), markup=False)
        return
    out.print(f"original ({result.use_case}, {result.style}):", style="bold")
    out.print(result.original, markup=False)
    out.print(f"optimized ({result.rewrite}):", style="bold")
    out.print(result.optimized, markup=False)
    table = Table("slot", "value", "from")
    for slot, value in result.slots.items():
        table.add_row(slot, Text(value), "added" if slot in result.filled else "prompt")
    out.print(table)
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False)


# -- variations and edit threads ---------------------------------------------------------


@app.command()
def vary(
    image: Annotated[
        Path, typer.Argument(help="An image Pixelforge made (its metadata: prompt, model, seed).")
    ],
    n: Annotated[str, typer.Option("-n", help="Number of variations, 1-10.")] = "4",
    strength: Annotated[
        str | None, typer.Option("--strength", help="subtle or strong: image-to-image of IMAGE.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model id (default: the file's).")
    ] = None,
    prompt: Annotated[
        str | None, typer.Option("--prompt", help="Prompt (default: the file's).")
    ] = None,
    seed: Annotated[str | None, typer.Option("--seed", help="First seed (default random).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("."),
) -> None:
    """More like IMAGE: its prompt and settings with new seeds; print the paths written."""
    import dataclasses

    from pixelforge.domain.request import Quality
    from pixelforge.postprocess.encode import embedded_metadata
    from pixelforge.services.generate import write_outputs
    from pixelforge.services.variations import (
        Strength,
        no_strength,
        output_shape,
        strength_request,
        takes_strength,
        variation_seed,
    )

    data = _read_file(image, "IMAGE")
    meta = embedded_metadata(data) or {}
    if not meta and prompt is None:
        raise UsageError(f"IMAGE: {str(image)!r} has no Pixelforge metadata (prompt, model, seed);"
                         " give the prompt with --prompt TEXT (and the model with -m)")  # fmt: skip
    try:
        picture = load_image(data, param="image", name=image.name)
        level = parse_enum(Strength, strength, "strength") if strength is not None else None
        target = model or meta.get("model") or "compose"
        built = build_app()
        _, info = built.registry.resolve(target)
        caps = info.capabilities
        width, height = picture.width, picture.height
        if meta.get("size"):
            made = parse_size(meta["size"])
            width, height = made.width, made.height
        known = meta.get("seed", "")
        source_seed = int(known) if known.isdigit() else None
        count = _integer(n, "n")
        fmt = _file_format(data)
        request = GenerationRequest(
            prompt=prompt if prompt is not None else meta["prompt"], model=target,
            negative_prompt=meta.get("negative prompt") if caps.negative_prompt else None,
            quality=parse_enum(Quality, meta.get("quality", "auto"), "quality"),
            output_format=fmt if fmt in caps.formats else OutputFormat.PNG,
            **output_shape(caps, width, height),
        )  # fmt: skip
        if level is not None:
            if not takes_strength(caps):
                raise no_strength(target, built.registry, "leave --strength out")
            request = strength_request(request, target, caps, picture, level)
        base = variation_seed(source_seed, count, _integer(seed, "seed") if seed else None)
        request = dataclasses.replace(request, n=count, seed=base,
                                      output_format=fmt if fmt in caps.formats
                                      else request.output_format)  # fmt: skip
        built.generate.check(request)
    except InvalidRequestError as exc:
        raise _as_cli(exc) from None
    with err.status(f"{target}: {count} variation(s)"):
        _, images, seconds = built.generate.run(request)
    stem = re.sub(r"[^a-z0-9]+", "-", request.prompt.lower())[:40].strip("-") or "image"
    for path in write_outputs(images, out_dir, f"{stem}-var", sidecar_writer()):
        out.print(str(path), markup=False)
    err.print(f"{len(images)} variation(s) in {seconds:.2f}s", style="dim")


app.add_typer(gallery_app, name="gallery")


app.command("text")(text_command)
app.command("upscale")(upscale_command)
app.command("inspect")(inspect_command)
app.command("export")(export_command)
app.add_typer(models_app, name="models")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.add_typer(thread_app, name="thread")
app.add_typer(gallery_app, name="gallery")
app.command()(verify)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input)."""
    try:
        return _main(argv)
    finally:
        while _built:
            _built.pop().registry.close()


def _main(argv: list[str] | None) -> int:
    try:
        # Typer answers Ctrl-C (and typer.Exit) with the exit code instead of raising.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except UsageError as exc:
        err.print(f"error: {exc}", markup=False)
        return 2
    except PixelforgeError as exc:
        err.print(f"error: {exc.message}", markup=False)
        return 1
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except Exception as exc:
        # Typer's parser errors (its vendored click's UsageError family) carry exit code 2.
        code = getattr(exc, "exit_code", None)
        if code is None or not hasattr(exc, "format_message"):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            return 0
        err.print(f"error: {exc.format_message()}", markup=False)
        return int(code)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
