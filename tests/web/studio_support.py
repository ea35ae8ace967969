"""Helpers for the studio's browser tests (the fixtures are in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page

from server_support import LiveServer
from testing_engines import BlockingEngine, RecordingEngine

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "correct horse battery"
MEMBER_EMAIL, MEMBER_PASSWORD = "ann@example.com", "ann's long password"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
#: The console line for a 4xx answer: tests provoke those on purpose (bad input, signed out).
EXPECTED_4XX = "the server responded with a status of 4"


@dataclass
class Studio:
    """A live server with accounts on: an admin and a member, both with credits. Besides
    the built-in engines it has ``blocking`` (runs until released, posting a step preview)
    and ``recording`` (keeps every request it ran; takes up to 3 references)."""

    live: LiveServer
    base_url: str
    admin_id: str
    member_id: str
    blocking: BlockingEngine
    recording: RecordingEngine


@dataclass
class Problems:
    """What went wrong in the page: script errors, console errors, outside requests."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def _guard(context: BrowserContext, base_url: str, problems: Problems) -> None:
    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(base_url) or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            problems.outside.append(url)
            r.abort()

    context.route("**/*", route)


def new_page(
    browser: Browser, base_url: str, viewport: dict[str, int] | None = None,
    email: str | None = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, theme: str = "light",
) -> tuple[Page, Problems]:  # fmt: skip
    """A page on the server at ``base_url`` in a fresh context, signed in as ``email`` (None:
    signed out)."""
    context = browser.new_context(
        viewport=viewport or DESKTOP, base_url=base_url, color_scheme=theme,  # type: ignore[arg-type]
        permissions=["clipboard-read", "clipboard-write"],
    )  # fmt: skip
    problems = Problems()
    _guard(context, base_url, problems)
    if email is not None:
        answer = context.request.post(
            "/auth/login", data={"email": email, "password": password},
            headers={"Origin": base_url},
        )  # fmt: skip
        assert answer.ok, answer.text()
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.errors.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: problems.errors.append(f"console {msg.type}: {msg.text}")
        if msg.type == "error" and EXPECTED_4XX not in msg.text else None,
    )  # fmt: skip
    page.set_default_timeout(15_000)
    return page, problems


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
