"""The condition language officers write in ``when:``, e.g. ``role == "carer" and hours >= 20``.

Hand-written tokenizer and recursive-descent parser into an immutable AST; nothing here ever
evaluates user text as Python. Precedence, lowest first: ``or``, ``and``, ``not``, then one
comparison (``== != < <= > >= in`` and ``not in``; comparisons do not chain).

Operands: question ids, "text" or 'text' (backslash escapes the quote and the backslash),
numbers (``-2``, ``2.5``), ``true``/``false`` (``yes``/``no`` too), lists of fixed values
``["a", "b"]``, brackets and the functions ``selected(q, "choice")``, ``answered(q)`` and
``count(q)``. Keywords and function names are case-insensitive; question ids are lower case.

Evaluation is total: an unanswered or skipped question, or values of different types, make a
comparison false (``!=`` and ``not in`` true), and nothing raises whatever the answers hold.
Problems an officer should fix (unknown ids, wrong choice ids, type mismatches) are found at
flow load by :func:`check`, not at run time.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, assert_never

from bot.errors import ExpressionError
from bot.models import AnswerValue

if TYPE_CHECKING:  # only for types: bot.schema stays free to import this module
    from bot.schema import Choice, Question

MAX_LENGTH = 2000
"""Longest condition text accepted."""
MAX_DEPTH = 32
"""Deepest nesting of brackets, ``not`` and function calls accepted."""
MAX_NUMBER = 10**15
"""Numbers must be smaller than this in size: plenty for ages and hours, and exact as floats."""

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "yes", "no"})
FUNCTIONS: Mapping[str, int] = {"answered": 1, "count": 1, "selected": 2}
"""Known functions and how many arguments each takes."""
_USAGE = {
    "answered": "answered(postcode)",
    "count": "count(support) > 2",
    "selected": 'selected(support, "respite")',
}

_ID = re.compile(r"[a-z][a-z0-9_]*")

CompareOp: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]
COMPARE_OPS: tuple[CompareOp, ...] = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
_ORDERING = frozenset({"<", "<=", ">", ">="})


# --- the AST -----------------------------------------------------------------------------------
# ``column`` (1-based, 0 when built by hand) is left out of equality so that
# ``parse(unparse(e)) == e`` holds although canonical text puts nodes at other columns.


def _check_id(value: str, what: str) -> None:
    if not _ID.fullmatch(value) or value in KEYWORDS:
        raise ValueError(f"{value!r} is not a valid {what}")


@dataclass(frozen=True, slots=True)
class Name:
    """A question id, standing for that question's answer."""

    name: str
    column: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        _check_id(self.name, "question id")


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Num:
    value: int | float
    column: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise ValueError("Num holds an int or a float; use Bool for true/false")
        if not math.isfinite(self.value) or abs(self.value) >= MAX_NUMBER:
            raise ValueError(f"number out of range: {self.value!r}")


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    column: int = field(default=0, compare=False)


Scalar: TypeAlias = Str | Num | Bool


@dataclass(frozen=True, slots=True)
class ListLit:
    """``["a", "b"]``: fixed values only, so a list never nests."""

    items: tuple[Scalar, ...]
    column: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        if not all(isinstance(i, Str | Num | Bool) for i in self.items):
            raise ValueError("a list holds only strings, numbers and booleans")


@dataclass(frozen=True, slots=True)
class Call:
    """``func(args)``. Any name parses; :func:`check` reports unknown functions and arity."""

    func: str
    args: tuple[Expr, ...]
    column: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))
        _check_id(self.func, "function name")


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    left: Expr
    right: Expr
    column: int = field(default=0, compare=False)  # of the operator

    def __post_init__(self) -> None:
        if self.op not in COMPARE_OPS:
            raise ValueError(f"unknown comparison {self.op!r}")


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """n-ary, so a long chain of ``and`` stays a flat node (no deep recursion)."""

    items: tuple[Expr, ...]
    column: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        if len(self.items) < 2:
            raise ValueError("And needs at least two items")


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]
    column: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        if len(self.items) < 2:
            raise ValueError("Or needs at least two items")


Expr: TypeAlias = Name | Str | Num | Bool | ListLit | Call | Compare | Not | And | Or


@dataclass(frozen=True, slots=True)
class Ref:
    """One use of a question id in a condition."""

    name: str
    column: int


@dataclass(frozen=True, slots=True)
class Issue:
    """Something wrong with a condition found by :func:`check` at flow load."""

    message: str
    column: int
    hint: str | None = None


# --- tokenizer ---------------------------------------------------------------------------------

