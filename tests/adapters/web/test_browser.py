"""The web chat page in headless Chromium (Debian's chromium + chromedriver, via selenium),
against a real uvicorn server on a loopback port: a carer answers the whole carers flow by
clicking, ticking, using the keyboard and typing, reloads half way, and finishes.

Needs ``apt-get install chromium chromium-driver`` and ``pip install selenium``; without them the
test is skipped (and fails under ``CI=true``). Selenium Manager is never asked to download a
browser or driver: both paths are given and ``SE_OFFLINE`` is set.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import uvicorn
from starlette.applications import Starlette

from adapters import web
from adapters.services import Services, build_services
from adapters.web import session_ids
from bot.config import Settings
from bot.models import Status
from tests.adapters.conftest import Clock
from tests.conftest import missing

pytestmark = pytest.mark.slow

CHROME_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
]
PHONE = {"width": 390, "height": 844, "pixelRatio": 2}  # an iPhone 12-15, in CSS pixels

# Waits until the page is idle after at least ``arguments[0]`` bubbles are in the log.
IDLE_AFTER = """
const log = document.getElementById('log');
return log.getAttribute('aria-busy') === 'false'
    && log.querySelectorAll('.msg').length >= arguments[0];
"""


@dataclass
class Live:
    url: str
    services: Services
    redis_server: Any


@pytest.fixture
def live(settings: Settings, clock: Clock) -> Iterator[Live]:
    """A real uvicorn server in a thread, on a free loopback port, over fakeredis."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    redis_server = fakeredis.FakeServer()
    services = build_services(
        settings.model_copy(update={"public_url": url}),
        redis=fakeredis.FakeAsyncRedis(server=redis_server),
        clock=clock,
    )
    app = Starlette(routes=web.routes(services))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.02)
    try:
        yield Live(url, services, redis_server)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def chromium(profile: Path, monkeypatch: pytest.MonkeyPatch, *, phone: bool = False) -> Any:
    """Headless Chromium through selenium (skipped without it, failing under ``CI=true``);
    ``phone``: as a phone shows pages, with the browser's console log kept."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium is not installed (pip install selenium)")
    binary = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    if not binary or not chromedriver:
        missing("chromium or chromedriver not installed (apt-get install chromium chromium-driver)")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never download anything
    options = Options()
    options.binary_location = binary
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile}")
    if phone:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(20)
    return driver


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    driver = chromium(tmp_path / "chromium-profile", monkeypatch, phone=True)
    # A reader who asked for less motion (and steady screenshots).
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]},
    )
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The chat page as a respondent uses it."""

    def __init__(self, driver: Any) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.wait = WebDriverWait(driver, 10, poll_frequency=0.05)

    def count(self) -> int:
        return int(
            self.driver.execute_script("return document.querySelectorAll('#log .msg').length")
        )

    def settle(self, at_least: int) -> None:
        self.wait.until(lambda d: d.execute_script(IDLE_AFTER, at_least))

    def open(self, url: str) -> None:
        self.driver.get(url)
        self.settle(1)

    def current(self) -> str | None:
        """The question the last bot bubble asks."""
        question: str | None = self.driver.execute_script(
            "const q = document.querySelectorAll('#log .msg-bot[data-question]');"
            "return q.length ? q[q.length - 1].getAttribute('data-question') : null;"
        )
        return question

    def bot_texts(self) -> list[str]:
        texts: list[str] = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#log .msg-bot .msg-text'))"
            ".map(e => e.textContent);"
        )
        return texts

    def focused(self) -> dict[str, str]:
        element: dict[str, str] = self.driver.execute_script(
            "const e = document.activeElement;"
            "return {tag: e.tagName.toLowerCase(), id: e.id, text: e.textContent};"
        )
        return element

    def _act(self, question: str, action: Any) -> None:
        assert self.current() == question, (self.current(), question, self.bot_texts()[-2:])
        before = self.count()
        action()
        # our own bubble, then at least one reply
        self.settle(before + 2)

    def click(self, question: str, label: str) -> None:
        from selenium.webdriver.common.by import By

        def go() -> None:
            buttons = self.driver.find_elements(By.CSS_SELECTOR, "#choices button.choice")
            matches = [b for b in buttons if b.text == label]
            assert matches, (label, [b.text for b in buttons])
            matches[0].click()

        self._act(question, go)

    def tick(self, question: str, labels: list[str]) -> None:
        from selenium.webdriver.common.by import By

        def go() -> None:
            for label in labels:
                self.driver.find_element(
                    By.XPATH, f"//div[@id='choices']//label[normalize-space()='{label}']"
                ).click()
            self.driver.find_element(By.CSS_SELECTOR, "#choices button.send-choices").click()

        self._act(question, go)

    def type(self, question: str, text: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        self._act(
            question, lambda: self.driver.find_element(By.ID, "answer").send_keys(text + Keys.ENTER)
        )

    def keys(self, question: str, *keys: str) -> None:
        self._act(question, lambda: self.driver.switch_to.active_element.send_keys(*keys))


async def _stored(redis_server: Any, services: Services, cookie: str) -> Any:
    # A fresh client on this loop (the server's client belongs to the server's loop).
    client = fakeredis.FakeAsyncRedis(server=redis_server)
    try:
        store = build_services(services.settings, redis=client).store
        address = session_ids.address_of(services.settings.secret_bytes, cookie)
        return await store.response(store.respondent("web", address), "carers-strategy")
    finally:
        await client.aclose()


def test_a_carer_answers_the_whole_survey_in_chromium(
    browser: Any, live: Live, tmp_path: Path, clock: Clock
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page = Page(browser)
    page.open(f"{live.url}/chat/carers-strategy?source=harborough-carers")
    assert browser.title == "Carers Strategy survey"
    assert "Leicester, Leicestershire and Rutland" in page.bot_texts()[0]
    assert page.current() == "consent"
    log = browser.find_element(By.ID, "log")
    assert log.get_attribute("role") == "log"
    assert log.get_attribute("aria-live") == "polite"

    # Choice buttons are real buttons, at least 44 CSS px tall and inside the phone's width.
    sizes = browser.execute_script(
        "return Array.from(document.querySelectorAll('#choices button')).map(b => {"
        "const r = b.getBoundingClientRect(); return [r.height, r.right];});"
    )
    assert sizes
    assert all(h >= 44 and right <= 390 for h, right in sizes), sizes
    browser.save_screenshot(str(tmp_path / "web-chat-start.png"))

    page.click("consent", "Yes")
    assert page.focused()["tag"] == "button"  # focus moved to the first answer button
    page.click("role", "I am a carer")
    page.click("cared_for", "Someone else")
    assert page.focused()["id"] == "answer"  # a question to type: focus in the text box
    page.type("cared_for", "My grandmother")  # the "someone else" write-in
    page.click("hours", "20 to 34 hours")

    # Reload half way: the same cookie picks up at the same question.
    before_reload = page.current()
    assert before_reload == "years_caring"
    browser.refresh()
    page.settle(1)
    assert page.current() == "years_caring"
    assert all("Leicester, Leicestershire" not in t for t in page.bot_texts())

    page.type("years_caring", "2 years")  # typing works as well as the button
    page.click("p1_recognise", "Agree")
    # Keyboard only: focus is on the first button; Tab to the fifth and press Enter.
    assert page.focused()["text"] == "Strongly disagree"
    page.keys("p2_life", Keys.TAB, Keys.TAB, Keys.TAB, Keys.TAB, Keys.ENTER)
    page.click("p3_support", "Neither agree nor disagree")
    page.tick("support_most", ["Short breaks (respite)", "Emotional support"])
    page.click("know_support", "No")
    assert any("0116 305 0004" in t for t in page.bot_texts()[-2:])  # where to get help
    page.type("anything_else", "More short breaks would help me most.")
    page.type("age", "SKIP")
    page.click("sex", "Female")
    page.click("gender_same", "Yes")
    page.click("ethnic_group", "Asian or Asian British")
    browser.save_screenshot(str(tmp_path / "web-chat-middle.png"))
    page.click("ethnic_asian", "Indian")
    page.click("disability", "No")

    # Redis goes down: the page says sorry, keeps the answer and retries it by itself.
    live.redis_server.connected = False
    before = page.count()
    browser.find_element(By.ID, "answer").send_keys("LE16 7AA" + Keys.ENTER)
    page.wait.until(lambda d: "try again in a minute" in d.find_element(By.ID, "status").text)
    assert page.count() == before + 1  # only their own bubble so far
    live.redis_server.connected = True
    page.settle(before + 2)
    assert browser.find_element(By.ID, "status").text == ""

    assert "Thank you" in page.bot_texts()[-1]
    assert browser.find_element(By.ID, "finished").is_displayed()
    assert not browser.find_element(By.ID, "choices").is_displayed()
    shot = tmp_path / "web-chat-finished.png"
    browser.save_screenshot(str(shot))
    print(f"\nscreenshots: {tmp_path}/web-chat-*.png")

    # Nothing but this server was asked for, and nothing broke (CSP violations are errors).
    origins = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat([location.href]).map(u => new URL(u).origin);"
    )
    assert set(origins) == {live.url}
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    # the one 503 while Redis was down, and nothing else
    assert [e["source"] for e in severe] == ["network"], severe
    assert "503" in severe[0]["message"]

    # The cookie is HttpOnly: the page's own script cannot read it.
    assert web.COOKIE_NAME not in browser.execute_script("return document.cookie")
    cookie = browser.get_cookie(web.COOKIE_NAME)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/chat"

    response = asyncio.run(_stored(live.redis_server, live.services, cookie["value"]))
    assert response is not None
    assert response.status is Status.COMPLETE
    assert response.source == "harborough-carers"
    answers = {q: a.value for q, a in response.answers.items()}
    assert answers["consent"] is True
    assert answers["role"] == "carer"
    assert answers["cared_for"] == "other"
    assert response.answers["cared_for"].other == "My grandmother"
    assert answers["hours"] == "20-34"
    assert answers["years_caring"] == "1-4"
    assert answers["p1_recognise"] == 4
    assert answers["p2_life"] == 5
    assert answers["p3_support"] == 3
    assert answers["support_most"] == ["breaks", "emotional"]
    assert answers["know_support"] is False
    assert answers["age"] is None
    assert answers["ethnic_asian"] == "indian"
    assert answers["postcode"] == "LE16"

    # Reduced motion: no animation at all.
    animations = browser.execute_script(
        "return Array.from(document.querySelectorAll('.msg'))"
        ".map(e => getComputedStyle(e).animationName);"
    )
    assert set(animations) == {"none"}

    # Reflow (WCAG 1.4.10): at 320 CSS px wide, like 400% zoom on a laptop, nothing scrolls
    # sideways.
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 320, "height": 640, "deviceScaleFactor": 2, "mobile": True},
    )
    widths = browser.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth];"
    )
    assert widths[0] <= widths[1] == 320, widths
    browser.save_screenshot(str(tmp_path / "web-chat-320px.png"))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # Coming back to a finished survey shows that it is finished; it does not start again.
    clock.advance(days=2)
    browser.refresh()
    page.settle(1)
    assert "finished" in page.bot_texts()[-1]
    assert browser.find_element(By.ID, "finished").is_displayed()
