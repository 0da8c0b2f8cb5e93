"""Long-running loops stop when cancelled even if a library swallowed the CancelledError.

On Python 3.11, redis-py's send path (`asyncio.wait_for`) can drop a cancel that arrives as the
send completes. `_swallow_once` reproduces that outcome deterministically: the task's cancel
request stays counted (`Task.cancelling()`), but no CancelledError reaches the caller.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis

from escalation.periodic import repeat
from scheduling.leader import SchedulerLeader
from storage.cancellation import raise_if_cancelling, stop_task, wait_set


async def _swallow_once(state: dict[str, int]) -> None:
    """Wait to be cancelled, then carry on as if nothing happened (the first time only)."""
    if state.get("swallowed"):
        await asyncio.sleep(0.01)
        return
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        state["swallowed"] = 1


async def test_raise_if_cancelling_sees_a_swallowed_cancel() -> None:
    reached = asyncio.Event()

    async def worker() -> str:
        await _swallow_once({})
        reached.set()
        raise_if_cancelling()
        return "ran on"

    task = asyncio.create_task(worker())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert reached.is_set()  # the swallow happened; the check is what stopped it


async def test_stop_task_cancels_again_when_the_first_cancel_was_lost() -> None:
    state: dict[str, int] = {}
    done_looping = asyncio.Event()

    async def stubborn() -> None:
        await _swallow_once(state)
        await asyncio.sleep(30)  # a plain wait: only a second cancel ends it
        done_looping.set()

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.01)
    assert await stop_task(task, timeout_s=5)
    assert task.cancelled() and state["swallowed"] == 1 and not done_looping.is_set()


async def test_stop_task_reports_a_task_that_will_not_end() -> None:
    let_go = False

    async def immortal() -> None:
        while True:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                if let_go:
                    raise

    task = asyncio.create_task(immortal())
    await asyncio.sleep(0.01)
    assert not await stop_task(task, timeout_s=0.3)
    assert not task.done()
    let_go = True  # leave nothing running behind the test
    assert await stop_task(task, timeout_s=2)


async def test_wait_set_passes_on_a_cancel_that_arrives_as_the_flag_is_set() -> None:
    flag = asyncio.Event()
    task = asyncio.create_task(wait_set(flag, 5))
    await asyncio.sleep(0.01)
    flag.set()  # the flag's waiter is resolved; the waiting task has not resumed yet
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert await wait_set(flag, 1) and not await wait_set(asyncio.Event(), 0.01)


async def test_periodic_watcher_stops_after_a_pass_swallowed_the_cancel() -> None:
    state: dict[str, int] = {}
    passes = 0

    async def run_once() -> None:
        nonlocal passes
        passes += 1
        await _swallow_once(state)

    task = asyncio.create_task(repeat(run_once, 0.01, "test_pass_failed", logging.getLogger("t")))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert state["swallowed"] == 1 and passes == 1


class _SwallowingEngine:
    """A scheduling engine whose first tick swallows the cancel, as a Redis call can on 3.11."""

    def __init__(self) -> None:
        self.state: dict[str, int] = {}
        self.ticks = 0

    async def rebuild(self) -> int:
        return 0

    async def tick(self) -> None:
        self.ticks += 1
        await _swallow_once(self.state)


async def test_scheduler_leader_stops_when_its_first_tick_swallowed_the_cancel(redis: aioredis.Redis) -> None:
    engine = _SwallowingEngine()
    leader = SchedulerLeader(redis, engine, lease_ttl_s=1.0, tick_s=60)  # type: ignore[arg-type]
    task = asyncio.create_task(leader.run())
    await asyncio.wait_for(leader.leading.wait(), 2)
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert engine.state["swallowed"] == 1
    assert not leader.leading.is_set()
    assert await leader.lease.holder() is None  # it stepped down and released the lease
