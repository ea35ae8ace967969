"""Model files are data, never code: safetensors recognised by content, nothing else loads.

A pickle (``.ckpt``, ``.pt``, ``.bin``, or one renamed ``.safetensors``) can run code when
``torch.load`` reads it, so this module decides what a file *is* from its bytes: a safetensors
file is an 8-byte little-endian header length, a JSON header of tensors whose byte ranges fit
the file, then the data. Everything else is refused with the reason. The loaders add a second,
independent guard (:func:`no_pickle_loading`) so a mistake here still cannot reach the pickle
machinery.
"""

from __future__ import annotations

import contextlib
import json
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelforge.errors import PixelforgeError

#: The safetensors format's own cap on the header.
MAX_HEADER_BYTES = 100 * 1024 * 1024
#: Bytes per element of each safetensors dtype.
DTYPE_BYTES = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2,
    "I16": 2, "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1, "U8": 1, "BOOL": 1,
}  # fmt: skip
#: Suffixes of the pickle-based formats, named in error messages and flagged in folders.
PICKLE_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle"})


class UnsafeModelError(PixelforgeError):
    """A model file or folder that Pixelforge refuses to load."""

    status = 400
    code = "unsafe_model_file"


@dataclass(frozen=True, slots=True)
class Tensor:
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


@dataclass(frozen=True, slots=True)
class SafetensorsFile:
    path: Path
    tensors: dict[str, Tensor]
    metadata: dict[str, str]

    @property
    def parameters(self) -> int:
        return sum(t.numel for t in self.tensors.values())


def _what_is_it(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (PyTorch's pickle-based checkpoint format)"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle"
    return "not a safetensors file"


def read_safetensors(path: Path) -> SafetensorsFile:
    """Parse and check ``path``'s safetensors header; raise :class:`UnsafeModelError` if not."""
    name = path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise UnsafeModelError(f"{name}: {size} bytes is too short for a model file")
            (length,) = struct.unpack("<Q", head)
            if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
                raise UnsafeModelError(
                    f"{name}: {_what_is_it(head)}; only safetensors weights are loaded"
                )
            raw = fh.read(length)
    except OSError as exc:
        raise UnsafeModelError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    if not raw.lstrip().startswith(b"{"):
        raise UnsafeModelError(f"{name}: {_what_is_it(head)}; only safetensors weights are loaded")
    try:
        header: Any = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise UnsafeModelError(f"{name}: the safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise UnsafeModelError(f"{name}: the safetensors header is not a JSON object")
    data_bytes = size - 8 - length
    tensors: dict[str, Tensor] = {}
    metadata: dict[str, str] = {}
    for key, value in header.items():
        if key == "__metadata__":
            if isinstance(value, dict):
                metadata = {str(k): str(v) for k, v in value.items()}
            continue
        tensors[key] = _tensor(name, key, value, data_bytes)
    if not tensors:
        raise UnsafeModelError(f"{name}: the safetensors file holds no tensors")
    return SafetensorsFile(path, tensors, metadata)


def _tensor(name: str, key: str, value: Any, data_bytes: int) -> Tensor:
    try:
        dtype = str(value["dtype"])
        shape = tuple(int(d) for d in value["shape"])
        start, end = (int(o) for o in value["data_offsets"])
    except (KeyError, TypeError, ValueError):
        raise UnsafeModelError(f"{name}: tensor {key!r} has a malformed header entry") from None
    width = DTYPE_BYTES.get(dtype)
    count = 1
    for dim in shape:
        count *= dim
    if width is None or min(shape, default=0) < 0:
        raise UnsafeModelError(f"{name}: tensor {key!r} has dtype {dtype!r} / shape {shape}")
    if not 0 <= start <= end <= data_bytes or end - start != count * width:
        raise UnsafeModelError(f"{name}: tensor {key!r} points outside the file's data")
    return Tensor(dtype, shape)


def is_safetensors(path: Path) -> bool:
    try:
        read_safetensors(path)
    except UnsafeModelError:
        return False
    return True


_guard = threading.RLock()
#: How many times a loader tried ``torch.load`` under the guard (tests assert it stays 0).
refused_loads = 0


def _refuse(*_: object, **__: object) -> Any:
    global refused_loads
    refused_loads += 1
    raise UnsafeModelError(
        "refused to unpickle model weights: Pixelforge loads safetensors files only"
    )


@contextlib.contextmanager
def no_pickle_loading() -> Iterator[None]:
    """While loading models, ``torch.load`` raises instead of unpickling anything.

    Loads are serialised on one lock, so the patch is never undone under another loader.
    """
    import torch

    with _guard:
        original = torch.load
        torch.load = _refuse
        try:
            yield
        finally:
            torch.load = original
