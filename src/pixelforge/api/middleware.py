"""Request ids, access logs, metrics, body-size limit and baseline headers (pure ASGI)."""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixelforge.api.metrics import Metrics

log = logging.getLogger("pixelforge.access")

#: On every response. The CSP allows only our own scripts, styles and images (the studio
#: serves everything locally), blob:/data: images for previews, and no framing.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
]


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_body: int) -> None:
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = "req_" + secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = [500]
        headers_in = dict(scope.get("headers") or [])
        length = headers_in.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _too_large(send, rid, self.max_body)
            return

        received = 0

        async def limited_receive() -> Message:
            # Chunked bodies carry no Content-Length: count the bytes as they arrive.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise HTTPException(
                        413, f"request body is too large; at most {self.max_body} bytes"
                    )
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                # FastAPI's interactive docs page uses inline script: no CSP on that page.
                docs = scope["path"] in ("/docs", "/redoc")
                headers += SECURITY_HEADERS[:3] if docs else SECURITY_HEADERS
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                limits = scope.get("state", {}).get("ratelimit_headers") or {}
                headers += [(k.encode(), v.encode()) for k, v in limits.items()]
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(scope["method"], path, str(status[0])).inc()
            self.metrics.request_seconds.labels(path).observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(json.dumps({
                    "request_id": rid, "method": scope["method"], "path": scope["path"],
                    "status": status[0], "ms": round(elapsed * 1000, 2),
                }))  # fmt: skip


async def _too_large(send: Send, rid: str, limit: int) -> None:
    body: dict[str, Any] = {"error": {
        "message": f"request body is too large; at most {limit} bytes",
        "type": "invalid_request_error", "param": None, "code": "request_too_large",
    }}  # fmt: skip
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
        (b"x-request-id", rid.encode()), *SECURITY_HEADERS,
    ]})  # fmt: skip
    await send({"type": "http.response.body", "body": data})
