"""``POST /api/prompts/optimize``: the original beside the rewrite, no job, 400s naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fake_chat import RunningChat, fake_chat, fake_chat_server
from server_support import LiveServer, StartServer

__all__ = ["fake_chat", "fake_chat_server"]  # fixtures, re-exported for pytest

PROMPT = 'youtube thumbnail "I QUIT MY JOB" shocked face, keep my glasses'


def _post(live: LiveServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{live.base_url}/api/prompts/optimize", json=body, timeout=30)


def test_optimize_returns_original_beside_rewrite_when_prompt_given(server: LiveServer) -> None:
    response = _post(server, {"prompt": PROMPT})

    assert response.status_code == 200
    body = response.json()
    assert body["original"] == PROMPT
    assert body["use_case"] == "thumbnail"
    assert body["use_case_detected"] is True
    assert body["style"] == "brief"  # the default model is compose
    assert body["rewrite"] == "rules"
    assert body["quoted"] == ["I QUIT MY JOB"]
    assert body["constraints"] == ["keep my glasses"]
    assert '"I QUIT MY JOB"' in body["optimized"]
    assert "keep my glasses" in body["optimized"]
    assert body["found"] == ["action", "text", "constraints"]
    assert body["filled"] == ["composition", "style"]
    assert body["slots"]["action"] == "shocked face"
    assert body["warnings"] == []


def test_optimize_phrases_for_model_when_model_given(server: LiveServer) -> None:
    body = _post(server, {"prompt": PROMPT, "model": "gpt-image-1"}).json()

    assert body["style"] == "sentences"
    assert body["optimized"].startswith("A YouTube thumbnail showing an expressive presenter")
    assert "subject" in body["filled"]


def test_optimize_honours_use_case_and_style_when_given(server: LiveServer) -> None:
    body = _post(server, {"prompt": "a red sneaker", "use_case": "product_shot",
                          "style": "keywords"}).json()  # fmt: skip

    assert body["use_case"] == "product_shot"
    assert body["use_case_detected"] is False
    assert body["optimized"].startswith("product photography, red sneaker, ")


def test_optimize_runs_no_job_when_called(server: LiveServer) -> None:
    _post(server, {"prompt": PROMPT})

    assert server.container.queue.depth() == 0
    assets = httpx.get(f"{server.base_url}/api/assets", timeout=10).json()
    assert assets["data"] == []


@pytest.mark.parametrize(
    ("body", "param"),
    [({"prompt": ""}, "prompt"), ({}, "prompt"), ({"prompt": "   "}, "prompt"),
     ({"prompt": "x" * 4_001}, "prompt"),
     ({"prompt": "x", "use_case": "meme"}, "use_case"),
     ({"prompt": "x", "style": "haiku"}, "style"),
     ({"prompt": "x", "rewrite": "magic"}, "rewrite"),
     ({"prompt": "x", "model": "mystery"}, "model"),
     ({"prompt": "x", "seed": 3}, "seed")],
)  # fmt: skip
def test_optimize_answers_400_naming_field_when_input_bad(
    server: LiveServer, body: dict[str, Any], param: str
) -> None:
    response = _post(server, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_optimize_refuses_llm_rewrite_when_no_prompt_model_configured(
    server: LiveServer,
) -> None:
    response = _post(server, {"prompt": PROMPT, "rewrite": "llm"})

    assert response.status_code == 403
    assert response.json()["error"]["param"] == "rewrite"
    assert response.json()["error"]["code"] == "feature_disabled"


def test_optimize_uses_llm_rewrite_when_configured(
    make_server: StartServer, fake_chat: RunningChat
) -> None:
    live = make_server(prompt_llm_base_url=fake_chat.base_url, prompt_llm_model="tiny-chat",
                       prompt_llm_api_key="sk-secret")  # fmt: skip
    rewrite = 'Bold thumbnail, creator with a shocked face, "I QUIT MY JOB"; keep my glasses'
    fake_chat.fake.answer_json(rewrite, {"subject": "the creator"})

    body = _post(live, {"prompt": PROMPT, "rewrite": "llm", "model": "gpt-image-1"}).json()

    assert body["rewrite"] == "llm"
    assert body["optimized"] == rewrite
    assert body["original"] == PROMPT
    assert fake_chat.fake.headers[0]["authorization"] == "Bearer sk-secret"


def test_optimize_warns_and_keeps_rules_when_llm_drops_quote(
    make_server: StartServer, fake_chat: RunningChat
) -> None:
    live = make_server(prompt_llm_base_url=fake_chat.base_url, prompt_llm_model="tiny-chat")
    fake_chat.fake.answer_json("A thumbnail of a shocked creator; keep my glasses")

    body = _post(live, {"prompt": PROMPT, "rewrite": "llm"}).json()

    assert body["rewrite"] == "rules"
    assert '"I QUIT MY JOB"' in body["optimized"]
    assert body["warnings"] == ["LLM rewrite dropped '\"I QUIT MY JOB\"'; kept the rules"]
