"""Local blob storage: content-addressed keys, and keys from clients never reach the disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pixelforge.errors import NotFoundError
from pixelforge.store.blobs import LocalBlobStore

DATA = b"\x89PNG not really"
HEX = hashlib.sha256(b"elsewhere").hexdigest()
PATH_LIKE_KEYS = [
    "../../etc/passwd",
    "/etc/passwd",
    "/abs",
    "ab/../x.png",
    f"../{HEX}.png",
    f"{HEX[:2]}/{HEX[2:4]}/{HEX}.png",
    f"{HEX}.png\x00",
    f"{HEX}.png\n",
    "\x00",
    f"{HEX}.png/../../../secret",
    "",
]


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_put_then_get_returns_same_bytes(store: LocalBlobStore) -> None:
    assert store.get(store.put(DATA, "png")) == DATA


def test_put_names_blob_by_content_hash(store: LocalBlobStore) -> None:
    assert store.put(DATA, "png") == f"{hashlib.sha256(DATA).hexdigest()}.png"


def test_put_same_bytes_twice_returns_same_key(store: LocalBlobStore) -> None:
    assert store.put(DATA, "png") == store.put(DATA, "png")


def test_put_same_bytes_twice_stores_one_file(store: LocalBlobStore) -> None:
    store.put(DATA, "png")
    store.put(DATA, "png")
    assert len(stored_files(store.root)) == 1


def test_get_unknown_key_raises_not_found(store: LocalBlobStore) -> None:
    with pytest.raises(NotFoundError):
        store.get(f"{HEX}.png")


@pytest.mark.parametrize("key", PATH_LIKE_KEYS)
def test_get_path_like_key_raises_not_found(store: LocalBlobStore, key: str) -> None:
    with pytest.raises(NotFoundError):
        store.get(key)


@pytest.mark.parametrize("key", PATH_LIKE_KEYS)
def test_get_path_like_key_touches_no_file_outside_root(
    store: LocalBlobStore, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / f"{HEX}.png").write_bytes(b"secret")  # a target one level above the root
    touched: list[Path] = []
    real_read, real_exists = Path.read_bytes, Path.exists

    def read_bytes(self: Path) -> bytes:
        touched.append(self)
        return real_read(self)

    def exists(self: Path, *args: object, **kwargs: object) -> bool:
        touched.append(self)
        return real_exists(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(Path, "exists", exists)
    with pytest.raises(NotFoundError):
        store.get(key)
    root = store.root.resolve()
    assert [p for p in touched if not p.resolve().is_relative_to(root)] == []
