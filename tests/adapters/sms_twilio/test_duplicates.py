"""A MessageSid seen before: never a second step; the current question again only when it was the
person's last message, a moment ago (Twilio retrying a reply that never arrived)."""

from __future__ import annotations

from adapters.services import Services
from tests.adapters.conftest import Clock
from tests.adapters.sms_twilio.twilio_fakes import (
    WEBHOOK,
    client_for,
    inbound_form,
    post_signed,
    snapshot,
    twiml_messages,
)

CARER = "+447700900321"


async def test_a_retry_within_ten_minutes_gets_the_question_again(
    services: Services, clock: Clock
) -> None:
    async with client_for(services) as client:
        await post_signed(client, WEBHOOK, inbound_form("TEST", sid="SM1", sender=CARER))
        clock.advance(minutes=1)
        first = await post_signed(client, WEBHOOK, inbound_form("yes", sid="SM2", sender=CARER))
        before = await snapshot(services.redis)
        clock.advance(minutes=9)
        again = await post_signed(client, WEBHOOK, inbound_form("yes", sid="SM2", sender=CARER))
        assert twiml_messages(again) == ["What should we call you?"]
        assert twiml_messages(first)[-1] == "What should we call you?"
        assert await snapshot(services.redis) == before


async def test_an_old_retry_gets_nothing(services: Services, clock: Clock) -> None:
    async with client_for(services) as client:
        await post_signed(client, WEBHOOK, inbound_form("TEST", sid="SM1", sender=CARER))
        clock.advance(minutes=1)
        await post_signed(client, WEBHOOK, inbound_form("yes", sid="SM2", sender=CARER))
        before = await snapshot(services.redis)
        clock.advance(minutes=11)
        late = await post_signed(client, WEBHOOK, inbound_form("yes", sid="SM2", sender=CARER))
        assert late.status_code == 200
        assert twiml_messages(late) == []
        assert await snapshot(services.redis) == before


async def test_a_retry_of_an_earlier_message_gets_nothing(services: Services, clock: Clock) -> None:
    async with client_for(services) as client:
        for n, text in enumerate(["TEST", "yes", "Sam"], start=1):
            clock.advance(minutes=1)
            await post_signed(client, WEBHOOK, inbound_form(text, sid=f"SM{n}", sender=CARER))
        again = await post_signed(client, WEBHOOK, inbound_form("yes", sid="SM2", sender=CARER))
        assert twiml_messages(again) == []


async def test_a_retry_after_stop_says_nothing(services: Services, clock: Clock) -> None:
    """Opted out: nothing more is sent to them, retry or not."""
    async with client_for(services) as client:
        await post_signed(client, WEBHOOK, inbound_form("TEST", sid="SM1", sender=CARER))
        clock.advance(minutes=1)
        stop = await post_signed(client, WEBHOOK, inbound_form("STOP", sid="SM2", sender=CARER))
        assert twiml_messages(stop)  # the confirmation
        again = await post_signed(client, WEBHOOK, inbound_form("STOP", sid="SM2", sender=CARER))
        assert twiml_messages(again) == []
