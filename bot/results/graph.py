"""A flow's route as a diagram, so officers can check the skip logic before going live.

Two outputs from one model of the route: **Mermaid** (renders on GitHub, GitLab, in VS Code's
Markdown preview and at mermaid.live) and **DOT** (Graphviz: ``dot -Tsvg flow.dot -o flow.svg``).

* one node per question: its id, type and the start of its text; a ``when:`` condition is shown
  on the node ("only if: ...") and the node has a dashed border;
* info messages (no answer needed) are drawn in another shape and colour;
* solid arrows follow the route: in file order, and ``next:`` jumps labelled with the answers
  that take them ("No", "any other answer");
* a dashed arrow "if not asked" shows where the route goes when a conditional question that has
  its own ``next:`` is passed over: on to the question below it (a conditional question without
  ``next:`` needs no such arrow: either way the route goes on below);
* Start (the intro), End (the thanks) and, for a consent question, where a "no" ends the survey.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bot.schema import (
    END,
    ChoiceQuestion,
    ConsentQuestion,
    Flow,
    InfoQuestion,
    MultiQuestion,
    Question,
    ScaleQuestion,
    YesNoQuestion,
)
from bot.text import tr

START_ID = "flow_start"
END_ID = "flow_end"
DECLINED_ID = "flow_declined"
TEXT_MAX = 48
ANSWER_MAX = 24

NodeKind = Literal["start", "question", "info", "end"]
EdgeKind = Literal["next", "jump", "skip"]


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    lines: tuple[str, ...]
    conditional: bool = False


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    label: str
    kind: EdgeKind


@dataclass(frozen=True)
class Diagram:
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def node_id(qid: str) -> str:
    """``q_<question id>``: never a Mermaid or DOT keyword (``end``, ``graph``, ``node``...)."""
    return f"q_{qid}"


def shorten(text: str, limit: int = TEXT_MAX) -> str:
    """One line, cut at a word boundary with ``...`` when longer than ``limit``."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 3]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "..."


