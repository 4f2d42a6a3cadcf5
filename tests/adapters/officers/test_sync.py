"""Published versions reach every part of the bot: other web processes, the reminder worker and
the CLI's commands; a published text that no longer loads keeps the last good version serving."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import fakeredis

from adapters.officers import PublishedSync
from adapters.services import Services, build_services
from adapters.worker import ReminderWorker
from bot.cli.common import published_versions
from bot.loader import flow_version
from store.published import PublishedFlows
from tests.adapters.officers.conftest import Site

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def another_process(site: Site) -> Services:
    return build_services(
        site.services.settings,
        redis=fakeredis.FakeAsyncRedis(server=site.server),
        clock=site.services.clock,
    )


async def publish(site: Site, text: str, expected: str = "") -> str:
    version = flow_version(text.encode())
    base = site.services.registry.from_files["carers-strategy"]
    path = Path(site.services.settings.flows_dir) / "carers-strategy.yaml"
    await PublishedFlows(site.services.redis, site.services.store.keys).publish(
        "carers-strategy", text, version, by="ed", at=NOW, expected=expected,
        base=None if expected else (base.version, path.read_text(encoding="utf-8")),
    )  # fmt: skip
    return version


async def test_the_worker_and_the_cli_serve_the_published_version(site: Site) -> None:
    text = (Path(site.services.settings.flows_dir) / "carers-strategy.yaml").read_text(
        encoding="utf-8"
    )
    version = await publish(site, text.replace("Thank you", "Thanks from the console", 1))
    worker_svc = another_process(site)
    worker = ReminderWorker(worker_svc, {})
    await worker.run_once()
    assert worker_svc.registry.get("carers-strategy").version == version  # type: ignore[union-attr]
    cli_svc = another_process(site)
    await published_versions(cli_svc)  # what every `surveybot export/report/misses/audit` does
    assert cli_svc.registry.get("carers-strategy").version == version  # type: ignore[union-attr]


async def test_a_published_text_that_no_longer_loads_keeps_the_last_good(site: Site) -> None:
    text = (Path(site.services.settings.flows_dir) / "carers-strategy.yaml").read_text(
        encoding="utf-8"
    )
    good = await publish(site, text.replace("Thank you", "Good thanks", 1))
    follower = another_process(site)
    sync = PublishedSync(follower)
    assert await sync.poll()
    assert follower.registry.get("carers-strategy").version == good  # type: ignore[union-attr]
    # A text that does not load (here: written straight into Redis, as a validator grown
    # stricter by an upgrade would see an old one).
    bad = text.replace("type: choice", "type: choise", 1)
    await publish(site, bad, expected=good)
    assert not await sync.poll()
    assert follower.registry.get("carers-strategy").version == good  # type: ignore[union-attr]
    assert any("published version" in f for f in follower.registry.errors)
    assert not await sync.poll()  # nothing new: one GET, no reload
    # The next good publish serves, and /healthz forgets the bad one.
    fixed = await publish(
        site, text.replace("Thank you", "Fixed thanks", 1), expected=flow_version(bad.encode())
    )
    assert await sync.poll()
    assert follower.registry.get("carers-strategy").version == fixed  # type: ignore[union-attr]
    assert not follower.registry.errors
