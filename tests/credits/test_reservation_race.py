"""Budget overrun through concurrent requests (security.md row 31): 50 submits start together
on a balance that affords exactly 7 jobs; exactly 7 are accepted, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from server_support import LiveServer, start_server
from testing_engines import ZeroWorkEngine

CALLERS = 50
AFFORDABLE = 7
PRICE = 10_000  # local_price_per_image 0.01 USD, n=1
_names = itertools.count()


@dataclass
class Race:
    server: LiveServer
    user_id: str
    responses: list[httpx.Response]


def _race(live: LiveServer) -> Race:
    c = live.container
    user = c.accounts.create_user("racer@example.com", None)
    c.credits.grant(user.id, AFFORDABLE * PRICE)
    _, raw = c.accounts.create_key(user.id, "race")
    barrier = threading.Barrier(CALLERS)
    responses: list[httpx.Response | None] = [None] * CALLERS

    def call(i: int) -> None:
        with httpx.Client(base_url=live.base_url, timeout=60) as client:
            barrier.wait()
            responses[i] = client.post(
                "/api/jobs", json={"prompt": f"race {i}", "model": "zero"},
                headers={"Authorization": f"Bearer {raw}"},
            )  # fmt: skip

    threads = [threading.Thread(target=call, args=(i,)) for i in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done = [r for r in responses if r is not None]
    assert len(done) == CALLERS
    return Race(live, user.id, done)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def race(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Race]:
    settings: dict[str, Any] = {
        "auth": "required", "workers": 0, "local_price_per_image": "0.01",
    }  # fmt: skip
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres_server")
        settings["database_url"] = pg.create_database(f"race_{next(_names)}")
    live = start_server(tmp_path_factory.mktemp("race"), [ZeroWorkEngine()], **settings)
    try:
        yield _race(live)
    finally:
        live.stop()


def test_concurrent_submits_accept_exactly_the_affordable_number(race: Race) -> None:
    assert sorted(r.status_code for r in race.responses) == [202] * AFFORDABLE + [402] * (
        CALLERS - AFFORDABLE
    )


def test_concurrent_submits_refused_with_insufficient_credits_code(race: Race) -> None:
    codes = {r.json()["error"]["code"] for r in race.responses if r.status_code == 402}
    assert codes == {"insufficient_credits"}


def test_concurrent_submits_refused_say_do_not_retry(race: Race) -> None:
    flags = {r.headers.get("x-should-retry") for r in race.responses if r.status_code == 402}
    assert flags == {"false"}


def test_concurrent_submits_leave_balance_exactly_zero(race: Race) -> None:
    assert race.server.container.credits.balance(race.user_id) == 0


def test_concurrent_submits_reserve_once_per_accepted_job(race: Race) -> None:
    accepted = {r.json()["id"] for r in race.responses if r.status_code == 202}
    history = race.server.container.credits.history(race.user_id, limit=100)
    reserved = {e["job_id"] for e in history if e["kind"] == "reserve"}
    assert reserved == accepted
