"""The History, Batch, API keys and Admin pages, end to end in the browser."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect
from studio_support import MEMBER_EMAIL, MEMBER_PASSWORD, PHONE, Studio, shot

from pixelforge.services.pricing import to_micro


def _key(studio: Studio, user_id: str) -> str:
    """A raw API key for ``user_id`` (made server-side)."""
    return str(studio.live.container.accounts.create_key(user_id, "tests")[1])


def _generate(studio: Studio, key: str, prompt: str) -> dict[str, Any]:
    """One small compose image through the API; its asset id is in ``data[0]``."""
    answer = httpx.post(
        f"{studio.base_url}/v1/images/generations", timeout=60,
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "compose", "prompt": prompt, "resolution": "512", "response_format": "url"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _me_with(studio: Studio, key: str) -> int:
    """The status of ``GET /auth/me`` with this key and no cookies."""
    return httpx.get(f"{studio.base_url}/auth/me",
                     headers={"Authorization": f"Bearer {key}"}).status_code  # fmt: skip


def _local_day(page: Page, days: int = 0) -> str:
    """The browser's local date plus ``days`` as YYYY-MM-DD (what a date input holds)."""
    return str(page.evaluate(
        "(n) => { const d = new Date(); d.setDate(d.getDate() + n);"
        " return d.toLocaleDateString('en-CA'); }", days,
    ))  # fmt: skip


# -- API keys --------------------------------------------------------------------------


def test_api_key_is_shown_once_authenticates_and_revokes(studio: Studio, open_page: Any) -> None:
    page = open_page(email=MEMBER_EMAIL, password=MEMBER_PASSWORD)
    page.goto("/#/keys")
    page.get_by_label("Name").fill("laptop CLI")
    page.get_by_label("Budget (USD)").fill("2.50")
    page.get_by_role("button", name="Create key").click()

    box = page.locator(".key-once")
    expect(box).to_be_visible()
    expect(page.get_by_text("it won't be shown again")).to_be_visible()
    raw = box.inner_text().strip()
    assert raw.startswith("pf-")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Key copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == raw
    assert _me_with(studio, raw) == 200

    row = page.get_by_role("row", name=re.compile("laptop CLI"))
    expect(row).to_contain_text(f"{raw[:11]}…{raw[-4:]}")
    expect(row).to_contain_text("$2.5")
    expect(row.locator(".key-status")).to_have_text("active")
    shot(page, "keys")

    # Leave and come back: the raw key is gone for good.
    page.goto("/#/history")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    page.goto("/#/keys")
    expect(row).to_be_visible()
    expect(page.locator(".key-once")).to_have_count(0)
    assert raw not in page.content()

    # Revoke, with the in-page confirm step ("Keep" backs out).
    row.get_by_role("button", name=re.compile("^Revoke laptop CLI")).click()
    row.get_by_role("button", name="Keep").click()
    assert _me_with(studio, raw) == 200
    row.get_by_role("button", name=re.compile("^Revoke laptop CLI")).click()
    row.get_by_role("button", name="Yes, revoke").click()
    expect(row.locator(".key-status")).to_have_text("revoked")
    assert _me_with(studio, raw) == 401


