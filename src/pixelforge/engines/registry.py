"""The model registry: model id -> the engine that serves it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pixelforge.engines.base import Engine, ModelInfo
from pixelforge.errors import InvalidRequestError, allowed


class ModelRegistry:
    """Built once in the composition root from the configured engines."""

    def __init__(self, engines: Iterable[Engine]) -> None:
        self._by_id: dict[str, tuple[Engine, ModelInfo]] = {}
        for engine in engines:
            for info in engine.models():
                if info.id in self._by_id:
                    raise ValueError(f"model id {info.id!r} is served by two engines")
                self._by_id[info.id] = (engine, info)

    def close(self) -> None:
        """Close every engine (their HTTP pools); the registry is not used after."""
        for engine in {id(e): e for e, _ in self._by_id.values()}.values():
            engine.close()

    def models(self) -> Sequence[ModelInfo]:
        return [info for _, info in self._by_id.values()]

    def resolve(self, model_id: str) -> tuple[Engine, ModelInfo]:
        try:
            return self._by_id[model_id]
        except KeyError:
            raise InvalidRequestError(
                f"model: {model_id!r} is not a known model; allowed: {allowed(self._by_id)}",
                param="model",
                code="model_not_found",
            ) from None
