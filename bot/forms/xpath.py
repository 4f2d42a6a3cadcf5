"""The part of XPath that XLSForm ``relevant`` and ``constraint`` columns use, and its translation.

``relevant`` becomes a flow condition (:mod:`bot.expr`): ``${q} = 'x'``, ``!=``, ``<``, ``<=``,
``>``, ``>=``, ``selected(${q}, 'x')``, ``count-selected(${q})``, ``string-length(${q}) > 0``,
``and``, ``or``, ``not(...)``, ``true()``, ``false()`` and brackets, with each value turned into
what the flow stores for that question (a choice id, a number, yes/no, a scale point). A simple
``constraint`` becomes the question's limits (:func:`constraint_limits`): ``. >= 0 and . <= 168``,
``string-length(.) <= 200``, ``count-selected(.) <= 3``, the "none cannot go with others" idiom.

Anything a chat cannot evaluate (arithmetic, ``today()``, ``pulldata()``, paths, ...) raises
:class:`XPathError` with the column inside the expression and what to do instead. Nothing here
evaluates the text: it is tokenized and parsed by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from bot import expr as E

MAX_LENGTH = 4000


class XPathError(Exception):
    def __init__(self, message: str, column: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.hint = hint


# --- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tok:
    kind: str  # ref str num name op end
    text: str
    start: int  # 0-based offset
    end: int


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]*")
_NUMBER = re.compile(r"\d+(\.\d*)?|\.\d+")
_REF = re.compile(r"\$\{\s*([^}\s]*)\s*\}")
_OPS = ("!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "|", "(", ")", ",", "/", "[", "]", "..")


def _lex(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "$":
            m = _REF.match(text, i)
            if not m or not m.group(1):
                raise XPathError("'${' without a question name and '}'", i + 1, "write e.g. ${age}")
            out.append(_Tok("ref", m.group(1), i, m.end()))
            i = m.end()
            continue
        if ch in "'\"":
            j = text.find(ch, i + 1)
            if j < 0:
                raise XPathError("a quote is not closed", i + 1, f"add the closing {ch}")
            out.append(_Tok("str", text[i + 1 : j], i, j + 1))
            i = j + 1
            continue
        if ch in "\u2018\u2019\u201c\u201d":
            raise XPathError(f"curly quote {ch!r}", i + 1, "use straight quotes: 'yes'")
        m = _NUMBER.match(text, i)
        if m and not (ch == "." and text.startswith("..", i)):
            out.append(_Tok("num", m.group(0), i, m.end()))
            i = m.end()
            continue
        if ch == "." and not text.startswith("..", i):
            out.append(_Tok("self", ".", i, i + 1))
            i += 1
            continue
        m = _NAME.match(text, i)
        if m:
            out.append(_Tok("name", m.group(0), i, m.end()))
            i = m.end()
            continue
        for op in _OPS:
            if text.startswith(op, i):
                out.append(_Tok("op", op, i, i + len(op)))
                i += len(op)
                break
        else:
            raise XPathError(f"unexpected {ch!r}", i + 1, None)
    out.append(_Tok("end", "", n, n))
    return out


# --- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class XRef:
    name: str
    start: int
    end: int


@dataclass(frozen=True)
class XSelf:
    start: int
    end: int


@dataclass(frozen=True)
class XStr:
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class XNum:
    value: int | float
    start: int
    end: int


@dataclass(frozen=True)
class XCall:
    name: str
    args: tuple[XNode, ...]
    start: int
    end: int


@dataclass(frozen=True)
class XBin:
    op: str  # or and = != < <= > >= + - * div mod |
    left: XNode
    right: XNode
    start: int
    end: int
    op_start: int = field(default=0)


@dataclass(frozen=True)
class XNeg:
    operand: XNode
    start: int
    end: int


@dataclass(frozen=True)
class XPathExpr:
    """A path (``/data/q``, ``../q``, ``q``): XLSForm writes ``${q}`` instead."""

    text: str
    start: int
    end: int


XNode: TypeAlias = XRef | XSelf | XStr | XNum | XCall | XBin | XNeg | XPathExpr

_EQ = ("=", "!=")
_REL = ("<", "<=", ">", ">=")
MAX_DEPTH = 40


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _lex(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.text in words

    def parse(self) -> XNode:
        node = self.or_()
        if self.tok.kind != "end":
            raise XPathError(
                f"unexpected {self.tok.text!r}",
                self.tok.start + 1,
                "check the brackets and that 'and'/'or' join the parts",
            )
        return node

    def _bin(self, op: str, left: XNode, right: XNode, op_tok: _Tok) -> XBin:
        return XBin(op, left, right, _start(left), _end(right), op_tok.start)

    def or_(self) -> XNode:
        node = self.and_()
        while self.is_word("or", "OR", "Or"):
            op = self.take()
            node = self._bin("or", node, self.and_(), op)
        return node

    def and_(self) -> XNode:
        node = self.eq()
        while self.is_word("and", "AND", "And"):
            op = self.take()
            node = self._bin("and", node, self.eq(), op)
        return node

    def eq(self) -> XNode:
        node = self.rel()
        while self.tok.kind == "op" and self.tok.text in _EQ:
            op = self.take()
            node = self._bin(op.text, node, self.rel(), op)
        return node

    def rel(self) -> XNode:
        node = self.add()
        while self.tok.kind == "op" and self.tok.text in _REL:
            op = self.take()
            node = self._bin(op.text, node, self.add(), op)
        return node

    def add(self) -> XNode:
        node = self.mul()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            op = self.take()
            node = self._bin(op.text, node, self.mul(), op)
        return node

    def mul(self) -> XNode:
        node = self.unary()
        while (self.tok.kind == "op" and self.tok.text in ("*", "|")) or self.is_word("div", "mod"):
            op = self.take()
            node = self._bin(op.text, node, self.unary(), op)
        return node

    def unary(self) -> XNode:
        if self.tok.kind == "op" and self.tok.text == "-":
            op = self.take()
            inner = self.unary()
            if isinstance(inner, XNum):
                return XNum(-inner.value, op.start, inner.end)
            return XNeg(inner, op.start, _end(inner))
        return self.primary()

    def primary(self) -> XNode:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise XPathError("the expression is nested too deeply", self.tok.start + 1)
        try:
            return self._primary()
        finally:
            self.depth -= 1

    def _primary(self) -> XNode:
        t = self.tok
        if t.kind == "op" and t.text == "(":
            self.take()
            node = self.or_()
            if not (self.tok.kind == "op" and self.tok.text == ")"):
                raise XPathError("a bracket is not closed", t.start + 1, "add the missing ')'")
            self.take()
            return node
        if t.kind == "ref":
            self.take()
            return XRef(t.text, t.start, t.end)
        if t.kind == "str":
            self.take()
            return XStr(t.text, t.start, t.end)
        if t.kind == "num":
            self.take()
            value: int | float = float(t.text) if "." in t.text else int(t.text)
            return XNum(value, t.start, t.end)
        if t.kind == "self":
            self.take()
            if self.tok.kind == "op" and self.tok.text in ("/", "["):
                return self._path(t)
            return XSelf(t.start, t.end)
        if t.kind == "name":
            self.take()
            if self.tok.kind == "op" and self.tok.text == "(":
                self.take()
                args: list[XNode] = []
                if not (self.tok.kind == "op" and self.tok.text == ")"):
                    args.append(self.or_())
                    while self.tok.kind == "op" and self.tok.text == ",":
                        self.take()
                        args.append(self.or_())
                if not (self.tok.kind == "op" and self.tok.text == ")"):
                    raise XPathError(
                        f"the brackets of {t.text}( are not closed", t.start + 1, "add ')'"
                    )
                close = self.take()
                return XCall(t.text, tuple(args), t.start, close.end)
            return self._path(t)
        if t.kind == "op" and t.text in ("/", ".."):
            self.take()
            return self._path(t)
        if t.kind == "end":
            raise XPathError("the expression ends too early", t.start + 1, "something is missing")
        raise XPathError(f"unexpected {t.text!r}", t.start + 1, None)

    def _path(self, first: _Tok) -> XPathExpr:
        end = first.end
        while self.tok.kind in ("name", "self") or (
            self.tok.kind == "op" and self.tok.text in ("/", "..", "[", "]")
        ):
            if self.tok.kind == "end":
                break
            end = self.take().end
        return XPathExpr(self.text[first.start : end], first.start, end)


def _start(n: XNode) -> int:
    return n.start


def _end(n: XNode) -> int:
    return n.end


def parse(text: str) -> XNode:
    if len(text) > MAX_LENGTH:
        raise XPathError(f"the expression is too long ({len(text)} characters)", 1)
    return _Parser(text).parse()


# --- what a ${name} stands for -----------------------------------------------------------------


@dataclass
class Target:
    """A question as a condition sees it."""

    id: str
    kind: str
    """Flow type (choice multi scale yesno consent number date text postcode info), or
    ``dropped`` for a row that was left out."""
    choices: dict[str, str] = field(default_factory=dict)
    """XLSForm choice name -> flow choice id (choice, multi)."""
    points: dict[str, int] = field(default_factory=dict)
    """XLSForm choice name -> scale point (a labelled scale)."""
    why: str = ""
    """For a dropped row: what it was and where (``calculate, row 9``)."""


_YES = {"yes", "true", "1", "y"}
_NO = {"no", "false", "0", "n"}
_ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?\Z")

# Functions a chat cannot evaluate, with what to do instead.
_UNSUPPORTED: dict[str, str] = {
    "pulldata": "pulldata() reads a CSV file on the phone; a chat has none: ask the question "
    "instead, or put the values in a choice list",
    "today": "a chat cannot compare with today's date; compare with a fixed date, "
    "e.g. ${date} >= '2024-01-01'",
    "now": "a chat cannot compare with the current time; compare with a fixed date",
    "if": "if() cannot be used in a chat condition; write the cases with 'and'/'or'",
    "coalesce": "coalesce() cannot be used; test each question with 'or'",
    "concat": "text cannot be built in a chat condition; compare each question separately",
    "regex": "regex() cannot be used in a chat condition",
    "position": "position() belongs to repeats, which a chat cannot ask",
    "indexed-repeat": "repeats cannot be asked in a chat",
    "jr:choice-name": "compare the choice's name instead, e.g. ${q} = 'x'",
    "once": "once() belongs to calculations, which a chat cannot run",
    "random": "a chat condition cannot be random",
    "instance": "external and secondary data cannot be read in a chat",
    "sum": "arithmetic cannot be used in a chat condition",
    "count": "count() counts repeats; use count-selected(${q}) for a select_multiple",
}
_HINT_ARITHMETIC = (
    "a chat condition compares answers with fixed values; it cannot calculate. Compare each "
    "answer separately, or ask one question that gives the total"
)


def _err_at(node: XNode, message: str, hint: str | None = None) -> XPathError:
    return XPathError(message, node.start + 1, hint)


def to_condition(node: XNode, targets: Mapping[str, Target]) -> E.Expr:
    """The flow condition for a ``relevant`` expression."""
    return _canonical(_cond(node, targets))


def _cond(node: XNode, targets: Mapping[str, Target]) -> E.Expr:
    if isinstance(node, XBin):
        if node.op in ("and", "or"):
            left, right = _cond(node.left, targets), _cond(node.right, targets)
            items: list[E.Expr] = []
            cls = E.And if node.op == "and" else E.Or
            for part in (left, right):
                items.extend(part.items if isinstance(part, cls) else (part,))
            return cls(tuple(items))
        if node.op in _EQ or node.op in _REL:
            return _compare(node, targets)
        raise XPathError(
            f"'{node.op}' (arithmetic) cannot be used", node.op_start + 1, _HINT_ARITHMETIC
        )
    if isinstance(node, XCall):
        name = node.name.lower()
        if name == "not":
            _arity(node, 1)
            return E.Not(_cond(node.args[0], targets))
        if name in ("true", "false"):
            _arity(node, 0)
            return E.Bool(name == "true")
        if name == "selected":
            _arity(node, 2)
            return _selected(node, targets)
        if name == "boolean":
            _arity(node, 1)
            return _cond(node.args[0], targets)
        if name == "string-length":
            raise _err_at(
                node,
                "string-length() can only be compared with 0 here",
                "write string-length(${q}) > 0 for 'answered'",
            )
        raise _unsupported(node)
    if isinstance(node, XRef):
        target = _target(node, targets)
        return E.Call("answered", (E.Name(target.id),))
    if isinstance(node, XSelf):
        raise _err_at(node, "'.' (this question) cannot be used in relevant", "write ${name}")
    if isinstance(node, XPathExpr):
        raise _path_error(node)
    if isinstance(node, XNeg):
        raise _err_at(node, "'-' (arithmetic) cannot be used", _HINT_ARITHMETIC)
    raise _err_at(node, "a value alone is not a condition", "compare it, e.g. ${q} = 'x'")


def _arity(node: XCall, n: int) -> None:
    if len(node.args) != n:
        raise _err_at(node, f"{node.name}() takes {n} argument{'s' if n != 1 else ''}")


def _unsupported(node: XCall) -> XPathError:
    name = node.name.lower()
    hint = _UNSUPPORTED.get(name)
    if hint is None:
        hint = (
            "a chat condition can use selected(), count-selected(), string-length(...) > 0, "
            "not(), true() and false()"
        )
    return _err_at(node, f"{node.name}() cannot be used in a chat", hint)


def _path_error(node: XPathExpr) -> XPathError:
    return _err_at(
        node,
        f"{node.text!r} is a path (or a word without quotes)",
        "refer to a question as ${name}, and put text in quotes: 'yes'",
    )


def _target(node: XRef, targets: Mapping[str, Target]) -> Target:
    target = targets.get(node.name)
    if target is None:
        import difflib

        close = difflib.get_close_matches(node.name, list(targets), n=1)
        raise _err_at(
            node,
            f"${{{node.name}}} is not a question in this form",
            f"did you mean ${{{close[0]}}}?"
            if close
            else "check the name column of the survey sheet",
        )
    if target.kind == "dropped":
        raise _err_at(
            node,
            f"${{{node.name}}} was left out of the chat ({target.why})",
            "a chat cannot depend on it: base the condition on a question the chat asks",
        )
    if target.kind == "info":
        raise _err_at(node, f"${{{node.name}}} is a note: it has no answer to compare", None)
    return target


def _selected(node: XCall, targets: Mapping[str, Target]) -> E.Expr:
    ref, value = node.args
    if not isinstance(ref, XRef):
        if isinstance(ref, XPathExpr):
            raise _path_error(ref)
        raise _err_at(ref, "selected() takes a question first, e.g. selected(${q}, 'x')")
    target = _target(ref, targets)
    if not isinstance(value, XStr | XNum):
        raise _err_at(value, "selected() takes a choice name in quotes second")
    raw = value.value if isinstance(value, XStr) else _num_text(value.value)
    return _equals_value(target, raw, value, multi_pick=True)


def _num_text(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _equals_value(target: Target, raw: str, node: XNode, *, multi_pick: bool) -> E.Expr:
    """``${q} = raw`` (or ``selected(${q}, raw)`` with ``multi_pick``) for the target's type."""
    name = E.Name(target.id)
    if target.kind == "multi" and not multi_pick:
        picks = [_choice(target, part, node) for part in raw.split()]
        return E.Compare("==", name, E.ListLit(tuple(E.Str(p) for p in picks)))
    if target.kind in ("choice", "multi"):
        cid = _choice(target, raw.strip(), node)
        if target.kind == "multi":
            return E.Call("selected", (name, E.Str(cid)))
        return E.Compare("==", name, E.Str(cid))
    if target.kind == "scale" and target.points:
        if raw.strip() not in target.points:
            raise _no_choice(target, raw, node)
        return E.Compare("==", name, E.Num(target.points[raw.strip()]))
    return E.Compare("==", name, _literal(target, raw, node))


