"""Threads: continuing an asset's conversation with the model that made it (multi-turn edits).

An asset whose engine returned conversation state keeps it in ``params["turn"]`` (see
``jobs.worker`` and the gemini engine): the user turn's parts (text, or the index of a
reference image of the asset's job) and the model turn's parts (text, or the asset's own
image), each with the thought signature it came back with. ``parent_id`` is the asset it
continued. Continuing asset X on model M:

* X's state is M's: the chain X, X's parent, ... is rebuilt, oldest first, into M's
  ``history`` (images from the blob store, signatures from the stored state) for at most
  :data:`MAX_TURNS` turns, following parents while a turn says it continued the one before;
* otherwise (another model, no state, or a chain that cannot be rebuilt): a plain edit.

Either way X's image is ``references[0]`` of the edit, so a fallback model, which runs
without the first model's options, still edits the right image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from pixelforge.domain import ImageInput
from pixelforge.domain.request import EngineOptions, OutputFormat
from pixelforge.engines.gemini_images import GeminiOptions, Turn, TurnPart
from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import NotFoundError
from pixelforge.services.accounts import Principal
from pixelforge.services.assets import AssetService
from pixelforge.services.generate import TURN_KEY
from pixelforge.store.blobs import BlobStore
from pixelforge.store.db import Database
from pixelforge.store.models import Asset, Job

log = logging.getLogger("pixelforge.threads")

#: Earlier user + model turn pairs sent at most (the most recent ones).
MAX_TURNS = 8


@dataclass(frozen=True, slots=True)
class Continuation:
    """What an edit that continues an asset sends: the asset's image as ``references[0]``,
    and the engine options (with the conversation's history when it could be rebuilt)."""

    asset_id: str
    image: ImageInput
    options: EngineOptions | None


class ThreadService:
    def __init__(
        self, db: Database, blobs: BlobStore, assets: AssetService, registry: ModelRegistry
    ) -> None:
        self.db, self.blobs, self.assets, self.registry = db, blobs, assets, registry

    def continuation(
        self, asset_id: str, model: str, principal: Principal, options: EngineOptions | None
    ) -> Continuation:
        """Prepare an edit of ``asset_id`` on ``model`` (404 if the caller cannot see it)."""
        asset = self.assets.get(asset_id, principal)
        image = ImageInput(self.blobs.get(asset.blob_key), asset.width, asset.height,
                           asset.format)  # fmt: skip
        _, info = self.registry.resolve(model)
        kind = info.capabilities.options_type
        history = self.history(asset, model) if kind is not None and issubclass(
            kind, GeminiOptions) else ()  # fmt: skip
        if not history:
            return Continuation(asset.id, image, options)
        base = options if isinstance(options, GeminiOptions) else GeminiOptions()
        return Continuation(asset.id, image, base.model_copy(update={"history": history}))

    def history(self, asset: Asset, model: str) -> tuple[Turn, ...]:
        """The conversation ``asset`` ends, as ``model``'s turns, oldest first; () when it has
        none for ``model`` or it cannot be rebuilt whole."""
        pairs: list[tuple[Turn, Turn]] = []
        current = asset
        with self.db.read() as s:
            while True:
                state = current.params.get(TURN_KEY)
                if not isinstance(state, dict) or state.get("model_id") != model:
                    return ()
                pair = self._pair(s, current, state)
                if pair is None:
                    return ()
                pairs.append(pair)
                if not state.get("continues") or len(pairs) == MAX_TURNS:
                    break
                parent = s.get(Asset, current.parent_id) if current.parent_id else None
                if parent is None:
                    log.warning("asset %s continues a conversation that is gone", current.id)
                    return ()
                current = parent
        return tuple(turn for pair in reversed(pairs) for turn in pair)

    def _pair(self, s: Session, asset: Asset, state: dict[str, Any]) -> tuple[Turn, Turn] | None:
        """One stored turn as (user turn, model turn), or None when it cannot be rebuilt."""
        job = s.get(Job, asset.job_id) if asset.job_id else None
        refs: list[Any] = list((job.request if job else {}).get("references") or [])

        def reference(index: int) -> bytes:
            return self.blobs.get(refs[index]["blob"])

        def output() -> bytes:
            return self.blobs.get(asset.blob_key)

        try:
            own = OutputFormat(asset.format).mime_type
            user = [self._part(p, reference=reference) for p in state["user_parts"]]
            model = [self._part(p, output=output, mime=own) for p in state["model_parts"]]
            return Turn(role="user", parts=tuple(user)), Turn(role="model", parts=tuple(model))
        except (KeyError, IndexError, TypeError, ValueError, ValidationError, NotFoundError):
            log.warning("asset %s: stored conversation state cannot be rebuilt", asset.id)
            return None

    @staticmethod
    def _part(
        part: dict[str, Any], *, reference: Callable[[int], bytes] | None = None,
        output: Callable[[], bytes] | None = None, mime: str | None = None,
    ) -> TurnPart:  # fmt: skip
        """A stored part: text, a reference image of the turn's job (user turns), or the
        asset's own image (model turns), with its signature."""
        signature = part.get("thought_signature")
        if "text" in part:
            return TurnPart(text=part["text"], thought_signature=signature)
        if part.get("output") is True and output is not None:
            return TurnPart(data=output(), mime_type=mime, thought_signature=signature)
        index = part.get("reference")
        if reference is None or not isinstance(index, int) or index < 0:
            raise ValueError(f"a stored part names no image this turn has: {part!r}")
        return TurnPart(data=reference(index), mime_type=part["mime_type"],
                        thought_signature=signature)  # fmt: skip
