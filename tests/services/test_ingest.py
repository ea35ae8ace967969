"""The image ingest against the malicious-file corpus of security.md rows 8-14.

Documented outcomes (also in the ``services.images`` module docstring):

* pixel bomb / over the pixel cap / a side over 16384 -> 413 ``image_too_large``, decided from
  the header before the pixel data is decoded; memory stays bounded.
* PNG text/ICC chunk bombs (zTXt, iTXt, iCCP, too much text in all) -> 413 ``image_too_large``
  (they are decompression bombs, so they get the pixel bomb's answer); Pillow stops inflating
  at 1 MiB, so memory stays bounded.
* anything not PNG/JPEG/WebP by content (EPS, PS, PDF, TIFF, JP2, PSD, FITS, SVG, GIF, BMP,
  ICO, PPM, empty bytes), whatever the name -> 415 ``unsupported_image_format``; no other Pillow
  plugin ever sees the bytes.
* animated WebP / APNG -> accepted as their first frame, without iterating frames.
* truncated in the pixel data -> 400 ``invalid_image``; cut inside the header -> 415 or 400
  (the bytes may no longer even identify as PNG/JPEG/WebP); never a 500.
* masks: PNG only, so a JPEG or WebP mask -> 415 ``unsupported_image_format``; wrong size ->
  400 ``mask_dimension_mismatch``; no alpha or no fully transparent pixel -> 400
  ``invalid_mask``.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

import corpus
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from pixelforge.domain import ImageInput
from pixelforge.errors import (
    ImageTooLargeError,
    InvalidRequestError,
    PixelforgeError,
    UnsupportedImageError,
)
from pixelforge.services import images
from pixelforge.services.images import load_image, load_mask

MB = 1024 * 1024

# (builder, expected HTTP status, expected code). The name given is always "upload.png": the
# bytes decide, never the name.
REFUSED: list[tuple[Callable[[], bytes], int, str]] = [
    (corpus.pixel_bomb_png, 413, "image_too_large"),
    (corpus.over_cap_png, 413, "image_too_large"),
    (corpus.long_side_png, 413, "image_too_large"),
    (corpus.ztxt_bomb_png, 413, "image_too_large"),
    (corpus.itxt_bomb_png, 413, "image_too_large"),
    (corpus.iccp_bomb_png, 413, "image_too_large"),
    (corpus.text_memory_bomb_png, 413, "image_too_large"),
    (corpus.eps, 415, "unsupported_image_format"),
    (corpus.postscript, 415, "unsupported_image_format"),
    (corpus.pdf, 415, "unsupported_image_format"),
    (corpus.tiff, 415, "unsupported_image_format"),
    (corpus.jpeg2000, 415, "unsupported_image_format"),
    (corpus.psd, 415, "unsupported_image_format"),
    (corpus.fits, 415, "unsupported_image_format"),
    (corpus.svg, 415, "unsupported_image_format"),
    (corpus.gif, 415, "unsupported_image_format"),
    (corpus.animated_gif, 415, "unsupported_image_format"),
    (corpus.bmp, 415, "unsupported_image_format"),
    (corpus.ico, 415, "unsupported_image_format"),
    (corpus.ppm, 415, "unsupported_image_format"),
    (lambda: b"", 415, "unsupported_image_format"),
]

# What the corpus files really are, to prove the table tests real parsers' inputs: the Pillow
# format an unrestricted open finds, or (for formats Pillow cannot read) the magic prefix.
GENUINE: list[tuple[Callable[[], bytes], str]] = [
    (corpus.eps, "EPS"),
    (corpus.postscript, "EPS"),
    (corpus.pdf, "%PDF-"),
    (corpus.tiff, "TIFF"),
    (corpus.jpeg2000, "JPEG2000"),
    (corpus.psd, "PSD"),
    (corpus.fits, "FITS"),
    (corpus.svg, "<svg"),
    (corpus.gif, "GIF"),
    (corpus.bmp, "BMP"),
    (corpus.ico, "ICO"),
    (corpus.ppm, "PPM"),
    (corpus.over_cap_png, "PNG"),
    (corpus.long_side_png, "PNG"),
]


def _id(builder: Callable[[], bytes]) -> str:
    return getattr(builder, "__name__", "builder").replace("<lambda>", "empty")


def _refusal(data: bytes, **kwargs: object) -> PixelforgeError:
    with pytest.raises(PixelforgeError) as info:
        load_image(data, name="upload.png", **kwargs)  # type: ignore[arg-type]
    return info.value


def _rgba(im: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    pixel = im.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel


def _decode(out: ImageInput) -> Image.Image:
    im = Image.open(io.BytesIO(out.data), formats=("PNG",))
    im.load()
    return im


# ---------------------------------------------------------------------------- the table


@pytest.mark.parametrize(("builder", "status", "code"), REFUSED, ids=[_id(r[0]) for r in REFUSED])
def test_malicious_file_is_refused(builder: Callable[[], bytes], status: int, code: str) -> None:
    exc = _refusal(builder())
    assert (exc.status, exc.code, exc.param) == (status, code, "image")
    assert exc.message.startswith("image: 'upload.png' ")


@pytest.mark.parametrize(("builder", "kind"), GENUINE, ids=[_id(g[0]) for g in GENUINE])
def test_corpus_files_are_what_they_claim(builder: Callable[[], bytes], kind: str) -> None:
    data = builder()
    if kind[0] in "%<":
        assert data.startswith(kind.encode())
    else:
        assert Image.open(io.BytesIO(data)).format == kind  # trusted bytes, unrestricted open


def test_refused_formats_never_reach_their_pillow_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    Image.init()
    reached: list[str] = []
    for fmt, (factory, accept) in list(Image.OPEN.items()):
        if fmt in images.ALLOWED_FORMATS:
            continue

        def spy(fp: object, filename: object, _fmt: str = fmt, _f: object = factory) -> object:
            reached.append(_fmt)
            return _f(fp, filename)  # type: ignore[operator]

        monkeypatch.setitem(Image.OPEN, fmt, (spy, accept))
    for builder, status, _code in REFUSED:
        if status == 415:
            _refusal(builder())
    assert reached == []
    Image.open(io.BytesIO(corpus.tiff()))  # the spies are wired: an unrestricted open trips them
    assert "TIFF" in reached


# ---------------------------------------------------------------------------- bombs


def test_pixel_bomb_is_refused_fast_in_bounded_python_memory() -> None:
    data = corpus.pixel_bomb_png()
    assert len(data) < 200_000  # 400 megapixels in under 200 KB
    tracemalloc.start()
    start = time.perf_counter()
    try:
        exc = _refusal(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert exc.code == "image_too_large"
    assert peak < 50 * MB
    assert time.perf_counter() - start < 1.0


def test_pixel_check_does_not_depend_on_pillow_global(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # someone switched Pillow's check off
    for data in (corpus.pixel_bomb_png(), corpus.over_cap_png(), corpus.long_side_png()):
        exc = _refusal(data)
        assert (exc.status, exc.code) == (413, "image_too_large")
        assert "at most 40000000 pixels and 16384 per side" in exc.message


def test_per_call_pixel_cap_and_side_limit() -> None:
    assert _refusal(corpus.plain_png((10, 10)), max_pixels=99).code == "image_too_large"
    assert load_image(corpus.plain_png((10, 10)), max_pixels=100).width == 10
    ok = load_image(corpus.raw_png_1bit(images.MAX_SIDE, 1))
    assert (ok.width, ok.height) == (16_384, 1)


def test_no_pillow_globals_are_changed() -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    load_image(corpus.plain_png())
    _refusal(corpus.pixel_bomb_png())
    _refusal(corpus.noisy("PNG")[:3000])
    assert before == (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


_CHILD = """
import sys
from PIL import Image
from pixelforge.errors import PixelforgeError
from pixelforge.services.images import load_image


