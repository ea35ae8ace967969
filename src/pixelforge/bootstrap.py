"""The composition root: builds engines, storage, queue, services and workers once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pixelforge.config import Settings
from pixelforge.engines.base import Engine
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.engines.registry import ModelRegistry
from pixelforge.engines.text_overlay import TextOverlayEngine
from pixelforge.engines.upscale import UpscaleEngine
from pixelforge.postprocess.chain import OutputChain
from pixelforge.postprocess.provenance import (
    ContentCredentials,
    development_identity,
    load_identity,
)
from pixelforge.services.accounts import Accounts
from pixelforge.services.credits import Credits
from pixelforge.services.generate import GenerateService
from pixelforge.services.optimizer import ChatRewriter, PromptOptimizer
from pixelforge.store.db import Database

log = logging.getLogger(__name__)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def default_engines(settings: Settings | None = None) -> list[Engine]:
    """The built-in engines (compose, the text-overlay edit action, upscale: classical always,
    RRDBNet files of the models folder when torch is installed), plus each hosted engine
    whose API key is configured."""
    settings = settings or Settings()
    engines: list[Engine] = [ComposeEngine(FontLibrary(), IconSet()), TextOverlayEngine()]
    engines.append(UpscaleEngine(settings.resolved_models_dir, device=settings.diffusers_device))
    if settings.openai_api_key is not None:
        from pixelforge.engines.openai_images import OpenAIImagesEngine

        engines.append(OpenAIImagesEngine(
            settings.openai_api_key.get_secret_value(), settings.openai_base_url,
            _names(settings.openai_models), settings.provider_timeout_seconds,
            settings.provider_max_retries,
        ))  # fmt: skip
    if settings.gemini_api_key is not None:
        from pixelforge.engines.gemini_images import GeminiImagesEngine

        engines.append(GeminiImagesEngine(
            settings.gemini_api_key.get_secret_value(), settings.gemini_base_url,
            _names(settings.gemini_models), settings.provider_timeout_seconds,
            settings.provider_max_retries,
        ))  # fmt: skip
    local = local_engine(settings)
    if local is not None:
        engines.append(local)
    return engines


def local_engine(settings: Settings) -> Engine | None:
    """The ``diffusers`` engine when the models folder holds a pipeline and the ``local``
    extra (torch, diffusers) is installed; None otherwise (listing works without it)."""
    from importlib.util import find_spec

    from pixelforge.engines.local.catalog import scan

    if not scan(settings.resolved_models_dir).pipelines:
        return None
    if find_spec("torch") is None or find_spec("diffusers") is None:
        log.warning(
            "local models found in %s, but the `local` extra (torch, diffusers) is not"
            " installed: pip install 'pixelforge[local]'",
            settings.resolved_models_dir,
        )
        return None
    from pixelforge.engines.local.engine import DiffusersEngine

    return DiffusersEngine(
        settings.resolved_models_dir, device=settings.diffusers_device,
        dtype=settings.diffusers_dtype, memory_budget_mb=settings.diffusers_memory_budget_mb,
        allow_downloads=settings.allow_model_downloads,
        channels_last=settings.diffusers_channels_last, cache_dir=settings.home / "cache",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class App:
    """What the CLI needs: settings, models and the in-process generate service."""

    settings: Settings
    registry: ModelRegistry
    generate: GenerateService


@dataclass(frozen=True, slots=True)
class Store:
    """The database-backed services the admin commands need (no workers, no engines)."""

    db: Database
    accounts: Accounts
    credits: Credits


def open_store(settings: Settings | None = None) -> Store:
    settings = settings or Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    db.migrate()
    return Store(db, Accounts(db), Credits(db))


def prompt_optimizer(settings: Settings, registry: ModelRegistry | None) -> PromptOptimizer:
    """The prompt optimizer, with the LLM rewrite when a prompt model is configured."""
    rewriter = None
    if settings.prompt_llm_base_url and settings.prompt_llm_model:
        key = settings.prompt_llm_api_key
        rewriter = ChatRewriter(
            settings.prompt_llm_base_url, settings.prompt_llm_model,
            key.get_secret_value() if key is not None else None,
            settings.provider_timeout_seconds,
        )  # fmt: skip
    return PromptOptimizer(registry, rewriter)


def output_chain(settings: Settings) -> OutputChain:
    """The postprocess chain every output passes, as the settings configure it."""
    credentials = None
    if settings.provenance:
        if settings.c2pa_cert_file is not None and settings.c2pa_key_file is not None:
            identity = load_identity(settings.c2pa_cert_file, settings.c2pa_key_file,
                                     settings.c2pa_alg)  # fmt: skip
        else:
            identity = development_identity(settings.home / "c2pa")
        credentials = ContentCredentials(identity)
    return OutputChain(credentials, settings.watermark, settings.prompt_metadata)


def build_app(settings: Settings | None = None, engines: Sequence[Engine] | None = None) -> App:
    settings = settings or Settings()
    registry = ModelRegistry(engines if engines is not None else default_engines(settings))
    generate = GenerateService(registry, output_chain(settings))
    return App(settings=settings, registry=registry, generate=generate)
