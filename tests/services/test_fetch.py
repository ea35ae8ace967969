"""SafeFetcher: the SSRF matrix, redirects, DNS rebinding, resource limits, no credentials.

Security reference rows 17-21. The live tests point the public-looking name ``public.test``
(allowed to resolve to loopback only through ``allow_private_for_tests``) at a local
``ThreadingHTTPServer``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixelforge.errors import ImageTooLargeError, InvalidRequestError, UnsupportedImageError
from pixelforge.services import fetch as fetch_module
from pixelforge.services.fetch import CHUNK_SIZE, FetchPolicy, SafeFetcher, address_problem

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


# ---------------------------------------------------------------------------- check_url matrix

MATRIX = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://100.64.0.1/",
    "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://user@127.0.0.1/",
    "file:///etc/passwd",
    "gopher://example.com/",
    "http://example.com:6379/",
]

MORE_REFUSED = [
    "http://127.1/",
    "http://0x7f.0.0.1/",
    "http://127.0.0.1./",
    "http://user:pw@example.com/",
    "http://@example.com/",
    "http:///path",
    "http:example.com",
    "ftp://example.com/",
    "http://foo.localhost/",
    "http://LOCALHOST/",
    "http://[::]/",
    "http://[fe80::1%25eth0]/",
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://198.18.0.1/",
    "http://192.0.0.8/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://example.com:0/",
    "http://example.com:99999/",
    "http://example.com:8080/",
    "http://exa mple.com/",
    "http://example.com\\@127.0.0.1/",
    "http://example.com/\n",
    "http://::1/",
    "http://[::1/",
    "",
]


@pytest.mark.parametrize("url", MATRIX + MORE_REFUSED)
def test_check_url_refuses(url: str) -> None:
    fetcher = SafeFetcher(
        resolver=public_resolver, allow_private_for_tests=frozenset({"public.test"})
    )
    with pytest.raises(InvalidRequestError) as info:
        fetcher.check_url(url, param="reference_url")
    assert info.value.code == "url_not_allowed"
    assert info.value.param == "reference_url"
    assert info.value.message.startswith("reference_url: ")
    assert "not allowed" in info.value.message


@pytest.mark.parametrize("url", ["http://localhost/", "http://127.0.0.1/", "http://[::1]/"])
def test_loopback_written_in_the_url_stays_refused_with_the_test_hatch(url: str) -> None:
    fetcher = SafeFetcher(
        resolver=lambda h, p: ["127.0.0.1"],
        allow_private_for_tests=frozenset({"localhost", "127.0.0.1", "::1"}),
    )
    with pytest.raises(InvalidRequestError) as info:
        fetcher.check_url(url)
    assert info.value.code == "url_not_allowed"


@pytest.mark.parametrize(
    "answers",
    [
        ["10.0.0.5"],
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["::1"],
        ["::ffff:10.0.0.1"],
        ["93.184.216.34", "192.168.0.10"],  # one public, one private
        ["192.168.0.10", "93.184.216.34"],
        ["not-an-ip"],
    ],
)
def test_hostname_resolving_to_a_private_address_is_refused(answers: list[str]) -> None:
    fetcher = SafeFetcher(resolver=lambda h, p: answers)
    with pytest.raises(InvalidRequestError) as info:
        fetcher.check_url("https://images.example.com/cat.png", param="image_url")
    assert info.value.code == "url_not_allowed"
    assert info.value.param == "image_url"


def test_test_hatch_allows_loopback_but_not_other_private_ranges() -> None:
    fetcher = SafeFetcher(
        resolver=lambda h, p: ["127.0.0.1", "10.0.0.1"],
        allow_private_for_tests=frozenset({"public.test"}),
    )
    with pytest.raises(InvalidRequestError, match=r"10\.0\.0\.1"):
        fetcher.check_url("http://public.test/")


def test_check_url_accepts_public_targets_and_pins_the_first_answer() -> None:
    calls: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]

    fetcher = SafeFetcher(resolver=resolver)
    assert fetcher.check_url("https://Images.Example.com/a.png?x=1") == (
        "https",
        "images.example.com",
        443,
        "93.184.216.34",
    )
    assert calls == [("images.example.com", 443)]
    assert fetcher.check_url("http://8.8.8.8/") == ("http", "8.8.8.8", 80, "8.8.8.8")
    assert fetcher.check_url("http://[2606:4700::1111]/")[3] == "2606:4700::1111"
    assert len(calls) == 1  # literals are never resolved


def test_unresolvable_host_is_a_fetch_failure() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(InvalidRequestError) as info:
        SafeFetcher(resolver=resolver).check_url("http://nope.example/")
    assert info.value.code == "url_fetch_failed"


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_integer_and_hex_hosts_are_refused(number: int) -> None:
    fetcher = SafeFetcher(resolver=public_resolver)
    for host in (str(number), hex(number)):
        with pytest.raises(InvalidRequestError):
            fetcher.check_url(f"http://{host}/")


@given(st.ip_addresses(v=4))
def test_address_problem_agrees_with_is_global_for_v4(address: ipaddress.IPv4Address) -> None:
    if not address.is_global or address.is_multicast:
        assert address_problem(address) is not None
    if address_problem(address) is None:
        assert address.is_global


# ---------------------------------------------------------------------------- live server


@dataclass
class Capture:
    requests: list[dict[str, str]] = field(default_factory=list)
    secret_hits: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    bytes_sent: int = 0


def make_handler(capture: Capture) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, ctype: str, body: bytes, **extra: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in extra.items():
                self.send_header(key.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            capture.requests.append({k.lower(): v for k, v in self.headers.items()})
            port = self.server.server_address[1]
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._route(str(port))
            self.close_connection = True

        def _route(self, port: str) -> None:
            if self.path == "/image.png":
                self._send(200, "image/png; charset=binary", PNG)
            elif self.path == "/redirect":
                self._send(302, "text/plain", b"", Location=f"http://127.0.0.1:{port}/secret")
            elif self.path == "/secret":
                capture.secret_hits += 1
                self._send(200, "image/png", PNG)
            elif self.path == "/huge":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(5 * 1024**3))
                self.end_headers()
                self.wfile.write(b"\0" * 1024)
            elif self.path == "/endless":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"\0" * 8192
                framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
                deadline = time.monotonic() + 10
                while not capture.stop.is_set() and time.monotonic() < deadline:
                    self.wfile.write(framed)
                    capture.bytes_sent += len(chunk)
            elif self.path == "/slow":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.flush()
                for _ in range(1000):
                    if capture.stop.wait(0.2):
                        break
                    self.wfile.write(b"\0")
                    self.wfile.flush()
            elif self.path == "/html":
                self._send(200, "text/html; charset=utf-8", b"<html></html>")
            elif self.path == "/gzip":
                self._send(200, "image/png", PNG, Content_Encoding="gzip")
            else:
                self._send(404, "text/plain", b"no")

    return Handler


@dataclass
class Live:
    port: int
    capture: Capture

    def fetcher(
        self, resolver: Callable[[str, int], list[str]] | None = None, **policy: object
    ) -> SafeFetcher:
        settings: dict[str, object] = {"allowed_ports": frozenset({self.port}), **policy}
        return SafeFetcher(
            FetchPolicy(**settings),  # type: ignore[arg-type]
            resolver or (lambda host, port: ["127.0.0.1"]),
            allow_private_for_tests=frozenset({"public.test"}),
        )

    def url(self, path: str) -> str:
        return f"http://public.test:{self.port}{path}"


@pytest.fixture
def live() -> Iterator[Live]:
    capture = Capture()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(capture))
    server.daemon_threads = False  # server_close() joins the handler threads
    server.block_on_close = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Live(int(server.server_address[1]), capture)
    finally:
        capture.stop.set()
        server.shutdown()
        thread.join(10)
        server.server_close()


def test_fetches_a_png_through_the_pinned_address(live: Live) -> None:
    assert live.fetcher().fetch(live.url("/image.png")) == PNG
    [request] = live.capture.requests
    assert request["host"] == f"public.test:{live.port}"
    assert request["user-agent"] == "Pixelforge"
    assert request["accept-encoding"] == "identity"


def test_redirect_is_refused_and_never_followed(live: Live) -> None:
    with pytest.raises(InvalidRequestError) as info:
        live.fetcher().fetch(live.url("/redirect"), param="reference_url")
    assert info.value.code == "url_fetch_failed"
    assert info.value.param == "reference_url"
    assert "redirect" in info.value.message
    assert live.capture.secret_hits == 0
    assert len(live.capture.requests) == 1


def test_huge_content_length_is_refused_before_reading(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    original = httpx.Response.iter_raw

    def spy(self: httpx.Response, chunk_size: int | None = None) -> Iterator[bytes]:
        for chunk in original(self, chunk_size):
            read.append(len(chunk))
            yield chunk

    monkeypatch.setattr(httpx.Response, "iter_raw", spy)
    with pytest.raises(ImageTooLargeError) as info:
        live.fetcher().fetch(live.url("/huge"))
    assert info.value.status == 413
    assert info.value.code == "file_too_large"
    assert read == []


def test_endless_chunked_body_is_cut_at_the_byte_cap(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap = 256 * 1024
    read: list[int] = []
    original = httpx.Response.iter_raw

    def spy(self: httpx.Response, chunk_size: int | None = None) -> Iterator[bytes]:
        for chunk in original(self, chunk_size):
            read.append(len(chunk))
            yield chunk

    monkeypatch.setattr(httpx.Response, "iter_raw", spy)
    started = time.monotonic()
    with pytest.raises(ImageTooLargeError) as info:
        live.fetcher(max_bytes=cap).fetch(live.url("/endless"))
    assert time.monotonic() - started < 5
    assert info.value.code == "file_too_large"
    assert cap < sum(read) <= cap + CHUNK_SIZE
    assert max(read) <= CHUNK_SIZE


def test_slow_drip_server_hits_the_total_deadline(live: Live) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidRequestError) as info:
        live.fetcher(timeout_seconds=1.0).fetch(live.url("/slow"))
    elapsed = time.monotonic() - started
    assert info.value.code == "url_fetch_failed"
    assert "timed out" in info.value.message
    assert elapsed < 2.0


def test_wrong_content_type_is_415(live: Live) -> None:
    with pytest.raises(UnsupportedImageError) as info:
        live.fetcher().fetch(live.url("/html"), param="image_url")
    assert info.value.status == 415
    assert info.value.code == "unsupported_media_type"
    assert info.value.param == "image_url"
    assert "text/html" in info.value.message


def test_content_encoding_is_refused(live: Live) -> None:
    with pytest.raises(InvalidRequestError) as info:
        live.fetcher().fetch(live.url("/gzip"))
    assert info.value.code == "url_fetch_failed"


def test_http_error_status_is_a_fetch_failure(live: Live) -> None:
    with pytest.raises(InvalidRequestError) as info:
        live.fetcher().fetch(live.url("/missing"))
    assert info.value.code == "url_fetch_failed"
    assert "404" in info.value.message


def test_no_credentials_or_env_proxies_reach_the_server(
    live: Live, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine public.test login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # would break the fetch if honoured
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-should-never-leave")
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-should-never-leave")

    assert live.fetcher().fetch(live.url("/image.png")) == PNG
    [request] = live.capture.requests
    assert "authorization" not in request
    assert "cookie" not in request
    assert "proxy-authorization" not in request
    assert request["host"] == f"public.test:{live.port}"
    assert set(request) <= {"host", "user-agent", "accept", "accept-encoding", "connection"}
    joined = " ".join(request.values())
    assert "sk-" not in joined
    assert "AIza" not in joined
    assert "s3cret" not in joined


def test_dns_rebinding_second_answer_is_never_used(live: Live) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    fetcher = live.fetcher(resolver=rebinding)
    assert fetcher.fetch(live.url("/image.png")) == PNG
    assert calls == ["public.test"]  # resolved exactly once for the whole fetch
    # The next fetch sees the rebound (private) answer and is refused before connecting.
    with pytest.raises(InvalidRequestError) as info:
        fetcher.fetch(live.url("/image.png"))
    assert info.value.code == "url_not_allowed"
    assert len(live.capture.requests) == 1


def test_connection_only_goes_to_the_pinned_ip(live: Live) -> None:
    backend = fetch_module._PinnedBackend("127.0.0.1", live.port, time.monotonic() + 5)
    with pytest.raises(Exception, match="unchecked address"):
        backend.connect_tcp("127.0.0.2", live.port)
    with pytest.raises(Exception, match="unchecked address"):
        backend.connect_tcp("127.0.0.1", live.port + 1)
    stream = backend.connect_tcp("127.0.0.1", live.port)
    stream.close()


def test_https_uses_the_original_name_for_sni_and_certificate_checks(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str | None] = []

    def start_tls(
        self: Any,
        ssl_context: object,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> object:
        seen.append(server_hostname)
        self._inner.close()
        raise httpcore.ConnectError("stop before the handshake")

    monkeypatch.setattr(fetch_module._DeadlineStream, "start_tls", start_tls)
    with pytest.raises(InvalidRequestError) as info:
        live.fetcher().fetch(f"https://public.test:{live.port}/image.png")
    assert info.value.code == "url_fetch_failed"
    assert seen == ["public.test"]


def test_https_to_a_plain_server_fails_cleanly(live: Live) -> None:
    with pytest.raises(InvalidRequestError) as info:
        live.fetcher().fetch(f"https://public.test:{live.port}/image.png")
    assert info.value.code == "url_fetch_failed"