def peak_kib():  # VmHWM: this process's peak RSS; unlike ru_maxrss it does not inherit the parent's
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


Image.init()
data = sys.stdin.buffer.read()
before = peak_kib()
try:
    outcome = "accepted" if load_image(data) else ""
except PixelforgeError as exc:
    outcome = exc.code
print(outcome, (peak_kib() - before) // 1024)
"""


def _rss_growth_mb(data: bytes) -> tuple[str, int]:
    """Run ``load_image`` in a fresh interpreter; return its outcome and peak-RSS growth in MB
    (this sees the C-level pixel buffers that tracemalloc cannot)."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], input=data, capture_output=True, check=True, timeout=60
    )
    outcome, grown = done.stdout.decode().split()
    return outcome, int(grown)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_bombs_keep_decoder_rss_bounded() -> None:
    assert _rss_growth_mb(corpus.pixel_bomb_png()) == ("image_too_large", 0)
    code, grown = _rss_growth_mb(corpus.ztxt_bomb_png())
    assert code == "image_too_large"
    assert grown < 16
    # Control: a real decode at the cap (40 Mpx) does show up in the measurement.
    code, grown = _rss_growth_mb(corpus.raw_png_1bit(8_000, 5_000))
    assert code == "accepted"
    assert grown > 64