_DIGITS = frozenset("0123456789")
_WORD_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_WORD = _WORD_START | _DIGITS
_OPS2 = frozenset({"==", "!=", "<=", ">="})
# Things people type from other languages, with what to write instead.
_WRONG2 = {
    "=>": ("'=>' is not an operator", "use '>=' for 'at least'"),
    "=<": ("'=<' is not an operator", "use '<=' for 'at most'"),
    "<>": ("'<>' is not an operator", "use '!=' for 'is not'"),
    "&&": ("'&&' is not an operator", "use 'and'"),
    "||": ("'||' is not an operator", "use 'or'"),
}
_WRONG1 = {
    "=": ("unknown operator '='", "use '==' to compare, e.g. role == \"carer\""),
    "!": ("unknown operator '!'", "use '!=' for 'is not', or 'not' before a condition"),
    "&": ("unknown operator '&'", "use 'and'"),
    "|": ("unknown operator '|'", "use 'or'"),
    "-": (
        "unexpected '-'",
        "there is no arithmetic; write a negative number with no space, e.g. -5",
    ),
    "+": ("unexpected '+'", "there is no arithmetic in conditions"),
    "*": ("unexpected '*'", "there is no arithmetic in conditions"),
    "/": ("unexpected '/'", 'there is no arithmetic in conditions; write dates as "1960-04-03"'),
    ".": ("unexpected '.'", "write decimals with a leading digit, e.g. 0.5"),
    "{": ("unexpected '{'", 'write a list with square brackets, e.g. ["a", "b"]'),
    "}": ("unexpected '}'", 'write a list with square brackets, e.g. ["a", "b"]'),
    "\u201c": ("curly quote '\u201c'", 'use straight quotes: "carer"'),
    "\u201d": ("curly quote '\u201d'", 'use straight quotes: "carer"'),
    "\u2018": ("curly quote '\u2018'", "use straight quotes: 'carer'"),
    "\u2019": ("curly quote '\u2019'", "use straight quotes: 'carer'"),
}


@dataclass(frozen=True, slots=True)
class _Token:
    # kind: "word", "kw", "str", "num", "op", "(", ")", "[", "]", ",", "end"
    kind: str
    text: str
    column: int
    value: str | int | float = ""


