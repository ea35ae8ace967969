"""``pixelforge users``, ``keys`` and ``credits``: accounts on the local store."""

from __future__ import annotations

import sys
import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from pixelforge.cli_support import (
    UsageError,
    _as_cli,
    _store,
    err,
    out,
)
from pixelforge.errors import InvalidRequestError, NotFoundError
from pixelforge.services.pricing import from_micro, to_micro

if TYPE_CHECKING:
    pass

users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
credits_app = typer.Typer(help="Manage credits.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="The user's email (their sign-in name).")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user; the password comes from a prompt or --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = _store()
    try:
        user = store.accounts.create_user(email, password, "admin" if admin else "member")
    except InvalidRequestError as exc:
        raise _as_cli(exc) from None
    finally:
        store.db.dispose()
    out.print(f"{user.id} {user.email} {user.role}", markup=False)


@users_app.command("list")
def users_list() -> None:
    """List users with their role and balance."""
    store = _store()
    try:
        table = Table("id", "email", "role", "balance (USD)")
        for user in store.accounts.list_users():
            table.add_row(user.id, user.email, user.role,
                          str(from_micro(store.credits.balance(user.id))))  # fmt: skip
        out.print(table)
    finally:
        store.db.dispose()


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="Owner's email.")],
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "default",
    expires_days: Annotated[
        float | None, typer.Option("--expires-days", help="Expire after this many days.")
    ] = None,
    budget: Annotated[str | None, typer.Option("--budget", help="Spending cap in USD.")] = None,
) -> None:
    """Create an API key and print it once (it is stored only as a hash)."""
    store = _store()
    try:
        owner = store.accounts.user_by_email(user)
        expires = time.time() + expires_days * 86400 if expires_days else None
        cap = _usd(budget, "--budget") if budget is not None else None
        key, raw = store.accounts.create_key(owner.id, name, expires_at=expires, budget=cap)
    except (InvalidRequestError, NotFoundError) as exc:
        raise UsageError(f"--user: {exc.message}") from None
    finally:
        store.db.dispose()
    err.print(f"key {key.id} for {owner.email}; copy it now, it is not shown again:",
              markup=False)  # fmt: skip
    out.print(raw, markup=False)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")]) -> None:
    """Revoke an API key; it stops working at once."""
    store = _store()
    try:
        key = store.accounts.revoke_key(key_id, None)
    except NotFoundError as exc:
        raise UsageError(f"KEY_ID: {exc.message}") from None
    finally:
        store.db.dispose()
    out.print(f"revoked {key.id} ({key.name})", markup=False)


def _usd(text: str, option: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(
            f"{option}: {text!r} is not an amount; write USD like 10 or 2.50"
        ) from None
    if not value.is_finite() or value.as_tuple().exponent < -6:  # type: ignore[operator]
        raise UsageError(f"{option}: {text!r} is not an amount; at most 6 decimals")
    return to_micro(value)


@credits_app.command("grant")
def credits_grant(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    amount: Annotated[str, typer.Argument(help="USD, e.g. 10 or 2.50.")],
    note: Annotated[str, typer.Option("--note", help="Why (kept in the ledger).")] = "cli grant",
) -> None:
    """Grant credits to a user and print the new balance."""
    micro = _usd(amount, "AMOUNT")
    store = _store()
    try:
        user = store.accounts.user_by_email(email)
        balance = store.credits.grant(user.id, micro, note)
    except NotFoundError as exc:
        raise UsageError(f"EMAIL: {exc.message}") from None
    except InvalidRequestError as exc:
        raise UsageError(f"AMOUNT: {exc.message}") from None
    finally:
        store.db.dispose()
    out.print(f"{user.email} balance {from_micro(balance)} USD", markup=False)
