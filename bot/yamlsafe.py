"""Read a YAML flow file safely, keeping the line of every value for error messages.

PyYAML composes the node graph (no Python objects are built, no tags executed); we then build
plain data ourselves, which lets us (1) reject duplicate keys, which PyYAML silently overwrites,
(2) reject any tag that is not plain data (``!!python/object`` and friends), (3) bound the work an
alias-heavy "billion laughs" file can cause, and (4) remember where each value came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.errors import Problem

MAX_BYTES = 1_000_000
"""Largest flow file accepted. A real survey is a few tens of kilobytes."""
MAX_NODES = 200_000
"""Most values built from one file, counting every expansion of an alias."""
MAX_DEPTH = 64

Path = tuple[str | int, ...]

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


@dataclass
class Located:
    """Plain data from a YAML file plus the 1-based (line, column) of each path in it."""

    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path) -> tuple[int | None, int | None]:
        """Position of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), (None, None))


class _Abort(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.count = 0
        self.positions: dict[Path, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self._scalar = yaml.SafeLoader("")

    def mark(self, node: Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def fail(self, node: Node, message: str, hint: str | None, code: str) -> _Abort:
        line, col = self.mark(node)
        return _Abort(Problem(self.file, line, col, message, hint, code=code))

    def build(self, node: Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                "the file expands to too many values (aliases repeated too often?)",
                "flow files should not need YAML anchors and aliases; write the values out",
                "yaml_too_big",
            )
        if depth > MAX_DEPTH:
            raise self.fail(node, "values are nested too deeply", None, "yaml_too_deep")
        if node.tag not in _PLAIN_TAGS:
            raise self.fail(
                node,
                f"YAML tag {node.tag!r} is not allowed",
                "flow files hold plain text, numbers, lists and maps only",
                "yaml_tag",
            )
        self.positions.setdefault(path, self.mark(node))
        if isinstance(node, ScalarNode):
            return self._scalar.construct_object(node)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    raise self.fail(key_node, "a key must be a plain word", None, "yaml_key")
                if key_node.tag not in _PLAIN_TAGS:
                    raise self.fail(
                        key_node, f"YAML tag {key_node.tag!r} is not allowed", None, "yaml_tag"
                    )
                key = self._scalar.construct_object(key_node)
                if isinstance(key, bool | type(None)):
                    # `yes:`/`no:`/`on:` keys mean the words (next: {yes: ..., no: ...}), not booleans.
                    key = key_node.value
                key = str(key) if not isinstance(key, str | int) else key
                if key in out:
                    line, col = self.mark(key_node)
                    first = self.positions.get((*path, key), (None, None))[0]
                    self.problems.append(
                        Problem(
                            self.file,
                            line,
                            col,
                            f"duplicate key {key!r}",
                            f"it is already set on line {first}; keep one" if first else None,
                            code="duplicate_key",
                        )
                    )
                    continue
                self.positions[(*path, key)] = self.mark(key_node)
                out[key] = self.build(value_node, (*path, key), depth + 1)
            return out
        raise self.fail(node, "unsupported YAML value", None, "yaml_value")  # pragma: no cover


def load_yaml(text: str | bytes, file: str) -> tuple[Located | None, list[Problem]]:
    """Parse ``text``; return the data with positions, and every problem found."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_BYTES:
        return None, [
            Problem(
                file,
                None,
                None,
                f"the file is too large ({size:,} bytes; the limit is {MAX_BYTES:,})",
                "a flow file is a few kilobytes; is this the right file?",
                code="file_too_large",
            )
        ]
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, [
                Problem(
                    file,
                    None,
                    None,
                    f"the file is not UTF-8 text ({exc.reason})",
                    "save it as UTF-8",
                    code="encoding",
                )
            ]
    builder = _Builder(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None, [Problem(file, 1, 1, "the file is empty", None, code="empty")]
        data = builder.build(node, (), 0)
    except _Abort as abort:
        return None, [abort.problem]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        message = f"YAML syntax error: {exc.problem or exc.context}"
        return None, [Problem(file, line, col, message, _syntax_hint(exc), code="yaml_syntax")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, None, None, f"YAML error: {exc}", None, code="yaml_syntax")]
    except RecursionError:
        return None, [
            Problem(file, None, None, "values are nested too deeply", None, code="yaml_too_deep")
        ]
    return Located(data, builder.positions), builder.problems


def _syntax_hint(exc: yaml.MarkedYAMLError) -> str | None:
    problem = (exc.problem or "").lower()
    if "tab" in problem:
        return "use spaces, not tabs, to indent"
    if "mapping values are not allowed" in problem:
        return "a text containing ': ' must be in quotes"
    if "could not find expected ':'" in problem:
        return "check the indentation and that every key is followed by ':'"
    if "found character" in problem and "that cannot start any token" in problem:
        return "put text that starts with a special character (` @ % etc.) in quotes"
    return "check the indentation and quotes on this line and the one above"