def _lex(text: str) -> Iterator[_Token]:
    """Tokens one at a time, so the first error in reading order is the one reported."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch in _WORD_START:
            j = i + 1
            while j < n and text[j] in _WORD:
                j += 1
            word = text[i:j]
            low = word.lower()
            if low in KEYWORDS:
                yield _Token("kw", word, col, low)
            else:
                yield _Token("word", word, col, word)
            i = j
        elif ch in _DIGITS or (ch == "-" and i + 1 < n and text[i + 1] in _DIGITS):
            token = _lex_number(text, i)
            yield token
            i += len(token.text)
        elif ch in "\"'":
            token, i = _lex_string(text, i)
            yield token
        elif text[i : i + 2] in _OPS2:
            yield _Token("op", text[i : i + 2], col, text[i : i + 2])
            i += 2
        elif text[i : i + 2] in _WRONG2:
            message, hint = _WRONG2[text[i : i + 2]]
            raise ExpressionError(message, col, hint)
        elif ch in "<>":
            yield _Token("op", ch, col, ch)
            i += 1
        elif ch in "()[],":
            yield _Token(ch, ch, col)
            i += 1
        elif ch in _WRONG1:
            message, hint = _WRONG1[ch]
            raise ExpressionError(message, col, hint)
        else:
            shown = ch if ch.isprintable() else repr(ch)
            raise ExpressionError(
                f"unexpected character '{shown}'",
                col,
                'conditions use question ids, "text", numbers, == != < <= > >= in, and/or/not',
            )
    yield _Token("end", "", n + 1)


def _lex_number(text: str, i: int) -> _Token:
    n = len(text)
    j = i + 1
    while j < n and text[j] in _DIGITS:
        j += 1
    decimal = False
    if j < n and text[j] == ".":
        if j + 1 < n and text[j + 1] in _DIGITS:
            decimal = True
            j += 2
            while j < n and text[j] in _DIGITS:
                j += 1
        else:
            raise ExpressionError(
                "a decimal point needs digits after it",
                j + 1,
                f"write {text[i:j]} or {text[i:j]}.5",
            )
    if j < n and (text[j] in _WORD or text[j] == "."):
        k = j
        while k < n and (text[k] in _WORD or text[k] == "."):
            k += 1
        raise ExpressionError(
            f"'{text[i:k]}' is not a number",
            i + 1,
            "numbers are written like 20, -3 or 2.5; question ids start with a letter",
        )
    literal = text[i:j]
    value: int | float = float(literal) if decimal else int(literal)
    if not math.isfinite(value) or abs(value) >= MAX_NUMBER:
        raise ExpressionError(
            "this number is too large", i + 1, "numbers must have at most 15 digits"
        )
    return _Token("num", literal, i + 1, value)


def _lex_string(text: str, i: int) -> tuple[_Token, int]:
    quote = text[i]
    n = len(text)
    j = i + 1
    parts: list[str] = []
    while j < n:
        c = text[j]
        if c == "\\" and j + 1 < n:
            nxt = text[j + 1]
            # Only quotes and backslash are escapes; any other backslash is kept as typed.
            parts.append(nxt if nxt in "\"'\\" else c + nxt)
            j += 2
        elif c == quote:
            return _Token("str", text[i : j + 1], i + 1, "".join(parts)), j + 1
        else:
            parts.append(c)
            j += 1
    raise ExpressionError("this text has no closing quote", i + 1, f"end the text with {quote}")


# --- parser ------------------------------------------------------------------------------------

_VALUE_HINT = (
    'a value is a question id, "text" in quotes, a number, true/false or a list ["a", "b"]'
)


def _describe(tok: _Token) -> str:
    if tok.kind == "end":
        return "the end of the condition"
    shown = tok.text if len(tok.text) <= 24 else tok.text[:21] + "..."
    return f"'{shown}'"


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _lex(text)
        self._end = _Token("end", "", len(text) + 1)
        self._ahead: list[_Token] = []
        self._prev: _Token | None = None  # the last token consumed
        self._prev2: _Token | None = None  # and the one before it
        self._depth = 0

    # -- token stream

    def _peek(self, k: int = 0) -> _Token:
        while len(self._ahead) <= k:
            # Past the end the stream keeps answering with the end token.
            self._ahead.append(next(self._tokens, self._end))
        return self._ahead[k]

    def _next(self) -> _Token:
        tok = self._peek()
        self._ahead.pop(0)
        self._prev2, self._prev = self._prev, tok
        return tok

    def _is_kw(self, word: str, k: int = 0) -> bool:
        tok = self._peek(k)
        return tok.kind == "kw" and tok.value == word

    def _enter(self, tok: _Token) -> None:
        # The only recursion in parsing goes through here, so no input can reach RecursionError.
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ExpressionError(
                f"the condition is nested too deeply (more than {MAX_DEPTH} levels)",
                tok.column,
                "remove some brackets or 'not's, or split the condition",
            )

    def _leave(self) -> None:
        self._depth -= 1

    # -- grammar

    def parse(self) -> Expr:
        if self._peek().kind == "end":
            raise ExpressionError("the condition is empty", 1, 'e.g. role == "carer"')
        expr = self._or()
        tok = self._peek()
        if tok.kind != "end":
            raise self._leftover(tok)
        return expr

    def _or(self) -> Expr:
        column = self._peek().column
        items = [self._and()]
        while self._is_kw("or"):
            self._next()
            items.append(self._and())
        return items[0] if len(items) == 1 else Or(tuple(items), column)

    def _and(self) -> Expr:
        column = self._peek().column
        items = [self._not()]
        while self._is_kw("and"):
            self._next()
            items.append(self._not())
        return items[0] if len(items) == 1 else And(tuple(items), column)

    def _not(self) -> Expr:
        if self._is_kw("not"):
            tok = self._next()
            self._enter(tok)
            operand = self._not()
            self._leave()
            return Not(operand, tok.column)
        return self._comparison()

    def _compare_op(self) -> tuple[CompareOp, _Token] | None:
        tok = self._peek()
        if tok.kind == "op":
            op: CompareOp
            for op in COMPARE_OPS:
                if op == tok.value:
                    return op, tok
        if self._is_kw("in"):
            return "in", tok
        if self._is_kw("not") and self._is_kw("in", 1):
            return "not in", tok
        return None

    def _comparison(self) -> Expr:
        left = self._operand()
        found = self._compare_op()
        if found is None:
            return left
        op, tok = found
        self._next()
        if op == "not in":
            self._next()
        right = self._operand()
        again = self._compare_op()
        if again is not None:
            raise ExpressionError(
                "comparisons cannot be chained",
                again[1].column,
                "join two comparisons with 'and', e.g. hours >= 10 and hours < 20",
            )
        return Compare(op, left, right, tok.column)

    def _operand(self) -> Expr:
        tok = self._next()
        if tok.kind == "word":
            if self._peek().kind == "(":
                return self._call(tok)
            return self._name(tok)
        if tok.kind == "str":
            return Str(str(tok.value), tok.column)
        if tok.kind == "num":
            assert isinstance(tok.value, int | float)
            return Num(tok.value, tok.column)
        if tok.kind == "kw" and tok.value in ("true", "yes", "false", "no"):
            return Bool(tok.value in ("true", "yes"), tok.column)
        if tok.kind == "[":
            return self._list(tok)
        if tok.kind == "(":
            self._enter(tok)
            expr = self._or()
            close = self._next()
            if close.kind != ")":
                raise self._unclosed(
                    tok, close, "')'", f"the '(' at column {tok.column} is not closed"
                )
            self._leave()
            return expr
        raise self._expected_value(tok)

    def _name(self, tok: _Token) -> Name:
        word = tok.text
        if _ID.fullmatch(word):
            return Name(word, tok.column)
        low = word.lower()
        if _ID.fullmatch(low):
            raise ExpressionError(
                f"question ids are written in lower case: '{word}'",
                tok.column,
                f"did you mean '{low}'? For text, use quotes: \"{word}\"",
            )
        raise ExpressionError(
            f"'{word}' is not a question id",
            tok.column,
            "question ids start with a letter, e.g. caring_role",
        )

    def _call(self, tok: _Token) -> Call:
        func = tok.text.lower()
        if not _ID.fullmatch(func):
            raise ExpressionError(
                f"'{tok.text}' is not a function",
                tok.column,
                "the functions are " + _functions_list(),
            )
        opening = self._next()
        self._enter(opening)
        args: list[Expr] = []
        if self._peek().kind == ")":
            self._next()
        else:
            while True:
                args.append(self._or())
                sep = self._next()
                if sep.kind == ")":
                    break
                if sep.kind != ",":
                    raise self._unclosed(
                        opening, sep, f"',' or ')' in {func}(...)", "separate arguments with commas"
                    )
        self._leave()
        return Call(func, tuple(args), tok.column)

    def _list(self, opening: _Token) -> ListLit:
        items: list[Scalar] = []
        while True:
            if self._peek().kind == "]":  # empty list, or after a trailing comma
                self._next()
                break
            items.append(self._list_item(opening))
            sep = self._next()
            if sep.kind == "]":
                break
            if sep.kind != ",":
                raise self._unclosed(opening, sep, "',' or ']'", "separate the items with commas")
        return ListLit(tuple(items), opening.column)

    def _list_item(self, opening: _Token) -> Scalar:
        tok = self._next()
        if tok.kind == "str":
            return Str(str(tok.value), tok.column)
        if tok.kind == "num":
            assert isinstance(tok.value, int | float)
            return Num(tok.value, tok.column)
        if tok.kind == "kw" and tok.value in ("true", "yes", "false", "no"):
            return Bool(tok.value in ("true", "yes"), tok.column)
        if tok.kind == "word":
            raise ExpressionError(
                f"a list holds fixed values, not the question id '{tok.text}'",
                tok.column,
                f'put text in quotes: "{tok.text}"',
            )
        if tok.kind == "[":
            raise ExpressionError("lists cannot be nested", tok.column, 'e.g. ["a", "b"]')
        if tok.kind == "end":
            raise self._unclosed(opening, tok, "']'")
        raise ExpressionError(
            f"expected a value in the list, found {_describe(tok)}",
            tok.column,
            'e.g. ["65-74", "75+"]',
        )

    # -- error wording

    def _expected_value(self, tok: _Token) -> ExpressionError:
        prev = self._prev2  # tok itself was just consumed
        if tok.kind == "end":
            if prev is not None:
                return ExpressionError(
                    f"expected a value after '{prev.text}'", tok.column, _VALUE_HINT
                )
            return ExpressionError("the condition is empty", tok.column, _VALUE_HINT)
        hint = _VALUE_HINT
        if tok.kind == "kw" and tok.value == "not":
            hint = "'not' goes before a whole condition, e.g. not answered(postcode)"
        return ExpressionError(f"expected a value, found {_describe(tok)}", tok.column, hint)

    def _unclosed(
        self, opening: _Token, found: _Token, wanted: str, hint: str | None = None
    ) -> ExpressionError:
        if found.kind == "end":
            closer = ")" if opening.text == "(" else "]"
            return ExpressionError(
                f"missing '{closer}'",
                found.column,
                f"the '{opening.text}' at column {opening.column} is not closed",
            )
        return ExpressionError(f"expected {wanted}, found {_describe(found)}", found.column, hint)

    def _leftover(self, tok: _Token) -> ExpressionError:
        if tok.kind == ")":
            return ExpressionError(
                "there is a ')' with no '(' before it",
                tok.column,
                "remove it, or add the missing '('",
            )
        if tok.kind == "]":
            return ExpressionError(
                "there is a ']' with no '[' before it",
                tok.column,
                "remove it, or add the missing '['",
            )
        if tok.kind == ",":
            return ExpressionError(
                "unexpected ','",
                tok.column,
                "commas separate the items of a list or a function's arguments",
            )
        if tok.kind == "kw" and tok.value == "not":
            return ExpressionError(
                "unexpected 'not'",
                tok.column,
                "write 'not in' for a list, or put 'not' first: not answered(postcode)",
            )
        if tok.kind in ("word", "str", "num", "[", "(") or (
            tok.kind == "kw" and tok.value in ("true", "false", "yes", "no")
        ):
            return ExpressionError(
                f"missing an operator before {_describe(tok)}",
                tok.column,
                "join values with ==, !=, <, >, in, and, or",
            )
        return ExpressionError(f"unexpected {_describe(tok)}", tok.column, None)


def _functions_list() -> str:
    return ", ".join(f"{f}()" for f in sorted(FUNCTIONS))


def parse(text: str) -> Expr:
    """Parse a condition. Raises :class:`ExpressionError` with a 1-based column and a hint."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the condition is too long ({len(text)} characters; at most {MAX_LENGTH})",
            MAX_LENGTH + 1,
            "shorten it, e.g. with 'in [...]' instead of many 'or's",
        )
    return _Parser(text).parse()


