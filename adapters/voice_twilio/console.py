"""``surveybot chat FLOW --as voice``: play a phone call in the terminal.

Prints what the call would say (each line tagged with its language) and what it waits for; reads
key presses (digits, ``*``, ``#``) or spoken words (anything else; start with ``~`` for words the
recogniser is unsure of). An empty line is silence; ``/hangup`` ends the call and the next line
calls again; ``/quit`` ends the chat. The real path: :class:`.call.Calls`, the dispatcher, the
engine and the store, on the ``voice`` channel with a test number that is never a real one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from adapters.services import Services
from adapters.voice_twilio.call import Answer, Calls, Heard
from bot.voice import language

KEYS = re.compile(r"[0-9*#]+\Z")
TEST_NUMBER = "+447700900999"  # Ofcom's drama range: never a real person


def show(out: Console, answer: Answer) -> None:
    for said in answer.turn.said:
        voice = language(said.lang)
        out.print(f"[bold cyan]call[/] [dim]({voice.voice})[/] {escape(said.text)}")
    expect = answer.turn.expect
    if expect is None or answer.state is None:
        out.print("[dim](the call hangs up)[/]")
        return
    how = "keys" + (" or speech" if expect.speech else "")
    waits = f"{expect.num_digits} key(s)" if expect.num_digits else "keys then #"
    out.print(f"[dim](waiting for {how}: {waits}; k={expect.shape})[/]")


async def run_voice_chat(
    services: Services, flow_id: str, read: Callable[[str], str], out: Console
) -> None:
    calls = Calls(services)
    caller = TEST_NUMBER

    async def start() -> Answer:
        sid = "CA" + uuid.uuid4().hex
        answer = await calls.answer(Heard(sid, caller, {"flow": flow_id}, start=True))
        show(out, answer)
        return answer

    out.print("[dim]Type key presses (1, 03041960, 146#, *), or words as if spoken "
              "(~words: heard unsure). Empty line: silence. /hangup, /quit.[/]")  # fmt: skip
    sid = ""
    answer = await start()
    silent = 0
    while True:
        try:
            line = read("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            return
        if line in ("/quit", "/exit", "/q"):
            return
        if line == "/hangup" or answer.state is None:
            out.print("[dim](call ended; calling again)[/]")
            answer = await start()
            silent = 0
            if line == "/hangup":
                continue
        state = answer.state or {}
        sid = sid or "CA" + uuid.uuid4().hex
        if not line:
            silent += 1
            if silent >= 2 and answer.bye is not None:
                out.print(f"[bold cyan]call[/] {escape(answer.bye.text)}")
                answer = Answer(answer.turn, None)
                continue
            if answer.silence is not None:
                out.print(f"[bold cyan]call[/] {escape(answer.silence.text)}")
            for said in answer.turn.prompt:
                out.print(f"[bold cyan]call[/] {escape(said.text)}")
            continue
        silent = 0
        if KEYS.match(line):
            heard = Heard(sid, caller, state, digits=line)
        else:
            unsure = line.startswith("~")
            words = line[1:].strip() if unsure else line
            heard = Heard(sid, caller, state, speech=words, confidence=0.4 if unsure else 0.92)
        answer = await calls.answer(heard)
        show(out, answer)
