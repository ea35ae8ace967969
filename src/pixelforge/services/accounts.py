"""Accounts: users, passwords (argon2id), browser sessions and API keys.

Secrets are never stored: sessions and API keys are kept as SHA-256 hashes of random
tokens, passwords as argon2id hashes (argon2-cffi defaults, rehashed on sign-in when the
parameters change). Lookups are by hash through bound parameters.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from pixelforge.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
)
from pixelforge.services.pricing import MAX_MICRO, from_micro
from pixelforge.store.db import Database
from pixelforge.store.jobs import new_id
from pixelforge.store.models import ApiKey, SessionRecord, User

ROLES = ("admin", "member")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``user_id`` is None only for the local principal (accounts off)."""

    user_id: str | None
    email: str
    role: str
    via: str  # "session", "key" or "local"
    api_key_id: str | None = None
    csrf_token: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def scope(self) -> str:
        return self.api_key_id or self.user_id or "local"


LOCAL = Principal(None, "local", "admin", "local")


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, db: Database, session_seconds: float = 7 * 24 * 3600,
                 idle_seconds: float = 24 * 3600) -> None:  # fmt: skip
        self.db = db
        self.hasher = PasswordHasher()
        self.session_seconds = session_seconds
        self.idle_seconds = idle_seconds
        # Hashing is deliberately expensive: bound how many run at once.
        self._hashing = threading.BoundedSemaphore(4)
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))

    # -- users ----------------------------------------------------------------------------
    def any_users(self) -> bool:
        with self.db.read() as s:
            return bool(s.scalar(select(func.count()).select_from(User)))

    def create_user(self, email: str, password: str | None, role: str = "member") -> User:
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise InvalidRequestError(f"email: {email!r} is not an email address", param="email")
        if role not in ROLES:
            raise InvalidRequestError(f"role: {role!r} is not allowed; allowed: admin, member",
                                      param="role")  # fmt: skip
        if password is not None:
            check_password(password)
        with self._hashing:
            hashed = self.hasher.hash(password) if password is not None else None
        with self.db.write() as s:
            if s.scalar(select(User.id).where(User.email == email)) is not None:
                raise InvalidRequestError(f"email: {email!r} already has an account",
                                          param="email", code="email_taken")  # fmt: skip
            user = User(id=new_id("user"), email=email, password_hash=hashed, role=role,
                        disabled=False, created_at=time.time())  # fmt: skip
            s.add(user)
        return user

    def user_by_email(self, email: str) -> User:
        with self.db.read() as s:
            user = s.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise NotFoundError(f"user {email!r} not found", param="email", code="user_not_found")
        return user

    def list_users(self) -> list[User]:
        with self.db.read() as s:
            return list(s.scalars(select(User).order_by(User.created_at)))

    def emails(self, user_ids: set[str]) -> dict[str, str]:
        """user id -> email, for the ids that exist (e.g. the owners of a list of API keys)."""
        if not user_ids:
            return {}
        with self.db.read() as s:
            rows = s.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
            return {user_id: email for user_id, email in rows}

    # -- sign-in ----------------------------------------------------------------------------
    def verify_password(self, email: str, password: str) -> User:
        """The user, if the password is right; the same error (and work) otherwise."""
        with self.db.read() as s:
            user = s.scalar(select(User).where(User.email == email.strip().lower()))
        ok = False
        with self._hashing:
            try:
                ok = self.hasher.verify(
                    user.password_hash if user and user.password_hash else self._dummy, password
                )
            except (VerificationError, InvalidHashError):
                ok = False
        if not ok or user is None or user.password_hash is None or user.disabled:
            raise AuthenticationError("email or password is wrong", code="invalid_credentials")
        if self.hasher.check_needs_rehash(user.password_hash):
            with self.db.write() as s:
                fresh = s.get(User, user.id)
                if fresh is not None:
                    fresh.password_hash = self.hasher.hash(password)
        return user

    def create_session(self, user: User) -> tuple[str, str]:
        """A new session for ``user``: (raw session id for the cookie, CSRF token)."""
        raw, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with self.db.write() as s:
            s.add(SessionRecord(id_hash=sha256(raw), user_id=user.id, csrf_token=csrf,
                                created_at=now, last_seen_at=now,
                                expires_at=now + self.session_seconds, revoked=False))  # fmt: skip
        return raw, csrf

    def session_principal(self, raw: str) -> Principal | None:
        now = time.time()
        with self.db.write() as s:
            record = s.get(SessionRecord, sha256(raw))
            if record is None or record.revoked or record.expires_at < now:
                return None
            if record.last_seen_at + self.idle_seconds < now:
                record.revoked = True
                return None
            user = s.get(User, record.user_id)
            if user is None or user.disabled:
                return None
            if now - record.last_seen_at > 60:
                record.last_seen_at = now
            return Principal(user.id, user.email, user.role, "session",
                             csrf_token=record.csrf_token)  # fmt: skip

    def revoke_session(self, raw: str) -> None:
        with self.db.write() as s:
            record = s.get(SessionRecord, sha256(raw))
            if record is not None:
                record.revoked = True

    # -- API keys -----------------------------------------------------------------------------
    def create_key(
        self, user_id: str, name: str, *, expires_at: float | None = None,
        budget: int | None = None,
    ) -> tuple[ApiKey, str]:  # fmt: skip
        """A new key: (record, the raw key, shown once and never stored)."""
        if not 1 <= len(name) <= 120:
            raise InvalidRequestError("name: must be 1 to 120 characters", param="name")
        if budget is not None and not 0 <= budget <= MAX_MICRO:
            raise InvalidRequestError(
                f"budget: must be 0 to {from_micro(MAX_MICRO)} USD", param="budget"
            )
        key_id = new_id("key")
        raw = f"pf-{key_id[4:12]}_{secrets.token_urlsafe(32)}"
        record = ApiKey(id=key_id, user_id=user_id, name=name, key_hash=sha256(raw),
                        prefix=raw[:11], last4=raw[-4:], budget=budget, created_at=time.time(),
                        expires_at=expires_at)  # fmt: skip
        with self.db.write() as s:
            if s.get(User, user_id) is None:
                raise NotFoundError(f"user {user_id!r} not found", param="user_id",
                                    code="user_not_found")  # fmt: skip
            s.add(record)
        return record, raw

    def key_principal(self, raw: str) -> Principal | None:
        if not raw or len(raw) > 200:
            return None
        digest = sha256(raw)
        now = time.time()
        with self.db.read() as s:
            key = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
            if key is None or not hmac.compare_digest(key.key_hash, digest):
                return None
            if key.revoked_at is not None or (key.expires_at is not None and key.expires_at < now):
                return None
            user = s.get(User, key.user_id)
        if user is None or user.disabled:
            return None
        return Principal(user.id, user.email, user.role, "key", api_key_id=key.id)

    def list_keys(self, user_id: str | None) -> list[ApiKey]:
        query = select(ApiKey).order_by(ApiKey.created_at)
        if user_id is not None:
            query = query.where(ApiKey.user_id == user_id)
        with self.db.read() as s:
            return list(s.scalars(query))

    def revoke_key(self, key_id: str, owner: str | None) -> ApiKey:
        """Revoke now. ``owner`` None means an admin (any key); else only the owner's keys."""
        with self.db.write() as s:
            key = s.get(ApiKey, key_id)
            if key is None or (owner is not None and key.user_id != owner):
                raise NotFoundError(f"key {key_id!r} not found", param="key_id",
                                    code="key_not_found")  # fmt: skip
            key.revoked_at = key.revoked_at or time.time()
            return key


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidRequestError(
            f"password: must be {MIN_PASSWORD} to {MAX_PASSWORD} characters "
            f"(got {len(password)})", param="password", code="weak_password",
        )  # fmt: skip
    if len(set(password)) < 4:
        raise InvalidRequestError("password: too simple; use more different characters",
                                  param="password", code="weak_password")  # fmt: skip
