"""One number cannot flood the bot: one polite reply over the limit, then silence, nothing stored."""

from __future__ import annotations

import pytest

from adapters.services import Services, build_services
from bot.models import Status
from tests.adapters.sms_twilio.twilio_fakes import (
    WEBHOOK,
    client_for,
    inbound_form,
    post_signed,
    twiml_messages,
)

FLOODER = "+447700900777"
LIMIT = 5


@pytest.fixture
def limited(services: Services) -> Services:
    """The ``services`` fixture's, with a limit of LIMIT messages a minute per sender."""
    settings = services.settings.model_copy(update={"rate_limit": LIMIT})
    return build_services(settings, redis=services.redis, clock=services.clock)


async def test_a_flood_gets_one_polite_reply_then_silence(limited: Services) -> None:
    async with client_for(limited) as client:
        replies = []
        for n in range(LIMIT + 4):
            body = "TEST" if n == 0 else "yes" if n == 1 else f"flood {n}"
            form = inbound_form(body, sid=f"SMflood{n:04d}", sender=FLOODER)
            r = await post_signed(client, WEBHOOK, form)
            assert r.status_code == 200
            replies.append(twiml_messages(r))
    assert all(replies[:LIMIT])  # every message within the limit is answered
    assert replies[LIMIT] == ["You have sent a lot of messages. Please wait a minute, then reply "
                              "again."]  # fmt: skip
    assert replies[LIMIT + 1 :] == [[], [], []]
    rid = limited.store.respondent("sms", FLOODER)
    loaded = await limited.store.load(rid, None)
    assert loaded.session is not None
    assert loaded.session.messages == LIMIT  # the refused ones were not stepped
    assert loaded.session.status is Status.ACTIVE


async def test_a_stranger_flooding_without_a_keyword_stops_getting_menus(
    limited: Services,
) -> None:
    async with client_for(limited) as client:
        replies = []
        for n in range(LIMIT + 3):
            form = inbound_form(f"hello {n}", sid=f"SMstranger{n:04d}", sender=FLOODER)
            r = await post_signed(client, WEBHOOK, form)
            assert r.status_code == 200
            replies.append(twiml_messages(r))
    assert all("Which survey?" in m[0] for m in replies[:LIMIT])
    assert replies[LIMIT][0].startswith("You have sent a lot of messages.")
    assert replies[LIMIT + 1 :] == [[], []]
