"""One exception hierarchy for the whole project, rooted in :class:`SurveybotError`."""

from __future__ import annotations

from dataclasses import dataclass


class SurveybotError(Exception):
    """Base of every error surveybot raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a look) in a flow file.

    ``severity`` is ``"error"`` (the file is rejected) or ``"warning"`` (it loads).
    """

    file: str
    line: int | None
    column: int | None
    message: str
    hint: str | None = None
    question: str | None = None
    severity: str = "error"
    code: str = "invalid"

    def format(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        q = f" [{self.question}]" if self.question else ""
        hint = f" - {self.hint}" if self.hint else ""
        return f"{where}: {self.severity}{q}: {self.message}{hint}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "code": self.code,
            "question": self.question,
            "message": self.message,
            "hint": self.hint,
        }


class FlowError(SurveybotError):
    """A flow file cannot be used. Carries every problem found, each with file, line and hint."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0] if problems else None
        super().__init__(first.format() if first else "invalid flow")

    @property
    def file(self) -> str | None:
        return self.problems[0].file if self.problems else None

    @property
    def line(self) -> int | None:
        return self.problems[0].line if self.problems else None

    @property
    def hint(self) -> str | None:
        return self.problems[0].hint if self.problems else None


class ExpressionError(SurveybotError):
    """A condition could not be parsed. ``column`` is 1-based within the expression text."""

    def __init__(self, message: str, column: int, hint: str | None = None) -> None:
        self.message = message
        self.column = column
        self.hint = hint
        super().__init__(f"{message} (at column {column})")


class StoreError(SurveybotError):
    """The session store failed (e.g. Redis unreachable). Safe to retry: nothing was half-written."""


class ConflictError(StoreError):
    """A commit found the stored session moved on (another message got there first): reload and
    step again. ``immediate`` says the reload needs no back-off (the loser had read a cached
    copy, not raced a live writer). ``current``, when the store sends it, is what a reload
    would return (a ``bot.ports.LoadedLike`` read in the same round trip as the refusal), so a
    stale cached copy costs no extra round trip."""

    def __init__(
        self, message: str, *, immediate: bool = False, current: object | None = None
    ) -> None:
        super().__init__(message)
        self.immediate = immediate
        self.current = current


class DuplicateMessage(ConflictError):
    """This inbound message id was already committed for this respondent; nothing was written.

    ``latest_at``: when it was their last message committed, the time of that commit (epoch
    ms), else None: a provider retrying soon after is most likely retrying because our reply
    never arrived (the caller may put the current question again)."""

    def __init__(self, message: str, *, latest_at: int | None = None) -> None:
        super().__init__(message)
        self.latest_at = latest_at


class RateLimited(SurveybotError):
    """The sender went over the per-sender message limit; nothing was written.

    ``over`` counts this sender's messages beyond the limit in the current window (1 for the
    first refused one, which gets a polite reply; later ones get silence).
    """

    def __init__(self, over: int) -> None:
        super().__init__(f"sender over the message limit by {over}")
        self.over = over


class ChannelError(SurveybotError):
    """A channel adapter could not send or parse a message."""


class ConfigError(SurveybotError):
    """Configuration from the environment is missing or contradictory."""


@dataclass(frozen=True)
class FormProblem:
    """One thing wrong (or worth a look) in a spreadsheet: an XLSForm or a translation sheet.

    Named the way an officer finds it in Excel: the sheet, the row number shown at the left, the
    column by its header (and letter). ``severity`` is ``"error"`` (nothing is written) or
    ``"warning"`` (written, but look).
    """

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    message: str
    hint: str | None = None
    severity: str = "error"
    code: str = "invalid"

    def format(self) -> str:
        where = [self.file]
        if self.sheet:
            where.append(f"sheet {self.sheet}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        hint = f" - {self.hint}" if self.hint else ""
        return f"{', '.join(where)}: {self.severity}: {self.message}{hint}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class FormError(SurveybotError):
    """A spreadsheet cannot be used. Carries every problem found (warnings included)."""

    def __init__(self, problems: list[FormProblem]) -> None:
        self.problems = problems
        first = next((p for p in problems if p.severity == "error"), None)
        super().__init__(first.format() if first else "the spreadsheet cannot be used")


class UnstorableValue(SurveybotError):
    """A step produced a value the store cannot write (an integer past 64 bits): nothing is
    written, and the person is asked again rather than left without a reply."""
