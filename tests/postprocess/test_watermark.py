"""The invisible watermark: carries its id through re-encoding, resizing and cropping, stays
invisible, never clips, keeps alpha, and is not found where it was never put."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pixelforge.domain import GenerationRequest
from pixelforge.domain.sizes import Size
from pixelforge.engines.base import CancelToken, no_progress
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
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


def _overpower(marked: Image.Image, bits: tuple[int, ...]) -> Image.Image:
    """``marked`` with the chips of each payload bit in ``bits`` pushed just past zero, the way
    a busy host image sometimes does: the tile's sync stays intact, those bits read wrong."""
    _, bit_of, signs = watermark._layout()
    symbols = np.where(watermark._bits(0x5EED1234) == 1, 1, -1)
    cells = np.zeros((watermark.CELLS, watermark.CELLS), np.int16)
    push = np.array([1, 1, 1, 2, 2], np.int16)  # reads wrong at about 1/4 of its strength
    for bit in bits:
        chips = bit_of == bit
        cells[chips] = -push * symbols[bit] * signs[chips].astype(np.int16)
    reps = (-(-marked.height // watermark.TILE), -(-marked.width // watermark.TILE))
    grid = np.kron(np.tile(cells, reps), np.ones((watermark.CELL, watermark.CELL), np.int16))
    pixels = np.asarray(marked, np.int16) + grid[: marked.height, : marked.width, None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("bits", [(17,), (17, 30)])
def test_bits_the_host_overpowers_are_repaired(
    bits: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    marked = watermark.embed(design(seed=5), 0x5EED1234)
    damaged = reencode(_overpower(marked, bits), "JPEG", 80)
    found = watermark.detect(damaged)
    assert (found.id, found.corrected) == (0x5EED1234, len(bits))
    assert watermark.detect(marked).corrected == 0  # an intact mark reads as it is
    # Without the repair the same image reads nothing: the repair is what recovers it.
    monkeypatch.setattr(watermark, "SYNC_Z", float("inf"))
    assert watermark.detect(damaged).id is None


def test_the_repair_needs_a_sync_pattern() -> None:
    """Unmarked images never reach the repair: their sync peak stays at chance level."""
    for seed in range(3):
        plain = reencode(design(seed=seed), "JPEG", 80)
        folded = watermark._fold(watermark._highpass(watermark._luma(plain)))
        corr = np.fft.irfft2(np.fft.rfft2(folded) * watermark._sync_spectrum(), s=folded.shape)
        assert (corr.max() - corr.mean()) / corr.std() < watermark.SYNC_Z
        assert watermark.detect(plain).id is None


def test_a_chance_read_at_another_period_does_not_preempt_the_mark() -> None:
    """Found by a sweep of 480 marked designs: this design's autocorrelation suggests a 96 px
    period too, and at that period one of the 9 alignments passed the CRC by chance (a wrong
    id, read before the 128 px tile that carries the mark). Reading the strongest sync first
    returns the mark."""
    engine = ComposeEngine(FontLibrary(), IconSet())
    request = GenerationRequest(prompt="Poster", size=Size(512, 512), seed=8)
    image = engine.run(request, no_progress, CancelToken()).images[0].image.convert("RGB")
    found = watermark.detect(reencode(watermark.embed(image, 3753401358), "JPEG", 80))
    assert found.id == 3753401358
    assert found.period == watermark.TILE
    assert found.sync > watermark.SYNC_Z
