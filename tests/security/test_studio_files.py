"""The studio's shell and static files: public, data-free, same-origin, CSP-clean, no HTML
injection sinks in its scripts."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from pixelforge.api.studio import WEB_DIR
from server_support import StartServer

SCRIPTS = sorted((WEB_DIR / "static").rglob("*.js"))


def test_shell_and_static_files_are_served_without_credentials_when_accounts_are_on(
    make_server: StartServer,
) -> None:
    live = make_server(auth="required")
    live.container.accounts.create_user("admin@example.com", "long enough pw", role="admin")
    with httpx.Client(base_url=live.base_url) as client:
        shell = client.get("/")
        assert shell.status_code == 200
        assert shell.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in shell.headers["content-security-policy"]
        assert shell.headers["cache-control"] == "no-cache"
        script = client.get("/static/js/app.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        # The data behind the page still needs credentials.
        assert client.get("/api/assets").status_code == 401
        assert client.get("/auth/me").status_code == 401
        # Nothing outside the web folder is reachable through /static.
        for path in ("/static/../studio.py", "/static/%2e%2e/%2e%2e/config.py"):
            assert client.get(path).status_code == 404


def test_studio_files_never_name_another_origin_when_scanned() -> None:
    offenders = []
    for path in sorted(WEB_DIR.rglob("*")):
        if path.is_file():
            text = path.read_text()
            # The SVG namespace is an identifier, not a request.
            text = text.replace("http://www.w3.org/2000/svg", "")
            if re.search(r"https?://|//[a-z0-9-]+\.[a-z]{2,}/", text):
                offenders.append(path.name)
    assert offenders == []


def test_scripts_have_no_html_injection_sinks_when_scanned() -> None:
    assert SCRIPTS, "no studio scripts found"
    sinks = re.compile(r"\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|\beval\(")
    found = [f"{p.name}: {m.group(0)}" for p in SCRIPTS for m in sinks.finditer(p.read_text())]
    assert found == []


def test_shell_has_no_inline_script_or_style_the_csp_would_block() -> None:
    html = (WEB_DIR / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert " style=" not in html
    assert "<style" not in html


def test_every_route_module_the_router_names_exists() -> None:
    app = (WEB_DIR / "static" / "js" / "app.js").read_text()
    modules = re.findall(r'"\./(views/[a-z]+\.js)"', app)
    assert modules
    missing = [m for m in modules if not (WEB_DIR / "static" / "js" / Path(m)).is_file()]
    assert missing == []
