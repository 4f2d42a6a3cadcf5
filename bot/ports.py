"""The small protocol through which ``bot`` uses a session store (implemented in ``store/``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from bot.audit import AuditEntry
from bot.misses import Miss
from bot.models import Session, Step
from bot.schema import Flow


class LoadedLike(Protocol):
    @property
    def session(self) -> Session | None: ...

    @property
    def duplicate(self) -> bool: ...

    @property
    def opted_out(self) -> bool: ...

    @property
    def rev(self) -> int:
        """The stored version (0 when nothing is stored): what a commit replacing it expects."""

    @property
    def latest_at(self) -> int | None:
        """A duplicate of the respondent's last committed message: that commit's epoch ms."""


class SessionStore(Protocol):
    def respondent(self, channel: str, address: str) -> str: ...

    async def load(
        self, respondent: str, message_id: str | None, *, cached: bool = False
    ) -> LoadedLike:
        """``cached``: a session this process committed may come from memory (no duplicate
        check then; the commit checks)."""

    async def commit(
        self,
        step: Step,
        *,
        expected_rev: int,
        message_id: str | None,
        flow: Flow,
        now: datetime,
        limited: bool = True,
    ) -> Session:
        """Store the step's session, answers and ``message_id`` together if the stored rev is
        still ``expected_rev``; the session as stored. Raises ConflictError when the stored rev
        moved on (reload and step again; ``DuplicateMessage`` when ``message_id`` was already
        committed), RateLimited when the sender is over the limit (an inbound message, i.e. one
        with a ``message_id``, unless ``limited`` is False). Nothing is written when it raises."""

    async def throttle(self, respondent: str) -> int:
        """Count a message that commits nothing; how far over the limit the sender is."""


class MissRecorder(Protocol):
    async def record(self, step: Step, misses: Sequence[Miss], now: datetime) -> None:
        """Log a committed step's misses (masked already; ``bot.misses``) for the officer.
        May raise on a store failure: the caller logs it and carries on."""


class AuditTrail(Protocol):
    async def record_respondent(self, rid: str, entries: Iterable[AuditEntry]) -> None:
        """Append a respondent's audit entries (``bot.audit.step_entries``)."""
