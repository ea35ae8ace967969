"""Reference library: saved reference sets, reusable by id in any request.

A reference set is a named collection of images of one ``kind``: a ``character`` (several
images of one person or mascot), a ``product``, a ``style``, or a ``brand_kit``, which adds a
palette (``#rrggbb``, at most 6), fonts (a family per role: ``headline``, ``body``), tone
words and a logo. Images (and the logo) go through the same ingest checks as uploads
(``services.images.load_image``: formats by content, size and pixel limits, re-encoded to a
clean PNG) and are kept in the blob store; each has a role, the kind's default unless given.

Using sets in a request (:meth:`ReferenceService.for_request`): each set's images become
``Reference``s, appended after the request's own references, with the set's roles (or the
role the request gives the set). More images than the model takes is a 400 naming the set
(``reference_sets[i]``) with the count the model allows; ``take`` uses only a set's first
images. A brand kit becomes the request's ``Brand`` (one brand kit per request), which every
engine receives through the engine contract.

Sets belong to their owner like jobs and assets: anyone else gets the 404 a missing id gets
(admins may read and use any set). Deleting a set deletes its rows, not its blobs: the blob
store is content-addressed, and jobs that used the set keep their own copy of the request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pixelforge.domain import Brand, ImageInput, Reference, ReferenceRole
from pixelforge.domain.request import brand_fonts, brand_palette, brand_tone, parse_enum
from pixelforge.errors import (
    CapabilityError,
    IdempotencyReusedError,
    InvalidRequestError,
    NotFoundError,
)
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.services.jobs import Idempotency
from pixelforge.store.blobs import BlobStore
from pixelforge.store.db import Database
from pixelforge.store.jobs import new_id
from pixelforge.store.models import IdempotencyRecord, ReferenceImage, ReferenceSet

MAX_IMAGES = 16
MAX_SETS = 500
MAX_NAME = 120
MAX_LABEL = 120
MAX_DESCRIPTION = 2000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SetKind(StrEnum):
    CHARACTER = "character"
    PRODUCT = "product"
    STYLE = "style"
    BRAND_KIT = "brand_kit"


#: The role a set's images play unless an image or the request says otherwise.
DEFAULT_ROLE = {
    SetKind.CHARACTER: ReferenceRole.CHARACTER, SetKind.PRODUCT: ReferenceRole.PRODUCT,
    SetKind.STYLE: ReferenceRole.STYLE, SetKind.BRAND_KIT: ReferenceRole.STYLE,
}  # fmt: skip
#: Fields only a brand kit carries.
BRAND_FIELDS = ("palette", "fonts", "tone", "logo")


@dataclass(frozen=True, slots=True)
class NewImage:
    """An image to add to a set: already through ingest, with its role (None: the kind's
    default) and label."""

    image: ImageInput
    role: ReferenceRole | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class SetUse:
    """A set named in a request: its id, the role its images play there (None: their own)
    and how many of its first images to use (None: all)."""

    id: str
    role: ReferenceRole | None = None
    take: int | None = None


@dataclass(frozen=True, slots=True)
class Loaded:
    """A set with its images, in order."""

    ref_set: ReferenceSet
    images: list[ReferenceImage]


def _text(value: str, param: str, limit: int, *, required: bool = False) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidRequestError(f"{param}: must not be empty", param=param)
    if len(text) > limit:
        raise InvalidRequestError(
            f"{param}: {len(text)} characters is too long; at most {limit}", param=param
        )
    if _CONTROL.search(text) and param != "description":
        raise InvalidRequestError(f"{param}: {value!r} contains control characters; "
                                  "use plain text", param=param)  # fmt: skip
    return text


class ReferenceService:
    def __init__(
        self, db: Database, blobs: BlobStore, *, retention_seconds: float = 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.db, self.blobs, self.clock = db, blobs, clock
        self.retention = retention_seconds

    # -- create, read, change, delete --------------------------------------------------
    def create(
        self, name: str, kind: str, *, description: str = "", images: Sequence[NewImage] = (),
        palette: Sequence[str] = (), fonts: Mapping[str, str] | None = None,
        tone: Sequence[str] = (), logo: ImageInput | None = None,
        principal: Principal = LOCAL, idem: Idempotency | None = None,
    ) -> tuple[ReferenceSet, bool]:  # fmt: skip
        """Check everything, then store the set, its images and logo in one transaction;
        (set, replayed). A repeated ``Idempotency-Key`` answers the set it made (422 when the
        body differs)."""
        set_kind = parse_enum(SetKind, kind, "kind")
        fields = {"palette": palette, "fonts": fonts, "tone": tone, "logo": logo}
        if set_kind is not SetKind.BRAND_KIT:
            self._no_brand_fields(set_kind, {k for k, v in fields.items() if v})
        now = self.clock()
        ref_set = ReferenceSet(
            id=new_id("ref"), user_id=principal.user_id,
            name=_text(name, "name", MAX_NAME, required=True), kind=set_kind.value,
            description=_text(description, "description", MAX_DESCRIPTION),
            palette=list(brand_palette(palette)), fonts=brand_fonts(fonts or {}),
            tone=list(brand_tone(tone)), created_at=now, updated_at=now,
        )  # fmt: skip
        if len(images) > MAX_IMAGES:
            raise InvalidRequestError(
                f"images: {len(images)} images is too many; a set holds at most {MAX_IMAGES}",
                param="images",
            )
        rows = self._image_rows(ref_set, images, -1, now)
        if logo is not None:
            self._set_logo(ref_set, logo)
        try:
            with self.db.write() as s:
                if idem is not None and (found := self._recorded(s, idem)) is not None:
                    return self._replay(s, found, idem), True
                self._check_room(s, principal)
                self._check_name(s, principal, ref_set.name)
                s.add(ref_set)
                s.flush()
                s.add_all(rows)
                if idem is not None:
                    s.add(IdempotencyRecord(
                        scope=idem.scope, key=idem.key, fingerprint=idem.fingerprint,
                        job_id=None, response_status=201, response_body=ref_set.id,
                        created_at=now,
                    ))  # fmt: skip
        except IntegrityError:
            # A concurrent create took the name or the key between our check and insert.
            with self.db.read() as s:
                if idem is not None and (found := self._recorded(s, idem, purge=False)):
                    return self._replay(s, found, idem), True
                self._check_name(s, principal, ref_set.name)
            raise
        return ref_set, False

    def get(self, set_id: str, principal: Principal = LOCAL, param: str = "set_id") -> ReferenceSet:
        """The set, if it exists and the caller may see it; 404 alike otherwise."""
        with self.db.read() as s:
            ref_set = s.get(ReferenceSet, set_id)
        if ref_set is None or not (principal.is_admin or ref_set.user_id == principal.user_id):
            raise NotFoundError(f"{param}: reference set {set_id!r} not found", param=param,
                                code="reference_set_not_found")  # fmt: skip
        return ref_set

    def load(self, set_id: str, principal: Principal = LOCAL, param: str = "set_id") -> Loaded:
        ref_set = self.get(set_id, principal, param)
        return Loaded(ref_set, self.images(ref_set.id))

    def images(self, set_id: str) -> list[ReferenceImage]:
        with self.db.read() as s:
            query = select(ReferenceImage).where(ReferenceImage.set_id == set_id)
            return list(s.scalars(query.order_by(ReferenceImage.position)))

    def find(self, id_or_name: str, principal: Principal = LOCAL) -> ReferenceSet:
        """A set by id, else by name among the caller's own sets (the CLI's lookup)."""
        try:
            return self.get(id_or_name, principal)
        except NotFoundError:
            with self.db.read() as s:
                found = s.scalar(select(ReferenceSet).where(
                    _owned_by(principal), ReferenceSet.name == id_or_name.strip()))  # fmt: skip
            if found is None:
                raise
            return found

    def search(
        self, principal: Principal = LOCAL, kind: str | None = None, offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Loaded], int]:  # fmt: skip
        """The caller's own sets, newest first, with their images; (page, total)."""
        query = select(ReferenceSet).where(_owned_by(principal))
        if kind is not None:
            query = query.where(ReferenceSet.kind == parse_enum(SetKind, kind, "kind").value)
        with self.db.read() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            page = list(s.scalars(query.order_by(ReferenceSet.created_at.desc(),
                                                 ReferenceSet.id).offset(offset).limit(limit)))  # fmt: skip
            by_set: dict[str, list[ReferenceImage]] = {r.id: [] for r in page}
            rows = s.scalars(select(ReferenceImage).where(ReferenceImage.set_id.in_(by_set))
                             .order_by(ReferenceImage.position))  # fmt: skip
            for row in rows:
                by_set[row.set_id].append(row)
        return [Loaded(r, by_set[r.id]) for r in page], int(total)

    def update(
        self, set_id: str, changes: Mapping[str, Any], principal: Principal = LOCAL
    ) -> ReferenceSet:
        """Change ``name``, ``description`` and, on brand kits, ``palette``, ``fonts``,
        ``tone`` and ``logo`` (an ``ImageInput``, or None to remove it); the kind and the
        images stay (images: :meth:`add_images`, :meth:`remove_image`)."""
        current = self.get(set_id, principal)
        unknown = sorted(set(changes) - {"name", "description", *BRAND_FIELDS})
        if unknown:
            raise InvalidRequestError(f"{unknown[0]}: cannot be changed; allowed: name, "
                                      "description, palette, fonts, tone, logo",
                                      param=unknown[0])  # fmt: skip
        kind = SetKind(current.kind)
        if kind is not SetKind.BRAND_KIT:
            self._no_brand_fields(kind, {k for k in BRAND_FIELDS if changes.get(k)})
        checked: dict[str, Any] = {}
        if "name" in changes:
            checked["name"] = _text(changes["name"] or "", "name", MAX_NAME, required=True)
        if "description" in changes:
            text = changes["description"] or ""
            checked["description"] = _text(text, "description", MAX_DESCRIPTION)
        if "palette" in changes:
            checked["palette"] = list(brand_palette(changes["palette"] or ()))
        if "fonts" in changes:
            checked["fonts"] = brand_fonts(changes["fonts"] or {})
        if "tone" in changes:
            checked["tone"] = list(brand_tone(changes["tone"] or ()))
        with self.db.write() as s:
            ref_set = s.get(ReferenceSet, set_id)
            if ref_set is None:
                raise NotFoundError(f"set_id: reference set {set_id!r} not found",
                                    param="set_id", code="reference_set_not_found")  # fmt: skip
            if "name" in checked and checked["name"] != ref_set.name:
                self._check_name(s, Principal(ref_set.user_id, "", "member", "local"),
                                 checked["name"])  # fmt: skip
            for field, value in checked.items():
                setattr(ref_set, field, value)
            if "logo" in changes:
                if changes["logo"] is None:
                    ref_set.logo_blob = ref_set.logo_width = ref_set.logo_height = None
                    ref_set.logo_format = None
                else:
                    self._set_logo(ref_set, changes["logo"])
            ref_set.updated_at = self.clock()
        return ref_set

    def delete(self, set_id: str, principal: Principal = LOCAL) -> None:
        """Delete the set and its image rows (their blobs stay: jobs may share them)."""
        self.get(set_id, principal)
        with self.db.write() as s:
            s.execute(delete(ReferenceImage).where(ReferenceImage.set_id == set_id))
            s.execute(delete(ReferenceSet).where(ReferenceSet.id == set_id))

    def add_images(
        self, set_id: str, images: Sequence[NewImage], principal: Principal = LOCAL
    ) -> Loaded:
        """Append images (after the last one); at most :data:`MAX_IMAGES` in a set."""
        self.get(set_id, principal)
        if not images:
            raise InvalidRequestError("images: give at least one image", param="images")
        now = self.clock()
        with self.db.write() as s:
            ref_set = s.get(ReferenceSet, set_id)
            if ref_set is None:
                raise NotFoundError(f"set_id: reference set {set_id!r} not found",
                                    param="set_id", code="reference_set_not_found")  # fmt: skip
            have = s.scalar(select(func.count()).where(ReferenceImage.set_id == set_id)) or 0
            if have + len(images) > MAX_IMAGES:
                raise InvalidRequestError(
                    f"images: set {ref_set.name!r} has {have} images; {len(images)} more would "
                    f"make {have + len(images)}; a set holds at most {MAX_IMAGES}",
                    param="images",
                )  # fmt: skip
            last = s.scalar(select(func.max(ReferenceImage.position))
                            .where(ReferenceImage.set_id == set_id))  # fmt: skip
            s.add_all(self._image_rows(ref_set, images, -1 if last is None else last, now))
            ref_set.updated_at = now
        return Loaded(ref_set, self.images(set_id))

    def _image(self, set_id: str, image_id: str, principal: Principal) -> ReferenceImage:
        self.get(set_id, principal)
        with self.db.read() as s:
            row = s.get(ReferenceImage, image_id)
        if row is None or row.set_id != set_id:
            raise NotFoundError(f"image_id: image {image_id!r} is not in reference set "
                                f"{set_id!r}", param="image_id",
                                code="reference_image_not_found")  # fmt: skip
        return row

    def remove_image(self, set_id: str, image_id: str, principal: Principal = LOCAL) -> None:
        self._image(set_id, image_id, principal)
        with self.db.write() as s:
            s.execute(delete(ReferenceImage).where(ReferenceImage.id == image_id))
            ref_set = s.get(ReferenceSet, set_id)
            if ref_set is not None:
                ref_set.updated_at = self.clock()

    def image_file(self, set_id: str, image_id: str, principal: Principal = LOCAL) -> bytes:
        return self.blobs.get(self._image(set_id, image_id, principal).blob_key)

    def logo_file(self, set_id: str, principal: Principal = LOCAL) -> bytes:
        ref_set = self.get(set_id, principal)
        if ref_set.logo_blob is None:
            raise NotFoundError(f"reference set {set_id!r} has no logo", param="set_id",
                                code="logo_not_found")  # fmt: skip
        return self.blobs.get(ref_set.logo_blob)

    # -- using sets in requests ----------------------------------------------------------
    def for_request(
        self,
        uses: Sequence[SetUse],
        principal: Principal,
        *,
        limit: int,
        used: int,
        model: str,
        param: str = "reference_sets",
    ) -> tuple[tuple[Reference, ...], Brand | None]:
        """The references the sets add (in order) and the brand kit, if one is named.

        ``limit`` is the model's ``max_references``, ``used`` how many references the request
        has of its own. Errors name ``param[i]``: an unknown or foreign set (404), a set with
        no images to add, a second brand kit, or more images than the model takes (400, with
        the count left).
        """
        refs: list[Reference] = []
        brand: Brand | None = None
        brand_name: str | None = None
        for i, use in enumerate(uses):
            where = f"{param}[{i}]"
            loaded = self.load(use.id, principal, f"{where}.id")
            ref_set, rows = loaded.ref_set, loaded.images
            if use.take is not None:
                rows = rows[: use.take]
            if ref_set.kind == SetKind.BRAND_KIT:
                if brand_name is not None:
                    raise InvalidRequestError(
                        f"{where}: {ref_set.name!r} is a second brand kit (the request already "
                        f"applies {brand_name!r}); a request applies one brand kit",
                        param=where,
                    )
                brand, brand_name = self.brand(ref_set), ref_set.name
            elif not rows:
                raise InvalidRequestError(
                    f"{where}: reference set {ref_set.name!r} ({ref_set.id}) has no images yet;"
                    f" add some with POST /api/references/{ref_set.id}/images", param=where,
                )  # fmt: skip
            if used + len(refs) + len(rows) > limit:
                left = max(limit - used - len(refs), 0)
                hint = (f"send take: {left} to use the set's first {left}" if left
                        else "leave out a reference or a set")  # fmt: skip
                raise CapabilityError(
                    f"{where}: reference set {ref_set.name!r} adds {len(rows)} image(s); model "
                    f"{model!r} takes at most {limit} reference image(s) in all and the request "
                    f"already has {used + len(refs)} ({left} left); {hint}", param=where,
                )  # fmt: skip
            for row in rows:
                image = ImageInput(self.blobs.get(row.blob_key), row.width, row.height,
                                   row.format, row.label or None)  # fmt: skip
                refs.append(Reference(image, use.role or ReferenceRole(row.role)))
        return tuple(refs), brand

    def brand(self, ref_set: ReferenceSet) -> Brand:
        """A brand kit as the request's brand (its logo read from the blob store)."""
        logo = None
        if ref_set.logo_blob is not None:
            logo = ImageInput(self.blobs.get(ref_set.logo_blob), ref_set.logo_width or 0,
                              ref_set.logo_height or 0, ref_set.logo_format or "png", "logo")  # fmt: skip
        fonts = ref_set.fonts or {}
        return Brand(
            palette=tuple(ref_set.palette or ()), headline_font=fonts.get("headline"),
            body_font=fonts.get("body"), tone=tuple(ref_set.tone or ()), logo=logo,
        )  # fmt: skip

    # -- views ---------------------------------------------------------------------------
    @staticmethod
    def view(loaded: Loaded, base_url: str = "") -> dict[str, Any]:
        ref_set = loaded.ref_set
        url = f"{base_url}/api/references/{ref_set.id}"
        logo = None
        if ref_set.logo_blob is not None:
            logo = {"width": ref_set.logo_width, "height": ref_set.logo_height,
                    "format": ref_set.logo_format, "url": f"{url}/logo"}  # fmt: skip
        return {
            "id": ref_set.id, "object": "reference_set", "name": ref_set.name,
            "kind": ref_set.kind, "description": ref_set.description,
            "default_role": DEFAULT_ROLE[SetKind(ref_set.kind)].value,
            "palette": list(ref_set.palette or []), "fonts": dict(ref_set.fonts or {}),
            "tone": list(ref_set.tone or []), "logo": logo,
            "images": [{
                "id": row.id, "object": "reference_set.image", "position": row.position,
                "role": row.role, "label": row.label or None, "width": row.width,
                "height": row.height, "format": row.format, "bytes": row.bytes,
                "url": f"{url}/images/{row.id}/file",
            } for row in loaded.images],
            "created": int(ref_set.created_at), "updated": int(ref_set.updated_at),
        }  # fmt: skip

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _no_brand_fields(kind: SetKind, given: set[str]) -> None:
        for field in BRAND_FIELDS:
            if field in given:
                raise InvalidRequestError(
                    f"{field}: only brand kits (kind 'brand_kit') carry a {field}; this set's "
                    f"kind is {kind.value!r}", param=field,
                )  # fmt: skip

    def _image_rows(
        self, ref_set: ReferenceSet, images: Sequence[NewImage], after: int, now: float
    ) -> list[ReferenceImage]:
        default = DEFAULT_ROLE[SetKind(ref_set.kind)]
        rows = []
        for i, new in enumerate(images):
            label = _text(new.label, f"images[{i}].label", MAX_LABEL)
            key = self.blobs.put(new.image.data, _extension(new.image.format))
            rows.append(ReferenceImage(
                id=new_id("rimg"), set_id=ref_set.id, position=after + 1 + i, blob_key=key,
                format=new.image.format, width=new.image.width, height=new.image.height,
                bytes=len(new.image.data), role=(new.role or default).value, label=label,
                created_at=now,
            ))  # fmt: skip
        return rows

    def _set_logo(self, ref_set: ReferenceSet, logo: ImageInput) -> None:
        ref_set.logo_blob = self.blobs.put(logo.data, _extension(logo.format))
        ref_set.logo_width, ref_set.logo_height = logo.width, logo.height
        ref_set.logo_format = logo.format

    @staticmethod
    def _check_name(s: Session, principal: Principal, name: str) -> None:
        taken = s.scalar(select(ReferenceSet.id).where(_owned_by(principal),
                                                       ReferenceSet.name == name))  # fmt: skip
        if taken is not None:
            raise InvalidRequestError(
                f"name: you already have a reference set named {name!r} ({taken}); choose "
                "another name", param="name", code="reference_set_name_taken",
            )  # fmt: skip

    @staticmethod
    def _check_room(s: Session, principal: Principal) -> None:
        count = s.scalar(select(func.count()).select_from(ReferenceSet).where(
            _owned_by(principal))) or 0  # fmt: skip
        if count >= MAX_SETS:
            raise InvalidRequestError(
                f"you have {count} reference sets, the most one owner may keep; delete some "
                "first", param=None, code="reference_set_limit",
            )  # fmt: skip

    def _recorded(
        self, s: Session, idem: Idempotency, purge: bool = True
    ) -> IdempotencyRecord | None:
        if purge:
            s.execute(delete(IdempotencyRecord).where(
                IdempotencyRecord.created_at < self.clock() - self.retention))  # fmt: skip
        return s.scalar(select(IdempotencyRecord).where(
            IdempotencyRecord.scope == idem.scope, IdempotencyRecord.key == idem.key))  # fmt: skip

    @staticmethod
    def _replay(s: Session, record: IdempotencyRecord, idem: Idempotency) -> ReferenceSet:
        if record.fingerprint != idem.fingerprint:
            raise IdempotencyReusedError(
                "Idempotency-Key: this key was used with a different request body; "
                "use a new key for a new request", param="Idempotency-Key",
            )  # fmt: skip
        ref_set = s.get(ReferenceSet, record.response_body or "")
        if ref_set is None:
            raise NotFoundError("Idempotency-Key: the reference set this key made was deleted",
                                param="Idempotency-Key", code="reference_set_not_found")  # fmt: skip
        return ref_set


def _owned_by(principal: Principal) -> Any:
    """The caller's own sets (the local user's: those with no owner)."""
    if principal.user_id is None:
        return ReferenceSet.user_id.is_(None)
    return ReferenceSet.user_id == principal.user_id


def _extension(fmt: str) -> str:
    ext = {"jpeg": "jpg"}.get(fmt, fmt)
    return ext if ext in ("png", "jpg", "webp") else "bin"
