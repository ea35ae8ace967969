"""`pixelforge models list|scan|import|pull` and `generate` with a local model."""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from pixelforge.cli import main

pytest.importorskip("torch")
pytest.importorskip("diffusers")


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("PIXELFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIXELFORGE_MODELS_DIR", str(folder))
    monkeypatch.setenv("COLUMNS", "250")  # wide enough that table cells are not cut
    monkeypatch.chdir(tmp_path)
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_scan_lists_models_and_says_why_files_are_rejected(
    models: Path, tiny_sd15_dir: Path, tiny_lora_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    (models / "tiny-sd").symlink_to(tiny_sd15_dir)
    (models / "style.safetensors").symlink_to(tiny_lora_file)
    (models / "old.ckpt").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    (models / "README.md").write_text("not a model")
    rc, out, err = run(capsys, "models", "scan")
    assert rc == 0
    assert "tiny-sd" in out
    assert "style" in out
    assert "lora" in out
    assert "rejected" in err
    assert "old.ckpt: a Python pickle; only safetensors weights are loaded" in err
    assert "2 model(s), 1 rejected" in err


def test_models_list_shows_local_models_with_their_capabilities(
    models: Path, tiny_sd15_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    (models / "tiny-sd").symlink_to(tiny_sd15_dir)
    for args in (("models",), ("models", "list")):
        rc, out, _ = run(capsys, *args)
        assert rc == 0
        rows = [line for line in out.splitlines() if "tiny-sd" in line]
        assert len(rows) == 1
        assert "diffusers" in rows[0]
        assert "edit, generate, variation" in rows[0]
        assert "compose" in out


def test_import_copies_a_checked_file_and_refuses_pickles_and_taken_names(
    models: Path, tiny_lora_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    rc, out, _ = run(capsys, "models", "import", str(tiny_lora_file), "--name", "my-style")
    assert rc == 0
    assert "my-style: lora" in out
    assert (models / "my-style.safetensors").read_bytes() == tiny_lora_file.read_bytes()
    rc, _, err = run(capsys, "models", "import", str(tiny_lora_file), "--name", "my-style")
    assert rc == 2
    assert "--name: 'my-style' is already in" in err
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"weights": 1}))
    rc, _, err = run(capsys, "models", "import", str(evil))
    assert rc == 2
    assert "PATH: evil.safetensors: a Python pickle; only safetensors" in err
    rc, _, err = run(capsys, "models", "import", str(tmp_path / "missing.safetensors"))
    assert rc == 2
    assert "does not exist" in err
    rc, _, err = run(capsys, "models", "import", str(tiny_lora_file), "--name", "../up")
    assert rc == 2
    assert "--name: '../up' is not allowed" in err
    assert sorted(p.name for p in models.iterdir()) == ["my-style.safetensors"]


def test_import_a_folder_leaves_pickles_behind(
    models: Path, tiny_sd15_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    source = tmp_path / "downloaded-sd"
    shutil.copytree(tiny_sd15_dir, source)
    (source / "unet" / "diffusion_pytorch_model.bin").write_bytes(pickle.dumps({"w": 1}))
    rc, out, _ = run(capsys, "models", "import", str(source))
    assert rc == 0
    assert "downloaded-sd: pipeline, sd1" in out
    copied = models / "downloaded-sd"
    assert (copied / "model_index.json").is_file()
    assert list(copied.rglob("*.bin")) == []
    assert len(list(copied.rglob("*.safetensors"))) == len(list(source.rglob("*.safetensors")))


def test_pull_needs_downloads_enabled_and_a_valid_repo(
    models: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    rc, _, err = run(capsys, "models", "pull", "stabilityai/sd-turbo")
    assert rc == 1
    assert "downloads are off" in err
    assert "PIXELFORGE_ALLOW_MODEL_DOWNLOADS=true" in err
    rc, _, err = run(capsys, "models", "pull", "../../etc")
    assert rc == 2
    assert "REPO: '../../etc' is not a repository id" in err


def test_pull_reports_an_unreachable_hub_clearly(models: Path, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", PIXELFORGE_ALLOW_MODEL_DOWNLOADS="true",
               HF_HUB_ETAG_TIMEOUT="2", HF_HUB_DOWNLOAD_TIMEOUT="2")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "pixelforge.cli", "models", "pull", "org/model"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(models.iterdir()) == []


def test_generate_with_a_local_model_and_its_flags(
    models: Path, tiny_sd15_dir: Path, tiny_lora_file: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    (models / "tiny-sd").symlink_to(tiny_sd15_dir)
    (models / "tiny-lora.safetensors").symlink_to(tiny_lora_file)
    rc, out, err = run(capsys, "generate", "a red barn", "-m", "tiny-sd", "--size", "128x128",
                       "--steps", "2", "--scheduler", "euler", "--lora", "tiny-lora:0.5",
                       "--negative", "fog", "--seed", "3", "-o", str(tmp_path / "out"))  # fmt: skip
    assert rc == 0, err
    (path,) = [Path(line) for line in out.splitlines() if line.strip()]
    with Image.open(path) as image:
        assert image.size == (128, 128)
        assert "tiny-sd" in image.info["parameters"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--steps", "0"), "--steps: Input should be greater than or equal to 1 (got 0)"),
        (("--scheduler", "k_lms"), "--scheduler: 'k_lms' is not available; allowed: default"),
        (("--lora", "nope"), "--lora: 'nope' is not an installed LoRA"),
        (("--lora", "x:lots"), "--lora: 'lots' is not a number"),
        (("--strength", "0.5"), "--strength: applies to image-to-image"),
    ],
)
def test_generate_rejects_bad_local_flags_with_exit_2(
    models: Path, tiny_sd15_dir: Path, capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...], message: str,
) -> None:  # fmt: skip
    (models / "tiny-sd").symlink_to(tiny_sd15_dir)
    rc, _, err = run(capsys, "generate", "a barn", "-m", "tiny-sd", *args)
    assert rc == 2
    assert message in err


def test_local_flags_on_a_model_that_is_not_local_are_refused(
    models: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    rc, _, err = run(capsys, "generate", "a poster", "-m", "compose", "--steps", "4")
    assert rc == 2
    assert "--steps: applies to local diffusion models; 'compose' is not one" in err
