"""The compare page (entries side by side, votes, leaderboard) and edit threads (a tree)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect
from studio_support import PHONE, Studio, shot

SECOND = "compose (second take)"


def _csrf_post(page: Page, studio: Studio, path: str, data: dict[str, Any]) -> Any:
    token = page.request.get("/auth/me").json()["csrf_token"]
    answer = page.request.post(path, data=data,
                               headers={"Origin": studio.base_url, "X-CSRF-Token": token})  # fmt: skip
    assert answer.ok, answer.text()
    return answer.json()


def _row(page: Page, name: str) -> Any:
    """The leaderboard row of contestant ``name``."""
    header = page.get_by_role("rowheader", name=name, exact=True)
    return page.get_by_role("row").filter(has=header)


def test_compare_runs_live_votes_and_ranks(studio: Studio, open_page: Any) -> None:
    page = open_page()
    page.goto("/#/compare")
    page.get_by_label("Prompt", exact=True).fill("Summer sale poster: 50% off everything")
    expect(page.get_by_role("checkbox", name="compose")).to_be_checked()
    page.get_by_role("checkbox", name="blocking").check()
    page.get_by_role("button", name="+ Add entry").click()
    page.get_by_label("Model of extra entry 1").select_option("compose")
    page.get_by_label("Label of extra entry 1").fill("second take")
    page.get_by_label("Resolution").select_option("512")
    page.get_by_label("Category", exact=True).select_option("poster")
    page.get_by_role("button", name="Compare", exact=True).click()

    expect(page).to_have_url(re.compile(r"#/compare/cmp_\w+$"))
    compare_id = page.url.rsplit("/", 1)[1]
    columns = page.locator(".compare-entry")
    expect(columns).to_have_count(3)
    expect(columns.get_by_role("heading")).to_have_text(["compose", "blocking", SECOND])
    # The blocking entry shows live progress; the two finished ones can be voted on already.
    pending = page.get_by_role("group", name="blocking progress")
    expect(pending.get_by_role("progressbar")).to_be_visible()
    pair = page.get_by_role("group", name=f"compose versus {SECOND}")
    expect(pair).to_be_visible()
    expect(page.locator(".vote-pair")).to_have_count(1)
    studio.blocking.release()
    expect(page.locator(".vote-pair")).to_have_count(3)
    expect(pending).to_have_count(0)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.compare-entry img')]"
        ".filter(e => e.complete && e.naturalWidth > 0).length === 3"
    )

    better = page.get_by_role("button", name="blocking is better than compose", exact=True)
    better.click()
    expect(better).to_have_attribute("aria-pressed", "true")
    duel = page.get_by_role("group", name="compose versus blocking", exact=True)
    expect(duel.locator(".vote-state")).to_have_text("Your vote: blocking is better")
    stored = page.request.get(f"/api/compare/{compare_id}").json()
    ids = {e["label"] or e["model"]: e["id"] for e in stored["entries"]}
    duo = (ids["compose"], ids["blocking"])
    assert [(v["a"], v["b"], v["winner"]) for v in stored["votes"]] == [(*duo, "b")]

    # Another vote on the pair replaces the first; the page says so and keeps it on reload.
    worse = page.get_by_role("button", name="compose is better than blocking", exact=True)
    worse.click()
    expect(worse).to_have_attribute("aria-pressed", "true")
    expect(better).to_have_attribute("aria-pressed", "false")
    expect(duel.locator(".vote-state")).to_have_text("Your vote: compose is better (changed)")
    tie = pair.get_by_role("button", name=f"Tie between compose and {SECOND}")
    tie.click()
    expect(tie).to_have_attribute("aria-pressed", "true")
    stored = page.request.get(f"/api/compare/{compare_id}").json()
    assert sorted((v["a"], v["b"], v["winner"]) for v in stored["votes"]) == sorted(
        [(*duo, "a"), (ids["compose"], ids["second take"], "tie")]
    )
    shot(page, "compare")
    page.reload()
    expect(page.get_by_role("button", name=f"Tie between compose and {SECOND}")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(worse).to_have_attribute("aria-pressed", "true")

    page.get_by_role("tab", name="Leaderboard").click()
    expect(page).to_have_url(re.compile(r"#/compare/leaderboard$"))
    expect(page.get_by_text("2 votes ·")).to_be_visible()
    # Cells after the row header: rank, rating, interval, votes, wins, losses, ties.
    expect(_row(page, "compose").get_by_role("cell")).to_have_text(
        ["1", re.compile(r"^\d+\.\d$"), re.compile(r" – "), "2", "1", "0", "1"]
    )
    expect(_row(page, "blocking").get_by_role("cell").nth(3)).to_have_text("1")
    expect(_row(page, SECOND).get_by_role("cell").nth(6)).to_have_text("1")
    page.get_by_label("Leaderboard category").select_option("portrait")
    expect(page.get_by_text("No votes yet")).to_be_visible()
    page.get_by_label("Leaderboard category").select_option("poster")
    page.get_by_label("Only my votes").check()
    expect(_row(page, "blocking")).to_be_visible()
    csv = page.get_by_role("link", name="Download CSV")
    expect(csv).to_have_attribute("href", "/api/leaderboard?format=csv&category=poster&mine=true")
    text = page.request.get(csv.get_attribute("href") or "").text()
    assert ",compose,second take," in text
    shot(page, "leaderboard")


def test_compare_refuses_one_entry_and_reads_the_prefill(studio: Studio, open_page: Any) -> None:
    page = open_page(viewport=PHONE)
    page.goto("/#/compare/leaderboard")
    expect(page.get_by_role("tab", name="Leaderboard")).to_have_attribute("aria-selected", "true")
    page.evaluate(
        "sessionStorage.setItem('pixelforge.compare.prompt', 'Robot mascot for a bakery')"
    )
    page.goto("/#/compare")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("Robot mascot for a bakery")
    assert page.evaluate("sessionStorage.getItem('pixelforge.compare.prompt')") is None
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Pick 2 to 8 entries; you have 1.")
    page.get_by_role("button", name="+ Add entry").click()
    page.get_by_label("Label of extra entry 1").fill("")
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("appears twice")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    shot(page, "compare-phone")
    # Arrow keys move between the tabs.
    page.get_by_role("tab", name="Compare").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Leaderboard")).to_be_focused()
    expect(page.get_by_role("tab", name="Leaderboard")).to_have_attribute("aria-selected", "true")


def test_thread_branches_from_the_root(studio: Studio, open_page: Any) -> None:
    page = open_page()
    thread = _csrf_post(page, studio, "/api/threads",
                        {"prompt": "Coffee shop poster", "model": "compose", "resolution": "512"})  # fmt: skip
    root_id = thread["root_id"]
    page.goto(f"/#/threads/{thread['id']}")
    expect(page.get_by_role("heading", name="Coffee shop poster")).to_be_visible()
    items = page.get_by_role("treeitem")
    root = page.locator(f'[data-node-id="{root_id}"]')
    expect(root).to_contain_text("succeeded")
    expect(root).to_have_attribute("aria-selected", "true")

    def turn(instruction: str) -> None:
        page.get_by_label("Instruction").fill(instruction)
        page.get_by_role("button", name="Apply").click()

    turn("make it warmer")
    expect(items).to_have_count(2)
    expect(items.nth(1)).to_have_attribute("aria-selected", "true")
    expect(items.nth(1)).to_contain_text("succeeded")
    expect(root).to_have_attribute("aria-selected", "false")

    root.click()
    expect(root).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("Branch from: Coffee shop poster")).to_be_visible()
    turn("add a thin gold border")
    expect(items).to_have_count(3)
    children = page.locator(f'li:has(> [data-node-id="{root_id}"]) > ul[role="group"] > li')
    expect(children).to_have_count(2)
    expect(children.nth(1)).to_contain_text("add a thin gold border")
    expect(children.nth(1)).to_contain_text("succeeded")
    expect(page.locator(".thread-preview img")).to_have_attribute(
        "alt", "Selected: add a thin gold border"
    )
    view = page.request.get(f"/api/threads/{thread['id']}").json()
    nodes = {n["id"]: n for n in view["nodes"]}
    assert len(nodes) == 3
    assert len(nodes[root_id]["children"]) == 2
    assert {nodes[c]["instruction"] for c in nodes[root_id]["children"]} == {
        "make it warmer", "add a thin gold border"}  # fmt: skip
    assert all(nodes[c]["parent_id"] == root_id for c in nodes[root_id]["children"])
    page.wait_for_function(
        "() => [...document.querySelectorAll('.tree-node img')]"
        ".filter(e => e.complete && e.naturalWidth > 0).length === 3"
    )
    shot(page, "thread")
    page.locator(".thread-preview").get_by_role("button", name="Open").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()

    # Keyboard: one tab stop; arrows move, Left folds the root's branch away.
    root.focus()
    page.keyboard.press("ArrowDown")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(root).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(root).to_have_attribute("aria-expanded", "false")
    expect(children.first).to_be_hidden()


def test_thread_started_on_the_page_and_deleted(studio: Studio, open_page: Any) -> None:
    page = open_page(viewport=PHONE)
    page.goto("/#/threads")
    page.get_by_label("Prompt").fill("Lemonade stand banner")
    page.get_by_role("button", name="Start thread").click()
    expect(page).to_have_url(re.compile(r"#/threads/thr_\w+$"))
    thread_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("treeitem")).to_contain_text("succeeded")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    (root,) = page.request.get(f"/api/threads/{thread_id}").json()["nodes"]
    assert page.request.get(f"/api/assets/{root['asset_id']}").json()["workspace"] == "explore"

    page.get_by_role("button", name="Delete thread").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name="Delete thread")).to_be_focused()
    page.get_by_role("button", name="Delete thread").click()
    page.get_by_role("button", name="Confirm delete").click()
    expect(page).to_have_url(re.compile(r"#/threads$"))
    expect(page.get_by_text(re.compile(r"^\d+ threads?$"))).to_be_visible()
    expect(page.get_by_role("link", name="Lemonade stand banner")).to_have_count(0)
    assert page.request.get(f"/api/threads/{thread_id}").status == 404
