"""The webhook form parser against the ``parse_qsl`` call it replaces, and Twilio's signature over
its result: hypothesis properties, then a table of edge cases."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from adapters.twilio_common.form import MAX_FIELDS, BadRequest, parse_form
from tests.adapters.conftest import PUBLIC_URL, TWILIO_TOKEN
from tests.adapters.sms_twilio.twilio_fakes import inbound_form

Lists = dict[str, list[str]]


def reference(body: bytes, max_fields: int = MAX_FIELDS) -> Lists | str:
    """What the webhook did before form.py: the form as name -> values, or the 400's message."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=max_fields,
        )
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        return f"not a valid form: {exc}"
    lists: Lists = {}
    for name, value in pairs:
        lists.setdefault(name, []).append(value)
    return lists


def parsed(body: bytes, max_fields: int = MAX_FIELDS) -> Lists | str:
    try:
        params = parse_form(body, max_fields)
    except BadRequest as exc:
        return str(exc)
    return {name: params.getall(name) for name in params}  # names in order of first appearance


# Names and values people (and attackers) send: any text, with the characters that mean
# something in a form, and emoji, drawn often.
texts = st.lists(
    st.one_of(
        st.characters(blacklist_categories=["Cs"]),  # a lone surrogate has no UTF-8
        st.sampled_from(["&", "=", "+", "%", " ", ";", "😀", "🙏🏽", "é", "\x00", "%C3"]),
    ),
    max_size=12,
).map("".join)
pairs = st.lists(st.tuples(texts, texts), max_size=12)
# Bodies made of the characters and escapes that decide the parser's edge cases.
edgy = st.lists(
    st.sampled_from([*"a=&%+;2FCc3AE9 é", "%C3", "%A9", "%2", "%ED%A0%80", "&&", "=="])
).map("".join)


@given(pairs)
def test_any_urlencoded_form_reads_back_as_sent(form: list[tuple[str, str]]) -> None:
    body = urlencode(form).encode()
    expected: Lists = {}
    for name, value in form:
        expected.setdefault(name, []).append(value)
    assert parsed(body) == reference(body) == expected


@given(st.one_of(st.binary(max_size=64), edgy.map(str.encode)))
def test_any_body_gives_what_parse_qsl_gives(body: bytes) -> None:
    assert parsed(body) == reference(body)


@given(edgy.map(str.encode), st.integers(-1, 4))
def test_any_field_limit_is_counted_as_parse_qsl_counts(body: bytes, max_fields: int) -> None:
    assert parsed(body, max_fields) == reference(body, max_fields)


BAD = "not a valid form: "
EDGES: list[tuple[bytes, Lists | str]] = [
    (b"", {}),
    (b"a", BAD + "bad query field: 'a'"),
    (b"a=", {"a": [""]}),
    (b"=b", {"": ["b"]}),
    (b"=", {"": [""]}),
    (b"a=b=c", {"a": ["b=c"]}),
    (b"a=1&&b=2", BAD + "bad query field: ''"),
    (b"a=1&", BAD + "bad query field: ''"),
    (b"&", BAD + "bad query field: ''"),
    (b"%zz=1", {"%zz": ["1"]}),  # not an escape: kept as it is
    (b"a=%", {"a": ["%"]}),
    (b"a=%2", {"a": ["%2"]}),
    (b"a=%C3", BAD + "'utf-8' codec can't decode byte 0xc3 in position 0: unexpected end of data"),
    (b"a=%C3%A9", {"a": ["é"]}),
    (
        "a=%C3©".encode(),
        BAD + "'utf-8' codec can't decode byte 0xc3 in position 0: unexpected end of data",
    ),
    (
        b"a=%ED%A0%80",
        BAD + "'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte",
    ),
    (b"a=\xff", BAD + "'utf-8' codec can't decode byte 0xff in position 2: invalid start byte"),
    (b"a+b=c+d", {"a b": ["c d"]}),
    (b"a=%2B+%26", {"a": ["+ &"]}),
    (b"a=1;b=2", {"a": ["1;b=2"]}),  # only '&' separates
    (b"a=1&b=2&a=3", {"a": ["1", "3"], "b": ["2"]}),
    (b"&".join([b"f=1"] * MAX_FIELDS), {"f": ["1"] * MAX_FIELDS}),
    (b"&".join([b"f=1"] * (MAX_FIELDS + 1)), BAD + "Max number of fields exceeded"),
    (b"&" * MAX_FIELDS, BAD + "Max number of fields exceeded"),  # counted before they are read
]


@pytest.mark.parametrize(("body", "expected"), EDGES, ids=[repr(b[:24]) for b, _ in EDGES])
def test_edge_cases(body: bytes, expected: Lists | str) -> None:
    assert parsed(body) == reference(body) == expected


def test_params_reads_like_the_multidict_it_replaces() -> None:
    body = b"a=1&b=2&a=3"
    params, multidict = parse_form(body), ImmutableMultiDict(parse_qsl(body.decode()))
    assert {n: params.getall(n) for n in params} == {"a": ["1", "3"], "b": ["2"]}
    assert params.get("a") == multidict.get("a") == params["a"] == "3"  # the last value
    assert params.get("c") is None
    assert params.get("c", "") == ""
    assert params.getall("a") == multidict.getlist("a") == ["1", "3"]
    assert params.getall("c") == []
    assert list(params) == list(multidict) == ["a", "b"]
    assert len(params) == 2
    assert "b" in params
    assert "c" not in params
    assert dict(params) == dict(multidict) == {"a": "3", "b": "2"}
    assert [(n, v) for n in params for v in params.getall(n)] == [
        ("a", "1"),
        ("a", "3"),
        ("b", "2"),
    ]
    with pytest.raises(KeyError):
        params["c"]
    params.getall("a").append("changed")
    assert params.getall("a") == ["1", "3"], "getall gives a copy"


URL = PUBLIC_URL.rstrip("/") + "/sms/twilio"


def test_the_signature_of_a_form_is_the_one_of_its_dict() -> None:
    validator = RequestValidator(TWILIO_TOKEN)
    form = inbound_form("Hello + goodbye & 😀 100%", sid="SM" + "a" * 32, sender="+447700900123")
    params = parse_form(urlencode(form).encode())
    assert validator.compute_signature(URL, params) == validator.compute_signature(URL, form)
    assert validator.validate(URL, params, validator.compute_signature(URL, form))


@given(pairs)
def test_the_signature_of_repeated_fields_is_the_one_of_a_multidict(
    form: list[tuple[str, str]],
) -> None:
    validator = RequestValidator(TWILIO_TOKEN)
    params = parse_form(urlencode(form).encode())
    multidict: ImmutableMultiDict[str, str] = ImmutableMultiDict(form)
    assert validator.compute_signature(URL, params) == validator.compute_signature(URL, multidict)


def test_the_signature_covers_every_value_of_a_repeated_field() -> None:
    validator = RequestValidator(TWILIO_TOKEN)
    form = [("MediaUrl", "https://x/1"), ("Body", "hi"), ("MediaUrl", "https://x/0")]
    params = parse_form(urlencode(form).encode())
    signed = validator.compute_signature(URL, params)
    assert signed == validator.compute_signature(URL, ImmutableMultiDict(form))
    assert signed != validator.compute_signature(URL, dict(form))  # the dict keeps one MediaUrl
