"""Check-ins with an injected clock and real Redis: rhythm, window, back-off, pause, downtime."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from clock import FakeClock
from scheduling.checkins import notify_plan_changed, record_answer
from storage.profiles import Mood, ProfileRepository, Rhythm
from tests.test_scheduling_support import MemoryOutbox, add_person, make_scheduling

USER = "telegram:5001"
SEOUL = ZoneInfo("Asia/Seoul")


async def _run_until(s, clock: FakeClock, until: datetime, user: str = USER) -> None:
    """Jump from one planned moment to the next (ticking twice at each, to prove idempotency)."""
    while True:
        nxt = await s.checkins.next_at(user)
        if nxt is None or nxt > until:
            clock.set(until)
            await s.engine.tick()
            return
        clock.set(nxt)
        await s.engine.tick()
        await s.engine.tick()


async def test_daily_checkins_inside_the_window_once_per_slot(redis: aioredis.Redis) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))  # 09:00 in Seoul
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await add_person(redis, USER, clock.now())
    await s.engine.rebuild()
    profiles = ProfileRepository(redis)

    for _day in range(5):
        await _run_until(s, clock, clock.now() + timedelta(days=1))
        # the person answers each check-in, so there is no back-off
        await profiles.add_mood(USER, Mood.GOOD, clock.now())

    sent = outbox.to(USER, "checkin")
    assert len(sent) == 5
    slots = [k for k, m in outbox.messages if m.kind == "checkin"]
    assert len(set(slots)) == 5
    assert all(m.chat_id == "5001" and m.channel == "telegram" for m in sent)


async def test_sent_time_is_inside_window_in_the_persons_time_zone(redis: aioredis.Redis) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await add_person(
        redis,
        USER,
        clock.now(),
        tz="Europe/London",
        window_start="22:30",
        window_end="00:30",
        quiet_start="23:30",
        quiet_end="07:00",
    )
    await s.engine.rebuild()
    times = []
    for _ in range(6):
        nxt = await s.checkins.next_at(USER)
        assert nxt is not None
        clock.set(nxt)
        await s.engine.tick()
        times.append(nxt.astimezone(ZoneInfo("Europe/London")))
        await ProfileRepository(redis).add_mood(USER, Mood.SO_SO, clock.now())
    assert len(outbox.to(USER, "checkin")) == 6
    for t in times:
        assert (t.hour, t.minute) >= (22, 30) and (t.hour, t.minute) < (23, 30), t


async def test_backoff_halves_then_pauses_with_one_kind_message(redis: aioredis.Redis) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await add_person(redis, USER, clock.now(), lang="en")
    await s.engine.rebuild()

    await _run_until(s, clock, clock.now() + timedelta(days=30))  # never answers

    checkins = outbox.to(USER, "checkin")
    pauses = outbox.to(USER, "checkin_pause")
    assert len(checkins) == 4  # 2 at the full rhythm, 2 at half, then the pause
    assert len(pauses) == 1
    assert "/resume" in pauses[0].text
    days = [
        datetime.fromisoformat(k.rsplit(":", 1)[1]).date() for k, m in outbox.messages if m.kind == "checkin"
    ]
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    assert gaps[0] == 1 and all(g == 2 for g in gaps[1:]), gaps
    profile = await ProfileRepository(redis).get(USER)
    assert profile is not None and profile.paused
    assert await s.checkins.next_at(USER) is None

    # /resume (the conversation clears `paused` and says the schedule changed): full rhythm again
    await ProfileRepository(redis).update(USER, paused=False)
    await notify_plan_changed(redis, USER)
    await s.engine.tick()
    assert await s.checkins.unanswered(USER) == 0
    await _run_until(s, clock, clock.now() + timedelta(days=2))
    assert len(outbox.to(USER, "checkin")) == 6


async def test_an_answer_resets_the_counter(redis: aioredis.Redis) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await add_person(redis, USER, clock.now())
    await s.engine.rebuild()
    await _run_until(s, clock, clock.now() + timedelta(days=2, hours=1))
    assert len(outbox.to(USER, "checkin")) == 2
    await record_answer(redis, USER)  # e.g. answered by text, not by a mood button
    await _run_until(s, clock, clock.now() + timedelta(days=1))
    assert await s.checkins.unanswered(USER) == 0
    assert len(outbox.to(USER, "checkin")) == 3


async def test_pause_stops_at_once(redis: aioredis.Redis) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await add_person(redis, USER, clock.now())
    await s.engine.rebuild()
    planned = await s.checkins.next_at(USER)
    assert planned is not None
    # /pause: the profile changes; nobody has told the scheduler yet
    await ProfileRepository(redis).update(USER, paused=True)
    clock.set(planned)
    await s.engine.tick()
    assert outbox.to(USER) == []
    assert await s.checkins.next_at(USER) is None


async def test_settings_change_takes_effect_at_once(redis: aioredis.Redis) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await add_person(redis, USER, clock.now(), rhythm=Rhythm.WEEKLY)
    await s.engine.rebuild()
    weekly = await s.checkins.next_at(USER)
    await ProfileRepository(redis).update(USER, rhythm=Rhythm.DAILY, window_start="12:00", window_end="13:00")
    await notify_plan_changed(redis, USER)
    await s.engine.tick()
    daily = await s.checkins.next_at(USER)
    assert daily is not None and weekly is not None and daily <= weekly
    local = daily.astimezone(SEOUL)
    assert local.date() == datetime(2026, 11, 28).date() and 12 <= local.hour < 13


async def test_no_consent_or_on_demand_means_no_checkins(redis: aioredis.Redis) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await add_person(redis, "telegram:1", clock.now(), checkin_consent=False)
    await add_person(redis, "telegram:2", clock.now(), rhythm=Rhythm.ON_DEMAND)
    await add_person(redis, "telegram:3", clock.now(), active=False)
    await s.engine.rebuild()
    clock.advance(days=3)
    await s.engine.tick()
    assert outbox.messages == []


async def test_missed_during_downtime_is_not_sent_at_night(redis: aioredis.Redis) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await add_person(redis, USER, clock.now())  # window 19:00-21:00 Seoul
    await s.engine.rebuild()
    planned = await s.checkins.next_at(USER)
    assert planned is not None
    # the bot was down from before the moment until 02:00 the next night (Seoul)
    clock.set(datetime(2026, 11, 28, 17, 0, tzinfo=UTC))
    await s.engine.tick()
    assert outbox.messages == []
    nxt = await s.checkins.next_at(USER)
    assert nxt is not None and nxt.astimezone(SEOUL).date() == datetime(2026, 11, 29).date()
    assert 19 <= nxt.astimezone(SEOUL).hour < 21
    # a late tick still inside the window does send
    clock.set(nxt + timedelta(minutes=30) if nxt.astimezone(SEOUL).hour < 20 else nxt)
    await s.engine.tick()
    assert len(outbox.to(USER, "checkin")) == 1


async def test_erase_forgets_the_plan(redis: aioredis.Redis) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    s = make_scheduling(redis, MemoryOutbox(), clock)
    await add_person(redis, USER, clock.now())
    await s.engine.rebuild()
    await s.erase(USER)
    assert await s.checkins.next_at(USER) is None
    assert not await redis.exists(f"ieum:{{u:{USER}}}:checkin")
