"""Turn flow files into validated :class:`Flow` objects, with every problem found reported at once.

``FlowRegistry`` is what a running bot holds: it reloads edited files, and when an edit breaks a
file it keeps serving the last good version of that flow and reports why (for ``/healthz``).
"""

from __future__ import annotations

import difflib
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from bot import schema
from bot.errors import FlowError, Problem
from bot.schema import Flow, Source
from bot.validate import check_flow
from bot.yamlsafe import Located, load_yaml

log = logging.getLogger(__name__)

FLOW_SUFFIXES = (".yaml", ".yml")


@dataclass
class LoadResult:
    file: str
    flow: Flow | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return self.flow is not None and not self.errors


def flow_version(raw: bytes) -> str:
    """Content hash of a flow file: sessions remember it to know which version they started on."""
    return hashlib.sha256(raw).hexdigest()[:12]


def load_flow_text(raw: str | bytes, file: str) -> LoadResult:
    data = raw.encode() if isinstance(raw, str) else raw
    located, problems = load_yaml(data, file)
    if located is None:
        return LoadResult(file, None, problems)
    if not isinstance(located.data, dict):
        problems.append(
            Problem(
                file,
                1,
                1,
                "a flow file must be a map of settings (id:, title:, questions: ...)",
                "see flows/carers-strategy.yaml for an example",
                code="not_a_map",
            )
        )
        return LoadResult(file, None, problems)
    try:
        flow = Flow.model_validate(located.data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, located, file))
        # Still run the checks that need only the raw data, so the officer sees everything at once.
        problems.extend(check_flow(None, located, file))
        return LoadResult(file, None, _dedupe(problems))
    flow = flow.model_copy(update={"version": flow_version(data)})
    problems.extend(check_flow(flow, located, file))
    errors = [p for p in problems if p.severity == "error"]
    return LoadResult(file, None if errors else flow, _dedupe(problems))


def load_flow(path: str | Path) -> LoadResult:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        return LoadResult(
            str(p),
            None,
            [Problem(str(p), None, None, f"cannot read file: {exc.strerror}", None, code="io")],
        )
    return load_flow_text(raw, str(p))


def flow_files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix in FLOW_SUFFIXES and f.is_file()))
        else:
            out.append(p)
    return out


def load_paths(paths: Iterable[str | Path]) -> list[LoadResult]:
    """Load files and folders; adds an error for flow ids or SMS keywords used by two files."""
    results = [load_flow(p) for p in flow_files(paths)]
    seen_ids: dict[str, str] = {}
    seen_words: dict[str, str] = {}
    for r in results:
        if r.flow is None:
            continue
        if r.flow.id in seen_ids:
            r.problems.append(
                Problem(
                    r.file,
                    1,
                    1,
                    f"flow id {r.flow.id!r} is also used by {seen_ids[r.flow.id]}",
                    "give each flow its own id",
                    code="duplicate_flow",
                )
            )
            r.flow = None
            continue
        seen_ids[r.flow.id] = r.file
        for word in r.flow.keywords:
            if word in seen_words:
                r.problems.append(
                    Problem(
                        r.file,
                        None,
                        None,
                        f"SMS keyword {word} is also used by {seen_words[word]}",
                        "each keyword may start one flow",
                        code="duplicate_keyword",
                    )
                )
            seen_words[word] = r.file
    return results


def require_flow(path: str | Path) -> Flow:
    """Load one flow or raise :class:`FlowError` listing its problems."""
    result = load_flow(path)
    if result.flow is None:
        raise FlowError(result.errors or result.problems)
    return result.flow


