"""Count Redis round trips made through some clients (tests and benchmarks).

A round trip is one command sent through ``execute_command`` (which every single command, and
EVALSHA/EVAL/SCRIPT LOAD, goes through), one non-empty ``pipeline().execute()``, or one
non-empty ``execute_many`` of a :class:`store.multiplex.Multiplexed`. A store's ``hot`` client
carries its per-message commands: count through ``RoundTripCounter(client, store.hot)`` (a
cluster's ``hot`` sends its batches through the cluster client: counted as that client's).
Connection set-up (HELLO, CLIENT SETINFO) and health-check PINGs are not counted.

On a cluster client a pipeline whose commands live on several nodes is sent to those nodes in
parallel: it still counts as one (one round trip of waiting), as does a command the client
re-sends after a MOVED redirection (counted once, where the caller sent it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from store.client import AnyRedis
from store.multiplex import ClusterMultiplexed, Multiplexed


class RoundTripCounter:
    """Instruments the clients in place until :meth:`close` (None is ignored, so a store's
    ``hot`` may be passed as is); ``count`` is the running total."""

    def __init__(self, *clients: AnyRedis | Multiplexed | ClusterMultiplexed | None) -> None:
        self.count = 0
        self._clients = [c for c in clients if c is not None]
        # Instance attributes shadow the class methods, so only these clients are affected.
        for client in self._clients:
            setattr(client, "execute_command", self._command(client.execute_command))  # noqa: B010
            if isinstance(client, Multiplexed):
                setattr(client, "execute_many", self._many(client.execute_many))  # noqa: B010
            elif isinstance(client, ClusterMultiplexed):
                pass  # its batches are its cluster client's pipelines (counted there)
            else:
                setattr(client, "pipeline", self._pipeline(client.pipeline))  # noqa: B010

    def _command(self, execute: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(*args: Any, **options: Any) -> Any:
            self.count += 1
            return await execute(*args, **options)

        return counted

    def _many(self, execute: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(commands: Sequence[Any]) -> Any:
            if commands:
                self.count += 1
            return await execute(commands)

        return counted

    def _pipeline(self, make: Callable[..., Any]) -> Callable[..., Any]:
        def counted_pipeline(*args: Any, **kwargs: Any) -> Any:
            pipe = make(*args, **kwargs)  # each client's own defaults
            execute = pipe.execute

            async def counted_execute(*args: Any, **kwargs: Any) -> Any:
                if len(pipe) or getattr(pipe, "watching", False):
                    self.count += 1
                return await execute(*args, **kwargs)

            setattr(pipe, "execute", counted_execute)  # noqa: B010
            return pipe

        return counted_pipeline

    def take(self) -> int:
        """The count so far, resetting it to zero."""
        n, self.count = self.count, 0
        return n

    def close(self) -> None:
        for client in self._clients:
            for name in ("execute_command", "pipeline", "execute_many"):
                client.__dict__.pop(name, None)

    def __enter__(self) -> RoundTripCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
