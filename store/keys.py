"""Redis key layout, in one place (like aiogram's ``KeyBuilder``).

Every key starts with a prefix (default ``sb``) so several deployments can share one Redis.
Every key of one respondent carries the hash tag ``{<rid>}``, so in Redis Cluster they all live
in one slot and the commit script (which only touches those keys) is legal there.

==================================  ======  =======================================================
key                                 type    what
==================================  ======  =======================================================
``sb:{rid}:s``                      STRING  the live session: a short header (``rev``, the
                                            optimistic counter; the dedupe record: ms of the last
                                            inbound commit and 6-byte fingerprints of the last 32
                                            message ids; the rate counter) then the session as
                                            compact JSON (``store.encode``; see
                                            ``store.scripts`` for the header). One per respondent:
                                            starting another flow replaces it. TTL = the flow's
                                            ``expiry``, refreshed per commit (at least the dedupe
                                            window: a shorter session ends by a deadline in the
                                            header while its message ids stay); once finished,
                                            min(expiry, 30 days) and the raw ``address`` is dropped.
``sb:{rid}:r:<flow>``               HASH    the response to one flow: ``b`` (ms when the hash was
                                            made), meta fields ``v`` version, ``c`` channel, ``s``
                                            status, ``l`` lang, ``g`` source, ``t0``/``t1``/``tf``
                                            started/last/finished ms (defaults left out), and
                                            ``a:<qid>`` per answer (JSON ``[value, ms since b]``,
                                            ``[value, ms, other]``, or for a spoken answer
                                            ``[value, ms, other or null, confidence]``);
                                            withdrawn answers are deleted; ``m``, ``m<i>``
                                            (``m<i>.<j>``): replies not understood, when there
                                            are any (``store.misses``).
                                            TTL = retention (400 days).
``sb:{rid}:optout``                 STRING  ms time of the STOP; set when a session becomes
                                            ``opted_out``, deleted when one becomes active again.
                                            TTL = retention.
``sb:{rid}:rate``                   STRING  messages of a sender without a session (a stranger
                                            getting the menu) in the current window; a session
                                            counts its own in its header. TTL = the window.
``sb:{rid}:audit``                  STREAM  the respondent's audit entries (``store.audit``):
                                            changed answers, opt-outs...; at most 200; TTL =
                                            retention. Erased with the person. Written only
                                            when such an event happens.
``sb:flowids``                      SET     every flow any response was committed to (erasure
                                            looks for a person's responses there).
``sb:{audit:<flow>}:log``           STREAM  a flow's audit log: publishes, exports, erasures,
                                            with who; trimmed to the retention.
``sb:{audit:<flow>}:versions``      SET     versions of the flow recorded as published.
``sb:budget:web-new:<minute>``      STRING  new web chat sessions begun in that minute
                                            (``store.budget``); TTL two minutes.
``sb:idx:<flow>:<n>``               ZSET    per-flow index, ``n`` in 0..shards-1 (crc32 of rid):
                                            member rid, score = started ms, written with ZADD NX
                                            before the respondent's first commit in that flow.
``sb:qids:<flow>``                  SET     every question id of every version of the flow that
                                            served a message (so exports keep removed columns).
``sb:due:<flow>:<n>``               ZSET    reminder queue (``store.scheduler``), sharded the
                                            same way: member rid, score = ms of the next check;
                                            added with the index entry, kept by the worker.
==================================  ======  =======================================================

Written before the compact layout, and still read (a live consultation upgrades in place, each
respondent at their next message): the session as a HASH (``rev``, ``flow``, ``data`` =
pydantic's JSON), ``sb:{rid}:seen`` (ZSET of message ids scored by ms, TTL the dedupe window),
``sb:{rid}:flows`` (SET of their flows, for erasure), a response ``meta`` JSON field and answers
``{"v": value, "t": ms, "o": other?, "c": confidence?}``.

Every value of a response hash stays short (at most 64 bytes, Redis' default
``hash-max-listpack-value``, for all but long free text) so that Redis keeps the hash in its
compact listpack encoding: a few bytes per field instead of ~60.

Two logs document their own keys beside their code, by the same rules: ``store/delivery.py``
(``sb:{dlv}:...``) and ``store/misses.py`` (a respondent's misses are fields ``m``, ``m<i>`` of
their response hash, so they share its TTL and erasure; ``sb:misses:<flow>`` counts the people
logged, for the per-flow cap; the layout before kept ``sb:{rid}:m:<flow>`` lists and a sharded
index ``sb:mi:<flow>:<n>``, still read and erased).

The index is sharded so that Redis Cluster spreads one big consultation over several nodes;
readers merge the shards in (started, rid) order. An index entry whose response is missing (a
crash between the two writes, or an expired response) is skipped by readers.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

_FORBIDDEN = set("{}")


@dataclass(frozen=True)
class KeyBuilder:
    """Builds every key the store uses. ``prefix`` must not contain braces (they set the slot)."""

    prefix: str = "sb"
    shards: int = 16

    def __post_init__(self) -> None:
        if not self.prefix or _FORBIDDEN & set(self.prefix):
            raise ValueError(f"key prefix {self.prefix!r} must be non-empty and without braces")
        if not 1 <= self.shards <= 1024:
            raise ValueError("index shards must be between 1 and 1024")

    # -- one respondent (one cluster slot) --------------------------------------------------------

    def _r(self, rid: str, suffix: str) -> str:
        if "{" in rid or "}" in rid:  # (not a set intersection: this runs ~8 times a message)
            raise ValueError(f"respondent id {rid!r} must not contain braces")
        return f"{self.prefix}:{{{rid}}}:{suffix}"

    def session(self, rid: str) -> str:
        return self._r(rid, "s")

    def seen(self, rid: str) -> str:
        """Message ids as the store kept them before the compact layout (still checked)."""
        return self._r(rid, "seen")

    def response(self, rid: str, flow: str) -> str:
        return self._r(rid, f"r:{flow}")

    def flows(self, rid: str) -> str:
        """A respondent's flows as the store kept them before the flow ids set (erasure)."""
        return self._r(rid, "flows")

    def optout(self, rid: str) -> str:
        return self._r(rid, "optout")

    def rate(self, rid: str) -> str:
        return self._r(rid, "rate")

    def audit(self, rid: str) -> str:
        """The respondent's audit entries (``store.audit``), in their slot."""
        return self._r(rid, "audit")

    def respondent_keys(self, rid: str, flows: list[str]) -> list[str]:
        """Every key holding data about ``rid`` (given the flows they have responses in)."""
        return [
            self.session(rid),
            self.seen(rid),
            self.flows(rid),
            self.optout(rid),
            self.rate(rid),
            self.audit(rid),
            *(self.response(rid, f) for f in flows),
        ]

    # -- per-flow index (spread over slots) -------------------------------------------------------

    def shard(self, rid: str) -> int:
        # crc32, not hash(): it must be the same in every process.
        return zlib.crc32(rid.encode()) % self.shards

    def index(self, flow: str, shard: int) -> str:
        return f"{self.prefix}:idx:{flow}:{shard}"

    def index_for(self, flow: str, rid: str) -> str:
        return self.index(flow, self.shard(rid))

    def index_keys(self, flow: str) -> list[str]:
        return [self.index(flow, n) for n in range(self.shards)]

    # -- reminder queue (store.scheduler), sharded like the index --------------------------------

    def due(self, flow: str, shard: int) -> str:
        return f"{self.prefix}:due:{flow}:{shard}"

    def due_for(self, flow: str, rid: str) -> str:
        return self.due(flow, self.shard(rid))

    def flow_ids(self) -> str:
        """Every flow any response was committed to (erasure looks for responses there)."""
        return f"{self.prefix}:flowids"

    # -- a flow's audit log (store.audit): its own slot per flow ------------------------------

    def audit_flow(self, flow: str) -> str:
        return f"{self.prefix}:{{audit:{flow}}}:log"

    def audit_versions(self, flow: str) -> str:
        return f"{self.prefix}:{{audit:{flow}}}:versions"

    def questions(self, flow: str) -> str:
        """Every question id any served version of the flow had (exports' columns)."""
        return f"{self.prefix}:qids:{flow}"

    def pattern(self) -> str:
        """A SCAN pattern matching every key of this prefix (tests and tooling only)."""
        return f"{self.prefix}:*"


def answer_field(question_id: str) -> str:
    """The field of a response hash (``sb:{rid}:r:<flow>``) holding the answer to one question."""
    return "a:" + question_id
