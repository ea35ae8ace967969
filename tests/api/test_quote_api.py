"""POST /api/quote: one set of settings priced and checked on each model, as POST /api/jobs
would build and check it (compose, the text-overlay and upscale models, a test engine with a
tier price), with no job and no charge; errors that hold whatever the model are a 400."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.engines.text_overlay import TextOverlayEngine
from pixelforge.engines.upscale import CLASSICAL, UpscaleEngine
from pixelforge.store.models import Job
from server_support import LiveServer, start_server
from testing_engines import ZeroWorkEngine

PASSWORD = "correct horse battery"
CREDITS = 5_000_000  # micro-USD
PRICES = {
    "batch_discount": "0.5",
    "local_per_image": "0.002",
    "models": {"zero": {"tier": {"512": "0.01", "1K": "0.02", "2K": "0.04", "4K": "0.08"}}},
}


@dataclass
class Site:
    live: LiveServer
    http: httpx.Client
    user_id: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("quote")
    prices = home / "prices.json"
    prices.write_text(json.dumps(PRICES))
    engines = [ComposeEngine(FontLibrary(), IconSet()), TextOverlayEngine(),
               UpscaleEngine(super_resolution=False), ZeroWorkEngine()]  # fmt: skip
    live = start_server(home, engines, auth="required", rate_limit_per_minute=0,
                        prices_file=Path(prices))  # fmt: skip
    try:
        c = live.container
        user = c.accounts.create_user("quote@example.com", PASSWORD, "member")
        c.credits.grant(user.id, CREDITS)
        _, raw = c.accounts.create_key(user.id, "k")
        headers = {"Authorization": f"Bearer {raw}"}
        with httpx.Client(base_url=live.base_url, timeout=30, headers=headers) as http:
            yield Site(live, http, user.id)
    finally:
        live.stop()


def quote(site: Site, **body: Any) -> dict[str, Any]:
    response = site.http.post("/api/quote", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def entries(site: Site, **body: Any) -> dict[str, dict[str, Any]]:
    return {e["model"]: e for e in quote(site, **body)["data"]}


def error_of(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json()["error"]["param"]


def png_b64(width: int = 64, height: int = 64) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


# -- prices -----------------------------------------------------------------------------------


def test_compose_quote_is_ok_with_the_local_price(site: Site) -> None:
    entry = entries(site, models=["compose"])["compose"]
    assert entry == {"model": "compose", "ok": True, "price": "0.002", "per_image": "0.002",
                     "speed_class": "instant", "error": None}  # fmt: skip


def test_price_is_n_times_the_per_image_price(site: Site) -> None:
    entry = entries(site, models=["compose"], n=3)["compose"]
    assert (entry["price"], entry["per_image"]) == ("0.006", "0.002")


def test_price_follows_the_table_entry_of_the_model(site: Site) -> None:
    entry = entries(site, models=["zero"], resolution="2K", n=2)["zero"]
    assert (entry["price"], entry["per_image"]) == ("0.08", "0.04")


def test_quote_answers_the_reservation_a_job_with_the_same_settings_holds(site: Site) -> None:
    body = {"prompt": "a paper crane", "resolution": "512", "n": 2}
    priced = entries(site, models=["zero"], **body)["zero"]["price"]

    job = site.http.post("/api/jobs", json={**body, "model": "zero"})

    assert job.status_code == 202, job.text
    assert job.json()["reserved"] == priced == "0.02"


def test_quote_says_a_signed_in_caller_is_billed(site: Site) -> None:
    assert quote(site, models=["compose"])["billed"] is True


# -- what each model can honour ---------------------------------------------------------------


def test_model_without_negative_prompts_is_refused_naming_negative_prompt(site: Site) -> None:
    got = entries(site, models=["compose", "zero"], negative_prompt="blurry")

    assert got["compose"]["ok"] is False
    assert got["compose"]["error"]["param"] == "negative_prompt"
    assert (got["compose"]["price"], got["compose"]["per_image"]) == (None, None)
    assert got["zero"]["ok"] is True


def test_edit_only_models_are_refused_for_a_generation_naming_mode(site: Site) -> None:
    got = entries(site, models=["text-overlay", CLASSICAL])

    assert [(e["ok"], e["error"]["param"]) for e in got.values()] == [(False, "mode")] * 2


def test_refused_entry_still_names_the_model_speed_class(site: Site) -> None:
    assert entries(site, models=[CLASSICAL])[CLASSICAL]["speed_class"] == "fast"


def test_n_over_the_model_maximum_is_refused_naming_n(site: Site) -> None:
    image = [{"b64_json": png_b64()}]
    got = entries(site, models=["text-overlay"], mode="edit", references=image, n=2,
                  text_overlay={"headline": "SALE"})  # fmt: skip

    assert (got["text-overlay"]["ok"], got["text-overlay"]["error"]["param"]) == (False, "n")


def test_model_own_check_is_reported_as_the_entry_error(site: Site) -> None:
    # The text-overlay model needs the text itself: its own check, not a capability.
    image = [{"b64_json": png_b64()}]
    got = entries(site, models=["text-overlay", "compose"], mode="edit", references=image)

    assert got["text-overlay"]["error"]["param"] == "text_overlay"
    assert got["compose"]["ok"] is True


def test_edit_on_an_image_is_ok_on_the_text_overlay_model_with_text(site: Site) -> None:
    image = [{"b64_json": png_b64()}]
    got = entries(site, models=["text-overlay"], mode="edit", references=image,
                  text_overlay={"headline": "SALE"})  # fmt: skip

    assert got["text-overlay"]["ok"] is True, got


def test_quote_without_models_answers_every_model_once_in_registry_order(site: Site) -> None:
    listed = [m["id"] for m in site.http.get("/v1/models").json()["data"]]

    got = [e["model"] for e in quote(site)["data"]]

    assert got == listed
    assert {"compose", "zero", "text-overlay", CLASSICAL} <= set(got)


def test_unknown_model_is_an_entry_refused_naming_model(site: Site) -> None:
    got = entries(site, models=["no-such-model", "compose"])

    refused = got["no-such-model"]
    assert (refused["ok"], refused["speed_class"]) == (False, None)
    assert (refused["error"]["param"], refused["error"]["code"]) == ("model", "model_not_found")
    assert got["compose"]["ok"] is True


# -- nothing runs, nothing is charged ----------------------------------------------------------


def test_quote_creates_no_job_and_charges_nothing(site: Site) -> None:
    c = site.live.container
    with c.db.read() as s:
        jobs_before = s.scalar(select(func.count()).select_from(Job))
    balance = c.credits.balance(site.user_id)

    quote(site, n=10, resolution="4K")

    with c.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == jobs_before
    assert c.credits.balance(site.user_id) == balance


def test_quote_needs_a_signed_in_caller(site: Site) -> None:
    response = httpx.post(f"{site.live.base_url}/api/quote", json={})
    assert response.status_code == 401


# -- errors whatever the model: 400 naming the field -----------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"n": 0}, "n"),
        ({"n": 11}, "n"),
        ({"models": []}, "models"),
        ({"models": [f"m{i}" for i in range(65)]}, "models"),
        ({"models": [""]}, "models.0"),
        ({"quality": "ultra"}, "quality"),
        ({"prompt": ""}, "prompt"),
        ({"aspect_ratio": "wide"}, "aspect_ratio"),
        ({"background": "transparent", "output_format": "jpeg"}, "background"),
        ({"mode": "edit"}, "image"),
        ({"references": [{"b64_json": "not base64!"}]}, "references[0]"),
        ({"options": {}}, "options"),
    ],
)
def test_invalid_settings_are_a_400_naming_the_field(
    site: Site, body: dict[str, Any], param: str
) -> None:
    response = site.http.post("/api/quote", json={"models": ["compose"], **body})
    assert error_of(response) == (400, param), response.text
