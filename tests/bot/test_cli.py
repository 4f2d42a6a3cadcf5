"""``surveybot validate`` and ``surveybot schema``, and FlowRegistry keeping the last good flow.

``jsonschema`` is not installed here (and nothing may be installed for tests), so the schema is
checked against the sample flows with the small validator below, which covers the keywords that
pydantic emits. If ``jsonschema`` is ever installed, the same checks also run through it.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.loader import FlowRegistry
from bot.schema import QUESTION_TYPES
from bot.yamlsafe import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [ROOT / "flows/carers-strategy.yaml", ROOT / "flows/communities-approach.yaml"]

runner = CliRunner()

GOOD = """\
id: good-flow
title: Good survey
council: Test Borough Council
contact: {phone: "0116 000 0000"}
intro: Hello from Test Borough Council. Text STOP to stop.
thanks: Thank you.
questions:
  - {id: name, type: text, text: What should we call you?}
"""
BROKEN = GOOD.replace("type: text", "type: txet")
WARNS = GOOD.replace("What should we call you?", "What should we call you? 😀")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- validate ------------------------------------------------------------------------------------


def test_validate_clean_file_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, "good.yaml", GOOD)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    assert "0 error(s), 0 warning(s)" in result.output


def test_validate_errors_exit_1_with_file_line_and_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", BROKEN)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "rejected" in result.output
    assert f"{path}:8:" in result.output
    assert "[name]" in result.output
    assert "did you mean 'text'?" in result.output


def test_validate_warnings_only_exit_0(tmp_path: Path) -> None:
    path = write(tmp_path, "warns.yaml", WARNS)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning" in result.output
    # The emoji makes the SMS Unicode, and cannot be said on a phone call.
    assert "2 warning(s)" in result.output
    assert "does not suit being spoken on a phone call" in result.output
    quiet = runner.invoke(app, ["validate", "--quiet", str(path)])
    assert quiet.exit_code == 0
    assert "Unicode" not in quiet.output


def test_validate_json(tmp_path: Path) -> None:
    write(tmp_path, "a-broken.yaml", BROKEN)
    write(tmp_path, "b-good.yaml", WARNS)
    result = runner.invoke(app, ["validate", "--json", str(tmp_path)])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["errors"] == 1
    assert doc["warnings"] == 2  # the emoji: Unicode SMS, and not for a phone call
    broken, good = doc["files"]
    assert broken["file"].endswith("a-broken.yaml")
    assert not broken["ok"]
    assert good["ok"]
    assert good["flow"] == "good-flow"
    assert re.fullmatch("[0-9a-f]{12}", good["version"])
    [p] = broken["problems"]
    assert p == {
        "file": broken["file"],
        "line": 8,
        "column": 16,
        "severity": "error",
        "code": "union_tag_invalid",
        "question": "name",
        "message": "unknown question type 'txet'",
        "hint": p["hint"],
    }
    assert p["hint"].startswith("did you mean 'text'?")
    w, said = good["problems"]
    assert (w["severity"], w["code"], w["line"]) == ("warning", "sms_ucs2", 8)
    assert (said["severity"], said["code"], said["line"]) == ("warning", "voice_text", 8)


def test_validate_folder_lists_every_file_and_a_broken_one_does_not_stop_the_rest(
    tmp_path: Path,
) -> None:
    write(tmp_path, "a.yaml", "id: [unclosed\n")
    write(tmp_path, "b.yml", GOOD)
    write(tmp_path, "README.md", "not a flow")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "a.yaml: rejected" in result.output
    assert "b.yml: ok (good-flow, 1 questions)" in result.output
    assert "README" not in result.output
    assert "2 file(s), 1 error(s)" in result.output


def test_validate_samples_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["validate", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["errors"] == 0
    assert {f["flow"] for f in doc["files"]} >= {"carers-strategy", "communities-approach"}


def test_validate_nothing_to_check_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "no flow files found" in result.output
    missing = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1
    assert "cannot read file" in missing.output


# --- FlowRegistry ------------------------------------------------------------------------------


def _touch_later(path: Path) -> None:
    """Make sure a rewrite is seen as a change even on a coarse-clock file system."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_registry_keeps_the_last_good_version_of_a_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path, "survey.yaml", GOOD)
    write(tmp_path, "other.yaml", GOOD.replace("good-flow", "other-flow"))
    registry = FlowRegistry(tmp_path)
    good = registry.get("good-flow")
    assert good is not None
    assert registry.errors == {}

    write(tmp_path, "survey.yaml", BROKEN)
    _touch_later(path)
    assert registry.refresh() is True
    assert registry.get("good-flow") is good  # still served
    assert registry.get("other-flow") is not None
    [problem] = registry.errors[str(path)]
    assert problem.line == 8
    assert "txet" in problem.message

    fixed = GOOD.replace("What should we call you?", "Your name?")
    write(tmp_path, "survey.yaml", fixed)
    _touch_later(path)
    assert registry.refresh() is True
    new = registry.get("good-flow")
    assert new is not None
    assert new.version != good.version
    assert registry.errors == {}
    assert registry.refresh() is False  # nothing changed since


