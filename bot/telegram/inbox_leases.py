"""Which process consumes which inbox shard: one holder per shard, shards shared out fairly.

Each shard has a lease (SET NX PX) that its holder renews from a heartbeat. Every live consumer
also heartbeats into a membership set; with N live consumers each holds at most
ceil(shards / N) shards, so a second `ieum run --webhook` process takes half the shards within
a heartbeat or two, and a dead process's shards are taken over once its leases run out.
"""

from __future__ import annotations

import logging
import math
import time

import redis.asyncio as aioredis

from storage import keys
from telemetry import event

log = logging.getLogger(__name__)

# Take the lease if free, or renew it if it is ours. KEYS[1] lease; ARGV[1] holder, ARGV[2] ttl ms
_LEASE = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class ShardLeases:
    def __init__(self, redis: aioredis.Redis, *, shards: int, holder: str, lease_ms: int) -> None:
        self.redis = redis
        self.shards = shards
        self.holder = holder
        self.lease_ms = lease_ms
        self.held: set[int] = set()
        self.quota = shards  # until the first heartbeat says how many consumers are alive
        self._lease = redis.register_script(_LEASE)
        self._release = redis.register_script(_RELEASE)

    async def take(self, shard: int) -> bool:
        """Try to hold `shard` (within the fair quota). True if this consumer now holds it."""
        if shard in self.held:
            return True
        if len(self.held) >= self.quota:
            return False
        if not await self._lease(keys=[keys.inbox_lease(shard)], args=[self.holder, self.lease_ms]):
            return False
        self.held.add(shard)
        event(log, "inbox_shard_taken", shard=shard)
        return True

    def surplus(self, shard: int) -> bool:
        """Should `shard` be handed over (this consumer holds more than its fair share)?"""
        return shard in self.held and len(self.held) > self.quota and shard == max(self.held)

    async def heartbeat(self) -> None:
        """Announce this consumer, recompute the fair quota and renew every lease it holds."""
        now_ms = int(time.time() * 1000)
        members = keys.inbox_members()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(members, {self.holder: now_ms})
            pipe.zremrangebyscore(members, "-inf", now_ms - self.lease_ms)
            pipe.zcard(members)
            live = max(1, int((await pipe.execute())[-1]))
        self.quota = math.ceil(self.shards / live)
        for shard in sorted(self.held):
            if not await self._lease(keys=[keys.inbox_lease(shard)], args=[self.holder, self.lease_ms]):
                self.held.discard(shard)
                event(log, "inbox_shard_lost", logging.WARNING, shard=shard)

    async def release(self, shard: int) -> None:
        self.held.discard(shard)
        try:
            await self._release(keys=[keys.inbox_lease(shard)], args=[self.holder])
        except Exception:
            event(log, "inbox_lease_release_failed", logging.WARNING, shard=shard)

    async def release_all(self) -> None:
        for shard in list(self.held):
            await self.release(shard)
        try:
            await self.redis.zrem(keys.inbox_members(), self.holder)
        except Exception:
            event(log, "inbox_member_leave_failed", logging.WARNING)
