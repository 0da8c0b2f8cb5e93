"""Activities end to end in the core: announce, RSVP, reminders at the offsets, changes, misfires."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from clock import FakeClock
from scheduling.rsvp import Answer
from storage.profiles import ProfileRepository
from tests.test_scheduling_support import MemoryOutbox, add_person, make_scheduling

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 10:00 Seoul


async def _people(redis: aioredis.Redis) -> None:
    await add_person(redis, "telegram:1", T0, activity_news=True, nickname="하늘", checkin_consent=False)
    await add_person(redis, "telegram:2", T0, activity_news=True, tags=("cooking",), checkin_consent=False)
    await add_person(redis, "telegram:3", T0, activity_news=False, checkin_consent=False)  # not opted in
    await add_person(redis, "telegram:4", T0, activity_news=True, active=False, checkin_consent=False)
    await add_person(redis, "telegram:5", T0, activity_news=True, lang="en", checkin_consent=False)


async def test_new_activity_is_announced_once_to_the_opted_in_audience_only(redis: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await _people(redis)
    act = await s.service.create(title="보드게임", start=T0 + timedelta(days=3), now=T0, place="센터 2층")
    await s.engine.tick()
    await s.engine.tick()
    announced = sorted(m.user_key or "" for m in outbox.of_kind("announcement"))
    assert announced == ["telegram:1", "telegram:2", "telegram:5"]
    english = next(m for m in outbox.of_kind("announcement") if m.user_key == "telegram:5")
    assert "get-together" in english.text and "보드게임" in english.text
    payloads = [b.payload for row in english.buttons for b in row]
    assert payloads == [
        f"act:{act.id}:going",
        f"act:{act.id}:maybe",
        f"act:{act.id}:looking",
        f"act:{act.id}:no",
    ]

    tagged = await s.service.create(
        title="요리", start=T0 + timedelta(days=3), now=T0, audience_tag="cooking"
    )
    await s.engine.tick()
    assert [m.user_key for m in outbox.of_kind("announcement") if tagged.title in m.text] == ["telegram:2"]


async def test_rsvp_counts_and_reminders_at_the_offsets_to_coming_and_maybe_only(
    redis: aioredis.Redis,
) -> None:
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await _people(redis)
    start = T0 + timedelta(days=3)
    act = await s.service.create(title="산책", start=start, now=T0)
    profiles = ProfileRepository(redis)
    for user, answer in (
        ("telegram:1", Answer.GOING),
        ("telegram:2", Answer.MAYBE),
        ("telegram:5", Answer.LOOKING),
        ("telegram:3", Answer.NO),
    ):
        profile = await profiles.get(user)
        assert profile is not None
        await s.service.respond(act.id, profile, answer, T0)
    [row] = await s.service.stats(T0)
    assert row.counts[Answer.GOING] == 1 and row.counts[Answer.MAYBE] == 1
    assert row.counts[Answer.LOOKING] == 1 and row.counts[Answer.NO] == 1
    assert row.coming == ("하늘",)
    assert "하늘" in s.service.format_stats([row], "ko")

    clock.set(start - timedelta(days=1, minutes=1))
    await s.engine.tick()
    assert outbox.of_kind("reminder") == []
    clock.set(start - timedelta(days=1))
    await s.engine.tick()
    await s.engine.tick()
    first = sorted(m.user_key or "" for m in outbox.of_kind("reminder"))
    assert first == ["telegram:1", "telegram:2"]
    clock.set(start - timedelta(hours=2))
    await s.engine.tick()
    assert len(outbox.of_kind("reminder")) == 4
    clock.set(start + timedelta(minutes=5))
    await s.engine.tick()
    assert len(outbox.of_kind("reminder")) == 4


async def test_reminder_for_an_activity_that_already_started_is_dropped(redis: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await _people(redis)
    start = T0 + timedelta(days=3)
    act = await s.service.create(title="산책", start=start, now=T0)
    profile = await ProfileRepository(redis).get("telegram:1")
    assert profile is not None
    await s.service.respond(act.id, profile, Answer.GOING, T0)
    await s.engine.tick()
    clock.set(start + timedelta(minutes=10))  # the bot was down through both reminders
    await s.engine.tick()
    assert outbox.of_kind("reminder") == []


async def test_after_downtime_only_the_latest_reminder_goes(redis: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await _people(redis)
    start = T0 + timedelta(days=3)
    act = await s.service.create(title="산책", start=start, now=T0)
    profile = await ProfileRepository(redis).get("telegram:1")
    assert profile is not None
    await s.service.respond(act.id, profile, Answer.GOING, T0)
    clock.set(start - timedelta(hours=1))
    await s.engine.tick()
    assert len(outbox.of_kind("reminder")) == 1


async def test_cancel_and_move_notify_everyone_who_answered(redis: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await _people(redis)
    start = T0 + timedelta(days=3)
    act = await s.service.create(title="산책", start=start, now=T0)
    profiles = ProfileRepository(redis)
    for user, answer in (("telegram:1", Answer.GOING), ("telegram:5", Answer.NO)):
        p = await profiles.get(user)
        assert p is not None
        await s.service.respond(act.id, p, answer, T0)
    await s.engine.tick()

    moved = await s.service.edit(act.id, T0, start=start + timedelta(days=1), place="공원")
    assert moved is not None and moved.version == 1
    await s.engine.tick()
    await s.engine.tick()
    assert sorted(m.user_key or "" for m in outbox.of_kind("activity_moved")) == ["telegram:1", "telegram:5"]
    # the reminders follow the new time (one day before the new start), once
    clock.set(start)
    await s.engine.tick()
    assert [m.user_key for m in outbox.of_kind("reminder")] == ["telegram:1"]

    await s.service.cancel(act.id, clock.now())
    await s.engine.tick()
    await s.engine.tick()
    cancelled = outbox.of_kind("activity_cancelled")
    assert sorted(m.user_key or "" for m in cancelled) == ["telegram:1", "telegram:5"]
    assert all(m.buttons == () for m in cancelled)
    clock.set(start + timedelta(days=1) - timedelta(hours=2))
    await s.engine.tick()
    assert len(outbox.of_kind("reminder")) == 1  # nothing for a cancelled activity


async def test_capacity_offers_the_waiting_list_and_tells_the_first_waiting(redis: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await _people(redis)
    act = await s.service.create(title="요리", start=T0 + timedelta(days=2), now=T0, capacity=1)
    profiles = ProfileRepository(redis)
    p1, p2 = await profiles.get("telegram:1"), await profiles.get("telegram:2")
    assert p1 is not None and p2 is not None
    await s.service.respond(act.id, p1, Answer.GOING, T0)
    full = await s.service.respond(act.id, p2, Answer.GOING, T0)
    assert "대기" in full.text and full.quick_replies[0].payload == f"act:{act.id}:waitlist"
    await s.service.respond(act.id, p2, Answer.WAITLIST, T0)
    await s.service.respond(act.id, p1, Answer.NO, T0 + timedelta(minutes=1))
    [spot] = outbox.of_kind("activity_spot")
    assert spot.user_key == "telegram:2"
    taken = await s.service.respond(act.id, p2, Answer.GOING, T0 + timedelta(minutes=2))
    assert taken.text == s.service.texts.get("rsvp_recorded_going", "ko")


async def test_weekly_activity_rolls_to_its_next_occurrence(redis: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    await _people(redis)
    start = T0 + timedelta(days=1)
    act = await s.service.create(title="걷기", start=start, now=T0, weekly=True, duration_min=60)
    p1 = await ProfileRepository(redis).get("telegram:1")
    assert p1 is not None
    await s.service.respond(act.id, p1, Answer.GOING, T0)
    await s.engine.tick()
    clock.set(start + timedelta(hours=2))
    await s.engine.tick()
    rolled = await s.service.repo.get(act.id)
    assert rolled is not None and rolled.occurrence == 1 and rolled.start == start + timedelta(days=7)
    assert await s.service.rsvps.answers(rolled) == {}  # a new occurrence starts with fresh answers
    assert len(outbox.of_kind("announcement")) == 3  # announced once, not per occurrence


async def test_erase_forgets_answers(redis: aioredis.Redis) -> None:
    clock = FakeClock(T0)
    s = make_scheduling(redis, MemoryOutbox(), clock)
    await _people(redis)
    act = await s.service.create(title="산책", start=T0 + timedelta(days=1), now=T0)
    p1 = await ProfileRepository(redis).get("telegram:1")
    assert p1 is not None
    await s.service.respond(act.id, p1, Answer.GOING, T0)
    await s.erase("telegram:1")
    assert await s.service.rsvps.answers(act) == {}


async def test_nobody_is_written_to_in_their_quiet_hours(redis: aioredis.Redis) -> None:
    from zoneinfo import ZoneInfo

    seoul = ZoneInfo("Asia/Seoul")
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    s = make_scheduling(redis, outbox, clock)
    a = await add_person(
        redis, "telegram:1", T0, quiet_start="23:00", quiet_end="09:00", checkin_consent=False
    )
    b = await add_person(redis, "telegram:2", T0, checkin_consent=False)  # quiet 23:00-08:00
    start = datetime(2026, 11, 30, 8, 30, tzinfo=seoul).astimezone(UTC)
    act = await s.service.create(title="아침 산책", start=start, now=T0)
    for p in (a, b):
        await s.service.respond(act.id, p, Answer.GOING, T0)

    clock.set(start - timedelta(days=1))  # 08:30 the day before: A is still in quiet hours
    await s.engine.tick()
    assert [m.user_key for m in outbox.of_kind("reminder")] == ["telegram:2"]
    clock.set(datetime(2026, 11, 29, 9, 0, tzinfo=seoul))  # A's quiet hours end
    await s.engine.tick()
    assert sorted(m.user_key or "" for m in outbox.of_kind("reminder")) == ["telegram:1", "telegram:2"]

    clock.set(start - timedelta(hours=2))  # 06:30: both asleep
    await s.engine.tick()
    assert len(outbox.of_kind("reminder")) == 2
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=seoul))  # B's quiet hours end before the start
    await s.engine.tick()
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=seoul))  # A's would end after it: nothing for A
    await s.engine.tick()
    counts = Counter(m.user_key for m in outbox.of_kind("reminder"))
    assert counts == Counter({"telegram:1": 1, "telegram:2": 2})
