"""One leader by lease; a standby takes over; every reminder fires exactly once across the switch."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from clock import FakeClock
from scheduling.leader import LeaderLease, SchedulerLeader
from scheduling.rsvp import Answer
from storage.profiles import ProfileRepository
from tests.test_scheduling_support import MemoryOutbox, add_person, make_scheduling

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


async def test_lease_is_exclusive_and_only_the_holder_renews(redis: aioredis.Redis) -> None:
    a, b = LeaderLease(redis, ttl_s=0.3), LeaderLease(redis, ttl_s=0.3)
    assert await a.acquire()
    assert not await b.acquire()
    assert not await b.renew()
    assert await a.renew()
    await b.release()  # not the holder: nothing happens
    assert await a.holder() == a.token
    await asyncio.sleep(0.35)  # the lease lapses without renewal
    assert await b.acquire()
    assert not await a.renew()


def _leader(s, redis: aioredis.Redis) -> SchedulerLeader:
    return SchedulerLeader(redis, s.engine, lease_ttl_s=1.0, tick_s=0.05, release_on_stop=False)


async def _setup(redis: aioredis.Redis, clock: FakeClock, outbox: MemoryOutbox, n: int = 20):
    s = make_scheduling(redis, outbox, clock)
    profiles = ProfileRepository(redis)
    for i in range(n):
        await add_person(redis, f"telegram:{100 + i}", T0, activity_news=True)
    start = T0 + timedelta(days=2)
    act = await s.service.create(title="보드게임", start=start, now=T0)
    for i in range(n):
        p = await profiles.get(f"telegram:{100 + i}")
        assert p is not None
        await s.service.respond(act.id, p, Answer.GOING if i % 2 else Answer.MAYBE, T0)
    return s, start


async def test_standby_takes_over_and_fires_each_reminder_once(redis: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s_a, start = await _setup(redis, clock, outbox)
    s_b = make_scheduling(redis, outbox, clock)
    leader_a, leader_b = _leader(s_a, redis), _leader(s_b, redis)
    task_a = asyncio.create_task(leader_a.run())
    await asyncio.wait_for(leader_a.leading.wait(), 2)
    task_b = asyncio.create_task(leader_b.run())
    for _ in range(100):  # the leader's first tick announces the activity
        if len(outbox.of_kind("announcement")) >= 20:
            break
        await asyncio.sleep(0.05)
    assert not leader_b.leading.is_set()  # one leader per deployment
    assert len(outbox.of_kind("announcement")) == 20

    # the leader has built its jobs; it is killed (no release) before the reminder is due
    task_a.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task_a
    clock.set(start - timedelta(days=1))
    await asyncio.wait_for(leader_b.leading.wait(), 3)
    for _ in range(50):
        if len(outbox.of_kind("reminder")) >= 20:
            break
        await asyncio.sleep(0.05)
    task_b.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task_b
    counts = Counter(m.user_key for m in outbox.of_kind("reminder"))
    assert len(counts) == 20 and set(counts.values()) == {1}
    assert len(outbox.of_kind("announcement")) == 20


async def test_leader_killed_mid_fan_out_then_standby_completes_exactly_once(redis: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s_a, start = await _setup(redis, clock, outbox)
    await s_a.engine.tick()  # announcement
    clock.set(start - timedelta(hours=2))
    outbox.fail_after = 7  # the process dies after 7 reminders were queued
    await s_a.engine.tick()
    assert len(outbox.of_kind("reminder")) == 7
    outbox.fail_after = None
    s_b = make_scheduling(redis, outbox, clock)
    await s_b.engine.tick()
    await s_b.engine.tick()
    counts = Counter(m.user_key for m in outbox.of_kind("reminder"))
    assert len(counts) == 20 and set(counts.values()) == {1}


async def test_check_in_planned_by_a_dead_leader_is_sent_once_by_the_next(redis: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s_a = make_scheduling(redis, outbox, clock)
    await add_person(redis, "telegram:9", T0)
    await s_a.engine.rebuild()
    planned = await s_a.checkins.next_at("telegram:9")
    assert planned is not None
    clock.set(planned)
    s_b = make_scheduling(redis, outbox, clock)
    await s_b.engine.tick()
    await s_a.engine.tick()  # a stale leader that did not notice it lost the lease
    assert len(outbox.to("telegram:9", "checkin")) == 1
