"""At-least-once in, exactly-once effects: remember which updates were seen, with an expiry.

Telegram update ids are monotonic only within a window (they can jump after a bot is idle for
a week), so a seen-set with a TTL is the right shape, not a high-water mark.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from storage import keys


async def first_time(redis: aioredis.Redis, channel: str, update_id: str | int, ttl: int) -> bool:
    """True exactly once per (channel, update_id) within `ttl` seconds."""
    return bool(await redis.set(keys.dedup(channel, update_id), "1", nx=True, ex=ttl))
