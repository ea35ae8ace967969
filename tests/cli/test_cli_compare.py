"""``pixelforge compare`` (compose and hosted models, in-process) and ``pixelforge leaderboard``.

The hosted models are the ``openai`` engine talking to a small local fake of the documented
``/v1/images/generations`` wire format (a solid image of the asked size, with token usage).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image

from pixelforge.domain.ratings import Vote, fit
from pixelforge.services.compare import Category
from pixelforge.store.db import Database
from pixelforge.store.models import ArenaVote, Compare
from server_support import serving

PROMPT = 'Minimal poster, headline "OPEN LATE"'
MINI, FULL = "gpt-image-1-mini", "gpt-image-1"
#: gpt-image-1-mini: 50 text tokens at 2 USD/1M + 4000 image tokens at 8 USD/1M.
MINI_COST = "0.0321"


def fake_openai(failing: set[str]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/images/generations")
    async def generations(request: Request) -> Response:
        fields: dict[str, Any] = await request.json()
        if fields["model"] in failing:
            body = {"error": {"message": "boom", "type": "server_error", "param": None,
                              "code": None}}  # fmt: skip
            return JSONResponse(body, status_code=500)
        width, height = map(int, str(fields.get("size", "1024x1024")).split("x"))
        buf = io.BytesIO()
        Image.new("RGB", (width, height), (30, 120, 200)).save(buf, "PNG")
        image = base64.b64encode(buf.getvalue()).decode()
        usage = {"input_tokens": 50, "output_tokens": 4000, "total_tokens": 4050,
                 "input_tokens_details": {"image_tokens": 0, "text_tokens": 50}}  # fmt: skip
        if not fields.get("stream"):
            return JSONResponse({"created": int(time.time()), "data": [{"b64_json": image}],
                                 "usage": usage})  # fmt: skip
        done = {"type": "image_generation.completed", "b64_json": image, "usage": usage,
                "created_at": int(time.time()), "size": fields.get("size"),
                "output_format": "png", "background": "opaque", "quality": "high"}  # fmt: skip
        event = f"event: image_generation.completed\ndata: {json.dumps(done)}\n\n"
        return Response(event, media_type="text/event-stream")

    return app


@pytest.fixture
def hosted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with serving(fake_openai({FULL}), "fake-openai-cli") as base_url:
        monkeypatch.setenv("PIXELFORGE_OPENAI_API_KEY", "sk-test-compare")
        monkeypatch.setenv("PIXELFORGE_OPENAI_BASE_URL", f"{base_url}/v1")
        monkeypatch.setenv("PIXELFORGE_OPENAI_MODELS", f"{MINI},{FULL}")
        monkeypatch.setenv("PIXELFORGE_PROVIDER_MAX_RETRIES", "0")
        yield


def compare(run_cli, out: Path, *models: str, extra: tuple[str, ...] = ()):
    flags = [arg for model in models for arg in ("-m", model)]
    return run_cli("compare", PROMPT, *flags, "--size", "1024x1024", "--seed", "3",
                   "-o", str(out), *extra)  # fmt: skip


def test_compare_writes_one_image_per_model(run_cli, tmp_path, hosted) -> None:
    out = tmp_path / "out"

    result = compare(run_cli, out, "compose", MINI)

    assert result.rc == 0, result.err
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "minimal-poster-headline-open-late-compose-1-seed3.png",
        f"minimal-poster-headline-open-late-{MINI}-1-seed3.png",
    ]
    for path in out.iterdir():
        with Image.open(path) as im:
            assert im.size == (1024, 1024)


def test_compare_prints_model_seconds_cost_and_size(run_cli, tmp_path, hosted) -> None:
    result = compare(run_cli, tmp_path / "out", "compose", MINI)

    rows = {line.split("│")[1].strip(): line for line in result.out_lines if "│" in line}
    assert {"compose", MINI} <= set(rows)
    assert MINI_COST in rows[MINI]
    assert "0.001" in rows["compose"]
    assert all("1024x1024" in rows[m] for m in ("compose", MINI))


def test_compare_reports_failed_model_and_keeps_the_others(run_cli, tmp_path, hosted) -> None:
    out = tmp_path / "out"

    result = compare(run_cli, out, "compose", FULL)

    assert result.rc == 1
    assert "failed" in result.out
    assert result.err_lines[-1] == f"error: 1 of 2 models failed: {FULL}"
    assert [p.name for p in out.iterdir()] == [
        "minimal-poster-headline-open-late-compose-1-seed3.png"
    ]


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (("compose",), "error: --model: give 2 to 8 models to compare"),
        (("compose", "compose"), "error: --model: 'compose' is given twice"),
        (("compose", "nope"), "error: --model: 'nope' is not a known model"),
    ],
)
def test_compare_refuses_bad_models_with_exit_2(run_cli, tmp_path, models, message) -> None:
    out = tmp_path / "out"

    result = compare(run_cli, out, *models)

    assert result.rc == 2
    assert result.err_lines[-1].startswith(message)
    assert not out.exists()


def test_compare_refuses_what_one_model_cannot_do_naming_option_and_model(
    run_cli, tmp_path, hosted
) -> None:
    result = run_cli("compare", PROMPT, "-m", "compose", "-m", MINI, "--size", "4000x4000",
                     "-o", str(tmp_path / "out"))  # fmt: skip

    assert result.rc == 2
    assert result.err_lines[-1].startswith("error: --size: ")
    assert result.err_lines[-1].endswith(f"(model {MINI!r})")


# -- leaderboard -------------------------------------------------------------------------

VOTES = [("compose", MINI, "a"), ("compose", MINI, "a"), (MINI, "compose", "a"),
         ("compose", FULL, "tie"), (FULL, MINI, "b")]  # fmt: skip


def seed_votes(home: Path, category: Category = Category.POSTER) -> None:
    db = Database(f"sqlite:///{home / 'pixelforge.db'}")
    db.migrate()
    try:
        with db.write() as s:
            s.add(Compare(id="cmp_1", user_id=None, prompt="p", category=category.value,
                          created_at=time.time()))  # fmt: skip
            s.flush()
            for i, (a, b, winner) in enumerate(VOTES):
                s.add(ArenaVote(
                    compare_id="cmp_1", user_id=None, category=category.value, pair=str(i),
                    entry_a=f"entry_{i}a", entry_b=f"entry_{i}b", model_a=a, model_b=b,
                    label_a="", label_b="", winner=winner, created_at=time.time(),
                ))  # fmt: skip
    finally:
        db.dispose()


def test_leaderboard_prints_csv_of_the_fitted_ratings(run_cli, tmp_path) -> None:
    seed_votes(tmp_path / "home")

    result = run_cli("leaderboard", "--category", "poster", "--csv")

    assert result.rc == 0
    rows = list(csv.DictReader(io.StringIO(result.out)))
    expected = fit([Vote(a, b, w) for a, b, w in VOTES])  # type: ignore[arg-type]
    assert [(r["model"], float(r["rating"])) for r in rows] == [
        (e.player, round(e.rating, 1)) for e in expected
    ]


def test_leaderboard_prints_a_table(run_cli, tmp_path) -> None:
    seed_votes(tmp_path / "home")

    result = run_cli("leaderboard")

    assert result.rc == 0
    assert all(model in result.out for model in ("compose", MINI, FULL))


def test_leaderboard_of_another_category_is_empty(run_cli, tmp_path) -> None:
    seed_votes(tmp_path / "home")

    result = run_cli("leaderboard", "--category", "product", "--csv")

    assert result.out_lines == ["rank,model,label,rating,ci_low,ci_high,wins,losses,ties,votes"]


def test_leaderboard_refuses_unknown_category_with_exit_2(run_cli) -> None:
    result = run_cli("leaderboard", "--category", "memes")

    assert result.rc == 2
    assert result.err_lines[-1].startswith("error: --category: 'memes' is not allowed")
