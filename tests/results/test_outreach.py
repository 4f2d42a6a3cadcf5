"""``surveybot link``: deep links, web and SMS wording, QR codes that decode back, the A4 poster.

QR codes are read back with zxing-cpp (a real decoder, not segno's own matrix): the PNG through
Pillow, the SVG files and the poster's inline SVG by drawing segno's path onto a bitmap.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import pytest
from typer.testing import CliRunner

from adapters.renderers import LINKS
from bot.cli import app
from bot.dispatch import Dispatcher
from bot.loader import FlowRegistry, require_flow
from bot.ports import SessionStore
from bot.results import outreach
from bot.schema import Flow
from tests.conftest import missing

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
SAMPLES = [
    require_flow(FLOWS / "carers-strategy.yaml"),
    require_flow(FLOWS / "communities-approach.yaml"),
]
PUBLIC = "https://survey.example.gov.uk"
BOT = "LLRCarersBot"
NUMBER = "+447911123456"
PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

runner = CliRunner()


def links(flow: Flow, source: str | None = None, **kw: Any) -> outreach.Links:
    args: dict[str, Any] = {"public_url": PUBLIC, "bot_username": BOT, "from_number": NUMBER}
    args.update(kw)
    return outreach.make_links(flow, source, formats=LINKS, **args)


def dispatcher(folder: Path) -> Dispatcher:
    # resolve_start only reads the registry; no store is touched.
    return Dispatcher(FlowRegistry(folder), cast(SessionStore, None))


# --- decoding QR codes -------------------------------------------------------------------------


def _zxing() -> Any:
    try:
        import zxingcpp
        from PIL import Image
    except ImportError as exc:
        missing(f"QR decoding needs zxing-cpp and Pillow (pip install zxing-cpp pillow): {exc}")
    return zxingcpp, Image


def decode_png(path: Path) -> list[str]:
    zxingcpp, image = _zxing()
    with image.open(path) as img:
        return [r.text for r in zxingcpp.read_barcodes(img.convert("L"))]


def svg_modules(svg: str) -> tuple[set[tuple[int, int]], int]:
    """The dark modules of a segno SVG (one path of ``M``/``m``/``h`` moves, 1-unit strokes),
    and the symbol's size in units (the viewBox or width, divided by any scale transform)."""
    d = re.search(r'<path[^>]*\sd="([^"]+)"', svg)
    assert d, "no path in the SVG"
    scale_m = re.search(r'transform="scale\(([\d.]+)\)"', svg)
    scale = float(scale_m.group(1)) if scale_m else 1.0
    box = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg) or re.search(
        r'width="([\d.]+)" height="([\d.]+)"', svg
    )
    assert box
    size = round(float(box.group(1)) / scale)
    tokens = re.findall(r"[A-Za-z]|-?\d+(?:\.\d+)?", d.group(1))
    assert set(t for t in tokens if t.isalpha()) <= {"M", "m", "h"}, "unexpected path commands"
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    i = 0
    while i < len(tokens):
        cmd = tokens[i]
        if cmd in "Mm":
            dx, dy = float(tokens[i + 1]), float(tokens[i + 2])
            x, y = (dx, dy) if cmd == "M" else (x + dx, y + dy)
            i += 3
        else:  # h: a run of dark modules on this row
            n = float(tokens[i + 1])
            for k in range(round(n)):
                dark.add((round(x) + k, int(y)))
            x += n
            i += 2
    return dark, size


def decode_svg(svg: str, pixels: int = 8) -> list[str]:
    zxingcpp, image = _zxing()
    dark, size = svg_modules(svg)
    img = image.new("L", (size * pixels, size * pixels), 255)
    for mx, my in dark:
        img.paste(0, (mx * pixels, my * pixels, (mx + 1) * pixels, (my + 1) * pixels))
    return [r.text for r in zxingcpp.read_barcodes(img)]


# --- links ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", SAMPLES, ids=lambda f: f.id)
def test_deep_link_for_every_source_fits_telegram_and_resolves_back(flow: Flow) -> None:
    d = dispatcher(FLOWS)
    for source in [None, *flow.sources]:
        got = links(flow, source.id if source else None)
        payload = got.telegram_payload
        assert payload is not None
        assert PAYLOAD.match(payload), payload
        assert got.telegram == f"https://t.me/{BOT}?start={payload}"
        resolved = d.resolve_start(payload)
        assert resolved is not None
        assert resolved[0].id == flow.id
        assert (resolved[1].id if resolved[1] else None) == (source.id if source else None)


