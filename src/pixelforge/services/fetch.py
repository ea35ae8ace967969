"""SSRF-safe fetching of reference images by URL (security reference rows 17-21).

Contract of :class:`SafeFetcher`:

* ``check_url`` accepts only ``http``/``https`` URLs with a plain host name or a canonical IP
  literal, no userinfo, and a port from ``FetchPolicy.allowed_ports``. Odd IPv4 spellings
  (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``) and ``localhost`` names are refused
  outright. The host is resolved **once**; *every* answer must be a public unicast address
  (no loopback, private, link-local, CGNAT, metadata, ULA, multicast, reserved, unspecified,
  IPv4-mapped, 6to4 or Teredo address). It returns ``(scheme, host, port, pinned_ip)``.
* ``fetch`` connects only to that pinned IP (the network backend refuses any other address, so a
  second DNS answer can never be used: no DNS rebinding), sends the original ``Host`` header
  (and TLS SNI / certificate check against the original name), never follows redirects, sends
  no cookies, credentials or provider headers (a fresh client with ``trust_env=False``: no env
  proxies, no netrc), requires an allowed ``Content-Type`` and no ``Content-Encoding``, and
  stops at ``max_bytes`` (declared or streamed) and at a total wall-clock deadline of
  ``timeout_seconds`` that bounds every connect, TLS handshake, header and body read.

Every refusal is an :class:`~pixelforge.errors.InvalidRequestError` naming ``param``:
``url_not_allowed`` (the URL or its addresses are not allowed), ``url_fetch_failed`` (network
error, timeout, redirect, non-200 status), ``file_too_large`` (:class:`ImageTooLargeError`, 413)
and ``unsupported_media_type`` (:class:`UnsupportedImageError`, 415).

``allow_private_for_tests`` exists **only** so the test-suite can point a public-looking name at
a local HTTP server: for the listed host names, loopback answers from the resolver are accepted.
Production code never sets it. Loopback/``localhost`` written directly in a URL stays refused
even then, and other private ranges stay refused for those names too.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpcore
import httpx

from pixelforge.errors import ImageTooLargeError, InvalidRequestError, UnsupportedImageError

__all__ = ["CHUNK_SIZE", "FetchPolicy", "Resolver", "SafeFetcher", "system_resolver"]

Resolver = Callable[[str, int], list[str]]
"""``(host, port) -> IP address strings``; every answer is checked, the first one is used."""

CHUNK_SIZE = 64 * 1024
"""Largest single network read; the fetcher never holds more than ``max_bytes + CHUNK_SIZE``."""

_MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOCALHOST_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
)
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")

_FORBIDDEN_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, incl. 169.254.169.254 (cloud metadata)
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",  # includes 255.255.255.255
    )
)
_FORBIDDEN_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/8",  # unspecified, loopback, IPv4-compatible, IPv4-mapped (::ffff:0:0/96)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001::/32",  # Teredo
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "fc00::/7",  # ULA (incl. fd00::/8)
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int = 20 * 1024 * 1024
    timeout_seconds: float = 10.0
    allowed_ports: frozenset[int] = field(default_factory=lambda: frozenset({80, 443}))
    allowed_content_types: frozenset[str] = field(
        default_factory=lambda: frozenset({"image/png", "image/jpeg", "image/webp"})
    )


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with ``socket.getaddrinfo`` (IPv4 and IPv6), answers in order, deduplicated."""
    infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in out:
            out.append(address)
    return out


def address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``address`` must not be contacted, or ``None`` when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "IPv4-mapped IPv6 addresses are not allowed"
        if address.sixtofour is not None or address.teredo is not None:
            return "6to4/Teredo addresses are not allowed"
        if address.scope_id:
            return "scoped IPv6 addresses are not allowed"
        if address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            inner = address_problem(embedded)
            return None if inner is None else f"NAT64 address of {embedded}: {inner}"
        if any(address in net for net in _FORBIDDEN_V6) or address.is_site_local:
            return "address is not public"
    elif any(address in net for net in _FORBIDDEN_V4):
        return "address is not public"
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        return "address is not public"
    return None


