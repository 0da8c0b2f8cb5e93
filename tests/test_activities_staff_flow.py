"""The staff guided flow in the core: validation, edit with a move, stop, resume after restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from clock import FakeClock
from scheduling.activities import Notice
from tests.test_scheduling_support import MemoryOutbox, make_scheduling

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


async def test_create_validates_each_answer(redis: aioredis.Redis) -> None:
    s = make_scheduling(redis, MemoryOutbox(), FakeClock(T0))
    flow = s.flow
    await flow.start_create("900", "en")
    await flow.handle("900", "Walk", T0)
    await flow.handle("900", "sf:skip", T0, button=True)
    await flow.handle("900", "Park", T0)
    assert "passed" in (await flow.handle("900", "2020-01-01 10:00", T0)).text
    assert "couldn't read" in (await flow.handle("900", "next friday", T0)).text
    await flow.handle("900", "2026-12-01 10:00", T0)
    assert "couldn't read" in (await flow.handle("900", "-5", T0)).text
    await flow.handle("900", "60", T0)
    await flow.handle("900", "0", T0)
    await flow.handle("900", "sf:weekly", T0, button=True)
    confirm = await flow.handle("900", "walkers", T0)
    assert "tag walkers" in confirm.text and "every week" in confirm.text
    # a restart mid-flow resumes where it was: the state is in Redis
    again = make_scheduling(redis, MemoryOutbox(), FakeClock(T0)).flow
    created = await again.handle("900", "sf:yes", T0, button=True)
    assert "#1" in created.text
    [act] = await s.service.repo.all()
    assert act.weekly and act.audience_tag == "walkers" and act.capacity == 0 and act.place == "Park"
    assert not await flow.active("900")


async def test_edit_time_notifies_and_stop_changes_nothing(redis: aioredis.Redis) -> None:
    s = make_scheduling(redis, MemoryOutbox(), FakeClock(T0))
    act = await s.service.create(title="산책", start=T0 + timedelta(days=2), now=T0)
    reply = await s.flow.start_edit("900", act.id, "ko")
    assert "field:start" in [q.payload.removeprefix("sf:") for q in reply.quick_replies]
    await s.flow.handle("900", "sf:field:start", T0, button=True)
    confirm = await s.flow.handle("900", "2026-12-02 18:00", T0)
    assert "12월 2일" in confirm.text
    await s.flow.handle("900", "sf:yes", T0, button=True)
    moved = await s.service.repo.get(act.id)
    assert moved is not None and moved.notice is Notice.MOVED and moved.version == 1

    await s.flow.start_cancel("900", act.id, "ko")
    stopped = await s.flow.handle("900", "sf:no", T0, button=True)
    assert "아무것도" in stopped.text
    still = await s.service.repo.get(act.id)
    assert still is not None and still.status.value == "scheduled"
    assert (await s.flow.start_edit("900", "999", "ko")).text == s.service.texts.get(
        "flow_unknown_activity", "ko"
    )
