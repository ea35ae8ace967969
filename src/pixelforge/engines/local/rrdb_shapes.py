"""The RRDBNet (ESRGAN / Real-ESRGAN) architecture as read from a checkpoint's tensor names
and shapes, without torch: the catalog uses it to list upscalers, ``rrdbnet`` to build them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pixelforge.engines.local.safety import UnsafeModelError


@dataclass(frozen=True, slots=True)
class RRDBConfig:
    scale: int
    blocks: int
    features: int = 64
    growth: int = 32
    in_channels: int = 3
    out_channels: int = 3


# The original ESRGAN layout, renamed to the one above.
_OLD_NAMES = (
    (re.compile(r"^model\.0\."), "conv_first."),
    (re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\."),
     lambda m: f"body.{m[1]}.rdb{m[2]}.conv{m[3]}."),
    (re.compile(r"^model\.1\.sub\.\d+\."), "conv_body."),  # the last entry of the sub-sequence
    (re.compile(r"^model\.3\."), "conv_up1."),
    (re.compile(r"^model\.6\."), "conv_up2."),
    (re.compile(r"^model\.8\."), "conv_hr."),
    (re.compile(r"^model\.10\."), "conv_last."),
)  # fmt: skip


def normalize_keys(names: list[str]) -> dict[str, str]:
    """Checkpoint name -> our name. The original ESRGAN layout is renamed (its x4 layout only:
    other layouts are refused, naming a tensor we cannot place); BasicSR's ``params_ema.`` /
    ``params.`` prefixes are dropped, the EMA weights winning when a file holds both."""
    if not any(n.startswith("model.0.") for n in names):
        prefix = "params_ema." if any(n.startswith("params_ema.") for n in names) else "params."
        return {n: n.removeprefix(prefix) for n in names
                if n.startswith(prefix) or not n.startswith(("params.", "params_ema."))}  # fmt: skip
    out: dict[str, str] = {}
    for name in names:
        for pattern, repl in _OLD_NAMES:
            new, hits = pattern.subn(repl, name)
            if hits:
                out[name] = new
                break
        else:
            raise UnsafeModelError(
                f"an ESRGAN model in the original layout with tensor {name!r}: only the x4 "
                "layout (model.0 to model.10) is run; convert it to the Real-ESRGAN naming"
            )
    return out


def _dims(shapes: dict[str, list[int]], key: str) -> list[int]:
    shape = shapes.get(key)
    if shape is None:
        raise UnsafeModelError(f"not an RRDBNet (ESRGAN) model: no {key}")
    if len(shape) != 4:
        raise UnsafeModelError(f"not an RRDBNet (ESRGAN) model: {key} has shape {shape}")
    return shape


def config_from_shapes(shapes: dict[str, list[int]]) -> RRDBConfig:
    """The architecture a checkpoint's tensor shapes describe (names already normalized).
    Only RGB models with the x4 upsampler (scales 1, 2, 4) are accepted."""
    first, last = _dims(shapes, "conv_first.weight"), _dims(shapes, "conv_last.weight")
    growth = _dims(shapes, "body.0.rdb1.conv1.weight")[0]
    indices = {k.split(".")[1] for k in shapes if k.startswith("body.")}
    if not all(i.isdigit() for i in indices):
        raise UnsafeModelError(f"not an RRDBNet (ESRGAN) model: body blocks {sorted(indices)[:3]}")
    blocks = 1 + max(int(i) for i in indices)
    if "conv_up3.weight" in shapes:
        raise UnsafeModelError("an RRDBNet with a third upsampling (x8) is not one Pixelforge runs")
    in_total, out_channels = first[1], last[0]
    if out_channels != 3:
        raise UnsafeModelError(
            f"an RRDBNet with {out_channels} output channels: only RGB (3) models are run"
        )
    for scale, fold in ((4, 1), (2, 4), (1, 16)):
        if in_total == 3 * fold:
            return RRDBConfig(scale, blocks, first[0], growth, 3, out_channels)
    raise UnsafeModelError(f"an RRDBNet with {in_total} input channels is not one Pixelforge runs")


def receptive_radius(config: RRDBConfig) -> int:
    """How far (in input pixels) an output pixel sees: tiles that overlap by at least this
    much give exactly the untiled result. Each 3x3 conv at the low resolution adds one
    feature pixel (conv_first, 15 per block, conv_body); the four convs after the x2 and x4
    upsamplings add under two more; a feature pixel spans ``4 / scale`` input pixels."""
    return (2 + 15 * config.blocks + 2) * (4 // config.scale)


def is_rrdbnet(names: list[str]) -> bool:
    return any(".rdb1.conv1." in n or ".RDB1.conv1." in n for n in names[:200])
