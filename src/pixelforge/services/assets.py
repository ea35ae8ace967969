"""Assets: list, read, convert, delete."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Literal, get_args

from PIL import Image
from sqlalchemy import func, select

from pixelforge.domain import OutputFormat
from pixelforge.errors import InvalidRequestError, NotFoundError, allowed
from pixelforge.postprocess.encode import encode
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.services.generate import TURN_KEY
from pixelforge.store.blobs import BlobStore
from pixelforge.store.db import Database
from pixelforge.store.models import Asset

#: The studio's workspaces: an asset belongs to one of them, or to none (None).
Workspace = Literal["draft", "explore"]
WORKSPACES: tuple[str, ...] = get_args(Workspace)
#: The key in a job's stored request that names the workspace its assets get.
WORKSPACE_KEY = "workspace"


def check_workspace(workspace: str | None, param: str = "workspace") -> None:
    """Refuse anything but None or one of :data:`WORKSPACES`, naming ``param``."""
    if workspace is not None and workspace not in WORKSPACES:
        raise InvalidRequestError(
            f"{param}: {workspace!r} is not allowed; allowed: {allowed(WORKSPACES)}",
            param=param,
        )


@dataclass(frozen=True, slots=True)
class AssetPage:
    items: list[Asset]
    total: int
    offset: int
    limit: int


class AssetService:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db, self.blobs = db, blobs

    def search(
        self, *, owner: str | None = None, model: str | None = None, text: str | None = None, since: float | None = None,
        until: float | None = None, offset: int = 0, limit: int = 50,
        workspace: str | None = None,
    ) -> AssetPage:  # fmt: skip
        """Live assets, newest first; ``workspace`` keeps those of that workspace."""
        check_workspace(workspace)
        query = select(Asset).where(Asset.deleted.is_(False))
        if workspace is not None:
            query = query.where(Asset.workspace == workspace)
        if owner is not None:
            query = query.where(Asset.user_id == owner)
        if model:
            query = query.where(Asset.model == model)
        if text:
            query = query.where(Asset.prompt.ilike(f"%{text}%"))
        if since is not None:
            query = query.where(Asset.created_at >= since)
        if until is not None:
            query = query.where(Asset.created_at < until)
        with self.db.read() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            items = list(
                s.scalars(
                    query.order_by(Asset.created_at.desc(), Asset.id).offset(offset).limit(limit)
                )
            )
        return AssetPage(items, int(total), offset, limit)

    def get(self, asset_id: str, principal: Principal = LOCAL) -> Asset:
        """The asset, if it exists and the caller may see it; 404 alike otherwise."""
        with self.db.read() as s:
            asset = s.get(Asset, asset_id)
        if (
            asset is None
            or asset.deleted
            or not (principal.is_admin or asset.user_id == principal.user_id)
        ):
            raise NotFoundError(f"asset {asset_id!r} not found", param="asset_id",
                                code="asset_not_found")  # fmt: skip
        return asset

    def of_job(self, job_id: str) -> list[Asset]:
        """A finished job's assets, in order, with one query."""
        with self.db.read() as s:
            query = select(Asset).where(Asset.job_id == job_id, Asset.deleted.is_(False))
            return list(s.scalars(query.order_by(Asset.position)))

    def data(self, asset: Asset) -> bytes:
        return self.blobs.get(asset.blob_key)

    def file(
        self, asset_id: str, fmt: OutputFormat | None = None, principal: Principal = LOCAL
    ) -> tuple[bytes, OutputFormat]:
        """The asset's bytes, re-encoded when another format is asked for."""
        asset = self.get(asset_id, principal)
        data = self.blobs.get(asset.blob_key)
        stored = OutputFormat(asset.format)
        if fmt is None or fmt is stored:
            return data, stored
        meta = {k: v for k, v in asset.params.items() if k != TURN_KEY}  # state, not metadata
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return encode(im, fmt, meta), fmt

    def delete(self, asset_id: str, principal: Principal = LOCAL) -> None:
        self.get(asset_id, principal)
        with self.db.write() as s:
            asset = s.get(Asset, asset_id)
            if asset is None or asset.deleted:
                raise NotFoundError(f"asset {asset_id!r} not found", param="asset_id",
                                    code="asset_not_found")  # fmt: skip
            asset.deleted = True

    @staticmethod
    def view(asset: Asset, base_url: str = "") -> dict[str, Any]:
        return {
            "id": asset.id, "object": "image.asset", "job_id": asset.job_id,
            "model": asset.model, "seed": asset.seed, "prompt": asset.prompt,
            "format": asset.format, "width": asset.width, "height": asset.height,
            "bytes": asset.bytes, "created": int(asset.created_at), "parent_id": asset.parent_id,
            "timings": asset.timings, "cost": asset.cost, "params": asset.params,
            "workspace": asset.workspace, "url": f"{base_url}/api/assets/{asset.id}/file",
        }  # fmt: skip
