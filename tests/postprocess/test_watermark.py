"""The invisible watermark: carries its id through re-encoding, resizing and cropping, stays
invisible, never clips, keeps alpha, and is not found where it was never put."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pixelforge.postprocess import watermark


def design(size: tuple[int, int] = (640, 512), seed: int = 0) -> Image.Image:
    """A poster-like image: flat colour fields, white margins, text-like bars, a gradient."""
    rng = np.random.default_rng(seed)
    w, h = size
    im = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, w, h // 3), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    for i in range(12):
        y = h // 3 + 20 + i * 24
        draw.rectangle((40, y, 40 + int(rng.integers(80, w - 80)), y + 10), fill=(20, 20, 20))
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h // 4, 0)
    im.paste(Image.fromarray(ramp.astype(np.uint8), "L").convert("RGB"), (0, h - h // 4))
    return im


def reencode(im: Image.Image, fmt: str, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, fmt, quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


ATTACKS = {
    "none": lambda im: im,
    "jpeg75": lambda im: reencode(im, "JPEG", 75),
    "webp80": lambda im: reencode(im, "WEBP", 80),
    "half": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "crop10": lambda im: im.crop((29, 23, im.width - 35, im.height - 28)),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_id_survives(attack: str) -> None:
    mark_id = 0x5EED1234
    marked = watermark.embed(design(), mark_id)
    assert watermark.detect(ATTACKS[attack](marked)).id == mark_id


def test_invisible_and_bounded() -> None:
    original = design(seed=3)
    marked = watermark.embed(original, 77)
    diff = np.asarray(marked, np.int16) - np.asarray(original, np.int16)
    assert np.abs(diff).max() <= 2 * watermark.AMPLITUDE  # the room shift plus the pattern
    mse = float(np.mean(diff.astype(np.float64) ** 2))
    assert 10 * np.log10(255**2 / mse) > 38  # PSNR in dB
    # R, G and B move together: the mark is in luma, no colour cast.
    assert (diff[..., 0] == diff[..., 1]).all()
    assert (diff[..., 1] == diff[..., 2]).all()


def test_white_and_black_carry_it_unclipped() -> None:
    for colour in ((255, 255, 255), (0, 0, 0)):
        plain = Image.new("RGB", (512, 512), colour)
        marked = watermark.embed(plain, 4242)
        values = np.asarray(marked)
        assert values.std() > 0.5  # the pattern is there, on both sides of the mean
        assert watermark.detect(reencode(marked, "JPEG", 75)).id == 4242


def test_alpha_is_kept() -> None:
    rgba = design().convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    marked = watermark.embed(rgba, 9)
    assert marked.mode == "RGBA"
    assert np.array_equal(np.asarray(marked.getchannel("A")), np.asarray(rgba.getchannel("A")))
    assert watermark.detect(marked).id == 9


def test_unmarked_images_have_no_id() -> None:
    for seed in range(4):
        assert watermark.detect(design(seed=seed)).id is None
    noise = np.random.default_rng(1).integers(0, 255, (400, 400, 3), dtype=np.uint8)
    assert watermark.detect(Image.fromarray(noise)).id is None


def test_ids_are_distinct_and_checked() -> None:
    base = design()
    assert watermark.detect(watermark.embed(base, 1)).id == 1
    assert watermark.detect(watermark.embed(base, 2**32 - 1)).id == 2**32 - 1
    for bad in (0, -1, 2**32):
        with pytest.raises(ValueError, match="watermark id"):
            watermark.embed(base, bad)


def test_small_images_are_left_alone() -> None:
    tiny = Image.new("RGB", (64, 64), (10, 20, 30))
    assert watermark.embed(tiny, 5) is tiny
    assert watermark.detect(tiny).id is None
