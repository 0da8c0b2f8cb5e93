"""Messages held back during someone's quiet hours, sent (under the same outbox key) when they end.

A sorted set in Redis (score = when the quiet hours end); the scheduler leader moves what is due
into the outbox on each tick. The outbox key keeps a message from going twice, whoever moves it.
"""

from __future__ import annotations

import json
from datetime import datetime

import redis.asyncio as aioredis

from outbox.codec import decode, encode
from outbox.types import OutboundMessage
from storage import keys


def entry(message: OutboundMessage, key: str) -> str:
    return json.dumps({"k": key, "m": encode(message)}, ensure_ascii=False)


async def hold(redis: aioredis.Redis, entries: dict[str, float]) -> None:
    """Hold `entry(...) -> unix time to send` items."""
    if entries:
        await redis.zadd(keys.scheduler_deferred(), entries, nx=True)


async def due(
    redis: aioredis.Redis, now: datetime, limit: int = 1000
) -> tuple[list[str], list[tuple[OutboundMessage, str]]]:
    raw = await redis.zrangebyscore(keys.scheduler_deferred(), "-inf", now.timestamp(), start=0, num=limit)
    pairs = []
    for item in raw:
        data = json.loads(item)
        pairs.append((decode(data["m"]), data["k"]))
    return raw, pairs


async def done(redis: aioredis.Redis, raw: list[str]) -> None:
    if raw:
        await redis.zrem(keys.scheduler_deferred(), *raw)


async def erase(redis: aioredis.Redis, user_key: str) -> None:
    """Drop anything held back for this person (on /delete)."""
    stale = []
    async for item, _score in redis.zscan_iter(keys.scheduler_deferred()):
        if json.loads(item)["k"].endswith(f":{user_key}"):
            stale.append(item)
    if stale:
        await redis.zrem(keys.scheduler_deferred(), *stale)
