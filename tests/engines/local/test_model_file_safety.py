"""Security rows 1-6: model files are data. Pickles never load, whatever they are named;
the loader does not depend on the scanner; no hub, no remote code, no install endpoint."""

from __future__ import annotations

import ast
import os
import pickle
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from pixelforge.domain import GenerationRequest
from pixelforge.domain.sizes import Size
from pixelforge.engines.local import catalog as catalog_module
from pixelforge.engines.local import safety
from pixelforge.engines.local.catalog import ModelEntry, scan
from pixelforge.engines.local.install import import_model
from pixelforge.engines.local.safety import UnsafeModelError, read_safetensors
from pixelforge.errors import EngineError, InvalidRequestError, PixelforgeError

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from pixelforge.engines.local import runtime  # noqa: E402
from pixelforge.engines.local.engine import DiffusersEngine  # noqa: E402
from pixelforge.engines.local.options import LocalOptions, LoraWeight  # noqa: E402

SUFFIXES = (".ckpt", ".pt", ".bin", ".safetensors", ".SAFETENSORS", ".SafeTensors")
SRC = Path(__file__).resolve().parents[3] / "src" / "pixelforge"


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def write_pickles(folder: Path, marker: Path) -> list[Path]:
    """The payload as a raw pickle and as a torch.save zip, under every suffix."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, suffix in enumerate(SUFFIXES):
        raw = folder / f"raw-evil{i}{suffix}"
        raw.write_bytes(pickle.dumps({"state_dict": Payload(marker)}))
        zipped = folder / f"zip-evil{i}{suffix}"
        torch.save({"state_dict": Payload(marker)}, zipped)
        paths += [raw, zipped]
    return paths


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "a pickle payload ran"


def request(model: str, **options: Any) -> GenerationRequest:
    return GenerationRequest("a red barn", model=model, seed=1, size=Size(64, 64),
                             options=LocalOptions(steps=1, **options))  # fmt: skip


def test_pickles_under_any_name_are_rejected_by_content(tmp_path: Path, marker: Path) -> None:
    paths = write_pickles(tmp_path / "models", marker)
    found = scan(tmp_path / "models")
    assert found.entries == ()
    reasons = {r.path.name: r.reason for r in found.rejected}
    assert set(reasons) == {p.name for p in paths}
    for name, reason in reasons.items():
        kind = "Python pickle" if name.startswith("raw") else "zip archive"
        assert kind in reason, (name, reason)
        assert "only safetensors" in reason, (name, reason)
    for path in paths:
        with pytest.raises(InvalidRequestError, match="only safetensors"):
            import_model(path, tmp_path / "imported")
    assert not (tmp_path / "imported").exists() or not list((tmp_path / "imported").iterdir())


def test_a_folder_with_pickle_only_weights_is_rejected(
    tiny_sd15_dir: Path, tmp_path: Path, marker: Path,
) -> None:  # fmt: skip
    folder = tmp_path / "models" / "evil-sd"
    shutil.copytree(tiny_sd15_dir, folder)
    for weights in (folder / "unet").glob("*.safetensors"):
        weights.unlink()
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(
        pickle.dumps(Payload(marker)))  # fmt: skip
    found = scan(tmp_path / "models")
    assert found.entries == ()
    assert "component 'unet' has only pickle weights" in found.rejected[0].reason


def test_pickles_beside_safetensors_are_never_read(
    tiny_sd15_dir: Path, tmp_path: Path, marker: Path,
) -> None:  # fmt: skip
    folder = tmp_path / "models" / "mixed-sd"
    shutil.copytree(tiny_sd15_dir, folder)
    for part, name in (("unet", "diffusion_pytorch_model.bin"), ("vae", "diffusion_pytorch_model.bin"),
                       ("text_encoder", "pytorch_model.bin")):  # fmt: skip
        torch.save({"w": Payload(marker)}, folder / part / name)
    engine = DiffusersEngine(tmp_path / "models", cache_dir=tmp_path / "cache")
    assert engine.generate(request("mixed-sd")).images[0].image.size == (64, 64)


def test_a_safetensors_file_named_ckpt_loads_through_safetensors(
    tiny_sd15_dir: Path, tiny_sd15_single_file: Path, tiny_lora_file: Path, tmp_path: Path,
) -> None:  # fmt: skip
    models = tmp_path / "models"
    models.mkdir()
    (models / "donor").symlink_to(tiny_sd15_dir)
    shutil.copyfile(tiny_sd15_single_file, models / "renamed.ckpt")
    shutil.copyfile(tiny_sd15_single_file, models / "proper.safetensors")
    shutil.copyfile(tiny_lora_file, models / "shouty-lora.SAFETENSORS")
    engine = DiffusersEngine(models, cache_dir=tmp_path / "cache")
    assert {e.name: e.kind for e in engine.catalog.entries} == {
        "donor": "pipeline", "proper": "pipeline", "renamed": "pipeline",
        "shouty-lora": "lora"}  # fmt: skip
    renamed = engine.generate(request("renamed")).images[0].image.tobytes()
    assert renamed == engine.generate(request("proper")).images[0].image.tobytes()
    lora = engine.generate(request("renamed", loras=(LoraWeight(name="shouty-lora"),)))
    assert lora.images[0].image.tobytes() != renamed


def test_torch_version_has_the_weights_only_fixes() -> None:
    version = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    assert version >= (2, 10)


def test_loading_never_calls_torch_load(
    local_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    calls: list[Any] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        raise pickle.UnpicklingError("torch.load is not allowed here")

    monkeypatch.setattr(torch, "load", spy)
    before = safety.refused_loads
    engine = DiffusersEngine(local_models_dir, cache_dir=tmp_path)
    for model in ("tiny-sd", "tiny-sd-file", "tiny-sdxl-file"):
        engine.generate(request(model))
    engine.generate(request("tiny-sd", loras=(LoraWeight(name="tiny-lora"),), fast_decode=True))
    assert calls == []
    assert safety.refused_loads == before


def test_torch_load_raises_inside_the_loading_guard(tmp_path: Path, marker: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"w": Payload(marker)}, path)
    with (
        safety.no_pickle_loading(),
        pytest.raises(UnsafeModelError, match="safetensors files only"),
    ):
        torch.load(path, weights_only=False)
    assert torch.load is not safety._refuse  # restored


def fake_clean_scan(path: Path) -> safety.SafetensorsFile:
    """A scanner that calls everything clean, shaped like an SD 1.x checkpoint."""
    tensor = safety.Tensor("F32", (4, 4, 3, 3))
    names = ("model.diffusion_model.input_blocks.0.0.weight",
             "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight")  # fmt: skip
    return safety.SafetensorsFile(path, dict.fromkeys(names, tensor), {})


def test_the_loader_is_safe_with_the_scanner_disabled(
    tiny_sd15_dir: Path, tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(catalog_module, "read_safetensors", fake_clean_scan)
    monkeypatch.setattr(runtime, "read_safetensors", fake_clean_scan)
    models = tmp_path / "models"
    write_pickles(models, marker)
    (models / "donor").symlink_to(tiny_sd15_dir)
    engine = DiffusersEngine(models, cache_dir=tmp_path / "cache")
    evil = [m.id for m in engine.models() if "evil" in m.id]
    assert len(evil) == len(SUFFIXES) * 2  # the disabled scanner let them all through...
    for model in evil:
        with pytest.raises(PixelforgeError):  # ...and every load still fails safely
            engine.generate(request(model))
    lora = ModelEntry("evil-lora", "lora", "file", models / "raw-evil0.ckpt", "sd")
    with pytest.raises(Exception, match=r"(?i)header|safetensor|deserializ"):
        runtime.load_lora_state(lora)


def test_no_hub_lookup_and_no_network_for_unknown_models(
    local_engine: DiffusersEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    attempts: list[Any] = []

    def blocked(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", blocked)
    with pytest.raises(InvalidRequestError, match="not served"):
        local_engine.generate(request("stabilityai/sd-turbo"))
    hub_like = ModelEntry("sd-turbo", "pipeline", "folder", Path("stabilityai/sd-turbo"), "sd2",
                          "StableDiffusionPipeline", parameters=1)  # fmt: skip
    with pytest.raises(EngineError, match="failed to load"):
        runtime.load_pipeline(hub_like, torch.device("cpu"), torch.float32, tmp_path)
    assert attempts == []


def test_source_never_enables_remote_code() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and (
                node.arg == "custom_pipeline"
                or (node.arg == "trust_remote_code"
                    and not (isinstance(node.value, ast.Constant) and node.value.value is False))
            ):  # fmt: skip
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_no_http_route_installs_or_downloads_models() -> None:
    from pixelforge.api.app import create_app
    from pixelforge.config import Settings

    app = create_app(Settings(home=Path("/nonexistent-home-for-route-listing")))
    paths = [getattr(route, "path", "") for route in app.routes]
    assert paths
    assert not [p for p in paths if any(w in p.lower() for w in ("pull", "install", "download"))]


def test_header_checks_catch_truncated_and_lying_files(tmp_path: Path) -> None:
    real = tmp_path / "ok.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(4, 4)}, str(real))
    assert read_safetensors(real).parameters == 16
    data = real.read_bytes()
    (tmp_path / "short.safetensors").write_bytes(data[:-8])
    with pytest.raises(UnsafeModelError, match="outside the file"):
        read_safetensors(tmp_path / "short.safetensors")
    (tmp_path / "tiny.safetensors").write_bytes(b"\x01")
    with pytest.raises(UnsafeModelError, match="too short"):
        read_safetensors(tmp_path / "tiny.safetensors")
    (tmp_path / "huge.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{}")
    with pytest.raises(UnsafeModelError, match="only safetensors"):
        read_safetensors(tmp_path / "huge.safetensors")
