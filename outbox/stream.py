"""The durable outbox: one Redis Stream per priority lane, shared by a consumer group.

Enqueue is idempotent per key, the way arq's `enqueue_job` is (`SET NX` on the key, then the
append, atomically): here a short Lua script does both in one round trip, so a producer that
replays after a crash queues nothing twice. Producers that already hold a MULTI (the case
service writes a case and its alert together) add the same two commands to their transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from outbox.codec import encode
from outbox.types import OutboundMessage, Priority
from storage import keys

IDEMPOTENCY_TTL_S = 14 * 86_400
LANES = tuple(int(p) for p in sorted(Priority))

_ENQUEUE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], '*', 'm', ARGV[3], 'k', ARGV[4])
end
return false
"""


def entry_fields(message: OutboundMessage, key: str) -> dict[str, str]:
    return {"m": encode(message), "k": key}


class RedisOutbox:
    """`outbox.types.Outbox` on Redis Streams. Delivery is done by `outbox.consumer.OutboxConsumer`."""

    def __init__(self, redis: aioredis.Redis, *, idempotency_ttl_s: int = IDEMPOTENCY_TTL_S) -> None:
        self.redis = redis
        self.ttl = idempotency_ttl_s
        self._script = redis.register_script(_ENQUEUE)

    async def enqueue(self, message: OutboundMessage, *, key: str) -> bool:
        """Queue `message` once per `key`; False if that key was already queued."""
        result = await self._script(
            keys=[keys.outbox_idempotency(key), keys.outbox_lane(int(message.priority))],
            args=["1", self.ttl, encode(message), key],
        )
        return bool(result)

    async def enqueue_many(self, items: Iterable[tuple[OutboundMessage, str]], *, chunk: int = 500) -> int:
        """Queue many (message, key) pairs in pipelined batches; returns how many were new."""
        added = 0
        batch: list[tuple[OutboundMessage, str]] = []
        for item in items:
            batch.append(item)
            if len(batch) >= chunk:
                added += await self._flush(batch)
                batch = []
        if batch:
            added += await self._flush(batch)
        return added

    async def _flush(self, batch: list[tuple[OutboundMessage, str]]) -> int:
        async with self.redis.pipeline(transaction=False) as pipe:
            for message, key in batch:
                await self._script(
                    keys=[keys.outbox_idempotency(key), keys.outbox_lane(int(message.priority))],
                    args=["1", self.ttl, encode(message), key],
                    client=pipe,
                )
            results = await pipe.execute()
        return sum(1 for r in results if r)

    def add_to(self, pipe: Any, message: OutboundMessage, *, key: str) -> None:
        """Queue inside the caller's MULTI. The caller guarantees it runs once per key (WATCH)."""
        pipe.set(keys.outbox_idempotency(key), "1", ex=self.ttl)
        pipe.xadd(keys.outbox_lane(int(message.priority)), entry_fields(message, key))

    async def already_queued(self, key: str) -> bool:
        return bool(await self.redis.exists(keys.outbox_idempotency(key)))
