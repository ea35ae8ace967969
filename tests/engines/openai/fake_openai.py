"""A fake OpenAI Images API speaking the documented wire format, for the openai engine's tests.

``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart) answer
``{"created", "data": [{"b64_json"}], "usage", "size", ...}`` with real images of the asked
size. Behaviours are scripted with :meth:`FakeOpenAI.script` (consumed one per request, in
order); every request is recorded with its headers, JSON or form fields and files.

With ``stream`` true the answer is ``text/event-stream``: per image, ``partial_images``
``image_generation.partial_image`` events (edits: ``image_edit.*``; partial ``j`` is a solid
image of :func:`partial_colour` ``j``) and one ``*.completed`` event with the final image and
its usage, each as ``event: <type>`` + ``data: <json>`` lines. A behaviour can end the stream
with an ``error`` event (``data: {"error": {...}}``) after some partials, or without any
``completed`` event.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
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
    """One scripted answer: an error ``status`` with ``body``/``headers``, and/or a ``delay``.

    Streams only: ``stream_error`` (an ``{"error": ...}`` body) is sent as an ``error`` event
    after ``partials_before_error`` partial images; ``no_completed`` ends the stream after the
    partials without a final image; ``extra_partials`` are sent after the ``completed`` event.
    ``no_usage`` leaves ``usage`` out of the answer (streamed or not).
    """

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream_error: dict[str, Any] | None = None
    partials_before_error: int = 0
    no_completed: bool = False
    extra_partials: int = 0
    no_usage: bool = False


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

    async def _answer(self, recorded: Recorded) -> Response:
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
        images_in = len(recorded.files.get("image[]", [])) + len(recorded.files.get("image", []))
        if str(fields.get("stream")).lower() == "true":
            stream = self._stream(recorded, behaviour, (width, height), fmt, images_in)
            return StreamingResponse(stream, media_type="text/event-stream")
        body = {
            "created": int(time.time()),
            "background": "opaque",
            "output_format": fmt,
            "quality": "medium",
            "size": size,
            "data": [{"b64_json": image_b64(width, height, fmt, i)} for i in range(n)],
            "usage": {
                **usage(images_in, n),
                "output_tokens_details": {"image_tokens": OUTPUT_TOKENS * n, "text_tokens": 0},
            },
        }  # fmt: skip
        if behaviour.no_usage:
            del body["usage"]
        return JSONResponse(body)

    async def _stream(
        self, recorded: Recorded, behaviour: Behaviour, size: tuple[int, int], fmt: str,
        images_in: int,
    ) -> AsyncIterator[str]:  # fmt: skip
        prefix = "image_generation" if recorded.path.endswith("/generations") else "image_edit"
        common = {"background": "opaque", "created_at": int(time.time()), "output_format": fmt,
                  "quality": "medium", "size": f"{size[0]}x{size[1]}"}  # fmt: skip
        partials = int(recorded.fields.get("partial_images") or 0)

        def partial(j: int) -> str:
            data = {"type": f"{prefix}.partial_image", "b64_json": solid_b64(size, fmt,
                    partial_colour(j)), "partial_image_index": j, **common}  # fmt: skip
            return sse(f"{prefix}.partial_image", data)

        for j in range(partials):
            if behaviour.stream_error is not None and j == behaviour.partials_before_error:
                break
            yield partial(j)
            await asyncio.sleep(0)
        if behaviour.stream_error is not None:
            yield sse("error", behaviour.stream_error)
            return
        if behaviour.no_completed:
            return
        done = {"type": f"{prefix}.completed", "b64_json": image_b64(*size, fmt, 0),
                "usage": usage(images_in, 1), **common}  # fmt: skip
        if behaviour.no_usage:
            del done["usage"]
        yield sse(f"{prefix}.completed", done)
        for j in range(partials, partials + behaviour.extra_partials):
            yield partial(j)

    async def _generations(self, request: Request) -> Response:
        fields = await request.json()
        return await self._answer(Recorded(request.url.path, dict(request.headers), fields,
                                           at=time.monotonic()))  # fmt: skip

    async def _edits(self, request: Request) -> Response:
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


OUTPUT_TOKENS = 4000
TEXT_TOKENS = 50
IMAGE_TOKENS_PER_INPUT = 200


def usage(images_in: int, n: int) -> dict[str, Any]:
    """The documented usage object: text + image input tokens, output image tokens."""
    image_in = IMAGE_TOKENS_PER_INPUT * images_in
    return {
        "input_tokens": TEXT_TOKENS + image_in, "output_tokens": OUTPUT_TOKENS * n,
        "total_tokens": TEXT_TOKENS + image_in + OUTPUT_TOKENS * n,
        "input_tokens_details": {"image_tokens": image_in, "text_tokens": TEXT_TOKENS},
    }  # fmt: skip


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def partial_colour(index: int) -> tuple[int, int, int]:
    return (10 + 70 * index, 200, 30)


def solid_b64(size: tuple[int, int], fmt: str, colour: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format=fmt.upper())
    return base64.b64encode(buf.getvalue()).decode()


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
