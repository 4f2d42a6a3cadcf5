"""Count Redis round trips made through one client (tests and benchmarks).

A round trip is one command sent through ``execute_command`` (which every single command, and
EVALSHA/EVAL/SCRIPT LOAD, goes through) or one non-empty ``pipeline().execute()``. Connection
set-up (HELLO, CLIENT SETINFO) and health-check PINGs are not counted: they are not per message.

On a cluster client a pipeline whose commands live on several nodes is sent to those nodes in
parallel: it still counts as one (one round trip of waiting), as does a command the client
re-sends after a MOVED redirection (counted once, where the caller sent it).
"""

from __future__ import annotations

from typing import Any

from store.client import AnyRedis


class RoundTripCounter:
    """Instruments ``client`` in place until :meth:`close`; ``count`` is the running total."""

    def __init__(self, client: AnyRedis) -> None:
        self.count = 0
        self._client = client
        self._execute_command = client.execute_command
        self._pipeline = client.pipeline
        # Instance attributes shadow the class methods, so only this client is affected.
        setattr(client, "execute_command", self._counted_command)  # noqa: B010
        setattr(client, "pipeline", self._counted_pipeline)  # noqa: B010

    async def _counted_command(self, *args: Any, **options: Any) -> Any:
        self.count += 1
        return await self._execute_command(*args, **options)

    def _counted_pipeline(self, *args: Any, **kwargs: Any) -> Any:
        pipe = self._pipeline(*args, **kwargs)  # each client's own defaults
        execute = pipe.execute

        async def counted_execute(*args: Any, **kwargs: Any) -> list[Any]:
            if len(pipe) or getattr(pipe, "watching", False):
                self.count += 1
            return await execute(*args, **kwargs)

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
