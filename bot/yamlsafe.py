"""Read a YAML flow file safely, keeping the line of every value for error messages.

We read PyYAML's *event* stream (libyaml's C parser when installed) and build plain data
ourselves; no Python object is ever built from a tag and no code runs. That lets us

1. reject duplicate keys, which PyYAML silently overwrites;
2. reject any tag that is not plain data (``!!python/object/apply:os.system`` and friends);
3. bound the work a hostile file can cause: its size, how deeply values nest (checked as each
   value opens, without recursion) and how many values it holds once aliases are expanded
   (checked as each alias is met, so a "billion laughs" file stops at once);
4. remember where each key and value came from, to point officers at the exact line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from bot.errors import Problem

MAX_BYTES = 512_000
"""Largest flow file accepted. A real survey is a few tens of kilobytes (the samples: 8-30 kB)."""
MAX_NODES = 50_000
"""Most values in one file, counting every expansion of an alias (the carers sample: about 2,500)."""
MAX_DEPTH = 32
"""Deepest nesting of lists and maps. A flow needs about 6."""
MAX_SCALAR = 20_000
"""Longest single value, in characters."""

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_SCALARS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # C when present


class ValueMark(NamedTuple):
    """Where a value's text is: 1-based start line and column, end line, and YAML style
    (``None`` plain, ``'"'``/``"'"`` quoted, ``"|"``/``">"`` block; ``"["``/``"{"`` flow)."""

    line: int
    column: int
    end_line: int
    end_column: int
    style: str | None


@dataclass
class Located:
    """Plain data from a YAML file plus the 1-based (line, column) of each path in it.

    ``positions`` holds, for a value inside a map, where its *key* is (what an officer looks for),
    and for a list item or the whole file where the value starts. ``values`` holds where each
    value itself starts, with its style, to place a column *inside* a value (a condition).
    """

    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path, ValueMark] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list, repr=False)

    def where(self, path: Path) -> tuple[int | None, int | None]:
        """Position of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), (None, None))

    def has(self, path: Path) -> bool:
        """Whether ``path`` was written in the file (not filled in by a default)."""
        return tuple(path) in self.positions

    def inside(self, path: Path, offset: int) -> tuple[int | None, int | None]:
        """Line and column of the character ``offset`` (1-based) of the text at ``path``.

        Exact for a value on one line; for a value over several lines (plain, quoted, or a block
        after ``|`` or ``>``) each line break counts as one character, which is exact unless the
        value has blank lines or escapes. Falls back to where the value (or its key) starts.
        """
        mark = self.values.get(tuple(path))
        if mark is None or mark.style in ("[", "{"):
            return self.where(path)
        segments = self._segments(mark)
        if not segments:
            return mark.line, mark.column
        pos = max(offset, 1) - 1
        for line, column, length in segments:
            if pos <= length:
                return line, column + pos
            pos -= length + 1
        line, column, length = segments[-1]
        return line, column + length

    def _segments(self, mark: ValueMark) -> list[tuple[int, int, int]]:
        """(line, column, length) of each source line of a value's text, in order."""
        quote = 1 if mark.style in ('"', "'") else 0
        if mark.end_line == mark.line or not self.lines:
            return [(mark.line, mark.column + quote, 10**9)]
        out: list[tuple[int, int, int]] = []
        last = mark.end_line if mark.end_column > 1 else mark.end_line - 1
        if mark.style in ("|", ">"):
            body = self.lines[mark.line : last]  # the lines after the indicator
            filled = [ln for ln in body if ln.strip()]
            indent = min((len(ln) - len(ln.lstrip(" ")) for ln in filled), default=0)
            for n, ln in enumerate(body):
                if ln.strip():
                    out.append((mark.line + 1 + n, indent + 1, len(ln.rstrip()) - indent))
            return out
        for n in range(mark.line - 1, min(last, len(self.lines))):
            ln = self.lines[n]
            start = mark.column - 1 + quote if n == mark.line - 1 else len(ln) - len(ln.lstrip())
            out.append((n + 1, start + 1, len(ln.rstrip()) - start))
        return out


