"""The A4 poster printed by headless Chromium: whatever mix of ways it shows (SMS, phone, web,
WhatsApp, Telegram), everything fits on one page.

Laid out with the print stylesheet at the page's printable width (A4 less the 12 mm margins),
the content must be no taller than the printable height. Needs Debian's chromium and
chromedriver (as ``tests/adapters/web/test_browser.py``); skipped without them, failing under
``CI=true``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.results import outreach
from tests.adapters.web.test_browser import chromium
from tests.results.test_outreach import CALL, NUMBER, SAMPLES, links

pytestmark = pytest.mark.slow

PRINTABLE_MM = (186, 272)  # A4 (210 x 297 mm) less the poster's @page margins, as .page is set

# Height of the page's content in mm, laid out at the printable width without its min-height.
CONTENT_MM = """
const page = document.querySelector('.page');
page.style.minHeight = '0';
page.style.width = arguments[0] + 'mm';
const ruler = document.createElement('div');
ruler.style.height = '100mm';
document.body.appendChild(ruler);
const mm = ruler.getBoundingClientRect().height / 100;
ruler.remove();
return page.scrollHeight / mm;
"""

WAYS = {
    "whatsapp": {"whatsapp_number": NUMBER},
    "phone": {"voice_number": CALL},
    "telegram": {},
}


@pytest.fixture(scope="module")
def printer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        driver = chromium(tmp_path_factory.mktemp("chromium-profile"), mp)
        driver.set_window_size(1200, 1400)
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            yield driver
        finally:
            driver.quit()


@pytest.mark.parametrize(
    "extra",
    [c for n in range(len(WAYS) + 1) for c in itertools.combinations(WAYS, n)],
    ids=lambda c: "+".join(("sms", "web", *c)),
)
def test_the_poster_fits_one_a4_page(printer: Any, tmp_path: Path, extra: tuple[str, ...]) -> None:
    kw: dict[str, Any] = {"bot_username": "LLRCarersBot" if "telegram" in extra else None}
    for way in extra:
        kw.update(WAYS[way])
    got = links(SAMPLES[0], "harborough-carers", **kw)  # a source group: one more line
    page = outreach.write_poster(got, tmp_path)
    assert page.read_text(encoding="utf-8").count('<li class="way ') == 2 + len(extra)
    printer.get(page.as_uri())
    height = printer.execute_script(CONTENT_MM, PRINTABLE_MM[0])
    assert height <= PRINTABLE_MM[1], f"{height:.0f} mm of content: the poster takes two pages"
