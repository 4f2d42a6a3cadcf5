"""The WhatsApp REST sender, faked only at Twilio's HTTP boundary: the exact requests it makes.

Within the 24-hour window a reminder goes as free-form text (``Body``); outside it only the
approved template (``ContentSid`` + ``ContentVariables``), never ``Body``; with no template,
nothing. Refusals are recorded and backed off; a blocked person is opted out.
"""

from __future__ import annotations

import pytest

from adapters.outbound import Unprompted
from adapters.services import Services
from adapters.twilio_common.rest import TwilioSendError
from adapters.whatsapp_twilio import WhatsAppSender, WindowClosed
from bot import engine
from bot.models import Inbound, Reply, Session, Status
from bot.prompts import question_reply
from bot.text import tr
from store.delivery import DeliveryLog
from tests.adapters.conftest import PUBLIC_URL, Clock
from tests.adapters.whatsapp_twilio.conftest import FINAL_SID, REMINDER_GU_SID, REMINDER_SID
from tests.adapters.whatsapp_twilio.wa_fakes import BOT, CARER, WhatsAppHttp, twilio_error

CALLBACK = PUBLIC_URL + "/whatsapp/twilio/status"
ANSWERS = [
    "CARERS",
    "yes",
    "1",
    "1",
    "50 hours or more",
    "1 to 4 years",
    "agree",
    "strongly agree",
    "2",
    "1 and 2",
    "no",
]


async def at_anything_else(services: Services, clock: Clock, first: str = "CARERS") -> Session:
    """A carer who answered up to the free-text question, then went quiet."""
    for n, text in enumerate([first, *ANSWERS[1:]]):
        await services.dispatcher.handle(
            Inbound(channel="whatsapp", address=CARER, text=text, message_id=f"SMa{n}")
        )
        clock.advance(minutes=1)
    session = (await services.store.load(services.store.respondent("whatsapp", CARER))).session
    assert session is not None
    assert session.current == "anything_else"
    return session


def reminder(services: Services, session: Session, clock: Clock) -> Unprompted:
    flow = services.registry.flows["carers-strategy"]
    return Unprompted("remind", flow, session, engine.reminder(flow, session), clock.now)


def sender(services: Services, http: WhatsAppHttp) -> WhatsAppSender:
    return WhatsAppSender.of(services, http)


async def test_within_the_window_a_reminder_is_free_form_text(
    services: Services, clock: Clock, http: WhatsAppHttp
) -> None:
    session = await at_anything_else(services, clock)
    clock.advance(hours=20)
    message = reminder(services, session, clock)
    result = await sender(services, http).send_unprompted(message)
    assert result.template is None
    (head,) = [r.text for r in message.replies]
    first, question = head.split("\n")
    assert http.messages() == [
        {
            "To": CARER,
            "From": BOT,
            "Body": f"*{first}*\n*{question}*",
            "StatusCallback": CALLBACK,
        }
    ]


async def test_outside_the_window_only_the_template_goes(
    services: Services, clock: Clock, http: WhatsAppHttp
) -> None:
    session = await at_anything_else(services, clock)
    clock.advance(hours=30)
    result = await sender(services, http).send_unprompted(reminder(services, session, clock))
    flow = services.registry.flows["carers-strategy"]
    answered, total = engine.progress(flow, session)
    title = tr(flow.title, "en")
    assert result.template == REMINDER_SID
    assert http.messages() == [
        {
            "To": CARER,
            "From": BOT,
            "ContentSid": REMINDER_SID,
            "ContentVariables": f'{{"1":"{title}","2":"{answered} of {total}"}}',
            "StatusCallback": CALLBACK,
        }
    ]


async def test_the_template_is_the_persons_language(
    services: Services, clock: Clock, http: WhatsAppHttp
) -> None:
    session = await at_anything_else(services, clock)
    session = session.model_copy(update={"lang": "gu"})
    clock.advance(hours=30)
    await sender(services, http).send_unprompted(reminder(services, session, clock))
    (sent,) = http.messages()
    assert sent["ContentSid"] == REMINDER_GU_SID
    assert "કેરર્સ" in str(sent["ContentVariables"])  # the Gujarati title, as UTF-8 JSON


async def test_the_closing_message_after_the_window_is_its_template_without_variables(
    services: Services, clock: Clock, http: WhatsAppHttp
) -> None:
    session = await at_anything_else(services, clock)
    clock.advance(days=20)
    flow = services.registry.flows["carers-strategy"]
    final = Unprompted("final", flow, session, [Reply(text="Thank you", kind="end")], clock.now)
    await sender(services, http).send_unprompted(final)
    assert http.messages() == [
        {"To": CARER, "From": BOT, "ContentSid": FINAL_SID, "StatusCallback": CALLBACK}
    ]


