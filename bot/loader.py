"""Turn flow files into validated :class:`Flow` objects, with every problem found reported at once.

``FlowRegistry`` is what a running bot holds: it reloads edited files, and when an edit breaks a
file it keeps serving the last good version of that flow and reports why (for ``/healthz``).
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from bot import schema
from bot.errors import FlowError, Problem
from bot.schema import Flow, Source
from bot.validate import Channels, UncheckedQuestion, check_flow
from bot.yamlsafe import MAX_BYTES, Located, load_yaml, too_large

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


MAX_QUESTIONS = 300
"""Most questions in one flow (an SMS survey of 25 questions is already long)."""
MAX_CHOICES = 200
"""Most choices in one question."""
MAX_LANGUAGES = 20
"""Most languages in one flow."""


def load_flow_text(raw: str | bytes, file: str, channels: Channels | None = None) -> LoadResult:
    """Load one flow from its text. Never raises for a bad file: every problem is in the result.

    When the file has errors, ``flow`` is None and ``problems`` lists all of them (shape errors
    and the checks of :mod:`bot.validate` on every part that could still be read), so an officer
    can fix them all in one go.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        return _load(data, file, channels)
    except Exception as exc:  # a bug of ours must not stop the other flows from loading
        log.exception("checking %s failed", file)
        return LoadResult(
            file,
            None,
            [
                Problem(
                    file,
                    None,
                    None,
                    f"this file could not be checked ({type(exc).__name__}: {exc})"[:300],
                    "this is a fault in surveybot, not in the file: please report it "
                    "with a copy of the file",
                    code="internal",
                )
            ],
        )


def _load(data: bytes, file: str, channels: Channels | None) -> LoadResult:
    located, problems = load_yaml(data, file)
    if located is None:
        return LoadResult(file, None, problems)
    if not isinstance(located.data, dict):
        problems.append(
            Problem(
                file,
                1,
                1,
                "a flow file must be made of settings, one per line: "
                "'id: ...', 'title: ...', 'questions: ...'",
                "see flows/communities-approach.yaml for an example",
                code="not_a_map",
            )
        )
        return LoadResult(file, None, problems)
    too_big = _limits(located, file)
    if too_big:
        return LoadResult(file, None, _dedupe([*problems, *too_big]))
    try:
        flow = Flow.model_validate(located.data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, located, file))
        # Check every part that could be read too, so the officer sees everything at once.
        partial, replaced = _partial_flow(located.data)
        checked = check_flow(partial, located, file, channels)
        if "languages" in replaced:
            checked = [p for p in checked if p.code != "translation"]
        problems.extend(checked)
        return LoadResult(file, None, _dedupe(problems))
    flow = flow.model_copy(update={"version": flow_version(data)})
    problems.extend(check_flow(flow, located, file, channels))
    errors = [p for p in problems if p.severity == "error"]
    return LoadResult(file, None if errors else flow, _dedupe(problems))


def _limits(located: Located, file: str) -> list[Problem]:
    """Sizes no real survey reaches; checked before anything else so a huge file fails fast."""
    data = located.data
    out: list[Problem] = []

    def over(path: tuple[str | int, ...], what: str, n: int, limit: int) -> None:
        line, col = located.where(path)
        out.append(
            Problem(
                file,
                line,
                col,
                f"too many {what} ({n:,}; the limit is {limit:,})",
                "split the survey into shorter ones",
                code="too_many",
            )
        )

    qs = data.get("questions")
    if isinstance(qs, list):
        if len(qs) > MAX_QUESTIONS:
            over(("questions",), "questions", len(qs), MAX_QUESTIONS)
        for i, q in enumerate(qs[: MAX_QUESTIONS + 1]):
            choices = q.get("choices") if isinstance(q, dict) else None
            if isinstance(choices, list) and len(choices) > MAX_CHOICES:
                over(("questions", i, "choices"), "choices", len(q["choices"]), MAX_CHOICES)
    langs = data.get("languages")
    if isinstance(langs, list) and len(langs) > MAX_LANGUAGES:
        over(("languages",), "languages", len(langs), MAX_LANGUAGES)
    return out


_QUESTION: TypeAdapter[schema.Question] = TypeAdapter(schema.Question)
_FILLERS: dict[str, Any] = {
    "id": "flow",
    "title": "",
    "council": "",
    "contact": {"phone": "0"},
    "intro": "",
    "thanks": "",
}


