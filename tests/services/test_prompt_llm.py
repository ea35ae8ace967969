"""The optional LLM rewrite, against a fake OpenAI-compatible chat-completions endpoint.

A rewrite is used only when it keeps every quoted string and constraint verbatim; otherwise
(and when the endpoint fails or answers nonsense) the rules' result comes back with a warning.
"""

from __future__ import annotations

import json

import pytest

from fake_chat import Answer, RunningChat, fake_chat, fake_chat_server
from pixelforge.services.optimizer import ChatRewriter, PromptOptimizer

__all__ = ["fake_chat", "fake_chat_server"]  # fixtures, re-exported for pytest

PROMPT = 'poster for a jazz night "LIVE AT 9" keep the saxophone'
GOOD = (
    'A moody jazz-club poster: a saxophonist under a blue spotlight, headline "LIVE AT 9" '
    "in tall art-deco letters; keep the saxophone."
)


def _optimizer(chat: RunningChat, key: str | None = "sk-test") -> PromptOptimizer:
    return PromptOptimizer(None, ChatRewriter(chat.base_url, "tiny-chat", key, timeout=10))


def test_rewrite_is_used_when_it_keeps_quotes_and_constraints(fake_chat: RunningChat) -> None:
    fake_chat.fake.answer_json(GOOD, {"subject": "a saxophonist", "lighting": "blue spotlight",
                                      "text": '"LIVE AT 9"'})  # fmt: skip

    result = _optimizer(fake_chat).optimize(PROMPT, "gpt-image-1", rewrite="llm")

    assert result.rewrite == "llm"
    assert result.optimized == GOOD
    assert result.original == PROMPT
    assert result.warnings == ()
    assert result.slots["lighting"] == "blue spotlight"
    assert "lighting" in result.filled
    assert "text" not in result.filled


def test_rewrite_request_demands_slots_and_verbatim_text_when_sent(
    fake_chat: RunningChat,
) -> None:
    fake_chat.fake.answer_json(GOOD)

    _optimizer(fake_chat).optimize(PROMPT, style="sentences", rewrite="llm")

    (body,) = fake_chat.fake.requests
    assert body["model"] == "tiny-chat"
    system, user = body["messages"]
    assert system["role"] == "system"
    for slot in ("subject", "environment", "composition", "lighting", "constraints"):
        assert slot in system["content"]
    assert "exactly as written" in system["content"]
    sent = json.loads(user["content"])
    assert sent["prompt"] == PROMPT
    assert sent["must_keep"] == ['"LIVE AT 9"', "keep the saxophone"]
    assert sent["draft"]["prompt"].startswith("A poster for a jazz night.")
    assert fake_chat.fake.headers[0]["authorization"] == "Bearer sk-test"


def test_rewrite_falls_back_to_rules_when_it_drops_a_quote(fake_chat: RunningChat) -> None:
    fake_chat.fake.answer_json("A jazz poster that says LIVE AT NINE; keep the saxophone.")

    result = _optimizer(fake_chat).optimize(PROMPT, style="sentences", rewrite="llm")

    assert result.rewrite == "rules"
    assert '"LIVE AT 9"' in result.optimized
    assert result.warnings == ("LLM rewrite dropped '\"LIVE AT 9\"'; kept the rules",)


def test_rewrite_falls_back_to_rules_when_it_rephrases_a_constraint(
    fake_chat: RunningChat,
) -> None:
    fake_chat.fake.answer_json('A jazz poster, headline "LIVE AT 9", saxophone kept as is.')

    result = _optimizer(fake_chat).optimize(PROMPT, style="keywords", rewrite="llm")

    assert result.rewrite == "rules"
    assert "keep the saxophone" in result.optimized
    assert "'keep the saxophone'" in result.warnings[0]


@pytest.mark.parametrize(
    "answer",
    [Answer("Sure! Here is a better prompt: a jazz poster"), Answer('{"slots": {}}'),
     Answer("[1, 2]"), Answer(status=500), Answer(status=401)],
    ids=["prose", "no-prompt", "not-object", "http-500", "http-401"],
)  # fmt: skip
def test_rewrite_falls_back_to_rules_when_endpoint_fails(
    fake_chat: RunningChat, answer: Answer
) -> None:
    fake_chat.fake.answer(answer, answer)  # a 5xx is retried once

    result = _optimizer(fake_chat).optimize(PROMPT, style="brief", rewrite="llm")

    assert result.rewrite == "rules"
    assert (
        result.optimized
        == 'poster for a jazz night, centered, bold, headline "LIVE AT 9", keep the saxophone'
    )
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("LLM rewrite failed: the prompt model")


def test_rewrite_accepts_fenced_json_when_model_wraps_it(fake_chat: RunningChat) -> None:
    fake_chat.fake.answer(Answer(f"```json\n{json.dumps({'prompt': GOOD})}\n```"))

    result = _optimizer(fake_chat).optimize(PROMPT, rewrite="llm")

    assert result.rewrite == "llm"
    assert result.optimized == GOOD


def test_rewrite_keeps_rules_slots_with_warning_when_answer_slots_unusable(
    fake_chat: RunningChat,
) -> None:
    fake_chat.fake.answer(Answer(json.dumps({"prompt": GOOD, "slots": {"vibe": "cool"}})))

    result = _optimizer(fake_chat).optimize(PROMPT, rewrite="llm", style="sentences")

    assert result.rewrite == "llm"
    assert result.slots["subject"] == "a jazz night"
    assert result.warnings == ("LLM rewrite gave no usable slots; showing the rules' slots",)


def test_rewrite_sends_placeholder_key_when_none_configured(fake_chat: RunningChat) -> None:
    fake_chat.fake.answer_json(GOOD)

    _optimizer(fake_chat, key=None).optimize(PROMPT, rewrite="llm")

    assert fake_chat.fake.headers[0]["authorization"] == "Bearer unused"


def test_rules_rewrite_never_calls_endpoint_when_llm_configured(fake_chat: RunningChat) -> None:
    result = _optimizer(fake_chat).optimize(PROMPT)

    assert result.rewrite == "rules"
    assert fake_chat.fake.requests == []
