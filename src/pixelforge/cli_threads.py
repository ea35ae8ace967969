"""``pixelforge thread``: edit threads on the same store as the server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from pixelforge.cli_export import sidecar_writer
from pixelforge.cli_support import (
    UsageError,
    _as_cli,
    _integer,
    _read_file,
    _read_ref,
    err,
    out,
)
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest, parse_size
from pixelforge.domain.request import (
    ReferenceRole,
)
from pixelforge.engines.compose.parse import suggest_aspect_ratio
from pixelforge.errors import EngineError, InvalidRequestError, NotFoundError, PixelforgeError
from pixelforge.services.images import load_image, load_mask

if TYPE_CHECKING:
    from pixelforge.api.container import Container
    from pixelforge.store.models import Job
from pixelforge.api.container import Container
from pixelforge.store.models import Job

thread_app = typer.Typer(
    help="Edit threads: multi-turn editing as a tree, in the same store as the server.",
    no_args_is_help=True,
)


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
