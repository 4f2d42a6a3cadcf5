"""Hole 8 of issue 17 and its class: Python's ``$`` also matches before a trailing newline, so
``re.match(r"^[a-z]+$", "abc\\n")`` accepts a value with a newline stuck on. Every validating
pattern in the product code ends with ``\\Z`` or is used with ``fullmatch``; the only patterns
still written with ``$`` are shared with the JSON Schema (where ``\\Z`` is not valid) and are
only ever called with ``fullmatch``.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest

from adapters.telegram import links
from adapters.web.chat import BadRequest, parse_message
from bot import schema
from bot.dispatch import _PAYLOAD as DISPATCH_PAYLOAD
from bot.results.outreach import valid_payload

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("bot", "store", "adapters")
SHARED_WITH_JSON_SCHEMA = {"_DURATION", "_HHMM"}


def _modules() -> list[Any]:
    found = []
    for package in PRODUCT:
        pkg = importlib.import_module(package)
        for info in pkgutil.walk_packages(pkg.__path__, package + "."):
            found.append(importlib.import_module(info.name))
    return found


def _ends_with_dollar(pattern: str) -> bool:
    """An unescaped ``$`` at the end (ignoring a trailing group close)."""
    p = pattern.rstrip(")")
    return p.endswith("$") and not p.endswith("\\$")


def test_no_compiled_pattern_ends_with_a_dollar() -> None:
    offenders = []
    for module in _modules():
        for name, value in vars(module).items():
            if (
                isinstance(value, re.Pattern)
                and isinstance(value.pattern, str)
                and _ends_with_dollar(value.pattern)
                and name not in SHARED_WITH_JSON_SCHEMA
            ):
                offenders.append(f"{module.__name__}.{name}: {value.pattern!r}")
    assert not offenders, "use \\Z (or fullmatch), not $: " + "; ".join(offenders)


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def test_no_match_or_search_with_a_dollar_pattern_in_the_source() -> None:
    """Literal patterns passed to re.match/search/compile, and the JSON-Schema-shared
    patterns, are never used with ``match``/``search`` (only ``fullmatch``)."""
    offenders = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            for call in _calls(ast.parse(source)):
                func = call.func
                if not isinstance(func, ast.Attribute):
                    continue
                if (
                    isinstance(func.value, ast.Name)
                    and func.value.id == "re"
                    and func.attr in ("match", "search")
                    and call.args
                    and isinstance(call.args[0], ast.Constant)
                    and isinstance(call.args[0].value, str)
                    and _ends_with_dollar(call.args[0].value)
                ):
                    offenders.append(f"{path.name}:{call.lineno}")
                if func.attr in ("match", "search") and (
                    (isinstance(func.value, ast.Name) and func.value.id in SHARED_WITH_JSON_SCHEMA)
                    or (
                        isinstance(func.value, ast.Name)
                        and func.value.id == "re"
                        and call.args
                        and isinstance(call.args[0], ast.Attribute)
                        and call.args[0].attr.isupper()
                    )
                ):
                    offenders.append(f"{path.name}:{call.lineno}")
    assert not offenders, "a $-anchored pattern used with match/search: " + ", ".join(offenders)


@pytest.mark.parametrize(
    "body",
    [
        {"text": "hi", "id": "abcdefgh\n"},
        {"start": True, "id": "abcdefgh\n"},
        {"start": True, "source": "harborough-carers\n"},
        {"start": True, "lang": "gu\n"},
        {"button": {"question": "role\n", "value": "carer"}, "id": "abcdefgh"},
    ],
)
def test_web_chat_refuses_a_trailing_newline(body: dict[str, Any]) -> None:
    import orjson

    with pytest.raises(BadRequest):
        parse_message("application/json", orjson.dumps(body))


def test_payloads_and_names_refuse_a_trailing_newline() -> None:
    assert DISPATCH_PAYLOAD.match("carers-strategy")
    assert not DISPATCH_PAYLOAD.match("carers-strategy\n")
    assert valid_payload("carers-strategy")
    assert not valid_payload("carers-strategy\n")
    assert links.deep_link("SomeBot", "carers")
    with pytest.raises(ValueError, match="payload"):
        links.start_payload("carers\n")
    assert links.chat_link("SomeBot", "carers\n") == "https://t.me/SomeBot"
    for pattern, good in (
        (schema.QUESTION_ID, "role"),
        (schema.CHOICE_ID, "carer"),
        (schema.FLOW_ID, "carers-strategy"),
        (schema.SOURCE_ID, "harborough"),
        (schema.KEYWORD, "CARERS"),
    ):
        assert re.fullmatch(pattern, good)
        assert not re.fullmatch(pattern, good + "\n")


def test_flow_ids_with_a_trailing_newline_are_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        schema.Choice(id="carer\n", label="A carer")
    with pytest.raises(ValueError, match="time window"):
        schema._parse_quiet_hours("20:00-09:00\nx")
