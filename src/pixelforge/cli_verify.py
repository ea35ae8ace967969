"""``pixelforge verify``: an image's C2PA manifest and watermark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pixelforge.cli_support import (
    UsageError,
    _store,
    out,
)
from pixelforge.errors import InvalidRequestError

if TYPE_CHECKING:
    pass


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
