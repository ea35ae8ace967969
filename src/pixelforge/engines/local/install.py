"""Putting models into the models folder: import a local file or folder, or pull from a hub.

Both paths run the same checks as the scan (safetensors by content, no code, no pickle-only
components) before anything lands, copy only what a load reads (weights, configs, tokenizer
files) and appear in the folder atomically (a temporary name, then one rename). The pull uses
``huggingface_hub`` and only when an admin has enabled downloads.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from pixelforge.engines.local.catalog import ModelEntry, model_name, scan_path
from pixelforge.engines.local.safety import PICKLE_SUFFIXES, UnsafeModelError
from pixelforge.errors import InvalidRequestError, PixelforgeError

#: Files a pull fetches: weights, configs and tokenizer data; never pickles or code.
PULL_PATTERNS = ["*.safetensors", "*.json", "*.txt", "*.model", "*.tiktoken"]
_REPO = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ModelDownloadError(PixelforgeError):
    status = 502
    code = "model_download_failed"


def _skip(_: str, names: list[str]) -> set[str]:
    return {n for n in names if Path(n).suffix.lower() in PICKLE_SUFFIXES}


def import_model(source: Path, models_dir: Path, name: str | None = None) -> ModelEntry:
    """Check ``source`` and copy it into ``models_dir``; return the entry it becomes."""
    if not source.exists():
        raise InvalidRequestError(f"path: {str(source)!r} does not exist", param="path")
    try:
        entry = scan_path(source)
    except UnsafeModelError as exc:
        raise InvalidRequestError(f"path: {exc.message}", param="path") from None
    if entry is None:
        raise InvalidRequestError(
            f"path: {str(source)!r} holds no model (a diffusers folder with model_index.json, a "
            "TAESD folder, a .safetensors checkpoint or a LoRA)",
            param="path",
        )
    name = name or model_name(source)
    if not _NAME.match(name):
        raise InvalidRequestError(
            f"name: {name!r} is not allowed; use letters, digits, '.', '_' and '-' (at most "
            "128, starting with a letter or digit)",
            param="name",
        )
    target = models_dir / (name if source.is_dir() else f"{name}.safetensors")
    if target.exists() or any(p.name.split(".")[0] == name for p in _listing(models_dir)):
        raise InvalidRequestError(
            f"name: {name!r} is already in {models_dir}; choose another with --name",
            param="name",
        )
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".importing-", dir=models_dir))
    try:
        staged = staging / target.name
        if source.is_dir():
            shutil.copytree(source, staged, ignore=_skip, symlinks=False)
        else:
            shutil.copyfile(source, staged)
        os.replace(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    found = scan_path(target)
    assert found is not None
    return found


def _listing(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.is_dir() else []


def pull_model(
    repo: str, models_dir: Path, *, allow_downloads: bool, revision: str | None = None,
    name: str | None = None,
) -> ModelEntry:  # fmt: skip
    """Download ``repo`` (weights, configs, tokenizers only) and import it."""
    if not _REPO.match(repo):
        raise InvalidRequestError(
            f"repo: {repo!r} is not a repository id; expected OWNER/NAME", param="repo"
        )
    if not allow_downloads:
        raise ModelDownloadError(
            "downloads are off: an admin enables them with PIXELFORGE_ALLOW_MODEL_DOWNLOADS=true"
            "; or copy the model here and run `pixelforge models import PATH`"
        )
    try:
        import huggingface_hub
        from huggingface_hub import constants, errors
    except ImportError:
        raise ModelDownloadError(
            "pulling models needs the `local` extra: pip install 'pixelforge[local]'"
        ) from None
    if constants.HF_HUB_OFFLINE:
        raise ModelDownloadError("HF_HUB_OFFLINE is set in this environment; unset it to pull")
    with tempfile.TemporaryDirectory(prefix=".pulling-", dir=_mkdir(models_dir)) as tmp:
        local = Path(tmp) / (name or repo.split("/")[1])
        try:
            huggingface_hub.snapshot_download(
                repo, revision=revision, local_dir=str(local), allow_patterns=PULL_PATTERNS,
            )  # fmt: skip
        except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError) as exc:
            raise ModelDownloadError(f"{repo}: not found on {constants.ENDPOINT} ({exc})") from None
        except (errors.HfHubHTTPError, errors.LocalEntryNotFoundError, OSError) as exc:
            raise ModelDownloadError(
                f"cannot download {repo} from {constants.ENDPOINT}: {_reason(exc)}"
            ) from None
        except Exception as exc:  # httpx / requests transport errors, by duck type
            if "connect" not in type(exc).__name__.lower() and "timeout" not in str(exc).lower():
                raise
            raise ModelDownloadError(
                f"cannot reach the model hub at {constants.ENDPOINT}: {_reason(exc)}"
            ) from None
        return import_model(local, models_dir, name or model_name(local))


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
