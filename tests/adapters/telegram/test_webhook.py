"""The webhook, driven by real Update JSON as Telegram sends it, against the real dispatcher and
store (fakeredis) and a fake Bot API that records what PTB put on the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.services import Services
from bot.errors import StoreError
from bot.models import Status
from tests.adapters.conftest import Clock
from tests.adapters.telegram.conftest import (
    BOT_USER,
    CHAT,
    DATE,
    GROUP,
    Call,
    FakeTelegram,
    Webhook,
    as_sent,
    blocked,
    callback,
    json_paths,
    message,
    redis_keys,
    user,
)

FLOW = "carers-strategy"
DEEP = "/start carers-strategy-harborough-carers"


def rid(services: Services, chat: int = CHAT) -> str:
    return services.store.respondent("telegram", str(chat))


async def session_of(services: Services, chat: int = CHAT) -> Any:
    return (await services.store.load(rid(services, chat))).session


def sends(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.method == "sendMessage"]


def group_msg(update_id: int, text: str | None, **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "message_id": 77,
        "from": user(),
        "date": DATE,
        "chat": {"id": GROUP, "title": "Harborough carers", "type": "supergroup"},
        **extra,
    }
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    return {"update_id": update_id, "message": msg}


STICKER = {
    "file_id": "CAACAgIAAxkBAAEBQ2ZnS",
    "file_unique_id": "AgADcwADr8ZRGg",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
    "emoji": "👍",
    "set_name": "HotCherry",
    "file_size": 22334,
}
PHOTO = [
    {
        "file_id": "AgACAgQAAxkBAAIBb2Z",
        "file_unique_id": "AQADYbsxG5",
        "file_size": 1390,
        "width": 90,
        "height": 67,
    },
    {
        "file_id": "AgACAgQAAxkBAAIBb2Y",
        "file_unique_id": "AQADYbsxG6",
        "file_size": 52021,
        "width": 800,
        "height": 600,
    },
]
VOICE = {
    "file_id": "AwACAgQAAxkBAAIBcGZ",
    "file_unique_id": "AgADBhYAAr",
    "duration": 4,
    "mime_type": "audio/ogg",
    "file_size": 13420,
}
DOCUMENT = {
    "file_name": "my-answers.pdf",
    "mime_type": "application/pdf",
    "file_id": "BQACAgQAAxkBAAIBcWZ",
    "file_unique_id": "AgADXhQAAr",
    "file_size": 88123,
}
LOCATION = {"latitude": 52.4778, "longitude": -0.9213}

MEDIA: dict[str, dict[str, Any]] = {
    "sticker": {"sticker": STICKER},
    "photo": {"photo": PHOTO, "caption": "this is my answer"},
    "voice": {"voice": VOICE},
    "document": {"document": DOCUMENT},
    "location": {"location": LOCATION},
}


# -- the table: requests that must change nothing -----------------------------------------------

NOTHING_STORED: list[tuple[str, dict[str, Any] | bytes, str | None, int, list[str]]] = [
    # (case, body, secret header, status, Bot API methods called)
    ("wrong secret", message(9001, DEEP), "not-the-secret", 403, []),
    ("missing secret", message(9002, DEEP), None, 403, []),
    ("secret with non-ascii", message(9003, DEEP), "telegram-webhook-secrét", 403, []),
    ("malformed JSON", b'{"update_id": 9004, "message": {', "telegram-webhook-secret", 400, []),
    ("not UTF-8", b"\xff\xfe{}", "telegram-webhook-secret", 400, []),
    ("JSON list", b"[1, 2]", "telegram-webhook-secret", 400, []),
    ("no update_id", b'{"message": {"text": "hi"}}', "telegram-webhook-secret", 400, []),
    ("update_id not a number", b'{"update_id": "9005"}', "telegram-webhook-secret", 400, []),
    (
        "message without chat",
        b'{"update_id": 9006, "message": {"message_id": 1, "date": 1}}',
        "telegram-webhook-secret",
        400,
        [],
    ),
    (
        "message is a string",
        b'{"update_id": 9007, "message": "hello"}',
        "telegram-webhook-secret",
        400,
        [],
    ),
    (
        "channel post",
        {
            "update_id": 9008,
            "channel_post": {
                "message_id": 12,
                "date": DATE,
                "text": "Have your say on carers' support",
                "sender_chat": {"id": -1009876543210, "title": "LLR news", "type": "channel"},
                "chat": {"id": -1009876543210, "title": "LLR news", "type": "channel"},
            },
        },
        "telegram-webhook-secret",
        200,
        [],
    ),
    (
        "group chatter",
        group_msg(9009, "anyone going to the meeting?"),
        "telegram-webhook-secret",
        200,
        [],
    ),
    (
        "group /start",
        group_msg(9010, "/start@LLRCarersBot"),
        "telegram-webhook-secret",
        200,
        ["sendMessage"],
    ),
    (
        "group /start payload",
        group_msg(9011, "/start carers-strategy-harborough-carers"),
        "telegram-webhook-secret",
        200,
        ["sendMessage"],
    ),
    (
        "group mention",
        group_msg(9012, "@LLRCarersBot how do I fill this in?"),
        "telegram-webhook-secret",
        200,
        ["sendMessage"],
    ),
    (
        "group command for another bot",
        group_msg(9013, "/start@OtherBot"),
        "telegram-webhook-secret",
        200,
        [],
    ),
    (
        "bot added to group",
        group_msg(
            9014,
            None,
            new_chat_members=[dict(BOT_USER)],
        ),
        "telegram-webhook-secret",
        200,
        ["sendMessage"],
    ),
    ("group sticker", group_msg(9015, None, sticker=STICKER), "telegram-webhook-secret", 200, []),
    (
        "inline query",
        {
            "update_id": 9016,
            "inline_query": {"id": "4582937464", "from": user(), "query": "carers", "offset": ""},
        },
        "telegram-webhook-secret",
        200,
        [],
    ),
    (
        "bare /start, no session",
        message(9017, "/start"),
        "telegram-webhook-secret",
        200,
        ["sendMessage"],
    ),
    (
        "sticker, no session",
        message(9018, **MEDIA["sticker"]),
        "telegram-webhook-secret",
        200,
        ["sendMessage"],
    ),
    (
        "button, no session",
        callback(9019, "a:consent:yes"),
        "telegram-webhook-secret",
        200,
        ["answerCallbackQuery", "sendMessage"],
    ),
    (
        "forged button data",
        callback(9020, "x:anything"),
        "telegram-webhook-secret",
        200,
        ["answerCallbackQuery"],
    ),
]


@pytest.mark.parametrize(
    ("body", "secret", "status", "methods"),
    [c[1:] for c in NOTHING_STORED],
    ids=[c[0] for c in NOTHING_STORED],
)
async def test_nothing_is_stored(
    hook: Webhook,
    services: Services,
    fake: FakeTelegram,
    body: dict[str, Any] | bytes,
    secret: str | None,
    status: int,
    methods: list[str],
) -> None:
    r = await hook.post(body, secret=secret)
    assert r.status_code == status, r.text
    assert [c.method for c in fake.calls] == methods
    keys = await redis_keys(services)
    # A message that was answered (the menu) counts against its sender's rate limit: a
    # counter under the pseudonymous id that is gone within the minute. Nothing else.
    counters = {k for k in keys if k.endswith(b":rate")}
    assert keys == counters
    for key in counters:
        assert 0 < await services.redis.pttl(key) <= 60_000


async def test_a_group_is_told_to_use_a_private_chat_with_the_deep_link(
    hook: Webhook, services: Services
) -> None:
    [call] = await hook.send(group_msg(1, "/start carers-strategy-harborough-carers"))
    link = "https://t.me/LLRCarersBot?start=carers-strategy-harborough-carers"
    assert call.params["chat_id"] == GROUP
    assert "private chat" in call.params["text"]
    assert link in call.params["text"]
    assert call.markup == {"inline_keyboard": [[{"text": "Open a private chat", "url": link}]]}
    assert "message_thread_id" not in call.params
    [call] = await hook.send(group_msg(2, "/start@LLRCarersBot"))
    assert "https://t.me/LLRCarersBot " in call.params["text"]
    # in a forum topic, the answer goes to the same topic
    topic = group_msg(3, "/start", message_thread_id=12, is_topic_message=True)
    [call] = await hook.send(topic)
    assert call.params["message_thread_id"] == 12


async def test_menu_for_a_bare_start(hook: Webhook) -> None:
    [call] = await hook.send(message(1, "/start"))
    assert call.params["chat_id"] == CHAT
    assert "CARERS - Carers Strategy survey" in call.params["text"]
    assert "TEST" in call.params["text"]
    assert "reply_markup" not in call.params


async def test_deep_link_starts_the_flow_and_records_the_source(
    hook: Webhook, services: Services
) -> None:
    calls = await hook.send(message(1, DEEP))
    intro, consent = sends(calls)
    assert intro.params["chat_id"] == CHAT
    assert consent.params["chat_id"] == CHAT
    assert intro.params["text"].startswith("Hello from Leicester, Leicestershire and Rutland")
    assert "reply_markup" not in intro.params
    assert intro.params["link_preview_options"] == {"is_disabled": True}
    assert consent.params["text"] == "Can we use your answers for the Carers Strategy?"
    assert consent.markup == {
        "inline_keyboard": [
            [
                {"text": "Yes", "callback_data": "a:consent:yes"},
                {"text": "No", "callback_data": "a:consent:no"},
            ]
        ]
    }
    response = await services.store.response(rid(services), FLOW)
    assert response is not None
    assert response.source == "harborough-carers"
    assert response.channel == "telegram"
    s = await session_of(services)
    assert s.current == "consent"
    assert s.source == "harborough-carers"


async def test_a_keyword_deep_link_and_the_users_language(
    hook: Webhook, services: Services
) -> None:
    # CARERS-BELGRAVE resolves through the keywords; a Gujarati Telegram app picks Gujarati.
    calls = await hook.send(message(1, "/start CARERS-BELGRAVE", lang="gu"))
    s = await session_of(services)
    assert (s.flow, s.source, s.lang) == (FLOW, "belgrave-gujarati-carers", "gu")
    assert sends(calls)[-1].labels == ["હા", "ના"]


async def test_typed_answers_and_buttons(
    hook: Webhook, services: Services, fake: FakeTelegram
) -> None:
    await hook.send(message(1, DEEP))
    # typed
    calls = await hook.send(message(2, "yes"))
    [role] = sends(calls)
    assert role.datas == [
        "a:role:carer",
        "a:role:cared_for",
        "a:role:organisation",
        "a:role:staff",
        "a:role:public",
    ]
    assert role.labels[0] == "I am a carer"
    # a button press on the message PTB sent
    calls = await hook.send(callback(3, "a:role:carer", on=as_sent(role, 501)))
    assert [c.method for c in calls] == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    assert calls[0].params == {"callback_query_id": "377"}
    edit = calls[1]
    assert edit.params["message_id"] == 501
    assert edit.params["chat_id"] == CHAT
    assert edit.params["text"] == role.params["text"] + "\n\n✓ I am a carer"
    assert "reply_markup" not in edit.params  # the buttons are gone
    assert calls[2].params["text"] == "Who do you mainly care for?"
    assert calls[2].labels[3] == "A son or daughter aged 18 or over"
    assert calls[2].datas[-1] == "a:cared_for:other"
    s = await session_of(services)
    assert s.answers["role"] == "carer"
    assert s.current == "cared_for"
    for c in fake.calls:
        for d in c.datas:
            assert len(d.encode()) <= 64


async def test_a_press_on_an_old_questions_keyboard_changes_nothing(
    hook: Webhook, services: Services
) -> None:
    await hook.send(message(1, DEEP))
    await hook.send(callback(2, "a:consent:yes"))
    await hook.send(callback(3, "a:role:carer"))
    before = await session_of(services)
    assert before.current == "cared_for"
    calls = await hook.send(callback(4, "a:consent:no"))  # the first keyboard, pressed again
    assert calls[0].method == "answerCallbackQuery"
    assert "editMessageText" not in [c.method for c in calls]
    after = await session_of(services)
    assert after.answers == before.answers
    assert after.current == "cared_for"
    assert after.status is Status.ACTIVE
    # the engine answered: the current question is asked again, with its keyboard
    assert sends(calls)[-1].datas[0] == "a:cared_for:parent"


async def test_multi_toggle_then_done(
    hook: Webhook, services: Services, fake: FakeTelegram
) -> None:
    for n, text in enumerate(["TEST", "yes", "Asha", "1", "2"]):
        calls = await hook.send(message(n + 1, text))
    question = sends(calls)[-1]
    assert question.params["text"] == "What helps you? Pick up to 2."
    assert question.labels == [
        "Short breaks",
        "Money advice",
        "Information",
        "None of these",
        "✅ Done",
    ]
    assert question.datas == [
        "m:support:0:0",
        "m:support:1:0",
        "m:support:2:0",
        "m:support:3:0",
        "d:support:0",
    ]
    on = as_sent(question, 700)
    keys_before = await redis_keys(services)
    rev_before = (await session_of(services)).rev
    # pick Short breaks
    calls = await hook.send(callback(10, "m:support:0:0", on=on))
    assert [c.method for c in calls] == ["answerCallbackQuery", "editMessageReplyMarkup"]
    edit = calls[1]
    assert edit.params["message_id"] == 700
    assert edit.labels == [
        "✓ Short breaks",
        "Money advice",
        "Information",
        "None of these",
        "✅ Done",
    ]
    assert edit.datas == [
        "m:support:0:1",
        "m:support:1:1",
        "m:support:2:1",
        "m:support:3:1",
        "d:support:1",
    ]
    # then Information, on the keyboard as edited
    on = {**on, "reply_markup": edit.markup}
    calls = await hook.send(callback(11, "m:support:2:1", on=on))
    edit = calls[1]
    assert edit.labels[:3] == ["✓ Short breaks", "Money advice", "✓ Information"]
    assert edit.datas[-1] == "d:support:5"
    # toggling keeps nothing on our side
    assert await redis_keys(services) == keys_before
    assert (await session_of(services)).rev == rev_before
    # Done
    on = {**on, "reply_markup": edit.markup}
    calls = await hook.send(callback(12, "d:support:5", on=on))
    assert [c.method for c in calls][:2] == ["answerCallbackQuery", "editMessageText"]
    assert calls[1].params["text"].endswith("\n\n✓ Short breaks, Information")
    s = await session_of(services)
    assert s.answers["support"] == ["respite", "info"]
    assert s.current == "agree"
    assert sends(calls)[-1].datas[0] == "a:agree:1"


async def test_done_with_no_picks_is_left_to_the_engine(hook: Webhook, services: Services) -> None:
    for n, text in enumerate(["TEST", "yes", "Asha", "1", "2"]):
        await hook.send(message(n + 1, text))
    calls = await hook.send(callback(10, "d:support:0"))
    s = await session_of(services)
    assert s.current == "support"
    assert "support" not in s.answers
    assert sends(calls)  # the engine explained and asked again
    assert sends(calls)[-1].datas[-1] == "d:support:0"


@pytest.mark.parametrize("kind", [*MEDIA, "edited"])
async def test_non_text_and_edits_get_please_reply_in_text(
    hook: Webhook, services: Services, kind: str
) -> None:
    await hook.send(message(1, DEEP))
    before = await session_of(services)
    if kind == "edited":
        edited = message(2, "no")["message"] | {"edit_date": DATE + 30}
        update = {"update_id": 2, "edited_message": edited}
    else:
        update = message(2, **MEDIA[kind])
    calls = await hook.send(update)
    texts = [c.params["text"] for c in sends(calls)]
    assert texts[0] == "Sorry, I can only read text. Please reply in words or numbers."
    assert texts[-1] == "Can we use your answers for the Carers Strategy?"
    assert sends(calls)[-1].datas == ["a:consent:yes", "a:consent:no"]
    after = await session_of(services)
    assert after.answers == before.answers == {}
    assert after.current == "consent"


async def test_please_reply_in_text_in_the_flows_language(hook: Webhook) -> None:
    await hook.send(message(1, "/start CARERS", lang="gu"))
    calls = await hook.send(message(2, lang="gu", **MEDIA["voice"]))
    assert "STOP" not in sends(calls)[0].params["text"]
    assert sends(calls)[-1].params["text"].startswith("શું અમે")


async def test_a_duplicate_update_id_never_advances_twice(
    hook: Webhook, services: Services, fake: FakeTelegram
) -> None:
    await hook.send(message(1, DEEP))
    asked = [c.params["text"] for c in sends(await hook.send(message(2, "yes")))]
    before = await session_of(services)
    assert before.current == "role"
    for update in (message(2, "yes"), message(2, "no")):  # Telegram re-delivers update 2
        # No second step; our reply may never have arrived, so the question they are on (role)
        # goes out again.
        calls = await hook.send(update)
        assert [c.method for c in calls] == ["sendMessage"]
        assert calls[0].params["text"] == asked[-1]
        assert await session_of(services) == before
    pressed = callback(3, "a:role:carer")
    await hook.send(pressed)
    calls = await hook.send(pressed)  # re-delivered: the spinner stops, the question again
    assert [c.method for c in calls] == ["answerCallbackQuery", "sendMessage"]
    after = await session_of(services)
    assert after.answers == {"consent": True, "role": "carer"}
    assert after.messages == before.messages + 1


async def test_commands_read_as_words(hook: Webhook, services: Services) -> None:
    await hook.send(message(1, DEEP))
    calls = await hook.send(message(2, "/help"))
    assert "0116 305 0004" in "\n".join(c.params["text"] for c in sends(calls))
    calls = await hook.send(message(3, "/stop@LLRCarersBot"))
    s = await session_of(services)
    assert s.status is Status.OPTED_OUT
    assert "reply_markup" not in sends(calls)[-1].params


async def test_a_blocked_bot_opts_the_person_out(
    hook: Webhook, services: Services, fake: FakeTelegram
) -> None:
    await hook.send(message(1, DEEP))
    fake.fail[CHAT] = (403, "Forbidden: bot was blocked by the user")
    r = await hook.post(message(2, "yes"))
    assert r.status_code == 200
    s = await session_of(services)
    assert s.answers == {"consent": True}  # the answer counts; the reply could not be sent
    assert s.status is Status.OPTED_OUT
    # the role question was tried once; the STOP's reply was not sent
    assert [c.params["text"][:10] for c in fake.of("sendMessage")][2:] == ["Which best"]


async def test_blocking_the_bot_mid_survey_opts_out(hook: Webhook, services: Services) -> None:
    await hook.send(message(1, DEEP))
    assert await hook.send(blocked(2)) == []
    assert (await session_of(services)).status is Status.OPTED_OUT
    assert await services.store.is_opted_out(rid(services))


async def test_blocking_the_bot_after_finishing_keeps_the_response_complete(
    hook: Webhook, services: Services
) -> None:
    for n, text in enumerate(["TEST", "yes", "Asha", "3", *["skip"] * 9]):
        await hook.send(message(n + 1, text))
    assert (await session_of(services)).status is Status.COMPLETE
    assert await hook.send(blocked(50)) == []
    response = await services.store.response(rid(services), "every-type")
    assert response is not None
    assert response.status is Status.COMPLETE
    # and with no session at all, nothing is stored
    before = await redis_keys(services)
    assert await hook.send(blocked(51, chat=5550009999)) == []
    assert await redis_keys(services) == before


async def test_other_send_failures_still_answer_200(
    hook: Webhook, services: Services, fake: FakeTelegram
) -> None:
    fake.fail[CHAT] = (400, "Bad Request: message text is empty")
    r = await hook.post(message(1, DEEP))
    assert r.status_code == 200  # committed: a 500 would only bring a duplicate
    assert (await session_of(services)).current == "consent"


async def test_store_down_answers_503_and_the_redelivery_works(
    hook: Webhook, services: Services, monkeypatch: pytest.MonkeyPatch, fake: FakeTelegram
) -> None:
    real = services.dispatcher.handle

    async def down(*a: Any, **kw: Any) -> Any:
        raise StoreError("redis is down")

    monkeypatch.setattr(services.dispatcher, "handle", down)
    r = await hook.post(message(1, DEEP))
    assert r.status_code == 503
    assert fake.calls == []
    r = await hook.post(callback(2, "a:consent:yes"))
    assert r.status_code == 503
    assert [c.method for c in fake.calls] == ["answerCallbackQuery"]  # never left spinning
    monkeypatch.setattr(services.dispatcher, "handle", real)
    await hook.send(message(1, DEEP))
    assert (await session_of(services)).current == "consent"


async def test_welcome_back_on_the_deep_link_again(
    hook: Webhook, services: Services, clock: Clock
) -> None:
    await hook.send(message(1, DEEP))
    await hook.send(message(2, "yes"))
    clock.advance(hours=13)
    calls = await hook.send(message(3, "/start"))
    assert sends(calls)[-1].params["text"].startswith("Which best describes you?")
    assert (await session_of(services)).answers == {"consent": True}


def test_fixture_json_is_what_telegram_sends() -> None:
    # guard the table itself: every update is plain JSON with an integer update_id
    for case in NOTHING_STORED:
        body = case[1]
        if isinstance(body, dict):
            assert isinstance(json.loads(json.dumps(body))["update_id"], int)


def _mutated(update: dict[str, Any], path: tuple[Any, ...], how: str) -> dict[str, Any]:
    clone: dict[str, Any] = json.loads(json.dumps(update))
    node = clone
    for k in path[:-1]:
        node = node[k]
    if how == "drop":
        del node[path[-1]]
    else:
        node[path[-1]] = {"str": "x", "null": None, "int": -1, "list": [1]}[how]
    return clone


async def test_broken_updates_never_give_500_nor_reach_the_catch_all(
    hook: Webhook, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    await hook.send(message(1, DEEP))  # a live session, so the deeper paths run too
    samples = [
        message(2, "yes"),
        message(3, **MEDIA["photo"]),
        callback(4, "a:consent:yes"),
        blocked(5),
        group_msg(6, "/start"),
    ]
    statuses: set[int] = set()
    n = 1000
    for sample in samples:
        for path in json_paths(sample):
            if path == ("update_id",):
                continue
            for how in ("drop", "str", "null", "int", "list"):
                n += 1
                body = _mutated(sample, path, how)
                body["update_id"] = n
                r = await hook.post(body)
                assert r.status_code in (200, 400), (path, how, r.status_code)
                statuses.add(r.status_code)
    assert statuses == {200, 400}
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text[:2000]