def wrap(text: str, width: int = TEXT_MAX) -> list[str]:
    """``text`` in lines of at most ``width`` characters where spaces allow."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def _answer_name(q: Question, key: str, lang: str) -> str:
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        for c in q.all_choices():
            if c.id == key:
                return shorten(tr(c.label, lang), ANSWER_MAX)
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        return key.capitalize()
    if isinstance(q, ScaleQuestion) and key.isdigit():
        label = q.point_label(int(key), lang)
        return f"{key} {shorten(label, ANSWER_MAX)}" if label else key
    return key


def _answer_keys(q: Question) -> list[str]:
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        return [c.id for c in q.all_choices()]
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        return ["yes", "no"]
    if isinstance(q, ScaleQuestion):
        return [str(n) for n in range(q.low, q.high + 1)]
    return []


def _other_answers(q: Question, mapped: set[str], lang: str) -> list[str]:
    """Names of the answers a ``next:`` map does not list ("Yes"), or "any other answer"."""
    rest = [k for k in _answer_keys(q) if k not in mapped]
    if not rest or len(rest) > 3:
        return ["any other answer"]
    return [_answer_name(q, k, lang) for k in rest]


def _target(flow: Flow, index: int, target: str) -> str:
    if target == END:
        return END_ID
    return node_id(target) if flow.position(target) >= 0 else _follow(flow, index)


def _follow(flow: Flow, index: int) -> str:
    """The node after question ``index`` in file order (End after the last)."""
    nxt = index + 1
    return node_id(flow.questions[nxt].id) if nxt < len(flow.questions) else END_ID


def build(flow: Flow, lang: str | None = None) -> Diagram:
    lang = lang or flow.languages[0]
    nodes: list[Node] = [Node(START_ID, "start", ("Start", shorten(tr(flow.intro, lang))))]
    edges: list[Edge] = []
    if flow.questions:
        edges.append(Edge(START_ID, node_id(flow.questions[0].id), "", "next"))
    declined = False
    for i, q in enumerate(flow.questions):
        lines = [f"{q.id} ({q.type})", shorten(tr(q.text, lang))]
        if q.when:
            lines += wrap("only if: " + " ".join(q.when.split()))
        kind: NodeKind = "info" if isinstance(q, InfoQuestion) else "question"
        nodes.append(Node(node_id(q.id), kind, tuple(lines), bool(q.when)))
        src = node_id(q.id)
        follow = _follow(flow, i)
        if isinstance(q, ConsentQuestion):
            declined = True
            edges.append(Edge(src, DECLINED_ID, "No", "jump"))
        out: dict[str, list[str]] = {}
        if q.next is None:
            out[follow] = ["Yes"] if isinstance(q, ConsentQuestion) else []
        elif isinstance(q.next, str):
            out.setdefault(_target(flow, i, q.next), []).append("")
        else:
            others = _other_answers(q, set(q.next), lang)
            for key, target in q.next.items():
                names = others if key == "default" else [_answer_name(q, key, lang)]
                out.setdefault(_target(flow, i, target), []).extend(names)
            if "default" not in q.next:
                out.setdefault(follow, []).extend(others)
        for dst, names in out.items():
            label = " / ".join(n for n in dict.fromkeys(names) if n)
            edge_kind: EdgeKind = "next" if dst == follow and q.next is None else "jump"
            edges.append(Edge(src, dst, label, edge_kind))
        if q.when and q.next is not None:
            # Passed over, a question goes on to the one below it, not where its next: says.
            edges.append(Edge(src, follow, "if not asked", "skip"))
    nodes.append(Node(END_ID, "end", ("End", shorten(tr(flow.thanks, lang)))))
    if declined:
        nodes.append(Node(DECLINED_ID, "end", ("End: consent not given",)))
    return Diagram(tr(flow.title, lang), tuple(nodes), tuple(edges))


# --- Mermaid -----------------------------------------------------------------------------------

# Inside a quoted Mermaid label, entity codes stand for characters that would end the label or be
# read as HTML: #quot; -> ", #lt; -> <, and #35; for a literal #.
_MERMAID = {
    ord("#"): "#35;",
    ord('"'): "#quot;",
    ord("&"): "#amp;",
    ord("<"): "#lt;",
    ord(">"): "#gt;",
    ord("`"): "#96;",
}


def mermaid_text(text: str) -> str:
    """``text`` safe inside a quoted Mermaid label (``"..."``), on one line."""
    return " ".join(text.split()).translate(_MERMAID)


def _mermaid_label(lines: Iterable[str]) -> str:
    return '"' + "<br/>".join(mermaid_text(line) for line in lines) + '"'


_MERMAID_SHAPES = {
    "start": ("([", "])"),
    "end": ("([", "])"),
    "info": ("(", ")"),
    "question": ("[", "]"),
}


def mermaid(d: Diagram) -> str:
    out = [
        f"%% {mermaid_text(d.title)}: the route through the survey (surveybot graph)",
        "flowchart TD",
    ]
    for n in d.nodes:
        left, right = _MERMAID_SHAPES[n.kind]
        out.append(f"    {n.id}{left}{_mermaid_label(n.lines)}{right}")
    for e in d.edges:
        arrow = "-.->" if e.kind == "skip" else "-->"
        label = f'|"{mermaid_text(e.label)}"|' if e.label else ""
        out.append(f"    {e.src} {arrow}{label} {e.dst}")
    out += [
        "    classDef startend fill:#e8e8e8,stroke:#555,color:#000",
        "    classDef info fill:#e6f0ff,stroke:#3a6ea5,color:#000",
        "    classDef cond stroke-dasharray:6 4",
    ]
    groups = {
        "startend": [n.id for n in d.nodes if n.kind in ("start", "end")],
        "info": [n.id for n in d.nodes if n.kind == "info"],
        "cond": [n.id for n in d.nodes if n.conditional],
    }
    for cls, ids in groups.items():
        if ids:
            out.append(f"    class {','.join(ids)} {cls}")
    return "\n".join(out) + "\n"


# --- DOT (Graphviz) ----------------------------------------------------------------------------


def dot_text(text: str) -> str:
    """``text`` safe inside a DOT double-quoted string, on one line.

    A backslash is doubled so Graphviz reads no escape (``\\N``, ``\\G``, ``\\l``...) into it.
    """
    flat = " ".join(text.split())
    return flat.replace("\\", "\\\\").replace('"', '\\"')


def _dot_label(lines: Iterable[str]) -> str:
    return '"' + "\\n".join(dot_text(line) for line in lines) + '"'


_DOT_STYLE = {
    "start": 'shape=oval, style=filled, fillcolor="#e8e8e8"',
    "end": 'shape=oval, style=filled, fillcolor="#e8e8e8"',
    "info": 'shape=note, style=filled, fillcolor="#e6f0ff", color="#3a6ea5"',
    "question": 'shape=box, style="rounded"',
}


def dot(d: Diagram) -> str:
    out = [
        "digraph surveybot {",
        f"    graph [rankdir=TB, labelloc=t, fontname=Helvetica, label={_dot_label([d.title])}];",
        "    node [fontname=Helvetica, fontsize=10];",
        "    edge [fontname=Helvetica, fontsize=9];",
    ]
    for n in d.nodes:
        style = _DOT_STYLE[n.kind]
        if n.conditional:
            style = style.replace('style="rounded"', 'style="rounded,dashed"').replace(
                "style=filled", 'style="filled,dashed"'
            )
        out.append(f'    "{n.id}" [label={_dot_label(n.lines)}, {style}];')
    for e in d.edges:
        attrs = [f"label={_dot_label([e.label])}"] if e.label else []
        if e.kind == "skip":
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        out.append(f'    "{e.src}" -> "{e.dst}"{suffix};')
    out.append("}")
    return "\n".join(out) + "\n"


def render(flow: Flow, fmt: Literal["mermaid", "dot"] = "mermaid", lang: str | None = None) -> str:
    d = build(flow, lang)
    return mermaid(d) if fmt == "mermaid" else dot(d)
