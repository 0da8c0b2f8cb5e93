"""One scheduler leader per deployment: a Redis lease, renewed while leading, taken over on lapse.

APScheduler 3.x keeps its jobs in memory here (its job stores must not be shared by two
schedulers, and its Redis store pickles jobs through a blocking client). The leader therefore
builds its jobs from Redis when it takes the lease: it re-plans every check-in from the profiles,
then runs a renewal job and the tick that fires due work (and now and then re-sweeps the plans).
If the lease is lost (a pause, a partition), the leader stops its scheduler at once and goes back
to standing by; the firings are idempotent, so the short overlap a lost lease allows cannot send
anything twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC

import redis.asyncio as aioredis
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from scheduling.engine import SchedulingEngine
from storage import keys
from storage.cancellation import raise_if_cancelling
from telemetry import event

log = logging.getLogger(__name__)

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaderLease:
    """A lease held as `SET key token NX PX ttl`; only the holder's token can renew or release it."""

    def __init__(self, redis: aioredis.Redis, *, ttl_s: float = 15.0, key: str | None = None) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl_s * 1000)
        self.key = key or keys.scheduler_lease()
        self.token = uuid.uuid4().hex
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        return bool(await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))

    async def renew(self) -> bool:
        return bool(await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.token])

    async def holder(self) -> str | None:
        return await self.redis.get(self.key)


class SchedulerLeader:
    """The `ieum run` service: stand by, lead when the lease is ours, step down when it is not."""

    def __init__(
        self,
        redis: aioredis.Redis,
        engine: SchedulingEngine,
        *,
        lease_ttl_s: float = 15.0,
        tick_s: float = 5.0,
        release_on_stop: bool = True,
    ) -> None:
        self.engine = engine
        self.lease = LeaderLease(redis, ttl_s=lease_ttl_s)
        self.tick_s = tick_s
        self.release_on_stop = release_on_stop  # False simulates a crash (tests): the lease lapses
        self.leading = asyncio.Event()
        self.terms = 0  # how many times this process became leader

    async def run(self) -> None:
        try:
            while True:
                raise_if_cancelling()  # a cancel a Redis call swallowed (see storage.cancellation)
                try:
                    if await self.lease.acquire():
                        await self._lead()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    event(log, "scheduler_leader_error", logging.ERROR, exc_info=True)
                raise_if_cancelling()
                await asyncio.sleep(self.lease.ttl_ms / 3000)
        finally:
            self.leading.clear()

    async def _lead(self) -> None:
        self.terms += 1
        event(log, "scheduler_lead_started", term=self.terms)
        lost = asyncio.Event()
        scheduler = AsyncIOScheduler(timezone=UTC)

        async def renew() -> None:
            try:
                still = await self.lease.renew()
            except Exception:
                still = False
            if not still:
                lost.set()

        async def tick() -> None:
            if lost.is_set():
                return
            try:
                await self.engine.tick()
            except Exception:
                event(log, "scheduler_tick_failed", logging.ERROR, exc_info=True)

        try:
            await self.engine.rebuild()  # jobs come from Redis, never from a pickled store
            scheduler.add_job(renew, IntervalTrigger(seconds=self.lease.ttl_ms / 3000), id="lease_renew")
            scheduler.add_job(
                tick, IntervalTrigger(seconds=self.tick_s), id="tick", max_instances=1, coalesce=True
            )
            scheduler.start()
            self.leading.set()
            await tick()
            raise_if_cancelling()  # stopped during the first tick: do not lead on
            await lost.wait()
            event(log, "scheduler_lease_lost", logging.WARNING, term=self.terms)
        finally:
            self.leading.clear()
            if scheduler.running:
                scheduler.shutdown(wait=False)
            if not lost.is_set() and self.release_on_stop:
                try:
                    await asyncio.shield(self.lease.release())
                except Exception:
                    pass
