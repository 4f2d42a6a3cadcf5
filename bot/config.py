"""Configuration from the environment (and an optional ``.env`` file), via pydantic-settings.

With nothing set, the bot starts on an embedded local Redis with the sample flows: good for a
trial, not for a live consultation (set ``SURVEYBOT_SECRET`` and ``REDIS_URL`` then).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.schema import WhatsApp

DEV_SECRET = "surveybot-local-trial-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    redis_url: str | None = Field(
        default=None, description="redis://host:6379/0; unset = embedded local Redis in data_dir"
    )
    redis_prefix: str = Field(default="sb", alias="SURVEYBOT_REDIS_PREFIX")
    secret: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        alias="SURVEYBOT_SECRET",
        description="Key for pseudonymous respondent ids (HMAC). Keep it secret and stable.",
    )
    flows_dir: Path = Field(default=Path("flows"), alias="SURVEYBOT_FLOWS")
    data_dir: Path = Field(default=Path("data"), alias="SURVEYBOT_DATA")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        alias="SURVEYBOT_PUBLIC_URL",
        description="The URL the outside world uses to reach this server (no trailing slash)",
    )
    host: str = Field(default="127.0.0.1", alias="SURVEYBOT_HOST")
    port: int = Field(default=8000, ge=1, le=65535, alias="SURVEYBOT_PORT")
    run_worker: bool = Field(
        default=False,
        alias="SURVEYBOT_WORKER",
        description="Also run the reminder worker inside each `serve` process",
    )
    retention_days: int = Field(default=400, ge=1, le=3653, alias="SURVEYBOT_RETENTION_DAYS")
    dedupe_hours: int = Field(default=48, ge=1, le=24 * 31, alias="SURVEYBOT_DEDUPE_HOURS")
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=10 * 1024 * 1024,
        alias="SURVEYBOT_MAX_BODY_BYTES",
        description="Largest request body accepted (413 above it, before any parsing)",
    )
    rate_limit: int = Field(
        default=30,
        ge=0,
        le=100_000,
        alias="SURVEYBOT_RATE_LIMIT",
        description="Most messages one sender may send a minute (0 = no limit); the first over "
        "it gets a polite reply, the rest silence",
    )
    web_requests_per_minute: int = Field(
        default=120,
        ge=0,
        le=100_000,
        alias="SURVEYBOT_WEB_REQUESTS_PER_MINUTE",
        description="Requests one client address may send the web chat a minute (0 = no limit); "
        "the rest get 429 before any work",
    )
    web_new_per_client: int = Field(
        default=20,
        ge=0,
        le=100_000,
        alias="SURVEYBOT_WEB_NEW_PER_CLIENT",
        description="Web chat sessions one client address may begin an hour (0 = no limit)",
    )
    web_new_per_minute: int = Field(
        default=300,
        ge=0,
        le=1_000_000,
        alias="SURVEYBOT_WEB_NEW_PER_MINUTE",
        description="Web chat sessions that may begin a minute, all clients and processes "
        "together (0 = no limit): what bounds Redis under a flood from many addresses",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        alias="SURVEYBOT_FORWARDED_ALLOW_IPS",
        description="Proxies trusted to say the client's address in X-Forwarded-For (comma-"
        "separated, or *); the web chat's per-client limits depend on it",
    )
    session_cache: int = Field(
        default=10_000,
        ge=0,
        le=10_000_000,
        alias="SURVEYBOT_SESSION_CACHE",
        description="Sessions each process keeps in memory to save a Redis read per answer "
        "(0 = none; always checked against Redis at commit, and used only while most of them "
        "are still current when the respondent's next message comes)",
    )

    access_log: bool = Field(
        default=False,
        alias="SURVEYBOT_ACCESS_LOG",
        description="Log one line per HTTP request (method, path with digits masked, status, "
        "ms); off by default: it costs CPU on every message and providers keep delivery logs",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        alias="SURVEYBOT_LOG_FORMAT",
        description="'text' lines, or 'json' (one object per line) for a log collector",
    )

    console: bool = Field(
        default=True,
        alias="SURVEYBOT_CONSOLE",
        description="Serve the officers' console at /console (accounts: surveybot officer add)",
    )
    console_idle_minutes: int = Field(
        default=60,
        ge=5,
        le=24 * 60,
        alias="SURVEYBOT_CONSOLE_IDLE_MINUTES",
        description="An officer's console session ends after this long without a request",
    )
    console_session_hours: int = Field(
        default=12,
        ge=1,
        le=24 * 7,
        alias="SURVEYBOT_CONSOLE_SESSION_HOURS",
        description="...and this long after signing in, whatever they do",
    )

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = Field(default=None, description="The bot's SMS number")
    twilio_messaging_service_sid: str | None = None
    sms_per_second: float = Field(default=10.0, gt=0, le=1000, alias="SURVEYBOT_SMS_PER_SECOND")

    twilio_whatsapp_from: str | None = Field(
        default=None,
        description="The bot's WhatsApp sender (+447700900000 or whatsapp:+447700900000); "
        "setting it or TWILIO_WHATSAPP_MESSAGING_SERVICE_SID turns WhatsApp on",
    )
    twilio_whatsapp_messaging_service_sid: str | None = Field(
        default=None, description="A Messaging Service holding the WhatsApp sender (MG...)"
    )
    whatsapp_per_second: float = Field(default=20.0, gt=0, alias="SURVEYBOT_WHATSAPP_PER_SECOND")
    whatsapp_buttons: bool = Field(
        default=True,
        alias="SURVEYBOT_WHATSAPP_BUTTONS",
        description="Show choices as WhatsApp buttons or a list (needs the WhatsApp sender); "
        "off = numbered text",
    )
    whatsapp_templates: WhatsApp | None = Field(
        default=None,
        alias="SURVEYBOT_WHATSAPP_TEMPLATES",
        description="JSON, the same as a flow's 'whatsapp:' block; used by flows without one",
    )

    twilio_voice_number: str | None = Field(
        default=None,
        description="The number carers call to answer by phone (printed by `surveybot link`); "
        "often the SMS number",
    )
    voice_max_turns: int = Field(
        default=80,
        ge=5,
        le=1000,
        alias="SURVEYBOT_VOICE_MAX_TURNS",
        description="Most answers (key presses or spoken replies) one call may take",
    )
    voice_max_minutes: int = Field(
        default=30,
        ge=1,
        le=240,
        alias="SURVEYBOT_VOICE_MAX_MINUTES",
        description="Longest call: after it the call ends politely, answers kept",
    )

    telegram_token: SecretStr | None = None
    telegram_secret_token: SecretStr | None = Field(
        default=None, description="Sent by Telegram in X-Telegram-Bot-Api-Secret-Token"
    )
    telegram_bot_username: str | None = None
    telegram_api_url: str | None = Field(
        default=None,
        description="A self-hosted Bot API server, e.g. http://127.0.0.1:8081/bot (default: "
        "Telegram's own)",
    )

    @property
    def whatsapp_enabled(self) -> bool:
        """Whether a WhatsApp sender is configured (replies outside a webhook answer, reminders)."""
        return bool(self.twilio_whatsapp_from or self.twilio_whatsapp_messaging_service_sid)

    @property
    def secret_bytes(self) -> bytes:
        return self.secret.get_secret_value().encode()

    @property
    def using_dev_secret(self) -> bool:
        return self.secret.get_secret_value() == DEV_SECRET
