"""What the logs kept beside the store take from it: :class:`StoreHandle`.

The delivery-failure and misses logs (``store/delivery.py``, ``store/misses.py``) live on the
store's client, key prefix and retention (``for_store``), and the store erases a person from
them (``RedisStore.erase_respondent``). They see the store through this protocol, so the store
imports the logs and the logs never import the store: no import cycle in ``store/``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from store.client import AnyRedis
from store.keys import KeyBuilder
from store.multiplex import ClusterMultiplexed, Multiplexed


class StoreHandle(Protocol):
    """The parts of a :class:`store.RedisStore` a log beside it shares."""

    @property
    def redis(self) -> AnyRedis: ...

    @property
    def keys(self) -> KeyBuilder: ...

    @property
    def retention(self) -> timedelta: ...

    @property
    def hot(self) -> Multiplexed | ClusterMultiplexed | None: ...