def _choice(target: Target, raw: str, node: XNode) -> str:
    if raw in target.choices:
        return target.choices[raw]
    raise _no_choice(target, raw, node)


def _no_choice(target: Target, raw: str, node: XNode) -> XPathError:
    import difflib

    names = list(target.choices or target.points)
    close = difflib.get_close_matches(raw, names, n=1)
    return _err_at(
        node,
        f"{raw!r} is not a choice of {target.id}",
        (f"did you mean {close[0]!r}? " if close else "")
        + "the choices are "
        + ", ".join(names[:12]),
    )


def _literal(target: Target, raw: str, node: XNode) -> E.Scalar:
    """A value compared with a question's answer, as the flow stores that answer."""
    kind = target.kind
    text = raw.strip()
    if kind in ("yesno", "consent"):
        low = text.lower()
        if low in _YES:
            return E.Bool(True)
        if low in _NO:
            return E.Bool(False)
        raise _err_at(
            node, f"{target.id} is a yes/no question; {raw!r} is neither", "use 'yes' or 'no'"
        )
    if kind in ("number", "scale"):
        try:
            value = float(text)
        except ValueError:
            raise _err_at(node, f"{target.id} is a number; {raw!r} is not", None) from None
        return E.Num(int(value) if value.is_integer() else value)
    if kind == "date":
        if not _ISO.match(text):
            raise _err_at(node, f"{target.id} is a date; write it as 'YYYY-MM-DD'", None)
        return E.Str(text)
    return E.Str(raw)


