"""Flow files crafted to hurt: rejected with a clear error, early, and never running code.

tests/bot/test_loader.py already covers the plain cases one by one (billion laughs, many aliases,
a recursive alias, deep nesting, a 10 MB file, an overlong value, ``!!python/...`` tags, non-UTF-8
bytes) and tests/bot/test_expr.py the condition language alone. Here: tags hidden by YAML's own
indirections (``%TAG``, verbatim ``!<...>``), hostile values deep inside a real flow, code in
``when:`` conditions, proof that a limit stops the reading before the rest of the file is parsed,
a live bot and ``surveybot validate`` meeting such files, and a guard that no code path loads YAML
unsafely or evaluates text.

"Quickly" is shown without a stopwatch: each limit is checked as the file streams in, so a
problem planted at the very end of a hostile file (a syntax error, a tag) is never reached.
"""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import Problem
from bot.expr import MAX_DEPTH, MAX_LENGTH
from bot.loader import FlowRegistry, LoadResult, load_flow, load_flow_text
from bot.yamlsafe import MAX_BYTES, MAX_NODES

ROOT = Path(__file__).resolve().parents[2]

HEAD = """\
id: hostile
title: Test survey
council: Test Borough Council
contact: {phone: "0116 000 0000"}
intro: Hello from Test Borough Council. Text STOP to stop.
thanks: Thank you.
questions:
  - {id: a, type: yesno, text: Are you a carer?}
"""
GOOD = HEAD.replace("id: hostile", "id: good-flow")


def only(result: LoadResult) -> Problem:
    """The one problem of a rejected file."""
    assert result.flow is None
    assert len(result.problems) == 1, "\n".join(p.format() for p in result.problems)
    return result.problems[0]


def canary_for(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


# -- tags, however they are spelled -----------------------------------------------------------------

TAGGED = {
    "%TAG shorthand": (
        "%TAG !x! tag:yaml.org,2002:python/object/apply:\n---\n"
        + HEAD
        + "  - {id: b, type: text, text: !x!os.system ['touch {canary}']}\n"
    ),
    "verbatim tag": (
        HEAD + "  - {id: b, type: text, text: !<tag:yaml.org,2002:python/object/apply:os.system>"
        " ['touch {canary}']}\n"
    ),
    "tag on a map": (
        HEAD + "  - !!python/object/new:subprocess.Popen {args: [['touch', '{canary}']]}\n"
    ),
    "tag on a list": HEAD + "  - {id: b, type: choice, text: B?, choices: !!python/tuple [x, y]}\n",
    "tag in a choice label": (
        HEAD
        + "  - id: b\n    type: choice\n    text: B?\n    choices:\n"
        + "      - {id: x, label: !!python/object/apply:os.system ['touch {canary}']}\n"
    ),
    "tag on a key": HEAD + "  - {id: b, !!python/name:os.system type: text, text: B?}\n",
    "local tag": HEAD + "  - {id: b, type: text, text: !shell 'touch {canary}'}\n",
    "tag after a document marker": HEAD + "...\n--- !!python/object/apply:os.system\n- x\n",
}


@pytest.mark.parametrize("text", TAGGED.values(), ids=TAGGED.keys())
def test_tags_are_refused_however_written_and_nothing_runs(tmp_path: Path, text: str) -> None:
    canary = canary_for(tmp_path)
    result = load_flow_text(text.replace("{canary}", str(canary)), "evil.yaml")
    p = only(result)
    assert p.code in ("yaml_tag", "yaml_documents"), p.format()
    assert p.line is not None
    assert p.hint
    assert not canary.exists()


# -- limits stop the reading early ----------------------------------------------------------------


def _bomb(levels: int = 9) -> str:
    text = 'lol0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for n in range(1, levels):
        text += f"lol{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]\n"
    return text


TAIL = "broken: [unclosed\nid: !!python/object/apply:os.system ['touch {canary}']\n"


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (_bomb(), "yaml_too_big", "too many values"),
        ("deep: " + "[" * 2000 + "]" * 2000 + "\n", "yaml_too_deep", "nested too deeply"),
        ("long: " + "x" * 100_000 + "\n", "yaml_too_big", "too long"),
    ],
    ids=["billion laughs", "nesting", "one huge value"],
)
def test_a_limit_stops_the_reading_before_the_rest_of_the_file(
    tmp_path: Path, body: str, code: str, words: str
) -> None:
    """The hostile part comes first and a syntax error and a code tag come last: only the limit
    is reported, so nothing after it was parsed (and the tag never even looked at)."""
    canary = canary_for(tmp_path)
    p = only(load_flow_text(HEAD + body + TAIL.replace("{canary}", str(canary)), "bomb.yaml"))
    assert p.code == code
    assert words in p.message
    assert p.line is not None
    assert p.line <= HEAD.count("\n") + body.count("\n")
    assert p.hint
    assert not canary.exists()