def test_sample_links_read_as_the_issue_describes() -> None:
    carers = SAMPLES[0]
    got = links(carers, "harborough-carers")
    assert got.telegram == "https://t.me/LLRCarersBot?start=carers-strategy-harborough-carers"
    assert got.web == f"{PUBLIC}/chat/carers-strategy?source=harborough-carers"
    assert got.sms_text == "Text CARERS HARBOROUGH to 07911 123456"
    assert got.voice_text is None
    assert [n for n in got.notes if "TWILIO_VOICE_NUMBER" not in n] == []  # calls are optional
    assert links(carers, voice_number="+441164960123").notes == []
    assert links(carers, "harborough-carers", lang="gu").web.endswith(
        "?source=harborough-carers&lang=gu"
    )
    plain = links(SAMPLES[1])
    assert plain.sms_text == "Text COMMUNITIES to 07911 123456"
    assert plain.web == f"{PUBLIC}/chat/communities-approach"
    assert any("closed on 21 January 2022" in n for n in plain.notes)


LONG_FLOW = """\
id: a-very-long-consultation-name-for-testin
title: Long survey
council: Test Borough Council
contact: {phone: "0116 000 0000"}
intro: Hello from Test Borough Council. Text STOP to stop.
thanks: Thank you.
keywords: [LONGTEST]
sources:
  - {id: a-community-group-with-long-id, name: A group, keyword: GROUPWORD}
  - {id: another-group-without-keyword1, name: Another group}
questions:
  - {id: name, type: text, text: What should we call you?}
"""


def test_too_long_payload_falls_back_to_keywords_which_the_bot_accepts(tmp_path: Path) -> None:
    (tmp_path / "long.yaml").write_text(LONG_FLOW, encoding="utf-8")
    flow = require_flow(tmp_path / "long.yaml")
    assert len(f"{flow.id}-a-community-group-with-long-id") > 64
    got = links(flow, "a-community-group-with-long-id")
    assert got.telegram_payload == "LONGTEST-GROUPWORD"
    assert got.telegram == "https://t.me/LLRCarersBot?start=LONGTEST-GROUPWORD"
    assert any("LONGTEST-GROUPWORD" in n and "64" in n for n in got.notes)
    resolved = dispatcher(tmp_path).resolve_start("LONGTEST-GROUPWORD")
    assert resolved is not None
    assert resolved[0].id == flow.id
    assert resolved[1] is not None
    assert resolved[1].id == "a-community-group-with-long-id"
    # Without a source keyword there is nothing short to fall back on: no Telegram link, and a
    # note on what to change; the web and SMS ways still work.
    other = links(flow, "another-group-without-keyword1")
    assert other.telegram is None
    assert other.telegram_payload is None
    assert any("no Telegram link" in n and "keyword" in n for n in other.notes)
    assert other.web.endswith("?source=another-group-without-keyword1")
    with pytest.raises(outreach.OutreachError, match="keyword"):
        outreach.start_payload(flow, flow.source("another-group-without-keyword1"))


def test_unknown_source_lists_the_flows_sources() -> None:
    with pytest.raises(outreach.OutreachError) as info:
        links(SAMPLES[0], "harborough")
    for s in SAMPLES[0].sources:
        assert s.id in str(info.value)
    with pytest.raises(outreach.OutreachError, match="no sources"):
        links(SAMPLES[1], "anything")


def test_missing_settings_are_named_with_how_to_set_them() -> None:
    got = links(
        SAMPLES[0],
        "rutland-carers",
        bot_username=None,
        from_number=None,
        public_url="http://127.0.0.1:8000",
    )
    assert got.telegram is None
    assert got.sms_text is None
    assert got.sms_words == "CARERS RUTLAND"
    text = " ".join(got.notes)
    assert "TELEGRAM_BOT_USERNAME" in text
    assert "TWILIO_FROM_NUMBER" in text
    assert "+44" in text
    assert "SURVEYBOT_PUBLIC_URL" in text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("+447911123456", "07911 123456"),
        ("07911 123456", "07911 123456"),
        ("+441163050004", "0116 305 0004"),
        ("60777", "60777"),  # a short code is texted as it is
    ],
)
def test_sms_number_in_uk_national_format(raw: str, shown: str) -> None:
    assert outreach.national_number(raw)[0] == shown


def test_odd_sms_numbers_get_a_note() -> None:
    assert outreach.national_number("+15005550006")[1] is not None  # not UK
    assert outreach.national_number("not a number")[1] is not None


# --- QR codes and poster ------------------------------------------------------------------------


def test_qr_png_and_svg_decode_back_to_the_web_link(tmp_path: Path) -> None:
    got = links(SAMPLES[0], "belgrave-gujarati-carers", lang="gu")
    png, svg = outreach.write_qr(got.web, tmp_path, got.stem)
    assert png.name == "carers-strategy-belgrave-gujarati-carers-qr.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert decode_png(png) == [got.web]
    assert decode_svg(svg.read_text(encoding="utf-8")) == [got.web]


