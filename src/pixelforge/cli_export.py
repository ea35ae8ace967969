"""``pixelforge inspect``, ``pixelforge export`` and ``pixelforge gallery export``: read an
image's settings back, re-encode an image, and zip the local store's gallery (the server's
database and blob folder, as the local user: every asset there).

Also the ``--sidecar`` writer the generating commands pass to ``write_outputs``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pixelforge.domain import OutputFormat
    from pixelforge.errors import InvalidRequestError
    from pixelforge.postprocess.chain import OutputChain
    from pixelforge.services.generate import EncodedImage

gallery_app = typer.Typer(help="Your gallery: export it as a zip.", no_args_is_help=True)

#: Request field -> the option that sets it, for error messages.
_OPTION_OF = {"format": "--format", "quality": "--quality", "background": "--background",
              "since": "--since", "until": "--until", "asset_ids": "--id", "filter": "--model",
              "image": "FILE"}  # fmt: skip


def _usage(exc: InvalidRequestError) -> Exception:
    from pixelforge.cli_support import UsageError

    root = (exc.param or "").split(".")[-1].split("[")[0]
    option = _OPTION_OF.get(root, f"--{root}" if root else "FILE")
    message = exc.message
    for prefix in (exc.param, root):
        if prefix and message.startswith(f"{prefix}: "):
            message = message[len(prefix) + 2 :]
            break
    return UsageError(f"{option}: {message}")


def sidecar_writer(flag: bool = False) -> Callable[[EncodedImage, str], bytes] | None:
    """The JSON sidecar maker for ``write_outputs`` when ``--sidecar`` or the
    ``metadata_sidecar`` setting asks for one (None otherwise)."""
    from pixelforge.config import Settings
    from pixelforge.services.metadata import output_sidecar

    settings = Settings()
    if not (flag or settings.metadata_sidecar):
        return None
    return partial(output_sidecar, prompt_metadata=settings.prompt_metadata)


def _read(path: Path) -> bytes:
    from pixelforge.cli_support import UsageError

    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"FILE: cannot read {str(path)!r} ({exc.strerror or exc})") from None


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temp file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pixelforge-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).chmod(0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def inspect_command(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A PNG, JPEG or WebP.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
) -> None:
    """Show the generation settings an image carries: Pixelforge's, AUTOMATIC1111's,
    ComfyUI's, InvokeAI's or NovelAI's, and a request that runs it again."""
    from rich.table import Table

    from pixelforge.cli_support import build_app, out
    from pixelforge.errors import InvalidRequestError
    from pixelforge.services.metadata import inspect

    data = _read(path)
    app = build_app()
    served = {m.id: m.capabilities.options_type for m in app.registry.models()}
    try:
        found = inspect(data, served, app.settings.max_upload_bytes)
    except InvalidRequestError as exc:
        raise _usage(exc) from None
    if as_json:
        out.print_json(json.dumps(found.as_dict()))
        return
    table = Table(show_header=False, title=f"{path.name}: {found.source}")
    table.add_row("image", f"{found.format}, {found.width}x{found.height}")
    for label, value in (
        ("prompt", found.prompt), ("negative prompt", found.negative_prompt),
        ("seed", found.seed), ("steps", found.steps), ("guidance", found.guidance),
        ("sampler", found.sampler), ("size", found.size), ("model", found.model),
    ):  # fmt: skip
        if value is not None:
            table.add_row(label, str(value))
    for warning in found.warnings:
        table.add_row("warning", warning)
    table.add_row("request", json.dumps(found.request, ensure_ascii=False))
    out.print(table)


