"""The built-in upscale engine: the shared contract (classical and an RRDBNet model), exact
targets, a model's factor against the target, progress and cancellation per tile, ``auto``,
and the base install never importing torch."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from contract import EngineContract
from PIL import Image

from pixelforge.domain import GenerationRequest, ImageInput, Mode, Reference, Size
from pixelforge.engines.base import CancelToken, Engine, ProgressEvent
from pixelforge.engines.upscale import (
    CLASSICAL,
    MAX_PIXELS,
    UpscaleEngine,
    UpscaleOptions,
    Upscaler,
    best_upscaler,
    passes_for,
)
from pixelforge.errors import CancelledError, CapabilityError, InvalidRequestError
from pixelforge.postprocess.upscale import upscale as classical_upscale

SRC = Path(__file__).resolve().parents[2] / "src"


def png(image: Image.Image) -> ImageInput:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return ImageInput(buf.getvalue(), image.width, image.height, "png")


def photo(width: int = 48, height: int = 32, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(width * height)
    pixels = rng.integers(0, 256, (height, width, len(mode)), np.uint8)
    return Image.fromarray(pixels, mode)


def request(image: Image.Image, model: str = CLASSICAL, **fields: Any) -> GenerationRequest:
    return GenerationRequest("", model=model, mode=Mode.EDIT, references=(Reference(png(image)),),
                             **fields)  # fmt: skip


@pytest.fixture(scope="module")
def classical() -> UpscaleEngine:
    return UpscaleEngine(super_resolution=False)


class TestClassicalUpscaleContract(EngineContract):
    model_id = CLASSICAL
    sample_prompt = ""

    @pytest.fixture
    def engine(self, classical: UpscaleEngine) -> Engine:
        return classical


# -- targets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [({"factor": 2}, (96, 64)), ({"factor": 4}, (192, 128)), ({"to": "2K"}, (2048, 1365)),
     ({"to": "4K"}, (4096, 2731))],
)  # fmt: skip
def test_targets_are_exact_and_keep_the_aspect_ratio(
    classical: UpscaleEngine, options: dict[str, Any], expected: tuple[int, int]
) -> None:
    result = classical.generate(request(photo(), options=UpscaleOptions(**options)))

    (made,) = result.images
    assert made.image.size == expected
    assert made.info["size"] == f"{expected[0]}x{expected[1]}"
    assert made.info["upscaled from"] == "48x32"


def test_a_request_size_of_another_shape_is_covered_not_stretched(
    classical: UpscaleEngine,
) -> None:
    wide = Image.new("RGB", (96, 32), (255, 255, 255))
    wide.paste((200, 0, 0), (0, 0, 32, 32))  # red left third, cropped away by a square target

    out = classical.generate(request(wide, size=Size(128, 128))).images[0].image

    assert out.size == (128, 128)
    assert np.asarray(out)[:, :4].min() >= 250  # the left edge is the white centre


def test_alpha_is_kept(classical: UpscaleEngine) -> None:
    image = photo(mode="RGBA")

    out = classical.generate(request(image, options=UpscaleOptions(factor=2))).images[0].image

    assert out.mode == "RGBA"
    resized = image.resize((96, 64), Image.Resampling.LANCZOS).getchannel("A")
    assert out.getchannel("A").tobytes() == resized.tobytes()


def test_classical_output_is_the_postprocess_upscale(classical: UpscaleEngine) -> None:
    image = photo()

    out = classical.generate(request(image, options=UpscaleOptions(factor=4))).images[0].image

    assert out.tobytes() == classical_upscale(image, (192, 128)).tobytes()


@pytest.mark.parametrize(
    ("image", "fields", "param"),
    [(photo(), {"options": UpscaleOptions(factor=2, to="2K")}, "options.to"),
     (photo(128, 128), {"size": Size(128, 128)}, "size"),
     (photo(2048, 16), {"options": UpscaleOptions(to="2K")}, "options.to")],
)  # fmt: skip
def test_bad_targets_are_refused_before_work_naming_the_field(
    classical: UpscaleEngine, image: Image.Image, fields: dict[str, Any], param: str
) -> None:
    events: list[ProgressEvent] = []
    with pytest.raises(InvalidRequestError) as caught:
        classical.generate(request(image, **fields), events.append)

    assert caught.value.param == param
    assert events == []


def test_a_target_past_the_output_limit_is_a_capability_error(classical: UpscaleEngine) -> None:
    side = int((MAX_PIXELS / 16) ** 0.5) + 16
    big = request(Image.new("RGB", (side, side)), options=UpscaleOptions(factor=4))

    with pytest.raises(CapabilityError) as caught:
        classical.check(big)

    assert caught.value.param == "options.factor"
    assert f"{4 * side}x{4 * side}" in caught.value.message


# -- auto ----------------------------------------------------------------------------------


def fake(name: str, factor: int, parameters: int = 1) -> Upscaler:
    from pixelforge.engines.local.catalog import ModelEntry

    entry = ModelEntry(name, "upscaler", "file", Path(name), "rrdbnet", variant=f"x{factor}")
    return Upscaler(f"upscale/{name}", name, factor, parameters, entry)


def test_auto_picks_the_smallest_factor_that_reaches_the_scale_then_the_biggest_model() -> None:
    models = [Upscaler(CLASSICAL, "classical", 0), fake("x2-small", 2, 10),
              fake("x2-big", 2, 99), fake("x4", 4), fake("x1", 1, 999)]  # fmt: skip

    assert best_upscaler(models, 2.0) == models[2]
    assert best_upscaler(models, 2.4) == models[2]  # a 1.2x Lanczos finish beats a 4x model
    assert best_upscaler(models, 4.0) == models[3]
    assert best_upscaler(models, 9.0) == models[3]
    assert best_upscaler(models[:1] + models[4:], 2.0) is None


def test_passes_reach_the_scale_within_a_small_lanczos_finish() -> None:
    assert [passes_for(4, s) for s in (2, 4, 4.096, 5, 8, 16)] == [1, 1, 1, 1, 2, 2]
    assert [passes_for(2, s) for s in (2, 2.5, 3, 4, 8)] == [1, 1, 2, 2, 3]
    assert passes_for(1, 4) == 1


def test_resolve_names_the_installed_upscalers_when_unknown(classical: UpscaleEngine) -> None:
    assert classical.resolve("auto", 4.0).model_id == CLASSICAL
    assert classical.resolve("classical", 2.0).model_id == CLASSICAL
    with pytest.raises(InvalidRequestError, match=r"'nope' is not an installed upscaler; "
                       r"allowed: auto, classical") as caught:  # fmt: skip
        classical.resolve("nope", 2.0)
    assert caught.value.param == "model"


# -- the base install ----------------------------------------------------------------------


def test_the_base_install_upscales_without_importing_torch(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from upscale_models import save_model

    save_model(tmp_path / "models" / "sr-x4.safetensors", 4)
    script = f"""
