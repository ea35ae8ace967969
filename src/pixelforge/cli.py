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
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pixelforge.bootstrap import App, Store, open_store
from pixelforge.bootstrap import build_app as _build_app
from pixelforge.cli_batch import batch_app
from pixelforge.cli_export import export_command, gallery_app, inspect_command, sidecar_writer
from pixelforge.cli_refs import refs_app
from pixelforge.cli_text import overlay_option
from pixelforge.cli_text import text as text_command
from pixelforge.cli_upscale import upscale as upscale_command
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
from pixelforge.errors import EngineError, InvalidRequestError, NotFoundError, PixelforgeError
from pixelforge.services.images import load_image, load_mask
from pixelforge.services.pricing import from_micro, to_micro

if TYPE_CHECKING:
    from pixelforge.api.container import Container
    from pixelforge.store.models import Job

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Pixelforge: generate designed images from prompts, offline or with any engine.",
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

#: Request field -> the CLI option that sets it, for error messages.
OPTION_OF = {
    "aspect_ratio": "--aspect", "resolution": "--resolution", "size": "--size", "n": "-n",
    "seed": "--seed", "output_format": "--format", "references": "--ref", "image": "--ref",
    "model": "--model", "mode": "--mode", "background": "--background",
    "output_compression": "--compression", "prompt": "PROMPT", "mask": "--mask",
    "negative_prompt": "--negative", "role": "--ref-role", "path": "PATH", "repo": "REPO",
    "name": "--name", "reference_sets": "--ref-set",
}  # fmt: skip


#: Apps built during this command: their engines are closed when it ends.
_built: list[App] = []


def build_app(settings: Settings | None = None) -> App:
    built = _build_app(settings)
    _built.append(built)
    return built


class UsageError(Exception):
    """Bad input: the message is printed on one line and the exit code is 2."""


#: Engine option (``options.<field>``) -> the CLI flag that sets it.
LOCAL_FLAGS = {"steps": "--steps", "guidance": "--guidance", "scheduler": "--scheduler",
               "strength": "--strength", "loras": "--lora", "fast_decode": "--fast-decode"}  # fmt: skip


def _as_cli(exc: InvalidRequestError) -> UsageError:
    param = exc.param or ""
    root = param.split(".")[0].split("[")[0]
    option = OPTION_OF.get(root, "--brief" if root == "brief" else f"--{root}")
    if root == "options" and "." in param:
        field = param.split(".")[1].split("[")[0]
        option = LOCAL_FLAGS.get(field, option)
    message = exc.message
    for prefix in (param, root):
        if prefix and message.startswith(f"{prefix}: "):
            message = message[len(prefix) + 2 :]
            break
    return UsageError(f"{option}: {message}")


