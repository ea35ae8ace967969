"""Classical upscaling (no torch): exact targets, alpha kept, and sharpening that steepens
edges over plain Lanczos without amplifying noise in flat regions or drawing halos."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pixelforge.errors import InvalidRequestError
from pixelforge.postprocess.upscale import lanczos, noise_sigma, target_size, upscale


def edge_and_noise(sigma: float, contrast: float = 130.0, seed: int = 1) -> Image.Image:
    """96x64 grey: the top half has a vertical edge at a sub-pixel position (box-downsampled
    from 8x), the bottom half is flat; Gaussian noise of ``sigma`` levels over everything."""
    h, w = 64, 96
    fine = np.full((h * 8, w * 8), 60.0)
    fine[: h * 4, w * 4 + 3 :] = 60.0 + contrast
    small = fine.reshape(h, 8, w, 8).mean(axis=(1, 3))
    small += np.random.default_rng(seed).normal(0, sigma, small.shape)
    grey = np.clip(np.rint(small), 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB")


def luma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32)


def edge_slope(image: Image.Image) -> float:
    """Acutance: the steepest step of the edge's mean profile (levels per output pixel)."""
    rows = luma(image)[4 : image.height // 2 - 4]
    return float(np.abs(np.diff(rows.mean(axis=0))).max())


def flat_noise(image: Image.Image) -> float:
    """The standard deviation of the flat bottom half (its border left out)."""
    return float(luma(image)[image.height // 2 + 8 : -8, 8:-8].std())


# -- targets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kwargs", "expected"),
    [((500, 333), {"factor": 2}, (1000, 666)), ((500, 333), {"factor": 4}, (2000, 1332)),
     ((500, 333), {"tier": "2K"}, (2048, 1364)), ((333, 500), {"tier": "4k"}, (2728, 4096)),
     ((1024, 1024), {"tier": "4K"}, (4096, 4096))],
)  # fmt: skip
def test_target_size_is_exact(
    size: tuple[int, int], kwargs: dict[str, object], expected: tuple[int, int]
) -> None:
    assert target_size(*size, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "param", "message"),
    [({"factor": 3}, "factor", "3 is not an upscale factor; allowed: 2, 4"),
     ({"tier": "8K"}, "tier", "'8K' is not an upscale target; allowed: 2K, 4K"),
     ({"tier": "1K"}, "tier", "'1K' is not an upscale target"),
     ({"factor": 2, "tier": "2K"}, "tier", "give factor or tier, not both"),
     ({}, "factor", "give an upscale factor"),
     ({"tier": "2K", "tier_param": "--to"}, "--to", "'2K' (2048 px long edge) is not larger")],
)  # fmt: skip
def test_bad_targets_name_the_field_the_value_and_what_is_allowed(
    kwargs: dict[str, object], param: str, message: str
) -> None:
    width = 2048 if kwargs.get("tier_param") else 500
    with pytest.raises(InvalidRequestError, match=re.escape(message)) as caught:
        target_size(width, 300, **kwargs)  # type: ignore[arg-type]
    assert caught.value.param == param


@pytest.mark.parametrize("factor", [2, 4])
def test_upscale_output_is_exactly_the_target_size(factor: int) -> None:
    image = edge_and_noise(2.0).crop((0, 0, 77, 41))

    out = upscale(image, (77 * factor, 41 * factor))

    assert (out.mode, out.size) == ("RGB", (77 * factor, 41 * factor))


def test_alpha_is_resampled_never_sharpened() -> None:
    image = edge_and_noise(2.0).convert("RGBA")
    alpha = np.zeros((64, 96), np.uint8)
    alpha[:, 30:70] = 255
    image.putalpha(Image.fromarray(alpha, "L"))

    out = upscale(image, (384, 256))

    assert out.mode == "RGBA"
    expected = image.resize((384, 256), Image.Resampling.LANCZOS).getchannel("A")
    assert out.getchannel("A").tobytes() == expected.tobytes()


def test_palette_transparency_is_kept() -> None:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (10, 10, 30, 30))
    image.info["transparency"] = 0

    out = upscale(image, (80, 80))

    assert out.mode == "RGBA"
    assert out.getpixel((0, 0))[3] == 0
    assert out.getpixel((40, 40)) == (255, 0, 0, 255)


# -- sharpening ----------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("sigma", [0.0, 2.0, 4.0, 8.0])
def test_sharpening_steepens_edges_without_raising_flat_noise(factor: int, sigma: float) -> None:
    image = edge_and_noise(sigma)
    size = (96 * factor, 64 * factor)

    plain, ours = lanczos(image, size), upscale(image, size)

    assert edge_slope(ours) > 1.25 * edge_slope(plain)
    assert flat_noise(ours) <= flat_noise(plain) * 1.01 + 0.01


def test_a_plain_unsharp_mask_would_raise_the_noise_ours_does_not() -> None:
    image = edge_and_noise(4.0)
    plain = lanczos(image, (384, 256))
    unsharp = plain.filter(ImageFilter.UnsharpMask(radius=2, percent=140, threshold=0))

    ours = upscale(image, (384, 256))

    assert flat_noise(unsharp) > 1.2 * flat_noise(plain)
    assert flat_noise(ours) <= flat_noise(plain) * 1.01


def test_sharpening_draws_no_halos_beyond_the_sources_levels() -> None:
    image = edge_and_noise(0.0)

    plain, ours = luma(lanczos(image, (384, 256))), luma(upscale(image, (384, 256)))

    assert (plain.min(), plain.max()) != (60.0, 190.0)  # Lanczos itself rings...
    assert (ours.min(), ours.max()) == (60.0, 190.0)  # ...the clamp keeps the source's range


def test_noise_estimate_reads_the_noise_level_not_the_edges() -> None:
    for sigma in (2.0, 5.0, 10.0):
        grey = luma(edge_and_noise(sigma, seed=7))
        assert noise_sigma(grey) == pytest.approx(sigma, rel=0.2)
