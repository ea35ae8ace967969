"""What every ``pixelforge`` command module shares: the consoles, the usage error (exit 2)
and its wording for request fields, the apps built during a command, the local store."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from pixelforge.bootstrap import App, Store, open_store
from pixelforge.bootstrap import build_app as _build_app
from pixelforge.config import Settings
from pixelforge.domain import Reference
from pixelforge.domain.request import OutputFormat, ReferenceRole
from pixelforge.errors import InvalidRequestError
from pixelforge.postprocess.provenance import sniff_format
from pixelforge.services.images import load_image

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

#: Request field -> the CLI option that sets it, for error messages.
OPTION_OF = {
    "aspect_ratio": "--aspect", "resolution": "--resolution", "size": "--size", "n": "-n",
    "seed": "--seed", "output_format": "--format", "references": "--ref", "image": "--ref",
    "model": "--model", "mode": "--mode", "background": "--background",
    "output_compression": "--compression", "prompt": "PROMPT", "mask": "--mask",
    "negative_prompt": "--negative", "role": "--ref-role", "path": "PATH", "repo": "REPO",
    "name": "--name", "reference_sets": "--ref-set",
}  # fmt: skip


#: Apps built during this command: their engines are closed when it ends.
_built: list[App] = []


def build_app(settings: Settings | None = None) -> App:
    built = _build_app(settings)
    _built.append(built)
    return built


class UsageError(Exception):
    """Bad input: the message is printed on one line and the exit code is 2."""


#: Engine option (``options.<field>``) -> the CLI flag that sets it.
LOCAL_FLAGS = {"steps": "--steps", "guidance": "--guidance", "scheduler": "--scheduler",
               "strength": "--strength", "loras": "--lora", "fast_decode": "--fast-decode"}  # fmt: skip


def _as_cli(exc: InvalidRequestError) -> UsageError:
    param = exc.param or ""
    root = param.split(".")[0].split("[")[0]
    option = OPTION_OF.get(root, "--brief" if root == "brief" else f"--{root}")
    if root == "options" and "." in param:
        field = param.split(".")[1].split("[")[0]
        option = LOCAL_FLAGS.get(field, option)
    message = exc.message
    for prefix in (param, root):
        if prefix and message.startswith(f"{prefix}: "):
            message = message[len(prefix) + 2 :]
            break
    return UsageError(f"{option}: {message}")


def _integer(text: str, param: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidRequestError(f"{param}: {text!r} is not a whole number", param=param) from None


def _store() -> Store:
    return open_store()


def _read_file(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {str(path)!r} ({exc.strerror})") from None


def _file_format(data: bytes) -> OutputFormat:
    """The format of an image file by its first bytes (PNG when unsure)."""
    return OutputFormat(sniff_format(data) or "png")


def _read_ref(path: Path, role: ReferenceRole) -> Reference:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--ref: cannot read {str(path)!r} ({exc.strerror})") from None
    return Reference(load_image(data, param="image", name=path.name), role)