def _integer(text: str, param: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidRequestError(f"{param}: {text!r} is not a whole number", param=param) from None


def _read_brief(path: Path) -> ComposeOptions:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--brief: cannot read {str(path)!r} ({exc.strerror})") from None
    return ComposeOptions(brief=parse_brief(text))


def _read_ref(path: Path, role: ReferenceRole) -> Reference:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--ref: cannot read {str(path)!r} ({exc.strerror})") from None
    return Reference(load_image(data, param="image", name=path.name), role)


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


models_app = typer.Typer(help="List, scan, import and pull models.", invoke_without_command=True)
app.add_typer(models_app, name="models")


@models_app.callback()
def models_main(ctx: typer.Context) -> None:
    """List models with their engine and capabilities (also: scan, import, pull)."""
    if ctx.invoked_subcommand is None:
        list_models()


@models_app.command("list")
def list_models() -> None:
    """List models with their engine and capabilities."""
    table = Table("model", "engine", "modes", "sizes", "n", "refs", "mask", "speed", "formats")
    table.columns[0].overflow = "fold"  # a model id is typed back: wrap it, never elide it
    for info in build_app().registry.models():
        c = info.capabilities
        table.add_row(
            info.id, info.engine, ", ".join(sorted(m.value for m in c.modes)),
            f"{len(c.aspect_ratios)} ratios x {'/'.join(t.value for t in Tier if t in c.tiers)}"
            + (", any WxH" if c.explicit_sizes else "") + f", max {c.max_edge}px",
            f"1-{c.n_max}", str(c.max_references), "yes" if c.mask else "no", c.speed_class,
            ", ".join(sorted(f.value for f in c.formats)),
        )  # fmt: skip
    out.print(table)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


@models_app.command("scan")
def models_scan() -> None:
    """Scan the models folder: what loads, what does not, and why."""
    from pixelforge.engines.local.catalog import scan

    folder = Settings().resolved_models_dir
    catalog = scan(folder)
    table = Table("name", "kind", "family", "layout", "size", "path", title=str(folder))
    for e in catalog.entries:
        family = e.family + (f" ({e.variant})" if e.variant else "")
        table.add_row(e.name, e.kind, family, e.layout, _megabytes(e.size_bytes), str(e.path))
    out.print(table)
    for bad in catalog.rejected:
        err.print(f"rejected {bad.path}: {bad.reason}", markup=False)
    err.print(f"{len(catalog.entries)} model(s), {len(catalog.rejected)} rejected", style="dim")


@models_app.command("import")
def models_import(
    path: Annotated[Path, typer.Argument(help="A .safetensors file or a model folder.")],
    name: Annotated[str | None, typer.Option("--name", help="Model id to use.")] = None,
) -> None:
    """Check a local model and copy it into the models folder."""
    from pixelforge.engines.local.install import import_model

    try:
        entry = import_model(path, Settings().resolved_models_dir, name)
    except InvalidRequestError as exc:
        raise _as_cli(exc) from None
    out.print(f"{entry.name}: {entry.kind}, {entry.family}, {entry.path}", markup=False)


@models_app.command("pull")
def models_pull(
    repo: Annotated[str, typer.Argument(help="Hub repository id, OWNER/NAME.")],
    revision: Annotated[str | None, typer.Option("--revision")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Model id to use.")] = None,
) -> None:
    """Download a model (safetensors, configs, tokenizers only) where downloads are enabled."""
    from pixelforge.engines.local.install import pull_model

    settings = Settings()
    try:
        entry = pull_model(
            repo, settings.resolved_models_dir, allow_downloads=settings.allow_model_downloads,
            revision=revision, name=name,
        )  # fmt: skip
    except InvalidRequestError as exc:
        raise _as_cli(exc) from None
    out.print(f"{entry.name}: {entry.kind}, {entry.family}, {entry.path}", markup=False)


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


users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
credits_app = typer.Typer(help="Manage credits.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")


def _store() -> Store:
    return open_store()


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="The user's email (their sign-in name).")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user; the password comes from a prompt or --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = _store()
    try:
        user = store.accounts.create_user(email, password, "admin" if admin else "member")
    except InvalidRequestError as exc:
        raise _as_cli(exc) from None
    finally:
        store.db.dispose()
    out.print(f"{user.id} {user.email} {user.role}", markup=False)


@users_app.command("list")
def users_list() -> None:
    """List users with their role and balance."""
    store = _store()
    try:
        table = Table("id", "email", "role", "balance (USD)")
        for user in store.accounts.list_users():
            table.add_row(user.id, user.email, user.role,
                          str(from_micro(store.credits.balance(user.id))))  # fmt: skip
        out.print(table)
    finally:
        store.db.dispose()


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="Owner's email.")],
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "default",
    expires_days: Annotated[
        float | None, typer.Option("--expires-days", help="Expire after this many days.")
    ] = None,
    budget: Annotated[str | None, typer.Option("--budget", help="Spending cap in USD.")] = None,
) -> None:
    """Create an API key and print it once (it is stored only as a hash)."""
    store = _store()
    try:
        owner = store.accounts.user_by_email(user)
        expires = time.time() + expires_days * 86400 if expires_days else None
        cap = _usd(budget, "--budget") if budget is not None else None
        key, raw = store.accounts.create_key(owner.id, name, expires_at=expires, budget=cap)
    except (InvalidRequestError, NotFoundError) as exc:
        raise UsageError(f"--user: {exc.message}") from None
    finally:
        store.db.dispose()
    err.print(f"key {key.id} for {owner.email}; copy it now, it is not shown again:",
              markup=False)  # fmt: skip
    out.print(raw, markup=False)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")]) -> None:
    """Revoke an API key; it stops working at once."""
    store = _store()
    try:
        key = store.accounts.revoke_key(key_id, None)
    except NotFoundError as exc:
        raise UsageError(f"KEY_ID: {exc.message}") from None
    finally:
        store.db.dispose()
    out.print(f"revoked {key.id} ({key.name})", markup=False)


