"""Redis key layout, in one place (like aiogram's ``KeyBuilder``).

Every key starts with a prefix (default ``sb``) so several deployments can share one Redis.
Every key of one respondent carries the hash tag ``{<rid>}``, so in Redis Cluster they all live
in one slot and the commit script (which only touches those keys) is legal there.

==================================  ======  =======================================================
key                                 type    what
==================================  ======  =======================================================
``sb:{rid}:s``                      HASH    the live session: ``rev`` (optimistic counter),
                                            ``flow``, ``data`` (compact JSON of ``Session`` without
                                            ``rev``). One per respondent: starting another flow
                                            replaces it. TTL = the flow's ``expiry``, refreshed
                                            per commit; once finished, min(expiry, 30 days) and the
                                            raw ``address`` is dropped from ``data``.
``sb:{rid}:seen``                   ZSET    inbound message ids scored by ms; entries older than
                                            the dedupe window (2 days) are trimmed by each commit;
                                            TTL = the window.
``sb:{rid}:r:<flow>``               HASH    the response to one flow: ``meta`` (JSON: version,
                                            channel, source, lang, status, started_at, last_at,
                                            finished_at) and ``a:<qid>`` per answer (JSON
                                            ``{"v": value, "t": ms, "o": other?}``); withdrawn
                                            answers are deleted. TTL = retention (400 days).
``sb:{rid}:flows``                  SET     flow ids this respondent has responses in (erasure).
                                            TTL = retention.
``sb:{rid}:optout``                 STRING  ms time of the STOP; set when a session becomes
                                            ``opted_out``, deleted when one becomes active again.
                                            TTL = retention.
``sb:{rid}:rate``                   STRING  messages counted against the per-sender limit in the
                                            current window; TTL = the window (a minute).
``sb:{rid}:audit``                  STREAM  the respondent's audit entries (``store.audit``):
                                            changed answers, opt-outs...; at most 200; TTL =
                                            retention. Erased with the person.
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

Answers use epoch milliseconds (not ISO text) because a response hash holds dozens of them:
short values keep small hashes in Redis' compact listpack encoding.

Two logs document their own keys beside their code, by the same rules: ``store/delivery.py``
(``sb:{dlv}:...``) and ``store/misses.py`` (``sb:{rid}:m:<flow>`` in the respondent's slot, erased
with them, and the sharded index ``sb:mi:<flow>:<n>``).

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
        return self._r(rid, "seen")

    def response(self, rid: str, flow: str) -> str:
        return self._r(rid, f"r:{flow}")

    def flows(self, rid: str) -> str:
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
