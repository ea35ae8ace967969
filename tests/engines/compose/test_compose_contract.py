"""The compose engine passes the shared engine contract."""

from __future__ import annotations

import pytest
from contract import EngineContract

from pixelforge.engines.base import Engine
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary


@pytest.fixture(scope="module")
def compose_engine() -> ComposeEngine:
    return ComposeEngine(FontLibrary(), IconSet())


class TestComposeContract(EngineContract):
    model_id = "compose"
    sample_prompt = 'Minimal poster for a coffee shop, headline "OPEN LATE", warm palette'

    @pytest.fixture
    def engine(self, compose_engine: ComposeEngine) -> Engine:
        return compose_engine
