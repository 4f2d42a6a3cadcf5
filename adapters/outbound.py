"""Sending without a prompt (reminders): one ``Sender`` per channel that can do it
(``adapters.senders.build_senders`` makes them).

A sender raises :class:`bot.errors.ChannelError` for a failure worth retrying later. A refusal
that means "never message this person" (Twilio 21610, a Telegram user who blocked the bot) is
handled inside the sender by recording an opt-out, and is not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from bot.models import Reply, Session
from bot.schema import Flow


class Sender(Protocol):
    async def send(self, address: str, replies: list[Reply]) -> object: ...


@dataclass(frozen=True)
class Unprompted:
    """A message the person did not prompt (a reminder, the closing message), with what a
    channel needs to choose how it may send it (WhatsApp: the time of their last message)."""

    kind: Literal["remind", "final"]
    flow: Flow
    session: Session
    replies: list[Reply]
    now: datetime


@runtime_checkable
class UnpromptedSender(Protocol):
    """A sender with its own rules for unprompted messages (the worker uses it when it can)."""

    async def send_unprompted(self, message: Unprompted) -> object: ...
