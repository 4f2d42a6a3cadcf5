"""Twilio says a number opted out: record it as the respondent's STOP.

On SMS, Twilio handles STOP, UNSUBSCRIBE, CANCEL... itself on long codes and then refuses every
message to that number with error 21610. On WhatsApp, a person who blocks the business (or
withdraws consent) makes Twilio refuse or fail messages with error 63014. Whether we learn it
from a refused REST send or from a status callback, we record it the way a STOP typed to the bot
is recorded: a synthetic ``Inbound(text="STOP")`` through the dispatcher, so the engine marks
the session opted out (and the reply it words is never sent). Its message id
``twilio-<code>:<ref>`` makes a repeated report harmless. A respondent without a live session
gets the store's opt-out marker directly.
"""

from __future__ import annotations

import logging

from adapters.services import Services
from adapters.twilio_common import mask
from bot.models import Inbound, Status
from store.delivery import DeliveryLog

log = logging.getLogger(__name__)

OPTED_OUT_CODE = 21610
"""SMS: the number texted STOP to Twilio (also used by Messaging Services' opt-out handling)."""
BLOCKED_CODE = 63014
"""WhatsApp: the person blocked the business or withdrew consent ("blocked by user action")."""
OPT_OUT_CODES = frozenset({OPTED_OUT_CODE, BLOCKED_CODE})
"""Refusals that mean "never message this person again" on any Twilio channel."""


async def mark_opted_out(
    services: Services, address: str, ref: str, *, channel: str = "sms", code: int = OPTED_OUT_CODE
) -> bool:
    """Record that ``address`` opted out on ``channel``. False if this ``ref`` was already handled.

    Raises :class:`bot.errors.StoreError` when Redis is unreachable (nothing half-written).
    """
    inbound = Inbound(
        channel=channel, address=address, text="STOP", message_id=f"twilio-{code}:{ref}"
    )
    outcome = await services.dispatcher.handle(inbound, limited=False)  # not their own message
    if outcome.duplicate:
        return False
    if outcome.session is None or outcome.session.status is not Status.OPTED_OUT:
        # No live session took the STOP (none, or its flow file is gone): keep the marker.
        rid = services.store.respondent(channel, address)
        await DeliveryLog.for_store(services.store).mark_opted_out(rid, services.clock())
    log.info("%s opted out with Twilio (%s, error %s)", mask(address), ref, code)
    return True
