"""The ``models`` and ``demo`` commands, and the bare ``pixelforge`` invocation."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def test_models_lists_compose(run_cli):
    result = run_cli("models")

    assert result.rc == 0
    assert "compose" in result.out


def test_main_without_arguments_prints_help(run_cli):
    result = run_cli()

    assert result.rc == 0
    assert "Usage" in result.out + result.err
    assert "generate" in result.out + result.err


def test_demo_writes_one_png_poster(run_cli, tmp_path):
    out = tmp_path / "demo-out"

    result = run_cli("demo", "-o", str(out))

    assert result.rc == 0
    (path,) = sorted(out.iterdir())
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == (1632, 2048)


def test_demo_without_out_writes_into_home(run_cli, tmp_path):
    result = run_cli("demo")

    assert result.rc == 0
    assert len(list(Path(tmp_path / "home" / "demo").glob("*.png"))) == 1
