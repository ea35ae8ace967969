"""Session-wide tiny checkpoints for the local (diffusers) engine's tests.

Each fixture builds its artifact once per test session under ``tmp_path_factory`` and returns
its path (see ``tiny_pipelines.py`` for what they contain):

- ``tiny_sd15_dir``: a StableDiffusionPipeline folder (diffusers layout, safetensors)
- ``tiny_sdxl_dir``: a StableDiffusionXLPipeline folder
- ``tiny_taesd_dir``: an AutoencoderTiny folder that can replace the SD 1.5 pipeline's ``vae``
- ``tiny_lora_file``: one ``.safetensors`` LoRA for ``tiny_sd15_dir``'s UNet (diffusers format)
- ``tiny_sd15_single_file`` / ``tiny_sdxl_single_file``: the two pipelines as single-file
  original-layout (LDM) checkpoints; load with ``from_single_file(path, config=<dir>)``
- ``tiny_flux_dir``: a FluxPipeline folder (FLUX.1-dev layout: guidance embedding, CLIP + T5)

The fixtures skip when torch/diffusers are not installed (they are not core dependencies).
Treat the artifacts as read-only: they are shared by every test in the session.

``one_torch_thread`` (module scope, opt in with
``pytestmark = pytest.mark.usefixtures("one_torch_thread")``) runs a module's tests with one
torch intra-op thread: these models are so small that more threads only add synchronisation,
and with another process busy on the same 2 cores OpenMP's spin-waiting made each pipeline call
~10x slower and erratic (0.07 s -> 0.7-1.7 s measured); one thread is as fast when idle.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# Belt and braces: everything here loads with local_files_only=True, but make any forgotten
# hub lookup fail fast instead of trying the network. Set before huggingface_hub is imported
# by the fixtures (it reads the variable at import).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _require_stack() -> None:
    for module in ("torch", "diffusers", "transformers", "safetensors"):
        pytest.importorskip(module)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_sd15_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_stack()
    from tiny_pipelines import build_sd15

    return build_sd15(tmp_path_factory.mktemp("tiny-sd15"))


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_stack()
    from tiny_pipelines import build_sdxl

    return build_sdxl(tmp_path_factory.mktemp("tiny-sdxl"))


@pytest.fixture(scope="session")
def tiny_taesd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_stack()
    from tiny_pipelines import build_taesd

    return build_taesd(tmp_path_factory.mktemp("tiny-taesd"))


@pytest.fixture(scope="session")
def tiny_lora_file(tiny_sd15_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("peft")
    from tiny_pipelines import build_lora

    return build_lora(tiny_sd15_dir, tmp_path_factory.mktemp("tiny-lora") / "tiny-lora.safetensors")


@pytest.fixture(scope="session")
def tiny_sd15_single_file(tiny_sd15_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_pipelines import write_single_file

    out = tmp_path_factory.mktemp("tiny-sd15-single") / "tiny-sd15.safetensors"
    return write_single_file(tiny_sd15_dir, out, "sd15")


@pytest.fixture(scope="session")
def tiny_sdxl_single_file(tiny_sdxl_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_pipelines import write_single_file

    out = tmp_path_factory.mktemp("tiny-sdxl-single") / "tiny-sdxl.safetensors"
    return write_single_file(tiny_sdxl_dir, out, "sdxl")


@pytest.fixture(scope="session")
def local_models_dir(
    tmp_path_factory: pytest.TempPathFactory, tiny_sd15_dir: Path, tiny_sdxl_dir: Path,
    tiny_taesd_dir: Path, tiny_lora_file: Path, tiny_sd15_single_file: Path,
    tiny_sdxl_single_file: Path, tiny_flux_dir: Path,
) -> Path:  # fmt: skip
    """A models folder with every layout: folders, single files, a TAESD and a LoRA
    (linked, not copied: the artifacts are shared and read-only)."""
    root = tmp_path_factory.mktemp("models")
    (root / "tiny-sd").symlink_to(tiny_sd15_dir)
    (root / "tiny-sdxl").symlink_to(tiny_sdxl_dir)
    (root / "taesd").symlink_to(tiny_taesd_dir)
    (root / "tiny-flux").symlink_to(tiny_flux_dir)
    (root / "tiny-sd-file.safetensors").symlink_to(tiny_sd15_single_file)
    (root / "tiny-sdxl-file.safetensors").symlink_to(tiny_sdxl_single_file)
    (root / "loras").mkdir()
    (root / "loras" / "tiny-lora.safetensors").symlink_to(tiny_lora_file)
    return root


@pytest.fixture(scope="session")
def local_engine(local_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One engine for the session, so models stay warm across tests (as in the server)."""
    import torch

    from pixelforge.engines.local.engine import DiffusersEngine

    # Tiny models: one thread is as fast and does not stall when the CPUs are shared.
    torch.set_num_threads(1)
    return DiffusersEngine(local_models_dir, cache_dir=tmp_path_factory.mktemp("local-cache"))


@pytest.fixture(scope="session")
def tiny_flux_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_stack()
    from tiny_pipelines import build_flux

    return build_flux(tmp_path_factory.mktemp("tiny-flux"))
