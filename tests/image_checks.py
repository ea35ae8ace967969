"""Comparing outputs now that each carries its own watermark and C2PA manifest."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pixelforge.postprocess import watermark


def assert_same_image_but_watermark(a: bytes, b: bytes) -> None:
    """Two outputs of the same request: the same image, each with its own watermark id.

    The pixels differ only by the two marks (each at most ``AMPLITUDE`` levels away from the
    shared, room-adjusted image), and the ids differ.
    """
    with Image.open(io.BytesIO(a)) as ia, Image.open(io.BytesIO(b)) as ib:
        assert ia.size == ib.size
        pa, pb = np.asarray(ia.convert("RGB"), np.int16), np.asarray(ib.convert("RGB"), np.int16)
        marks = watermark.detect(ia).id, watermark.detect(ib).id
    assert int(np.abs(pa - pb).max()) <= 2 * watermark.AMPLITUDE
    assert None not in marks
    assert marks[0] != marks[1]
