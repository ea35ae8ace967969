"""Rebuilding a conversation from stored asset state: chain order, where a chain starts, the
turn cap, and falling back to a plain edit when the state cannot be rebuilt whole."""

from __future__ import annotations

import base64
import io
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.config import Settings
from pixelforge.engines.gemini_images import GeminiImagesEngine, GeminiOptions
from pixelforge.errors import NotFoundError
from pixelforge.services.accounts import LOCAL
from pixelforge.services.threads import MAX_TURNS
from pixelforge.store.jobs import new_id
from pixelforge.store.models import Asset, Job
from testing_engines import ZeroWorkEngine

PRO = "gemini-3-pro-image-preview"
_colours = itertools.count(1)


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Container]:
    # The engine only lends its models and options type: nothing here calls the provider.
    gemini = GeminiImagesEngine("unused-key", base_url="http://127.0.0.1:9", models=(PRO,))
    container = Container.build(Settings(home=tmp_path, workers=0),
                                [gemini, ZeroWorkEngine()], Metrics(lambda: 0))  # fmt: skip
    yield container
    container.stop()
    gemini.close()


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (next(_colours) % 256, 0, 0)).save(buf, format="PNG")
    return buf.getvalue()


def signature(n: int) -> str:
    return base64.b64encode(f"sig-{n}".encode()).decode()


def add_turn(
    c: Container, n: int, parent: str | None = None, model: str = PRO,
    state: dict[str, Any] | None = None,
) -> str:  # fmt: skip
    """Asset ``n`` of a conversation: the first turn edits a reference, later ones continue."""
    blobs = c.assets.blobs
    ref = {"blob": blobs.put(png(), "png"), "width": 8, "height": 8, "format": "png"}
    user = ([{"text": f"prompt {n}"}] if parent else
            [{"text": "Image to edit:"}, {"reference": 0, "mime_type": "image/png"},
             {"text": f"prompt {n}"}])  # fmt: skip
    turn = state if state is not None else {
        "model_id": model, "continues": parent is not None, "user_parts": user,
        "model_parts": [{"text": f"answer {n}", "thought_signature": signature(n)},
                        {"output": True, "mime_type": "image/png",
                         "thought_signature": signature(100 + n)}],
    }  # fmt: skip
    job_id, asset_id = new_id("job"), new_id("img")
    with c.db.write() as s:
        s.add(Job(id=job_id, status="succeeded", model=model, created_at=time.time(),
                  request={"references": [ref]}))  # fmt: skip
        s.flush()
        s.add(Asset(
            id=asset_id, job_id=job_id, blob_key=blobs.put(png(), "png"), format="png", width=8,
            height=8, bytes=1, model=model, params={"turn": turn}, parent_id=parent, timings={},
            created_at=time.time(),
        ))  # fmt: skip
    return asset_id


def chain(c: Container, length: int) -> list[str]:
    ids = [add_turn(c, 1)]
    for n in range(2, length + 1):
        ids.append(add_turn(c, n, parent=ids[-1]))
    return ids


def history_of(c: Container, asset_id: str, model: str = PRO) -> Any:
    options = c.threads.continuation(asset_id, model, LOCAL, None).options
    return options.history if isinstance(options, GeminiOptions) else ()


def texts(history: Any) -> list[str | None]:
    return [p.text for turn in history for p in turn.parts if p.text]


def test_history_rebuilds_the_chain_oldest_first(c: Container) -> None:
    history = history_of(c, chain(c, 3)[-1])
    assert [t.role for t in history] == ["user", "model"] * 3
    assert texts(history) == ["Image to edit:", "prompt 1", "answer 1", "prompt 2", "answer 2",
                              "prompt 3", "answer 3"]  # fmt: skip


def test_history_carries_signatures_and_images_of_each_model_turn(c: Container) -> None:
    ids = chain(c, 2)
    history = history_of(c, ids[-1])
    images = [p for p in history[3].parts if p.data is not None]
    assert [p.thought_signature for p in history[3].parts] == [signature(2), signature(102)]
    assert images[0].data == c.assets.data(c.assets.get(ids[-1]))


def test_history_starts_at_the_turn_that_did_not_continue(c: Container) -> None:
    older = chain(c, 2)
    fresh = add_turn(c, 7)  # a new conversation, though it could name a parent
    with c.db.write() as s:
        asset = s.get(Asset, fresh)
        assert asset is not None
        asset.parent_id = older[-1]
    assert texts(history_of(c, fresh)) == ["Image to edit:", "prompt 7", "answer 7"]


def test_history_keeps_only_the_most_recent_turns(c: Container) -> None:
    history = history_of(c, chain(c, MAX_TURNS + 2)[-1])
    assert len(history) == 2 * MAX_TURNS
    assert texts(history)[0] == "prompt 3"


def test_continuation_is_plain_when_an_earlier_turn_is_gone(c: Container) -> None:
    orphan = add_turn(c, 2, parent=add_turn(c, 1))
    with c.db.write() as s:
        asset = s.get(Asset, orphan)
        assert asset is not None
        asset.params = {"turn": {**asset.params["turn"], "continues": True}}
        asset.parent_id = None
    assert history_of(c, orphan) == ()


def test_continuation_is_plain_when_an_earlier_turn_is_another_models(c: Container) -> None:
    first = add_turn(c, 1, model="gemini-2.5-flash-image")
    assert history_of(c, add_turn(c, 2, parent=first)) == ()


def test_continuation_is_plain_when_stored_state_names_a_missing_reference(
    c: Container,
) -> None:
    broken = {"model_id": PRO, "continues": False,
              "user_parts": [{"reference": 5, "mime_type": "image/png"}], "model_parts": []}  # fmt: skip
    assert history_of(c, add_turn(c, 1, state=broken)) == ()


def test_continuation_on_another_model_is_plain_with_the_assets_image(c: Container) -> None:
    asset_id = chain(c, 2)[-1]
    continued = c.threads.continuation(asset_id, "zero", LOCAL, None)
    assert continued.options is None
    assert continued.image.data == c.assets.data(c.assets.get(asset_id))


def test_continuation_of_an_unknown_asset_is_not_found(c: Container) -> None:
    with pytest.raises(NotFoundError):
        c.threads.continuation("img_missing", PRO, LOCAL, None)
