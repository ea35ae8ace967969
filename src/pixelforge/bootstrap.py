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
from pixelforge.services.generate import GenerateService


def default_engines() -> list[Engine]:
    return [ComposeEngine(FontLibrary(), IconSet())]


@dataclass(frozen=True, slots=True)
class App:
    """What the CLI needs: settings, models and the in-process generate service."""

    settings: Settings
    registry: ModelRegistry
    generate: GenerateService


def build_app(settings: Settings | None = None, engines: Sequence[Engine] | None = None) -> App:
    settings = settings or Settings()
    registry = ModelRegistry(engines if engines is not None else default_engines())
    return App(settings=settings, registry=registry, generate=GenerateService(registry))
