"""A carer answers the whole Carers Strategy survey on Telegram, by buttons and typed text."""

from __future__ import annotations

from typing import Any

from adapters.services import Services
from bot.models import Status
from tests.adapters.conftest import Clock
from tests.adapters.telegram.conftest import Call, FakeTelegram, Webhook, as_sent, callback, message


class Carer:
    """Presses the buttons PTB actually sent, on the message they were sent with."""

    def __init__(self, hook: Webhook, fake: FakeTelegram, clock: Clock) -> None:
        self.hook = hook
        self.fake = fake
        self.clock = clock
        self.update_id = 700_000
        self.keyboard: Call | None = None
        self.seen: list[str] = []

    async def _post(self, update: dict[str, Any]) -> list[Call]:
        self.clock.advance(minutes=1)
        calls = await self.hook.send(update)
        sent = [c for c in calls if c.method == "sendMessage"]
        self.seen += [c.params["text"] for c in sent]
        keyed = [c for c in sent if c.markup]
        self.keyboard = keyed[-1] if keyed else None
        if keyed:
            assert keyed[-1] is sent[-1], "the keyboard rides on the step's last message"
        return calls

    async def type(self, text: str) -> list[Call]:
        self.update_id += 1
        return await self._post(message(self.update_id, text))

    async def press(self, *labels: str) -> list[Call]:
        """One label: a single choice. Several: tick each of a multi, then Done."""
        assert self.keyboard is not None, f"no keyboard to press {labels} on"
        on = as_sent(self.keyboard, message_id=self.update_id)
        for label in labels:
            data = self._data(on, label)
            self.update_id += 1
            calls = await self.hook.send(callback(self.update_id, data, on=on))
            if len(labels) == 1:
                self._after_press(calls)
                return calls
            [edit] = [c for c in calls if c.method == "editMessageReplyMarkup"]
            on = {**on, "reply_markup": edit.markup}
        self.update_id += 1
        calls = await self._post(callback(self.update_id, self._data(on, "✅ Done"), on=on))
        return calls

    def _after_press(self, calls: list[Call]) -> None:
        sent = [c for c in calls if c.method == "sendMessage"]
        self.seen += [c.params["text"] for c in sent]
        keyed = [c for c in sent if c.markup]
        self.keyboard = keyed[-1] if keyed else None

    @staticmethod
    def _data(on: dict[str, Any], label: str) -> str:
        for row in on["reply_markup"]["inline_keyboard"]:
            for b in row:
                if b["text"].removeprefix("✓ ") == label:
                    assert len(b["callback_data"].encode()) <= 64
                    return str(b["callback_data"])
        raise AssertionError(f"no button {label!r} in {on['reply_markup']}")


async def test_a_carer_completes_the_survey(
    hook: Webhook, fake: FakeTelegram, services: Services, clock: Clock
) -> None:
    me = Carer(hook, fake, clock)
    await me.type("/start carers-strategy-harborough-carers")
    assert me.seen[-1] == "Can we use your answers for the Carers Strategy?"
    await me.press("Yes")
    await me.press("I am a carer")
    await me.type("a parent")
    await me.press("20 to 34 hours")
    await me.type("4")  # 10 years or more, typed as the number: but also "4 years", so checked
    assert me.seen[-1].startswith("Did you mean 4, 10 years or more?")
    await me.type("yes")
    assert "Our strategy has 3 priorities." in me.seen[-2]
    await me.press("Agree")
    await me.type("strongly agree")
    await me.press("Strongly agree")
    assert me.seen[-1].startswith("What support matters most for carers?")
    await me.press(
        "Short breaks (respite)", "Emotional support", "Clear information", "Clear information"
    )  # ticked, then unticked again
    await me.press("No")
    assert me.seen[-2].startswith("Help is there for you.")
    await me.type("More short breaks near Market Harborough, please.")
    await me.press("55 to 64")
    await me.type("Female")
    await me.press("Yes")
    await me.press("1 Asian or Asian British")  # long labels: numbered, and listed
    await me.press("Indian")
    await me.type("no")
    assert me.seen[-1].startswith("What is your postcode?")
    calls = await me.type("LE16 7AB")
    assert me.seen[-1].startswith("Thank you. Your answers will help shape support for carers.")
    assert "reply_markup" not in calls[-1].params

    rid = services.store.respondent("telegram", str(calls[-1].params["chat_id"]))
    response = await services.store.response(rid, "carers-strategy")
    assert response is not None
    assert response.status is Status.COMPLETE
    assert response.source == "harborough-carers"
    answers = {q: a.value for q, a in response.answers.items()}
    assert answers == {
        "consent": True,
        "role": "carer",
        "cared_for": "parent",
        "hours": "20-34",
        "years_caring": "10+",
        "p1_recognise": 4,
        "p2_life": 5,
        "p3_support": 5,
        "support_most": ["breaks", "emotional"],
        "know_support": False,
        "anything_else": "More short breaks near Market Harborough, please.",
        "age": "55-64",
        "sex": "female",
        "gender_same": "yes",
        "ethnic_group": "asian",
        "ethnic_asian": "indian",
        "disability": "no",
        "postcode": "LE16",
    }
    # every button ever sent fits Telegram's 64 bytes; the raw chat id is nowhere in the answers
    assert all(len(d.encode()) <= 64 for c in fake.calls for d in c.datas)
    assert str(calls[-1].params["chat_id"]) not in repr(response.model_dump())
