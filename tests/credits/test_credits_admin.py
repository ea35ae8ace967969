"""Admin credits over HTTP: idempotent grants, quotas, and usage reports (JSON and CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from server_support import LiveServer, StartServer
from testing_engines import ZeroWorkEngine


@dataclass
class Site:
    live: LiveServer
    admin: httpx.Client
    member: httpx.Client
    member_id: str
    member_email: str

    def credits(self, user_id: str, key: str | None, amount: str) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return self.admin.post(
            f"/api/admin/users/{user_id}/credits", json={"amount": amount}, headers=headers
        )

    def submit(self) -> httpx.Response:
        return self.member.post("/api/jobs", json={"prompt": "a kite", "model": "zero"})

    def run_all(self) -> None:
        c = self.live.container
        while (claimed := c.queue.claim("test-worker")) is not None:
            assert c.pool.runner.run(claimed) == "succeeded"


@pytest.fixture
def site(make_server: StartServer) -> Any:
    live = make_server(
        engines=[ZeroWorkEngine()], auth="required", workers=0, local_price_per_image="0.01"
    )
    c = live.container
    admin = c.accounts.create_user("admin@example.com", None, role="admin")
    member = c.accounts.create_user("member@example.com", None)
    _, admin_key = c.accounts.create_key(admin.id, "admin")
    _, member_key = c.accounts.create_key(member.id, "member")
    clients = [
        httpx.Client(base_url=live.base_url, headers={"Authorization": f"Bearer {k}"}, timeout=30)
        for k in (admin_key, member_key)
    ]
    yield Site(live, clients[0], clients[1], member.id, member.email)
    for client in clients:
        client.close()


def test_grant_credits_without_idempotency_key_is_rejected(site: Site) -> None:
    response = site.credits(site.member_id, None, "1.00")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"


def test_grant_credits_without_idempotency_key_moves_nothing(site: Site) -> None:
    site.credits(site.member_id, None, "1.00")
    assert site.live.container.credits.balance(site.member_id) == 0


def test_grant_credits_same_key_twice_grants_once(site: Site) -> None:
    first = site.credits(site.member_id, "grant-1", "1.50")
    second = site.credits(site.member_id, "grant-1", "1.50")
    assert [first.status_code, second.status_code] == [200, 200]
    assert site.live.container.credits.balance(site.member_id) == 1_500_000


def test_grant_credits_same_key_twice_answers_the_same_balance(site: Site) -> None:
    first = site.credits(site.member_id, "grant-1", "1.50")
    second = site.credits(site.member_id, "grant-1", "1.50")
    assert first.json() == second.json() == {"user_id": site.member_id, "balance": "1.5"}


def test_grant_credits_same_key_other_amount_is_rejected(site: Site) -> None:
    site.credits(site.member_id, "grant-1", "1.50")
    response = site.credits(site.member_id, "grant-1", "2.50")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_grant_credits_same_key_other_amount_moves_nothing(site: Site) -> None:
    site.credits(site.member_id, "grant-1", "1.50")
    site.credits(site.member_id, "grant-1", "2.50")
    assert site.live.container.credits.balance(site.member_id) == 1_500_000


def test_quota_daily_refuses_job_beyond_it_same_day(site: Site) -> None:
    site.credits(site.member_id, "grant-1", "1.00")
    quota = site.admin.put(f"/api/admin/users/{site.member_id}/quotas", json={"daily": "0.02"})
    assert quota.status_code == 200
    statuses = [site.submit().status_code for _ in range(2)]
    third = site.submit()
    assert statuses == [202, 202]
    assert third.status_code == 402
    assert third.json()["error"]["code"] == "quota_exceeded"


def test_quota_daily_refusal_reserves_nothing(site: Site) -> None:
    site.credits(site.member_id, "grant-1", "1.00")
    site.admin.put(f"/api/admin/users/{site.member_id}/quotas", json={"daily": "0.02"})
    for _ in range(3):
        site.submit()
    assert site.live.container.credits.balance(site.member_id) == 980_000


def _usage_setup(site: Site) -> str:
    site.credits(site.member_id, "grant-1", "1.00")
    for _ in range(3):
        assert site.submit().status_code == 202
    site.run_all()
    return datetime.now(UTC).strftime("%Y-%m-%d")


def test_usage_json_has_row_per_user_model_day(site: Site) -> None:
    day = _usage_setup(site)
    response = site.admin.get("/api/admin/usage")
    assert response.status_code == 200
    assert response.json()["data"] == [
        {"user": site.member_email, "model": "zero", "day": day, "jobs": 3, "charged": "0.03"}
    ]


def test_usage_json_ignores_refunded_jobs(site: Site) -> None:
    day = _usage_setup(site)
    queued = site.submit().json()["id"]
    assert site.member.post(f"/api/jobs/{queued}/cancel").status_code == 200
    rows = site.admin.get("/api/admin/usage").json()["data"]
    assert [(r["day"], r["jobs"], r["charged"]) for r in rows] == [(day, 3, "0.03")]


def test_usage_csv_has_header_and_totals(site: Site) -> None:
    day = _usage_setup(site)
    response = site.admin.get("/api/admin/usage", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == "day,user,model,jobs,charged"
    assert list(csv.DictReader(io.StringIO(response.text))) == [
        {"day": day, "user": site.member_email, "model": "zero", "jobs": "3", "charged": "0.03"}
    ]


def test_usage_is_admin_only(site: Site) -> None:
    assert site.member.get("/api/admin/usage").status_code == 403