class _Abort(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


@dataclass
class _Frame:
    """An open list or map while events stream in."""

    value: dict[Any, Any] | list[Any]
    path: Path
    start: int  # value count when it opened, to know its expanded size when it closes
    anchor: str | None
    discard: bool  # the value of a duplicate key: built (to keep counting) but not stored
    key: Any = None
    has_key: bool = False
    key_discard: bool = False


class _Builder:
    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.count = 0
        self.positions: dict[Path, tuple[int, int]] = {}
        self.values: dict[Path, ValueMark] = {}
        self.problems: list[Problem] = []
        self.anchors: dict[str, tuple[Any, int] | None] = {}  # None: still open (recursive use)
        self.stack: list[_Frame] = []
        self.constructor = SafeConstructor()
        resolver = yaml.SafeLoader("")
        self.resolve: Any = resolver.resolve
        self.implicit: dict[str, Any] = dict(resolver.yaml_implicit_resolvers)
        self.done = False
        self.root: Any = None

    # -- helpers

    @staticmethod
    def mark(event: Event) -> tuple[int, int]:
        m = event.start_mark
        return (m.line + 1, m.column + 1) if m is not None else (1, 1)

    def fail(self, event: Event, message: str, hint: str | None, code: str) -> _Abort:
        line, col = self.mark(event)
        return _Abort(Problem(self.file, line, col, message, hint, code=code))

    def grow(self, event: Event, n: int) -> None:
        self.count += n
        if self.count > MAX_NODES:
            raise self.fail(
                event,
                f"the file holds too many values (more than {MAX_NODES:,}"
                + (", counting each use of an alias" if isinstance(event, AliasEvent) else "")
                + ")",
                "a survey needs a few thousand at most; flow files do not need YAML anchors (&) "
                "and aliases (*): write the values out",
                "yaml_too_big",
            )

    def check_tag(self, event: NodeEvent, tag: str | None) -> None:
        if tag is None or tag in _PLAIN_SCALARS or tag in (_MAP, _SEQ):
            return
        if tag == _MERGE:
            raise self.fail(
                event,
                "YAML merge keys ('<<') are not supported in flow files",
                "write the values out in full",
                "yaml_tag",
            )
        shown = tag.replace("tag:yaml.org,2002:", "!!")
        raise self.fail(
            event,
            f"the YAML tag {shown!r} is not allowed",
            "flow files hold plain text, numbers, yes/no, lists and maps only; remove the tag "
            "(the word starting with '!')",
            "yaml_tag",
        )

    # -- events

    def feed(self, event: Event) -> None:
        if isinstance(event, AliasEvent):
            self.alias(event)
        elif isinstance(event, ScalarEvent):
            self.scalar(event)
        elif isinstance(event, MappingStartEvent | SequenceStartEvent):
            self.open(event)
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            self.close(event)
        elif isinstance(event, DocumentStartEvent) and self.done:
            raise self.fail(
                event,
                "the file holds more than one YAML document",
                "a flow file is one survey: remove the '---' line and what follows, "
                "or move it to its own file",
                "yaml_documents",
            )
        elif isinstance(event, DocumentEndEvent):
            self.done = True

    def place(self, event: NodeEvent, *, is_scalar: bool) -> tuple[Path | None, bool]:
        """Where a new value goes: its path (None for a map key) and whether it is discarded."""
        if not self.stack:
            return (), False
        top = self.stack[-1]
        if isinstance(top.value, list):
            return (*top.path, len(top.value)), top.discard
        if not top.has_key:
            if not is_scalar:
                raise self.fail(
                    event,
                    "a key must be a plain word, not a list or a map",
                    "each setting is written 'name: value'",
                    "yaml_key",
                )
            return None, top.discard
        return (*top.path, top.key), top.key_discard

    def record(self, path: Path, event: NodeEvent, discard: bool, style: str | None) -> None:
        if discard:
            return
        line, col = self.mark(event)
        self.positions.setdefault(path, (line, col))
        end = event.end_mark
        end_line, end_col = (end.line + 1, end.column + 1) if end is not None else (line, col)
        self.values[path] = ValueMark(line, col, end_line, end_col, style or None)

    def attach(self, value: Any) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
            return
        if not top.key_discard:
            top.value[top.key] = value
        top.key, top.has_key, top.key_discard = None, False, False

    def scalar(self, event: ScalarEvent) -> None:
        self.grow(event, 1)
        if len(event.value) > MAX_SCALAR:
            raise self.fail(
                event,
                f"this value is too long ({len(event.value):,} characters; "
                f"the limit is {MAX_SCALAR:,})",
                "an SMS survey text is a few sentences",
                "yaml_too_big",
            )
        value_text = event.value
        if event.tag == "!":  # quoted, or tagged non-specific: text
            tag = _STR
        elif event.tag is None and value_text and value_text[0] not in self.implicit:
            tag = _STR  # fast path: no implicit type (number, yes/no, date...) starts like this
        elif event.tag is None:
            tag = self.resolve(ScalarNode, event.value, event.implicit)
        else:
            tag = event.tag
        self.check_tag(event, tag)
        path, discard = self.place(event, is_scalar=True)
        value = self.construct(event, tag)
        if path is None:
            self.key(event, value)
        else:
            self.record(path, event, discard, event.style)
            self.remember(event, value, 1)
            self.attach(value)

    def construct(self, event: ScalarEvent, tag: str) -> Any:
        if tag == _STR:
            return event.value
        node = ScalarNode(tag, event.value, None, None, event.style)
        try:
            return SafeConstructor.yaml_constructors[tag](self.constructor, node)
        except (ValueError, OverflowError) as exc:
            if tag.endswith(":timestamp"):
                raise self.fail(
                    event,
                    f"{event.value!r} is not a real date ({exc})",
                    "write dates as year-month-day, e.g. 2022-10-01",
                    "yaml_value",
                ) from None
            raise self.fail(
                event,
                f"{event.value[:40]!r} cannot be read as a {tag.rsplit(':', 1)[-1]}",
                "put it in quotes if it is meant as text",
                "yaml_value",
            ) from None

    def key(self, event: ScalarEvent, raw: Any) -> None:
        top = self.stack[-1]
        key: Any = raw
        if isinstance(key, bool) or key is None:
            # `yes:`/`no:`/`on:` keys mean the words (next: {yes: ..., no: ...}), not booleans.
            key = event.value
        elif not isinstance(key, str | int):
            key = str(key)
        assert isinstance(top.value, dict)
        top.key, top.has_key, top.key_discard = key, True, top.discard
        if top.discard:
            return
        line, col = self.mark(event)
        if key in top.value:
            first = self.positions.get((*top.path, key), (None, None))[0]
            self.problems.append(
                Problem(
                    self.file,
                    line,
                    col,
                    f"{key!r} is set twice",
                    (f"it is already set on line {first}; " if first else "")
                    + "keep one (YAML would silently use the last)",
                    code="duplicate_key",
                )
            )
            top.key_discard = True
            return
        self.positions[(*top.path, key)] = (line, col)

    def open(self, event: MappingStartEvent | SequenceStartEvent) -> None:
        self.grow(event, 1)
        if len(self.stack) >= MAX_DEPTH:
            line, col = self.mark(event)
            raise _Abort(too_deep(self.file, line, col))
        is_map = isinstance(event, MappingStartEvent)
        tag = event.tag if event.tag not in (None, "!") else (_MAP if is_map else _SEQ)
        if tag != (_MAP if is_map else _SEQ):
            self.check_tag(event, tag)
            raise self.fail(event, f"the YAML tag {tag!r} is not allowed", None, "yaml_tag")
        path, discard = self.place(event, is_scalar=False)
        assert path is not None
        style = ("{" if is_map else "[") if event.flow_style else None
        self.record(path, event, discard, style)
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        container: dict[Any, Any] | list[Any] = {} if is_map else []
        self.stack.append(_Frame(container, path, self.count, event.anchor, discard))

    def close(self, event: Event) -> None:
        frame = self.stack.pop()
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (frame.value, self.count - frame.start + 1)
        self.attach(frame.value)

    def remember(self, event: NodeEvent, value: Any, size: int) -> None:
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, size)

    def alias(self, event: AliasEvent) -> None:
        anchor = self.anchors.get(event.anchor or "")
        if anchor is None:
            open_ = (event.anchor or "") in self.anchors
            raise self.fail(
                event,
                f"the alias *{event.anchor} refers to "
                + ("the value that contains it" if open_ else "no anchor"),
                "flow files do not need YAML anchors (&) and aliases (*): write the values out",
                "yaml_alias",
            )
        value, size = anchor
        self.grow(event, size)
        path, discard = self.place(event, is_scalar=True)
        if path is None:
            raise self.fail(
                event,
                "a key must be a plain word, not an alias",
                "write the key out",
                "yaml_key",
            )
        self.record(path, event, discard, None)
        # Aliased lists and maps are shared, never expanded: their size is already counted.
        self.attach(value)


