"""A finished batch's files: the output JSONL, the error JSONL and a zip of its images.

Everything here is a function of the batch's rows (requests, jobs, assets) and the blobs, in
input-line order, so building it twice gives the same bytes (and the same blob keys): a
finalization that is retried after a crash, or run by two servers at once, cannot produce
two different outputs.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pixelforge.domain import OutputFormat
from pixelforge.services import batch_lines as lines
from pixelforge.store.jobs import CANCELED, SUCCEEDED
from pixelforge.store.models import Asset

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(slots=True)
class Row:
    """One input line with the outcome of its job."""

    line: int
    custom_id: str
    job_id: str
    response: dict[str, Any]
    status: str
    error: dict[str, Any] | None
    created_at: float
    assets: list[Asset] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Outputs:
    """The bytes of each file to write (None: no such file), and the counts."""

    output: bytes | None
    errors: bytes | None
    images: bytes | None
    succeeded: int
    failed: int


def build(
    rows: Sequence[Row], read: Callable[[str], bytes], base_url: str, ending: str,
    created_at: float,
) -> Outputs:  # fmt: skip
    """The files of a batch whose jobs all ended. ``ending`` (``completed``, ``cancelled`` or
    ``expired``) names why requests that never ran did not."""
    out: list[str] = []
    failed: list[str] = []
    for row in rows:
        line_id = lines.request_id(row.job_id)
        if row.status == SUCCEEDED:
            data = [_item(a, row.response["response_format"], read, base_url) for a in row.assets]
            body = lines.images_body(row.created_at, data, row.response)
            out.append(lines.success_line(line_id, row.custom_id, row.job_id, body))
        elif row.status == CANCELED:
            code, message = _skipped(ending)
            failed.append(lines.skipped_line(line_id, row.custom_id, code, message))
        else:
            error = row.error or {"code": "engine_error", "message": "generation failed",
                                  "type": "server_error"}  # fmt: skip
            failed.append(lines.failure_line(line_id, row.custom_id, row.job_id,
                                             lines.status_of(error), error))  # fmt: skip
    return Outputs(
        "".join(out).encode() if out else None, "".join(failed).encode() if failed else None,
        _zip(rows, read, created_at) if out else None, len(out), len(failed),
    )  # fmt: skip


def _item(
    asset: Asset, response_format: str, read: Callable[[str], bytes], base: str
) -> dict[str, Any]:
    if response_format == "url":
        return {"url": f"{base}/api/assets/{asset.id}/file", "revised_prompt": None}
    return {"b64_json": base64.b64encode(read(asset.blob_key)).decode(), "revised_prompt": None}


def _skipped(ending: str) -> tuple[str, str]:
    if ending == "expired":
        return "batch_expired", "the batch expired (24h) before this request ran"
    if ending == "cancelled":
        return "batch_cancelled", "the batch was cancelled before this request ran"
    return "job_cancelled", "this request's job was cancelled"


def image_stem(custom_id: str, line: int, taken: set[str]) -> str:
    """A file-name-safe stem for a request's images: its custom_id, or with ``-line<N>`` when
    two custom_ids look the same once unsafe characters are replaced."""
    stem = _UNSAFE.sub("_", custom_id).strip("._")[:100] or "request"
    if stem in taken:
        stem = f"{stem}-line{line}"
    taken.add(stem)
    return stem


def _zip(rows: Sequence[Row], read: Callable[[str], bytes], created_at: float) -> bytes:
    """``images/<custom_id>-<k>.<ext>`` for every image, and ``manifest.json`` saying which
    file is which request's (stored, not deflated: the images are compressed already)."""
    stamp = time.gmtime(max(created_at, 315532800.0))[:6]  # zip dates start in 1980
    buf = io.BytesIO()
    manifest: list[dict[str, Any]] = []
    taken: set[str] = set()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for row in rows:
            if row.status != SUCCEEDED:
                continue
            stem = image_stem(row.custom_id, row.line, taken)
            names = []
            for k, asset in enumerate(row.assets, start=1):
                name = f"images/{stem}-{k}.{OutputFormat(asset.format).extension}"
                archive.writestr(_entry(name, stamp), read(asset.blob_key))
                names.append(name)
            manifest.append({"custom_id": row.custom_id, "line": row.line,
                             "request_id": row.job_id, "files": names,
                             "asset_ids": [a.id for a in row.assets]})  # fmt: skip
        text = json.dumps({"object": "batch.images", "requests": manifest}, indent=1)
        archive.writestr(_entry("manifest.json", stamp), text)
    return buf.getvalue()


def _entry(name: str, stamp: tuple[int, ...]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, stamp)  # type: ignore[arg-type]
    info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped
    return info
