"""The studio: time from clicking Generate to the first image on screen (compose, 1K).

One server subprocess (``pixelforge serve``, accounts off, SQLite in a temp home) and Debian's
chromium driven by Playwright. Each run types a new brief, clicks Generate and waits until
the first image of that job has loaded; the page itself records click -> image ``load`` with
``performance.now()`` (``window.pfTimings``). Alternating with the page's runs, a plain HTTP
client does the same work without a browser (POST /api/jobs, follow the job's server-sent
events to ``done``, GET the image): the baseline the page's time is compared with.

Run: ``.venv/bin/python bench/studio_bench.py [--runs 40]``. Target: median <= 500 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from server_bench import free_port, wait_until_up  # bench/ is on the path when run as a script

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
BRIEFS = [
    'Poster "Blue Notes" for a jazz night, deep navy and brass',
    "Product shot of a matte black water bottle on a seamless background",
    'Infographic "Three steps to brew coffee" with icons',
    'YouTube thumbnail "I tried it for 30 days" with bold type',
    "Mobile app screen mockup for a habit tracker, light theme",
]


def serve(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PIXELFORGE_HOME": str(home), "PIXELFORGE_AUTH": "off"}
    exe = Path(sys.executable).parent / "pixelforge"
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until_up(proc, f"{url}/readyz", "pixelforge serve", 90)
    return proc, url


def page_run(page: Page, brief: str) -> float:
    """One click-to-first-image time as the page measured it (ms)."""
    before = page.evaluate("window.pfTimings.length")
    page.get_by_label("Prompt", exact=True).fill(brief)
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function("(n) => window.pfTimings.length > n", arg=before, timeout=30_000)
    return float(page.evaluate("window.pfTimings[window.pfTimings.length - 1]"))


def api_run(client: httpx.Client, brief: str) -> float:
    """The same work without a browser: submit, follow the events to done, fetch the image."""
    started = time.perf_counter()
    job = client.post("/api/jobs", json={"model": "compose", "prompt": brief,
                                         "resolution": "1K", "aspect_ratio": "1:1"}).json()  # fmt: skip
    final: dict[str, Any] = {}
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as events:
        kind = ""
        for line in events.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind in ("done", "failed", "canceled"):
                final = json.loads(line[6:])
                break
    assert final.get("status") == "succeeded", final
    client.get(f"/api/assets/{final['assets'][0]}/file").raise_for_status()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (make system-deps)")
    home = Path(tempfile.mkdtemp(prefix="pf-studio-bench-"))
    proc, url = serve(home)
    page_ms: list[float] = []
    api_ms: list[float] = []
    try:
        with sync_playwright() as p, httpx.Client(base_url=url, timeout=60) as client:
            browser = p.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/#/draft")
            page.locator('.model[data-model="compose"] input').check()
            for i in range(3):  # warm-up: fonts, the engine's caches, the browser's
                page_run(page, BRIEFS[i])
                api_run(client, BRIEFS[i])
            for i in range(args.runs):
                brief = f"{BRIEFS[i % len(BRIEFS)]} #{i}"
                # Alternate which goes first, so drift hits both alike.
                if i % 2:
                    api_ms.append(api_run(client, brief))
                    page_ms.append(page_run(page, brief))
                else:
                    page_ms.append(page_run(page, brief))
                    api_ms.append(api_run(client, brief))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(home, ignore_errors=True)
    page_median, api_median = statistics.median(page_ms), statistics.median(api_ms)
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "runs": args.runs,
        "page_median_ms": round(page_median, 1),
        "page_p90_ms": round(statistics.quantiles(page_ms, n=10)[-1], 1),
        "api_median_ms": round(api_median, 1),
        "ratio_page_vs_api": round(page_median / api_median, 2),
        "target_ms": 500,
        "met": page_median <= 500,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "studio.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