def too_deep(file: str, line: int | None, col: int | None) -> Problem:
    return Problem(
        file,
        line,
        col,
        f"values are nested too deeply (more than {MAX_DEPTH} levels)",
        "a flow file needs only a few levels of indentation",
        code="yaml_too_deep",
    )


def too_large(file: str, size: int) -> Problem:
    return Problem(
        file,
        None,
        None,
        f"the file is too large ({size:,} bytes; the limit is {MAX_BYTES:,})",
        "a flow file is a few tens of kilobytes; is this the right file?",
        code="file_too_large",
    )


def load_yaml(text: str | bytes, file: str) -> tuple[Located | None, list[Problem]]:
    """Parse ``text``; return the data with positions, and every problem found.

    Never raises for bad input, never runs code, and stops early on files too big or too deep.
    """
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_BYTES:
        return None, [too_large(file, size)]
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, [
                Problem(
                    file,
                    None,
                    None,
                    f"the file is not UTF-8 text (byte {exc.start + 1} cannot be read)",
                    "save it as UTF-8: in VS Code, click the encoding in the status bar and "
                    "choose 'Save with Encoding' then 'UTF-8'",
                    code="encoding",
                )
            ]
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        return None, [
            Problem(
                file,
                None,
                None,
                "the file is not a text file",
                "is this the right file?",
                code="encoding",
            )
        ]
    builder = _Builder(file, text)
    loader: Any = _LOADER(text)
    try:
        while True:
            event = loader.get_event()
            if event is None or isinstance(event, StreamEndEvent):
                break
            builder.feed(event)
    except _Abort as abort:
        return None, [abort.problem]
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc, text, file)]
    except yaml.YAMLError as exc:
        return None, [
            Problem(
                file,
                None,
                None,
                f"the file cannot be read as YAML: {exc}",
                None,
                code="yaml_syntax",
            )
        ]
    finally:
        loader.dispose()
    if builder.root is None:
        return None, [Problem(file, 1, 1, "the file is empty", None, code="empty")]
    located = Located(builder.root, builder.positions, builder.values, text.splitlines())
    return located, builder.problems


