"""``surveybot graph``: the route as Mermaid and DOT, checked by structure (no renderer here).

Mermaid: every line must be a node definition, an edge, a class line or a comment, with one
definition per node, balanced brackets outside labels and no raw quote inside one. DOT: the same
idea with DOT's quoting rules. Labels are unescaped and compared with the flow's own text.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.loader import require_flow
from bot.results import graph
from bot.schema import Flow, InfoQuestion

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
SAMPLES = [
    require_flow(FLOWS / "carers-strategy.yaml"),
    require_flow(FLOWS / "communities-approach.yaml"),
]

runner = CliRunner()

# --- a small Mermaid reader ------------------------------------------------------------------------

_LABEL = r'"([^"]*)"'
_SHAPES = {"([": "])", "[": "]", "(": ")"}
M_NODE = re.compile(r"^    (\w+)(\(\[|\[|\()" + _LABEL + r"(\]\)|\]|\))$")
M_EDGE = re.compile(r"^    (\w+) (-->|-\.->)(?:\|" + _LABEL + r"\|)? (\w+)$")
M_CLASSDEF = re.compile(r"^    classDef \w+ [\w:#,\- ]+$")
M_CLASS = re.compile(r"^    class ([\w,]+) (\w+)$")


def unmermaid(text: str) -> str:
    """Undo the entity codes (``#quot;`` -> ``"``, ``#35;`` -> ``#``) as Mermaid does."""
    return html.unescape(
        re.sub(r"#(\w+);", r"&\1;", text).replace("&35;", "&#35;").replace("&96;", "&#96;")
    )


def read_mermaid(
    text: str,
) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str, str, str]], dict[str, set[str]]]:
    lines = text.splitlines()
    assert lines[0].startswith("%% ")
    assert lines[1] == "flowchart TD"
    nodes: dict[str, tuple[str, str]] = {}
    edges: list[tuple[str, str, str, str]] = []
    classes: dict[str, set[str]] = {}
    for line in lines[2:]:
        outside = re.sub(_LABEL, "", line)
        for left, right in (("[", "]"), ("(", ")"), ("{", "}")):
            assert outside.count(left) == outside.count(right), line
        if m := M_NODE.match(line):
            nid, left, label, right = m.groups()
            assert _SHAPES[left] == right, line
            assert nid not in nodes, f"{nid} defined twice"
            nodes[nid] = (left, label)
        elif m := M_EDGE.match(line):
            src, arrow, label, dst = m.groups()
            edges.append((src, dst, unmermaid(label or ""), arrow))
        elif M_CLASSDEF.match(line):
            continue
        elif m := M_CLASS.match(line):
            classes.setdefault(m.group(2), set()).update(m.group(1).split(","))
        else:
            pytest.fail(f"not a Mermaid line we write: {line!r}")
    for src, dst, _, _ in edges:
        assert src in nodes, src
        assert dst in nodes, dst
    for ids in classes.values():
        assert ids <= set(nodes)
    return nodes, edges, classes


# --- a small DOT reader ----------------------------------------------------------------------------

_DQ = r'"((?:[^"\\]|\\.)*)"'
D_NODE = re.compile(r"^    " + _DQ + r" \[(.*)\];$")
D_EDGE = re.compile(r"^    " + _DQ + r" -> " + _DQ + r"(?: \[(.*)\])?;$")


def undot(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def dot_attrs(attrs: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in re.finditer(r"(\w+)=(" + _DQ + r"|[^,\s]+)", attrs):
        value = m.group(2)
        out[m.group(1)] = undot(value[1:-1]) if value.startswith('"') else value
    return out


def read_dot(text: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]]]:
    lines = text.splitlines()
    assert lines[0] == "digraph surveybot {"
    assert lines[-1] == "}"
    outside = re.sub(_DQ, "", text)
    for left, right in (("[", "]"), ("{", "}"), ("(", ")")):
        assert outside.count(left) == outside.count(right)
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str, dict[str, str]]] = []
    for line in lines[1:-1]:
        if m := D_EDGE.match(line):
            edges.append((m.group(1), m.group(2), dot_attrs(m.group(3) or "")))
        elif m := D_NODE.match(line):
            assert m.group(1) not in nodes, f"{m.group(1)} defined twice"
            nodes[m.group(1)] = dot_attrs(m.group(2))
        else:
            assert re.match(r"^    (graph|node|edge) \[.*\];$", line), line
    for src, dst, _ in edges:
        assert src in nodes, src
        assert dst in nodes, dst
    return nodes, edges


# --- sample flows -----------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", SAMPLES, ids=lambda f: f.id)
def test_mermaid_of_sample_flows_is_well_formed_and_complete(flow: Flow) -> None:
    nodes, edges, classes = read_mermaid(graph.render(flow, "mermaid"))
    for q in flow.questions:
        nid = graph.node_id(q.id)
        assert nid in nodes
        label = unmermaid(nodes[nid][1])
        assert label.startswith(f"{q.id} ({q.type})<br/>")
        if q.when:
            assert "only if: " in label
            assert nid in classes["cond"]
        if isinstance(q, InfoQuestion):
            assert nodes[nid][0] == "("
            assert nid in classes["info"]
        else:
            assert nodes[nid][0] == "["
    assert {graph.START_ID, graph.END_ID} <= set(nodes)
    assert any(dst == graph.END_ID for _, dst, _, _ in edges)
    assert (graph.START_ID, graph.node_id(flow.questions[0].id)) in [(s, d) for s, d, _, _ in edges]
    # every question has a way on
    sources = {s for s, _, _, _ in edges}
    assert all(graph.node_id(q.id) in sources for q in flow.questions)


