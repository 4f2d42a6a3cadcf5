"""Officer accounts: names, roles, argon2id password hashes, and signing in with the throttle.

Used by the console (sign-in, the officers page) and by ``surveybot officer`` (add, remove).
Hashing is argon2-cffi's ``PasswordHasher`` with its defaults (argon2id, RFC 9106's low-memory
profile: 64 MiB, 3 passes), about 0.15 s of one core per hash: it runs in a thread, at most two
at once per process, and only after the throttle said the attempt may be made.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.errors import SurveybotError
from store.officers import ROLES, Lockout, Officer, OfficerStore

NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}\Z")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
"""Longest password accepted (hashing a megabyte would be a cheap way to burn CPU)."""


class AccountError(SurveybotError):
    """An account cannot be added or changed as asked (a plain sentence for the officer)."""


def check_name(name: str) -> str:
    """The officer name as stored (lower case), or :class:`AccountError` saying what is wrong."""
    folded = name.strip().lower()
    if not NAME.match(folded):
        raise AccountError(
            f"{name!r} is not a usable officer name: 2 to 64 letters, digits and . _ @ -, "
            "starting with a letter or digit (e.g. jane.smith)"
        )
    return folded


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role {role!r}: use one of {', '.join(ROLES)}")
    return role


def check_password(password: str, name: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            f"the password is too short: at least {MIN_PASSWORD} characters (three random "
            "words make a good one)"
        )
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is too long: at most {MAX_PASSWORD} characters")
    if name.lower() in password.lower():
        raise AccountError("the password must not contain the officer's name")


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the officer, or why not."""

    officer: Officer | None = None
    lockout: Lockout | None = None


class Accounts:
    def __init__(self, store: OfficerStore, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.hasher = hasher or PasswordHasher()
        self._hashing = asyncio.Semaphore(2)
        self._dummy: str | None = None

    async def _hash(self, password: str) -> str:
        async with self._hashing:
            return await asyncio.to_thread(self.hasher.hash, password)

    async def _verify(self, hashed: str, password: str) -> bool:
        def verify() -> bool:
            try:
                return self.hasher.verify(hashed, password)
            except (VerificationError, InvalidHashError):
                return False

        async with self._hashing:
            return await asyncio.to_thread(verify)

    async def add(self, name: str, role: str, password: str, *, by: str, now: datetime) -> Officer:
        name = check_name(name)
        check_role(role)
        check_password(password, name)
        officer = Officer(name, role, await self._hash(password), now, by)
        if not await self.store.add(officer):
            raise AccountError(f"there is already an officer called {name!r}")
        return officer

    async def set_password(self, name: str, password: str) -> None:
        """A new password; every session of theirs ends."""
        officer = await self.store.get(check_name(name))
        if officer is None:
            raise AccountError(f"there is no officer called {name!r}")
        check_password(password, officer.name)
        changed = Officer(
            officer.name,
            officer.role,
            await self._hash(password),
            officer.created_at,
            officer.created_by,
        )
        await self.store.put(changed)
        await self.store.end_sessions(officer.name)
        await self.store.unlock(officer.name)

    async def set_role(self, name: str, role: str) -> Officer:
        officer = await self.store.get(check_name(name))
        if officer is None:
            raise AccountError(f"there is no officer called {name!r}")
        changed = Officer(
            officer.name,
            check_role(role),
            officer.password_hash,
            officer.created_at,
            officer.created_by,
        )
        await self.store.put(changed)
        return changed

    async def sign_in(self, name: str, password: str, address: str) -> SignIn:
        """Check a name and password, throttled per account and per address: a locked account
        or address is refused before any hashing, and every failure counts against both."""
        folded = name.strip().lower()[:64]
        key = folded if NAME.match(folded) else "-invalid-"
        locked = await self.store.locked(key, address)
        if locked is not None:
            return SignIn(lockout=locked)
        officer = await self.store.get(key) if key != "-invalid-" else None
        if officer is None and self._dummy is None:
            # Verified for unknown names, so a wrong name takes as long as a wrong password.
            self._dummy = await self._hash(secrets.token_urlsafe(16))
        hashed = officer.password_hash if officer is not None else self._dummy
        ok = len(password) <= MAX_PASSWORD and await self._verify(hashed or "", password)
        if officer is None or not ok:
            await self.store.failed(key, address)
            return SignIn()
        await self.store.succeeded(officer.name)
        if self.hasher.check_needs_rehash(officer.password_hash):
            officer = Officer(
                officer.name, officer.role, await self._hash(password),
                officer.created_at, officer.created_by,
            )  # fmt: skip
            await self.store.put(officer)
        return SignIn(officer=officer)
