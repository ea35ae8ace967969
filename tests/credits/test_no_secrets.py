"""No secret is written anywhere (security.md row 27): raw API keys, passwords and provider
keys never reach a log record, a response, a stored image or a database column; only the
API key's SHA-256 and the password's argon2 hash are stored."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import MetaData, select

from pixelforge.services.accounts import sha256
from server_support import LiveServer, StartServer
from testing_engines import ZeroWorkEngine

PASSWORD = "correct horse battery staple 42"
OPENAI_KEY = "sk-test-PROVIDERSECRET123"
GEMINI_KEY = "AIzaTESTSECRET456"
EMAIL = "owner@example.com"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [str(record.msg), repr(record.args), record.getMessage()]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        parts.append(repr({k: v for k, v in vars(record).items() if k not in ("exc_info",)}))
        self.texts.append("\n".join(parts))


@dataclass
class Exercised:
    live: LiveServer
    raw_key: str
    secrets: list[str]
    seen: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)


def _wait(client: httpx.Client, job_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return dict(job)
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture
def exercised(
    make_server: StartServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[Exercised]:
    monkeypatch.setenv("PIXELFORGE_OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("PIXELFORGE_GEMINI_API_KEY", GEMINI_KEY)
    root = logging.getLogger()
    handler, old_level = Capture(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        live = make_server(
            engines=[ZeroWorkEngine()], auth="required", workers=1, local_price_per_image="0.01"
        )
        c = live.container
        user = c.accounts.create_user(EMAIL, PASSWORD, role="admin")
        c.credits.grant(user.id, 1_000_000)
        _, raw = c.accounts.create_key(user.id, "cli")
        token = raw.split("_", 1)[1]
        out = Exercised(live, raw, [raw, token, PASSWORD, OPENAI_KEY, GEMINI_KEY])
        _exercise(out)
        out.logs = handler.texts + [r.getMessage() + repr(r.args) for r in caplog.records]
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _record(out: Exercised, response: httpx.Response) -> httpx.Response:
    out.seen.append(response.text)
    out.seen.extend(f"{k}: {v}" for k, v in response.headers.multi_items())
    return response


def _exercise(out: Exercised) -> None:
    base, raw = out.live.base_url, out.raw_key
    with httpx.Client(base_url=base, timeout=30) as anon:
        good = _record(out, anon.post("/auth/login", json={"email": EMAIL, "password": PASSWORD}))
        assert good.status_code == 200
        bad = anon.post("/auth/login", json={"email": EMAIL, "password": PASSWORD + "x"})
        assert _record(out, bad).status_code == 401
        odd = anon.post("/auth/login", json={"email": EMAIL, "password": PASSWORD, "x": 1})
        assert _record(out, odd).status_code == 400
        wrong = {"Authorization": f"Bearer {raw[:11]}_{'A' * 43}"}
        assert _record(out, anon.get("/auth/me", headers=wrong)).status_code == 401
        almost = {"Authorization": f"Bearer {raw}x"}
        assert _record(out, anon.get("/auth/me", headers=almost)).status_code == 401
    headers = {"Authorization": f"Bearer {raw}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        assert _record(out, client.get("/auth/me")).status_code == 200
        assert (
            _record(out, client.post("/api/jobs", json={"prompt": "x", "n": 0})).status_code == 400
        )
        for fmt in ("png", "jpeg", "webp"):
            body = {"prompt": "a lighthouse", "model": "zero", "output_format": fmt,
                    "resolution": "512"}  # fmt: skip
            submitted = _record(out, client.post("/api/jobs", json=body))
            assert submitted.status_code == 202
            job = _wait(client, submitted.json()["id"])
            assert job["status"] == "succeeded"
            for asset_id in job["assets"]:  # type: ignore[attr-defined]
                file = client.get(f"/api/assets/{asset_id}/file")
                out.seen.append(file.content.decode("latin-1"))
                _record(out, client.get(f"/api/assets/{asset_id}"))
        for path in ("/api/keys", "/api/credits", "/api/admin/users", "/metrics", "/readyz",
                     "/api/admin/usage", "/v1/models"):  # fmt: skip
            assert _record(out, client.get(path)).status_code == 200


def _leaks(texts: list[str], secrets: list[str]) -> list[str]:
    return [s for s in secrets if any(s in t for t in texts)]


def test_no_secret_in_log_records(exercised: Exercised) -> None:
    assert exercised.logs, "the capturing handler saw no records"
    assert _leaks(exercised.logs, exercised.secrets) == []


def test_no_secret_in_responses(exercised: Exercised) -> None:
    assert _leaks(exercised.seen, exercised.secrets) == []


def test_no_secret_in_stored_asset_files(exercised: Exercised) -> None:
    blobs = [p for p in Path(exercised.live.settings.blob_dir).rglob("*") if p.is_file()]
    assert len(blobs) >= 3
    found = [(p.name, s) for p in blobs for s in exercised.secrets if s.encode() in p.read_bytes()]
    assert found == []


def _db_text(live: LiveServer) -> list[str]:
    meta = MetaData()
    engine = live.container.db.read_engine
    meta.reflect(engine)
    with engine.connect() as conn:
        return [f"{t.name} {row!r}" for t in meta.sorted_tables for row in conn.execute(select(t))]


def test_no_secret_in_any_db_column(exercised: Exercised) -> None:
    rows = _db_text(exercised.live)
    assert _leaks(rows, exercised.secrets) == []


def test_db_stores_api_key_only_as_sha256(exercised: Exercised) -> None:
    rows = _db_text(exercised.live)
    assert any(sha256(exercised.raw_key) in r for r in rows)


def test_db_stores_password_only_as_argon2_hash(exercised: Exercised) -> None:
    rows = [r for r in _db_text(exercised.live) if r.startswith("users ")]
    assert any("$argon2id$" in r for r in rows)
