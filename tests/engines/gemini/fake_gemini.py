"""A fake Gemini API speaking the documented ``generateContent`` wire format, for tests.

FastAPI under uvicorn in a thread on a free loopback port. It answers
``POST /v1beta/models/{model}:generateContent`` with an inline PNG of the documented size for
the requested ``imageConfig`` (aspect ratio + ``imageSize``), and can be scripted to answer a
429, a 500, a 400, a slow reply or a 200 safety block (``finishReason: IMAGE_SAFETY``, no
image part). Every request is recorded: API key header, model, imageConfig, inline parts.

Thought signatures: every answer's first text part and its image part carry a fresh
signature (random bytes, so a re-encoded or truncated one is caught), remembered in
``issued``. Like the real API for Gemini 3 models, a request whose history holds a model turn
with an image part (or a first text part) lacking a signature this fake issued for exactly
that part is refused with 400 ``INVALID_ARGUMENT``; 2.5 models do not check.
Usage: ``candidatesTokenCount`` follows the documented tokens per image of the model family.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import os
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
PROMPT_TOKENS = 12
THOUGHTS_TOKENS = 80


def image_tokens(model: str, image_size: str | None) -> int:
    """Documented output tokens per image: 2.5 Flash 1290; 3 Pro 1120 (4K: 2000); 3.1 Flash
    747 at 512, else as 3 Pro."""
    if "2.5" in model:
        return 1290
    if image_size == "512":
        return 747
    return 2000 if image_size == "4K" else 1120


def usage(model: str, image_size: str | None) -> dict[str, Any]:
    out = image_tokens(model, image_size)
    return {
        "promptTokenCount": PROMPT_TOKENS, "candidatesTokenCount": out,
        "thoughtsTokenCount": THOUGHTS_TOKENS,
        "totalTokenCount": PROMPT_TOKENS + out + THOUGHTS_TOKENS,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": out}],
    }  # fmt: skip


def wire_bytes(text: str) -> bytes:
    """Base64 from the wire, in either alphabet (the SDK sends URL-safe), as bytes."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4))


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

    @property
    def roles(self) -> list[str]:
        return [c.get("role", "user") for c in self.body.get("contents", [])]

    def turn(self, index: int) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = self.body["contents"][index]["parts"]
        return parts


@dataclass
class Issued:
    """What one answer carried: its text part's and its image part's signatures, and image."""

    text_signature: bytes
    image_signature: bytes
    image_b64: str


@dataclass
class FakeGemini:
    """The fake's state: a script of answers to come and the requests seen."""

    base_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    issued: list[Issued] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *steps: str) -> None:
        """Queue answers: ``ok``, ``429``, ``500``, ``503``, ``400``, ``safety``, ``slow``."""
        with self.lock:
            self.steps.extend(steps)

    def reset(self) -> None:
        with self.lock:
            self.steps.clear()
            self.requests.clear()
            self.issued.clear()

    def _missing_signature(self, model: str, body: dict[str, Any]) -> str | None:
        """Why a Gemini 3 request's history must be refused, or None when it is fine."""
        if "gemini-3" not in model:
            return None
        with self.lock:
            text_sigs = {i.text_signature for i in self.issued}
            image_sigs = {i.image_signature for i in self.issued}
        for c, content in enumerate(body.get("contents", [])):
            if content.get("role") != "model":
                continue
            first_text = True
            for p, part in enumerate(content.get("parts", [])):
                if "text" in part and not first_text:
                    continue
                expected = image_sigs if "inlineData" in part else text_sigs
                first_text = first_text and "text" not in part
                raw = part.get("thoughtSignature")
                if raw is None or wire_bytes(raw) not in expected:
                    return (f"Image part is missing a thought_signature in content position "
                            f"{c + 1}, part position {p + 1}.")  # fmt: skip
        return None

    def _next(self) -> str:
        with self.lock:
            return self.steps.pop(0) if self.steps else "ok"

    async def handle(self, target: str, request: Request) -> JSONResponse:
        model, _, method = target.partition(":")
        if method != "generateContent":
            return JSONResponse(error_body(404, "NOT_FOUND", f"no method {method!r}"), 404)
        body: dict[str, Any] = await request.json()
        last_turn = body.get("contents", [])[-1:]
        parts = [p for c in last_turn for p in c.get("parts", [])]
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
        missing = self._missing_signature(model, body)
        if missing is not None:
            return JSONResponse(error_body(400, "INVALID_ARGUMENT", missing), 400)
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
        image_size = (config or {}).get("imageSize")
        width, height = native_size((config or {}).get("aspectRatio"), image_size)
        issued = Issued(b"txt\xff" + os.urandom(9), b"img\x00\xfe" + os.urandom(13),
                        png_b64(width, height))  # fmt: skip
        with self.lock:
            self.issued.append(issued)
        text_part = {
            "text": "Here is your image.",
            "thoughtSignature": base64.b64encode(issued.text_signature).decode(),
        }
        image_part = {
            "inlineData": {"mimeType": "image/png", "data": issued.image_b64},
            "thoughtSignature": base64.b64encode(issued.image_signature).decode(),
        }
        return JSONResponse(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [text_part, image_part]},
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": usage(model, image_size),
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
