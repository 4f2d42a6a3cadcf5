"""The JSON a commit writes (the session, the response's ``meta``, each answer) and time units.

Byte for byte what pydantic's ``model_dump_json`` gives (tests/store/test_encode.py checks it
for any session), built with orjson from the models' fields: about a fifth of the CPU, which a
web process spends on every message. Fields are read from the model itself, so a field added to
:class:`~bot.models.Session` is written without a change here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from bot.errors import UnstorableValue
from bot.models import Answer, Session, Status

_OPTIONS = orjson.OPT_UTC_Z  # UTC as "...Z", as pydantic writes it
_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}
_NO_DEFAULT = object()


def _defaults(cls: type[BaseModel]) -> dict[str, Any]:
    found = _DEFAULTS.get(cls)
    if found is None:
        found = {}
        for name, info in cls.model_fields.items():
            if info.default_factory is not None:
                found[name] = info.get_default(call_default_factory=True)
            elif info.default is not PydanticUndefined:
                found[name] = info.default
            else:
                found[name] = _NO_DEFAULT
        _DEFAULTS[cls] = found
    return found


def _non_default(model: BaseModel, skip: str | None = None) -> dict[str, Any]:
    """The fields ``exclude_defaults=True`` keeps, nested models likewise."""
    defaults = _defaults(type(model))
    out: dict[str, Any] = {}
    for name, value in model.__dict__.items():
        if name == skip:
            continue
        default = defaults.get(name, _NO_DEFAULT)
        if default is not _NO_DEFAULT and value == default:
            continue
        out[name] = _non_default(value) if isinstance(value, BaseModel) else value
    return out


def session_json(s: Session) -> str:
    """``s.model_dump_json(exclude_defaults=True, exclude={"rev"})``."""
    return _dumps(_non_default(s, "rev"), _OPTIONS).decode()


def _dumps(value: Any, option: int | None = None) -> bytes:
    """orjson, with its refusal of an unwritable value (an integer past 64 bits, which the
    answer parsers bound well before) as :class:`UnstorableValue`: never a 500."""
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError as exc:
        raise UnstorableValue(f"a value cannot be stored: {exc}") from exc


class ResponseMeta(BaseModel):
    """The ``meta`` field of a response hash: the session's fields of these names."""

    flow: str
    version: str
    channel: str
    source: str | None = None
    lang: str = "en"
    status: Status = Status.ACTIVE
    started_at: datetime
    last_at: datetime
    finished_at: datetime | None = None


_META_FIELDS = tuple(ResponseMeta.model_fields)


def meta_json(s: Session) -> bytes:
    """``ResponseMeta`` of ``s`` as ``model_dump_json(exclude_none=True)`` writes it."""
    d = {name: getattr(s, name) for name in _META_FIELDS}
    return _dumps({k: v for k, v in d.items() if v is not None}, _OPTIONS)


def answer_json(a: Answer) -> bytes:
    """One answer: ``{"v": value, "t": epoch ms}``, ``"o"`` for an "other" text and ``"c"`` for
    the confidence of a spoken one."""
    d: dict[str, Any] = {"v": a.value, "t": ms(a.at)}
    if a.other is not None:
        d["o"] = a.other
    if a.confidence is not None:  # spoken: speech recognition's confidence in the words
        d["c"] = a.confidence
    return _dumps(d)


def ms(t: datetime) -> int:
    """Epoch milliseconds (a naive time is taken as UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def ttl_ms(d: timedelta) -> int:
    """A duration as a Redis TTL in milliseconds (at least 1: 0 would mean "no expiry")."""
    return max(1, int(d.total_seconds() * 1000))
