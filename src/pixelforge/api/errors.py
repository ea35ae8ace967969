"""One place that turns errors into OpenAI-style bodies with the right status."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pixelforge.errors import PixelforgeError, RateLimitedError

log = logging.getLogger("pixelforge.api")

_STATUS_TYPES = {
    400: ("invalid_request_error", "invalid_value"),
    401: ("authentication_error", "missing_api_key"),
    403: ("permission_error", "forbidden"),
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    409: ("conflict_error", "conflict"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    422: ("invalid_request_error", "invalid_value"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def error_response(
    status: int, message: str, type_: str, code: str | None, param: str | None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:  # fmt: skip
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _param(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or None


def install(app: FastAPI) -> None:
    @app.exception_handler(PixelforgeError)
    async def _ours(_: Request, exc: PixelforgeError) -> JSONResponse:
        final = (400, 401, 402, 403, 404, 413, 415, 422)
        headers = {"x-should-retry": "false"} if exc.status in final else {}
        if exc.status == 409:
            headers["Retry-After"] = "1"
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimitedError):
            headers |= exc.headers
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
            headers["retry-after-ms"] = str(math.ceil(exc.retry_after * 1000))
        return error_response(exc.status, exc.message, exc.type, exc.code, exc.param, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = _param(tuple(first.get("loc", ())))
        value = first.get("input")
        shown = "" if value is None or isinstance(value, dict) else f" (got {str(value)[:80]!r})"
        message = f"{param or 'request'}: {first.get('msg', 'invalid value')}{shown}"
        code = "missing_required_parameter" if first.get("type") == "missing" else "invalid_value"
        return error_response(400, message, "invalid_request_error", code, param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_, code = _STATUS_TYPES.get(exc.status_code, ("server_error", "internal_error"))
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(exc.status_code, detail, type_, code, None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = getattr(request.state, "request_id", "")
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return error_response(
            500, f"The server had an error processing the request (request id {rid}).",
            "server_error", "internal_error", None,
        )  # fmt: skip
