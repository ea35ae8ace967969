"""A batch's input and output lines (the OpenAI Batch API's JSONL formats), with no I/O.

Input, one request per line::

    {"custom_id": "poster-1", "method": "POST", "url": "/v1/images/generations",
     "body": {"prompt": "...", "size": "1024x1024"}}

Output, one line per request that succeeded (the ``body`` is the endpoint's
``ImagesResponse``) and, in the error file, one per request that did not::

    {"id": "batch_req_...", "custom_id": "poster-1",
     "response": {"status_code": 200, "request_id": "job_...", "body": {...}}, "error": null}
    {"id": "batch_req_...", "custom_id": "poster-2", "response": null,
     "error": {"code": "batch_cancelled", "message": "..."}}

:func:`read_lines` checks everything but the bodies (those go through the endpoint's own
schema, in the API layer) and reports each problem with its line number and field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pixelforge.domain import GenerationRequest

ENDPOINTS = ("/v1/images/generations", "/v1/images/edits")
Endpoint = Literal["/v1/images/generations", "/v1/images/edits"]
LINE_FIELDS = ("custom_id", "method", "url", "body")
MAX_CUSTOM_ID = 255
#: At most this many line errors are listed on a failed batch.
MAX_ERRORS = 100

_ZERO_USAGE = {
    "input_tokens": 0, "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
    "output_tokens": 0, "output_tokens_details": {"image_tokens": 0, "text_tokens": 0},
    "total_tokens": 0,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RawLine:
    """One well-formed input line; its ``body`` is not checked yet."""

    line: int
    custom_id: str
    url: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LineError:
    """Why the input was refused: the line (None for the whole file), the field, the reason."""

    line: int | None
    code: str
    message: str
    param: str | None = None

    def view(self) -> dict[str, Any]:
        return {"code": self.code, "line": self.line, "message": self.message,
                "param": self.param}  # fmt: skip


def read_lines(
    data: bytes, endpoint: str | None, max_requests: int
) -> tuple[list[RawLine], list[LineError]]:
    """Parse a JSONL input: every request line, or every error found (line numbers are the
    file's, from 1; blank lines are skipped). ``endpoint`` None accepts either endpoint
    (the CLI); otherwise each line's ``url`` must equal it."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [LineError(None, "invalid_file", f"the file is not UTF-8 text (byte "
                              f"{exc.start}); save it as UTF-8 JSONL")]  # fmt: skip
    lines: list[RawLine] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parsed = _one(raw, number, endpoint, seen)
        if isinstance(parsed, LineError):
            errors.append(parsed)
        else:
            seen[parsed.custom_id] = number
            lines.append(parsed)
    if not lines and not errors:
        errors.append(LineError(None, "empty_file", "the file has no request lines; write one "
                                "JSON request per line"))  # fmt: skip
    if len(lines) + len(errors) > max_requests:
        errors.insert(0, LineError(
            None, "too_many_requests", f"the file has {len(lines) + len(errors)} requests; a "
            f"batch takes at most {max_requests} (split it into several batches)",
        ))  # fmt: skip
    return lines, errors


