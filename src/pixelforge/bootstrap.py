"""The composition root: builds engines and services once, from settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.engines.registry import ModelRegistry
from pixelforge.services.generate import GenerateService


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path

    @classmethod
    def from_env(cls) -> Settings:
        home = os.environ.get("PIXELFORGE_HOME") or str(Path.home() / ".pixelforge")
        return cls(home=Path(home).expanduser())


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    registry: ModelRegistry
    generate: GenerateService


def build_app(settings: Settings | None = None) -> App:
    settings = settings or Settings.from_env()
    registry = ModelRegistry([ComposeEngine(FontLibrary(), IconSet())])
    return App(settings=settings, registry=registry, generate=GenerateService(registry))