def _value_of(node: XNode, target: Target) -> tuple[E.Scalar | None, str | None]:
    """A comparand: the flow value, or the raw text when it is a choice name or a number."""
    if isinstance(node, XStr):
        return None, node.value
    if isinstance(node, XNum):
        return E.Num(node.value), None
    if isinstance(node, XCall) and node.name.lower() in ("true", "false") and not node.args:
        return E.Bool(node.name.lower() == "true"), None
    if isinstance(node, XCall) and node.name.lower() == "date" and len(node.args) == 1:
        arg = node.args[0]
        if isinstance(arg, XStr) and _ISO.match(arg.value.strip()):
            return E.Str(arg.value.strip()), None
    if isinstance(node, XNeg):
        raise _err_at(node, "'-' (arithmetic) cannot be used", _HINT_ARITHMETIC)
    del target
    return None, None


_SWAP = {"=": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_SAME = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _is_subject(node: XNode) -> bool:
    return isinstance(node, XRef) or (
        isinstance(node, XCall) and node.name.lower() in ("count-selected", "string-length")
    )


def _compare(node: XBin, targets: Mapping[str, Target]) -> E.Expr:
    left, right, op = node.left, node.right, node.op
    if not _is_subject(left) and _is_subject(right):
        left, right = right, left
        flow_op = _SWAP[op]
    else:
        flow_op = _SAME[op]
    for side in (left, right):
        if isinstance(side, XBin) and side.op not in ("and", "or") and side.op not in _EQ + _REL:
            raise XPathError(
                f"'{side.op}' (arithmetic) cannot be used", side.op_start + 1, _HINT_ARITHMETIC
            )
        if isinstance(side, XPathExpr):
            raise _path_error(side)
        if isinstance(side, XSelf):
            raise _err_at(side, "'.' (this question) cannot be used in relevant", "write ${name}")
    if isinstance(left, XCall) and left.name.lower() == "count-selected":
        _arity(left, 1)
        ref = left.args[0]
        if not isinstance(ref, XRef):
            raise _err_at(left, "count-selected() takes a question, e.g. count-selected(${q})")
        target = _target(ref, targets)
        num = _number_of(right)
        return E.Compare(flow_op, E.Call("count", (E.Name(target.id),)), E.Num(num))  # type: ignore[arg-type]
    if isinstance(left, XCall) and left.name.lower() == "string-length":
        _arity(left, 1)
        ref = left.args[0]
        if not isinstance(ref, XRef):
            raise _err_at(left, "string-length() takes a question, e.g. string-length(${q})")
        target = _target(ref, targets)
        num = _number_of(right)
        answered = E.Call("answered", (E.Name(target.id),))
        holds = {">": num < 1, ">=": num <= 1, "!=": num == 0}
        fails = {"==": num == 0, "<": num == 1, "<=": num == 0}
        if holds.get(flow_op):
            return answered
        if fails.get(flow_op):
            return E.Not(answered)
        raise _err_at(
            node,
            "a chat condition cannot compare the length of an answer",
            "use string-length(${q}) > 0 for 'answered', or = 0 for 'not answered'",
        )
    if isinstance(left, XCall):
        raise (
            _unsupported(left)
            if left.name.lower() not in ("true", "false")
            else _err_at(left, "compare a question with true() or false(), not the other way round")
        )
    if not isinstance(left, XRef):
        raise _err_at(node, "a comparison needs a question, e.g. ${q} = 'x'")
    target = _target(left, targets)
    if isinstance(right, XRef):
        other = _target(right, targets)
        return E.Compare(flow_op, E.Name(target.id), E.Name(other.id))  # type: ignore[arg-type]
    if isinstance(right, XCall) and right.name.lower() not in ("true", "false", "date"):
        raise _unsupported(right)
    value, raw = _value_of(right, target)
    if raw is not None and raw.strip() == "" and flow_op in ("==", "!="):
        answered = E.Call("answered", (E.Name(target.id),))
        return answered if flow_op == "!=" else E.Not(answered)
    if flow_op in ("==", "!="):
        if raw is None and value is not None:
            raw = _scalar_text(value)
        if raw is None:
            raise _err_at(right, "compare with a value in quotes, e.g. 'yes'")
        if isinstance(value, E.Bool) and target.kind not in ("yesno", "consent"):
            raise _err_at(right, f"{target.id} is not a yes/no question")
        eq = _equals_value(target, raw, right, multi_pick=False)
        if flow_op == "!=" and isinstance(eq, E.Compare):
            return E.Compare("!=", eq.left, eq.right)
        return eq if flow_op == "==" else E.Not(eq)
    # < <= > >=
    if target.kind in ("choice", "multi", "text", "postcode", "yesno", "consent"):
        raise _err_at(
            node,
            f"{target.id} has no order: '{op}' cannot compare it",
            "use = or != with a choice name, or selected()",
        )
    if (
        target.kind == "scale"
        and target.points
        and raw is not None
        and raw.strip() in target.points
    ):
        return E.Compare(flow_op, E.Name(target.id), E.Num(target.points[raw.strip()]))  # type: ignore[arg-type]
    if value is None and raw is not None:
        value = _literal(target, raw, right)
    if value is None:
        raise _err_at(right, "compare with a number, or a date in quotes")
    if target.kind == "date" and not isinstance(value, E.Str):
        raise _err_at(right, f"{target.id} is a date; compare it with date('YYYY-MM-DD')")
    if target.kind in ("number", "scale") and not isinstance(value, E.Num):
        raise _err_at(right, f"{target.id} is a number; compare it with a number")
    return E.Compare(flow_op, E.Name(target.id), value)  # type: ignore[arg-type]


def _scalar_text(value: E.Scalar) -> str:
    if isinstance(value, E.Bool):
        return "yes" if value.value else "no"
    if isinstance(value, E.Num):
        return _num_text(value.value)
    return value.value


def _number_of(node: XNode) -> int | float:
    if isinstance(node, XNum):
        return node.value
    if isinstance(node, XStr):
        try:
            value = float(node.value)
        except ValueError:
            pass
        else:
            return int(value) if value.is_integer() else value
    raise _err_at(node, "compare with a number here")


def _canonical(e: E.Expr) -> E.Expr:
    """``q == "a" or q == "b"`` -> ``q in ["a", "b"]`` (and ``!=``/``and`` -> ``not in``)."""
    if isinstance(e, E.Or | E.And):
        items = tuple(_canonical(i) for i in e.items)
        want = "==" if isinstance(e, E.Or) else "!="
        comps = [
            i
            for i in items
            if isinstance(i, E.Compare)
            and i.op == want
            and isinstance(i.left, E.Name)
            and isinstance(i.right, E.Str | E.Num | E.Bool)
        ]
        if len(comps) == len(items):
            names = {c.left.name for c in comps if isinstance(c.left, E.Name)}
            if len(names) == 1:
                values = tuple(
                    c.right for c in comps if isinstance(c.right, E.Str | E.Num | E.Bool)
                )
                return E.Compare(
                    "in" if want == "==" else "not in", comps[0].left, E.ListLit(values)
                )
        return type(e)(items)
    if isinstance(e, E.Not):
        return E.Not(_canonical(e.operand))
    return e


# --- constraints -------------------------------------------------------------------------------


@dataclass
class Limits:
    """What a ``constraint`` says, as flow settings, and the parts that could not be used."""

    fields: dict[str, int | float] = field(default_factory=dict)
    exclusive: list[str] = field(default_factory=list)
    """XLSForm names of choices that cannot go with others."""
    unused: list[tuple[int, str]] = field(default_factory=list)
    """(1-based column, text) of each part not applied."""


def _conjuncts(node: XNode) -> list[XNode]:
    if isinstance(node, XBin) and node.op == "and":
        return [*_conjuncts(node.left), *_conjuncts(node.right)]
    return [node]


def constraint_limits(text: str, kind: str, *, integer: bool = True) -> Limits:
    """Limits from a constraint on a question of flow type ``kind``.

    Raises :class:`XPathError` only when the text does not parse; a part that parses but is not
    a limit the flow knows is listed in ``unused``.
    """
    node = parse(text)
    out = Limits()
    for part in _conjuncts(node):
        if not _limit(part, kind, integer, out):
            out.unused.append((part.start + 1, text[part.start : part.end]))
    return out


def _limit(node: XNode, kind: str, integer: bool, out: Limits) -> bool:
    if isinstance(node, XCall) and node.name == "not" and len(node.args) == 1 and kind == "multi":
        name = _exclusive(node.args[0])
        if name is not None:
            out.exclusive.append(name)
            return True
        return False
    if not (isinstance(node, XBin) and node.op in _EQ + _REL):
        return False
    left, right, op = node.left, node.right, node.op
    if isinstance(left, XNum | XStr | XCall) and not _subject_kind(left):
        left, right, op = right, left, {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
    subject = _subject_kind(left)
    if subject is None:
        return False
    if subject == "self" and kind == "date":
        year = _date_year(right)
        if year is None or op not in _REL:
            return False
        if op in (">", ">="):
            out.fields["min_year"] = year
        else:
            out.fields["max_year"] = year
        return True
    try:
        num = _number_of(right)
    except XPathError:
        return False
    names = {
        "self": ("min", "max") if kind in ("number", "scale") else None,
        "string-length": ("min_length", "max_length") if kind == "text" else None,
        "count-selected": ("min_picks", "max_picks") if kind == "multi" else None,
    }[subject]
    if names is None:
        return False
    whole = subject != "self" or integer
    if not whole and op in ("<", ">"):
        return False  # a strict limit on a decimal cannot be written as min/max
    lo, hi = names
    if op in (">=", ">"):
        out.fields[lo] = (num + 1 if whole else num) if op == ">" else num
    elif op in ("<=", "<"):
        out.fields[hi] = (num - 1 if whole else num) if op == "<" else num
    elif op == "=":
        out.fields[lo] = out.fields[hi] = num
    else:
        return False
    if whole:
        for key in (lo, hi):
            if key in out.fields:
                if not float(out.fields[key]).is_integer():
                    del out.fields[key]
                    return False
                out.fields[key] = int(out.fields[key])
    return True


def _subject_kind(node: XNode) -> str | None:
    if isinstance(node, XSelf):
        return "self"
    if (
        isinstance(node, XCall)
        and node.name in ("string-length", "count-selected")
        and len(node.args) == 1
        and isinstance(node.args[0], XSelf)
    ):
        return node.name
    return None


def _date_year(node: XNode) -> int | None:
    if isinstance(node, XCall) and node.name == "date" and len(node.args) == 1:
        node = node.args[0]
    if isinstance(node, XStr) and _ISO.match(node.value.strip()):
        return int(node.value.strip()[:4])
    return None


def _exclusive(node: XNode) -> str | None:
    """``selected(., 'none') and count-selected(.) > 1`` -> ``none``."""
    if not (isinstance(node, XBin) and node.op == "and"):
        return None
    sel, count = node.left, node.right
    if isinstance(count, XCall):
        sel, count = count, sel
    ok_sel = (
        isinstance(sel, XCall)
        and sel.name == "selected"
        and len(sel.args) == 2
        and isinstance(sel.args[0], XSelf)
        and isinstance(sel.args[1], XStr)
    )
    ok_count = (
        isinstance(count, XBin)
        and _subject_kind(count.left) == "count-selected"
        and (
            (count.op == ">" and isinstance(count.right, XNum) and count.right.value == 1)
            or (count.op == ">=" and isinstance(count.right, XNum) and count.right.value == 2)
        )
    )
    if ok_sel and ok_count and isinstance(sel, XCall) and isinstance(sel.args[1], XStr):
        return sel.args[1].value.strip()
    return None


# --- flow condition -> XPath (for export) ------------------------------------------------------


@dataclass
class Source:
    """A flow question as the export writes it in XPath."""

    name: str
    kind: str
    points: dict[int, str] = field(default_factory=dict)
    """Scale point -> choice name (a labelled scale)."""


def _quote(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    raise ValueError("a value with both kinds of quote cannot be written in XPath")


def from_condition(e: E.Expr, sources: Mapping[str, Source]) -> str:
    """The ``relevant`` expression for a flow condition (inverse of :func:`to_condition`)."""
    return _x(e, sources, top=True)


def _ref(name: str, sources: Mapping[str, Source]) -> str:
    return "${" + sources[name].name + "}" if name in sources else "${" + name + "}"


def _xvalue(value: E.Expr, src: Source | None) -> str:
    if isinstance(value, E.Bool):
        return "'yes'" if value.value else "'no'"
    if isinstance(value, E.Num):
        if src is not None and src.points and int(value.value) in src.points:
            return _quote(src.points[int(value.value)])
        return E.unparse(value)
    if isinstance(value, E.Str):
        if src is not None and src.kind == "date" and _ISO.match(value.value):
            return f"date({_quote(value.value)})"
        return _quote(value.value)
    raise ValueError("unsupported value")


def _x(e: E.Expr, sources: Mapping[str, Source], top: bool = False) -> str:
    if isinstance(e, E.Or):
        text = " or ".join(_x(i, sources) for i in e.items)
        return text if top else f"({text})"
    if isinstance(e, E.And):
        return " and ".join(_x(i, sources) for i in e.items)
    if isinstance(e, E.Not):
        return f"not({_x(e.operand, sources, top=True)})"
    if isinstance(e, E.Call):
        arg = e.args[0]
        if not isinstance(arg, E.Name):
            raise ValueError("a function of a question")
        ref = _ref(arg.name, sources)
        if e.func == "answered":
            return f"{ref} != ''"
        if e.func == "count":
            return f"count-selected({ref})"
        if e.func == "selected" and isinstance(e.args[1], E.Str):
            return f"selected({ref}, {_quote(e.args[1].value)})"
        raise ValueError(f"unknown function {e.func}")
    if isinstance(e, E.Compare):
        return _x_compare(e, sources)
    if isinstance(e, E.Bool):
        return "true()" if e.value else "false()"
    if isinstance(e, E.Name):
        return f"{_ref(e.name, sources)} != ''"
    raise ValueError("unsupported condition")


def _x_compare(e: E.Compare, sources: Mapping[str, Source]) -> str:
    if isinstance(e.left, E.Call):
        left = _x(e.left, sources)
        return f"{left} {_XOP[e.op]} {E.unparse(e.right)}"
    if not isinstance(e.left, E.Name):
        raise ValueError("a comparison starts with a question")
    src = sources.get(e.left.name)
    ref = _ref(e.left.name, sources)
    if isinstance(e.right, E.Name):
        return f"{ref} {_XOP[e.op]} {_ref(e.right.name, sources)}"
    if e.op in ("in", "not in") and isinstance(e.right, E.ListLit):
        if src is not None and src.kind == "multi":
            parts = [f"selected({ref}, {_xvalue(i, src)})" for i in e.right.items]
            text = " or ".join(parts)
            return f"({text})" if e.op == "in" else f"not({text})"
        if e.op == "in":
            return "(" + " or ".join(f"{ref} = {_xvalue(i, src)}" for i in e.right.items) + ")"
        return " and ".join(f"{ref} != {_xvalue(i, src)}" for i in e.right.items)
    if isinstance(e.right, E.ListLit):  # a multi answer equal to exactly these picks
        picks = " ".join(i.value for i in e.right.items if isinstance(i, E.Str))
        return f"{ref} {_XOP[e.op]} {_quote(picks)}"
    return f"{ref} {_XOP[e.op]} {_xvalue(e.right, src)}"


_XOP = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