# --- unparse -----------------------------------------------------------------------------------


def unparse(expr: Expr) -> str:
    """Canonical text: lower-case keywords, double quotes, brackets only where needed."""
    if isinstance(expr, Or):
        return " or ".join(_wrap(i, isinstance(i, Or)) for i in expr.items)
    if isinstance(expr, And):
        return " and ".join(_wrap(i, isinstance(i, And | Or)) for i in expr.items)
    if isinstance(expr, Not):
        return "not " + _wrap(expr.operand, isinstance(expr.operand, And | Or))
    if isinstance(expr, Compare):
        return f"{_comparand(expr.left)} {expr.op} {_comparand(expr.right)}"
    if isinstance(expr, Call):
        return f"{expr.func}({', '.join(unparse(a) for a in expr.args)})"
    if isinstance(expr, ListLit):
        return "[" + ", ".join(unparse(i) for i in expr.items) + "]"
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, Str):
        return '"' + expr.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(expr, Num):
        return _number_text(expr.value)
    if isinstance(expr, Bool):
        return "true" if expr.value else "false"
    assert_never(expr)


def _wrap(expr: Expr, brackets: bool) -> str:
    return f"({unparse(expr)})" if brackets else unparse(expr)


def _comparand(expr: Expr) -> str:
    return _wrap(expr, isinstance(expr, And | Or | Not | Compare))