def test_qr_of_a_telegram_link_decodes_too(tmp_path: Path) -> None:
    got = links(SAMPLES[0], "somali-community-leicester")
    assert got.telegram is not None
    png, _ = outreach.write_qr(got.telegram, tmp_path, "tg")
    assert decode_png(png) == [got.telegram]


def test_poster_has_the_three_ways_and_an_inline_qr(tmp_path: Path) -> None:
    got = links(SAMPLES[0], "harborough-carers")
    page = outreach.write_poster(got, tmp_path).read_text(encoding="utf-8")
    assert "@page { size: A4" in page
    assert "Carers Strategy survey" in page
    assert "Leicestershire County Council for Leicester, Leicestershire and Rutland" in page
    assert "Closes 31 December 2026" in page
    # 1. SMS, 2. scan or open the web link, 3. Telegram
    assert re.search(r"Text <span[^>]*>CARERS HARBOROUGH</span> to <span[^>]*>07911 123456", page)
    assert "Scan the code" in page
    assert "survey.example.gov.uk/chat/carers-strategy?source=harborough-carers" in page
    assert "t.me/LLRCarersBot?start=carers-strategy-harborough-carers" in page
    assert "Three ways to take part" in page
    inline = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert inline is not None
    assert "viewBox" in inline.group(0)
    assert decode_svg(inline.group(0)) == [got.web]


def test_poster_escapes_html_from_the_flow(tmp_path: Path) -> None:
    text = LONG_FLOW.replace("title: Long survey", 'title: "Roads & <Paths> survey"')
    (tmp_path / "f.yaml").write_text(text, encoding="utf-8")
    flow = require_flow(tmp_path / "f.yaml")
    page = outreach.poster_html(links(flow))
    assert "Roads &amp; &lt;Paths&gt; survey" in page
    assert "<Paths>" not in page


# --- the command -------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env from the work tree
    monkeypatch.setenv("SURVEYBOT_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", BOT)
    monkeypatch.setenv("TWILIO_FROM_NUMBER", NUMBER)
    monkeypatch.setenv("SURVEYBOT_FLOWS", str(FLOWS))
    return tmp_path


def test_link_command_prints_links_and_writes_qr_and_poster(env: Path) -> None:
    result = runner.invoke(
        app, ["link", "carers-strategy", "--source", "harborough-carers", "--poster", "-o", "o"]
    )
    assert result.exit_code == 0, result.output
    assert "https://t.me/LLRCarersBot?start=carers-strategy-harborough-carers" in result.output
    assert f"{PUBLIC}/chat/carers-strategy?source=harborough-carers" in result.output
    assert "Text CARERS HARBOROUGH to 07911 123456" in result.output
    files = sorted(p.name for p in (env / "o").iterdir())
    assert files == [
        "carers-strategy-harborough-carers-poster.html",
        "carers-strategy-harborough-carers-qr.png",
        "carers-strategy-harborough-carers-qr.svg",
    ]
    assert decode_png(env / "o" / files[1]) == [
        f"{PUBLIC}/chat/carers-strategy?source=harborough-carers"
    ]


def test_link_command_all_sources_by_file_path(env: Path) -> None:
    result = runner.invoke(app, ["link", str(FLOWS / "carers-strategy.yaml"), "--all-sources"])
    assert result.exit_code == 0, result.output
    assert len(list((env / "out").glob("*-qr.png"))) == len(SAMPLES[0].sources)


def test_link_command_errors_are_plain(env: Path) -> None:
    result = runner.invoke(app, ["link", "carers-strategy", "--source", "nope"])
    assert result.exit_code == 1
    assert "harborough-carers" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["link", "no-such-flow"])
    assert result.exit_code == 1
    assert "carers-strategy" in result.output  # lists the flows there are
    result = runner.invoke(app, ["link", "missing.yaml"])
    assert result.exit_code == 1
    assert "no flow file" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- the number to call --------------------------------------------------------------------------

CALL = "+441164960123"


def _with_key(tmp_path: Path, name: str, key: int | None, fid: str | None = None) -> Flow:
    """A copy of a sample flow, with ``voice: key`` (and another id)."""
    text = (FLOWS / name).read_text(encoding="utf-8")
    if fid is not None:
        text = re.sub(r"^id: .*$", f"id: {fid}", text, count=1, flags=re.M)
    if key is not None:
        if "\nvoice:\n" in text:
            text = text.replace("\nvoice:\n", f"\nvoice:\n  key: {key}\n", 1)
        else:
            text += f"\nvoice:\n  key: {key}\n"
    path = tmp_path / f"{fid or name.removesuffix('.yaml')}.yaml"
    path.write_text(text, encoding="utf-8")
    return require_flow(path)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("+441164960123", "0116 496 0123"),  # a Leicester landline number
        ("+443001234567", "0300 123 4567"),
        ("+448001234567", "0800 123 4567"),
        ("0116 496 0123", "0116 496 0123"),
    ],
)
def test_the_number_to_call_in_uk_national_format(raw: str, shown: str) -> None:
    got = links(SAMPLES[0], voice_number=raw)
    assert got.voice_number == shown
    assert got.voice_text == f"Call {shown}"
    assert got.voice_free is raw.startswith("+44800")