def test_an_admin_sees_whose_each_key_is(studio: Studio, open_page: Any) -> None:
    studio.live.container.accounts.create_key(studio.member_id, "ann's phone")
    page = open_page()
    page.goto("/#/keys")
    expect(page.get_by_role("heading", name="All keys (you are an admin)")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Owner")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("ann's phone"))
    expect(row.locator(".key-owner")).to_have_text(MEMBER_EMAIL)

    member = open_page(email=MEMBER_EMAIL, password=MEMBER_PASSWORD)
    member.goto("/#/keys")
    expect(member.get_by_role("row", name=re.compile("ann's phone"))).to_be_visible()
    expect(member.get_by_role("columnheader", name="Owner")).to_have_count(0)


def test_key_form_shows_the_servers_error(open_page: Any) -> None:
    page = open_page(email=MEMBER_EMAIL, password=MEMBER_PASSWORD)
    page.goto("/#/keys")
    page.get_by_label("Name").fill("bad budget")
    page.get_by_label("Budget (USD)").fill("five dollars")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_contain_text("budget")
    expect(page.locator(".key-once")).to_have_count(0)


# -- Batch -----------------------------------------------------------------------------


def _jsonl(path: Path, bodies: list[dict[str, Any]]) -> Path:
    lines = [
        {"custom_id": f"line-{i}", "method": "POST", "url": "/v1/images/generations", "body": b}
        for i, b in enumerate(bodies, 1)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_batch_upload_runs_and_offers_the_results(
    studio: Studio, open_page: Any, tmp_path: Path
) -> None:
    small = {"model": "compose", "resolution": "512"}
    jsonl = _jsonl(tmp_path / "two.jsonl", [{**small, "prompt": "a red kite"},
                                            {**small, "prompt": "a blue boat"}])  # fmt: skip
    page = open_page(email=MEMBER_EMAIL, password=MEMBER_PASSWORD)
    page.goto("/#/batch")
    expect(page.locator(".batch-sample")).to_contain_text('"custom_id"')
    page.get_by_label("JSONL file").set_input_files(str(jsonl))
    page.get_by_role("button", name="Run batch").click()

    row = page.locator(".batch").first
    expect(row.locator(".batch-counts")).to_have_text("2/2 done", timeout=60_000)
    expect(row.locator(".batch-status")).to_have_text("completed", timeout=30_000)
    expect(row.locator("progress")).to_have_js_property("value", 1)
    results = row.get_by_role("link", name="Download results")
    answer = page.request.get(str(results.get_attribute("href")))
    assert answer.ok
    lines = [json.loads(line) for line in answer.text().splitlines()]
    assert [line["custom_id"] for line in lines] == ["line-1", "line-2"]
    assert all(line["response"]["status_code"] == 200 for line in lines)
    zipped = page.request.get(
        str(row.get_by_role("link", name="Images (zip)").get_attribute("href"))
    )
    assert zipped.ok
    assert zipped.body()[:2] == b"PK"
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)
    batch_id = row.get_attribute("data-batch-id")
    assert studio.live.container.batches.get(batch_id).status == "completed"
    shot(page, "batch")


def test_batch_with_a_bad_line_names_it(open_page: Any, tmp_path: Path) -> None:
    jsonl = _jsonl(tmp_path / "bad.jsonl", [{"model": "compose", "prompt": "fine"},
                                            {"model": "compose", "prompt": "x", "n": 0}])  # fmt: skip
    page = open_page(email=MEMBER_EMAIL, password=MEMBER_PASSWORD)
    page.goto("/#/batch")
    page.get_by_label("JSONL file").set_input_files(str(jsonl))
    page.get_by_role("button", name="Run batch").click()
    alert = page.locator(".batch-error")
    expect(alert).to_contain_text("Line 2")
    expect(alert).to_contain_text("body.n")
    expect(page.locator(".batch").first.locator(".batch-status")).to_have_text("failed")


# -- History ---------------------------------------------------------------------------


def test_history_search_filters_and_pages(studio: Studio, open_page: Any) -> None:
    c = studio.live.container
    password = "history password"
    user = c.accounts.create_user("hal@example.com", password)
    c.credits.grant(user.id, to_micro("10"), "test credits")
    key = _key(studio, user.id)
    for prompt in ("an orange walrus", "a green heron", "a purple walrus hat"):
        _generate(studio, key, prompt)

    page = open_page(email="hal@example.com", password=password)
    page.goto("/#/history")
    count = page.locator(".history-count")
    filters = page.get_by_role("search", name="Filter your images")
    expect(count).to_have_text("1–3 of 3 images")
    expect(page.locator(".gallery .tile")).to_have_count(3)

    filters.get_by_label("Search prompts").fill("walrus")
    expect(count).to_have_text("1–2 of 2 images")
    filters.get_by_label("Search prompts").fill("heron")
    expect(count).to_have_text("1–1 of 1 image")
    expect(page.locator(".gallery .tile img")).to_have_attribute("alt", re.compile("green heron"))
    expect(page).to_have_url(re.compile(r"#/history\?q=heron$"))
    page.reload()
    expect(filters.get_by_label("Search prompts")).to_have_value("heron")
    expect(count).to_have_text("1–1 of 1 image")

    # Filters the API applies: workspace (these came from the API: none), dates, model.
    filters.get_by_label("Search prompts").fill("")
    filters.get_by_label("Workspace").select_option("draft")
    expect(page.get_by_text("No images match these filters.")).to_be_visible()
    filters.get_by_label("Workspace").select_option("")
    filters.get_by_label("From", exact=True).fill(_local_day(page, 1))
    expect(count).to_have_text("0 of 0 images")
    filters.get_by_label("From", exact=True).fill(_local_day(page))
    filters.get_by_label("To", exact=True).fill(_local_day(page))
    expect(count).to_have_text("1–3 of 3 images")
    filters.get_by_label("Model").select_option("compose")
    expect(count).to_have_text("1–3 of 3 images")

    # Paging: two a page, from the hash.
    page.goto("/#/history?size=2")
    expect(count).to_have_text("1–2 of 3 images")
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()
    page.get_by_role("button", name="Next").click()
    expect(count).to_have_text("3–3 of 3 images")
    expect(page.locator(".gallery .tile")).to_have_count(1)
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    expect(page).to_have_url(re.compile(r"page=2"))

    # The zip holds what the filter matches.
    page.goto("/#/history?q=walrus")
    expect(count).to_have_text("1–2 of 2 images")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export as zip").click()
    saved = info.value.path()
    with zipfile.ZipFile(saved) as archive:
        images = [n for n in archive.namelist() if n.endswith(".png")]
    assert len(images) == 2
    shot(page, "history")


# -- Admin -----------------------------------------------------------------------------


def test_admin_grants_credits_and_sets_quotas(studio: Studio, open_page: Any) -> None:
    c = studio.live.container
    before = c.credits.balance(studio.member_id)
    page = open_page()
    page.goto("/#/admin")
    expect(page.get_by_role("tab", name="Users")).to_have_attribute("aria-selected", "true")
    row = page.locator(f"tr[data-user-id='{studio.member_id}']")
    row.get_by_role("button", name=f"Add credits to {MEMBER_EMAIL}").click()
    grant = page.get_by_role("form", name=f"Add credits to {MEMBER_EMAIL}")
    grant.get_by_label("Amount (USD)").fill("12.50")
    grant.get_by_label("Note").fill("workshop")
    grant.get_by_role("button", name="Grant").click()
    expect(grant).to_have_count(0)
    assert c.credits.balance(studio.member_id) == before + to_micro("12.50")
    shown = f"{(before + to_micro('12.50')) / 1_000_000:.2f}"  # as usd() writes it: 112.50
    expect(row.locator(".user-balance")).to_have_text(f"${shown}")

    row.get_by_role("button", name=f"Edit quotas of {MEMBER_EMAIL}").click()
    quotas = page.get_by_role("form", name=f"Quotas of {MEMBER_EMAIL}")
    quotas.get_by_label("Daily (USD)").fill("3")
    quotas.get_by_role("button", name="Save quotas").click()
    expect(row).to_contain_text("$3")
    member = next(u for u in c.accounts.list_users() if u.id == studio.member_id)
    assert member.daily_quota == to_micro("3")
    assert member.monthly_quota is None

    page.get_by_label("Email").fill("new.person@example.com")
    page.get_by_label("Password").fill("long enough pw")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("row", name=re.compile("new.person@example.com"))).to_be_visible()
    assert any(u.email == "new.person@example.com" for u in c.accounts.list_users())
    shot(page, "admin-users")