@pytest.mark.parametrize(
    "builder", [corpus.ztxt_bomb_png, corpus.itxt_bomb_png, corpus.iccp_bomb_png]
)
def test_text_chunk_bomb_is_refused_in_bounded_memory(builder: Callable[[], bytes]) -> None:
    data = builder()
    assert len(data) < 200_000  # inflates to 128 MiB
    tracemalloc.start()
    try:
        exc = _refusal(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (exc.status, exc.code) == (413, "image_too_large")
    assert "decompresses past the limit" in exc.message
    assert peak < 50 * MB


# ---------------------------------------------------------------------------- animations


def test_1000_frame_animated_webp_is_its_first_frame_quickly() -> None:
    data = corpus.animated_webp()
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 1000
    start = time.perf_counter()
    out = load_image(data)
    assert time.perf_counter() - start < 2.0
    im = _decode(out)
    assert (im.size, getattr(im, "n_frames", 1)) == ((32, 32), 1)
    assert im.getpixel((5, 5)) == corpus.FIRST_FRAME_RGB


def test_apng_is_its_first_frame() -> None:
    data = corpus.apng()
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 50
    im = _decode(load_image(data))
    assert getattr(im, "n_frames", 1) == 1
    assert "acTL" not in im.info
    assert not getattr(im, "is_animated", False)
    assert im.getpixel((5, 5)) == corpus.FIRST_FRAME_RGB


# ---------------------------------------------------------------------------- re-encoding


def test_png_zip_polyglot_is_stored_as_our_reencode() -> None:
    data = corpus.png_zip_polyglot()
    assert b"PK\x03\x04" in data
    out = load_image(data, name="upload.png")
    assert b"PK" not in out.data.split(b"IEND")[-1]
    assert out.data.endswith(b"IEND\xae\x42\x60\x82")  # nothing after the last chunk
    assert b"index.html" not in out.data
    assert hashlib.sha256(out.data).digest() != hashlib.sha256(data).digest()
    original = Image.open(io.BytesIO(data)).convert("RGB")
    assert _decode(out).tobytes() == original.tobytes()


def test_jpeg_gps_exif_is_stripped_and_orientation_applied() -> None:
    data = corpus.jpeg_with_gps_exif()
    src = Image.open(io.BytesIO(data))
    assert src.size == corpus.EXIF_STORED_SIZE
    assert src.getexif()[0x0112] == 6
    assert src.getexif().get_ifd(0x8825)
    assert {"exif", "icc_profile", "xmp"} <= set(src.info)
    out = load_image(data)
    assert (out.width, out.height) == (20, 40)
    im = _decode(out)
    assert im.size == (20, 40)
    assert dict(im.getexif()) == {}
    assert not {"exif", "icc_profile", "xmp"} & set(im.info)
    assert b"home address" not in out.data
    assert b"PhoneCo" not in out.data
    red, _, blue = _rgba(im, (10, 4))  # rotated clockwise: the red left edge is now on top
    assert red > 200
    assert blue < 60
    red, _, blue = _rgba(im, (10, 35))
    assert red < 60
    assert blue > 200


def test_png_metadata_is_stripped() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "sk-secret-key prompt")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>secret</x:xmpmeta>", zip=True)
    src = io.BytesIO()
    Image.new("RGBA", (8, 8), (1, 2, 3, 4)).save(
        src, "PNG", pnginfo=info, icc_profile=b"\x00" * 128, exif=Image.Exif()
    )
    out = load_image(src.getvalue())
    im = _decode(out)
    assert not {"icc_profile", "parameters", "xmp", "XML:com.adobe.xmp", "exif"} & set(im.info)
    assert b"sk-secret" not in out.data
    assert b"iCCP" not in out.data
    assert (im.mode, im.getpixel((0, 0))) == ("RGBA", (1, 2, 3, 4))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_allowed_formats_are_accepted_as_png(fmt: str) -> None:
    out = load_image(corpus.noisy(fmt), name="photo.bin")
    assert (out.width, out.height, out.format, out.name) == (64, 64, "png", "photo.bin")
    assert out.data.startswith(corpus.PNG_SIGNATURE)


