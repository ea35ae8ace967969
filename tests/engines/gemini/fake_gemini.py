"""A fake Gemini API speaking the documented ``generateContent`` wire format, for tests.

FastAPI under uvicorn in a thread on a free loopback port. It answers
``POST /v1beta/models/{model}:generateContent`` with an inline PNG of the documented size for
the requested ``imageConfig`` (aspect ratio + ``imageSize``), and can be scripted to answer a
429, a 500, a 400, a slow reply or a 200 safety block (``finishReason: IMAGE_SAFETY``, no
image part). Every request is recorded: API key header, model, imageConfig, inline parts.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image

from server_support import serving

#: Documented 1K output sizes of the Gemini 3 image models (2K doubles, 4K quadruples,
#: 512 halves them).
NATIVE_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200),
    "4:3": (1200, 896), "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376),
    "16:9": (1376, 768), "21:9": (1584, 672), "1:4": (512, 2048), "4:1": (2048, 512),
}  # fmt: skip
SCALE = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}
SIGNATURE = "c2ln"  # base64 of b"sig"
USAGE = {
    "promptTokenCount": 12,
    "candidatesTokenCount": 1120,
    "thoughtsTokenCount": 80,
    "totalTokenCount": 1212,
}


def native_size(aspect_ratio: str | None, image_size: str | None) -> tuple[int, int]:
    w, h = NATIVE_1K[aspect_ratio or "1:1"]
    scale = SCALE[image_size or "1K"]
    return round(w * scale), round(h * scale)


@functools.lru_cache(maxsize=32)
def png_b64(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buf, format="PNG", compress_level=1)
    return base64.b64encode(buf.getvalue()).decode()


def error_body(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


@dataclass
class Recorded:
    model: str
    api_key: str | None
    image_config: dict[str, Any] | None
    inline_parts: int
    texts: list[str]
    body: dict[str, Any]


@dataclass
class FakeGemini:
    """The fake's state: a script of answers to come and the requests seen."""

    base_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *steps: str) -> None:
        """Queue answers: ``ok``, ``429``, ``500``, ``503``, ``400``, ``safety``, ``slow``."""
        with self.lock:
            self.steps.extend(steps)

    def reset(self) -> None:
        with self.lock:
            self.steps.clear()
            self.requests.clear()

    def _next(self) -> str:
        with self.lock:
            return self.steps.pop(0) if self.steps else "ok"

    async def handle(self, target: str, request: Request) -> JSONResponse:
        model, _, method = target.partition(":")
        if method != "generateContent":
            return JSONResponse(error_body(404, "NOT_FOUND", f"no method {method!r}"), 404)
        body: dict[str, Any] = await request.json()
        parts = [p for c in body.get("contents", []) for p in c.get("parts", [])]
        config = body.get("generationConfig", {}).get("imageConfig")
        with self.lock:
            self.requests.append(
                Recorded(
                    model=model,
                    api_key=request.headers.get("x-goog-api-key"),
                    image_config=config,
                    inline_parts=sum(1 for p in parts if "inlineData" in p),
                    texts=[p["text"] for p in parts if "text" in p],
                    body=body,
                )
            )
        step = self._next()
        if step == "429":
            return JSONResponse(
                error_body(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted."),
                429,
                headers={"Retry-After": "0"},
            )
        if step in ("500", "503"):
            status = "INTERNAL" if step == "500" else "UNAVAILABLE"
            return JSONResponse(error_body(int(step), status, "The service hiccuped."), int(step))
        if step == "400":
            return JSONResponse(
                error_body(400, "INVALID_ARGUMENT", "Request contains an invalid argument."), 400
            )
        if step == "safety":
            return JSONResponse(
                {
                    "candidates": [
                        {"content": {"role": "model", "parts": []}, "finishReason": "IMAGE_SAFETY"}
                    ],
                    "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
                    "modelVersion": model,
                }
            )
        if step == "slow":
            await asyncio.sleep(2.0)
        width, height = native_size(
            (config or {}).get("aspectRatio"), (config or {}).get("imageSize")
        )
        image_part = {
            "inlineData": {"mimeType": "image/png", "data": png_b64(width, height)},
            "thoughtSignature": SIGNATURE,
        }
        return JSONResponse(
            {
                "candidates": [
                    {
                        "content": {
                            "role": "model",
                            "parts": [{"text": "Here is your image."}, image_part],
                        },
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": USAGE,
                "modelVersion": model,
            }
        )


def serve_fake() -> Iterator[FakeGemini]:
    """Start a fake on a free loopback port; stops when the generator is closed."""
    fake = FakeGemini()
    app = FastAPI()

    @app.post("/v1beta/models/{target}")
    async def generate(target: str, request: Request) -> JSONResponse:
        return await fake.handle(target, request)

    with serving(app, "fake-gemini") as base_url:
        fake.base_url = base_url
        yield fake