async def test_without_a_template_nothing_is_sent_outside_the_window(
    services: Services, clock: Clock, http: WhatsAppHttp
) -> None:
    session = await at_anything_else(services, clock)
    clock.advance(hours=24, minutes=1)
    wa = sender(services, http)
    wa.templates = None
    with pytest.raises(WindowClosed) as caught:
        await wa.send_unprompted(reminder(services, session, clock))
    assert not caught.value.retryable
    assert http.sent == []


async def test_the_window_closes_early_rather_than_late(
    services: Services, clock: Clock, http: WhatsAppHttp
) -> None:
    session = await at_anything_else(services, clock)
    clock.advance(hours=23, minutes=50)  # inside 24 h, but too close to its end
    await sender(services, http).send_unprompted(reminder(services, session, clock))
    (sent,) = http.messages()
    assert sent["ContentSid"] == REMINDER_SID
    assert "Body" not in sent


async def test_a_63016_refusal_of_free_form_text_falls_back_to_the_template_and_is_recorded(
    services: Services, clock: Clock
) -> None:
    session = await at_anything_else(services, clock)
    clock.advance(hours=20)
    http = WhatsAppHttp([twilio_error(63016)])
    result = await sender(services, http).send_unprompted(reminder(services, session, clock))
    first, second = http.messages()
    assert "Body" in first
    assert "ContentSid" not in first
    assert second["ContentSid"] == REMINDER_SID
    assert "Body" not in second
    assert result.template == REMINDER_SID
    failures = await DeliveryLog.for_store(services.store).recent()
    assert [(f.code, f.respondent) for f in failures] == [("63016", session.respondent)]


@pytest.mark.parametrize("code", [63016, 63049, 63018])
async def test_template_refusals_are_recorded_and_retried_later(
    services: Services, clock: Clock, code: int
) -> None:
    session = await at_anything_else(services, clock)
    clock.advance(hours=30)
    http = WhatsAppHttp([twilio_error(code)])
    with pytest.raises(TwilioSendError) as caught:
        await sender(services, http).send_unprompted(reminder(services, session, clock))
    assert caught.value.retryable
    assert caught.value.code == code
    failures = await DeliveryLog.for_store(services.store).recent()
    assert [f.code for f in failures] == [str(code)]


async def test_an_invalid_recipient_is_not_retried(services: Services, clock: Clock) -> None:
    session = await at_anything_else(services, clock)
    clock.advance(hours=30)
    http = WhatsAppHttp([twilio_error(63024)])
    with pytest.raises(TwilioSendError) as caught:
        await sender(services, http).send_unprompted(reminder(services, session, clock))
    assert not caught.value.retryable


@pytest.mark.parametrize("code", [63014, 21610])
async def test_a_blocked_or_stopped_person_is_opted_out(
    services: Services, clock: Clock, code: int
) -> None:
    session = await at_anything_else(services, clock)
    clock.advance(hours=30)
    http = WhatsAppHttp([twilio_error(code)])
    result = await sender(services, http).send_unprompted(reminder(services, session, clock))
    assert result.opted_out
    stored = (await services.store.load(session.respondent)).session
    assert stored is not None
    assert stored.status is Status.OPTED_OUT


async def test_a_messaging_service_is_sent_with_the_sender_number(
    services: Services, clock: Clock, http: WhatsAppHttp
) -> None:
    services.settings = services.settings.model_copy(
        update={"twilio_whatsapp_messaging_service_sid": "MG" + "3" * 32}
    )
    session = await at_anything_else(services, clock)
    clock.advance(hours=30)
    await sender(services, http).send_unprompted(reminder(services, session, clock))
    (sent,) = http.messages()
    assert sent["MessagingServiceSid"] == "MG" + "3" * 32
    assert sent["From"] == BOT


async def test_button_content_is_made_once_and_shared_through_redis(
    services: Services, clock: Clock
) -> None:
    await at_anything_else(services, clock)
    flow = services.registry.flows["carers-strategy"]
    q = flow.question("know_support")
    assert q is not None
    step = [question_reply(flow, q, "en", {})]
    first = WhatsAppHttp()
    await WhatsAppSender.of(services, first).send(CARER, step)
    await WhatsAppSender.of(services, first).send(CARER, step)
    services.extras.clear()  # another process: same Redis, empty memory
    second = WhatsAppHttp()
    await WhatsAppSender.of(services, second).send(CARER, step)
    (made,) = first.contents()
    assert made["types"] == {
        "twilio/quick-reply": {
            "body": "{{1}}",
            "actions": [
                {"type": "QUICK_REPLY", "title": "Yes", "id": "a:know_support:yes"},
                {"type": "QUICK_REPLY", "title": "No", "id": "a:know_support:no"},
            ],
        }
    }
    assert second.contents() == []
    sids = [m["ContentSid"] for m in first.messages() + second.messages()]
    assert len(set(sids)) == 1
