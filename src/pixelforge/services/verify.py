"""Verify an image: its C2PA manifest, and the invisible watermark mapped back to its asset.

The watermark id is looked up among this server's assets. The asset itself is shown only to
a caller who may see it (its owner, an admin, or anyone when accounts are off); others learn
that this server made the image, not whose it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from pixelforge.errors import InvalidRequestError
from pixelforge.postprocess import provenance, watermark
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.services.images import MAX_BYTES, MAX_PIXELS, decode_image
from pixelforge.store.db import Database
from pixelforge.store.models import Asset


@dataclass(frozen=True, slots=True)
class VerifyService:
    db: Database | None
    max_bytes: int = MAX_BYTES
    max_pixels: int = MAX_PIXELS

    def verify(self, data: bytes, principal: Principal = LOCAL) -> dict[str, Any]:
        """The report ``POST /api/verify`` and ``pixelforge verify`` show (see docs/output.md)."""
        credentials = provenance.read(data)
        try:
            image = decode_image(data, "image", self.max_bytes, self.max_pixels)
        except InvalidRequestError as exc:
            if not credentials.present or exc.status != 400:
                raise  # not an image at all, or too large: the caller's error
            # A signed file whose pixels no longer decode: report the manifest's verdict.
            image = None
            problem = exc.message.removeprefix("image: ")
        found = watermark.detect(image) if image is not None else watermark.Detection(None, 0.0)
        mark: dict[str, Any] = {"found": found.id is not None, "id": found.id,
                                "confidence": round(found.confidence, 3), "assets": []}  # fmt: skip
        if image is None:
            mark["error"] = problem
        if found.id is not None and self.db is not None:
            mark["assets"] = self._assets(found.id, principal)
        known = bool(mark["assets"])
        if credentials.present and not credentials.valid:
            verdict = "tampered"  # a manifest that no longer matches the pixels or is broken
        elif credentials.valid and known:
            verdict = "verified"
        elif credentials.valid:
            verdict = "signed"
        elif known:
            verdict = "watermarked"  # the manifest was stripped; the watermark survived
        else:
            verdict = "unknown"
        return {"verdict": verdict, "c2pa": credentials.as_dict(), "watermark": mark}

    def _assets(self, mark_id: int, principal: Principal) -> list[dict[str, Any]]:
        assert self.db is not None
        with self.db.read() as s:
            rows = s.scalars(
                select(Asset).where(Asset.watermark_id == mark_id).order_by(Asset.created_at)
            ).all()
        out = []
        for asset in rows:
            visible = principal.is_admin or asset.user_id == principal.user_id
            entry: dict[str, Any] = {"visible": visible, "deleted": asset.deleted}
            if visible:
                entry |= {
                    "id": asset.id, "model": asset.model, "job_id": asset.job_id,
                    "created": int(asset.created_at), "width": asset.width,
                    "height": asset.height, "parent_id": asset.parent_id,
                }  # fmt: skip
            out.append(entry)
        return out