def _one(raw: str, n: int, endpoint: str | None, seen: dict[str, int]) -> RawLine | LineError:
    try:
        item = json.loads(raw)
    except ValueError as exc:
        return LineError(n, "invalid_json_line", f"not valid JSON ({exc}); write one JSON "
                         "object per line")  # fmt: skip
    if not isinstance(item, dict):
        return LineError(n, "invalid_json_line", f"a JSON {type(item).__name__}, not an object "
                         "with custom_id, method, url and body")  # fmt: skip
    unknown = sorted(set(item) - set(LINE_FIELDS))
    if unknown:
        return LineError(n, "invalid_value", f"{unknown[0]}: unknown field; allowed: "
                         f"{', '.join(LINE_FIELDS)}", unknown[0])  # fmt: skip
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return LineError(n, "missing_required_parameter", "custom_id: each line needs a "
                         f"non-empty string custom_id; got {custom_id!r}", "custom_id")  # fmt: skip
    if len(custom_id) > MAX_CUSTOM_ID:
        return LineError(n, "invalid_value", f"custom_id: {len(custom_id)} characters; at most "
                         f"{MAX_CUSTOM_ID}", "custom_id")  # fmt: skip
    if custom_id in seen:
        return LineError(n, "duplicate_custom_id", f"custom_id: {custom_id!r} is already used "
                         f"on line {seen[custom_id]}; each line needs its own", "custom_id")  # fmt: skip
    method = item.get("method")
    if method != "POST":
        return LineError(n, "invalid_value", f"method: {method!r} is not allowed; allowed: "
                         "POST", "method")  # fmt: skip
    url = item.get("url")
    if endpoint is not None and url != endpoint:
        return LineError(n, "mismatched_url", f"url: {url!r} is not this batch's endpoint; "
                         f"every line must use {endpoint!r}", "url")  # fmt: skip
    if url not in ENDPOINTS:
        return LineError(n, "invalid_value", f"url: {url!r} is not allowed; allowed: "
                         f"{', '.join(ENDPOINTS)}", "url")  # fmt: skip
    body = item.get("body")
    if not isinstance(body, dict):
        return LineError(n, "invalid_value", f"body: the request body must be a JSON object; "
                         f"got {type(body).__name__}", "body")  # fmt: skip
    return RawLine(n, custom_id, str(url), body)


def response_fields(request: GenerationRequest, response_format: str) -> dict[str, Any]:
    """The fixed fields of a request's ``ImagesResponse`` (as the images endpoints answer)."""
    size = request.output_size
    return {
        "response_format": response_format,
        "background": "transparent" if request.background.value == "transparent" else "opaque",
        "output_format": request.output_format.value,
        "quality": "medium" if request.quality.value == "auto" else request.quality.value,
        "size": f"{size.width}x{size.height}",
    }


def images_body(
    created: float, data: list[dict[str, Any]], fields: dict[str, Any]
) -> dict[str, Any]:
    """An ``ImagesResponse``: ``data`` items plus the fields from :func:`response_fields`."""
    return {
        "created": int(created), "data": data, "background": fields["background"],
        "output_format": fields["output_format"], "quality": fields["quality"],
        "size": fields["size"], "usage": _ZERO_USAGE,
    }  # fmt: skip


def request_id(job_id: str) -> str:
    """The output line id of a request: ``batch_req_`` and its job's hex."""
    return "batch_req_" + job_id.removeprefix("job_")


def success_line(line_id: str, custom_id: str, job_id: str | None, body: dict[str, Any]) -> str:
    out = {"id": line_id, "custom_id": custom_id,
           "response": {"status_code": 200, "request_id": job_id, "body": body}, "error": None}  # fmt: skip
    return json.dumps(out, separators=(",", ":")) + "\n"


def failure_line(
    line_id: str, custom_id: str, job_id: str | None, status: int, error: dict[str, Any]
) -> str:
    """A request that ran and failed: its status code and the OpenAI error body."""
    body = {"error": {"message": error.get("message"), "type": error.get("type"),
                      "param": error.get("param"), "code": error.get("code")}}  # fmt: skip
    out = {"id": line_id, "custom_id": custom_id,
           "response": {"status_code": status, "request_id": job_id, "body": body}, "error": None}  # fmt: skip
    return json.dumps(out, separators=(",", ":")) + "\n"


def skipped_line(line_id: str, custom_id: str, code: str, message: str) -> str:
    """A request that never ran (the batch was cancelled or expired first)."""
    out = {"id": line_id, "custom_id": custom_id, "response": None,
           "error": {"code": code, "message": message}}  # fmt: skip
    return json.dumps(out, separators=(",", ":")) + "\n"


def status_of(error: dict[str, Any]) -> int:
    """The HTTP status the synchronous endpoint would have answered for a job's error."""
    code = str(error.get("code") or "")
    if code in ("content_policy_violation", "moderation_blocked"):
        return 400
    return 400 if error.get("type") == "invalid_request_error" else 500
