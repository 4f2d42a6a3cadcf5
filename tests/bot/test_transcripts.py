"""Conversation transcripts: readable YAML files of what a respondent sends and what the bot says.

Each file in tests/bot/transcripts/ names a flow (a sample in flows/ or a test flow in
tests/bot/flows/), a start time and a list of turns:

    - they: "2"                  # what the respondent sends (button: <value> for a button press)
      bot: ["Thank you", "..."]  # each must appear, in this order, in the bot's reply as SMS text
      asks: often                # the question the respondent is now on (or `null` when none)
      status: complete           # the session status after this turn
      recorded: {often: sometimes}  # answers recorded by this turn
      silent: true               # the bot sends nothing
    - wait: 3d                   # the clock moves on

and optional `answers:` that the session must hold at the end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import engine, sms
from bot.loader import require_flow
from bot.models import Inbound, Session
from bot.schema import Flow, parse_duration

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
TRANSCRIPTS = sorted((HERE / "transcripts").glob("*.yaml"))


def _flow(name: str) -> Flow:
    for folder in (ROOT / "flows", HERE / "flows"):
        path = folder / f"{name}.yaml"
        if path.exists():
            return require_flow(path)
    raise FileNotFoundError(name)


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def run_transcript(doc: dict[str, Any]) -> Session:
    flow = _flow(doc["flow"])
    now = _time(doc.get("at", "2026-11-23T10:00:00"))
    channel = doc.get("channel", "sms")
    session = engine.new_session(
        flow,
        respondent="r-test",
        channel=channel,
        address="+447700900123",
        now=now,
        source=doc.get("source"),
        lang=doc.get("lang"),
    )
    for n, turn in enumerate(doc["turns"], 1):
        if "wait" in turn:
            now += parse_duration(turn["wait"])
            continue
        sent = str(turn["they"])
        if sent.startswith("button:"):
            inbound = Inbound(
                channel=channel,
                address="x",
                kind="button",
                text=sent.removeprefix("button:").strip(),
                question=session.current,
            )
        elif sent == "<photo>":
            inbound = Inbound(channel=channel, address="x", kind="unsupported")
        else:
            inbound = Inbound(channel=channel, address="x", text=sent)
        result = engine.step(flow, session, inbound, now)
        said = "\n".join(sms.render(r) for r in result.replies)
        where = f"turn {n} ({sent!r}); the bot said:\n{said}"
        if turn.get("silent"):
            assert not result.replies, where
        pos = 0
        for expected in turn.get("bot", []):
            found = said.find(str(expected), pos)
            assert found >= 0, f"expected {expected!r} in {where}"
            pos = found + len(str(expected))
        for absent in turn.get("not", []):
            assert str(absent) not in said, f"did not expect {absent!r} in {where}"
        if "asks" in turn:
            assert result.session.current == turn["asks"], where
        if "status" in turn:
            assert result.session.status.value == turn["status"], where
        if "recorded" in turn:
            got = {a.question: a.value for a in result.answers}
            assert got == turn["recorded"], where
        if "lang" in turn:
            assert result.session.lang == turn["lang"], where
        session = result.session
    for qid, value in (doc.get("answers") or {}).items():
        assert session.answers.get(qid) == value, f"answer {qid}: {session.answers.get(qid)!r}"
    return session


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    run_transcript(doc)


def test_there_are_transcripts_for_each_sample_flow() -> None:
    flows = {yaml.safe_load(p.read_text(encoding="utf-8"))["flow"] for p in TRANSCRIPTS}
    assert {"carers-strategy", "communities-approach", "every-type"} <= flows
