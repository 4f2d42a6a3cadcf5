"""Write flow files with ruamel.yaml: new ones with comments, edited ones keeping the officer's.

The bot reads flows with PyYAML's YAML 1.1 rules (``bot.yamlsafe``), where a bare ``yes``,
``no``, ``on`` or ``off`` is true/false; ruamel.yaml writes YAML 1.2, where they are text. So
every value written here that YAML 1.1 would not read back as the same text is quoted, and each
file is read back by the bot's own loader before it is saved (see the callers).
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*\Z")
_YAML11_WORDS = frozenset(
    ["yes", "no", "on", "off", "true", "false", "y", "n", "null"]
)  # read as true/false/null by YAML 1.1 in any case
_TEXT_FIELDS = frozenset(
    {
        "title",
        "intro",
        "thanks",
        "closed_text",
        "text",
        "hint",
        "reprompt",
        "label",
        "prompt",
        "declined",
        "none_of_these",
        "final",
        "council",
        "name",
        "phone",
        "email",
        "web",
    }
)
_FLOW_LISTS = frozenset({"languages", "keywords", "synonyms"})
_ONE_LINE = 80


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.width = 4096  # never re-wrap an officer's long line
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def plain_ok(text: str) -> bool:
    """May ``text`` be written without quotes and read back as the same text by YAML 1.1?"""
    return bool(_PLAIN.match(text)) and text.lower() not in _YAML11_WORDS


def key(text: str) -> str:
    return text if plain_ok(text) else quoted(text)


def quoted(text: str) -> str:
    out: str = DoubleQuotedScalarString(text)
    return out


def _value(name: str | None, value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return value
    if isinstance(value, str):
        if name == "when":
            return SingleQuotedScalarString(value) if "'" not in value else quoted(value)
        if name in _TEXT_FIELDS or not plain_ok(value):
            return quoted(value)
        return value
    if isinstance(value, Mapping):
        out = CommentedMap()
        for k, v in value.items():
            # Inside a text map (en: ..., gu: ...), the values are texts.
            out[key(str(k)) if not isinstance(k, int) else k] = _value(
                name if name in _TEXT_FIELDS else str(k), v
            )
        if name in _TEXT_FIELDS and _short(value):
            out.fa.set_flow_style()
        if (
            name is None
            and set(value) <= {"id", "label", "synonyms", "exclusive"}
            and _short(value)
        ):
            out.fa.set_flow_style()
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_value(name if name in _FLOW_LISTS else None, v) for v in value)
        if name in _FLOW_LISTS:
            seq.fa.set_flow_style()
        return seq
    return value


def _short(value: Mapping[Any, Any]) -> bool:
    return all(isinstance(v, str) for v in value.values()) and (
        sum(len(str(k)) + len(v) + 6 for k, v in value.items()) <= _ONE_LINE
    )


def dump_flow(
    data: Mapping[str, Any], *, header: list[str], question_notes: Sequence[str | None]
) -> str:
    """A new flow file: ``header`` lines as the opening comment, and before each question its
    note (where it came from)."""
    doc = CommentedMap()
    for k, v in data.items():
        doc[k] = _value(k, v)
    questions = doc.get("questions")
    if isinstance(questions, CommentedSeq):
        for i, note in enumerate(question_notes):
            if note:
                questions.yaml_set_comment_before_after_key(i, before=note, indent=2)
    if header:
        doc.yaml_set_start_comment("\n".join(header))
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    return buf.getvalue()


def load_roundtrip(text: str) -> tuple[Any, YAML]:
    """A flow file as ruamel's round-trip data (comments, quotes and layout kept), and the
    YAML instance set to write it back with the file's own indentation."""
    from ruamel.yaml.util import load_yaml_guess_indent

    _, seq_indent, offset = load_yaml_guess_indent(text)
    y = _yaml()
    mapping = _mapping_indent(text)
    if seq_indent and offset is not None:
        y.indent(mapping=mapping, sequence=seq_indent, offset=offset)
    else:
        y.indent(mapping=mapping, sequence=mapping + 2, offset=mapping)
    return y.load(text), y


_NESTED_KEY = re.compile(r"^( +)[A-Za-z_\"'][^:#]*:(\s|\Z)")


def _mapping_indent(text: str) -> int:
    """How far the file indents a map inside a map (2 unless it shows otherwise)."""
    previous = ""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _NESTED_KEY.match(line)
        if m and re.fullmatch(r"[A-Za-z_][^:]*:\s*", previous):
            return len(m.group(1))
        previous = line
    return 2


def dump_roundtrip(data: Any, y: YAML) -> str:
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


_NEW_ITEM = re.compile(r"^\s*(#|-(\s|\Z)|[^\s\"'\[{,][^:#]*:(\s|\Z))")


def keep_layout(old: str, new: str) -> str:
    """``new`` with the officer's own lines from ``old`` wherever they say the same thing.

    ruamel keeps comments and quotes, but writes a flow-style list or map that an officer wrapped
    over several lines on one line. Where a changed stretch of lines is, item by item (a key or
    list entry with its continuation lines), the same text but for line breaks and spaces, the
    old lines are kept; only the items that really changed take ruamel's text.
    """
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out += a[i1:i2]
            continue
        olds, news = _items(a[i1:i2]), _items(b[j1:j2])
        if op == "replace" and len(olds) == len(news):
            for x, y in zip(olds, news, strict=True):
                out += x if _squash(x) == _squash(y) else y
            continue
        out += b[j1:j2]
    return "".join(out)


def _items(lines: list[str]) -> list[list[str]]:
    groups: list[list[str]] = []
    for line in lines:
        if not groups or _NEW_ITEM.match(line):
            groups.append([line])
        else:
            groups[-1].append(line)
    return groups


def _squash(lines: list[str]) -> str:
    return re.sub(r"\s+", " ", "".join(lines)).strip()


def text_value(text: str) -> str:
    """A new text to put into an officer's file (always double-quoted, as the samples are)."""
    return quoted(text)


def new_map(items: Mapping[str, Any], *, flow_style: bool) -> CommentedMap:
    out = CommentedMap()
    for k, v in items.items():
        out[key(k)] = v
    if flow_style:
        out.fa.set_flow_style()
    return out
