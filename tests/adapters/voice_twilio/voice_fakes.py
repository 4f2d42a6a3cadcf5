"""Real-shaped Twilio voice webhook forms, signed with the twilio library, and the app to post to."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from starlette.applications import Starlette

from adapters import sms_twilio, voice_twilio
from adapters.services import Services
from tests.adapters.conftest import BOT_NUMBER, PUBLIC_URL, TWILIO_SID
from tests.adapters.sms_twilio.twilio_fakes import FORM, sign

CALL_PATH = "/voice/twilio"
STATUS_PATH = "/voice/twilio/status"
CARER = "+447700900123"


def call_form(
    sid: str, caller: str = CARER, status: str = "ringing", **extra: str
) -> dict[str, str]:
    """The fields Twilio POSTs when a call comes in (``extra``: a Gather's result fields)."""
    form = {
        "AccountSid": TWILIO_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": status,
        "Called": BOT_NUMBER,
        "CalledCity": "",
        "CalledCountry": "GB",
        "CalledState": "",
        "CalledZip": "",
        "Caller": caller,
        "CallerCity": "",
        "CallerCountry": "GB",
        "CallerState": "",
        "CallerZip": "",
        "Direction": "inbound",
        "From": caller,
        "FromCity": "",
        "FromCountry": "GB",
        "FromState": "",
        "FromZip": "",
        "To": BOT_NUMBER,
        "ToCity": "",
        "ToCountry": "GB",
        "ToState": "",
        "ToZip": "",
    }
    return form | extra


def digits_form(sid: str, digits: str, caller: str = CARER, finished: str = "") -> dict[str, str]:
    """A ``<Gather>`` result with key presses (``FinishedOnKey`` is "#" when they pressed it)."""
    return call_form(
        sid, caller, "in-progress", Digits=digits, FinishedOnKey=finished, msg="Gather End"
    )


def speech_form(sid: str, words: str, confidence: str, caller: str = CARER) -> dict[str, str]:
    """A ``<Gather>`` result with words spoken: Twilio's transcription and its confidence."""
    return call_form(
        sid, caller, "in-progress", SpeechResult=words, Confidence=confidence, Language="en-GB"
    )


def empty_form(sid: str, caller: str = CARER) -> dict[str, str]:
    """A ``<Gather>`` that timed out with no input (posted when actionOnEmptyResult is set)."""
    return call_form(sid, caller, "in-progress", msg="Gather End")


def status_form(sid: str, status: str = "completed", duration: str = "93") -> dict[str, str]:
    """The call status callback when the caller hangs up."""
    form = call_form(sid, CARER, status)
    return {k: v for k, v in form.items() if not k.endswith(("City", "State", "Zip"))} | {
        "CallDuration": duration,
        "Duration": str(max(1, int(duration) // 60 + 1)),
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "0",
        "Timestamp": "Mon, 23 Nov 2026 10:01:33 +0000",
    }


def app_for(services: Services) -> Starlette:
    return Starlette(routes=[*sms_twilio.routes(services), *voice_twilio.routes(services)])


def client_for(services: Services) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app_for(services))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def post_signed(client: httpx.AsyncClient, url: str, form: dict[str, str]) -> httpx.Response:
    """POST ``form`` to ``url`` (a public URL, query string included) signed as Twilio signs."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return await client.post(
        path,
        content=urlencode(form),
        headers={"Content-Type": FORM, "X-Twilio-Signature": sign(url, form)},
    )


@dataclass
class Said:
    """A TwiML answer, read: what is said, the first Gather's attributes, whether it hangs up."""

    texts: list[str]
    gather: dict[str, str] | None
    hangup: bool
    voices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    @property
    def action(self) -> str:
        assert self.gather is not None, "the call ended: " + self.text
        return self.gather["action"]

    @property
    def state(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.action).query))


def read(response: httpx.Response) -> Said:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    gathers = root.findall("Gather")
    first = gathers[0] if gathers else None
    says = (first if first is not None else root).findall("Say")
    return Said(
        texts=[s.text or "" for s in says],
        gather=dict(first.attrib) if first is not None else None,
        hangup=first is None and root.find("Hangup") is not None,
        voices=[(s.get("voice", ""), s.get("language", "")) for s in says],
    )


class Caller:
    """One phone call, request by request, as Twilio makes them."""

    def __init__(self, client: httpx.AsyncClient, sid: str, caller: str = CARER,
                 url: str = PUBLIC_URL + CALL_PATH) -> None:  # fmt: skip
        self.client = client
        self.sid = sid
        self.caller = caller
        self.url = url
        self.last: Said | None = None

    async def start(self) -> Said:
        self.last = read(await post_signed(self.client, self.url, call_form(self.sid, self.caller)))
        return self.last

    async def press(self, digits: str) -> Said:
        assert self.last is not None
        form = digits_form(self.sid, digits, self.caller)
        self.last = read(await post_signed(self.client, self.last.action, form))
        return self.last

    async def speak(self, words: str, confidence: str = "0.93") -> Said:
        assert self.last is not None
        form = speech_form(self.sid, words, confidence, self.caller)
        self.last = read(await post_signed(self.client, self.last.action, form))
        return self.last
