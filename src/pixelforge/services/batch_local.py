"""A batch run in-process (``pixelforge batch run``), resumable after an interruption.

The run writes into one folder: ``images/<custom_id>-<k>.<ext>`` for every image,
``output.jsonl`` (one line per request that succeeded, the server's output-line format, with
each image's ``file`` instead of its base64) and ``errors.jsonl`` (this run's failures). Each
result is appended as soon as it is done and flushed to disk (``fsync``) after its images,
so an interruption loses at most the request that was running. A second run over the same
folder skips every ``custom_id`` already in ``output.jsonl`` (a torn last line is cut off
first) and retries the ones that failed: the output ends with exactly one line per request.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pixelforge.errors import PixelforgeError
from pixelforge.services import batch_lines as lines
from pixelforge.services.batch_output import image_stem
from pixelforge.services.batches import BatchLine
from pixelforge.services.generate import EncodedImage, GenerateService
from pixelforge.services.pricing import PriceTable, charge_for

OUTPUT, ERRORS, IMAGES = "output.jsonl", "errors.jsonl", "images"


@dataclass(frozen=True, slots=True)
class LocalSummary:
    skipped: int
    succeeded: int
    failed: int
    cost: int
    """What the requests that succeeded in this run cost at the batch price, in micro-USD."""


class OutputLog:
    """An append-only JSONL file whose every line is on disk before the next is written."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def custom_ids(self) -> set[str]:
        """The custom_ids already written, after cutting off a torn (unterminated) last line."""
        if not self.path.exists():
            return set()
        data = self.path.read_bytes()
        whole = data[: data.rfind(b"\n") + 1]
        if len(whole) != len(data):
            with self.path.open("r+b") as fh:
                fh.truncate(len(whole))
                os.fsync(fh.fileno())
        done = set()
        for raw in whole.decode("utf-8").splitlines():
            if raw.strip():
                done.add(str(json.loads(raw)["custom_id"]))
        return done

    def append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (temp file, fsync, rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pixelforge-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_batch(
    items: Sequence[BatchLine], service: GenerateService, prices: PriceTable, out_dir: Path,
    on_done: Callable[[BatchLine, str | None], None] = lambda item, error: None,
) -> LocalSummary:  # fmt: skip
    """Run every request not yet in ``out_dir/output.jsonl``, one after another.

    ``on_done(item, error)`` is called after each request (``error`` None when it succeeded).
    A request that fails is recorded in ``errors.jsonl`` and the run goes on.
    """
    (out_dir / IMAGES).mkdir(parents=True, exist_ok=True)
    output, errors = OutputLog(out_dir / OUTPUT), OutputLog(out_dir / ERRORS)
    done = output.custom_ids()
    errors.path.unlink(missing_ok=True)  # this run retries them
    taken: set[str] = set()
    stems = {item.line: image_stem(item.custom_id, item.line, taken) for item in items}
    succeeded = failed = cost = 0
    for item in items:
        if item.custom_id in done:
            continue
        line_id = f"batch_req_line{item.line}"
        try:
            result, images, _ = service.run(item.request)
        except PixelforgeError as exc:
            error = {"code": exc.code, "message": exc.message, "type": exc.type, "param": exc.param}
            errors.append(lines.failure_line(line_id, item.custom_id, None,
                                             lines.status_of(error), error))  # fmt: skip
            failed += 1
            on_done(item, exc.message)
            continue
        data = _save(images, out_dir, stems[item.line])
        body = lines.images_body(time.time(), data,
                                 lines.response_fields(item.request, item.response_format))  # fmt: skip
        output.append(lines.success_line(line_id, item.custom_id, None, body))
        infos = [img.info for img in result.images]
        charge = charge_for(prices.price(item.request, batch=True),
                            prices.usage_cost(item.request.model, infos, batch=True), len(images))  # fmt: skip
        cost += charge.total or 0
        succeeded += 1
        on_done(item, None)
    skipped = sum(1 for item in items if item.custom_id in done)
    return LocalSummary(skipped, succeeded, failed, cost)


def _save(images: Sequence[EncodedImage], out_dir: Path, stem: str) -> list[dict[str, str | None]]:
    data: list[dict[str, str | None]] = []
    for k, img in enumerate(images, start=1):
        name = f"{IMAGES}/{stem}-{k}.{img.extension}"
        _write(out_dir / name, img.data)
        data.append({"file": name, "revised_prompt": None})
    return data
