"""Pseudonymous respondent ids and the key layout."""

from __future__ import annotations

import re

import pytest
from redis.crc import key_slot

from store import KeyBuilder, normalise_address, respondent_id

SECRET = b"s3cret"


@pytest.mark.parametrize(
    "address",
    ["07700 900123", "+447700900123", "+44 (0)7700 900123", "00447700900123", " 07700900123 "],
)
def test_one_uk_mobile_written_many_ways_is_one_respondent(address: str) -> None:
    assert normalise_address("sms", address) == "+447700900123"
    assert respondent_id(SECRET, "sms", address) == respondent_id(SECRET, "sms", "+447700900123")


def test_ids_are_compact_keyed_and_channel_specific() -> None:
    rid = respondent_id(SECRET, "sms", "+447700900123")
    assert re.fullmatch(r"[a-z2-7]{26}", rid)
    assert "7700900123" not in rid
    assert rid != respondent_id(b"other", "sms", "+447700900123")
    assert rid != respondent_id(SECRET, "telegram", "+447700900123")
    assert rid == respondent_id(SECRET, "SMS", "+447700900123")
    assert respondent_id(SECRET, "sms", "+447700900124") != rid


def test_other_channels_and_odd_numbers() -> None:
    assert normalise_address("telegram", " 123456789 ") == "123456789"
    assert respondent_id(SECRET, "telegram", "123456789") == respondent_id(
        SECRET, "telegram", "123456789 "
    )
    assert normalise_address("whatsapp", "whatsapp:+447700900123") == "+447700900123"
    assert normalise_address("sms", "+1 202-555-0143") == "+12025550143"
    # Not a possible number: kept as digits, still stable.
    assert normalise_address("sms", "+999 123") == "+999123"
    assert normalise_address("web", "  cookie-abc ") == "cookie-abc"


def test_secret_is_required() -> None:
    with pytest.raises(ValueError, match="secret"):
        respondent_id(b"", "sms", "+447700900123")


def test_keys_of_one_respondent_share_a_cluster_slot() -> None:
    kb = KeyBuilder()
    rid = respondent_id(SECRET, "sms", "+447700900123")
    keys = kb.respondent_keys(rid, ["carers", "second"])
    assert keys[0] == f"sb:{{{rid}}}:s"
    assert len({key_slot(k.encode()) for k in keys}) == 1
    assert kb.response(rid, "carers") == f"sb:{{{rid}}}:r:carers"
    assert KeyBuilder(prefix="council-a").session(rid).startswith("council-a:{")


def test_index_is_sharded_across_slots() -> None:
    kb = KeyBuilder()
    rids = [respondent_id(SECRET, "sms", f"+4477009{i:05d}") for i in range(2000)]
    counts = [0] * kb.shards
    for rid in rids:
        counts[kb.shard(rid)] += 1
    assert min(counts) > 2000 / kb.shards * 0.6  # spread evenly enough
    slots = {key_slot(k.encode()) for k in kb.index_keys("carers")}
    assert len(slots) == kb.shards
    assert kb.index_for("carers", rids[0]) == f"sb:idx:carers:{kb.shard(rids[0])}"


def test_bad_prefix_or_id_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        KeyBuilder(prefix="a{b}")
    with pytest.raises(ValueError, match="prefix"):
        KeyBuilder(prefix="")
    with pytest.raises(ValueError, match="braces"):
        KeyBuilder().session("x}y")
