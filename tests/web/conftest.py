"""End-to-end studio tests: a real Pixelforge server and Debian's chromium driven by Playwright.

The browser is the system's ``chromium`` (``executable_path``); Playwright never downloads
one. Every request the page makes to another origin is refused and fails the test, so is
any uncaught script error or console error (a CSP violation shows up as one). Screenshots of
the main screens go to ``test-artifacts/`` (git-ignored) at the repository root.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from studio_support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CHROMIUM_FLAGS,
    MEMBER_EMAIL,
    MEMBER_PASSWORD,
    Problems,
    Studio,
    new_page,
)  # fmt: skip

from pixelforge.bootstrap import default_engines
from pixelforge.config import Settings
from pixelforge.services.pricing import to_micro
from server_support import start_server
from testing_engines import BlockingEngine, RecordingEngine


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio")
    settings: dict[str, Any] = {"auth": "required", "workers": 2, "rate_limit_per_minute": 10_000}
    blocking = BlockingEngine(preview=Image.new("RGB", (64, 64), (200, 30, 30)))
    recording = RecordingEngine(max_references=3)
    engines = [*default_engines(Settings(home=home, **settings)), blocking, recording]
    live = start_server(home, engines, **settings)
    c = live.container
    admin = c.accounts.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, role="admin")
    member = c.accounts.create_user(MEMBER_EMAIL, MEMBER_PASSWORD)
    for user in (admin, member):
        c.credits.grant(user.id, to_micro("100"), "test credits")
    yield Studio(live, live.base_url, admin.id, member.id, blocking, recording)
    live.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is not installed; `make test` installs it (system-deps)")
    launched = playwright.chromium.launch(
        executable_path=chromium, args=CHROMIUM_FLAGS, headless=True
    )
    yield launched
    launched.close()


@pytest.fixture
def open_page(browser: Browser, studio: Studio) -> Iterator[Any]:
    """``open_page(viewport=..., email=...)`` -> a signed-in Page; checked at teardown."""
    opened: list[tuple[Page, Problems]] = []

    def make(**kwargs: Any) -> Page:
        page, problems = new_page(browser, studio.base_url, **kwargs)
        opened.append((page, problems))
        return page

    yield make
    for page, problems in opened:
        page.context.close()
        assert problems.outside == [], f"the page reached outside the server: {problems.outside}"
        assert problems.errors == [], "\n".join(problems.errors)
