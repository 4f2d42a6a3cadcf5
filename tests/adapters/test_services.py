from __future__ import annotations

from adapters.services import Services
from bot.models import Inbound, Status
from tests.adapters.conftest import Clock


async def test_a_carer_completes_the_flow_through_the_real_store(services: Services,
                                                                 clock: Clock) -> None:
    d = services.dispatcher
    script = ["TEST", "yes", "Asha", "1", "2", "1 and 3", "agree", "4", "no", "40", "1960",
              "LE16 7AA", "Nothing else, thank you."]
    out = None
    for n, text in enumerate(script):
        clock.advance(minutes=1)
        out = await d.handle(Inbound(channel="sms", address="+447700900123", text=text,
                                     message_id=f"SM{n}"))
        assert not out.duplicate
    assert out is not None
    assert out.session is not None
    assert out.session.status is Status.COMPLETE
    # the same message id again is recognised as a duplicate and changes nothing
    again = await d.handle(Inbound(channel="sms", address="+447700900123", text="RESTART",
                                   message_id="SM3"))
    assert again.duplicate
    rid = services.store.respondent("sms", "07700 900123")
    resp = await services.store.response(rid, "every-type")
    assert resp is not None
    assert resp.status is Status.COMPLETE
    assert resp.answers["role"].value == "carer"


async def test_unknown_number_without_keyword_gets_the_menu(services: Services) -> None:
    out = await services.dispatcher.handle(
        Inbound(channel="sms", address="+447700900999", text="hello", message_id="x1"))
    text = "\n".join(r.text for r in out.replies)
    assert "CARERS" in text
    assert "TEST" in text
    assert "COMMUNITIES" not in text  # closed in 2022
