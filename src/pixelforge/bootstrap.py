"""The composition root: builds engines, storage, queue, services and workers once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pixelforge.config import Settings
from pixelforge.engines.base import Engine
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.engines.registry import ModelRegistry
from pixelforge.services.accounts import Accounts
from pixelforge.services.credits import Credits
from pixelforge.services.generate import GenerateService
from pixelforge.store.db import Database


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def default_engines(settings: Settings | None = None) -> list[Engine]:
    """The built-in engine, plus each hosted engine whose API key is configured."""
    settings = settings or Settings()
    engines: list[Engine] = [ComposeEngine(FontLibrary(), IconSet())]
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
    return engines


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


def build_app(settings: Settings | None = None, engines: Sequence[Engine] | None = None) -> App:
    settings = settings or Settings()
    registry = ModelRegistry(engines if engines is not None else default_engines(settings))
    return App(settings=settings, registry=registry, generate=GenerateService(registry))
