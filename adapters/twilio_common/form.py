"""Twilio's webhook form: a strict ``application/x-www-form-urlencoded`` parser and its result.

:func:`parse_form` gives exactly what ``parse_qsl(body.decode("utf-8"), keep_blank_values=True,
strict_parsing=True, encoding="utf-8", errors="strict", max_num_fields=max_fields)`` gives (a
hypothesis test checks this), and raises :class:`BadRequest` exactly when that raises. It is a
hand-written split/partition because it runs on every SMS: most of a Twilio form needs no
unquoting, and parse_qsl unquotes every name and value. As in CPython 3.11, ``&`` is the only
separator (``;`` is data).

:class:`Params` keeps each name's values as a list, so the twilio validator's ``getall`` is a
dict lookup rather than a filter over all pairs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from urllib.parse import unquote_plus

MAX_FIELDS = 200
"""More form fields than any Twilio webhook sends (an MMS with 10 media has about 45)."""


class BadRequest(Exception):
    """The request body is not a form we can read (400)."""


class Params(Mapping[str, str]):
    """The form, name -> values in the order sent, names in order of first appearance.

    As a mapping (``[]``, ``get``, ``items``) a repeated field gives its last value, as
    starlette's ``ImmutableMultiDict`` does; ``getall`` gives them all. ``getall`` is what
    Twilio's ``RequestValidator`` asks for first: without it, it raises and catches an
    AttributeError per field.
    """

    __slots__ = ("_lists",)

    def __init__(self, lists: dict[str, list[str]]) -> None:
        """Takes ``lists`` (non-empty lists, owned from now on) without copying."""
        self._lists = lists

    def __getitem__(self, name: str) -> str:
        return self._lists[name][-1]

    def getall(self, name: str) -> list[str]:
        """Every value of ``name`` in the order sent (a copy; ``[]`` when absent)."""
        return list(self._lists.get(name, ()))

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)


def parse_form(body: bytes, max_fields: int = MAX_FIELDS) -> Params:
    """The form in ``body``, strictly: UTF-8, ``&``-separated ``name=value`` fields (a blank value
    is kept, a field without ``=`` or an empty one is refused), at most ``max_fields`` of them,
    percent-escapes that decode as UTF-8. Raises :class:`BadRequest` otherwise."""
    try:
        text = body.decode("utf-8")
        # parse_qsl counts fields before looking at any, and counts none in an empty body.
        fields = text.split("&") if text else []
        if max_fields < len(fields):
            raise ValueError("Max number of fields exceeded")
        lists: dict[str, list[str]] = {}
        for field in fields:
            name, eq, value = field.partition("=")
            if not eq:
                raise ValueError(f"bad query field: {field!r}")
            # unquote_plus is the identity without them; this skips its calls for most fields.
            if "%" in name or "+" in name:
                name = unquote_plus(name, encoding="utf-8", errors="strict")
            if "%" in value or "+" in value:
                value = unquote_plus(value, encoding="utf-8", errors="strict")
            values = lists.get(name)
            if values is None:
                lists[name] = [value]
            else:
                values.append(value)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise BadRequest(f"not a valid form: {exc}") from None
    return Params(lists)