import io, sys
from PIL import Image
from pixelforge.bootstrap import default_engines
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest, ImageInput, Mode, Reference
from pixelforge.engines.registry import ModelRegistry
from pixelforge.engines.upscale import UpscaleOptions
registry = ModelRegistry(default_engines(Settings(home={str(tmp_path)!r})))
ids = sorted(m.id for m in registry.models() if m.engine == "upscale")
buf = io.BytesIO(); Image.new("RGB", (32, 32)).save(buf, "PNG")
ref = Reference(ImageInput(buf.getvalue(), 32, 32, "png"))
engine, _ = registry.resolve("upscale/classical")
out = engine.generate(GenerationRequest("", model="upscale/classical", mode=Mode.EDIT,
                      references=(ref,), options=UpscaleOptions(factor=2)))
print(ids, out.images[0].image.size, "torch" in sys.modules)
"""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, check=True, timeout=120)  # fmt: skip

    assert done.stdout.split("\n")[0] == "['upscale/classical', 'upscale/sr-x4'] (64, 64) False"


def test_without_super_resolution_only_classical_is_served(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from upscale_models import save_model

    save_model(tmp_path / "sr-x4.safetensors", 4)

    assert [m.id for m in UpscaleEngine(tmp_path, super_resolution=False).models()] == [CLASSICAL]
    assert [m.id for m in UpscaleEngine(tmp_path).models()] == [CLASSICAL, "upscale/sr-x4"]


# -- super-resolution models ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from upscale_models import save_model

    folder = tmp_path_factory.mktemp("upscalers")
    save_model(folder / "tiny-x4.safetensors", 4, seed=4)
    save_model(folder / "tiny-x2.safetensors", 2, seed=2)
    return folder


@pytest.fixture(scope="module")
def sr_engine(sr_dir: Path) -> UpscaleEngine:
    return UpscaleEngine(sr_dir, device="cpu", tile=24, overlap=8)


@pytest.fixture(scope="module")
def sr_contract_engine(sr_dir: Path) -> UpscaleEngine:
    return UpscaleEngine(sr_dir, device="cpu", tile=128, overlap=8)


class TestSuperResolutionContract(EngineContract):
    model_id = "upscale/tiny-x4"
    sample_prompt = ""

    @pytest.fixture
    def engine(self, sr_contract_engine: UpscaleEngine) -> Engine:
        return sr_contract_engine


def test_an_x4_model_asked_for_2x_runs_once_then_lanczos_downsamples(
    sr_engine: UpscaleEngine, sr_dir: Path
) -> None:
    from pixelforge.engines.local import rrdbnet

    image = photo(40, 24)
    model = rrdbnet.load(sr_dir / "tiny-x4.safetensors")
    made = rrdbnet.upscale(model, image, tile=24, overlap=8)
    expected = made.resize((80, 48), Image.Resampling.LANCZOS)

    out = sr_engine.generate(request(image, "upscale/tiny-x4",
                                     options=UpscaleOptions(factor=2))).images[0]  # fmt: skip

    assert out.image.size == (80, 48)
    assert out.image.tobytes() == expected.tobytes()
    assert out.info["upscaler"] == "tiny-x4"


def test_an_x2_model_asked_for_4x_runs_twice(sr_engine: UpscaleEngine, sr_dir: Path) -> None:
    from pixelforge.engines.local import rrdbnet

    image = photo(20, 12)
    model = rrdbnet.load(sr_dir / "tiny-x2.safetensors")
    once = rrdbnet.upscale(model, image, tile=24, overlap=8)
    twice = rrdbnet.upscale(model, once, tile=24, overlap=8)

    out = sr_engine.generate(request(image, "upscale/tiny-x2",
                                     options=UpscaleOptions(factor=4))).images[0].image  # fmt: skip

    assert out.tobytes() == twice.tobytes()


def test_progress_comes_per_tile_and_cancel_stops_between_tiles(sr_engine: UpscaleEngine) -> None:
    big = request(photo(96, 72), "upscale/tiny-x4", options=UpscaleOptions(factor=4))
    events: list[ProgressEvent] = []
    sr_engine.generate(big, events.append)
    tiles = (96 // 24) * (72 // 24)

    token = CancelToken()
    seen: list[ProgressEvent] = []

    def cancel_at_third(event: ProgressEvent) -> None:
        seen.append(event)
        if len(seen) == 3:
            token.cancel()

    with pytest.raises(CancelledError):
        sr_engine.generate(big, cancel_at_third, token)

    fractions = [e.fraction for e in events]
    assert len(events) == 1 + tiles + 1  # start, each tile, done
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len(seen) == 3  # the start and two tiles; the third tile never ran


def test_a_model_that_would_make_too_big_an_image_first_is_refused(
    sr_engine: UpscaleEngine,
) -> None:
    side = 2100  # x4 makes 8400 px a side (70.6 MP) on the way to 2x
    wide = request(Image.new("RGB", (side, side // 4)), "upscale/tiny-x4",
                   options=UpscaleOptions(factor=2))  # fmt: skip
    huge = request(Image.new("RGB", (side, side)), "upscale/tiny-x4",
                   options=UpscaleOptions(factor=2))  # fmt: skip

    sr_engine.check(wide)
    with pytest.raises(CapabilityError, match="would make 8400x8400 before resizing") as caught:
        sr_engine.check(huge)
    assert caught.value.param == "model"


def test_auto_picks_the_installed_model_for_the_scale(sr_engine: UpscaleEngine) -> None:
    assert sr_engine.resolve("auto", 2.0).name == "tiny-x2"
    assert sr_engine.resolve("auto", 4.0).name == "tiny-x4"
    assert sr_engine.resolve("tiny-x4", 2.0).name == "tiny-x4"
    assert sr_engine.resolve("upscale/tiny-x2", 2.0).name == "tiny-x2"