def test_the_bomb_is_stopped_at_the_node_limit_not_expanded() -> None:
    """A 9-level bomb is 9**9 = 387 million values; the count stops just past the limit, at the
    first alias that crosses it (its line), with the limit in the message."""
    p = only(load_flow_text(_bomb(), "bomb.yaml"))
    assert f"{MAX_NODES:,}" in p.message
    assert p.line is not None
    assert p.line < 9


def test_a_ten_megabyte_file_is_refused_unparsed(tmp_path: Path) -> None:
    """Over the byte limit the file is not parsed at all: its bomb, its tag and its broken YAML
    are never reported, only its size."""
    canary = canary_for(tmp_path)
    evil = _bomb() + TAIL.replace("{canary}", str(canary))
    path = tmp_path / "huge.yaml"
    path.write_bytes((HEAD + evil).encode() + b"#" * 10_000_000 + b"\n")
    p = only(load_flow(path))
    assert p.code == "file_too_large"
    assert p.line is None
    assert f"{MAX_BYTES:,}" in p.message
    assert not canary.exists()


# -- code in conditions ---------------------------------------------------------------------------


def _with_condition(condition: str) -> str:
    question = f"  - id: b\n    type: yesno\n    text: B?\n    when: {json.dumps(condition)}\n"
    return HEAD + question


CODE = [
    '__import__("os").system("touch {canary}")',
    "exec(\"open('{canary}', 'w')\")",
    'open("{canary}", "w")',
    "a.__class__.__mro__",
    "lambda: a",
    "[x for x in a]",
    'f"{a}"',
    "a if a else a",
    "a; import os",
    "a == __builtins__",
    "globals()",
]


@pytest.mark.parametrize("condition", CODE)
def test_code_in_a_condition_is_refused_and_never_runs(tmp_path: Path, condition: str) -> None:
    canary = canary_for(tmp_path)
    text = _with_condition(condition.replace("{canary}", str(canary)))
    p = only(load_flow_text(text, "t.yaml"))
    assert p.code in ("condition_syntax", "condition"), p.format()
    assert p.line == HEAD.count("\n") + 4  # the when: line
    assert p.question == "b"
    assert not canary.exists()


def test_a_condition_nested_a_thousand_deep_stops_at_the_depth_limit() -> None:
    depth = (MAX_LENGTH - 1) // 2
    p = only(load_flow_text(_with_condition("(" * depth + "a" + ")" * depth), "t.yaml"))
    assert p.code == "condition_syntax"
    assert "nested too deeply" in p.message
    assert f"character {MAX_DEPTH + 1}:" in p.message  # stopped there, not at the end


def test_an_overlong_condition_is_refused_before_parsing() -> None:
    deep = "(" * 5000 + "a" + ")" * 5000  # fits a YAML value, not a condition
    p = only(load_flow_text(_with_condition(deep), "t.yaml"))
    assert p.code == "condition_syntax"
    assert "too long" in p.message
    assert f"{MAX_LENGTH}" in p.message


def test_a_long_flat_condition_is_refused_at_its_length_limit() -> None:
    flat = " or ".join(['a == "x"'] * 500)
    p = only(load_flow_text(_with_condition(flat), "t.yaml"))
    assert "too long" in p.message


# -- a live bot and `surveybot validate` meet hostile files ------------------------------------------


