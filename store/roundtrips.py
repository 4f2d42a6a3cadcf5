"""Count Redis round trips made through one client (tests and benchmarks).

A round trip is one command sent through ``execute_command`` (which every single command, and
EVALSHA/EVAL/SCRIPT LOAD, goes through) or one non-empty ``pipeline().execute()``. Connection
set-up (HELLO, CLIENT SETINFO) and health-check PINGs are not counted: they are not per message.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline


class RoundTripCounter:
    """Instruments ``client`` in place until :meth:`close`; ``count`` is the running total."""

    def __init__(self, client: Redis) -> None:
        self.count = 0
        self._client = client
        self._execute_command = client.execute_command
        self._pipeline = client.pipeline
        # Instance attributes shadow the class methods, so only this client is affected.
        setattr(client, "execute_command", self._counted_command)  # noqa: B010
        setattr(client, "pipeline", self._counted_pipeline)  # noqa: B010

    async def _counted_command(self, *args: Any, **options: Any) -> Any:
        self.count += 1
        return await self._execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def _counted_pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        pipe = self._pipeline(transaction=transaction, shard_hint=shard_hint)
        execute = pipe.execute

        async def counted_execute(raise_on_error: bool = True) -> list[Any]:
            if pipe.command_stack or pipe.watching:
                self.count += 1
            return await execute(raise_on_error=raise_on_error)

        setattr(pipe, "execute", counted_execute)  # noqa: B010
        return pipe

    def take(self) -> int:
        """The count so far, resetting it to zero."""
        n, self.count = self.count, 0
        return n

    def close(self) -> None:
        for name in ("execute_command", "pipeline"):
            self._client.__dict__.pop(name, None)

    def __enter__(self) -> RoundTripCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
