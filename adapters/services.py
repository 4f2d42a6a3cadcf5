"""What every channel adapter needs, built once per process: config, flows, store, dispatcher."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from adapters.health import Health
from bot.config import Settings
from bot.dispatch import Dispatcher, utcnow
from bot.loader import FlowRegistry
from store import KeyBuilder, RateLimit, RedisStore, connect
from store.client import AnyRedis
from store.misses import MissLog

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    registry: FlowRegistry
    store: RedisStore
    dispatcher: Dispatcher
    redis: AnyRedis
    clock: Callable[[], datetime] = utcnow
    extras: dict[str, object] = field(default_factory=dict)
    health: Health = field(default_factory=Health)


def build_services(
    settings: Settings,
    *,
    redis: AnyRedis | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Services:
    """Wire the parts together. ``redis`` may be injected (tests pass fakeredis)."""
    if settings.using_dev_secret:
        log.warning(
            "SURVEYBOT_SECRET is not set: using the local-trial secret. Set it before "
            "going live, and never change it afterwards (respondent ids depend on it)."
        )
    client = (
        redis if redis is not None else connect(settings.redis_url, settings.data_dir / "redis")
    )
    registry = FlowRegistry(settings.flows_dir)
    store = RedisStore(
        client,
        secret=settings.secret_bytes,
        keys=KeyBuilder(prefix=settings.redis_prefix),
        retention=timedelta(days=settings.retention_days),
        dedupe_window=timedelta(hours=settings.dedupe_hours),
        rate_limit=RateLimit(settings.rate_limit) if settings.rate_limit else None,
        cache_size=settings.session_cache,
    )
    dispatcher = Dispatcher(
        registry, store, clock=clock, misses=MissLog.for_store(store), audit=store.audit
    )
    return Services(settings, registry, store, dispatcher, client, clock)
