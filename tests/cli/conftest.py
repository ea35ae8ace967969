"""Shared setup for CLI tests: an isolated home, a neutral terminal, an in-process runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pixelforge.cli import main


@dataclass(frozen=True)
class CliResult:
    rc: int
    out: str
    err: str

    @property
    def out_lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


RunCli = Callable[..., CliResult]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELFORGE_HOME", str(tmp_path / "home"))
    # Output must not depend on the caller's terminal: rich falls back to 80 columns.
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    def run(*args: str) -> CliResult:
        capsys.readouterr()
        rc = main(list(args))
        captured = capsys.readouterr()
        return CliResult(rc, captured.out, captured.err)

    return run
