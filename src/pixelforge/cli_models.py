"""``pixelforge models``: list, scan, import and pull local models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from pixelforge.cli_support import (
    _as_cli,
    build_app,
    err,
    out,
)
from pixelforge.config import Settings
from pixelforge.domain import Tier
from pixelforge.errors import InvalidRequestError

if TYPE_CHECKING:
    pass

models_app = typer.Typer(help="List, scan, import and pull models.", invoke_without_command=True)


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
