"""Random-weight RRDBNet (ESRGAN / Real-ESRGAN) files for tests, written as safetensors.

Weights are drawn from a seeded normal with a spread that gives outputs a real dynamic range
(not a flat image), so tiled-vs-untiled and renamed-vs-original comparisons can fail. Needs
torch: import this module only from tests that ``importorskip("torch")``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from pixelforge.engines.local.rrdb_shapes import RRDBConfig
from pixelforge.engines.local.rrdbnet import RRDBNet

TINY = {"blocks": 1, "features": 8, "growth": 4}


def random_model(scale: int, *, blocks: int = 1, features: int = 8, growth: int = 4,
                 seed: int = 0) -> RRDBNet:  # fmt: skip
    """An RRDBNet with seeded random weights (eval mode, on the CPU)."""
    generator = torch.Generator().manual_seed(seed)
    model = RRDBNet(RRDBConfig(scale, blocks, features, growth))
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.12)
        model.conv_last.bias.fill_(0.5)
    return model.eval()


def esrgan_names(state: dict[str, torch.Tensor], blocks: int) -> dict[str, torch.Tensor]:
    """``state`` in the original ESRGAN layout (``model.0``, ``model.1.sub.N.RDBk``, ...)."""
    fixed = {"conv_first.": "model.0.", "conv_body.": f"model.1.sub.{blocks}.",
             "conv_up1.": "model.3.", "conv_up2.": "model.6.", "conv_hr.": "model.8.",
             "conv_last.": "model.10."}  # fmt: skip
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        for ours, theirs in fixed.items():
            if name.startswith(ours):
                out[theirs + name.removeprefix(ours)] = tensor
                break
        else:  # body.{i}.rdb{k}.conv{j}.{weight,bias}
            _, i, rdb, conv, kind = name.split(".")
            out[f"model.1.sub.{i}.RDB{rdb[-1]}.{conv}.0.{kind}"] = tensor
    return out


def save_model(path: Path, scale: int, *, esrgan_layout: bool = False, prefix: str = "",
               seed: int = 0, **sizes: int) -> Path:  # fmt: skip
    """Write a random-weight RRDBNet x``scale`` to ``path`` (Real-ESRGAN names, with an
    optional BasicSR ``prefix`` such as ``params_ema.``, or the original ESRGAN layout)."""
    dims = {**TINY, **sizes}
    model = random_model(scale, seed=seed, **dims)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if esrgan_layout:
        state = esrgan_names(state, dims["blocks"])
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({prefix + k: v for k, v in state.items()}, str(path))
    return path
