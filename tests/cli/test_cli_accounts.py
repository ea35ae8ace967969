"""`pixelforge users|keys|credits`: accounts from the command line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pixelforge.bootstrap import open_store
from pixelforge.cli import main
from pixelforge.config import Settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIXELFORGE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def create_user(monkeypatch: pytest.MonkeyPatch, email: str, *flags: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password-9\n"))
    return main(["users", "create", email, "--password-stdin", *flags])


def test_users_create_stores_admin_when_admin_flag(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert create_user(monkeypatch, "Boss@Example.com", "--admin") == 0
    store = open_store(Settings(home=home))
    try:
        user = store.accounts.user_by_email("boss@example.com")
        assert user.role == "admin"
        assert store.accounts.verify_password("boss@example.com", "a-good-password-9").id == user.id
    finally:
        store.db.dispose()


def test_users_create_refuses_when_email_taken(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert create_user(monkeypatch, "a@example.com") == 0
    capsys.readouterr()
    assert create_user(monkeypatch, "a@example.com") == 2
    assert "already has an account" in capsys.readouterr().err


def test_keys_create_prints_key_that_authenticates(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    create_user(monkeypatch, "k@example.com")
    capsys.readouterr()
    assert main(["keys", "create", "--user", "k@example.com", "--name", "ci"]) == 0
    raw = capsys.readouterr().out.strip()
    store = open_store(Settings(home=home))
    try:
        principal = store.accounts.key_principal(raw)
        assert principal is not None
        assert principal.email == "k@example.com"
    finally:
        store.db.dispose()


def test_keys_revoke_stops_key_at_once(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    create_user(monkeypatch, "r@example.com")
    main(["keys", "create", "--user", "r@example.com"])
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    store = open_store(Settings(home=home))
    try:
        key_id = store.accounts.list_keys(None)[0].id
        assert main(["keys", "revoke", key_id]) == 0
        assert store.accounts.key_principal(raw) is None
    finally:
        store.db.dispose()


def test_credits_grant_adds_exact_amount(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    create_user(monkeypatch, "c@example.com")
    assert main(["credits", "grant", "c@example.com", "2.50"]) == 0
    assert main(["credits", "grant", "c@example.com", "0.000001"]) == 0
    store = open_store(Settings(home=home))
    try:
        user = store.accounts.user_by_email("c@example.com")
        assert store.credits.balance(user.id) == 2_500_001
    finally:
        store.db.dispose()


@pytest.mark.parametrize("amount", ["abc", "1.0000001", "0", "NaN", "1e400"])
def test_credits_grant_refuses_when_amount_invalid(
    amount: str, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    create_user(monkeypatch, "d@example.com")
    capsys.readouterr()
    assert main(["credits", "grant", "d@example.com", amount]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "AMOUNT" in lines[0]
