"""A fake OpenAI Images API speaking the documented wire format, for the openai engine's tests.

``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart) answer
``{"created", "data": [{"b64_json"}], "usage", "size", ...}`` with real images of the asked
size. Behaviours are scripted with :meth:`FakeOpenAI.script` (consumed one per request, in
order); every request is recorded with its headers, JSON or form fields and files.
"""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image
from starlette.datastructures import UploadFile

from server_support import serving

MODERATION_BODY = {
    "error": {
        "message": "Your request was rejected by the safety system.",
        "type": "image_generation_user_error",
        "param": "",
        "code": "moderation_blocked",
    }
}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    fields: dict[str, Any]
    files: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)
    at: float = 0.0


@dataclass
class Behaviour:
    """One scripted answer: an error ``status`` with ``body``/``headers``, and/or a ``delay``."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: list[Behaviour] = []
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.post("/v1/images/generations")(self._generations)
        self.app.post("/v1/images/edits")(self._edits)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def rate_limited(self, times: int, retry_after_ms: int = 200) -> None:
        self.script(*[Behaviour(429, error_body("Rate limit reached", "rate_limit_exceeded"),
                                {"retry-after-ms": str(retry_after_ms)})] * times)  # fmt: skip

    def server_error(self, times: int = 1, headers: dict[str, str] | None = None) -> None:
        body = error_body("The server had an error", None, "server_error")
        self.script(*[Behaviour(500, body, headers or {})] * times)

    def moderation_blocked(self) -> None:
        self.script(Behaviour(400, MODERATION_BODY))

    def slow(self, delay: float) -> None:
        self.script(Behaviour(delay=delay))

    def _next(self, recorded: Recorded) -> Behaviour:
        with self._lock:
            self.requests.append(recorded)
            return self._script.pop(0) if self._script else Behaviour()

    async def _answer(self, recorded: Recorded) -> JSONResponse:
        behaviour = self._next(recorded)
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.status != 200:
            return JSONResponse(behaviour.body or {}, behaviour.status, behaviour.headers)
        fields = recorded.fields
        size = str(fields.get("size") or "1024x1024")
        width, height = (1024, 1024) if size == "auto" else map(int, size.split("x"))
        fmt = str(fields.get("output_format") or "png")
        n = int(fields.get("n") or 1)
        return JSONResponse({
            "created": int(time.time()),
            "background": "opaque",
            "output_format": fmt,
            "quality": "medium",
            "size": size,
            "data": [{"b64_json": image_b64(width, height, fmt, i)} for i in range(n)],
            "usage": {
                "input_tokens": 50, "output_tokens": 4000 * n, "total_tokens": 50 + 4000 * n,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": 50},
                "output_tokens_details": {"image_tokens": 4000 * n, "text_tokens": 0},
            },
        })  # fmt: skip

    async def _generations(self, request: Request) -> JSONResponse:
        fields = await request.json()
        return await self._answer(Recorded(request.url.path, dict(request.headers), fields,
                                           at=time.monotonic()))  # fmt: skip

    async def _edits(self, request: Request) -> JSONResponse:
        form = await request.form()
        fields: dict[str, Any] = {}
        files: dict[str, list[tuple[str, str, bytes]]] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                files.setdefault(key, []).append((value.filename or "", value.content_type or "",
                                                  data))  # fmt: skip
            else:
                fields[key] = value
        await form.close()
        return await self._answer(Recorded(request.url.path, dict(request.headers), fields,
                                           files, time.monotonic()))  # fmt: skip


def error_body(message: str, code: str | None, kind: str = "requests") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def image_b64(width: int, height: int, fmt: str, index: int) -> str:
    colour = ((40 + 60 * index) % 256, 120, 200)
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format=fmt.upper())
    return base64.b64encode(buf.getvalue()).decode()


@dataclass
class RunningFake:
    fake: FakeOpenAI
    base_url: str


@pytest.fixture(scope="module")
def fake_openai_server() -> Iterator[RunningFake]:
    """The fake on a free loopback port, for the whole module; reset it per test."""
    fake = FakeOpenAI()
    with serving(fake.app, "fake-openai") as base_url:
        yield RunningFake(fake, f"{base_url}/v1")


@pytest.fixture
def fake_openai(fake_openai_server: RunningFake) -> RunningFake:
    fake_openai_server.fake.reset()
    return fake_openai_server