def _number_text(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    if "e" in text:  # the grammar has no exponents: spell it out, still the shortest exact digits
        text = format(Decimal(text), "f")
        if "." not in text:
            text += ".0"
    return text


# --- references --------------------------------------------------------------------------------


def _children(expr: Expr) -> tuple[Expr, ...]:
    if isinstance(expr, And | Or):
        return expr.items
    if isinstance(expr, Not):
        return (expr.operand,)
    if isinstance(expr, Compare):
        return (expr.left, expr.right)
    if isinstance(expr, Call):
        return expr.args
    return ()


def references(expr: Expr) -> list[Ref]:
    """Every use of a question id, in reading order (repeats included)."""
    out: list[Ref] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            out.append(Ref(node.name, node.column))
        stack.extend(reversed(_children(node)))
    return out


# --- evaluation --------------------------------------------------------------------------------


class _Missing:
    """Unanswered, skipped, or a function that cannot give a value."""

    __slots__ = ()


_MISSING = _Missing()


def evaluate(expr: Expr, answers: Mapping[str, AnswerValue | None]) -> bool:
    """Whether the condition holds for these answers. Total: never raises, always a bool."""
    return _truth(expr, answers)


def _truth(expr: Expr, answers: Mapping[str, AnswerValue | None]) -> bool:
    if isinstance(expr, And):
        return all(_truth(i, answers) for i in expr.items)
    if isinstance(expr, Or):
        return any(_truth(i, answers) for i in expr.items)
    if isinstance(expr, Not):
        return not _truth(expr.operand, answers)
    if isinstance(expr, Compare):
        return _compare(expr.op, _value(expr.left, answers), _value(expr.right, answers))
    return _truthy(_value(expr, answers))


def _value(expr: Expr, answers: Mapping[str, AnswerValue | None]) -> object:
    if isinstance(expr, Name):
        value = answers.get(expr.name)
        return _MISSING if value is None else value
    if isinstance(expr, Str | Num | Bool):
        return expr.value
    if isinstance(expr, ListLit):
        return [i.value for i in expr.items]
    if isinstance(expr, Call):
        return _call(expr, answers)
    return _truth(expr, answers)


def _call(call: Call, answers: Mapping[str, AnswerValue | None]) -> object:
    if FUNCTIONS.get(call.func) != len(call.args):
        return _MISSING  # unknown function or wrong arity: check() reports it at load
    values = [_value(a, answers) for a in call.args]
    if call.func == "answered":
        return values[0] is not _MISSING
    if call.func == "selected":
        picked, choice = values
        if _kind(choice) != "str":
            return False
        if _kind(picked) == "str":
            return picked == choice
        return isinstance(picked, list | tuple) and any(_same(p, choice) for p in picked)
    # count: picks of a multi; an answered single-valued question counts as one
    picked = values[0]
    if picked is _MISSING:
        return 0
    return len(picked) if isinstance(picked, list | tuple) else 1


def _kind(value: object) -> str | None:
    # bool first: True is an int to Python, but a yes/no answer is not a number here.
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list | tuple):
        return "list"
    return None


