"""The composition root turns hosted engines on only when their keys are configured."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from pixelforge.bootstrap import default_engines
from pixelforge.config import Settings
from pixelforge.engines.registry import ModelRegistry

#: The models every install serves: compose, the text edit action and the classical upscaler.
BUILT_INS = {"compose", "text-overlay", "upscale/classical"}


def model_ids(settings: Settings) -> set[str]:
    return {m.id for m in ModelRegistry(default_engines(settings)).models()}


def test_default_engines_serve_only_built_ins_when_no_keys(tmp_path: Path) -> None:
    assert model_ids(Settings(home=tmp_path)) == BUILT_INS


def test_default_engines_add_hosted_models_when_keys_set(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        openai_api_key=SecretStr("sk-test-123"),
        gemini_api_key=SecretStr("AIza-test-456"),
        openai_models="gpt-image-1, gpt-image-9",
        gemini_models="gemini-3-pro-image-preview",
    )
    assert model_ids(settings) == BUILT_INS | {
        "gpt-image-1", "gpt-image-9", "gemini-3-pro-image-preview",
    }  # fmt: skip


def test_settings_never_show_provider_keys(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, openai_api_key=SecretStr("sk-test-hidden-789"))
    assert "sk-test-hidden-789" not in repr(settings)
    assert "sk-test-hidden-789" not in str(settings.model_dump())