def _partial_flow(data: dict[str, Any]) -> tuple[Flow | None, set[str]]:
    """The flow as far as it can be read: settings in error replaced by defaults, questions in
    error by :class:`UncheckedQuestion` (keeping their id, text, ``when:`` and ``next:``).

    Returns the flow (None when it has no questions to check) and the settings replaced.
    """
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        return None, set()
    questions: list[Any] = []
    for i, raw in enumerate(raw_questions):
        try:
            questions.append(_QUESTION.validate_python(raw))
        except ValidationError:
            questions.append(_placeholder(raw, i))
    settings = {k: v for k, v in data.items() if k != "questions"}
    settings["questions"] = [{"id": "placeholder", "type": "info", "text": ""}]
    replaced: set[str] = set()
    for _ in range(3):
        try:
            base = Flow.model_validate(settings)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                top = err["loc"][0] if err["loc"] else None
                if not isinstance(top, str) or top == "questions":
                    continue
                replaced.add(top)
                if top in _FILLERS:
                    settings[top] = _FILLERS[top]
                else:
                    settings.pop(top, None)
            continue
        return base.model_copy(update={"questions": questions}), replaced
    return None, replaced


def _placeholder(raw: Any, index: int) -> UncheckedQuestion:
    q = raw if isinstance(raw, dict) else {}
    qid = q.get("id")
    if not (isinstance(qid, str) and re.fullmatch(schema.QUESTION_ID, qid)):
        qid = f"#{index + 1}"  # cannot clash with a real id, nor be named in a condition
    text: Any = q.get("text")
    ok_text = isinstance(text, str) or (
        isinstance(text, dict) and all(isinstance(v, str) for v in text.values())
    )
    nxt = q.get("next")
    ok_next = isinstance(nxt, str) or (
        isinstance(nxt, dict) and all(isinstance(v, str) for v in nxt.values())
    )
    when = q.get("when")
    return UncheckedQuestion.model_construct(
        id=qid,
        text=text if ok_text else "",
        when=when if isinstance(when, str) else None,
        next={str(k): v for k, v in nxt.items()}
        if isinstance(nxt, dict) and ok_next
        else (nxt if ok_next else None),
    )


def load_flow(path: str | Path, channels: Channels | None = None) -> LoadResult:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # a huge file is refused without reading it all
            if len(raw) > MAX_BYTES:
                return LoadResult(str(p), None, [too_large(str(p), os.fstat(fh.fileno()).st_size)])
    except OSError as exc:
        return LoadResult(
            str(p),
            None,
            [Problem(str(p), None, None, f"cannot read file: {exc.strerror}", None, code="io")],
        )
    return load_flow_text(raw, str(p), channels)


def flow_files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix in FLOW_SUFFIXES and f.is_file()))
        else:
            out.append(p)
    return out


def load_paths(paths: Iterable[str | Path], channels: Channels | None = None) -> list[LoadResult]:
    """Load files and folders; adds an error for flow ids or SMS keywords used by two files.
    ``channels`` says how the bot is set up, for the checks that depend on it (WhatsApp)."""
    results = [load_flow(p, channels) for p in flow_files(paths)]
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
    _voice_key_clashes([r for r in results if r.flow is not None])
    return results


