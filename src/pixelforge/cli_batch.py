"""``pixelforge batch run``: a Batch API JSONL file run in-process, with a progress bar,
resumable after an interruption (see ``services.batch_local``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

batch_app = typer.Typer(help="Run Batch API files (JSONL of image requests).",
                        no_args_is_help=True)  # fmt: skip


def _describe(path: Path, line: int | None, param: str | None, message: str) -> str:
    """``FILE line N: body.size: <why>``: the line, the field and the reason, once each."""
    where = f"{path.name} line {line}" if line is not None else path.name
    if param is None:
        return f"{where}: {message}"
    bare = param.removeprefix("body.")
    for prefix in (param, bare):
        if message.startswith(f"{prefix}: "):
            message = message[len(prefix) + 2 :]
            break
    return f"{where}: {param}: {message}"


@batch_app.command("run")
def batch_run(
    requests: Annotated[Path, typer.Argument(help="JSONL: one request object per line.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: <file>-output).")
    ] = None,
) -> None:
    """Run every request of a batch file locally; a rerun resumes where the last one stopped."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pixelforge.api.batch_bodies import check_lines, line_request
    from pixelforge.cli_support import UsageError, build_app, err, out
    from pixelforge.domain import GenerationRequest
    from pixelforge.errors import EngineError
    from pixelforge.services.batch_lines import RawLine, read_lines
    from pixelforge.services.batch_local import ERRORS, OUTPUT, OutputLog, run_batch
    from pixelforge.services.batches import BatchLine
    from pixelforge.services.pricing import PriceTable, from_micro

    try:
        data = requests.read_bytes()
    except OSError as exc:
        raise UsageError(f"REQUESTS: cannot read {str(requests)!r} ({exc.strerror})") from None
    built = build_app()
    raw, errors = read_lines(data, None, built.settings.batch_max_requests)

    def convert(line: RawLine) -> tuple[GenerationRequest, str]:
        return line_request(line.url, line.body, built.registry, built.generate.check)

    items: list[BatchLine] = []
    if all(e.line is not None for e in errors):  # a file-level error: the lines do not matter
        items, bad = check_lines(raw, convert)
        errors = sorted([*errors, *bad], key=lambda e: e.line or 0)
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UsageError(_describe(requests, first.line, first.param, first.message) + more)
    target = out_dir or requests.with_name(f"{requests.stem}-output")
    already = OutputLog(target / OUTPUT).custom_ids()
    prices = PriceTable.load(built.settings.prices_file, built.settings.local_price_per_image)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err, transient=True,
    ) as bar:  # fmt: skip
        skipped = sum(1 for item in items if item.custom_id in already)
        task = bar.add_task(requests.name, total=len(items), completed=skipped)

        def done(item: BatchLine, error: str | None) -> None:
            bar.advance(task)

        try:
            summary = run_batch(items, built.generate, prices, target, done)
        except KeyboardInterrupt:
            err.print(f"interrupted; the results so far are in {target / OUTPUT}: run the "
                      "same command again to resume", markup=False)  # fmt: skip
            raise
        bar.update(task, completed=len(items))
    out.print(str(target / OUTPUT), markup=False)
    err.print(
        f"{summary.succeeded} done, {summary.skipped} already done, {summary.failed} failed; "
        f"cost ${from_micro(summary.cost)} at the batch price", style="dim",
    )  # fmt: skip
    if summary.failed:
        raise EngineError(f"{summary.failed} of {len(items)} requests failed; see "
                          f"{target / ERRORS}, then run again to retry them")  # fmt: skip
