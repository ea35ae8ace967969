"""A fake OpenAI-compatible chat-completions endpoint speaking the documented wire format.

``POST /v1/chat/completions`` answers ``{"id", "object": "chat.completion", "created",
"model", "choices": [{"index", "message": {"role", "content"}, "finish_reason"}], "usage"}``
with scripted contents (consumed one per request, in order), or an OpenAI-style error body
with a status. Every request's JSON body and headers are recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from server_support import serving


@dataclass
class Answer:
    """One scripted answer: ``content`` with 200, or an error ``status``."""

    content: str = ""
    status: int = 200


@dataclass
class FakeChat:
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _script: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._completions)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.headers.clear()
            self._script.clear()

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def answer_json(self, prompt: str, slots: dict[str, str] | None = None) -> None:
        self.answer(Answer(json.dumps({"prompt": prompt, "slots": slots or {}})))

    async def _completions(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            answer = self._script.pop(0) if self._script else Answer("{}")
        if answer.status != 200:
            error = {"message": "scripted failure", "type": "server_error", "param": None,
                     "code": None}  # fmt: skip
            return JSONResponse({"error": error}, answer.status)
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90},
            }
        )


@dataclass
class RunningChat:
    fake: FakeChat
    base_url: str


@pytest.fixture(scope="module")
def fake_chat_server() -> Iterator[RunningChat]:
    """The fake on a free loopback port for the whole module; :func:`fake_chat` resets it."""
    fake = FakeChat()
    with serving(fake.app, "fake-chat") as base_url:
        yield RunningChat(fake, f"{base_url}/v1")


@pytest.fixture
def fake_chat(fake_chat_server: RunningChat) -> RunningChat:
    fake_chat_server.fake.reset()
    return fake_chat_server