def _voice_key_clashes(results: list[LoadResult]) -> None:
    """Warn where two surveys that can be open together have the same ``voice: key``: on a
    shared phone number only the first by id keeps it, so the other's posters would be wrong."""
    keyed = sorted(
        (r for r in results if r.flow is not None and r.flow.voice.key is not None),
        key=lambda r: r.flow.id if r.flow else "",
    )
    for i, r in enumerate(keyed):
        assert r.flow is not None
        for earlier in keyed[:i]:
            assert earlier.flow is not None
            if earlier.flow.voice.key == r.flow.voice.key and earlier.flow.overlaps(r.flow):
                r.problems.append(
                    Problem(
                        r.file,
                        None,
                        None,
                        f"voice key {r.flow.voice.key} is also {earlier.flow.id!r}'s "
                        f"({earlier.file}), and both can be open at once: on a shared phone "
                        f"number {earlier.flow.id!r} keeps it",
                        "give each survey its own 'voice: key:' (or a number of its own)",
                        severity="warning",
                        code="voice_key_clash",
                    )
                )
                break


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
        self.published: dict[str, Flow] = {}
        """Versions published from the officers' console (``store.published``): they serve
        instead of a file with the same flow id (README, "Publishing from the console")."""
        self.from_files: dict[str, Flow] = {}
        """The last good version of each flow file, whether it serves or a published one does."""
        self._stamps: dict[Path, tuple[int, int]] = {}
        self._file_flow: dict[Path, str] = {}
        # Files reload in a thread while published versions arrive on the event loop.
        self._lock = threading.Lock()
        self.refresh(force=True)

    def use_published(self, flow: Flow) -> None:
        """Serve ``flow``, published from the officers' console, from now on."""
        with self._lock:
            self.published[flow.id] = flow
            self.flows[flow.id] = flow
        log.info("flow %s: published version %s now serving", flow.id, flow.version)

    def refresh(self, *, force: bool = False) -> bool:
        """Reload changed files. Returns True when anything changed."""
        changed = False
        files = flow_files([self.folder]) if self.folder.is_dir() else []
        for path in files:
            try:
                st = path.stat()
            except OSError:
                continue
            stamp = (st.st_mtime_ns, st.st_size)
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
            with self._lock:
                self._file_flow[path] = result.flow.id
                self.from_files[result.flow.id] = result.flow
                if result.flow.id in self.published:
                    log.info(
                        "flow file %s (version %s) not served: the version published from the "
                        "console is (publish the file's text from the console to serve it)",
                        path,
                        result.flow.version,
                    )
                    continue
                self.flows[result.flow.id] = result.flow
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

    def file_of(self, flow_id: str) -> str | None:
        """The file the served version of ``flow_id`` came from (its file, if any, when a
        version published from the console serves)."""
        for path, fid in self._file_flow.items():
            if fid == flow_id:
                return path.name
        return None

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
_TYPE_NAMES: tuple[str, ...] = tuple(schema.QUESTION_TYPES)
_QUESTION_CLASSES: dict[str, type[BaseModel]] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls
    for cls in get_args(get_args(schema.Question)[0])
}


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that the value at pydantic location ``loc`` is validated against, if any."""
    current: Any = Flow
    for part in loc:
        current = _strip(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return None
            current = info.annotation
            continue
        origin = get_origin(current)
        if origin in (list, dict):
            current = get_args(current)[-1]
        elif origin in (Union, UnionType):
            members = [_strip(a) for a in get_args(current) if a is not type(None)]
            if part in _QUESTION_CLASSES and any(m is _QUESTION_CLASSES[part] for m in members):
                current = _QUESTION_CLASSES[str(part)]
                continue
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            if len(models) != 1:
                return None
            current = models[0]
            if part not in models[0].model_fields:
                continue  # a union member's name, e.g. 'str'; the model follows
            info = models[0].model_fields[str(part)]
            current = info.annotation
        else:
            return None
    current = _strip(current)
    if get_origin(current) in (Union, UnionType):
        models = [
            m
            for m in (_strip(a) for a in get_args(current))
            if isinstance(m, type) and issubclass(m, BaseModel)
        ]
        current = models[0] if len(models) == 1 else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _data_path(loc: tuple[int | str, ...], data: Any) -> tuple[str | int, ...]:
    """The part of a pydantic error location that is in the data.

    Drops union member names ('str', 'dict[str,str]') and the question type that pydantic puts
    after a question's index (the type 'text' must not be read as the field 'text').
    """
    path: list[str | int] = []
    node = data
    for n, part in enumerate(loc):
        if n == 2 and loc[0] == "questions" and part in _QUESTION_CLASSES:
            continue  # the union tag pydantic adds after a question's index
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
        return f"question {path[1] + 1}"
    return None


def _at(data: Any, path: tuple[str | int, ...]) -> Any:
    node = data
    for part in path:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            return None
        node = node[part]
    return node


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 50 else text[:45] + "...'"


def _what(path: tuple[str | int, ...], key_error: bool = False) -> str:
    """How to name the value at ``path`` in a message: 'text', 'choices' (item 2), the file."""
    if not path:
        return "the file"
    last = path[-1]
    if key_error:
        return f"the key {last!r}" + (f" in '{path[-2]}'" if len(path) > 1 else "")
    if isinstance(last, int):
        if len(path) >= 2 and path[-2] == "questions":
            return f"question {last + 1}"
        if len(path) >= 2:
            return f"'{path[-2]}' (item {last + 1})"
        return f"item {last + 1}"
    return f"'{last}'"


def _id_kind(path: tuple[str | int, ...]) -> str:
    if path[:1] == ("questions",) and "choices" in path:
        return "choice"
    if path[:1] == ("questions",) and "other" in path:
        return "choice"
    if path[:1] == ("questions",):
        return "question"
    if path[:1] == ("sources",):
        return "source"
    if path[:1] == ("keywords",) or path[-1:] == ("keyword",):
        return "keyword"
    return "flow"


_ID_RULES = {
    "question": (
        "a question id is lower-case letters, digits and _, starting with a letter, "
        "up to 30 characters",
        schema.QUESTION_ID,
    ),
    "choice": (
        "a choice id is letters, digits and _ . + -, with no spaces, up to 30 characters",
        schema.CHOICE_ID,
    ),
    "flow": (
        "a flow id is lower-case letters, digits and -, up to 40 characters",
        schema.FLOW_ID,
    ),
    "source": (
        "a source id is lower-case letters, digits and -, up to 30 characters",
        schema.SOURCE_ID,
    ),
    "keyword": ("an SMS keyword is one word of 2 to 20 letters or digits", schema.KEYWORD),
}


def _suggest_id(kind: str, value: str) -> str | None:
    """A valid id close to what was typed: 'Carer Role' -> 'carer_role'."""
    rule, pattern = _ID_RULES[kind]
    del rule
    text = value.strip()
    if kind == "keyword":
        cand = re.sub(r"[^A-Za-z0-9]", "", (text.split() or [""])[0]).upper()[:20]
    elif kind in ("flow", "source"):
        cand = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:30]
    elif kind == "question":
        cand = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:30]
        cand = cand if cand[:1].isalpha() else f"q_{cand}"[:30]
    else:
        cand = re.sub(r"[^A-Za-z0-9_.+-]+", "_", text).strip("_")[:30]
    return cand if cand and re.fullmatch(pattern, cand) else None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a yes/no value"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a set of settings"
    return f"a {type(value).__name__}"


def _type_hint(field_name: str, value: Any) -> str | None:
    if isinstance(value, bool):
        return (
            "YAML reads yes, no, true, false, on and off as a yes/no value: put the text in quotes"
        )
    if value is None:
        return f"write the text after '{field_name}:'" if field_name else None
    if isinstance(value, int | float):
        return "put it in quotes to use a number as text"
    if isinstance(value, dict | list):
        return "a text is written on one line after the ':', or as a map of languages: en: ..."
    return None


def _pydantic_problems(exc: ValidationError, located: Located, file: str) -> list[Problem]:
    raw: list[tuple[tuple[str | int, ...], tuple[int | str, ...], Problem]] = []
    done: set[tuple[str | int, ...]] = set()
    data = located.data
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        key_error = bool(loc) and loc[-1] == "[key]"
        path = _data_path(loc, data)
        if path in done:
            continue  # e.g. a text that is neither a string nor a map gives one error per branch
        done.add(path)
        line, col = located.where(path)
        field_name = str(path[-1]) if path and isinstance(path[-1], str) else ""
        what = _what(path, key_error)
        value = err.get("input")
        etype = err["type"]
        msg = str(err["msg"])
        hint: str | None = None
        if etype == "extra_forbidden":
            message = f"unknown field {field_name!r}"
            model = _model_at(loc[:-1])
            allowed = sorted(model.model_fields) if model is not None else sorted(_FIELDS)
            allowed = [a for a in allowed if a != "version"]
            close = difflib.get_close_matches(field_name, allowed, n=1, cutoff=0.6)
            elsewhere = [
                t
                for t, cls in _QUESTION_CLASSES.items()
                if field_name in cls.model_fields and model is not None and model is not cls
            ]
            # A real field of another question type beats a spelling guess ('choices' is not
            # a misspelt 'voice').
            if elsewhere and model is not None and model in _QUESTION_CLASSES.values():
                this = next(t for t, cls in _QUESTION_CLASSES.items() if cls is model)
                hint = (
                    f"'{field_name}' is used by {', '.join(elsewhere)} questions, "
                    f"not by {this} questions: check the type"
                )
            elif close:
                hint = f"did you mean {close[0]!r}?"
            else:
                hint = "remove it, or check the spelling; allowed here: " + ", ".join(allowed)
        elif etype == "missing":
            message = f"missing required field {field_name!r}"
            hint = f"add '{field_name}:'"
            line, col = located.where(path[:-1])
        elif etype == "union_tag_invalid":
            given = value.get("type") if isinstance(value, dict) else None
            message = f"unknown question type {given!r}"
            close = difflib.get_close_matches(str(given), list(_TYPE_NAMES), n=1)
            hint = (
                (f"did you mean {close[0]!r}? " if close else "")
                + "the types are "
                + ", ".join(_TYPE_NAMES)
            )
            line, col = located.where((*path, "type"))
        elif etype == "union_tag_not_found":
            message = "this question has no 'type'"
            hint = "add e.g. 'type: choice'; the types are " + ", ".join(_TYPE_NAMES)
        elif etype == "string_pattern_mismatch":
            kind = _id_kind(path)
            message = f"{kind} id {_short(value)} is not allowed"
            if kind == "keyword":
                message = f"SMS keyword {_short(value)} is not allowed"
            suggestion = _suggest_id(kind, str(value))
            hint = _ID_RULES[kind][0] + (f", e.g. {suggestion!r}" if suggestion else "")
        elif etype in ("too_short",) and field_name in ("questions", "choices", "languages"):
            message = f"{field_name!r} must not be empty"
            hint = f"add at least one item under '{field_name}:'"
        elif etype == "string_type":
            message = (
                f"{what} is empty"
                if value is None
                else f"{what} should be text, not {_kind(value)}"
            )
            if field_name == "when":
                hint = "put the condition in quotes, e.g. when: 'know_support == yes'"
            elif field_name == "none_of_these":
                message = f"{what} should be true, or the words to show"
                hint = "e.g. none_of_these: true, or none_of_these: None of these"
            elif field_name == "next":
                hint = "write a question id, 'end', or a map of answers, e.g. {\"no\": q5, default: q6}"
            else:
                hint = _type_hint(field_name, value)
        elif etype in ("dict_type", "model_type", "model_attributes_type"):
            if len(path) == 2 and path[0] == "questions":
                message = f"{what} should be a set of settings (id:, type:, text: ...)"
                hint = "start each question with '- id:' and indent its other settings under it"
            else:
                message = f"{what} should be a set of 'name: value' settings"
                hint = "write each setting on its own line, indented under this one"
        elif etype == "list_type":
            message = f"{what} should be a list"
            hint = "write one item per line starting with '- ', or [a, b] on one line"
            if field_name == "questions" and value is None:
                hint = "add your questions under 'questions:', each starting with '- id:'"
        elif etype.startswith(("int_", "float_", "bool_", "date_", "datetime_", "time_")):
            kind = etype.split("_", 1)[0]
            message = f"{what} should be " + {
                "int": "a whole number",
                "float": "a number",
                "bool": "true or false",
                "date": "a date",
                "datetime": "a date, or a date and time",
                "time": "a time",
            }.get(kind, "something else")
            hint = {
                "int": "e.g. 5",
                "float": "e.g. 2.5",
                "bool": "write true or false",
                "date": "write dates as year-month-day, e.g. 2022-10-01",
                "datetime": "write e.g. 2022-10-01 or 2022-10-01 09:00",
                "time": "write e.g. 09:00",
            }.get(kind)
        elif etype == "value_error":
            text = msg.removeprefix("Value error, ")
            if len(text) > 200:
                text = text[:195] + " ..."
            message = text if not field_name else f"{what}: {text}"
            # A check of several fields ('max' must be greater than 'min'): point at the first.
            named = re.findall(r"'([a-z_]+)'", text)
            node = _at(data, path)
            for name in named:
                if isinstance(node, dict) and name in node:
                    line, col = located.where((*path, name))
                    break
        elif msg.startswith("Input should be"):
            message = msg.replace("Input should be", f"{what} should be", 1)
        else:
            message = f"{what}: {msg}"
        raw.append(
            (
                path,
                loc,
                Problem(
                    file,
                    line,
                    col,
                    message,
                    hint,
                    question=_question_id(path, data),
                    code=etype,
                ),
            )
        )
    return _drop_follow_ons(raw, data)


def _drop_follow_ons(
    raw: list[tuple[tuple[str | int, ...], tuple[int | str, ...], Problem]], data: Any
) -> list[Problem]:
    """One mistake, one problem: a misspelt field ('chioces') also makes the real one
    ('choices') missing; an empty choice list is reported by the validator already."""
    suggested: set[tuple[tuple[str | int, ...], str]] = set()
    for path, _loc, p in raw:
        if p.code == "extra_forbidden" and p.hint and p.hint.startswith("did you mean"):
            name = p.hint.split("'")[1]
            suggested.add((path[:-1], name))
    out = []
    for path, _loc, p in raw:
        if p.code == "missing" and (path[:-1], str(path[-1])) in suggested:
            continue
        if p.code == "value_error" and _at(data, (*path, "choices")) == []:
            continue
        out.append(p)
    return out


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for p in problems:
        key = (p.line, p.column, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return sorted(out, key=lambda p: (p.severity != "error", p.line or 0, p.column or 0))
