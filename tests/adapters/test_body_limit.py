"""The request body limit is a setting: over it, 413 before any parsing, nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.app import MAX_BODY_BYTES, create_app
from adapters.services import Services
from bot.config import Settings


def test_the_default_is_64_kilobytes(settings: Settings) -> None:
    assert settings.max_body_bytes == MAX_BODY_BYTES == 64 * 1024


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
async def test_a_configured_limit_is_enforced(
    settings: Settings, services: Services, chunked: bool
) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})
    app = create_app(small, services=services, refresh_flows=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def body(n: int) -> httpx.Response:
            data = b"Body=" + b"x" * (n - 5)

            async def parts() -> AsyncIterator[bytes]:  # no Content-Length: sent in chunks
                yield data[:1000]
                yield data[1000:]

            content = parts() if chunked else data
            return await client.post(
                "/sms/twilio",
                content=content,
                # (a signature, so that the handler reads the body at all)
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": "bm90LWEtc2lnbmF0dXJl",
                },
            )

        assert (await body(3000)).status_code == 413
        assert (await body(1500)).status_code == 403  # within the limit: on to the signature
    assert await services.redis.keys("*") == []
