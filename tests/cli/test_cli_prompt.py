"""``pixelforge prompt optimize TEXT``: original, optimized and the filled slots; exit 2 on bad
input naming the option."""

from __future__ import annotations

import json

import pytest

from fake_chat import RunningChat, fake_chat, fake_chat_server

__all__ = ["fake_chat", "fake_chat_server"]  # fixtures, re-exported for pytest

PROMPT = 'poster for a jazz night "LIVE AT 9" keep the saxophone'


def test_prompt_optimize_prints_original_optimized_and_slots(run_cli) -> None:
    result = run_cli("prompt", "optimize", PROMPT)

    assert result.rc == 0
    assert PROMPT in result.out
    assert 'poster for a jazz night, centered, bold, headline "LIVE AT 9", keep the saxophone' in (
        result.out
    )
    rows = {line.split("│")[1].strip(): line for line in result.out_lines if line.count("│") == 4}
    assert "added" in rows["composition"]
    assert "prompt" in rows["subject"]
    assert "prompt" in rows["constraints"]


def test_prompt_optimize_prints_json_when_asked(run_cli) -> None:
    result = run_cli("prompt", "optimize", PROMPT, "--style", "keywords", "--json")

    assert result.rc == 0
    body = json.loads(result.out)
    assert body["original"] == PROMPT
    assert body["style"] == "keywords"
    assert body["quoted"] == ["LIVE AT 9"]
    assert body["constraints"] == ["keep the saxophone"]
    assert body["filled"] == ["composition", "lighting", "style", "mood"]
    assert body["optimized"].startswith('poster, jazz night, headline text "LIVE AT 9", ')


def test_prompt_optimize_phrases_sentences_when_hosted_model_named(run_cli) -> None:
    result = run_cli("prompt", "optimize", PROMPT, "--model", "gpt-image-1", "--json")

    body = json.loads(result.out)
    assert body["style"] == "sentences"
    assert body["optimized"].startswith("A poster for a jazz night.")


def test_prompt_optimize_uses_given_use_case_when_option_set(run_cli) -> None:
    result = run_cli("prompt", "optimize", "a glass of wine", "--use-case", "product_shot",
                     "--json")  # fmt: skip

    assert json.loads(result.out)["use_case"] == "product_shot"


@pytest.mark.parametrize(
    ("args", "option"),
    [(("--use-case", "meme"), "--use-case"), (("--style", "haiku"), "--style"),
     (("--model", "mystery"), "--model"), (("--rewrite", "magic"), "--rewrite"),
     (("--rewrite", "llm"), "--rewrite")],
)  # fmt: skip
def test_prompt_optimize_exits_2_naming_option_when_input_bad(
    run_cli, args: tuple[str, str], option: str
) -> None:
    result = run_cli("prompt", "optimize", PROMPT, *args)

    assert result.rc == 2
    assert result.out == ""
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(f"error: {option}: ")


def test_prompt_optimize_exits_2_naming_text_when_blank(run_cli) -> None:
    result = run_cli("prompt", "optimize", "  ")

    assert result.rc == 2
    assert result.err_lines == ["error: TEXT: empty; describe what to make"]


def test_prompt_optimize_warns_when_llm_rewrite_drops_quote(
    run_cli, fake_chat: RunningChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXELFORGE_PROMPT_LLM_BASE_URL", fake_chat.base_url)
    monkeypatch.setenv("PIXELFORGE_PROMPT_LLM_MODEL", "tiny-chat")
    fake_chat.fake.answer_json("A jazz poster saying live at nine; keep the saxophone")

    result = run_cli("prompt", "optimize", PROMPT, "--rewrite", "llm")

    assert result.rc == 0
    assert "optimized (rules):" in result.out
    assert result.err_lines == ["warning: LLM rewrite dropped '\"LIVE AT 9\"'; kept the rules"]