# ---------------------------------------------------------------------------- broken input


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_pixel_data_is_invalid_image(fmt: str) -> None:
    data = corpus.noisy(fmt)
    exc = _refusal(data[: len(data) // 2])
    assert (exc.status, exc.code) == (400, "invalid_image")
    assert "could not be decoded" in exc.message


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("cut", [1, 8, 16, 20, 33, 40, 60, 100])
def test_truncated_header_is_415_or_400(fmt: str, cut: int) -> None:
    exc = _refusal(corpus.noisy(fmt)[:cut])
    assert (exc.status, exc.code) in {(415, "unsupported_image_format"), (400, "invalid_image")}


def test_file_too_large_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_open(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("decoded an over-size file")

    monkeypatch.setattr(Image, "open", no_open)
    exc = _refusal(b"\x89PNG" + b"\x00" * 1000, max_bytes=1000)
    assert (exc.status, exc.code) == (413, "file_too_large")
    assert "1004 bytes; at most 1000" in exc.message


# ---------------------------------------------------------------------------- masks

SIZE = (32, 24)


@pytest.fixture
def image() -> ImageInput:
    return load_image(corpus.plain_png(SIZE))


@pytest.mark.parametrize("builder", [corpus.mask_png, corpus.palette_mask_png])
def test_valid_mask_is_reencoded_rgba(image: ImageInput, builder: Callable[..., bytes]) -> None:
    out = load_mask(builder(SIZE), image)
    im = _decode(out)
    assert (out.width, out.height, im.mode, im.size) == (32, 24, "RGBA", SIZE)
    assert _rgba(im, (0, 0))[3] == 0
    assert _rgba(im, (31, 23))[3] == 255


def test_mask_of_another_size_names_both_sizes(image: ImageInput) -> None:
    with pytest.raises(InvalidRequestError) as info:
        load_mask(corpus.mask_png((24, 32)), image)
    exc = info.value
    assert (exc.status, exc.code, exc.param) == (400, "mask_dimension_mismatch", "mask")
    assert "24x32" in exc.message
    assert "32x24" in exc.message


def test_mask_larger_than_image_is_refused_before_decoding(image: ImageInput) -> None:
    with pytest.raises(PixelforgeError) as info:
        load_mask(corpus.pixel_bomb_png(), image)
    assert info.value.code == "image_too_large"


@pytest.mark.parametrize(
    ("builder", "hint"),
    [
        (lambda: corpus.mask_png(SIZE, mode="RGB", hole=False), "no alpha channel"),
        (lambda: corpus.mask_png(SIZE, mode="L", hole=False), "no alpha channel"),
        (lambda: corpus.opaque_mask_png(SIZE), "no fully transparent pixel"),
        (lambda: corpus.mask_png(SIZE, hole=False), "no fully transparent pixel"),
    ],
    ids=["rgb", "grey", "alpha-1", "opaque"],
)
def test_mask_without_transparent_pixels_is_invalid(
    image: ImageInput, builder: Callable[[], bytes], hint: str
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        load_mask(builder(), image)
    assert (info.value.status, info.value.code) == (400, "invalid_mask")
    assert hint in info.value.message
    assert "alpha 0" in info.value.message


@pytest.mark.parametrize("builder", [corpus.jpeg_mask, corpus.webp_mask])
def test_non_png_mask_is_415(image: ImageInput, builder: Callable[..., bytes]) -> None:
    with pytest.raises(UnsupportedImageError) as info:
        load_mask(builder(SIZE), image)
    assert (info.value.status, info.value.code) == (415, "unsupported_image_format")
    assert "allowed: png" in info.value.message


# ---------------------------------------------------------------------------- fuzzing

DOCUMENTED = {
    (UnsupportedImageError, "unsupported_image_format"),
    (ImageTooLargeError, "image_too_large"),
    (ImageTooLargeError, "file_too_large"),
    (InvalidRequestError, "invalid_image"),
}
SEEDS = [
    corpus.noisy("PNG", (8, 8)),
    corpus.noisy("JPEG", (8, 8)),
    corpus.noisy("WEBP", (8, 8)),
    corpus.apng(3),
    corpus.animated_webp(3),
    corpus.plain_png((8, 8), "RGBA"),
]
PREFIXES = [b"", corpus.PNG_SIGNATURE, b"\xff\xd8\xff", b"RIFF\x00\x01\x00\x00WEBPVP8 "]
FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # fmt: skip


def _only_documented(data: bytes) -> None:
    outcome: tuple[type, str] | None = None
    try:
        out = load_image(data, max_bytes=8192, max_pixels=1_000_000)
    except PixelforgeError as exc:
        outcome = (type(exc), exc.code)
    else:
        assert _decode(out).mode in ("RGB", "RGBA")
    assert outcome is None or outcome in DOCUMENTED, outcome


@FUZZ
@given(st.sampled_from(PREFIXES), st.binary(max_size=4096))
def test_random_bytes_raise_only_documented_errors(prefix: bytes, tail: bytes) -> None:
    _only_documented(prefix + tail)


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
    st.integers(0, 10**6),
)
def test_mutated_images_raise_only_documented_errors(
    seed: bytes, flips: list[tuple[int, int]], keep: int
) -> None:
    data = bytearray(seed)
    for index, value in flips:
        data[index % len(data)] = value
    _only_documented(bytes(data[: max(1, keep % (len(data) + 1))]))


@pytest.mark.skipif(os.environ.get("PIXELFORGE_SLOW") is None, reason="set PIXELFORGE_SLOW=1")
@settings(max_examples=5000, deadline=None)
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255))))
def test_mutated_images_long_run(seed: bytes, flips: list[tuple[int, int]]) -> None:
    data = bytearray(seed)
    for index, value in flips:
        data[index % len(data)] = value
    _only_documented(bytes(data))


def test_pillow_warnings_about_the_input_are_not_errors() -> None:
    # pytest runs with filterwarnings=error: the ingest must not depend on the warning filters.
    with pytest.warns(UserWarning, match="Invalid APNG"):
        Image.open(io.BytesIO(corpus.invalid_apng()))
    im = _decode(load_image(corpus.invalid_apng()))
    assert _rgba(im, (5, 5)) == corpus.FIRST_FRAME_RGB