def test_registry_with_a_file_broken_from_the_start(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", "!!python/object/apply:os.system ['true']\n")
    write(tmp_path, "good.yaml", GOOD)
    registry = FlowRegistry(tmp_path)
    assert list(registry.flows) == ["good-flow"]
    [problem] = registry.errors[str(tmp_path / "broken.yaml")]
    assert problem.code == "yaml_tag"


def test_registry_refuses_a_second_file_with_the_same_flow_id(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD.replace("Good survey", "Copy"))
    registry = FlowRegistry(tmp_path)
    flow = registry.get("good-flow")
    assert flow is not None
    assert flow.title == "Good survey"
    assert [p.code for p in registry.errors[str(tmp_path / "b.yaml")]] == ["duplicate_flow"]


# --- schema ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_schema_is_a_json_schema_with_every_question_type(schema: dict[str, Any]) -> None:
    # Draft-07: what the VS Code YAML extension fully supports (it warns on 2020-12).
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "$defs" not in json.dumps(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"id", "title", "questions"}
    assert "version" not in schema["properties"]  # set by the loader, not by officers
    items = schema["properties"]["questions"]["items"]
    mapping = items["discriminator"]["mapping"]
    assert set(mapping) == set(QUESTION_TYPES)
    for kind, ref in mapping.items():
        definition = _resolve(schema, ref)
        assert definition["properties"]["type"]["const"] == kind
        assert definition["additionalProperties"] is False  # typos are flagged in the editor
        assert definition["description"].startswith(f"{kind}:")


def test_every_setting_has_a_description(schema: dict[str, Any]) -> None:
    models = {"Flow": schema, **schema["definitions"]}
    missing = [
        f"{name}.{field}"
        for name, model in models.items()
        for field, prop in model.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert missing == []
    choices = schema["definitions"]["ChoiceQuestion"]["properties"]["choices"]
    assert "{id, label}" in choices["description"]


def test_schema_written_to_a_file(tmp_path: Path, schema: dict[str, Any]) -> None:
    out = tmp_path / "flow.schema.json"
    result = runner.invoke(app, ["schema", "-o", str(out)])
    assert result.exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8")) == schema


@pytest.mark.parametrize(
    "path", [*SAMPLES, ROOT / "tests/bot/flows/every-type.yaml"], ids=lambda p: p.name
)
def test_samples_match_the_schema(schema: dict[str, Any], path: Path) -> None:
    data = _as_editor_sees_it(path.read_text(encoding="utf-8"))
    assert _errors(schema, data) == []
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:
        return
    jsonschema.Draft7Validator(schema).validate(data)


def test_schema_flags_typos_and_wrong_types(schema: dict[str, Any]) -> None:
    data = _as_editor_sees_it(SAMPLES[1].read_text(encoding="utf-8"))
    data["questions"][0]["chioces"] = []
    data["questions"][1]["type"] = "chioce"
    data["reminders"]["max"] = "two"
    del data["council"]
    errs = _errors(schema, data)
    assert "/questions/0: unknown property 'chioces'" in errs
    assert "/questions/1: type is not one of " + str(sorted(QUESTION_TYPES)) in errs
    assert "/reminders/max: not integer" in errs
    assert ": missing 'council'" in errs


# A small JSON Schema (draft-07) validator for the keywords pydantic emits. -----------------------


def _as_editor_sees_it(text: str) -> Any:
    """The YAML as an editor's YAML 1.2 parser gives it to the schema: dates stay text, and
    every map key is text."""
    located, problems = load_yaml(text, "sample.yaml")
    assert located is not None
    assert not problems

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, date | datetime):
            return value.isoformat()
        return value

    return plain(located.data)


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    assert isinstance(node, dict)
    return node


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _errors(root: dict[str, Any], value: Any, schema: Any = None, at: str = "") -> list[str]:
    schema = root if schema is None else schema
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{at}: not allowed"]
    out: list[str] = []
    if "$ref" in schema:
        out += _errors(root, value, _resolve(root, schema["$ref"]), at)
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[k](value) for k in kinds):
            return [*out, f"{at}: not {'/'.join(kinds)}"]
    if "const" in schema and value != schema["const"]:
        out.append(f"{at}: not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{at}: not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{at}: does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            out.append(f"{at}: too short")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{at}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{at}: above {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out.append(f"{at}: too few items")
        if "items" in schema:
            for i, item in enumerate(value):
                out += _errors(root, item, schema["items"], f"{at}/{i}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{at}: missing {name!r}")
        for key, item in value.items():
            if key in props:
                out += _errors(root, item, props[key], f"{at}/{key}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{at}: unknown property {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += _errors(root, item, schema["additionalProperties"], f"{at}/{key}")
    if "anyOf" in schema:
        branches = [_errors(root, value, s, at) for s in schema["anyOf"]]
        if all(branches):
            shortest = min(branches, key=len)
            out += shortest
    tag = schema.get("discriminator", {})
    if tag and isinstance(value, dict):
        ref = tag["mapping"].get(value.get(tag["propertyName"]))
        if ref is None:
            return [*out, f"{at}: {tag['propertyName']} is not one of {sorted(tag['mapping'])}"]
        out += _errors(root, value, {"$ref": ref}, at)
    elif "oneOf" in schema:
        branches = [_errors(root, value, s, at) for s in schema["oneOf"]]
        passing = sum(1 for b in branches if not b)
        if passing != 1:
            out.append(f"{at}: matches {passing} of the oneOf choices")
    for sub in schema.get("allOf", []):
        out += _errors(root, value, sub, at)
    return out


def test_the_small_validator_can_fail() -> None:
    root = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert _errors(root, {"a": 1}) == []
    assert _errors(root, {"a": "x"}) == ["/a: not integer"]
    assert _errors(root, {}) == [": missing 'a'"]
