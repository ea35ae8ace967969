"""``pixelforge refs``: the reference library on the local store (the server's database and
blob folder), and ``generate --ref-set`` (see ``services.references``).

The command line acts as the local user: sets it creates have no owner (the ones a server
with accounts off shows) unless ``--user EMAIL`` names one; it may read and use any set by id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pixelforge.domain import Brand, Reference
    from pixelforge.engines.registry import ModelRegistry
    from pixelforge.services.accounts import Principal
    from pixelforge.services.references import ReferenceService

refs_app = typer.Typer(
    help="Saved reference sets: characters, products, styles, brand kits.", no_args_is_help=True
)

#: Request field -> the option that sets it, for error messages.
_OPTION_OF = {
    "name": "NAME", "kind": "--kind", "images": "--image", "palette": "--palette",
    "fonts": "--font", "tone": "--tone", "logo": "--logo", "description": "--description",
    "role": "--role", "set_id": "SET",
}  # fmt: skip


def _usage(message: str, param: str | None, options: dict[str, str]) -> Exception:
    """A one-line usage error naming the option instead of the API field."""
    from pixelforge.cli_support import UsageError

    root = (param or "").split(".")[0].split("[")[0]
    option = options.get(root, f"--{root}" if root else "error")
    for prefix in (param, root):
        if prefix and message.startswith(f"{prefix}: "):
            message = message[len(prefix) + 2 :]
            break
    return UsageError(f"{option}: {message}")


@contextmanager
def _library() -> Iterator[ReferenceService]:
    """The reference service on the local store; the database is closed afterwards."""
    from pixelforge.bootstrap import open_store
    from pixelforge.config import Settings
    from pixelforge.services.references import ReferenceService
    from pixelforge.store.blobs import LocalBlobStore

    settings = Settings()
    store = open_store(settings)
    try:
        yield ReferenceService(store.db, LocalBlobStore(settings.blob_dir))
    finally:
        store.db.dispose()


def _owner(email: str | None) -> Principal:
    """The local user, or the account ``email`` names."""
    from pixelforge.bootstrap import open_store
    from pixelforge.cli_support import UsageError
    from pixelforge.errors import NotFoundError
    from pixelforge.services.accounts import LOCAL, Principal

    if email is None:
        return LOCAL
    store = open_store()
    try:
        user = store.accounts.user_by_email(email)
    except NotFoundError as exc:
        raise UsageError(f"--user: {exc.message}") from None
    finally:
        store.db.dispose()
    return Principal(user.id, user.email, user.role, "local")


def _read(path: Path, option: str) -> bytes:
    from pixelforge.cli_support import UsageError

    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {str(path)!r} ({exc.strerror})") from None


def _fonts(pairs: list[str]) -> dict[str, str]:
    from pixelforge.cli_support import UsageError

    fonts = {}
    for pair in pairs:
        role, sep, family = pair.partition("=")
        if not sep or not role.strip() or not family.strip():
            raise UsageError(f"--font: {pair!r} is not ROLE=FAMILY; e.g. headline=serif")
        fonts[role.strip()] = family.strip()
    return fonts


@refs_app.command("create")
def refs_create(
    name: Annotated[str, typer.Argument(help="The set's name (unique per owner).")],
    kind: Annotated[
        str, typer.Option("--kind", "-k", help="character, product, style or brand_kit.")
    ],
    image: Annotated[
        list[Path] | None, typer.Option("--image", "-i", help="An image of the set (repeatable).")
    ] = None,
    role: Annotated[
        str | None, typer.Option("--role", help="Role of the images (default: the kind's).")
    ] = None,
    description: Annotated[str, typer.Option("--description", "-d", help="Notes.")] = "",
    palette: Annotated[
        str | None, typer.Option("--palette", help='Brand kits: "#112233,#445566".')
    ] = None,
    font: Annotated[
        list[str] | None, typer.Option("--font", help="Brand kits: ROLE=FAMILY (repeatable).")
    ] = None,
    logo: Annotated[Path | None, typer.Option("--logo", help="Brand kits: logo image.")] = None,
    tone: Annotated[
        list[str] | None, typer.Option("--tone", help="Brand kits: a tone word (repeatable).")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Owner's email (default: the local user).")
    ] = None,
) -> None:
    """Save a reference set and print its id."""
    from pixelforge.cli_support import out
    from pixelforge.domain.request import ReferenceRole, parse_enum
    from pixelforge.errors import InvalidRequestError
    from pixelforge.services.images import load_image
    from pixelforge.services.references import NewImage

    owner = _owner(user)
    try:
        chosen = parse_enum(ReferenceRole, role, "role") if role is not None else None
        images = [
            NewImage(load_image(_read(path, "--image"), f"images[{i}]", path.name), chosen)
            for i, path in enumerate(image or [])
        ]
        brand_logo = load_image(_read(logo, "--logo"), "logo", logo.name) if logo else None
        colors = [c.strip() for c in palette.split(",") if c.strip()] if palette else []
        with _library() as library:
            ref_set, _ = library.create(
                name, kind, description=description, images=images, palette=colors,
                fonts=_fonts(font or []), tone=tone or [], logo=brand_logo, principal=owner,
            )  # fmt: skip
            count = len(library.images(ref_set.id))
    except InvalidRequestError as exc:
        raise _usage(exc.message, exc.param, _OPTION_OF) from None
    out.print(f"{ref_set.id} {ref_set.name} {ref_set.kind} {count} image(s)", markup=False)


@refs_app.command("list")
def refs_list(
    kind: Annotated[str | None, typer.Option("--kind", "-k", help="Only this kind.")] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Sets of this account (default: the local user's)."),
    ] = None,
) -> None:
    """List reference sets: id, name, kind, images, brand kit fields, created."""
    from rich.table import Table

    from pixelforge.cli_support import err, out
    from pixelforge.errors import InvalidRequestError

    owner = _owner(user)
    try:
        with _library() as library:
            page, total = library.search(owner, kind, 0, 1000)
    except InvalidRequestError as exc:
        raise _usage(exc.message, exc.param, _OPTION_OF) from None
    table = Table("id", "name", "kind", "images", "brand", "created")
    for loaded in page:
        r = loaded.ref_set
        brand = ", ".join(
            part for part in (" ".join(r.palette or []), ", ".join(r.tone or []),
                              "logo" if r.logo_blob else "") if part
        )  # fmt: skip
        created = datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(r.id, r.name, r.kind, str(len(loaded.images)), brand, created)
    table.columns[0].overflow = "fold"
    out.print(table)
    if not total:
        err.print("no reference sets yet: pixelforge refs create NAME --kind KIND --image FILE",
                  style="dim")  # fmt: skip


@refs_app.command("show")
def refs_show(
    set_ref: Annotated[str, typer.Argument(metavar="SET", help="The set's id or name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the set as JSON.")] = False,
) -> None:
    """Show a reference set: its fields and images."""
    from rich.table import Table

    from pixelforge.cli_support import UsageError, out
    from pixelforge.errors import NotFoundError

    try:
        with _library() as library:
            loaded = library.load(library.find(set_ref).id)
            view = library.view(loaded)
    except NotFoundError as exc:
        raise UsageError(f"SET: {exc.message.removeprefix('set_id: ')}") from None
    if as_json:
        out.print(json.dumps(view, ensure_ascii=False, indent=2), markup=False)
        return
    out.print(f"{view['id']}  {view['name']}  ({view['kind']})", markup=False)
    for field in ("description", "default_role"):
        if view[field]:
            out.print(f"{field}: {view[field]}", markup=False)
    if view["palette"]:
        out.print(f"palette: {', '.join(view['palette'])}", markup=False)
    if view["fonts"]:
        fonts = ", ".join(f"{k}={v}" for k, v in view["fonts"].items())
        out.print(f"fonts: {fonts}", markup=False)
    if view["tone"]:
        out.print(f"tone: {', '.join(view['tone'])}", markup=False)
    if view["logo"]:
        out.print(f"logo: {view['logo']['width']}x{view['logo']['height']}", markup=False)
    table = Table("#", "image id", "role", "label", "size")
    for item in view["images"]:
        table.add_row(str(item["position"]), item["id"], item["role"], item["label"] or "",
                      f"{item['width']}x{item['height']}")  # fmt: skip
    table.columns[1].overflow = "fold"
    out.print(table)


@refs_app.command("delete")
def refs_delete(
    set_ref: Annotated[str, typer.Argument(metavar="SET", help="The set's id or name.")],
) -> None:
    """Delete a reference set (images made with it are kept)."""
    from pixelforge.cli_support import UsageError, out
    from pixelforge.errors import NotFoundError

    try:
        with _library() as library:
            ref_set = library.find(set_ref)
            library.delete(ref_set.id)
    except NotFoundError as exc:
        raise UsageError(f"SET: {exc.message.removeprefix('set_id: ')}") from None
    out.print(f"deleted {ref_set.id} ({ref_set.name})", markup=False)


def parse_ref_set(spec: str) -> tuple[str, str | None, int | None]:
    """``SET[:ROLE][:N]`` -> (id or name, role, take)."""
    from pixelforge.cli_support import UsageError

    head, *rest = spec.split(":")
    role: str | None = None
    take: int | None = None
    for part in rest:
        if part.isdigit() and take is None:
            take = int(part)
        elif role is None and part and not part.isdigit():
            role = part
        else:
            raise UsageError(f"--ref-set: {spec!r} is not SET[:ROLE][:N], e.g. ref_1a2b:style:2")
    if not head.strip():
        raise UsageError(f"--ref-set: {spec!r} names no set; write SET[:ROLE][:N]")
    return head.strip(), role, take


def ref_sets(
    specs: list[str], model: str, used: int, registry: ModelRegistry
) -> tuple[tuple[Reference, ...], Brand | None]:
    """The references and brand kit ``generate --ref-set`` adds (sets by id or name)."""
    from pixelforge.cli_support import UsageError, _as_cli
    from pixelforge.domain.request import ReferenceRole, parse_enum
    from pixelforge.errors import InvalidRequestError, NotFoundError
    from pixelforge.services.accounts import LOCAL
    from pixelforge.services.references import SetUse

    parsed = [parse_ref_set(spec) for spec in specs]
    try:
        _, info = registry.resolve(model)
        with _library() as library:
            uses = []
            for i, (name, role, take) in enumerate(parsed):
                try:
                    found = library.find(name)
                except NotFoundError:
                    raise UsageError(f"--ref-set: no reference set {name!r} (by id, or by name "
                                     "among the local user's sets); see `pixelforge refs list`"
                                     ) from None  # fmt: skip
                which = (
                    parse_enum(ReferenceRole, role, f"reference_sets[{i}].role") if role else None
                )
                if take is not None and take < 1:
                    raise UsageError(f"--ref-set: {specs[i]!r}: N must be 1 or more")
                uses.append(SetUse(found.id, which, take))
            return library.for_request(
                uses, LOCAL, limit=info.capabilities.max_references, used=used, model=model
            )
    except InvalidRequestError as exc:
        hint = re.sub(r"send take: (\d+)", r"write --ref-set SET:\1", exc.message)
        raise _as_cli(type(exc)(hint, param=exc.param, code=exc.code)) from None
