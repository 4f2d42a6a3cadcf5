"""Telegram updates in, replies out. The dispatcher is the only survey logic; this module only
translates: an ``Update`` into an ``Inbound``, and ``Reply``s into messages with inline keyboards.

No survey state lives here or in python-telegram-bot (no ConversationHandler, no
arbitrary_callback_data): the session is in the store and a multi-choice keyboard carries its
own picks in its callback data, so any number of processes can serve one bot.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, UpdateType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import AIORateLimiter, Application, BaseRateLimiter
from telegram.request import BaseRequest

from adapters.services import Services
from adapters.telegram import shape
from adapters.telegram.links import chat_link, mask_id
from adapters.telegram.render import (
    AnswerPress,
    DonePress,
    KeyPress,
    Outgoing,
    Press,
    TogglePress,
    parse_press,
    picked,
    picked_labels,
    render,
    retoggle,
)
from bot.dispatch import Outcome
from bot.errors import ChannelError, ConfigError
from bot.models import Inbound, Reply, Status
from bot.prompts import question_choices
from bot.schema import MultiQuestion

log = logging.getLogger(__name__)

CHANNEL = "telegram"
EXTRAS_KEY = "telegram"
ALLOWED_UPDATES: list[str] = [
    UpdateType.MESSAGE,
    UpdateType.EDITED_MESSAGE,
    UpdateType.CALLBACK_QUERY,
    UpdateType.MY_CHAT_MEMBER,
]
"""What we ask Telegram for (channel posts and the rest are never sent, and ignored if they are)."""

GROUP_TEXT = (
    "This survey works in a private chat with me, so your answers stay private. "
    "Open {link} and press Start."
)
GROUP_BUTTON = "Open a private chat"

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?\Z", re.DOTALL)

Handled = Literal[
    "answered",
    "duplicate",
    "toggled",
    "group",
    "opted_out",
    "ignored",
]


class BadUpdate(ChannelError):
    """The body is JSON but not a Telegram Update."""


class TelegramSendError(ChannelError):
    """A send failed. ``retryable``: whether trying again later may work (the reminder worker
    gives up at once otherwise)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class SendResult:
    """What :meth:`TelegramChannel.deliver` did: messages sent, and whether the person turned
    out to have blocked the bot (then recorded as their STOP)."""

    sent: int = 0
    opted_out: bool = False


class _RedactToken(logging.Filter):
    """httpx logs every request URL at INFO, and PTB's URLs hold the bot token
    (``https://api.telegram.org/bot<token>/sendMessage``): keep the token out of the logs."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.token in text:
            record.msg, record.args = text.replace(self.token, "<TELEGRAM_TOKEN>"), ()
        return True


class _NoPayloads(logging.Filter):
    """PTB logs every Bot API call's parameters and result at DEBUG: the chat id, the person's
    name and their words. Keep the endpoint, drop the payload (no chat id in any log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if isinstance(msg, str) and "Bot API endpoint" in msg and isinstance(record.args, tuple):
            record.msg = msg.split(" with ", 1)[0] + " (payload not logged)"
            record.args = record.args[:1]
        return True


def _redact_token_in_logs(token: str) -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactToken) and f.token == token for f in logger.filters):
        logger.addFilter(_RedactToken(token))
    for name in ("telegram.Bot", "telegram.ext.ExtBot"):  # PTB's Bot and ExtBot loggers
        bot_logger = logging.getLogger(name)
        if not any(isinstance(f, _NoPayloads) for f in bot_logger.filters):
            bot_logger.addFilter(_NoPayloads())


def _lang(code: str | None) -> str | None:
    return code.split("-")[0].lower() if code else None


