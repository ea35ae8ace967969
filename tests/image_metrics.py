"""Measurements on images that tests share (no torch)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def edge_widths(image: Image.Image) -> np.ndarray:
    """For each strong edge crossed along the rows (>= 100 levels between two flat sides), how
    many pixels lie between its 10% and 90% levels: 1-2 for a crisp edge, about the scale for
    an interpolated one."""
    widths = []
    for row in np.asarray(image.convert("L"), dtype=np.float32):
        step = np.abs(np.diff(row))
        for x in range(6, len(row) - 8):
            lo, hi = sorted((row[x - 4], row[x + 5]))
            if hi - lo < 100 or step[x] < step[x - 4 : x + 5].max():
                continue
            if np.ptp(row[x - 6 : x - 3]) > 8 or np.ptp(row[x + 5 : x + 8]) > 8:
                continue  # not a clean edge between two flat sides
            seg = row[x - 4 : x + 6]
            widths.append(int(((seg > lo + 0.1 * (hi - lo)) & (seg < lo + 0.9 * (hi - lo))).sum()))
    return np.array(widths)
