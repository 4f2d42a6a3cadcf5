"""The JSON a commit writes: the session, the response's ``meta`` and each answer.

Byte for byte what pydantic's ``model_dump_json`` gives (tests/store/test_encode.py checks it
for any session), built with orjson from the models' fields: about a fifth of the CPU, which a
web process spends on every message. Fields are read from the model itself, so a field added to
:class:`~bot.models.Session` is written without a change here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from bot.models import Answer, Session

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
    return orjson.dumps(_non_default(s, "rev"), option=_OPTIONS).decode()


def meta_json(s: Session) -> bytes:
    """The response's ``meta`` (:class:`store.redis_store.ResponseMeta`, None left out)."""
    d: dict[str, Any] = {
        "flow": s.flow,
        "version": s.version,
        "channel": s.channel,
        "source": s.source,
        "lang": s.lang,
        "status": s.status,
        "started_at": s.started_at,
        "last_at": s.last_at,
        "finished_at": s.finished_at,
    }
    return orjson.dumps({k: v for k, v in d.items() if v is not None}, option=_OPTIONS)


def answer_json(a: Answer) -> bytes:
    """One answer: ``{"v": value, "t": epoch ms}`` and ``"o"`` for an "other" text."""
    d: dict[str, Any] = {"v": a.value, "t": ms(a.at)}
    if a.other is not None:
        d["o"] = a.other
    return orjson.dumps(d)


def ms(t: datetime) -> int:
    """Epoch milliseconds (a naive time is taken as UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)
