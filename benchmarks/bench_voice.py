"""The voice run of the webhook benchmark (``bench_webhook.py --voice``): phone calls walking the
carers flow through ``/voice/twilio``, many at once, each request signed as Twilio signs it.

A call is a string of requests: the call start, then one per ``<Gather>`` result, each posted
to the action URL the previous answer gave (it carries the step counter and how keys read).
So one call is made first, alone, to learn those URLs (:func:`record`); every benchmark call
then makes the same answers with its own ``CallSid`` and ``From``, which gives the same URLs, and
is checked afterwards like the SMS run's: a complete response with the answers given. Keys, a number with #, a multiple choice with #, spoken yes,
spoken "skip", a spoken comment and a spoken postcode, both read back and confirmed: the mix of
a real call (see :data:`SCRIPT`).

Kept apart from ``bench_webhook.py`` (which imports it) so that the SMS script there and this one
change independently.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from urllib.parse import urlencode

import httpx
import loadgen
from twilio.request_validator import RequestValidator

PATH = "/voice/twilio"
FLOW = "carers-strategy"
BOT_NUMBER = "+447700900000"
RECORDER = "+447700900999"  # the call that learns the URLs (not among the benchmark's numbers)

# (how, what): press keys, or say words (Twilio's SpeechResult, with confidence 0.93).
SCRIPT: list[tuple[str, str]] = [
    ("press", "1"),  # English (the language menu)
    ("say", "yes"),  # consent
    ("press", "1"),  # role: carer
    ("press", "1"),  # cared for: a parent
    ("press", "5"),  # hours: 50 or more
    ("press", "2"),  # years caring: 1-4
    ("press", "4"),  # priority 1: agree
    ("press", "5"),  # priority 2: strongly agree
    ("press", "2"),  # priority 3: disagree
    ("press", "12#"),  # support most: breaks and money, then #
    ("press", "2"),  # know where to get support: no
    ("say", "More short breaks would help me most."),  # anything else (read back)
    ("press", "1"),  # "Did you say ...?": yes
    ("say", "skip"),  # age
    ("press", "1"),  # sex
    ("press", "1"),  # gender as at birth: yes
    ("press", "1"),  # ethnic group: Asian
    ("press", "1"),  # Indian
    ("press", "2"),  # disability: no
    ("say", "L E 16 7 A A"),  # postcode (read back)
    ("press", "1"),  # yes: the call thanks them and hangs up
]


def form(sid: str, caller: str, how: str = "", what: str = "") -> dict[str, str]:
    """The fields Twilio posts: a call starting (no ``how``), or a Gather's result."""
    fields = {
        "AccountSid": "AC" + "1" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": "in-progress" if how else "ringing",
        "Direction": "inbound",
        "From": caller,
        "Caller": caller,
        "To": BOT_NUMBER,
        "Called": BOT_NUMBER,
        "FromCountry": "GB",
        "ToCountry": "GB",
    }
    if how == "press":
        fields["Digits"] = what.rstrip("#")
        fields["FinishedOnKey"] = "#" if what.endswith("#") else ""
    elif how == "say":
        fields |= {"SpeechResult": what, "Confidence": "0.93", "Language": "en-GB"}
    return fields


def _action(twiml: bytes) -> str | None:
    gather = ET.fromstring(twiml).find("Gather")
    return None if gather is None else gather.get("action")


def record(port: int, token: str, public: str) -> list[str]:
    """The URLs of one call on the script, in order: the number's URL, then each action URL.
    ``public`` is the public URL the server was told (``SURVEYBOT_PUBLIC_URL``): what Twilio
    signs and what the actions name; the requests go to the server on ``port``."""
    validator = RequestValidator(token)
    url = f"{public}{PATH}?flow={FLOW}"
    urls = [url]
    sid = "CA" + uuid.uuid4().hex
    steps: list[tuple[str, str]] = [("", ""), *SCRIPT]
    with httpx.Client() as client:
        for n, (how, what) in enumerate(steps):
            fields = form(sid, RECORDER, how, what)
            r = client.post(
                f"http://127.0.0.1:{port}{_path(url, public)}",
                content=urlencode(fields),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": validator.compute_signature(url, fields),
                },
            )
            r.raise_for_status()
            action = _action(r.content)
            if n == len(steps) - 1:
                if action is not None:
                    raise RuntimeError("the voice script ended but the call goes on: " + r.text)
                break
            if action is None:
                raise RuntimeError(f"the call ended after step {n}: {r.text}")
            url = action
            urls.append(url)
    return urls


def _path(url: str, public: str) -> str:
    if not url.startswith(public):
        raise RuntimeError(f"{url} is not under the public URL {public}")
    return url[len(public) :]


def build_requests(
    numbers: Sequence[str], lanes: int, urls: Sequence[str], token: str, public: str
) -> list[list[bytes]]:
    """Every call's requests, signed for ``public`` URLs; a lane makes its calls one after
    another (one call's requests in order, each to whichever server the lane sends it to)."""
    validator = RequestValidator(token)
    per: list[list[bytes]] = [[] for _ in range(lanes)]
    steps: list[tuple[str, str]] = [("", ""), *SCRIPT]
    for n, number in enumerate(numbers):
        sid = "CA" + uuid.uuid5(uuid.NAMESPACE_URL, f"call/{number}").hex
        for url, (how, what) in zip(urls, steps, strict=True):
            fields = form(sid, number, how, what)
            body = urlencode(fields).encode()
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": validator.compute_signature(url, fields),
            }
            per[n % lanes].append(loadgen.post(_path(url, public), body, headers, "127.0.0.1"))
    return per
