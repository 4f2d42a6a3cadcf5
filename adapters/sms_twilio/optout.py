"""Twilio says a number opted out (error 21610): record it as the respondent's STOP.

Twilio handles STOP, UNSUBSCRIBE, CANCEL... itself on long codes and then refuses every message
to that number with error 21610, whether we learn it from a refused REST send or from a status
callback. We record it the way a STOP typed to the bot is recorded: a synthetic
``Inbound(text="STOP")`` through the dispatcher, so the engine marks the session opted out (and
the reply it words is never sent). Its message id ``twilio-21610:<ref>`` makes a repeated report
harmless. A respondent without a live session gets the store's opt-out marker directly.
"""

from __future__ import annotations

import logging

from adapters.services import Services
from adapters.sms_twilio.render import mask
from bot.models import Inbound, Status
from store.delivery import DeliveryLog

log = logging.getLogger(__name__)

OPTED_OUT_CODE = 21610


async def mark_opted_out(services: Services, address: str, ref: str) -> bool:
    """Record that ``address`` opted out with Twilio. False if this ``ref`` was already handled.

    Raises :class:`bot.errors.StoreError` when Redis is unreachable (nothing half-written).
    """
    inbound = Inbound(
        channel="sms", address=address, text="STOP", message_id=f"twilio-{OPTED_OUT_CODE}:{ref}"
    )
    outcome = await services.dispatcher.handle(inbound, limited=False)  # not their own message
    if outcome.duplicate:
        return False
    if outcome.session is None or outcome.session.status is not Status.OPTED_OUT:
        # No live session took the STOP (none, or its flow file is gone): keep the marker.
        rid = services.store.respondent("sms", address)
        await DeliveryLog.for_store(services.store).mark_opted_out(rid, services.clock())
    log.info("%s opted out with Twilio (%s)", mask(address), ref)
    return True
