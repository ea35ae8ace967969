"""Super-resolution with the RRDBNet family (ESRGAN / Real-ESRGAN x2 and x4), on torch alone.

The architecture is built here from its published description (no torchvision, no spandrel):
``conv_first`` -> N residual-in-residual dense blocks (``body``) -> ``conv_body``, a long skip,
two nearest-neighbour x2 upsamplings each followed by a conv (``conv_up1``, ``conv_up2``),
``conv_hr`` and ``conv_last``. The x2 (and x1) variants fold the input with a pixel-unshuffle
first, so every variant ends with the same x4 upsampler. Hyper-parameters (scale, block count,
feature and growth channels) are read from the weights' shapes, so any checkpoint in the
Real-ESRGAN naming loads; the original ESRGAN naming (``model.0``, ``RDB1``, ...) is renamed.

Weights come only from safetensors files whose content was checked (``safety``). Inference is
tiled with an overlap, so memory is bounded by the tile, not by the image.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional name
from PIL import Image
from torch import nn

from pixelforge.engines.local.rrdb_shapes import RRDBConfig, config_from_shapes, normalize_keys
from pixelforge.engines.local.safety import UnsafeModelError, no_pickle_loading, read_safetensors


class _DenseBlock(nn.Module):
    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.act(self.conv1(x))
        x2 = self.act(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.act(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.act(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        out: torch.Tensor = x5 * 0.2 + x
        return out


class _RRDB(nn.Module):
    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        self.rdb1, self.rdb2, self.rdb3 = (
            _DenseBlock(nf, gc),
            _DenseBlock(nf, gc),
            _DenseBlock(nf, gc),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x
        return out


class RRDBNet(nn.Module):
    def __init__(self, config: RRDBConfig) -> None:
        super().__init__()
        if config.scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet scale must be 1, 2 or 4, got {config.scale}")
        self.config = config
        nf, gc = config.features, config.growth
        fold = {4: 1, 2: 4, 1: 16}[config.scale]
        self.conv_first = nn.Conv2d(config.in_channels * fold, nf, 3, 1, 1)
        self.body = nn.Sequential(*(_RRDB(nf, gc) for _ in range(config.blocks)))
        self.conv_body = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, config.out_channels, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.scale != 4:
            x = F.pixel_unshuffle(x, 4 // self.config.scale)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.act(self.conv_up1(F.interpolate(feat, scale_factor=2.0, mode="nearest")))
        feat = self.act(self.conv_up2(F.interpolate(feat, scale_factor=2.0, mode="nearest")))
        return self.conv_last(self.act(self.conv_hr(feat)))  # type: ignore[no-any-return]


def load(path: Path, device: torch.device | None = None) -> RRDBNet:
    """The model in ``path`` (checked to be safetensors by content; never unpickled).

    Raises :class:`UnsafeModelError` for anything that is not an RRDBNet Pixelforge runs, or
    whose tensors do not fit the architecture their shapes describe.
    """
    from safetensors.torch import load_file

    st = read_safetensors(path)
    names = normalize_keys(list(st.tensors))
    config = config_from_shapes({names[k]: list(t.shape) for k, t in st.tensors.items()
                                 if k in names})  # fmt: skip
    model = RRDBNet(config)
    with no_pickle_loading():
        state = load_file(str(path))
    renamed = {names[k]: v for k, v in state.items() if k in names}
    try:
        missing, unexpected = model.load_state_dict(renamed, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise UnsafeModelError(f"{path.name}: weights do not fit an RRDBNet "
                               f"x{config.scale}: {str(exc).splitlines()[-1].strip()}") from None  # fmt: skip
    if missing or unexpected:
        raise UnsafeModelError(
            f"{path.name}: weights do not match an RRDBNet x{config.scale} "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model.to(device or torch.device("cpu")).eval()


def upscale(
    model: RRDBNet, image: Image.Image, *, tile: int = 192, overlap: int = 16,
    progress: Callable[[float], None] | None = None,
) -> Image.Image:  # fmt: skip
    """``image`` upscaled by the model's factor, tile by tile (memory bounded by ``tile``).

    Tiles of ``tile`` input pixels are run with ``overlap`` more on each side; only each
    tile's centre is kept, so seams get the same context as the interior: with an overlap of
    at least :func:`~pixelforge.engines.local.rrdb_shapes.receptive_radius` the result is the
    untiled one. For the x2 and x1 models (which fold 2x2 or 4x4 pixel blocks into channels)
    tiles start on block boundaries, so every tile folds the same blocks as a whole-image run.
    RGB out, or RGBA when the image has transparency (alpha resized with Lanczos).
    ``progress`` gets the fraction done after each tile; it may raise to stop between tiles.
    """
    scale = model.config.scale
    unit = 4 // scale  # the x2/x1 models fold unit x unit blocks
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    alpha = image.convert("RGBA").getchannel("A") if transparent else None
    rgb = np.asarray(image.convert("RGB"))  # uint8: each tile is made float on its own
    h, w, _ = rgb.shape
    out = np.empty((h * scale, w * scale, 3), dtype=np.uint8)
    weight = next(model.parameters())
    step = max(8, tile) // unit * unit
    margin = -(-max(0, overlap) // unit) * unit
    spots = [(y, x) for y in range(0, h, step) for x in range(0, w, step)]
    with torch.inference_mode():
        for done, (y, x) in enumerate(spots, 1):
            y0, x0 = max(0, y - margin), max(0, x - margin)
            y1, x1 = min(h, y + step + margin), min(w, x + step + margin)
            patch = torch.from_numpy(np.ascontiguousarray(rgb[y0:y1, x0:x1].transpose(2, 0, 1)))
            patch = patch.unsqueeze(0).to(weight.device, weight.dtype).div_(255.0)
            ph, pw = (-patch.shape[2]) % unit, (-patch.shape[3]) % unit
            if ph or pw:  # only at the image's bottom and right edges
                patch = F.pad(patch, (0, pw, 0, ph), mode="replicate")
            result = model(patch)[0].clamp_(0, 1).mul_(255).round_().byte().cpu().numpy()
            ty, tx = (y - y0) * scale, (x - x0) * scale
            th, tw = (min(h, y + step) - y) * scale, (min(w, x + step) - x) * scale
            out[y * scale : y * scale + th, x * scale : x * scale + tw] = result[
                :, ty : ty + th, tx : tx + tw
            ].transpose(1, 2, 0)
            if progress is not None:
                progress(done / len(spots))
    upscaled = Image.fromarray(out, "RGB")
    if alpha is not None:
        upscaled.putalpha(alpha.resize(upscaled.size, Image.Resampling.LANCZOS))
    return upscaled
