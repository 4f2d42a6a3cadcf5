"""The HTML report: content, funnel, breakdown, self-containment, accessibility, well-formedness."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.loader import require_flow
from bot.models import Answer, AnswerValue, Status
from bot.results.report import ReportError, Tally, histogram, report_flow, report_html
from store import Response
from tests.results.world import ADDRESSES, EVERY_TYPE, World, every_type_world, flows_folder

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    return flows_folder(tmp_path)


@pytest.fixture
async def world(flows_dir: Path) -> World:
    return await every_type_world(flows_dir)


class Strict(HTMLParser):
    """Parses the page and checks every element is closed in order; collects a few facts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.svg_titles = 0
        self._in_svg_title = False
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "title" and "svg" in self.stack:
            self.svg_titles += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def parse(page: str) -> Strict:
    p = Strict()
    p.feed(page)
    p.close()
    assert p.errors == []
    assert p.stack == []
    return p


async def make(world: World, **options: object) -> str:
    return await report_flow(world.svc.store, world.flow, now=NOW, **options)  # type: ignore[arg-type]


async def test_report_has_every_question_a_chart_and_the_funnel(world: World) -> None:
    page = await make(world)
    p = parse(page)
    for q in world.flow.questions:
        if q.type != "info":
            assert f'id="q-{q.id}"' in page
    assert "Drop-off funnel" in page
    svgs = [a for t, a in p.tags if t == "svg"]
    assert svgs
    assert all(a.get("role") == "img" for a in svgs)
    assert p.svg_titles == len(svgs)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in page
    assert page.count("<caption>") >= len(world.flow.questions) - 1
    assert "@media print" in page
    assert "page-break-before: always" in page


async def test_report_is_self_contained(world: World) -> None:
    page = await make(world, by="role")
    p = parse(page)
    for tag, attrs in p.tags:
        for name in ("src", "href", "xlink:href", "action", "data"):
            if name not in attrs:
                continue
            value = attrs[name] or ""
            assert not re.match(r"\s*(https?:)?//", value), (tag, name, value)
            if name == "href":
                assert value.startswith("#"), value
        assert tag not in ("script", "link", "iframe", "img", "object")
    assert "http://" not in page
    assert "https://" not in page
    assert "@import" not in page


async def test_funnel_counts_reached_answered_and_where_people_stopped(world: World) -> None:
    tally = Tally(world.flow)
    async for r in world.svc.store.iter_responses(world.flow.id):
        tally.add(r)
    f = tally.funnel
    assert tally.started == 7
    assert (f["consent"].reached, f["consent"].answered) == (7, 7)
    # Opted out after consent: they stopped at name. The partial one stopped at role.
    assert (f["name"].reached, f["name"].answered, f["name"].stopped) == (6, 5, 1)
    assert (f["role"].reached, f["role"].answered, f["role"].stopped) == (5, 4, 1)
    # The organisation jumped from role to comments: it never reached "often".
    assert f["often"].reached == 3
    assert (f["born"].reached, f["born"].answered, f["born"].skipped) == (3, 2, 1)
    assert f["hours"].reached == 2  # carers only
    assert f["comments"].reached == 4
    assert sorted(tally.durations) == [480.0, 1440.0, 1440.0, 1440.0]


async def test_breakdown_by_role(world: World) -> None:
    page = await make(world, by="role")
    parse(page)
    assert "answers by role" in page
    assert "I am a carer (n=2)" in page  # the group's column in a breakdown table
    assert "An organisation (n=1)" in page
    assert "no responses from: I am cared for" in page
    # Free text grouped by respondent type.
    assert "<h4>An organisation (1)</h4>" in page
    # Number summaries per group.
    assert re.search(r"<th scope=\"row\">I am a carer</th><td class=\"n\">2</td>", page)


async def test_question_results(world: World) -> None:
    page = await make(world)
    # Counts and shares of a choice question (complete responses only by default: 4).
    assert "Answered by 4 (of 4 responses counted)" in page
    assert '<th scope="row">I am a carer</th><td class="n">2</td><td class="n">50%</td>' in page
    # Free text listed, escaped.
    assert "&lt;b&gt;not&lt;/b&gt; good &amp; slow" in page
    assert "<b>not</b>" not in page
    # Number summary: count, median, min, max.
    assert (
        '<th scope="row">All</th><td class="n">2</td><td class="n">31</td>'
        '<td class="n">20</td><td class="n">42</td>'
    ) in page
    # Dates by year; other text listed.
    assert '<th scope="row">1960</th>' in page
    assert "a neighbour" in page
    assert "Median time to complete:" in page
    for address in ADDRESSES:
        assert address not in page


async def test_partial_counts_unfinished_responses(world: World) -> None:
    page = await make(world, partial=True)
    assert "Answered by 7 (of 7 responses counted)" in page


async def test_by_must_name_a_single_answer_question(world: World) -> None:
    with pytest.raises(ReportError, match="no question 'rol'"):
        await make(world, by="rol")
    with pytest.raises(ReportError, match="not a text question"):
        await make(world, by="comments")


def test_empty_survey_still_renders() -> None:
    flow = require_flow(EVERY_TYPE)
    page = report_html(flow, [], by="role", generated_at=NOW)
    parse(page)
    assert "0 responses started" in page


def test_removed_questions_and_long_surveys() -> None:
    flow = require_flow(EVERY_TYPE)
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)

    def resp(i: int, answers: dict[str, AnswerValue | None]) -> Response:
        at = start + timedelta(days=i)
        return Response(
            respondent=f"r{i}",
            flow=flow.id,
            version="old",
            channel="sms",
            status=Status.COMPLETE,
            started_at=at,
            last_at=at,
            finished_at=at + timedelta(days=2),
            answers={q: Answer(question=q, value=v, at=at) for q, v in answers.items()},
        )

    responses = [
        resp(i, {"role": "carer", "often_old": "never" if i % 2 else "weekly", "hours": i * 1.5})
        for i in range(100)
    ]
    page = report_html(flow, responses, generated_at=NOW)
    parse(page)
    assert "often_old (removed)" in page
    assert "Week of Mon 05 Jan 2026" in page  # over two months: weekly
    assert "2.0 days (about 2 days)" in page


def test_histogram_bins() -> None:
    assert histogram([1, 2, 2, 3], integer=True) == [("1", 1), ("2", 2), ("3", 1)]
    bins = histogram([float(x) for x in range(0, 100)], integer=True)
    assert bins[0] == ("0 to 9", 10)
    assert sum(n for _, n in bins) == 100
    floats = histogram([0.5, 1.5, 2.5], integer=False)
    assert len(floats) == 10
    assert sum(n for _, n in floats) == 3
    assert histogram([2.5, 2.5], integer=False) == [("2.5", 2)]
