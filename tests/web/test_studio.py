"""The studio's own screens in a real browser: sign-in, Draft and Explore, generate with live
progress, the detail dialog's actions (variations, mask edit), the phone layout."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select
from studio_support import ADMIN_EMAIL, ADMIN_PASSWORD, PHONE, Studio, new_page, shot

from pixelforge.domain import GenerationRequest
from pixelforge.services.accounts import LOCAL
from pixelforge.store.models import Job
from server_support import StartServer


def _png(color: tuple[int, int, int], size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, "PNG")
    return out.getvalue()


def _pick_model(page: Page, model: str) -> None:
    page.locator(f'.model[data-model="{model}"]').click()
    expect(page.locator(f'.model[data-model="{model}"] input')).to_be_checked()


def _generate(page: Page, prompt: str) -> str:
    """Fill the prompt, press Generate; returns the job id the page submitted."""
    page.get_by_label("Prompt", exact=True).fill(prompt)
    with page.expect_response(lambda r: r.url.endswith("/api/jobs")) as answer:
        page.get_by_role("button", name="Generate", exact=True).click()
    return str(answer.value.json()["id"])


def _result(page: Page, job_id: str) -> Any:
    """The first finished image tile of a job, once its image has loaded."""
    tile = page.locator(f'#results .tile[data-job-id="{job_id}"][data-asset-id]').first
    expect(tile.locator("img")).to_have_js_property("complete", True)
    return tile


def _latest_job(studio: Studio, model: str) -> Job:
    with studio.live.container.queue.db.read() as s:
        job = s.scalars(
            select(Job).where(Job.model == model).order_by(Job.created_at.desc()).limit(1)
        ).one()
    return job


def test_sign_in_shows_errors_then_the_header_with_credits(open_page: Any) -> None:
    page = open_page(email=None)
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to Pixelforge")).to_be_visible()
    expect(page.locator("#topbar")).to_be_hidden()
    shot(page, "signin")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("password")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Draft")).to_be_visible()
    expect(page.locator("#account-name")).to_have_text(ADMIN_EMAIL)
    expect(page.locator("#credits")).to_contain_text("$100")
    expect(page.get_by_role("link", name="Admin")).to_be_visible()
    page.get_by_role("link", name="Explore").click()
    expect(page.get_by_role("heading", name="Explore")).to_be_visible()
    expect(page.get_by_role("link", name="Explore")).to_have_attribute("aria-current", "page")


def test_generate_shows_queue_position_progress_preview_then_images(
    open_page: Any, studio: Studio
) -> None:
    blocking = studio.blocking
    blocking.release_event.clear()
    blocking.started.clear()
    # One job outside the page holds a worker; the page's first job takes the other.
    jobs = studio.live.container.jobs
    jobs.submit(GenerationRequest(prompt="hold a worker", model="blocking"), principal=LOCAL)
    assert blocking.started.wait(10)
    page = open_page()
    page.goto("/#/draft")
    _pick_model(page, "blocking")
    _generate(page, "a red square, slowly")
    running = page.locator(".tile.pending").first
    # Running: the worker's stage message, a progress bar and the engine's step preview.
    expect(running).to_contain_text("started · 0%")
    expect(running.get_by_role("progressbar")).to_be_visible()
    expect(running.locator("img")).to_have_attribute("src", re.compile(r"^data:image/"))
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator(".tile.pending").first).to_contain_text("Queued · #1 in line")
    expect(page.locator(".tile.pending")).to_have_count(2)
    shot(page, "generate-progress")
    blocking.release()
    expect(page.locator(".tile.pending")).to_have_count(0)
    # Both page jobs finished as images on screen, recorded for this user in Draft.
    images = page.locator("#results .tile img")
    expect(images.first).to_have_js_property("complete", True)
    view = page.request.get("/api/assets?model=blocking&workspace=draft").json()
    assert view["total"] == 2
    ids = [a["id"] for a in view["data"]]
    for asset_id in ids:
        expect(page.locator(f'#results [data-asset-id="{asset_id}"]')).to_be_visible()
    expect(page.locator("[role=status]").first).to_contain_text("Done")
    shot(page, "draft")


def test_cancel_stops_a_running_job(open_page: Any, studio: Studio) -> None:
    blocking = studio.blocking
    blocking.release_event.clear()
    page = open_page()
    page.goto("/#/draft")
    _pick_model(page, "blocking")
    _generate(page, "to be cancelled")
    tile = page.locator(".tile.pending").first
    expect(tile).to_contain_text("started")
    tile.get_by_role("button", name="Cancel").click()
    expect(page.locator(".tile.failed")).to_contain_text("Cancelled")
    assert _latest_job(studio, "blocking").status == "canceled"


def _first_tile(page: Page, prompt: str, model: str, route: str = "/#/draft") -> Locator:
    """Open ``route``, generate ``prompt`` on ``model`` and return the finished tile."""
    page.goto(route)
    _pick_model(page, model)
    return _result(page, _generate(page, prompt))


def _first_compose_asset(page: Page, prompt: str) -> str:
    return str(_first_tile(page, prompt, "compose").get_attribute("data-asset-id"))


def test_detail_shows_parameters_and_makes_variations(open_page: Any) -> None:
    page = open_page()
    asset_id = _first_compose_asset(page, 'Poster "Spring Sale" with tulips')
    page.locator(f'#results [data-asset-id="{asset_id}"] button.open').click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("dl.params")).to_contain_text("Spring Sale")
    expect(dialog.locator("dl.params")).to_contain_text("compose")
    expect(dialog.locator(".provenance")).to_have_attribute("data-verdict", "verified")
    shot(page, "detail")
    dialog.get_by_role("button", name="Variations").click()
    dialog.get_by_label("How many").fill("2")
    dialog.get_by_role("button", name="Make variations").click()
    expect(dialog.locator(".gallery .tile[data-asset-id]")).to_have_count(2)
    listing = page.request.get("/api/assets?limit=200").json()["data"]
    children = [a for a in listing if a["parent_id"] == asset_id]
    assert len(children) == 2
    assert all(a["seed"] is not None for a in children)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_mask_edit_sends_the_painted_area_and_the_instruction(
    open_page: Any, studio: Studio
) -> None:
    page = open_page()
    tile = _first_tile(page, "a plain square", "recording")
    tile.locator("button.open").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Edit").click()
    canvas = dialog.locator(".mask-stage canvas")
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    # Paint a stroke across the left half's middle.
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    shot(page, "mask-edit")
    before = len(studio.recording.requests)
    dialog.get_by_label("Instruction").fill("make the painted area blue")
    dialog.get_by_role("button", name="Apply edit").click()
    expect(dialog.locator(".gallery .tile[data-asset-id]")).to_have_count(1)
    request = studio.recording.requests[before]
    assert request.mode.value == "edit"
    assert "make the painted area blue" in request.prompt
    assert request.mask is not None
    mask = Image.open(io.BytesIO(request.mask.data)).convert("RGBA")
    w, h = mask.size
    alpha = mask.getchannel("A")
    assert alpha.getpixel((int(w * 0.25), h // 2)) == 0  # painted: to edit
    assert alpha.getpixel((int(w * 0.9), int(h * 0.1))) == 255  # untouched: kept
    expect(dialog.get_by_role("link", name="make the painted area blue")).to_be_visible()


def test_explore_tray_takes_files_with_roles_up_to_the_model_limit(
    open_page: Any, studio: Studio
) -> None:
    page = open_page()
    page.goto("/#/explore")
    _pick_model(page, "recording")
    files = [
        {"name": f"ref{i}.png", "mimeType": "image/png", "buffer": _png((i * 60, 90, 200))}
        for i in range(4)
    ]
    page.locator("#tray-file").set_input_files(files)
    expect(page.locator(".tray .ref")).to_have_count(3)
    expect(page.locator("#tray-count")).to_contain_text("3 of 3")
    expect(page.locator(".toast.error")).to_contain_text("up to 3 references")
    page.get_by_label("Role of ref1.png").select_option("style")
    page.get_by_role("button", name="Remove ref2.png").click()
    expect(page.locator(".tray .ref")).to_have_count(2)
    shot(page, "explore")
    before = len(studio.recording.requests)
    _result(page, _generate(page, "the subject in this style"))
    request = studio.recording.requests[before]
    assert [r.role.value for r in request.references] == ["subject", "style"]
    assert request.references[1].image.data != request.references[0].image.data
    explore = page.request.get("/api/assets?workspace=explore").json()
    assert explore["total"] >= 1


def test_optimizer_shows_original_and_optimized_with_editable_slots(open_page: Any) -> None:
    page = open_page()
    page.goto("/#/draft")
    page.get_by_role("button", name="Product shot").click()
    page.get_by_label("Prompt", exact=True).fill("red sneaker on white, for a shop")
    page.get_by_role("button", name="Optimize prompt").click()
    result = page.locator("#optimizer-result")
    expect(result.get_by_role("heading", name="Original")).to_be_visible()
    expect(result.locator("pre")).to_have_text("red sneaker on white, for a shop")
    optimized = result.get_by_label("Optimized prompt")
    expect(optimized).not_to_have_value("")
    chip = result.get_by_role("button", name="Edit subject").first
    old = str(chip.get_attribute("aria-label")).removeprefix("Edit subject: ")
    chip.click()
    result.get_by_label("New subject").fill("blue running shoe")
    result.get_by_label("New subject").press("Enter")
    assert "blue running shoe" in optimized.input_value()
    assert old not in optimized.input_value() or old in "blue running shoe"
    shot(page, "optimizer")
    result.get_by_role("button", name="Use optimized").click()
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(re.compile("blue running shoe"))


def test_controls_the_model_cannot_honour_are_disabled_with_the_reason(open_page: Any) -> None:
    page = open_page()
    page.goto("/#/draft")
    _pick_model(page, "compose")
    expect(page.locator('.model[data-model="compose"] .price')).to_have_text("$0.001")
    negative = page.get_by_label("Negative prompt")
    expect(negative).to_be_disabled()
    hint = page.locator(f"#{negative.get_attribute('aria-describedby')}")
    expect(hint).to_have_text("compose takes no negative prompt")
    _pick_model(page, "recording")
    expect(negative).to_be_enabled()
    page.get_by_label("Images (n)").fill("3")
    page.get_by_label("Images (n)").dispatch_event("change")
    expect(page.locator('.model[data-model="compose"] .price')).to_have_text("$0.003")


def test_phone_width_layout_has_no_sideways_scroll(open_page: Any) -> None:
    page = open_page(viewport=PHONE)
    for route, name in (("/#/draft", "phone-draft"), ("/#/explore", "phone-explore")):
        page.goto(route)
        expect(page.locator("#generate")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"{route} scrolls sideways by {overflow}px at 390 px"
        shot(page, name)
    # The controls stack under the workspace panel, full width.
    panel = page.locator("section[aria-label=Explore]").bounding_box()
    settings = page.locator("section[aria-label=Settings]").bounding_box()
    assert panel is not None
    assert settings is not None
    assert settings["y"] > panel["y"]
    assert settings["width"] > 330


def test_keyboard_reaches_the_workspaces_and_generate_with_visible_focus(
    open_page: Any,
) -> None:
    page = open_page(theme="dark")
    page.goto("/#/draft")
    expect(page.get_by_role("heading", name="Draft")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.get_by_label("Prompt", exact=True).fill('Poster "Night Market"')
    page.get_by_label("Prompt", exact=True).press("Control+Enter")
    expect(page.locator("#results .tile[data-asset-id]").first).to_be_visible()
    shot(page, "draft-dark")


def test_pasted_png_lands_in_the_tray(open_page: Any) -> None:
    page = open_page()
    page.goto("/#/explore")
    _pick_model(page, "recording")
    data = base64.b64encode(_png((10, 200, 10))).decode()
    page.evaluate(
        """(b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const data = new DataTransfer();
          data.items.add(new File([bytes], "pasted.png", {type: "image/png"}));
          document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data}));
        }""",
        data,
    )
    expect(page.locator(".tray .ref")).to_have_count(1)


def test_dragging_a_result_onto_the_tray_uses_it_as_a_reference(
    open_page: Any, studio: Studio
) -> None:
    page = open_page()
    tile = _first_tile(page, "a first image", "recording", "/#/explore")
    asset_id = tile.get_attribute("data-asset-id")
    tile.drag_to(page.locator("#dropzone"))
    expect(page.locator(".tray .ref")).to_have_count(1)
    expect(page.get_by_role("button", name="Variations")).to_be_enabled()
    before = len(studio.recording.requests)
    _result(page, _generate(page, "the same subject, at night"))
    (reference,) = studio.recording.requests[before].references
    assert reference.role.value == "subject"
    stored = page.request.get(f"/api/assets/{asset_id}/file").body()
    assert reference.image.data == stored


def test_local_mode_opens_straight_into_draft_and_generates(
    browser: Browser, make_server: StartServer
) -> None:
    live = make_server(auth="off")
    page, problems = new_page(browser, live.base_url, email=None)
    try:
        page.goto("/")
        expect(page.get_by_role("heading", name="Draft")).to_be_visible()
        expect(page.locator("#account-name")).to_have_text("Local user")
        expect(page.locator("#credits")).to_have_text("Local · free")
        expect(page.locator("#sign-out")).to_be_hidden()
        _result(page, _generate(page, 'Quote card "Less, but better"'))
    finally:
        page.context.close()
    assert problems.errors == []
    assert problems.outside == []
