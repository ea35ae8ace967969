"""RRDBNet (ESRGAN / Real-ESRGAN) on torch alone: safe loading from safetensors files (x2, x4,
the original ESRGAN layout, BasicSR prefixes), pickles refused whatever their name, the
catalog's upscaler entries, and tiled inference: exact when the overlap covers the receptive
field, and memory bounded by the tile."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixelforge.engines.local import safety
from pixelforge.engines.local.catalog import scan
from pixelforge.engines.local.safety import UnsafeModelError

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from safetensors.torch import save_file  # noqa: E402
from test_model_file_safety import Payload  # noqa: E402

from pixelforge.engines.local import rrdbnet  # noqa: E402
from pixelforge.engines.local.rrdb_shapes import RRDBConfig, receptive_radius  # noqa: E402
from upscale_models import random_model, save_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def noise_image(width: int, height: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    channels = len(mode)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, channels), np.uint8)
    return Image.fromarray(pixels, mode)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "a pickle payload ran"


# -- loading -------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 4])
def test_load_runs_the_saved_weights_at_the_models_scale(tmp_path: Path, scale: int) -> None:
    path = save_model(tmp_path / f"sr-x{scale}.safetensors", scale, seed=3)
    image = noise_image(24, 16)

    loaded = rrdbnet.load(path)
    out = rrdbnet.upscale(loaded, image, tile=512)

    assert loaded.config == RRDBConfig(scale, 1, 8, 4)
    assert out.size == (24 * scale, 16 * scale)
    expected = rrdbnet.upscale(random_model(scale, seed=3), image, tile=512)
    assert out.tobytes() == expected.tobytes()
    assert pixels(out).std() > 20  # a real image, not a flat one


def test_original_esrgan_layout_and_basicsr_prefix_load_the_same_model(tmp_path: Path) -> None:
    image = noise_image(20, 20)
    runs = {}
    for name, kwargs in {"real": {}, "esrgan": {"esrgan_layout": True},
                         "ema": {"prefix": "params_ema."}}.items():  # fmt: skip
        path = save_model(tmp_path / f"{name}.safetensors", 4, seed=5, blocks=2, **kwargs)
        runs[name] = rrdbnet.upscale(rrdbnet.load(path), image, tile=512).tobytes()

    assert runs["esrgan"] == runs["real"] == runs["ema"]


def test_ema_weights_win_over_plain_params_in_one_file(tmp_path: Path) -> None:
    ema, plain = random_model(4, seed=1), random_model(4, seed=2)
    state = {f"params_ema.{k}": v for k, v in ema.state_dict().items()}
    state |= {f"params.{k}": v for k, v in plain.state_dict().items()}
    save_file(state, str(tmp_path / "both.safetensors"))
    image = noise_image(16, 16)

    out = rrdbnet.upscale(rrdbnet.load(tmp_path / "both.safetensors"), image, tile=512)

    assert out.tobytes() == rrdbnet.upscale(ema, image, tile=512).tobytes()


def test_pickles_named_safetensors_or_pth_are_refused_and_never_run(
    tmp_path: Path, marker: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    good = save_model(models / "real-x4.safetensors", 4)
    evil = []
    for suffix in (".safetensors", ".pth"):
        raw = models / f"raw-rrdb{suffix}"
        raw.write_bytes(pickle.dumps({"params_ema": Payload(marker)}))
        zipped = models / f"zip-rrdb{suffix}"
        torch.save({"params_ema": Payload(marker)}, zipped)
        evil += [raw, zipped]
    before = safety.refused_loads

    found = scan(models)
    for path in evil:
        with pytest.raises(UnsafeModelError, match="only safetensors"):
            rrdbnet.load(path)

    assert [(e.name, e.kind, e.variant) for e in found.entries] == [("real-x4", "upscaler", "x4")]
    reasons = {r.path.name: r.reason for r in found.rejected}
    assert set(reasons) == {p.name for p in evil}
    assert all("only safetensors" in reason for reason in reasons.values())
    assert rrdbnet.load(good).config.scale == 4
    assert safety.refused_loads == before


def test_weights_that_do_not_fit_the_architecture_are_refused(tmp_path: Path) -> None:
    state = random_model(4).state_dict()
    wrong = dict(state)
    wrong["body.0.rdb2.conv3.weight"] = torch.zeros(4, 7, 3, 3)
    save_file(wrong, str(tmp_path / "wrong.safetensors"))
    grey = {**state, "conv_first.weight": torch.zeros(8, 1, 3, 3),
            "conv_last.weight": torch.zeros(1, 8, 3, 3), "conv_last.bias": torch.zeros(1)}  # fmt: skip
    save_file(grey, str(tmp_path / "grey.safetensors"))
    flat = {**state, "conv_first.weight": torch.zeros(8)}
    save_file(flat, str(tmp_path / "flat.safetensors"))

    with pytest.raises(UnsafeModelError, match="do not fit an RRDBNet x4"):
        rrdbnet.load(tmp_path / "wrong.safetensors")
    with pytest.raises(UnsafeModelError, match="only RGB"):
        rrdbnet.load(tmp_path / "grey.safetensors")
    reasons = {r.path.name: r.reason for r in scan(tmp_path).rejected}
    assert "only RGB" in reasons["grey.safetensors"]
    assert "conv_first.weight has shape [8]" in reasons["flat.safetensors"]


def test_an_original_layout_other_than_x4_is_refused_naming_the_tensor(tmp_path: Path) -> None:
    state = {f"model.1.sub.0.RDB1.conv{i}.0.weight": torch.zeros(4, 8 + 4 * (i - 1), 3, 3)
             for i in range(1, 6)}  # fmt: skip
    state |= {"model.0.weight": torch.zeros(8, 3, 3, 3), "model.5.weight": torch.zeros(8, 8, 3, 3)}
    save_file(state, str(tmp_path / "old-x2.safetensors"))

    (rejected,) = scan(tmp_path).rejected

    assert "'model.5.weight'" in rejected.reason
    assert "only the x4 layout" in rejected.reason


def test_catalog_lists_each_upscaler_with_its_scale(tmp_path: Path) -> None:
    save_model(tmp_path / "a-x2.safetensors", 2)
    save_model(tmp_path / "b-x4.safetensors", 4, esrgan_layout=True)
    save_model(tmp_path / "c-x1.safetensors", 1)

    found = scan(tmp_path)

    assert [(e.name, e.kind, e.family, e.variant) for e in found.upscalers] == [
        ("a-x2", "upscaler", "rrdbnet", "x2"), ("b-x4", "upscaler", "rrdbnet", "x4"),
        ("c-x1", "upscaler", "rrdbnet", "x1"),
    ]  # fmt: skip
    assert found.pipelines == []


# -- tiled inference -----------------------------------------------------------------------


@pytest.mark.parametrize("scale", [4, 2, 1])
def test_tiles_equal_the_untiled_run_when_the_overlap_covers_the_receptive_field(
    scale: int,
) -> None:
    model = random_model(scale, seed=scale)
    image = noise_image(53, 41, seed=scale)
    radius = receptive_radius(model.config)

    whole = pixels(rrdbnet.upscale(model, image, tile=1024, overlap=0))
    tiled = pixels(rrdbnet.upscale(model, image, tile=13, overlap=radius + 1))

    assert whole.shape == (41 * scale, 53 * scale, 3)
    # Convolutions over different input sizes may sum in another order: a last-bit float
    # difference can round one pixel level the other way, nothing more.
    diff = np.abs(whole - tiled)
    assert diff.max() <= 1
    assert (diff > 0).mean() < 1e-3


def test_tiles_without_enough_overlap_show_seams() -> None:
    model = random_model(2, seed=2)
    image = noise_image(53, 41, seed=2)

    whole = pixels(rrdbnet.upscale(model, image, tile=1024, overlap=0))
    tiled = pixels(rrdbnet.upscale(model, image, tile=13, overlap=2))

    assert np.abs(whole - tiled).max() > 8


class ActivationWatch:
    """The largest tensor any module of the model produced (elements), via forward hooks."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.largest = 0
        self.handles = [m.register_forward_hook(self.seen) for m in model.modules()]

    def seen(self, _module: Any, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            self.largest = max(self.largest, output.numel())

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def largest_activation(model: torch.nn.Module, image: Image.Image, **tiling: int) -> int:
    watch = ActivationWatch(model)
    try:
        rrdbnet.upscale(model, image, **tiling)
    finally:
        watch.close()
    return watch.largest


def test_memory_is_bounded_by_the_tile_not_the_image() -> None:
    model = random_model(4, features=16, growth=8)
    small, large = noise_image(48, 48), noise_image(256, 192, seed=1)
    tile, overlap = 16, 8

    bound = model.config.features * ((tile + 2 * overlap) * 4) ** 2
    tiled_small = largest_activation(model, small, tile=tile, overlap=overlap)
    tiled_large = largest_activation(model, large, tile=tile, overlap=overlap)
    untiled_large = largest_activation(model, large, tile=1024, overlap=0)

    assert tiled_large == tiled_small <= bound
    assert untiled_large == model.config.features * (256 * 4) * (192 * 4)
    assert untiled_large > 40 * tiled_large


def test_alpha_is_kept_and_progress_comes_per_tile() -> None:
    model = random_model(2)
    image = noise_image(40, 24, mode="RGBA")
    fractions: list[float] = []

    out = rrdbnet.upscale(model, image, tile=16, overlap=4, progress=fractions.append)

    assert (out.mode, out.size) == ("RGBA", (80, 48))
    expected_alpha = image.getchannel("A").resize((80, 48), Image.Resampling.LANCZOS)
    assert out.getchannel("A").tobytes() == expected_alpha.tobytes()
    assert fractions == [i / 6 for i in range(1, 7)]  # 3 x 2 tiles


def test_a_progress_callback_that_raises_stops_between_tiles() -> None:
    model = random_model(4)
    calls: list[float] = []

    def stop_after_two(fraction: float) -> None:
        calls.append(fraction)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rrdbnet.upscale(model, noise_image(64, 64), tile=16, progress=stop_after_two)

    assert len(calls) == 2
