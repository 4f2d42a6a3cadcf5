"""Sending without a prompt (reminders): one ``Sender`` per channel that can do it.

A sender raises :class:`bot.errors.ChannelError` for a failure worth retrying later. A refusal
that means "never message this person" (Twilio 21610, a Telegram user who blocked the bot) is
handled inside the sender by recording an opt-out, and is not an error.
"""

from __future__ import annotations

from typing import Protocol

from bot.models import Reply


class Sender(Protocol):
    async def send(self, address: str, replies: list[Reply]) -> object: ...