def test_admin_usage_chart_after_a_job(studio: Studio, open_page: Any) -> None:
    _generate(studio, _key(studio, studio.admin_id), "a usage chart test")
    page = open_page()
    page.goto("/#/admin")
    users_tab = page.get_by_role("tab", name="Users")
    users_tab.focus()
    page.keyboard.press("ArrowRight")
    usage_tab = page.get_by_role("tab", name="Usage")
    expect(usage_tab).to_be_focused()
    expect(usage_tab).to_have_attribute("aria-selected", "true")
    expect(page).to_have_url(re.compile(r"#/admin/usage$"))

    chart = page.locator(".chart svg[role=img]")
    expect(chart.locator("rect.bar[data-model=compose]").first).to_be_visible()
    expect(chart).to_have_attribute("aria-label", re.compile(r"compose \$"))
    expect(chart.locator("rect.bar title").first).to_contain_text("compose")
    expect(page.locator(".legend-row")).to_contain_text("compose")
    expect(page.get_by_role("row", name=re.compile("compose")).first).to_be_visible()
    csv_href = page.get_by_role("link", name="Download CSV").get_attribute("href")
    rows = list(csv.DictReader(io.StringIO(page.request.get(str(csv_href)).text())))
    assert any(r["model"] == "compose" and r["user"] == "admin@example.com" for r in rows)
    shot(page, "admin-usage")

    page.keyboard.press("ArrowLeft")
    expect(users_tab).to_have_attribute("aria-selected", "true")


def test_admin_is_for_admins_only(studio: Studio, open_page: Any) -> None:
    page = open_page(email=MEMBER_EMAIL, password=MEMBER_PASSWORD)
    page.goto("/#/admin")
    expect(page.get_by_text("Admins only")).to_be_visible()
    expect(page.get_by_role("tab")).to_have_count(0)
    expect(page.locator("#nav-admin")).to_be_hidden()
    assert page.request.get("/api/admin/users").status == 403


def test_pages_fit_a_phone(open_page: Any) -> None:
    page = open_page(viewport=PHONE)
    for route, heading in [("history", "History"), ("batch", "Batch"), ("keys", "API keys"),
                           ("admin", "Admin"), ("admin/usage", "Admin")]:  # fmt: skip
        page.goto(f"/#/{route}")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        if route == "admin/usage":
            expect(page.locator(".chart svg")).to_be_visible()
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= PHONE["width"], f"#/{route} is {wide}px wide"
    shot(page, "admin-usage-phone")