class FlowRegistry:
    """The flows a running bot serves, reloaded when files change; a broken edit keeps the last good."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.flows: dict[str, Flow] = {}
        self.problems: dict[str, list[Problem]] = {}
        self._stamps: dict[Path, tuple[float, int]] = {}
        self._file_flow: dict[Path, str] = {}
        self.refresh(force=True)

    def refresh(self, *, force: bool = False) -> bool:
        """Reload changed files. Returns True when anything changed."""
        changed = False
        files = flow_files([self.folder]) if self.folder.is_dir() else []
        for path in files:
            try:
                st = path.stat()
            except OSError:
                continue
            stamp = (st.st_mtime, st.st_size)
            if not force and self._stamps.get(path) == stamp:
                continue
            self._stamps[path] = stamp
            changed = True
            result = load_flow(path)
            self.problems[str(path)] = result.problems
            if result.flow is None:
                kept = self._file_flow.get(path)
                log.error(
                    "flow file %s rejected (%d errors)%s: %s",
                    path,
                    len(result.errors),
                    f"; still serving the last good version of {kept!r}" if kept else "",
                    "; ".join(p.format() for p in result.errors[:5]),
                )
                continue
            other = self.flows.get(result.flow.id)
            if other is not None and self._file_flow.get(path) != result.flow.id:
                self.problems[str(path)].append(
                    Problem(
                        str(path),
                        1,
                        1,
                        f"flow id {result.flow.id!r} is already served from another file",
                        "give each flow its own id",
                        code="duplicate_flow",
                    )
                )
                continue
            self.flows[result.flow.id] = result.flow
            self._file_flow[path] = result.flow.id
            log.info(
                "flow %s loaded from %s (version %s)", result.flow.id, path, result.flow.version
            )
        return changed

    @property
    def errors(self) -> dict[str, list[Problem]]:
        return {
            f: [p for p in ps if p.severity == "error"]
            for f, ps in self.problems.items()
            if any(p.severity == "error" for p in ps)
        }

    def get(self, flow_id: str) -> Flow | None:
        return self.flows.get(flow_id)

    def open_flows(self, now: Any) -> list[Flow]:
        return [f for f in self.flows.values() if f.is_open(now)]

    def by_keyword(self, text: str) -> tuple[Flow, Source | None] | None:
        """``CARERS`` or ``CARERS HARBOROUGH`` (any case, extra spaces) -> flow and source group."""
        words = text.strip().upper().split()
        if not words or len(words) > 2:
            return None
        for flow in self.flows.values():
            if words[0] in flow.keywords:
                if len(words) == 1:
                    return flow, None
                for src in flow.sources:
                    if src.keyword and src.keyword.upper() == words[1]:
                        return flow, src
                return None
        return None


# --- pydantic errors -> officer-friendly problems ------------------------------------------------


def _all_field_names() -> set[str]:
    names: set[str] = set()
    for obj in vars(schema).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj is not BaseModel:
            names.update(obj.model_fields)
    return names


_FIELDS = _all_field_names()
_TYPE_NAMES = get_args(schema.QUESTION_TYPES) or schema.QUESTION_TYPES


def _data_path(loc: tuple[int | str, ...], data: Any) -> tuple[str | int, ...]:
    """Drop the parts of a pydantic error location that are not in the data (union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            path.append(part)
            node = node[part]
        elif part in _FIELDS and isinstance(node, dict):
            # A missing field: name it, but it has no position of its own.
            path.append(part)
            node = None
    return tuple(path)


def _question_id(path: tuple[str | int, ...], data: Any) -> str | None:
    if len(path) >= 2 and path[0] == "questions" and isinstance(path[1], int):
        qs = data.get("questions") if isinstance(data, dict) else None
        if isinstance(qs, list) and path[1] < len(qs) and isinstance(qs[path[1]], dict):
            qid = qs[path[1]].get("id")
            return str(qid) if qid is not None else f"question {path[1] + 1}"
    return None


def _pydantic_problems(exc: ValidationError, located: Located, file: str) -> list[Problem]:
    out: list[Problem] = []
    done: set[tuple[str | int, ...]] = set()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = _data_path(loc, located.data)
        if path in done:
            continue  # e.g. a text that is neither a string nor a map gives one error per branch
        done.add(path)
        line, col = located.where(path)
        field_name = str(path[-1]) if path else "file"
        etype = err["type"]
        hint: str | None = None
        if etype == "extra_forbidden":
            message = f"unknown field {field_name!r}"
            close = difflib.get_close_matches(field_name, sorted(_FIELDS), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "remove it, or check the spelling"
        elif etype == "missing":
            message = f"missing required field {field_name!r}"
            hint = f"add '{field_name}:'"
            line, col = located.where(path[:-1])
        elif etype == "union_tag_invalid":
            given = err.get("input", {}).get("type") if isinstance(err.get("input"), dict) else None
            message = f"unknown question type {given!r}"
            close = difflib.get_close_matches(str(given), list(_TYPE_NAMES), n=1)
            hint = (
                (f"did you mean {close[0]!r}? " if close else "")
                + "types: "
                + ", ".join(_TYPE_NAMES)
            )
            line, col = located.where((*path, "type"))
        elif etype == "union_tag_not_found":
            message = "this question has no 'type'"
            hint = "add e.g. 'type: choice'; types: " + ", ".join(_TYPE_NAMES)
        elif etype == "string_pattern_mismatch":
            message = f"{field_name}: {err['input']!r} is not allowed here"
            hint = _pattern_hint(field_name)
        elif etype in ("too_short",) and field_name in ("questions", "choices", "languages"):
            message = f"{field_name!r} must not be empty"
            hint = f"add at least one item under '{field_name}:'"
        else:
            message = f"{field_name}: {err['msg']}"
            if message.endswith("Value error, "):
                message = message[: -len("Value error, ")]
            message = message.replace("Value error, ", "")
        out.append(
            Problem(
                file,
                line,
                col,
                message,
                hint,
                question=_question_id(path, located.data),
                code=etype,
            )
        )
    return out


def _pattern_hint(field_name: str) -> str:
    return {
        "id": "ids are short lower-case words with _ or -, e.g. 'caring_role' or 'carers-strategy'",
        "keyword": "an SMS keyword is one word of letters and digits, e.g. CARERS",
        "keywords": "an SMS keyword is one word of letters and digits, e.g. CARERS",
    }.get(field_name, "see 'surveybot schema' for the allowed form")


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for p in problems:
        key = (p.line, p.column, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return sorted(out, key=lambda p: (p.severity != "error", p.line or 0, p.column or 0))
