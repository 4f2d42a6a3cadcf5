"""Content resources for WhatsApp buttons: made once through Twilio's Content API, then reused.

A message with buttons or a list is sent as a Content resource (``ContentSid`` ``HX...``) with
the message text as its variable ``{{1}}``. Each distinct set of buttons (a question's choices in
one language) needs one resource: :class:`ContentCache` creates it on first use with
``client.content.v1.contents.create`` and remembers its sid in this process and in Redis
(``<prefix>:wa:content:<digest>``, no expiry: a resource never changes), so other processes and
restarts reuse it. Two processes creating the same one at once leave one unused resource behind,
which costs nothing. Session messages with up to three quick replies or a list need no approval
from WhatsApp.
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from adapters.whatsapp_twilio.render import Buttons
from store.client import AnyRedis

log = logging.getLogger(__name__)

NAME_PREFIX = "surveybot_"


class ContentCache:
    """ContentSid per button set, created through the Content API when first needed."""

    def __init__(self, client: Client, redis: AnyRedis | None, prefix: str) -> None:
        self.client = client
        self.redis = redis
        self.prefix = prefix
        self._known: dict[str, str] = {}
        self._making: dict[str, asyncio.Future[str]] = {}

    def key(self, digest: str) -> str:
        return f"{self.prefix}:wa:content:{digest}"

    async def sid(self, message: Buttons) -> str:
        """The ContentSid for ``message``'s buttons. Raises what the Twilio client raises when
        the resource cannot be created (the caller then sends numbered text)."""
        digest = message.digest()
        known = self._known.get(digest)
        if known is not None:
            return known
        pending = self._making.get(digest)
        if pending is not None:  # another request of this process is creating it
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._making[digest] = future
        try:
            sid = await self._stored(digest) or await self._create(message, digest)
            self._known[digest] = sid
            future.set_result(sid)
            return sid
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when no one waits
            raise
        finally:
            del self._making[digest]

    async def _stored(self, digest: str) -> str | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(self.key(digest))
        except (RedisError, OSError) as exc:  # Redis away: make one (it is only a cache)
            log.warning("content cache unreadable, creating the content again: %s", exc)
            return None
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def _create(self, message: Buttons, digest: str) -> str:
        request = ContentList.ContentCreateRequest(
            {
                "friendly_name": NAME_PREFIX + digest[:24],
                "language": message.lang,
                "variables": {"1": "Question"},
                **message.definition(),
            }
        )
        api = self.client.content.v1.contents
        if self.client.http_client.is_async:
            created = await api.create_async(request)
        else:
            created = await asyncio.to_thread(api.create, request)
        sid = str(created.sid)
        log.info("created WhatsApp %s content %s", message.kind, sid)
        if self.redis is not None:
            try:
                await self.redis.set(self.key(digest), sid, nx=True)
            except (RedisError, OSError) as exc:
                log.warning("content cache not written: %s", exc)
        return sid
