"""``pixelforge verify FILE``: the C2PA report and the watermark, mapped to an asset of the
local store; exit 0 when provenance holds, 1 when it does not, 2 for bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from cli.conftest import RunCli
from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest
from pixelforge.domain.sizes import Size
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary


def test_cli_output_is_signed(run_cli: RunCli, tmp_path: Path) -> None:
    made = run_cli("generate", 'Poster, headline "HELLO"', "--size", "512x512", "-o", "out")
    assert made.rc == 0, made.err
    (png,) = (tmp_path / "out").glob("*.png")
    result = run_cli("verify", str(png), "--json")
    assert result.rc == 0, result.err
    report = json.loads(result.out)
    assert report["verdict"] == "signed"  # signed; the CLI keeps no gallery to map it to
    assert report["c2pa"]["model"] == "compose"
    assert report["watermark"]["found"] is True
    table = run_cli("verify", str(png))
    assert "signed" in table.out
    assert "DEVELOPMENT" in table.out


def test_the_watermark_maps_to_an_asset_of_the_local_store(run_cli: RunCli, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    container = Container.build(
        settings, [ComposeEngine(FontLibrary(), IconSet())], Metrics(lambda: 0)
    )
    container.start()
    try:
        job = container.jobs.submit(GenerationRequest(prompt="Poster", size=Size(512, 512))).job
        done = container.jobs.wait(job.id, 60)
        (asset,) = container.assets.of_job(done.id)
        data = container.assets.data(asset)
    finally:
        container.stop()
    stripped = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(stripped, "JPEG", quality=80)
    path = tmp_path / "shared.jpg"
    path.write_bytes(stripped.getvalue())
    result = run_cli("verify", str(path), "--json")
    assert result.rc == 0, result.err
    report = json.loads(result.out)
    assert report["verdict"] == "watermarked"
    assert report["watermark"]["assets"][0]["id"] == asset.id


def test_no_provenance_exits_1(run_cli: RunCli, tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    Image.new("RGB", (256, 256), (1, 2, 3)).save(plain)
    result = run_cli("verify", str(plain))
    assert result.rc == 1
    assert "unknown" in result.out


def test_bad_input_exits_2_naming_the_argument(run_cli: RunCli, tmp_path: Path) -> None:
    missing = run_cli("verify", str(tmp_path / "nope.png"))
    assert missing.rc == 2
    assert missing.err.startswith("error: PATH: cannot read")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"hello")
    bad = run_cli("verify", str(junk))
    assert bad.rc == 2
    assert "PATH:" in bad.err