def _same(a: object, b: object) -> bool:
    """Equality of two single values of the same kind; anything else is unequal."""
    kind = _kind(a)
    return kind is not None and kind != "list" and kind == _kind(b) and bool(a == b)


def _contains(items: object, value: object) -> bool:
    return isinstance(items, list | tuple) and any(_same(value, i) for i in items)


def _compare(op: CompareOp, a: object, b: object) -> bool:
    if a is _MISSING or b is _MISSING:
        return op in ("!=", "not in")
    if op in ("in", "not in"):
        # A multi answer is "in" the list when any of its picks is.
        picks = a if isinstance(a, list | tuple) else (a,)
        found = any(_contains(b, x) for x in picks)
        return found if op == "in" else not found
    if op in ("==", "!="):
        equal = _equal(a, b)
        return equal if op == "==" else not equal
    kind = _kind(a)
    if kind not in ("num", "str") or kind != _kind(b):
        return False  # only numbers with numbers, text (e.g. ISO dates) with text
    return bool(_ORDER[op](a, b))


_ORDER: Mapping[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _equal(a: object, b: object) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        # Picks have no order: a multi answer equals a list with the same choices.
        return all(_contains(b, x) for x in a) and all(_contains(a, y) for y in b)
    return _same(a, b)


def _truthy(value: object) -> bool:
    if isinstance(value, bool | int | float):
        return bool(value)
    if isinstance(value, str | list | tuple):
        return len(value) > 0
    return False  # missing, or a value of no known kind


# --- static checks -----------------------------------------------------------------------------

# What a question's answer is, as a kind of value (info questions have none).
_TYPE_KIND: Mapping[str, str] = {
    "choice": "str",
    "multi": "list",
    "scale": "num",
    "number": "num",
    "yesno": "bool",
    "consent": "bool",
    "text": "str",
    "date": "str",
    "postcode": "str",
}
_KIND_WORDS: Mapping[str, str] = {
    "num": "a number",
    "str": "text",
    "bool": "true/false",
    "list": "a list",
}
_UNORDERED = frozenset({"choice", "multi", "text", "postcode", "yesno", "consent"})
_ISO_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def check(expr: Expr, earlier: Mapping[str, Question], all_ids: Sequence[str]) -> list[Issue]:
    """Problems with a condition at flow load, in column order.

    ``earlier`` holds the questions asked before the one this condition belongs to (the only
    answers it may use); ``all_ids`` every question id in the flow, for better messages.
    """
    checker = _Checker(earlier, all_ids)
    checker.walk(expr)
    return sorted(checker.issues, key=lambda i: i.column)


def _did_you_mean(word: str, options: Sequence[str]) -> str | None:
    lowered = {o.lower(): o for o in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


class _Checker:
    def __init__(self, earlier: Mapping[str, Question], all_ids: Sequence[str]) -> None:
        self.earlier = earlier
        self.all_ids = all_ids
        self.issues: list[Issue] = []

    def add(self, message: str, column: int, hint: str | None = None) -> None:
        self.issues.append(Issue(message, column, hint))

    def question(self, expr: Expr) -> Question | None:
        """The earlier, answerable question a node names, if it is one."""
        if isinstance(expr, Name):
            q = self.earlier.get(expr.name)
            if q is not None and q.type in _TYPE_KIND:
                return q
        return None

    def kind(self, expr: Expr) -> str | None:
        """What kind of value a node gives, when known statically."""
        if isinstance(expr, Name):
            q = self.question(expr)
            return _TYPE_KIND[q.type] if q is not None else None
        if isinstance(expr, Str):
            return "str"
        if isinstance(expr, Num):
            return "num"
        if isinstance(expr, Bool):
            return "bool"
        if isinstance(expr, ListLit):
            return "list"
        if isinstance(expr, Call):
            return {"answered": "bool", "selected": "bool", "count": "num"}.get(expr.func)
        return "bool"

    def walk(self, expr: Expr) -> None:
        if isinstance(expr, Name):
            self.name(expr)
        elif isinstance(expr, Call):
            for arg in expr.args:
                self.walk(arg)
            self.call(expr)
        elif isinstance(expr, Compare):
            self.walk(expr.left)
            self.walk(expr.right)
            if expr.op in ("in", "not in"):
                self.membership(expr)
            else:
                self.compare(expr)
        else:
            for child in _children(expr):
                self.walk(child)

    # -- question ids

    def name(self, node: Name) -> None:
        q = self.earlier.get(node.name)
        if q is not None:
            if q.type == "info":
                self.add(
                    f"'{node.name}' is an info message, so it has no answer to test",
                    node.column,
                    "refer to a question that takes an answer",
                )
            return
        if node.name in self.all_ids:
            self.add(
                f"refers to '{node.name}', which comes later; "
                "a condition may only use earlier answers",
                node.column,
                "move the question up, or the condition to a later question",
            )
            return
        hint = None
        for other in self.earlier.values():
            if any(c.id == node.name for c in _choices(other)):
                hint = (
                    f"to compare with the choice '{node.name}', put it in quotes: \"{node.name}\""
                )
                break
        if hint is None:
            close = _did_you_mean(node.name, self.all_ids)
            hint = f"did you mean '{close}'?" if close else None
        self.add(f"there is no question '{node.name}'", node.column, hint)

    # -- comparisons

    def compare(self, node: Compare) -> None:
        left, right = node.left, node.right
        if node.op in _ORDERING:
            bad = False
            for side in (left, right):
                q = self.question(side)
                if q is not None and q.type in _UNORDERED:
                    bad = True
                    self.add(
                        f"'{node.op}' cannot be used with '{q.id}', a {q.type} question",
                        node.column,
                        "use == or != (or 'in' with a list); '<' and '>' work with numbers, "
                        "scales and dates",
                    )
                elif self.kind(side) in ("bool", "list"):
                    bad = True
                    self.add(
                        f"'{node.op}' needs numbers, or dates in quotes, on both sides",
                        node.column,
                        None,
                    )
            if bad:
                return
        # Put the question first, the fixed value second, whichever way it was written.
        if not isinstance(left, Name) and isinstance(right, Name):
            left, right = right, left
        q = self.question(left)
        if q is not None and isinstance(right, Str | Num | Bool | ListLit):
            self.against(q, right, node)
        else:
            self.kinds(node, self.kind(left), self.kind(right))

    def kinds(self, node: Compare, a: str | None, b: str | None) -> None:
        if a is None or b is None or a == b:
            return
        outcome = "always true" if node.op in ("!=", "not in") else "never true"
        self.add(
            f"'{node.op}' compares {_KIND_WORDS[a]} with {_KIND_WORDS[b]}, so it is {outcome}",
            node.column,
            None,
        )

    def membership(self, node: Compare) -> None:
        left, right = node.left, node.right
        if isinstance(right, ListLit):
            q = self.question(left)
            if q is not None:
                for item in right.items:
                    self.against(q, item, node, member=True)
                return
            kind = self.kind(left)
            element = "str" if kind == "list" else kind  # picks of a multi are choice ids
            for item in right.items:
                if element is not None and self.kind(item) != element:
                    self.kinds(node, element, self.kind(item))
                    return
            return
        rq = self.question(right)
        if rq is not None:
            if rq.type != "multi":
                self.add(
                    f"'{node.op}' needs a list or a multi question after it; "
                    f"'{rq.id}' is a {rq.type} question",
                    node.column,
                    f'e.g. {rq.id} in ["a", "b"]',
                )
            elif isinstance(left, Str | Num | Bool):
                self.against(rq, left, node, member=True)
            return
        kind = self.kind(right)
        if kind is not None and kind != "list":
            self.add(
                f"'{node.op}' needs a list after it",
                node.column,
                'e.g. role in ["carer", "staff"]',
            )

    def against(
        self, q: Question, value: Scalar | ListLit, node: Compare, *, member: bool = False
    ) -> None:
        """A question compared with a fixed value (or, for 'in', with each item of a list)."""
        col = value.column or node.column
        if isinstance(value, ListLit):
            if q.type == "multi":  # == on a whole set of picks
                for item in value.items:
                    self.against(q, item, node, member=True)
            else:
                self.add(
                    f"'{q.id}' has a single answer; '{node.op}' with a list is never true",
                    node.column,
                    f"use 'in' to test against several values: {q.id} in [...]",
                )
            return
        t = q.type
        if t in ("choice", "multi"):
            if t == "multi" and not member:
                example = value.value if isinstance(value, Str) else "respite"
                self.add(
                    f"'{q.id}' can have several answers; '{node.op}' with one value "
                    "compares the whole set",
                    node.column,
                    f'use selected({q.id}, "{example}")',
                )
            if not isinstance(value, Str):
                self.add(
                    f"'{q.id}' is a {t} question; compare it with a choice id in quotes",
                    col,
                    _choices_hint(q, None),
                )
            else:
                self.choice_id(q, value, node.column)
        elif t in ("scale", "number"):
            if not isinstance(value, Num):
                hint = None
                if isinstance(value, Str) and _looks_numeric(value.value):
                    hint = f"remove the quotes: {value.value.strip()}"
                elif q.type == "scale" and q.choices is not None:
                    hint = f"the points of '{q.id}' are stored as numbers {q.low} to {q.high}"
                self.add(f"'{q.id}' is a {t} question, so its answer is a number", col, hint)
        elif t in ("yesno", "consent"):
            if not isinstance(value, Bool):
                hint = "compare it with true or false (yes and no work too)"
                if isinstance(value, Str) and value.value.strip().lower() in KEYWORDS:
                    hint = f"remove the quotes: {value.value.strip().lower()}"
                self.add(f"'{q.id}' is a yes/no question; compare it with true or false", col, hint)
        elif not isinstance(value, Str):  # text, date, postcode
            examples = {"date": '"1960" or "1960-04-03"', "postcode": '"LE16"'}
            self.add(
                f"'{q.id}' is a {t} question, so its answer is text; put the value in quotes",
                col,
                "e.g. " + examples.get(t, '"yes"'),
            )
        elif t == "date" and not _ISO_DATE.fullmatch(value.value):
            self.add(
                f"dates are compared as text like \"1960-04-03\", not '{value.value}'",
                col,
                'write the year, year-month or year-month-day: "1960", "1960-04", "1960-04-03"',
            )
        elif t == "postcode" and value.value != value.value.upper().strip():
            self.add(
                "postcode districts are stored in capitals with no spaces",
                col,
                f'write "{value.value.upper().strip()}"',
            )

    def choice_id(self, q: Question, value: Str, column: int) -> None:
        ids = [c.id for c in _choices(q)]
        if value.value not in ids:
            self.add(
                f"'{value.value}' is not a choice of '{q.id}'",
                value.column or column,
                _choices_hint(q, value.value),
            )

    # -- functions

    def call(self, node: Call) -> None:
        arity = FUNCTIONS.get(node.func)
        if arity is None:
            close = _did_you_mean(node.func, list(FUNCTIONS))
            self.add(
                f"there is no function '{node.func}()'",
                node.column,
                f"did you mean {close}()?" if close else "the functions are " + _functions_list(),
            )
            return
        if len(node.args) != arity:
            wanted = "1 argument" if arity == 1 else f"{arity} arguments"
            self.add(
                f"{node.func}() takes {wanted}, not {len(node.args)}",
                node.column,
                f"e.g. {_USAGE[node.func]}",
            )
            return
        first = node.args[0]
        if not isinstance(first, Name):
            self.add(
                f"the first argument of {node.func}() must be a question id",
                first.column or node.column,
                f"e.g. {_USAGE[node.func]}",
            )
            return
        q = self.question(first)
        if node.func == "selected":
            if q is not None and q.type not in ("choice", "multi"):
                hint = f"use {q.id} == true" if q.type in ("yesno", "consent") else None
                self.add(
                    f"selected() works with choice and multi questions; "
                    f"'{q.id}' is a {q.type} question",
                    first.column or node.column,
                    hint,
                )
                return
            choice = node.args[1]
            if not isinstance(choice, Str):
                self.add(
                    "the second argument of selected() must be a choice id in quotes",
                    choice.column or node.column,
                    f"e.g. {_USAGE['selected']}",
                )
            elif q is not None:
                self.choice_id(q, choice, node.column)
        elif node.func == "count" and q is not None and q.type != "multi":
            hint = f"use answered({q.id})" if q.type == "choice" else None
            self.add(
                f"count() works with multi questions; '{q.id}' is a {q.type} question",
                first.column or node.column,
                hint,
            )


def _choices(q: Question) -> list[Choice]:
    if q.type == "choice" or q.type == "multi":
        return q.all_choices()
    return []


def _choices_hint(q: Question, typed: str | None) -> str:
    ids = [c.id for c in _choices(q)]
    listed = "valid choices: " + ", ".join(f'"{i}"' for i in ids)
    close = _did_you_mean(typed, ids) if typed is not None else None
    return f'did you mean "{close}"? {listed}' if close else listed


def _looks_numeric(text: str) -> bool:
    return _NUMBER.fullmatch(text.strip()) is not None