class SafeFetcher:
    """Fetch reference images by URL without letting the URL reach anything internal."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        resolver: Resolver | None = None,
        *,
        allow_private_for_tests: frozenset[str] = frozenset(),
    ) -> None:
        self.policy = policy if policy is not None else FetchPolicy()
        self._resolver: Resolver = resolver if resolver is not None else system_resolver
        # Test-only escape hatch (see module docstring); production never passes it.
        self._loopback_ok = frozenset(h.lower().rstrip(".") for h in allow_private_for_tests)

    # ------------------------------------------------------------------ URL checks

    def check_url(self, url: str, param: str = "url") -> tuple[str, str, int, str]:
        """Validate ``url`` and resolve it once: ``(scheme, host, port, pinned_ip)``."""
        scheme, host, port, _ = self._check(url, param)
        return scheme, host, port, self._pin(host, port, url, param)

    def _refuse(self, param: str, url: str, reason: str) -> InvalidRequestError:
        shown = url if len(url) <= 200 else url[:200] + "..."
        if "@" in shown:  # never echo credentials back
            shown = "<url with credentials>"
        return InvalidRequestError(
            f"{param}: {shown!r} is not allowed; {reason}. Only public http(s) URLs on ports "
            f"{', '.join(str(p) for p in sorted(self.policy.allowed_ports))} can be fetched",
            param=param,
            code="url_not_allowed",
        )

    def _check(self, url: str, param: str) -> tuple[str, str, int, str]:
        """Syntax checks; returns ``(scheme, host, port, path_and_query)``; no DNS yet."""
        if not isinstance(url, str) or not url:
            raise self._refuse(param, str(url), "the URL is empty")
        if len(url) > _MAX_URL_LENGTH:
            raise self._refuse(param, url, f"the URL is longer than {_MAX_URL_LENGTH} characters")
        if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url) or "\\" in url:
            raise self._refuse(
                param, url, "the URL contains whitespace, control or '\\' characters"
            )
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise self._refuse(param, url, f"the URL does not parse ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise self._refuse(param, url, f"scheme {scheme or '(none)'!r} is not http or https")
        netloc = parts.netloc
        if "@" in netloc:
            raise self._refuse(param, url, "credentials (user@host) are not allowed in the URL")
        if not netloc:
            raise self._refuse(param, url, "the host is empty")
        host, port_text = self._split_netloc(netloc, param, url)
        if port_text:
            if not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
                raise self._refuse(param, url, f"port {port_text!r} is not a valid port")
            port = int(port_text)
        else:
            port = _DEFAULT_PORTS[scheme]
        if port not in self.policy.allowed_ports:
            raise self._refuse(param, url, f"port {port} is not allowed")
        path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
        if parts.query:
            path += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
        return scheme, host, port, path

    def _split_netloc(self, netloc: str, param: str, url: str) -> tuple[str, str]:
        if netloc.startswith("["):
            end = netloc.find("]")
            if end < 0:
                raise self._refuse(param, url, "the bracketed IPv6 host is not closed")
            inner, rest = netloc[1:end], netloc[end + 1 :]
            if rest and not rest.startswith(":"):
                raise self._refuse(param, url, "unexpected text after the IPv6 host")
            if "%" in inner:
                raise self._refuse(param, url, "IPv6 zone identifiers are not allowed")
            try:
                v6 = ipaddress.IPv6Address(inner)
            except ValueError:
                raise self._refuse(param, url, f"{inner!r} is not an IPv6 address") from None
            return str(v6), rest[1:]
        host, sep, port_text = netloc.rpartition(":")
        if not sep:
            host, port_text = netloc, ""
        if ":" in host:
            raise self._refuse(param, url, "IPv6 hosts must be written in brackets")
        return self._normalise_host(host, param, url), port_text

    def _normalise_host(self, host: str, param: str, url: str) -> str:
        host = host.lower()
        if not host:
            raise self._refuse(param, url, "the host is empty")
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise self._refuse(param, url, "the host is not a valid domain name") from None
        name = host[:-1] if host.endswith(".") else host
        labels = name.split(".")
        if _NUMERIC_LABEL.match(labels[-1]):
            # WHATWG/inet_aton would read this as an IPv4 address: only the canonical
            # dotted quad is accepted, every other spelling (decimal, hex, octal, short) is not.
            try:
                v4 = ipaddress.IPv4Address(name)
            except ValueError:
                v4 = None
            if v4 is None or str(v4) != host:
                raise self._refuse(param, url, f"{host!r} is an unusual IP address notation")
            return host
        if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
            raise self._refuse(param, url, f"{host!r} is not a valid host name")
        if name in _LOCALHOST_NAMES or name.endswith(".localhost"):
            raise self._refuse(param, url, f"{host!r} is a local host name")
        return host

    def _pin(self, host: str, port: int, url: str, param: str) -> str:
        """Return the one address to connect to, resolving ``host`` at most once."""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            problem = address_problem(literal)
            if problem:
                raise self._refuse(param, url, f"{literal}: {problem}")
            return str(literal)
        try:
            answers = list(self._resolver(host.rstrip("."), port))
        except OSError as exc:
            raise InvalidRequestError(
                f"{param}: could not resolve host {host!r} ({exc})",
                param=param,
                code="url_fetch_failed",
            ) from None
        if not answers:
            raise InvalidRequestError(
                f"{param}: host {host!r} has no addresses", param=param, code="url_fetch_failed"
            )
        checked: list[str] = []
        for answer in answers:
            try:
                address = ipaddress.ip_address(answer)
            except ValueError:
                raise self._refuse(param, url, f"{host!r} resolved to {answer!r}") from None
            problem = address_problem(address)
            if problem and not (
                host.rstrip(".") in self._loopback_ok and self._is_plain_loopback(address)
            ):
                raise self._refuse(param, url, f"{host!r} resolves to {address}: {problem}")
            checked.append(str(address))
        return checked[0]

    @staticmethod
    def _is_plain_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return address.is_loopback and not (
            isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None
        )

    # ------------------------------------------------------------------ fetching

    def fetch(self, url: str, param: str = "url") -> bytes:
        """Download ``url`` under the policy and return the body bytes."""
        policy = self.policy
        deadline = time.monotonic() + policy.timeout_seconds
        scheme, host, port, path = self._check(url, param)
        pinned = self._pin(host, port, url, param)

        host_header = f"[{host}]" if ":" in host else host
        if port != _DEFAULT_PORTS[scheme]:
            host_header = f"{host_header}:{port}"
        target = httpx.URL(scheme=scheme, host=pinned, port=port, raw_path=path.encode("ascii"))
        headers = {
            "Host": host_header,
            "Accept": ", ".join(sorted(policy.allowed_content_types)),
            "Accept-Encoding": "identity",
        }
        extensions: dict[str, Any] = {"sni_hostname": host} if scheme == "https" else {}

        def failed(reason: str) -> InvalidRequestError:
            return InvalidRequestError(
                f"{param}: could not fetch the image: {reason}",
                param=param,
                code="url_fetch_failed",
            )

        backend = _PinnedBackend(pinned, port, deadline)
        try:
            with (
                httpx.Client(
                    transport=_PinnedTransport(backend),
                    trust_env=False,
                    headers={"User-Agent": "Pixelforge"},
                    follow_redirects=False,
                    timeout=httpx.Timeout(policy.timeout_seconds),
                ) as client,
                client.stream("GET", target, headers=headers, extensions=extensions) as response,
            ):
                self._check_response(response, param, failed)
                return self._read_body(response, deadline, param, failed)
        except httpx.TimeoutException:
            raise failed(f"timed out after {policy.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise failed(f"{type(exc).__name__}: {exc}") from None

    def _check_response(
        self,
        response: httpx.Response,
        param: str,
        failed: Callable[[str], InvalidRequestError],
    ) -> None:
        policy = self.policy
        if 300 <= response.status_code < 400:
            raise failed(f"the server answered a redirect (HTTP {response.status_code}); "
                         "redirects are not followed, give the final image URL")  # fmt: skip
        if response.status_code != 200:
            raise failed(f"the server answered HTTP {response.status_code}")
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise failed(f"Content-Encoding {encoding!r} is not accepted")
        media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media_type not in policy.allowed_content_types:
            raise UnsupportedImageError(
                f"{param}: Content-Type {media_type or '(none)'!r} is not allowed; expected one of "
                f"{', '.join(sorted(policy.allowed_content_types))}",
                param=param,
                code="unsupported_media_type",
            )
        declared = response.headers.get("Content-Length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise failed(f"invalid Content-Length {declared!r}")
            if int(declared) > policy.max_bytes:
                raise self._too_large(param, f"Content-Length is {int(declared)} bytes")

    def _too_large(self, param: str, what: str) -> ImageTooLargeError:
        return ImageTooLargeError(
            f"{param}: the image is too large ({what}); at most {self.policy.max_bytes} bytes",
            param=param,
            code="file_too_large",
        )

    def _read_body(
        self,
        response: httpx.Response,
        deadline: float,
        param: str,
        failed: Callable[[str], InvalidRequestError],
    ) -> bytes:
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_raw():
            total += len(chunk)
            if total > self.policy.max_bytes:
                raise self._too_large(param, f"more than {self.policy.max_bytes} bytes streamed")
            if time.monotonic() > deadline:
                raise failed(f"timed out after {self.policy.timeout_seconds:g} s")
            chunks.append(chunk)
        return b"".join(chunks)


# ---------------------------------------------------------------------- transport plumbing


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read/write/handshake ends by the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _budget(self, timeout: float | None, exc: type[Exception]) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise exc("fetch deadline exceeded")
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(
            min(max_bytes, CHUNK_SIZE), self._budget(timeout, httpcore.ReadTimeout)
        )

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        try:
            budget = self._budget(timeout, httpcore.ConnectTimeout)
        except httpcore.ConnectTimeout:
            self._inner.close()
            raise
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, budget), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects only to the checked IP and port; everything else is refused."""

    def __init__(self, ip: str, port: int, deadline: float) -> None:
        self._ip = ipaddress.ip_address(ip)
        self._port = port
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            same = ipaddress.ip_address(host.strip("[]")) == self._ip and port == self._port
        except ValueError:
            same = False
        if not same:
            raise httpcore.ConnectError(f"refusing to connect to unchecked address {host}:{port}")
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise httpcore.ConnectTimeout("fetch deadline exceeded")
        budget = remaining if timeout is None else min(timeout, remaining)
        stream = self._inner.connect_tcp(host, port, budget, local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for fetches")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's transport with a connection pool that uses :class:`_PinnedBackend`.

    httpx does not expose the network backend, so the pool is replaced after construction; the
    request/response and exception mapping stay httpx's own.
    """

    def __init__(self, backend: _PinnedBackend) -> None:
        super().__init__(trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=1,
            max_keepalive_connections=0,
            retries=0,
            network_backend=backend,
        )