def _chat_id(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


class TelegramChannel:
    """The bot: a python-telegram-bot ``Application`` without an Updater, with Telegram's flood
    limits respected by PTB's ``AIORateLimiter``. ``start``/``stop`` belong in the app's lifespan.

    ``request`` replaces PTB's HTTP client (tests pass a fake that records what was sent).
    """

    def __init__(
        self,
        services: Services,
        *,
        request: BaseRequest | None = None,
        rate_limiter: BaseRateLimiter[Any] | None = None,
    ) -> None:
        token = services.settings.telegram_token
        if token is None:
            raise ConfigError("TELEGRAM_TOKEN is not set: the Telegram channel is off")
        self.services = services
        _redact_token_in_logs(token.get_secret_value())
        builder = (
            Application.builder()
            .token(token.get_secret_value())
            .updater(None)
            .rate_limiter(rate_limiter or AIORateLimiter(max_retries=1))
        )
        api = services.settings.telegram_api_url
        if api:
            builder = builder.base_url(api.rstrip("/"))
        if request is not None:
            builder = builder.request(request).get_updates_request(request)
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self._started = False
        self._lock = asyncio.Lock()
        services.extras.setdefault(EXTRAS_KEY, self)

    @classmethod
    def of(cls, services: Services, *, request: BaseRequest | None = None) -> TelegramChannel:
        """The process's channel for these services (made on first use)."""
        found = services.extras.get(EXTRAS_KEY)
        if isinstance(found, TelegramChannel):
            return found
        return cls(services, request=request)

    @property
    def bot(self) -> Bot:
        bot: Bot = self.application.bot
        return bot

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Initialise the Application (one ``getMe`` call, which also checks the token)."""
        async with self._lock:
            if not self._started:
                await self.application.initialize()
                self._started = True

    async def stop(self) -> None:
        async with self._lock:
            if self._started:
                await self.application.shutdown()
                self._started = False

    @property
    def username(self) -> str:
        configured = self.services.settings.telegram_bot_username
        return (configured or self.bot.username).removeprefix("@")

    async def set_webhook(self, url: str | None = None) -> bool:
        """Point Telegram at ``<public url>/telegram/webhook`` with our secret token."""
        settings = self.services.settings
        secret = settings.telegram_secret_token
        if secret is None or not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret.get_secret_value()):
            raise ConfigError(
                "TELEGRAM_SECRET_TOKEN must be set to 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        url = url or settings.public_url.rstrip("/") + "/telegram/webhook"
        if not url.startswith("https://"):
            raise ConfigError(f"Telegram only calls https:// webhooks, not {url}")
        await self.start()
        return await self.bot.set_webhook(
            url, secret_token=secret.get_secret_value(), allowed_updates=ALLOWED_UPDATES
        )

    async def delete_webhook(self) -> bool:
        await self.start()
        return await self.bot.delete_webhook(drop_pending_updates=False)

    # -- inbound ---------------------------------------------------------------------------

    def parse(self, data: Mapping[str, Any]) -> Update:
        """An ``Update`` from its JSON, or :class:`BadUpdate`."""
        if not isinstance(data, Mapping) or not isinstance(data.get("update_id"), int):
            raise BadUpdate("not a Telegram update (no integer update_id)")
        try:
            shape.check(data)
            return Update.de_json(dict(data), self.bot)
        except Exception as exc:  # pydantic, or PTB's KeyError/TypeError/ValueError
            raise BadUpdate(f"not a Telegram update: {str(exc)[:300]}") from exc

    async def handle_update(self, update: Update) -> Handled:
        """Act on one update. Raises :class:`bot.errors.StoreError` when nothing could be stored
        (the webhook then answers 503 and Telegram delivers the update again)."""
        if update.channel_post or update.edited_channel_post:
            return "ignored"
        if update.callback_query is not None:
            return await self._on_callback(update.update_id, update.callback_query)
        if update.my_chat_member is not None:
            member = update.my_chat_member
            if (
                member.chat.type == ChatType.PRIVATE
                and member.new_chat_member.status == ChatMemberStatus.BANNED
            ):
                return await self._blocked(str(member.chat.id), update.update_id)
            return "ignored"
        msg = update.message or update.edited_message
        if msg is None:
            return "ignored"
        if msg.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
            if update.message is not None and self._addressed(msg):
                await self._tell_group(msg)
                return "group"
            return "ignored"
        if msg.chat.type != ChatType.PRIVATE or (msg.from_user and msg.from_user.is_bot):
            return "ignored"
        address = str(msg.chat.id)
        lang = _lang(msg.from_user.language_code if msg.from_user else None)
        base = {"channel": CHANNEL, "address": address, "message_id": f"tg:{update.update_id}"}
        if update.edited_message is not None or msg.text is None:
            inbound = Inbound(**base, kind="unsupported", lang=lang)
        else:
            inbound = self._text_inbound(msg.text, base, lang)
        return await self._dispatch(inbound)

    async def _blocked(self, address: str, update_id: int) -> Handled:
        done = await self.opt_out(address, f"tg:{update_id}")
        return "opted_out" if done else "ignored"

    def _text_inbound(self, text: str, base: dict[str, Any], lang: str | None) -> Inbound:
        m = _COMMAND.match(text.strip())
        if m is None:
            return Inbound(**base, text=text, lang=lang)
        command, args = m.group(1).lower(), (m.group(3) or "").strip()
        if command == "start":
            # "/start carers-strategy-harborough-carers" from a deep link, or a bare /start.
            return Inbound(**base, kind="start", text=args, lang=lang)
        # /stop, /help, /restart... read as the words people may also type.
        return Inbound(**base, text=f"{command} {args}".strip(), lang=lang)

    async def _dispatch(self, inbound: Inbound) -> Handled:
        outcome = await self.services.dispatcher.handle(inbound)
        # A duplicate (Telegram delivering an update again when our answer did not reach it)
        # has no step; its replies are the current question again, or none.
        await self._reply(inbound.address, outcome)
        return "duplicate" if outcome.duplicate else "answered"

    async def _reply(self, address: str, outcome: Outcome) -> None:
        lang = outcome.session.lang if outcome.session is not None else None
        try:
            await self.deliver(address, outcome.replies, lang)
        except ChannelError as exc:
            # Already committed: answering 500 would only make Telegram deliver a duplicate.
            log.warning("telegram reply to %s not sent: %s", mask_id(address), exc)

    # -- buttons ---------------------------------------------------------------------------

    async def _on_callback(self, update_id: int, query: CallbackQuery) -> Handled:
        msg = query.message
        chat = msg.chat if msg is not None else None
        answered = False

        async def answer() -> None:
            nonlocal answered
            if not answered:
                answered = True
                try:
                    await self.bot.answer_callback_query(query.id)
                except TelegramError as exc:  # too old, or already answered on a redelivery
                    log.info("callback query not answered: %s", exc)

        try:
            if chat is not None and chat.type != ChatType.PRIVATE:
                return "ignored"
            address = str(chat.id if chat is not None else query.from_user.id)
            data = query.data or ""
            press = parse_press(data)
            message = msg if isinstance(msg, Message) else None
            if isinstance(press, TogglePress):
                await answer()
                await self._toggle(message, press)
                return "toggled"
            inbound = await self._press_inbound(press, address, update_id, query)
            if inbound is None:
                return "ignored"
            outcome = await self.services.dispatcher.handle(inbound)
            await answer()
            if not outcome.duplicate and press is not None and not isinstance(press, KeyPress):
                await self._mark_answered(message, press, data, outcome)
            await self._reply(address, outcome)  # a duplicate: the current question, or none
            return "duplicate" if outcome.duplicate else "answered"
        finally:
            await answer()

    async def _press_inbound(
        self, press: Press | None, address: str, update_id: int, query: CallbackQuery
    ) -> Inbound | None:
        base = {
            "channel": CHANNEL,
            "address": address,
            "message_id": f"tg:{update_id}",
            "lang": _lang(query.from_user.language_code),
        }
        if isinstance(press, AnswerPress):
            return Inbound(**base, kind="button", question=press.question, text=press.value)
        if isinstance(press, DonePress):
            values = await self._multi_values(address, press)
            return Inbound(**base, kind="button", question=press.question, text=",".join(values))
        if isinstance(press, KeyPress):
            return Inbound(**base, text=press.key)
        return None

    async def _multi_values(self, address: str, press: DonePress) -> list[str]:
        """Choice ids for the picks in a Done press, from the flow of the person's session.
        Anything that does not fit yields no picks: the engine then re-asks."""
        store = self.services.store
        loaded = await store.load(store.respondent(CHANNEL, address))
        session = loaded.session
        flow = self.services.registry.get(session.flow) if session is not None else None
        q = flow.question(press.question) if flow is not None else None
        if not isinstance(q, MultiQuestion):
            return []
        choices = question_choices(q, "en")
        return [choices[i].value for i in picked(press.mask, len(choices))]

    async def _toggle(self, message: Message | None, press: TogglePress) -> None:
        if message is None or message.reply_markup is None:
            return  # too old to edit: typing the numbers still works
        markup = retoggle(message.reply_markup, press.question, press.new_mask)
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=message.message_id, reply_markup=markup
            )
        except BadRequest as exc:  # "message is not modified" on a repeated press
            log.info("keyboard not edited: %s", exc)

    async def _mark_answered(
        self, message: Message | None, press: Press, data: str, outcome: Outcome
    ) -> None:
        """Once the engine recorded the answer, show it under the question and drop the buttons,
        so the chat reads like a conversation and old buttons are not pressed by mistake."""
        if message is None or message.text is None or outcome.step is None:
            return
        qid = press.question if isinstance(press, AnswerPress | DonePress) else None
        if not any(a.question == qid for a in outcome.step.answers):
            return
        labels = picked_labels(message.reply_markup, press, data)
        text = message.text + ("\n\n✓ " + ", ".join(labels) if labels else "")
        try:
            await self.bot.edit_message_text(
                text[:4096],
                chat_id=message.chat.id,
                message_id=message.message_id,
                reply_markup=None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except TelegramError as exc:
            log.info("answered question not marked: %s", exc)

    # -- groups ----------------------------------------------------------------------------

    def _addressed(self, msg: Message) -> bool:
        """Group messages meant for the bot: a command, a mention, a reply to the bot, or the bot
        being added. (With privacy mode on, Telegram sends bots little else.)"""
        me = self.bot.bot
        if any(u.id == me.id for u in msg.new_chat_members or ()) or msg.group_chat_created:
            return True
        text = msg.text or msg.caption or ""
        if text.startswith("/"):
            m = _COMMAND.match(text.strip())
            return m is not None and (
                m.group(2) is None or m.group(2).lower() == self.username.lower()
            )
        if f"@{self.username}".lower() in text.lower():
            return True
        reply_to = msg.reply_to_message
        return bool(reply_to and reply_to.from_user and reply_to.from_user.id == me.id)

    async def _tell_group(self, msg: Message) -> None:
        m = _COMMAND.match((msg.text or "").strip())
        payload = (m.group(3) or "").strip() if m and m.group(1).lower() == "start" else None
        link = chat_link(self.username, payload)
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(GROUP_BUTTON, url=link)]])
        try:
            await self.bot.send_message(
                msg.chat.id,
                GROUP_TEXT.format(link=link),
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                message_thread_id=msg.message_thread_id if msg.is_topic_message else None,
            )
        except TelegramError as exc:
            log.info("group %s not told: %s", mask_id(msg.chat.id), exc)

    # -- outbound --------------------------------------------------------------------------

    async def deliver(
        self, chat_id: str, replies: Sequence[Reply], lang: str | None = None
    ) -> SendResult:
        """Send a step's replies. A person who blocked the bot is opted out (Forbidden) and the
        result says so; any other failure raises :class:`TelegramSendError`."""
        if not replies:
            return SendResult()
        sent = 0
        try:
            await self.start()  # Telegram unreachable since start-up: a retryable send error
            for m in render(replies, lang):
                await self._send(chat_id, m)
                sent += 1
        except Forbidden as exc:
            log.info("telegram chat %s blocked the bot: opting out (%s)", mask_id(chat_id), exc)
            await self.opt_out(chat_id)
            return SendResult(sent, opted_out=True)
        except TelegramError as exc:
            # A refused request (chat not found, bad text) will be refused again; a network
            # problem, a timeout or a flood wait may pass.
            raise TelegramSendError(
                f"telegram send to {mask_id(chat_id)} failed: {exc}",
                retryable=not isinstance(exc, BadRequest),
            ) from exc
        return SendResult(sent)

    async def _send(self, chat_id: str, m: Outgoing) -> None:
        await self.bot.send_message(
            _chat_id(chat_id),
            m.text,
            reply_markup=m.markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    async def opt_out(self, chat_id: str, message_id: str | None = None) -> bool:
        """They blocked the bot: a synthetic STOP through the dispatcher (its reply is not sent;
        it could not be). Only a survey still under way needs it (its reminders would fail); a
        finished one keeps its status, which the engine would overwrite with opted_out."""
        store = self.services.store
        loaded = await store.load(store.respondent(CHANNEL, chat_id))
        if loaded.session is None or loaded.session.status is not Status.ACTIVE:
            return False
        await self.services.dispatcher.handle(
            Inbound(channel=CHANNEL, address=chat_id, text="STOP", message_id=message_id)
        )
        return True


class TelegramSender:
    """Outbound messages (reminders, closing notes) with the same rendering as replies."""

    def __init__(
        self,
        services: Services,
        *,
        channel: TelegramChannel | None = None,
        request: BaseRequest | None = None,
    ) -> None:
        self.channel = channel or TelegramChannel.of(services, request=request)

    async def send(
        self, chat_id: str, replies: list[Reply], *, lang: str | None = None
    ) -> SendResult:
        """Raises :class:`TelegramSendError` (a ChannelError, with ``retryable``) on failure; a
        blocked bot is not a failure: the person is opted out and ``opted_out`` is set."""
        return await self.channel.deliver(chat_id, replies, lang)

    async def close(self) -> None:
        await self.channel.stop()
