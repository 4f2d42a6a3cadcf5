from __future__ import annotations

import gc
import os
import time
from pathlib import Path

from adapters.app import GC_THRESHOLD, create_app
from adapters.services import Services
from bot.models import Inbound, Status
from tests.adapters.conftest import Clock


async def test_a_carer_completes_the_flow_through_the_real_store(
    services: Services, clock: Clock
) -> None:
    d = services.dispatcher
    script = [
        "TEST",
        "yes",
        "Asha",
        "1",
        "2",
        "1 and 3",
        "agree",
        "4",
        "no",
        "40",
        "1960",
        "LE16 7AA",
        "Nothing else, thank you.",
    ]
    out = None
    for n, text in enumerate(script):
        clock.advance(minutes=1)
        out = await d.handle(
            Inbound(channel="sms", address="+447700900123", text=text, message_id=f"SM{n}")
        )
        assert not out.duplicate
    assert out is not None
    assert out.session is not None
    assert out.session.status is Status.COMPLETE
    # the same message id again is recognised as a duplicate and changes nothing
    again = await d.handle(
        Inbound(channel="sms", address="+447700900123", text="RESTART", message_id="SM3")
    )
    assert again.duplicate
    rid = services.store.respondent("sms", "07700 900123")
    resp = await services.store.response(rid, "every-type")
    assert resp is not None
    assert resp.status is Status.COMPLETE
    assert resp.answers["role"].value == "carer"


async def test_unknown_number_without_keyword_gets_the_menu(services: Services) -> None:
    out = await services.dispatcher.handle(
        Inbound(channel="sms", address="+447700900999", text="hello", message_id="x1")
    )
    text = "\n".join(r.text for r in out.replies)
    assert "CARERS" in text
    assert "TEST" in text
    assert "COMMUNITIES" not in text  # closed in 2022


async def test_a_flow_edited_mid_session_loses_nothing_already_answered(
    services: Services, clock: Clock, flows_dir: Path
) -> None:
    d = services.dispatcher
    number = "+447700900321"
    for n, text in enumerate(["TEST", "yes", "Asha", "1", "2"]):
        clock.advance(minutes=1)
        await d.handle(Inbound(channel="sms", address=number, text=text, message_id=f"E{n}"))
    # The officer removes the 'often' question (already answered) and edits a text.
    path = flows_dir / "every-type.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  - id: often")
    end = text.index("  - id: support")
    edited = text[:start] + text[end:]
    edited = edited.replace("What helps you? Pick up to 2.", "What helps you most? Pick up to 2.")
    edited = edited.replace("default: often", "default: support")
    path.write_text(edited, encoding="utf-8")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert services.registry.refresh()
    assert not services.registry.errors
    rid = services.store.respondent("sms", number)
    before = await services.store.response(rid, "every-type")
    assert before is not None
    old_version = before.version
    clock.advance(days=1)
    out = await d.handle(Inbound(channel="sms", address=number, text="1 and 3", message_id="E9"))
    assert out.session is not None
    assert out.session.version != old_version
    after = await services.store.response(rid, "every-type")
    assert after is not None
    assert after.answers["often"].value == "sometimes"  # removed question: answer kept
    assert after.answers["support"].value == ["respite", "info"]
    assert after.answers["name"].value == "Asha"


async def test_the_app_raises_the_gc_threshold_while_serving_and_restores_it(
    services: Services,
) -> None:
    before = gc.get_threshold()
    assert before != GC_THRESHOLD
    settings = services.settings.model_copy(update={"telegram_token": None})  # no network
    app = create_app(settings, services=services, refresh_flows=False)
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == GC_THRESHOLD
    assert gc.get_threshold() == before
    gc.unfreeze()  # what the app froze belongs to this test process, not to later tests
