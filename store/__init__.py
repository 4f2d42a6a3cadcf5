"""The session store: Redis keys, the atomic commit, dedupe, erasure and exports' raw reads.

See :mod:`store.keys` for the key layout and :mod:`store.redis_store` for the commit protocol.
"""

from store.client import connect
from store.embedded import EmbeddedRedis, embedded_url
from store.identity import normalise_address, respondent_id
from store.keys import KeyBuilder
from store.redis_store import (
    DuplicateMessage,
    Loaded,
    RateLimit,
    RedisStore,
    Response,
    ResponseMeta,
)

__all__ = [
    "DuplicateMessage",
    "EmbeddedRedis",
    "KeyBuilder",
    "Loaded",
    "RateLimit",
    "RedisStore",
    "Response",
    "ResponseMeta",
    "connect",
    "embedded_url",
    "normalise_address",
    "respondent_id",
]
