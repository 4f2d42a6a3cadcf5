"""``POST /telegram/webhook``: check Telegram's secret token, then hand the update over."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from telegram.error import TelegramError

from adapters.services import Services
from adapters.telegram.channel import BadUpdate, TelegramChannel
from bot.errors import StoreError

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def secret_ok(services: Services, given: str | None) -> bool:
    secret = services.settings.telegram_secret_token
    if secret is None or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), secret.get_secret_value().encode("utf-8"))


def endpoint(
    services: Services, channel: TelegramChannel
) -> Callable[[Request], Awaitable[Response]]:
    async def telegram_webhook(request: Request) -> Response:
        if not secret_ok(services, request.headers.get(SECRET_HEADER)):
            if services.settings.telegram_secret_token is None:
                log.error("TELEGRAM_SECRET_TOKEN is not set: refusing every webhook call")
            return PlainTextResponse("forbidden", 403)
        body = await request.body()
        try:
            data = orjson.loads(body)  # refuses nesting deeper than 1,024 with a ValueError
        except ValueError:
            return PlainTextResponse("malformed JSON", 400)
        if not isinstance(data, dict):
            return PlainTextResponse("not a Telegram update", 400)
        try:
            update = channel.parse(data)
        except BadUpdate as exc:
            log.info("telegram webhook: %s", exc)
            return PlainTextResponse("not a Telegram update", 400)
        try:
            await channel.start()
            services.health.ok("telegram")  # Telegram answered: recovered if it was down
            handled = await channel.handle_update(update)
        except (StoreError, TelegramError) as exc:
            # Nothing was committed (or getMe failed): Telegram delivers the update again.
            log.warning("telegram update %s not handled yet: %s", update.update_id, exc)
            return PlainTextResponse(
                "temporarily unavailable, please retry", 503, headers={"Retry-After": "5"}
            )
        except Exception:
            # A shape we did not foresee: log it, and answer 200 so Telegram does not
            # re-deliver the same update for hours (a retry could not go better).
            log.exception("telegram update %s could not be handled", update.update_id)
            return Response(status_code=200)
        log.debug("telegram update %s: %s", update.update_id, handled)
        return Response(status_code=200)

    return telegram_webhook
