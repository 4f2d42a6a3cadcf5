"""The officers' console in Redis: accounts, signed-in sessions and the sign-in throttle.

Every key carries the hash tag ``{console}`` (one cluster slot: a council has a handful of
officers, who sign in a few times a day):

======================================  ======  ==================================================
key                                     type    what
======================================  ======  ==================================================
``sb:{console}:officers``               HASH    officer name -> JSON ``{role, hash, created_at,
                                                created_by}``; ``hash`` is an argon2id hash
                                                (``adapters.officers.accounts``), never a password
``sb:{console}:s:<sha256 of token>``    STRING  a signed-in session: JSON ``{officer, csrf,
                                                created_at}``; TTL = the idle timeout, renewed
                                                by each request until the absolute limit
``sb:{console}:os:<officer>``           SET     the officer's session keys (removing an officer
                                                or changing their password ends them all)
``sb:{console}:fail:a:<officer>``       STRING  failed sign-ins to that account in the window
``sb:{console}:fail:ip:<address>``      STRING  failed sign-ins from that address in the window
``sb:{console}:draft:<id>``             STRING  a draft being edited or previewed: JSON ``{flow,
                                                text, by, at}``; TTL a day (``store.published``)
``sb:{console}:pv:<id>``                STRING  a preview conversation's session (never a
                                                respondent's: nothing of it reaches the responses)
======================================  ======  ==================================================

The session token itself is only in the officer's cookie: Redis holds its SHA-256, so a copy of
the database does not let anyone sign in. Nothing here is about a respondent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from store.client import AnyRedis, redis_errors
from store.keys import KeyBuilder
from store.scripts import Script

ROLES = ("viewer", "editor", "admin")
"""What an officer may do: a viewer sees, an editor also edits and publishes, an admin also
manages officers."""

_FAIL = Script(
    """
