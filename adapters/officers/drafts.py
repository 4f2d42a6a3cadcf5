"""Editing a flow in the console: checking a draft, saving it, the diff, publishing, rolling back.

No HTTP here: :mod:`adapters.officers.views` calls these. A draft is checked by the same loader
and validator as ``surveybot validate`` (every problem with its line and a hint), plus what only
makes sense against the running bot: the flow keeps its id, and its SMS keywords are not another
flow's. Publishing re-checks on the server (a draft with errors is never published) and is
optimistic: it names the live version the officer started from, and is refused if someone
published since.
"""

from __future__ import annotations

import asyncio
import difflib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from adapters.services import Services
from bot.errors import Problem
from bot.loader import LoadResult, flow_version, load_flow_text
from bot.schema import Flow
from bot.validate import Channels
from bot.yamlsafe import MAX_BYTES
from store.officers import OfficerStore
from store.published import PublishedFlows

DRAFT_TTL = timedelta(days=1)
_ID_LINE = re.compile(r"^id\s*:", re.MULTILINE)
_KEYWORDS_LINE = re.compile(r"^keywords\s*:", re.MULTILINE)


@dataclass
class Checked:
    """A draft's text, what loading it gave, and every problem (sorted by line)."""

    text: str
    result: LoadResult
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def flow(self) -> Flow | None:
        return self.result.flow if not self.errors else None

    @property
    def version(self) -> str:
        return flow_version(self.text.encode())


@dataclass(frozen=True)
class Draft:
    id: str
    flow: str
    text: str
    by: str
    at: datetime
    base: str
    """The live version the officer started editing from (what a publish must still find)."""


def channels(services: Services) -> Channels:
    s = services.settings
    return Channels(whatsapp=s.whatsapp_enabled, whatsapp_templates=s.whatsapp_templates)


def _line_of(pattern: re.Pattern[str], text: str) -> int:
    found = pattern.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def _check(services: Services, flow_id: str, text: str) -> Checked:
    file = f"{flow_id}.yaml"
    if len(text.encode()) > MAX_BYTES:
        result = LoadResult(
            file,
            None,
            [
                Problem(
                    file, None, None,
                    f"the flow is too large ({len(text.encode()):,} bytes; the limit is {MAX_BYTES:,})",
                    "split the survey into shorter ones",
                    code="too_large",
                )
            ],
        )  # fmt: skip
        return Checked(text, result, list(result.problems))
    result = load_flow_text(text, file, channels(services))
    problems = list(result.problems)
    flow = result.flow
    if flow is not None and flow.id != flow_id:
        problems.append(
            Problem(
                file, _line_of(_ID_LINE, text), 1,
                f"the flow id must stay {flow_id!r} (responses are stored under it)",
                f"write 'id: {flow_id}'; to make a new survey, add a new file to the flows folder",
                code="id_changed",
            )
        )  # fmt: skip
    if flow is not None:
        for other in list(services.registry.flows.values()):
            if other.id == flow_id:
                continue
            for word in set(flow.keywords) & set(other.keywords):
                problems.append(
                    Problem(
                        file, _line_of(_KEYWORDS_LINE, text), 1,
                        f"SMS keyword {word} already starts the flow {other.id!r}",
                        "each keyword may start one flow: choose another word",
                        code="duplicate_keyword",
                    )
                )  # fmt: skip
    problems.sort(key=lambda p: (p.line or 0, p.severity != "error", p.column or 0))
    return Checked(text, result, problems)


async def check(
    services: Services, flow_id: str, text: str, gate: asyncio.Semaphore | None = None
) -> Checked:
    """Check a draft in a thread (a big flow takes tens of milliseconds of CPU: the event loop
    keeps answering webhooks meanwhile); ``gate`` bounds how many run at once (the console's:
    two per process)."""
    if gate is None:
        return await asyncio.to_thread(_check, services, flow_id, text)
    async with gate:
        return await asyncio.to_thread(_check, services, flow_id, text)


def normalise(text: str) -> str:
    """Line endings as a file has them (a browser's form sends CRLF)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") or not text else text + "\n"


# -- drafts (short-lived, in Redis) --------------------------------------------------------------


async def save_draft(
    store: OfficerStore, flow_id: str, text: str, *, by: str, at: datetime, base: str
) -> Draft:
    draft = Draft(secrets.token_urlsafe(12), flow_id, text, by, at, base)
    data = {"flow": flow_id, "text": text, "by": by, "at": at.isoformat(), "base": base}
    await store.put_blob("draft", draft.id, data, DRAFT_TTL)
    return draft


async def load_draft(store: OfficerStore, flow_id: str, draft_id: str) -> Draft | None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,40}", draft_id):
        return None
    data = await store.get_blob("draft", draft_id)
    if data is None or data.get("flow") != flow_id:
        return None
    return Draft(
        draft_id,
        flow_id,
        str(data.get("text", "")),
        str(data.get("by", "")),
        datetime.fromisoformat(str(data.get("at"))),
        str(data.get("base", "")),
    )


# -- what is live --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Live:
    """The version a flow serves now and its text; ``published``: from the console (else from
    its file in ``flows/``)."""

    version: str
    text: str
    published: bool
    file: str | None


async def live(services: Services, published: PublishedFlows, flow_id: str) -> Live | None:
    versions = await published.live()
    if flow_id in versions:
        text = await published.text(flow_id, versions[flow_id])
        if text is not None:
            return Live(versions[flow_id], text, True, services.registry.file_of(flow_id))
    name = services.registry.file_of(flow_id)
    if name is None:
        return None
    try:
        raw = (Path(services.registry.folder) / name).read_bytes()
    except OSError:
        return None
    flow = services.registry.from_files.get(flow_id)
    text = raw.decode("utf-8", errors="replace")
    # The text on disk may be a newer edit than the last good version loaded: use it only if
    # it is what loaded (else the version shown would not be the one serving).
    if flow is not None and flow.version != flow_version(raw):
        return Live(flow.version, text, False, name)
    return Live(flow_version(raw), text, False, name)


def diff_lines(old: str, new: str, old_name: str, new_name: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) pairs: kind is ``add``, ``del``, ``hunk``, ``head`` or
    ``same`` (the page marks each with its sign, never by colour alone)."""
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(
        old.splitlines(), new.splitlines(), old_name, new_name, n=3, lineterm=""
    ):
        if line.startswith(("---", "+++")):
            out.append(("head", line))
        elif line.startswith("@@"):
            out.append(("hunk", line))
        elif line.startswith("+"):
            out.append(("add", line))
        elif line.startswith("-"):
            out.append(("del", line))
        else:
            out.append(("same", line))
    return out
