"""Compare and arena over HTTP: one brief on several models (compose and the test engines),
side by side; pairwise votes; the leaderboard as JSON and CSV; ownership, credits and
idempotency like jobs."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from pixelforge.domain.ratings import Vote, fit
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.errors import EngineError
from pixelforge.store.models import Compare, Job
from server_support import LiveServer, StartServer
from testing_engines import BlockingEngine, FailingEngine, ZeroWorkEngine

PROMPT = 'Minimal poster, headline "OPEN LATE", warm palette'
TWO = [{"model": "compose"}, {"model": "zero"}]
PASSWORD = "correct horse battery"


def body(entries: list[dict[str, Any]] = TWO, **fields: Any) -> dict[str, Any]:
    return {"prompt": PROMPT, "size": "256x256", "entries": entries, **fields}


def engines() -> list[Any]:
    return [
        ComposeEngine(FontLibrary(), IconSet()), ZeroWorkEngine(), ZeroWorkEngine("zero-2"),
        FailingEngine("broken", EngineError("the test engine failed")),
    ]  # fmt: skip


def wait_finished(http: httpx.Client, compare_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = http.get(f"/api/compare/{compare_id}").json()
        if view["status"] == "finished" or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def finished(http: httpx.Client, payload: dict[str, Any]) -> dict[str, Any]:
    response = http.post("/api/compare", json=payload)
    assert response.status_code == 202, response.text
    return wait_finished(http, response.json()["id"])


def vote(http: httpx.Client, view: dict[str, Any], a: int, b: int, winner: str) -> httpx.Response:
    ids = [e["id"] for e in view["entries"]]
    return http.post(f"/api/compare/{view['id']}/votes",
                     json={"a": ids[a], "b": ids[b], "winner": winner})  # fmt: skip


def error_of(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json()["error"]["param"]


@pytest.fixture
def live(make_server: StartServer) -> LiveServer:
    return make_server(engines=engines())


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


# -- compare -----------------------------------------------------------------------------


def test_create_compare_answers_202_with_location_and_one_job_per_entry(
    http: httpx.Client,
) -> None:
    response = http.post("/api/compare", json=body(category="poster"))

    view = response.json()
    assert response.status_code == 202
    assert response.headers["location"] == f"/api/compare/{view['id']}"
    assert (view["object"], view["category"]) == ("compare", "poster")
    assert [e["model"] for e in view["entries"]] == ["compose", "zero"]
    assert len({e["job_id"] for e in view["entries"]}) == 2


def test_compare_shows_entries_side_by_side_when_finished(http: httpx.Client) -> None:
    view = finished(http, body())

    assert view["status"] == "finished"
    for entry in view["entries"]:
        assert entry["status"] == "succeeded"
        assert len(entry["assets"]) == 1
        assert entry["seconds"] >= 0
        assert (entry["size"], entry["served_by"]) == ("256x256", entry["model"])
        assert entry["bytes"] > 0
        assert {"cost", "price"} <= set(entry)


def test_compare_entry_jobs_are_ordinary_jobs(http: httpx.Client) -> None:
    view = finished(http, body())

    job = http.get(f"/api/jobs/{view['entries'][0]['job_id']}").json()
    assert (job["status"], job["assets"]) == ("succeeded", view["entries"][0]["assets"])


def test_compare_runs_one_model_with_two_labelled_settings(http: httpx.Client) -> None:
    entries = [{"model": "compose", "label": "plain"},
               {"model": "compose", "label": "svg", "options": {"svg": True}}]  # fmt: skip
    view = finished(http, body(entries))

    assert [(e["label"], e["status"]) for e in view["entries"]] == [
        ("plain", "succeeded"), ("svg", "succeeded"),
    ]  # fmt: skip
    assert view["entries"][1]["options"] == {"svg": True}


def test_compare_shows_failed_entry_with_its_error(http: httpx.Client) -> None:
    view = finished(http, body([{"model": "zero"}, {"model": "broken"}]))

    broken = view["entries"][1]
    assert (broken["status"], broken["assets"], broken["seconds"]) == ("failed", [], None)
    assert broken["error"]["code"] == "engine_error"


@pytest.mark.parametrize(
    ("entries", "param"),
    [
        ([{"model": "compose"}], "entries"),
        ([{"model": "zero"}] * 9, "entries"),
        ([{"model": "compose"}, {"model": "nope"}], "entries[1].model"),
        ([{"model": "compose"}, {"model": "compose"}], "entries[1].label"),
        ([{"model": "compose", "options": {"bogus": 1}}, {"model": "zero"}],
         "entries[0].options.bogus"),
        ([{"model": "zero", "options": {"svg": True}}, {"model": "compose"}], "entries[0].options"),
        ([{"model": "compose"}, {"model": "zero", "label": ""}], "entries.1.label"),
    ],
)  # fmt: skip
def test_create_compare_rejects_bad_entries_naming_the_field(
    http: httpx.Client, entries: list[dict[str, Any]], param: str
) -> None:
    assert error_of(http.post("/api/compare", json=body(entries))) == (400, param)


def test_create_compare_rejects_unknown_category(http: httpx.Client) -> None:
    assert error_of(http.post("/api/compare", json=body(category="memes"))) == (400, "category")


def test_create_compare_makes_no_job_when_an_entry_is_refused(
    http: httpx.Client, live: LiveServer
) -> None:
    # zero takes a negative prompt, compose (entry 1) does not: nothing may be queued.
    payload = body([{"model": "zero"}, {"model": "compose"}], negative_prompt="blurry")

    response = http.post("/api/compare", json=payload)

    assert error_of(response) == (400, "negative_prompt")
    assert response.json()["error"]["message"].startswith("entries[1] (model 'compose'): ")
    with live.container.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0
        assert s.scalar(select(func.count()).select_from(Compare)) == 0


def test_get_compare_answers_404_for_unknown_id(http: httpx.Client) -> None:
    response = http.get("/api/compare/cmp_missing")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "compare_not_found")


def test_create_compare_replays_same_compare_for_same_idempotency_key(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "compare-1"}
    first = http.post("/api/compare", json=body(), headers=headers)
    again = http.post("/api/compare", json=body(), headers=headers)

    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"


def test_create_compare_refuses_reused_idempotency_key_with_other_body(
    http: httpx.Client,
) -> None:
    headers = {"Idempotency-Key": "compare-2"}
    http.post("/api/compare", json=body(), headers=headers)

    response = http.post("/api/compare", json=body(seed=5), headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (
        422, "idempotency_key_reused",
    )  # fmt: skip


# -- votes -------------------------------------------------------------------------------


def test_vote_records_winner_and_the_models(http: httpx.Client) -> None:
    view = finished(http, body(category="poster"))

    response = vote(http, view, 0, 1, "a")

    cast = response.json()
    assert response.status_code == 201
    assert (cast["winner"], cast["category"], cast["replaced"]) == ("a", "poster", False)
    assert cast["models"] == {"a": {"model": "compose", "label": None},
                              "b": {"model": "zero", "label": None}}  # fmt: skip
    assert http.get(f"/api/compare/{view['id']}").json()["votes"][0]["winner"] == "a"


def test_vote_again_on_the_same_pair_replaces_the_earlier_vote(http: httpx.Client) -> None:
    view = finished(http, body())
    vote(http, view, 0, 1, "a")

    response = vote(http, view, 1, 0, "tie")

    assert response.json()["replaced"] is True
    votes = http.get(f"/api/compare/{view['id']}").json()["votes"]
    assert [v["winner"] for v in votes] == ["tie"]


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"a": "entry_nope", "b": 1, "winner": "a"}, "a"),
        ({"a": 0, "b": "entry_nope", "winner": "b"}, "b"),
        ({"a": 0, "b": 0, "winner": "tie"}, "b"),
        ({"a": 0, "b": 1, "winner": "both"}, "winner"),
        ({"a": 0, "b": 1}, "winner"),
        ({"a": 0, "winner": "a"}, "b"),
    ],
)
def test_vote_rejects_bad_vote_with_400_naming_the_field(
    http: httpx.Client, payload: dict[str, Any], param: str
) -> None:
    view = finished(http, body())
    ids = [e["id"] for e in view["entries"]]
    sent = {k: ids[v] if isinstance(v, int) else v for k, v in payload.items()}

    assert error_of(http.post(f"/api/compare/{view['id']}/votes", json=sent)) == (400, param)


def test_vote_refuses_failed_entry_with_409(http: httpx.Client) -> None:
    view = finished(http, body([{"model": "zero"}, {"model": "broken"}]))

    response = vote(http, view, 0, 1, "a")
    assert (*error_of(response), response.json()["error"]["code"]) == (
        409, "b", "job_state_conflict",
    )  # fmt: skip


def test_vote_refuses_unfinished_entry_with_409(make_server: StartServer) -> None:
    blocking = BlockingEngine()
    live = make_server(engines=[ZeroWorkEngine(), blocking])
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        view = http.post("/api/compare",
                         json=body([{"model": "blocking"}, {"model": "zero"}])).json()  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while view["entries"][1]["status"] != "succeeded" and time.monotonic() < deadline:
                time.sleep(0.05)
                view = http.get(f"/api/compare/{view['id']}").json()
            response = vote(http, view, 0, 1, "b")
        finally:
            blocking.release()
    assert view["entries"][0]["status"] in ("queued", "running")
    assert error_of(response) == (409, "a")


def test_vote_on_unknown_compare_answers_404(http: httpx.Client) -> None:
    response = http.post("/api/compare/cmp_missing/votes", json={"a": "x", "b": "y",
                                                                  "winner": "a"})  # fmt: skip
    assert response.status_code == 404


# -- leaderboard -------------------------------------------------------------------------


def cast_votes(http: httpx.Client, category: str) -> list[Vote]:
    """compose beats zero twice, ties zero-2; zero-2 beats zero: returns the same as Votes."""
    three = [{"model": "compose"}, {"model": "zero"}, {"model": "zero-2"}]
    for winners in (("a", "tie", "b"), ("a", "tie", "b")):
        view = finished(http, body(three, category=category))
        for (a, b), winner in zip(((0, 1), (0, 2), (1, 2)), winners, strict=True):
            assert vote(http, view, a, b, winner).status_code == 201
    return [Vote("compose", "zero", "a"), Vote("compose", "zero-2", "tie"),
            Vote("zero", "zero-2", "b")] * 2  # fmt: skip


def test_leaderboard_matches_the_rating_model(http: httpx.Client) -> None:
    expected = fit(cast_votes(http, "poster"))

    board = http.get("/api/leaderboard", params={"category": "poster"}).json()

    assert (board["category"], board["votes"], board["method"]) == ("poster", 6, "bradley-terry")
    rows = [(r["model"], r["rating"], r["ci_low"], r["ci_high"], r["wins"], r["losses"],
             r["ties"], r["votes"]) for r in board["data"]]  # fmt: skip
    assert rows == [(e.player, round(e.rating, 1), round(e.ci_low, 1), round(e.ci_high, 1),
                     e.wins, e.losses, e.ties, e.votes) for e in expected]  # fmt: skip
    assert [r["rank"] for r in board["data"]] == [1, 2, 3]


def test_leaderboard_keeps_categories_apart(http: httpx.Client) -> None:
    cast_votes(http, "poster")

    assert http.get("/api/leaderboard", params={"category": "product"}).json()["data"] == []
    assert http.get("/api/leaderboard").json()["votes"] == 6


def test_leaderboard_rates_labelled_settings_apart(http: httpx.Client) -> None:
    entries = [{"model": "compose", "label": "plain"},
               {"model": "compose", "label": "svg", "options": {"svg": True}}]  # fmt: skip
    vote(http, finished(http, body(entries)), 1, 0, "a")

    rows = http.get("/api/leaderboard").json()["data"]
    assert [(r["model"], r["label"], r["wins"]) for r in rows] == [
        ("compose", "svg", 1), ("compose", "plain", 0),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "headers"), [({"format": "csv"}, {}), ({}, {"Accept": "text/csv"})]
)
def test_leaderboard_exports_csv(
    http: httpx.Client, params: dict[str, str], headers: dict[str, str]
) -> None:
    cast_votes(http, "poster")
    board = http.get("/api/leaderboard", params={"category": "poster"}).json()

    response = http.get("/api/leaderboard", params={"category": "poster", **params},
                        headers=headers)  # fmt: skip

    assert response.headers["content-type"].startswith("text/csv")
    assert "leaderboard-poster.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["rank"], r["model"], r["rating"], r["votes"]) for r in rows] == [
        (str(r["rank"]), r["model"], str(r["rating"]), str(r["votes"])) for r in board["data"]
    ]


def test_leaderboard_csv_quotes_cells_that_would_be_formulas(http: httpx.Client) -> None:
    entries = [{"model": "zero", "label": "=HYPERLINK(1)"}, {"model": "zero-2"}]
    vote(http, finished(http, body(entries)), 0, 1, "a")

    text = http.get("/api/leaderboard", params={"format": "csv"}).text
    assert "'=HYPERLINK(1)" in text


def test_leaderboard_is_empty_before_any_vote(http: httpx.Client) -> None:
    assert http.get("/api/leaderboard").json()["data"] == []


def test_leaderboard_rejects_unknown_category(http: httpx.Client) -> None:
    assert error_of(http.get("/api/leaderboard", params={"category": "memes"})) == (
        400, "category",
    )  # fmt: skip


# -- accounts: ownership and credits -----------------------------------------------------


Accounts = tuple[LiveServer, dict[str, str], dict[str, str]]


@pytest.fixture
def accounts(make_server: StartServer) -> Accounts:
    live = make_server(engines=engines(), auth="required", rate_limit_per_minute=0)
    keys, ids = {}, {}
    for name, role in (("a", "member"), ("b", "member"), ("admin", "admin")):
        user = live.container.accounts.create_user(f"{name}@example.com", PASSWORD, role)
        live.container.credits.grant(user.id, 10_000)  # 0.01 USD: ten local images
        keys[name] = live.container.accounts.create_key(user.id, "k")[1]
        ids[name] = user.id
    return live, keys, ids


def client(live: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=live.base_url, timeout=30,
                        headers={"Authorization": f"Bearer {key}"})  # fmt: skip


def test_other_user_gets_404_like_a_missing_compare(
    accounts: Accounts,
) -> None:
    live, keys, _ = accounts
    with client(live, keys["a"]) as a, client(live, keys["b"]) as b:
        view = finished(a, body())
        theirs = b.get(f"/api/compare/{view['id']}")
        missing = b.get("/api/compare/cmp_missing")
        ids = [e["id"] for e in view["entries"]]
        vote_theirs = b.post(f"/api/compare/{view['id']}/votes",
                             json={"a": ids[0], "b": ids[1], "winner": "a"})  # fmt: skip

    assert theirs.status_code == missing.status_code == vote_theirs.status_code == 404
    assert theirs.json()["error"] == {**missing.json()["error"],
                                      "message": theirs.json()["error"]["message"]}  # fmt: skip


def test_admin_sees_another_users_compare_but_may_not_vote_on_it(accounts: Accounts) -> None:
    live, keys, _ = accounts
    with client(live, keys["a"]) as a, client(live, keys["admin"]) as admin:
        view = finished(a, body())
        seen = admin.get(f"/api/compare/{view['id']}")
        response = vote(admin, view, 0, 1, "a")

    assert seen.status_code == 200
    assert (response.status_code, response.json()["error"]["code"]) == (403, "owner_required")


def test_compare_reserves_credits_for_every_entry(
    accounts: Accounts,
) -> None:
    live, keys, ids = accounts
    with client(live, keys["a"]) as a:
        view = finished(a, body())

    assert [e["cost"] for e in view["entries"]] == ["0.001", "0.001"]
    assert live.container.credits.balance(ids["a"]) == 10_000 - 2_000


def test_compare_makes_no_job_when_credits_cover_only_some_entries(
    accounts: Accounts,
) -> None:
    live, keys, ids = accounts
    entries = [{"model": "zero", "label": str(i)} for i in range(8)]
    with client(live, keys["a"]) as a:
        finished(a, body(entries))  # 8 of the 10 images the balance covers
        response = a.post("/api/compare", json=body(entries))

    assert (response.status_code, response.json()["error"]["code"]) == (402, "insufficient_credits")
    with live.container.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 8
    assert live.container.credits.balance(ids["a"]) == 2_000


def test_leaderboard_mine_counts_only_own_votes(
    accounts: Accounts,
) -> None:
    live, keys, _ = accounts
    with client(live, keys["a"]) as a, client(live, keys["b"]) as b:
        vote(a, finished(a, body()), 0, 1, "a")
        assert b.get("/api/leaderboard").json()["votes"] == 1
        assert b.get("/api/leaderboard", params={"mine": "true"}).json()["votes"] == 0


def test_compare_vote_and_leaderboard_work_on_postgresql(
    make_server: StartServer, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_server").create_database("compare_api")
    live = make_server(engines=engines(), database_url=url)
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        view = finished(http, body([{"model": "compose"}, {"model": "zero"}, {"model": "zero-2"}]))
        assert vote(http, view, 0, 1, "a").status_code == 201
        assert vote(http, view, 2, 1, "a").status_code == 201
        assert vote(http, view, 1, 2, "tie").json()["replaced"] is True
        board = http.get("/api/leaderboard").json()

    expected = fit([Vote("compose", "zero", "a"), Vote("zero", "zero-2", "tie")])
    assert [(r["model"], r["rating"]) for r in board["data"]] == [
        (e.player, round(e.rating, 1)) for e in expected
    ]