-- KEYS: 1 account counter, 2 address counter.  ARGV: 1 window ms.
-- Reply: {failures of the account, failures of the address} in their windows, this one counted.
local a = redis.call('INCR', KEYS[1])
if a == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local b = redis.call('INCR', KEYS[2])
if b == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return {a, b}
"""
)


def _ms(d: timedelta) -> int:
    return max(1, int(d.total_seconds() * 1000))


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


def token_key(token: str) -> str:
    """What a session is stored under: the token's SHA-256 (the token is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Officer:
    name: str
    role: str
    password_hash: str
    created_at: datetime
    created_by: str

    def may(self, role: str) -> bool:
        """Whether this officer has ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class ConsoleSession:
    key: str
    officer: str
    csrf: str
    created_at: datetime


@dataclass(frozen=True)
class Lockout:
    """How long until sign-in may be tried again, and why (the account or the address)."""

    seconds: int
    scope: str


class OfficerStore:
    def __init__(
        self,
        redis: AnyRedis,
        keys: KeyBuilder,
        *,
        idle: timedelta = timedelta(minutes=60),
        lifetime: timedelta = timedelta(hours=12),
        window: timedelta = timedelta(minutes=15),
        per_account: int = 5,
        per_address: int = 20,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.idle = idle
        self.lifetime = lifetime
        self.window = window
        self.per_account = per_account
        self.per_address = per_address

    def _k(self, suffix: str) -> str:
        return f"{self.keys.prefix}:{{console}}:{suffix}"

    # -- accounts ----------------------------------------------------------------------------

    async def get(self, name: str) -> Officer | None:
        with redis_errors("officers"):
            raw = await self.redis.hget(self._k("officers"), name)
        return _officer(name, raw) if raw is not None else None

    async def all(self) -> list[Officer]:
        with redis_errors("officers"):
            rows = await self.redis.hgetall(self._k("officers"))
        found = [_officer(_text(k), v) for k, v in rows.items()]
        return sorted(found, key=lambda o: o.name)

    async def put(self, officer: Officer) -> None:
        data = {
            "role": officer.role,
            "hash": officer.password_hash,
            "created_at": officer.created_at.isoformat(),
            "created_by": officer.created_by,
        }
        with redis_errors("officers"):
            await self.redis.hset(self._k("officers"), officer.name, orjson.dumps(data))

    async def add(self, officer: Officer) -> bool:
        """Add a new officer; False if the name is taken (nothing changed)."""
        data = {
            "role": officer.role,
            "hash": officer.password_hash,
            "created_at": officer.created_at.isoformat(),
            "created_by": officer.created_by,
        }
        with redis_errors("officers"):
            return bool(
                await self.redis.hsetnx(self._k("officers"), officer.name, orjson.dumps(data))
            )

    async def remove(self, name: str) -> bool:
        """Remove an officer and end every session they have. False if there was none."""
        with redis_errors("officers"):
            removed = await self.redis.hdel(self._k("officers"), name)
        await self.end_sessions(name)
        return bool(removed)

    # -- sessions ----------------------------------------------------------------------------

    async def create_session(self, token: str, officer: str, csrf: str, now: datetime) -> None:
        key = self._k("s:" + token_key(token))
        data = {"officer": officer, "csrf": csrf, "created_at": now.isoformat()}
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(key, orjson.dumps(data), px=_ms(self.idle))
        pipe.sadd(self._k("os:" + officer), key)
        pipe.pexpire(self._k("os:" + officer), _ms(self.lifetime))
        with redis_errors("console session"):
            await pipe.execute()

    async def session(self, token: str, now: datetime) -> ConsoleSession | None:
        """The session of a cookie's token, renewed for another idle period; None when it is
        unknown, timed out, or older than the absolute lifetime (then it is deleted)."""
        if not token or len(token) > 200:
            return None
        key = self._k("s:" + token_key(token))
        with redis_errors("console session"):
            raw = await self.redis.get(key)
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
            created = datetime.fromisoformat(data["created_at"])
            found = ConsoleSession(key, str(data["officer"]), str(data["csrf"]), created)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        left = created + self.lifetime - now
        if left <= timedelta(0):
            await self.end_session(found.key, found.officer)
            return None
        with redis_errors("console session"):
            await self.redis.pexpire(key, _ms(min(self.idle, left)))
        return found

    async def end_session(self, key: str, officer: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(key)
        pipe.srem(self._k("os:" + officer), key)
        with redis_errors("console session"):
            await pipe.execute()

    async def end_sessions(self, officer: str) -> None:
        """Sign an officer out everywhere (removed, or their password changed)."""
        index = self._k("os:" + officer)
        with redis_errors("console session"):
            keys = [_text(k) for k in await self.redis.smembers(index)]
            await self.redis.delete(index, *keys)

    # -- the sign-in throttle ----------------------------------------------------------------

    async def locked(self, officer: str, address: str) -> Lockout | None:
        """Whether sign-in is refused for now (too many failures for this account or from this
        address), checked before any password is hashed."""
        a, b = self._k("fail:a:" + officer), self._k("fail:ip:" + address)
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(a)
        pipe.pttl(a)
        pipe.get(b)
        pipe.pttl(b)
        with redis_errors("sign-in throttle"):
            na, ta, nb, tb = await pipe.execute()
        if na is not None and int(na) >= self.per_account:
            return Lockout(max(1, int(ta) // 1000), "account")
        if nb is not None and int(nb) >= self.per_address:
            return Lockout(max(1, int(tb) // 1000), "address")
        return None

    async def failed(self, officer: str, address: str) -> None:
        keys = [self._k("fail:a:" + officer), self._k("fail:ip:" + address)]
        with redis_errors("sign-in throttle"):
            await _FAIL(self.redis, keys, [_ms(self.window)])

    async def succeeded(self, officer: str) -> None:
        """A right password clears the account's failures (not the address's: one good account
        must not reset a guesser's count against the others)."""
        with redis_errors("sign-in throttle"):
            await self.redis.delete(self._k("fail:a:" + officer))

    async def unlock(self, officer: str) -> None:
        with redis_errors("sign-in throttle"):
            await self.redis.delete(self._k("fail:a:" + officer))

    # -- drafts and previews (short-lived, the console's own) --------------------------------

    async def put_blob(self, kind: str, ident: str, data: dict[str, Any], ttl: timedelta) -> None:
        with redis_errors("console draft"):
            await self.redis.set(self._k(f"{kind}:{ident}"), orjson.dumps(data), px=_ms(ttl))

    async def get_blob(self, kind: str, ident: str) -> dict[str, Any] | None:
        with redis_errors("console draft"):
            raw = await self.redis.get(self._k(f"{kind}:{ident}"))
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return data if isinstance(data, dict) else None


def _officer(name: str, raw: bytes | str) -> Officer:
    data = orjson.loads(raw)
    role = data.get("role")
    return Officer(
        name=name,
        role=role if role in ROLES else "viewer",
        password_hash=str(data.get("hash", "")),
        created_at=datetime.fromisoformat(data.get("created_at") or "1970-01-01T00:00:00+00:00"),
        created_by=str(data.get("created_by", "")),
    )
