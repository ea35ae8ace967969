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


def default_engines() -> list[Engine]:
    return [ComposeEngine(FontLibrary(), IconSet())]


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
    registry = ModelRegistry(engines if engines is not None else default_engines())
    return App(settings=settings, registry=registry, generate=GenerateService(registry))