def _hostile_folder(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "flows"
    folder.mkdir()
    canary = canary_for(tmp_path)
    (folder / "good.yaml").write_text(GOOD, encoding="utf-8")
    (folder / "bomb.yaml").write_text(HEAD + _bomb(), encoding="utf-8")
    (folder / "tags.yaml").write_text(
        TAGGED["verbatim tag"].replace("{canary}", str(canary)), encoding="utf-8"
    )
    (folder / "code.yaml").write_text(
        _with_condition(CODE[0].replace("{canary}", str(canary))), encoding="utf-8"
    )
    (folder / "huge.yaml").write_bytes(HEAD.encode() + b"#" * 10_000_000)
    (folder / "deep.yaml").write_text(HEAD + "x: " + "{a: " * 3000 + "}" * 3000, encoding="utf-8")
    return folder, canary


EXPECTED = {
    "bomb.yaml": "yaml_too_big",
    "tags.yaml": "yaml_tag",
    "code.yaml": "condition_syntax",
    "huge.yaml": "file_too_large",
    "deep.yaml": "yaml_too_deep",
}


def test_a_running_bot_refuses_hostile_files_and_keeps_serving(tmp_path: Path) -> None:
    folder, canary = _hostile_folder(tmp_path)
    registry = FlowRegistry(folder)
    registry.refresh(force=True)
    assert set(registry.flows) == {"good-flow"}
    found = {Path(f).name: [p.code for p in ps] for f, ps in registry.errors.items()}
    assert found == {name: [code] for name, code in EXPECTED.items()}
    assert not canary.exists()


def test_validate_reports_each_hostile_file_plainly(tmp_path: Path) -> None:
    folder, canary = _hostile_folder(tmp_path)
    result = CliRunner().invoke(app, ["validate", "--json", str(folder)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    doc = json.loads(result.stdout)
    by_file = {Path(f["file"]).name: f for f in doc["files"]}
    assert by_file["good.yaml"]["ok"]
    for name, code in EXPECTED.items():
        problems = by_file[name]["problems"]
        assert [p["code"] for p in problems] == [code], problems
        assert problems[0]["message"]
        assert problems[0]["hint"]
    assert not canary.exists()


# -- no code path can run text ----------------------------------------------------------------------

UNSAFE_CALLS = {
    "eval",
    "exec",
    "compile",
    "__import__",
    "yaml.load",
    "yaml.load_all",
    "yaml.unsafe_load",
    "yaml.unsafe_load_all",
    "yaml.full_load",
    "yaml.full_load_all",
    "pickle.load",
    "pickle.loads",
    "marshal.loads",
    "shelve.open",
    "os.system",
    "os.popen",
}
UNSAFE_NAMES = {"Loader", "UnsafeLoader", "FullLoader", "UnsafeConstructor", "FullConstructor"}
UNSAFE_MODULES = {"pickle", "marshal", "shelve", "dill"}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def unsafe_code(tree: ast.AST, where: str) -> list[str]:
    """Every call or name in ``tree`` that could run text as code."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in UNSAFE_CALLS:
                found.append(f"{where}:{node.lineno} {name}()")
            for kw in node.keywords:
                if kw.arg == "shell" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    found.append(f"{where}:{node.lineno} shell=")
        elif isinstance(node, ast.Attribute) and node.attr in UNSAFE_NAMES:
            if _dotted(node.value) == "yaml":
                found.append(f"{where}:{node.lineno} yaml.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module in UNSAFE_MODULES:
            found.append(f"{where}:{node.lineno} from {node.module} import")
        elif isinstance(node, ast.Import):
            names = {a.name for a in node.names} & UNSAFE_MODULES
            if names:
                found.append(f"{where}:{node.lineno} import {sorted(names)}")
    return found


def test_no_code_path_loads_yaml_unsafely_or_evaluates_text() -> None:
    """A guard for the future: flows and conditions are data. Any new ``yaml.load``, ``eval``,
    pickle or shell call in the product code fails here (``subprocess`` with an argument list,
    used to start redis-server, stays allowed)."""
    found: list[str] = []
    files = 0
    for folder in ("bot", "store", "adapters"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            files += 1
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            found += unsafe_code(tree, str(path.relative_to(ROOT)))
    assert files > 30
    assert found == []


def test_the_guard_itself_catches_unsafe_code() -> None:
    sample = textwrap.dedent(
        """
        import yaml, pickle
        from marshal import loads
        yaml.load(text, Loader=yaml.Loader)
        yaml.unsafe_load(text)
        eval(expr)
        subprocess.run(cmd, shell=True)
        subprocess.run(["redis-server", "--port", "0"])
        """
    )
    found = unsafe_code(ast.parse(sample), "sample.py")
    assert sorted(f.split(" ", 1)[1] for f in found) == sorted(
        [
            "import ['pickle']",
            "from marshal import",
            "yaml.load()",
            "yaml.Loader",
            "yaml.unsafe_load()",
            "eval()",
            "shell=",
        ]
    ), found