def test_odd_or_missing_call_numbers_get_a_note() -> None:
    assert "TWILIO_VOICE_NUMBER" in " ".join(links(SAMPLES[0]).notes)
    assert links(SAMPLES[0]).voice_text is None
    odd = links(SAMPLES[0], voice_number="+15005550006")
    assert any("TWILIO_VOICE_NUMBER" in n and "calling it" in n for n in odd.notes)
    bad = links(SAMPLES[0], voice_number="60777")  # a short code takes texts, not calls
    assert any("does not look like a valid number" in n for n in bad.notes)


def test_a_surveys_key_is_printed_and_is_the_key_its_calls_answer(tmp_path: Path) -> None:
    from adapters.voice_twilio.call import survey_keys

    carers = _with_key(tmp_path, "carers-strategy.yaml", 2)
    other = _with_key(tmp_path, "carers-strategy.yaml", None, fid="young-carers")
    got = links(carers, voice_number=CALL, others=[carers, other])
    assert got.voice_text == "Call 0116 496 0123 and press 2"
    assert survey_keys([carers, other])[2] is carers  # what a call's menu does
    assert not any("menu" in n for n in got.notes)


def test_a_clash_or_no_key_on_a_shared_number_is_explained(tmp_path: Path) -> None:
    carers = _with_key(tmp_path, "carers-strategy.yaml", 2)
    rival = _with_key(tmp_path, "carers-strategy.yaml", 2, fid="a-young-carers")  # first by id
    got = links(carers, voice_number=CALL, others=[carers, rival])
    assert got.voice_text == "Call 0116 496 0123"  # no key that would pick the other survey
    assert any("key 2 is also 'a-young-carers'" in n for n in got.notes)

    plain = _with_key(tmp_path, "carers-strategy.yaml", None)
    got = links(plain, voice_number=CALL, others=[plain, rival])
    assert got.voice_text == "Call 0116 496 0123"
    assert any("menu of surveys" in n and "voice: {key: 2}" in n for n in got.notes)
    # A survey closed before this one opened never shares the menu with it.
    got = links(plain, voice_number=CALL, others=[plain, SAMPLES[1]])
    assert not any("menu" in n for n in got.notes)


def test_calls_do_not_record_the_source_and_say_so() -> None:
    got = links(SAMPLES[0], "harborough-carers", voice_number=CALL)
    assert any("calls do not record" in n for n in got.notes)


def test_poster_has_the_phone_way(tmp_path: Path) -> None:
    carers = _with_key(tmp_path, "carers-strategy.yaml", 2)
    page = outreach.poster_html(links(carers, "harborough-carers", voice_number=CALL))
    assert "Four ways to take part" in page
    assert re.search(r"Call <span[^>]*>0116 496 0123</span> and press <span[^>]*>2</span>", page)
    assert "Answer with your keypad or by speaking. Normal call charges apply." in page
    assert "say stop or hang up" in page
    free = outreach.poster_html(links(carers, voice_number="+448001234567"))
    assert "Free to call." in free
    none = outreach.poster_html(links(carers))
    assert "By phone" not in none
    assert "hang up" not in none


def test_poster_with_every_channel_has_five_ways(tmp_path: Path) -> None:
    carers = _with_key(tmp_path, "carers-strategy.yaml", 2)
    got = links(carers, "harborough-carers", voice_number=CALL, whatsapp_number=NUMBER)
    page = outreach.poster_html(got)
    assert "Five ways to take part" in page
    order = [
        page.index(f'class="way {w}"') for w in ("sms", "phone", "web", "whatsapp", "telegram")
    ]
    assert order == sorted(order)
    assert '<main class="page many most">' in page  # the dense layout (one A4 page: see below)


def test_link_command_prints_the_number_to_call(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_VOICE_NUMBER", CALL)
    result = runner.invoke(app, ["link", "carers-strategy", "--no-qr"])
    assert result.exit_code == 0, result.output
    assert "Phone:    Call 0116 496 0123" in result.output
    monkeypatch.delenv("TWILIO_VOICE_NUMBER")
    result = runner.invoke(app, ["link", "carers-strategy", "--no-qr"])
    assert "Phone:    (number not set: see notes)" in result.output
    assert "TWILIO_VOICE_NUMBER" in result.output