# --- syntax errors in plain words -----------------------------------------------------------------


def _char_at(text: str, mark: yaml.Mark | None) -> str:
    if mark is None:
        return ""
    lines = text.splitlines()
    if 0 <= mark.line < len(lines) and 0 <= mark.column < len(lines[mark.line]):
        return lines[mark.line][mark.column]
    return ""


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    """PyYAML's and libyaml's wording differ; both become one message an officer can act on."""
    problem = (exc.problem or "").lower()
    context = (exc.context or "").lower()
    mark = exc.problem_mark or exc.context_mark
    ch = _char_at(text, exc.problem_mark)
    message: str
    hint: str
    if "nesting depth" in problem:  # PyYAML 6.0.4's own limit may stop the parser before ours
        return too_deep(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None)
    if "quoted scalar" in context and exc.context_mark is not None:
        quote = _char_at(text, exc.context_mark) or '"'
        mark = exc.context_mark
        message = f"the text that starts here with {quote} has no closing {quote}"
        hint = f"add the closing {quote} at the end of the text; to use {quote} inside a text, " + (
            "write it twice ('')" if quote == "'" else 'write \\" or put the text in single quotes'
        )
    elif ch == "\t" or "tab" in problem:
        message = "a tab is used here"
        hint = "indent with spaces, not tabs (VS Code: 'Convert Indentation to Spaces')"
    elif "mapping values are not allowed" in problem:
        message = "a ':' here is not expected"
        hint = (
            "put a text that contains ': ' in quotes (text: \"Note: ...\"), "
            "or check this line's indentation"
        )
    elif "cannot start any token" in problem:
        message = f"a value cannot start with {ch!r}" if ch else "a value cannot start like this"
        hint = "put the text in quotes"
    elif "flow sequence" in context or "flow mapping" in context:
        opener = "[" if "sequence" in context else "{"
        closer = "]" if opener == "[" else "}"
        started = exc.context_mark.line + 1 if exc.context_mark else None
        message = (
            f"the {opener} ... {closer} "
            + (f"opened on line {started} " if started else "")
            + "is not closed properly"
        )
        hint = (
            f"separate the items with commas and end with {closer}; quote texts that contain , or :"
        )
    elif "block collection" in context or "expected '-'" in problem:
        message = "this line does not fit in the list above it"
        hint = "every item of a list starts with '- ' at the same indentation"
    elif "block mapping" in context or "expected key" in problem or "block end" in problem:
        message = "this line does not line up with the lines above it"
        hint = (
            "settings at the same level start in the same column (use spaces); "
            "nothing may follow a closing quote on the same line"
        )
    else:
        message = f"the file is not valid YAML here ({exc.problem or exc.context})"
        hint = "check the indentation and quotes on this line and the one above"
    line = mark.line + 1 if mark else None
    col = mark.column + 1 if mark else None
    return Problem(file, line, col, message, hint, code="yaml_syntax")
