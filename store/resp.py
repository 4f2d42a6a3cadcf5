"""Redis' wire format for :mod:`store.multiplex`, through public APIs only.

Commands are packed by hiredis' ``pack_command`` (C, public since hiredis 2.1), with redis-py's
rules for arguments: a first word with a space is several words (``"SCRIPT LOAD"``), a
``memoryview`` or ``bytearray`` is bytes, and any other type is refused with redis-py's
``DataError``. Error replies become redis-py's public exception classes (``NOSCRIPT ...`` ->
``NoScriptError``), so callers catch the same exceptions whichever connection ran the command.
Replies themselves are parsed by ``hiredis.Reader`` in the protocol class.

Nothing here imports a private module of redis-py: an upgrade of redis-py cannot change these
bytes or these exception classes behind our back (tests/store/test_resp.py compares both with
what redis-py itself sends and raises).
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis import exceptions as e

_ERRORS: dict[str, type[e.RedisError]] = {
    "NOSCRIPT": e.NoScriptError,
    "LOADING": e.BusyLoadingError,
    "READONLY": e.ReadOnlyError,
    "OOM": e.OutOfMemoryError,
    "EXECABORT": e.ExecAbortError,
    "NOAUTH": e.AuthenticationError,
    "WRONGPASS": e.AuthenticationError,
    "NOPERM": e.NoPermissionError,
    "MOVED": e.MovedError,
    "ASK": e.AskError,
    "TRYAGAIN": e.TryAgainError,
    "CLUSTERDOWN": e.ClusterDownError,
    "CROSSSLOT": e.ClusterCrossSlotError,
    "MASTERDOWN": e.MasterDownError,
}
"""Error codes (the first word of an error reply) that redis-py raises as their own class. The
rest are ``ResponseError`` with the whole message, as redis-py raises them."""

_ERR_MESSAGES: dict[str, type[e.RedisError]] = {
    "max number of clients reached": e.ConnectionError,
    "invalid password": e.AuthenticationError,
}
"""``ERR`` replies redis-py raises as a class of their own (the ones a store command can meet)."""


def pack_command(args: tuple[Any, ...]) -> bytes:
    """One command in Redis' wire format (RESP2 array of bulk strings)."""
    first = args[0]
    if isinstance(first, str):
        if " " in first:
            args = (*first.encode().split(), *args[1:])
    elif isinstance(first, bytes | bytearray | memoryview) and b" " in bytes(first):
        args = (*bytes(first).split(), *args[1:])
    try:
        packed: bytes = hiredis.pack_command(args)
    except TypeError as exc:
        # Buffers other than bytes, rarely passed, are copied; checked only when hiredis refused
        # (looking at every argument first cost ~6 us on a commit's 40).
        if not any(isinstance(a, bytearray | memoryview) for a in args):
            raise e.DataError(str(exc)) from exc
        views: tuple[Any, ...] = tuple(
            bytes(a) if isinstance(a, bytearray | memoryview) else a for a in args
        )
        try:
            packed = hiredis.pack_command(views)
        except TypeError as again:
            raise e.DataError(str(again)) from again
    return packed


def error_from_reply(message: str) -> e.RedisError:
    """The exception redis-py raises for the error reply ``message``."""
    code, _, rest = message.partition(" ")
    cls = _ERRORS.get(code)
    if cls is not None:
        return cls(rest)
    if code == "ERR" and rest in _ERR_MESSAGES:
        return _ERR_MESSAGES[rest](rest)
    if code == "ERR":
        return e.ResponseError(rest)
    return e.ResponseError(message)
