"""`pixelforge serve` refuses to expose the server beyond loopback before accounts exist."""

from __future__ import annotations

import pytest

from pixelforge.cli import _is_loopback, main


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.com", "10.0.0.1"])
def test_serve_refuses_when_host_not_loopback(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["serve", "--host", host, "--port", "0"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(lines) == 1
    assert "--host" in lines[0]
    assert host in lines[0]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_is_loopback_accepts_when_host_is_loopback(host: str) -> None:
    assert _is_loopback(host)
