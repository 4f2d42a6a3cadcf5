"""The audit trail's entries: what an auditor of a consultation needs to see, chosen from what
the engine and the officers did. Pure (no I/O): the store persists them (``store.audit``).

From the engine's steps, per respondent (pseudonymous id, never an address or an answer):

=====================  =============================================================
``answer_changed``      an answer replaced by a different one (after BACK, or the same
                        question answered again); the question id, not the values
``answers_withdrawn``   RESTART or an expired attempt starting over: how many answers
``opted_out``           STOP, or the provider reporting one (``via``: respondent/provider)
``rejoined``            START after STOP
``declined``            no at a consent question
``version_changed``     their session moved to another version of the flow file
=====================  =============================================================

From the officers' tools, per flow (``actor`` names who): ``published`` (a flow version began
serving), ``exported`` and ``report`` (who took the responses out, in what form), ``erased``
(an erasure removed a person's data: how much, never whose).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.models import Session, Step

RESPONDENT_KINDS = (
    "answer_changed",
    "answers_withdrawn",
    "opted_out",
    "rejoined",
    "declined",
    "version_changed",
)
FLOW_KINDS = ("published", "exported", "report", "erased", "downloaded")
_FROM_ENGINE = {
    "opted_out": "opted_out",
    "rejoined": "rejoined",
    "declined": "declined",
    "migrated": "version_changed",
}


@dataclass(frozen=True)
class AuditEntry:
    """One line of the trail. ``respondent`` is set for a respondent's entries, ``actor`` for
    an officer's (or a process's: ``flows folder``)."""

    at: datetime
    kind: str
    flow: str
    respondent: str | None = None
    question: str | None = None
    actor: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


def step_entries(
    before: Session | None, step: Step, *, via: str = "respondent"
) -> list[AuditEntry]:
    """The entries one committed step makes (usually none). ``before`` is the session the step
    started from (None for a new one); ``via`` says whose message it was."""
    s = step.session
    at = s.last_at
    out: list[AuditEntry] = []
    previous = before.answers if before is not None and before.flow == s.flow else {}
    for a in step.answers:
        if a.question in previous and previous[a.question] != a.value:
            out.append(AuditEntry(at, "answer_changed", s.flow, s.respondent, a.question))
    if step.cleared:
        detail = {"answers": str(len(step.cleared))}
        out.append(AuditEntry(at, "answers_withdrawn", s.flow, s.respondent, detail=detail))
    for e in step.events:
        kind = _FROM_ENGINE.get(e.kind)
        if kind is None:
            continue
        detail = {}
        if kind == "opted_out":
            detail["via"] = via
        elif kind == "version_changed":
            detail["version"] = str(e.data.get("data_version", s.version))
        out.append(AuditEntry(at, kind, s.flow, s.respondent, e.question, detail=detail))
    return out