def _usd(text: str, option: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(
            f"{option}: {text!r} is not an amount; write USD like 10 or 2.50"
        ) from None
    if not value.is_finite() or value.as_tuple().exponent < -6:  # type: ignore[operator]
        raise UsageError(f"{option}: {text!r} is not an amount; at most 6 decimals")
    return to_micro(value)


@credits_app.command("grant")
def credits_grant(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    amount: Annotated[str, typer.Argument(help="USD, e.g. 10 or 2.50.")],
    note: Annotated[str, typer.Option("--note", help="Why (kept in the ledger).")] = "cli grant",
) -> None:
    """Grant credits to a user and print the new balance."""
    micro = _usd(amount, "AMOUNT")
    store = _store()
    try:
        user = store.accounts.user_by_email(email)
        balance = store.credits.grant(user.id, micro, note)
    except NotFoundError as exc:
        raise UsageError(f"EMAIL: {exc.message}") from None
    except InvalidRequestError as exc:
        raise UsageError(f"AMOUNT: {exc.message}") from None
    finally:
        store.db.dispose()
    out.print(f"{user.email} balance {from_micro(balance)} USD", markup=False)


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
    import json

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


def _read_file(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {str(path)!r} ({exc.strerror})") from None


def _file_format(data: bytes) -> OutputFormat:
    """The format of an image file by its first bytes (PNG when unsure)."""
    if data[:2] == b"\xff\xd8":
        return OutputFormat.JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return OutputFormat.WEBP
    return OutputFormat.PNG


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


thread_app = typer.Typer(
    help="Edit threads: multi-turn editing as a tree, in the same store as the server.",
    no_args_is_help=True,
)
app.add_typer(thread_app, name="thread")


def _container() -> Container:
    """The server's services on this install's store and engines, with no worker threads:
    the CLI runs its own jobs (see :func:`_run_job`)."""
    from pixelforge.api.container import Container
    from pixelforge.api.metrics import Metrics
    from pixelforge.bootstrap import default_engines

    settings = Settings()
    return Container.build(settings, default_engines(settings), Metrics(lambda: 0))


def _run_job(c: Container, job_id: str, what: str) -> Job:
    """Run ``job_id`` in this process (only that job: the queue's others are left to the
    server), or wait for the server that took it first; returns it finished."""
    from pixelforge.store.jobs import TERMINAL, new_id

    owner = new_id("cli")
    with err.status(what):
        while True:
            job = c.jobs.get(job_id)
            if job.status in TERMINAL:
                return job
            claimed = c.queue.claim_job(job_id, owner)
            if claimed is None:
                time.sleep(0.2)  # a server's worker holds it
                continue
            c.pool.runner.run(claimed)


def _thread_error(exc: PixelforgeError) -> UsageError:
    """A thread command's bad input, named by its argument or option."""
    param = exc.param or ""
    if param == "thread_id":
        return UsageError(f"THREAD_ID: {exc.message}")
    if param == "node_id":
        return UsageError(f"--node: {exc.message.removeprefix('node_id: ')}")
    if isinstance(exc, InvalidRequestError):
        return _as_cli(exc)
    return UsageError(exc.message)


@thread_app.command("start")
def thread_start(
    source: Annotated[
        str | None, typer.Argument(help="An image file, or an asset id of this store.")
    ] = None,
    prompt: Annotated[
        str | None, typer.Option("--prompt", help="Generate the first image instead.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model of the root (turns default to it).")
    ] = None,
    size: Annotated[str | None, typer.Option("--size", help="WIDTHxHEIGHT (--prompt).")] = None,
    seed: Annotated[str | None, typer.Option("--seed", help="Seed (--prompt).")] = None,
    title: Annotated[str | None, typer.Option("--title", help="A name for the thread.")] = None,
) -> None:
    """Start an edit thread from an image or a prompt; print its id."""
    from pixelforge.postprocess.encode import embedded_metadata
    from pixelforge.services.accounts import LOCAL

    if (source is None) == (prompt is None):
        raise UsageError("IMAGE_OR_ASSET: give an image file or asset id, or --prompt TEXT "
                         "(one of them)")  # fmt: skip
    c = _container()
    try:
        threads = c.edit_threads
        if prompt is not None:
            request = GenerationRequest(
                prompt=prompt, model=model or "compose",
                aspect_ratio=(suggest_aspect_ratio(prompt) if size is None else None) or "1:1",
                size=parse_size(size) if size else None,
                seed=_integer(seed, "seed") if seed is not None else None,
            )  # fmt: skip
            thread, _ = threads.start_from_request(request, LOCAL, title=title)
            root = threads.view(thread)["nodes"][0]
            job = _run_job(c, root["job_id"], "generating the first image")
            if job.status != "succeeded":
                raise EngineError(f"the first image failed: {(job.error or {}).get('message')}")
        else:
            assert source is not None
            path = Path(source)
            if model is not None:
                c.registry.resolve(model)  # before anything is stored
            if path.is_file():
                data = _read_file(path, "IMAGE_OR_ASSET")
                meta = embedded_metadata(data) or {}
                picture = load_image(data, param="image", name=path.name)
                served = {m.id for m in c.registry.models()}
                chosen = model or (meta.get("model") if meta.get("model") in served else None)
                known = meta.get("seed", "")
                asset = threads.import_asset(
                    picture, LOCAL, model=chosen or "compose", prompt=meta.get("prompt", ""),
                    seed=int(known) if known.isdigit() else None, name=path.name,
                )  # fmt: skip
                thread = threads.start_from_asset(asset.id, LOCAL, model=chosen, title=title)
            else:
                try:
                    thread = threads.start_from_asset(source, LOCAL, model=model, title=title)
                except NotFoundError:
                    raise UsageError(f"IMAGE_OR_ASSET: {source!r} is neither a file nor an "
                                     "asset id of this store") from None  # fmt: skip
    except InvalidRequestError as exc:
        raise _as_cli(exc) from None
    finally:
        c.stop()
    out.print(thread.id, markup=False)
    err.print(f'thread "{thread.title}": add turns with pixelforge thread turn {thread.id} '
              '"INSTRUCTION"', markup=False, style="dim")  # fmt: skip


@thread_app.command("turn")
def thread_turn(
    thread_id: Annotated[str, typer.Argument(help="The thread (thr_...).")],
    instruction: Annotated[str, typer.Argument(help="What to change.")],
    node: Annotated[
        str | None, typer.Option("--node", help="Node to edit: its # or id (default: newest).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model (default: the node's).")
    ] = None,
    mask: Annotated[
        Path | None, typer.Option("--mask", help="Mask PNG: transparent = area to edit.")
    ] = None,
    ref: Annotated[
        list[Path] | None, typer.Option("--ref", help="Reference image (repeatable).")
    ] = None,
    seed: Annotated[str | None, typer.Option("--seed", help="Seed.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write the image to this folder.")
    ] = None,
) -> None:
    """Apply an instruction to a node's image (a new node); print the node and its image."""
    from pixelforge.errors import JobStateError, PermissionDeniedError
    from pixelforge.services.accounts import LOCAL

    c = _container()
    try:
        threads = c.edit_threads
        nodes = threads.view(threads.get(thread_id, LOCAL))["nodes"]
        node_id = node
        if node is not None and node.isdigit():
            numbered = {n["position"]: n["id"] for n in nodes}
            if int(node) not in numbered:
                raise UsageError(f"--node: thread {thread_id!r} has no node #{node}; it has "
                                 f"#0 to #{max(numbered)}")  # fmt: skip
            node_id = numbered[int(node)]
        pending = next((n for n in nodes if n["id"] == (node_id or nodes[-1]["id"])), None)
        if pending is not None and pending["status"] in ("queued", "running"):
            # No server may be running: run the node's own job first, as a server would.
            _run_job(c, pending["job_id"], f"running node #{pending['position']} first")
        target = threads.target(thread_id, node_id, LOCAL)
        chosen = model or target.node.model
        refs = tuple(_read_ref(p, ReferenceRole.SUBJECT) for p in ref or [])
        edit_mask = None
        if mask is not None:
            edit_mask = load_mask(_read_file(mask, "--mask"), target.image, param="mask",
                                  name=mask.name)  # fmt: skip
        request = threads.edit_request(
            target, instruction, chosen, LOCAL, references=refs, mask=edit_mask,
            seed=_integer(seed, "seed") if seed is not None else None,
        )  # fmt: skip
        made, _ = threads.turn(target, request, LOCAL)
        assert made.job_id is not None
        job = _run_job(c, made.job_id, "running the turn")
        view = threads.node_view(made)
        written: list[Path] = []
        if out_dir is not None and view["asset_id"] is not None:
            written = _write_asset(c, view["asset_id"], out_dir, f"{thread_id}-{view['position']}")
    except (NotFoundError, JobStateError, PermissionDeniedError, InvalidRequestError) as exc:
        raise _thread_error(exc) from None
    finally:
        c.stop()
    if job.status != "succeeded":
        raise EngineError(f"node #{view['position']} ({view['id']}) {job.status}: "
                          f"{(job.error or {}).get('message')}")  # fmt: skip
    out.print(f"#{view['position']} {view['id']} {view['asset_id']}", markup=False)
    for path in written:
        out.print(str(path), markup=False)


def _write_asset(c: Container, asset_id: str, out_dir: Path, stem: str) -> list[Path]:
    """Write an asset's file into ``out_dir`` (as ``generate`` names files)."""
    from pixelforge.services.generate import EncodedImage, write_outputs

    asset = c.assets.get(asset_id)
    ext = "jpg" if asset.format == "jpeg" else asset.format
    image = EncodedImage(c.assets.data(asset), asset.seed or 0, ext, None, {}, asset.width,
                         asset.height)  # fmt: skip
    return write_outputs([image], out_dir, stem, sidecar_writer())


@thread_app.command("show")
def thread_show(
    thread_id: Annotated[str, typer.Argument(help="The thread (thr_...).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the tree as JSON.")] = False,
) -> None:
    """Print a thread's tree: each node's number, status, model, instruction and image."""
    import json

    from rich.text import Text
    from rich.tree import Tree

    from pixelforge.services.accounts import LOCAL

    c = _container()
    try:
        threads = c.edit_threads
        view = threads.view(threads.get(thread_id, LOCAL))
    except NotFoundError as exc:
        raise _thread_error(exc) from None
    finally:
        c.stop()
    if as_json:
        out.print(json.dumps(view, ensure_ascii=False, indent=2), markup=False)
        return
    nodes = {n["id"]: n for n in view["nodes"]}

    def label(n: dict[str, object]) -> Text:
        text = Text(f"#{n['position']} ", style="bold")
        text.append(f"{n['status']} ", style="green" if n["status"] == "succeeded" else "yellow")
        text.append(f"{n['model']} ")
        text.append(f"{n['asset_id'] or n['id']} ", style="dim")
        text.append(repr(str(n["instruction"])[:80]))
        return text

    tree = Tree(Text(f"{view['id']}  {view['title']}"))
    pending = [(tree, view["root_id"])] if view["root_id"] else []
    while pending:
        branch, node_id = pending.pop(0)
        here = branch.add(label(nodes[node_id]))
        pending.extend((here, child) for child in nodes[node_id]["children"])
    out.print(tree)


@thread_app.command("list")
def thread_list() -> None:
    """List this store's local threads (accounts off), newest first."""
    from pixelforge.services.accounts import LOCAL

    c = _container()
    try:
        page, _, counts = c.edit_threads.list_threads(LOCAL, limit=200)
    finally:
        c.stop()
    table = Table("title", "nodes", "created")
    table.add_column("id", no_wrap=True)
    for thread in page:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(thread.created_at))
        table.add_row(thread.title, str(counts.get(thread.id, 0)), created, thread.id)
    out.print(table)


app.command("text")(text_command)
app.command("upscale")(upscale_command)
app.command("inspect")(inspect_command)
app.command("export")(export_command)
app.add_typer(gallery_app, name="gallery")


@app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="The image to check (PNG, JPEG or WebP).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check an image's C2PA manifest and watermark; map the watermark to its asset.

    Exits 0 when the image is verified, signed or watermarked by this server, 1 when it is
    tampered with or carries no provenance we can read.
    """
    from pixelforge.services.verify import VerifyService

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"PATH: cannot read {str(path)!r} ({exc.strerror or exc})") from None
    db = _store().db  # the local store: where this machine's assets and their marks are
    try:
        report = VerifyService(db).verify(data)
    except InvalidRequestError as exc:
        raise UsageError(f"PATH: {exc.message.removeprefix('image: ')}") from None
    finally:
        db.dispose()
    if as_json:
        out.print_json(json.dumps(report))
    else:
        c2pa, mark = report["c2pa"], report["watermark"]
        table = Table(show_header=False, title=f"{path.name}: {report['verdict']}")
        state = c2pa["state"] if c2pa["present"] else "no manifest"
        if c2pa["present"] and c2pa["valid"] and not c2pa["trusted"]:
            state += " (signer not on a trust list)"
        table.add_row("C2PA", state)
        if c2pa["present"]:
            table.add_row("signed by", str(c2pa["signer"]))
            table.add_row("model", str(c2pa["model"]))
            table.add_row("AI-generated", "yes" if c2pa["ai_generated"] else "not stated")
            table.add_row("actions", ", ".join(c2pa["actions"]) or "-")
            for ing in c2pa["ingredients"]:
                kept = " (with its own manifest)" if ing["has_manifest"] else ""
                table.add_row("ingredient", escape(f"{ing['title']} [{ing['relationship']}]{kept}"))
            for failure in c2pa["failures"]:
                table.add_row("failure", escape(failure))
        table.add_row("watermark", f"id {mark['id']}" if mark["found"] else "not found")
        for asset in mark["assets"]:
            what = f"{asset['id']} ({asset['model']})" if asset["visible"] else "another user's"
            table.add_row("asset", what + (" [deleted]" if asset["deleted"] else ""))
        out.print(table)
    if report["verdict"] in ("tampered", "unknown"):
        raise typer.Exit(1)


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