def test_carers_jumps_are_labelled_by_answer() -> None:
    _, edges, _ = read_mermaid(graph.render(SAMPLES[0]))
    labelled = {(s, d): label for s, d, label, arrow in edges if arrow == "-->"}
    assert labelled[("q_know_support", "q_where_help")] == "No"
    assert labelled[("q_know_support", "q_anything_else")] == "Yes"
    assert labelled[("q_consent", graph.DECLINED_ID)] == "No"
    assert labelled[("q_consent", "q_role")] == "Yes"
    skips = [(s, d, label) for s, d, label, arrow in edges if arrow == "-.->"]
    assert ("q_know_support", "q_where_help", "if not asked") in skips
    # the long ethnicity condition is shown in full, wrapped
    nodes, _, _ = read_mermaid(graph.render(SAMPLES[0]))
    describe = unmermaid(nodes["q_ethnic_describe"][1]).replace("<br/>", " ")
    assert 'ethnic_other == "any_other"' in describe


@pytest.mark.parametrize("flow", SAMPLES, ids=lambda f: f.id)
def test_dot_of_sample_flows_is_well_formed_and_complete(flow: Flow) -> None:
    nodes, edges = read_dot(graph.render(flow, "dot"))
    for q in flow.questions:
        nid = graph.node_id(q.id)
        assert nid in nodes
        assert nodes[nid]["label"].split("\n")[0] == f"{q.id} ({q.type})"
        if isinstance(q, InfoQuestion):
            assert nodes[nid]["shape"] == "note"
        if q.when:
            assert "dashed" in nodes[nid]["style"]
    assert {graph.START_ID, graph.END_ID} <= set(nodes)
    assert any(dst == graph.END_ID for _, dst, _ in edges)
    if flow.id == "carers-strategy":
        by = {(s, d, a.get("style", "")): a.get("label", "") for s, d, a in edges}
        assert by[("q_know_support", "q_where_help", "")] == "No"
        assert by[("q_know_support", "q_where_help", "dashed")] == "if not asked"


# --- escaping ---------------------------------------------------------------------------------------

TRICKY = r"""
id: tricky
title: 'Tricky "quotes" & <tags>'
council: Test Borough Council
contact: {phone: "0116 000 0000"}
intro: Hello from Test Borough Council. Text STOP to stop.
thanks: Bye.
questions:
  - id: pick
    type: choice
    text: 'Pick [A] {B} "q" #1 <b>x</b> `c` a\nb'
    choices:
      - {id: a, label: 'Say "yes" [now]'}
      - {id: b, label: 'B | C'}
    next: {a: last}
  - id: middle
    type: info
    when: 'pick == "b"'
    text: 'Info (paren) ; %% not a comment'
  - id: last
    type: text
    text: Anything else?
    next: end
"""


@pytest.fixture
def tricky(tmp_path: Path) -> Flow:
    path = tmp_path / "tricky.yaml"
    path.write_text(TRICKY, encoding="utf-8")
    return require_flow(path)


def test_mermaid_escapes_quotes_brackets_and_html(tricky: Flow) -> None:
    text = graph.render(tricky, "mermaid")
    nodes, edges, _ = read_mermaid(text)
    assert (
        unmermaid(nodes["q_pick"][1]).split("<br/>")[1] == r'Pick [A] {B} "q" #1 <b>x</b> `c` a\nb'
    )
    assert "<b>" not in text
    assert "`" not in text
    labels = {(s, d): label for s, d, label, _ in edges}
    assert labels[("q_pick", "q_last")] == 'Say "yes" [now]'
    assert labels[("q_pick", "q_middle")] == "B | C"
    assert labels[("q_last", graph.END_ID)] == ""
    assert unmermaid(nodes["q_middle"][1]).endswith('only if: pick == "b"')
    assert nodes["flow_start"][0] == "(["


def test_dot_escapes_quotes_and_backslashes(tricky: Flow) -> None:
    text = graph.render(tricky, "dot")
    nodes, edges = read_dot(text)
    assert nodes["q_pick"]["label"].split("\n")[1] == r'Pick [A] {B} "q" #1 <b>x</b> `c` a\nb'
    assert nodes["q_middle"]["label"].endswith('only if: pick == "b"')
    labels = {(s, d): a.get("label", "") for s, d, a in edges}
    assert labels[("q_pick", "q_last")] == 'Say "yes" [now]'
    assert labels[("q_pick", "q_middle")] == "B | C"
    assert nodes["flow_start"]["shape"] == "oval"


# --- the command ------------------------------------------------------------------------------------


def test_graph_command_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SURVEYBOT_FLOWS", str(FLOWS))
    result = runner.invoke(app, ["graph", "carers-strategy"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == "flowchart TD"
    result = runner.invoke(app, ["graph", "carers-strategy", "-o", "route.dot"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "route.dot").read_text(encoding="utf-8").startswith("digraph surveybot {")
    result = runner.invoke(app, ["graph", "carers-strategy", "-o", "docs/route.md"])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "docs/route.md").read_text(encoding="utf-8")
    assert md.startswith("```mermaid\n")
    assert md.endswith("```\n")
    result = runner.invoke(app, ["graph", "carers-strategy", "--format", "dot", "--lang", "gu"])
    assert result.exit_code == 0, result.output
    assert "તમે મુખ્યત્વે કોની સંભાળ રાખો છો?" in result.output
    result = runner.invoke(app, ["graph", "communities-approach", "--lang", "gu"])
    assert result.exit_code == 1
    assert "is in: en" in result.output
