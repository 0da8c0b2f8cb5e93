"""Activities and check-ins end to end: the Telegram runtime and aiogram's real client against the
fake Bot API server on loopback, real Redis, the real outbox and its consumer, an injected clock."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from bot.telegram.sender import TelegramSender
from clock import FakeClock
from outbox.consumer import OutboxConsumer
from outbox.pacing import PacingConfig
from outbox.stream import RedisOutbox
from scheduling.rsvp import Answer
from scheduling.wiring import Scheduling, build_scheduling
from storage.profiles import ProfileRepository, Rhythm
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_harness import bot_running, bot_settings, echo_app
from tests.test_scheduling_support import add_person

STAFF = 900
T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 12:00 in Seoul


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def app(fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis, clock: FakeClock):
    from dialogues.service import build_conversation

    settings = bot_settings(fake_telegram, redis_url, staff_ids=str(STAFF))
    profiles = ProfileRepository(redis)
    conversation = build_conversation(redis=redis, profiles=profiles, encoder=None, clock=clock)
    app = echo_app(settings, redis, conversation)
    app.clock = clock
    app.pipeline.clock = clock
    scheduling = build_scheduling(
        redis, app.profiles, RedisOutbox(redis), clock, start_checkin=conversation.start_checkin
    )
    app.extras["scheduling"] = scheduling
    app.pipeline.schedule_listeners.append(scheduling.plan_changed)  # as bot.app.build_app wires it
    return app


def _sched(app) -> Scheduling:
    return app.extras["scheduling"]


def _consumer(app, runtime, **kw) -> OutboxConsumer:
    """The outbox consumer as the app runs it: Telegram sender, 403 marks the person inactive."""
    profiles = app.profiles
    kw.setdefault("pacing", PacingConfig(global_per_s=200, chat_per_s=0, group_per_min=0))
    kw.setdefault("retry_delays", (0.05, 0.05, 0.05))
    return OutboxConsumer(
        app.redis,
        {"telegram": TelegramSender(runtime.bot)},
        on_blocked=lambda uk: profiles.update(uk, active=False),
        **kw,
    )


async def _people(redis: aioredis.Redis) -> None:
    await add_person(redis, "telegram:5001", T0, activity_news=True, nickname="하늘", checkin_consent=False)
    await add_person(redis, "telegram:5002", T0, activity_news=True, checkin_consent=False, lang="en")
    await add_person(redis, "telegram:5003", T0, activity_news=False, checkin_consent=False)


async def _say(fake: FakeTelegram, chat: int, text: str, expect: int) -> str:
    fake.push_update(fake.message_update(chat, text))
    texts = await fake.wait_for_messages(chat, expect)
    return texts[-1]


async def _press(fake: FakeTelegram, chat: int, data: str, expect: int) -> str:
    fake.push_update(fake.callback_update(chat, data))
    texts = await fake.wait_for_messages(chat, expect)
    return texts[-1]


async def test_staff_creates_announces_rsvps_reminds_and_cancels(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis, clock: FakeClock
) -> None:
    f = fake_telegram
    s = _sched(app)
    await _people(redis)
    async with bot_running(app) as runtime:
        assert "제목" in await _say(f, STAFF, "/activity_new", 1)
        assert "설명" in await _say(f, STAFF, "보드게임 저녁", 2)
        assert "장소" in await _press(f, STAFF, "sf:skip", 3)
        assert "2026-12-05" in await _say(f, STAFF, "센터 2층", 4)
        assert "분" in await _say(f, STAFF, "2026-12-05 19:00", 5)
        assert "정원" in await _say(f, STAFF, "120", 6)
        assert "반복" in await _say(f, STAFF, "1", 7)
        assert "누구" in await _press(f, STAFF, "sf:once", 8)
        confirm = await _press(f, STAFF, "sf:all", 9)
        assert "보드게임 저녁" in confirm and "12월 5일 (토) 19:00" in confirm
        assert "#1" in await _press(f, STAFF, "sf:yes", 10)
        [act] = await s.service.repo.all()
        assert act.capacity == 1 and act.duration_min == 120 and act.created_by == str(STAFF)

        consumer = _consumer(app, runtime)
        await s.engine.tick()
        await consumer.run_once()
        announced = {c.chat_id for c in f.calls_to("sendMessage") if "act:1:going" in c.button_data}
        assert announced == {"5001", "5002"}  # 5003 did not opt in
        call = f.calls_to("sendMessage", 5002)[-1]
        assert "get-together" in call.text and call.button_data[0] == "act:1:going"

        assert "자리" in await _press(f, 5001, "act:1:going", 2)
        full = await _press(f, 5002, "act:1:going", 2)
        assert "full" in full
        assert f.calls_to("sendMessage", 5002)[-1].button_data == ["act:1:waitlist"]
        await _press(f, 5002, "act:1:maybe", 3)
        stats = await _say(f, STAFF, "/activity_stats", 11)
        assert "갈게요 1/1" in stats and "아마도 1" in stats and "하늘" in stats

        clock.set(act.start - timedelta(days=1))
        await s.engine.tick()
        await consumer.run_once()
        reminded = Counter(
            c.chat_id
            for c in f.calls_to("sendMessage")
            if c.chat_id != str(STAFF) and ("coming up" in c.text or c.text.startswith("곧"))
        )
        assert reminded == Counter({"5001": 1, "5002": 1})

        assert "취소할까요" in await _say(f, STAFF, "/activity_cancel 1", 12)
        assert "취소했어요" in await _press(f, STAFF, "sf:yes", 13)
        await s.engine.tick()
        await s.engine.tick()
        await consumer.run_once()
        cancelled = Counter(
            c.chat_id
            for c in f.calls_to("sendMessage")
            if c.chat_id != str(STAFF) and ("취소" in c.text or "cancelled" in c.text)
        )
        assert cancelled == Counter({"5001": 1, "5002": 1})
        clock.set(act.start - timedelta(hours=2))
        await s.engine.tick()
        assert await consumer.run_once() == 0  # no reminder for a cancelled activity


async def test_non_staff_cannot_create_activities(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    f = fake_telegram
    async with bot_running(app):
        refusal = await _say(f, 5001, "/activity_new", 1)
        assert "담당자" in refusal
        f.push_update(f.callback_update(5001, "sf:yes"))
        await f.wait_for(lambda calls: any(c.method == "answerCallbackQuery" for c in calls))
        await _say(f, 5001, "/activity_cancel 1", 2)
    answered = f.calls_to("answerCallbackQuery")[0]
    assert answered.params.get("show_alert") in (True, "true")
    assert await _sched(app).service.repo.all() == []


async def test_young_person_lists_activities_and_switches_news(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    f = fake_telegram
    s = _sched(app)
    await _people(redis)
    await s.service.create(title="산책 모임", start=T0 + timedelta(days=2), now=T0, place="공원")
    async with bot_running(app):
        await _say(f, 5003, "/activities", 3)
        texts = f.texts_to(5003)
        assert "산책 모임" in texts[1]
        assert f.calls_to("sendMessage", 5003)[1].button_data[:2] == ["act:1:going", "act:1:maybe"]
        assert f.calls_to("sendMessage", 5003)[2].button_data == ["actnews:on"]
        await _press(f, 5003, "actnews:on", 4)
    profile = await ProfileRepository(redis).get("telegram:5003")
    assert profile is not None and profile.activity_news


async def test_429_during_a_fan_out_everything_delivered_once(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis, clock: FakeClock
) -> None:
    f = fake_telegram
    s = _sched(app)
    for i in range(40):
        await add_person(redis, f"telegram:{7000 + i}", T0, activity_news=True, checkin_consent=False)
    await s.service.create(title="요리 교실", start=T0 + timedelta(days=2), now=T0)
    f.fail("sendMessage", 429, times=5, retry_after=1)
    async with bot_running(app) as runtime:
        await s.engine.tick()
        await s.engine.tick()
        delivered = await _consumer(app, runtime).run_once(timeout=30)
    assert delivered == 40
    ok = [c for c in f.calls_to("sendMessage") if "_failed" not in c.params]
    assert Counter(c.chat_id for c in ok) == Counter({str(7000 + i): 1 for i in range(40)})
    assert sum(1 for c in f.calls_to("sendMessage") if c.params.get("_failed") == 429) == 5


async def test_403_marks_the_person_inactive_and_later_fan_outs_skip_them(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis, clock: FakeClock
) -> None:
    f = fake_telegram
    s = _sched(app)
    await _people(redis)
    f.fail("sendMessage", 403, chat_id=5002)
    await s.service.create(title="첫 모임", start=T0 + timedelta(days=2), now=T0)
    async with bot_running(app) as runtime:
        consumer = _consumer(app, runtime)
        await s.engine.tick()
        await consumer.run_once()
        profile = await ProfileRepository(redis).get("telegram:5002")
        assert profile is not None and profile.active is False
        await s.service.create(title="둘째 모임", start=T0 + timedelta(days=3), now=T0)
        await s.engine.tick()
        await consumer.run_once()
    assert len(f.calls_to("sendMessage", 5002)) == 1  # tried once, never again
    assert len(f.calls_to("sendMessage", 5001)) == 2


async def test_checkin_sent_inside_the_window_answered_by_button(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis, clock: FakeClock
) -> None:
    f = fake_telegram
    s = _sched(app)
    await add_person(
        redis, "telegram:6001", T0, rhythm=Rhythm.DAILY, window_start="20:00", window_end="21:00"
    )
    await s.engine.rebuild()
    planned = await s.checkins.next_at("telegram:6001")
    assert planned is not None
    local = planned.astimezone(ZoneInfo("Asia/Seoul"))
    assert local.date() == T0.date() and 20 <= local.hour < 21
    async with bot_running(app) as runtime:
        consumer = _consumer(app, runtime)
        clock.set(planned)
        await s.engine.tick()
        await s.engine.tick()
        assert await consumer.run_once() == 1
        call = f.calls_to("sendMessage", 6001)[0]
        mood_button = call.button_data[0]
        assert mood_button.startswith("v1:ci:")
        # the check-in's buttons route back into the conversation, which records the mood
        await _press(f, 6001, mood_button, 2)
        nxt = await s.checkins.next_at("telegram:6001")
        assert nxt is not None
        clock.set(nxt)
        await s.engine.tick()
        await consumer.run_once()
    assert await s.checkins.unanswered("telegram:6001") == 0
    assert len([c for c in f.calls_to("sendMessage", 6001) if c.button_data[:1] == [mood_button]]) == 2


async def test_running_bot_with_leader_and_consumer_services_sends_reminders(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis, clock: FakeClock
) -> None:
    """As `ieum run` does: the scheduler leader (APScheduler) and the outbox consumer run as services."""
    from scheduling.leader import SchedulerLeader

    f = fake_telegram
    s = _sched(app)
    await _people(redis)
    act = await s.service.create(title="산책", start=T0 + timedelta(days=2), now=T0)
    profile = await ProfileRepository(redis).get("telegram:5001")
    assert profile is not None
    await s.service.respond(act.id, profile, Answer.GOING, T0)
    leader = SchedulerLeader(redis, s.engine, lease_ttl_s=1.0, tick_s=0.05)
    app.services.append(leader.run)
    async with bot_running(app) as runtime:
        app.services.append(_consumer(app, runtime).run_forever)  # started below, after the sender exists
        consumer_task = asyncio.create_task(app.services[-1]())
        try:
            await f.wait_for(
                lambda calls: len({c.chat_id for c in calls if "act:1:going" in c.button_data}) == 2
            )
            clock.set(act.start - timedelta(hours=2))
            await f.wait_for(lambda calls: any(c.text.startswith("곧") for c in calls))
        finally:
            consumer_task.cancel()
            await asyncio.gather(consumer_task, return_exceptions=True)
    assert leader.terms == 1
    assert [c.chat_id for c in f.calls_to("sendMessage") if c.text.startswith("곧")] == ["5001"]


async def test_crisis_goes_out_ahead_of_a_reminder_fan_out(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis, clock: FakeClock
) -> None:
    from outbox.types import OutboundMessage, Priority

    f = fake_telegram
    s = _sched(app)
    for i in range(30):
        await add_person(redis, f"telegram:{7000 + i}", T0, activity_news=True, checkin_consent=False)
    await s.service.create(title="요리 교실", start=T0 + timedelta(days=2), now=T0)
    await s.engine.tick()  # 30 announcements queued (bulk)
    crisis = OutboundMessage("telegram", "-100999", "crisis alert", "alert", priority=Priority.CRISIS)
    await RedisOutbox(redis).enqueue(crisis, key="crisis-1")
    async with bot_running(app) as runtime:
        consumer = _consumer(
            app, runtime, pacing=PacingConfig(global_per_s=50, chat_per_s=1, group_per_min=20)
        )
        await consumer.run_once(timeout=30)
    sends = f.calls_to("sendMessage")
    assert len(sends) == 31 and sends[0].text == "crisis alert"


async def test_leader_killed_between_scheduling_and_firing_standby_sends_each_reminder_once(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis, clock: FakeClock
) -> None:
    from scheduling.leader import SchedulerLeader

    f = fake_telegram
    profiles = ProfileRepository(redis)
    people = [f"telegram:{8000 + i}" for i in range(12)]
    for user in people:
        await add_person(redis, user, T0, activity_news=True, checkin_consent=False)
    s_a = _sched(app)
    act = await s_a.service.create(title="영화 모임", start=T0 + timedelta(days=2), now=T0)
    for user in people:
        p = await profiles.get(user)
        assert p is not None
        await s_a.service.respond(act.id, p, Answer.MAYBE, T0)
    s_b = build_scheduling(redis, app.profiles, RedisOutbox(redis), clock)
    leader_a = SchedulerLeader(redis, s_a.engine, lease_ttl_s=1.0, tick_s=0.05, release_on_stop=False)
    leader_b = SchedulerLeader(redis, s_b.engine, lease_ttl_s=1.0, tick_s=0.05)
    task_a = asyncio.create_task(leader_a.run())
    await asyncio.wait_for(leader_a.leading.wait(), 3)
    task_b = asyncio.create_task(leader_b.run())
    await asyncio.sleep(0.2)
    task_a.cancel()  # killed: the lease is not released, it lapses
    await asyncio.gather(task_a, return_exceptions=True)
    assert not leader_b.leading.is_set()
    clock.set(act.start - timedelta(days=1))
    await asyncio.wait_for(leader_b.leading.wait(), 3)
    async with bot_running(app) as runtime:
        consumer = _consumer(app, runtime)
        for _ in range(40):
            await consumer.run_once(timeout=5)
            if sum(1 for c in f.calls_to("sendMessage") if c.text.startswith("곧")) >= len(people):
                break
            await asyncio.sleep(0.05)
    task_b.cancel()
    await asyncio.gather(task_b, return_exceptions=True)
    reminded = Counter(c.chat_id for c in f.calls_to("sendMessage") if c.text.startswith("곧"))
    assert reminded == Counter({u.split(":")[1]: 1 for u in people})
    announced = Counter(c.chat_id for c in f.calls_to("sendMessage") if "act:1:going" in c.button_data)
    assert set(announced.values()) == {2}  # announcement + reminder carry the buttons, once each


async def test_pause_and_resume_in_the_chat_take_effect_at_once(
    app, fake_telegram: FakeTelegram, redis: aioredis.Redis, clock: FakeClock
) -> None:
    f = fake_telegram
    s = _sched(app)
    user = "telegram:6002"
    await add_person(redis, user, T0, rhythm=Rhythm.DAILY)
    await s.engine.rebuild()
    assert await s.checkins.next_at(user) is not None
    async with bot_running(app):
        await _say(f, 6002, "/pause", 1)
        await s.engine.tick()
        assert await s.checkins.next_at(user) is None
        await _say(f, 6002, "/resume", 2)
        await s.engine.tick()
        assert await s.checkins.next_at(user) is not None