def export_command(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A PNG, JPEG or WebP.")],
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="png, jpeg or webp (default: FILE's).")
    ] = None,
    quality: Annotated[str | None, typer.Option("--quality", "-q", help="1-100 (92).")] = None,
    background: Annotated[
        str | None, typer.Option("--background", help="auto, transparent or #rrggbb.")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("."),
    sidecar: Annotated[bool, typer.Option("--sidecar", help="Also write NAME.json.")] = False,
) -> None:
    """Re-encode an image (sRGB, alpha or background, metadata kept, re-signed when it has
    content credentials) and print the path written."""
    from pixelforge.bootstrap import output_chain
    from pixelforge.cli_support import out
    from pixelforge.config import Settings
    from pixelforge.errors import InvalidRequestError
    from pixelforge.postprocess import provenance
    from pixelforge.services import metadata
    from pixelforge.services.export import export_bytes, export_options

    data = _read(path)
    settings = Settings()
    try:
        options = export_options(fmt, quality, background)
        meta = metadata.file_meta(data, settings.max_upload_bytes)
        signed = settings.provenance and provenance.read(data).present
        chain = output_chain(settings) if signed else _unsigned(settings.prompt_metadata)
        target = out_dir / f"{path.stem}.{(options.format or _format_of(data)).extension}"
        if target.resolve() == path.resolve():
            target = target.with_name(f"{path.stem}-export{target.suffix}")
        exported, _ = export_bytes(
            data, options, meta, chain, model=meta.get("model") or "unknown",
            title=target.name, source_name=path.name, max_pixels=settings.max_image_pixels,
        )  # fmt: skip
    except InvalidRequestError as exc:
        raise _usage(exc) from None
    files = [(target, exported)]
    if sidecar or settings.metadata_sidecar:
        size = metadata.read_fields(exported, len(exported))
        document = metadata.sidecar(meta, exported, target.name, width=size.width,
                                    height=size.height, prompt_metadata=settings.prompt_metadata)  # fmt: skip
        files.append((target.with_suffix(".json"), metadata.sidecar_json(document)))
    for file_path, payload in files:
        _write(file_path, payload)
        out.print(str(file_path), markup=False)


def _format_of(data: bytes) -> OutputFormat:
    from pixelforge.domain import OutputFormat
    from pixelforge.postprocess.provenance import sniff_format

    return OutputFormat(sniff_format(data) or "png")


def _unsigned(prompt_metadata: bool) -> OutputChain:
    from pixelforge.postprocess.chain import OutputChain

    return OutputChain(None, watermark=False, prompt_metadata=prompt_metadata)


@gallery_app.command("export")
def gallery_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The zip to write.")] = Path(
        "pixelforge-export.zip"
    ),
    model: Annotated[str | None, typer.Option("--model", "-m", help="Only this model.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Created at or after: YYYY-MM-DD or ISO time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Created before: YYYY-MM-DD or ISO time.")
    ] = None,
    asset_id: Annotated[
        list[str] | None, typer.Option("--id", help="Only this asset (repeatable).")
    ] = None,
) -> None:
    """Zip the local gallery: images, their JSON sidecars and manifest.json."""
    from pixelforge.bootstrap import open_store, output_chain
    from pixelforge.cli_support import UsageError, err, out
    from pixelforge.config import Settings
    from pixelforge.errors import InvalidRequestError, NotFoundError
    from pixelforge.services.assets import AssetService
    from pixelforge.services.export import ExportService, GalleryFilter, parse_time
    from pixelforge.store.blobs import LocalBlobStore

    if asset_id and (model or since or until):
        raise UsageError("--id: give asset ids or --model/--since/--until, not both")
    settings = Settings()
    store = open_store(settings)
    try:
        service = ExportService(AssetService(store.db, LocalBlobStore(settings.blob_dir)),
                                output_chain(settings), settings.max_image_pixels)  # fmt: skip
        where = None
        if not asset_id:
            where = GalleryFilter(model, parse_time(since, "since"), parse_time(until, "until"))
        chosen = service.select(asset_id or None, where)
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=".pixelforge-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in service.zip_stream(chosen):
                    fh.write(chunk)
            Path(tmp).chmod(0o644)
            os.replace(tmp, output)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except NotFoundError as exc:
        raise UsageError(f"--id: {exc.message.removeprefix('asset_ids: ')}") from None
    except InvalidRequestError as exc:
        raise _usage(exc) from None
    finally:
        store.db.dispose()
    out.print(str(output), markup=False)
    err.print(f"{len(chosen)} image(s)", style="dim")
