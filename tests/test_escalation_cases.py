"""The case service with its outbox, against real Redis and the fake Bot API (aiogram's client)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.telegram.sender import TelegramSender
from clock import FakeClock
from dialogues.messages import EscalationKind, EscalationRequest, IncomingMessage
from escalation.cases import Counsellor, Level, Status
from escalation.service import CaseService
from escalation.sla import SlaWatcher
from models.assessment import Assessment, RiskLevel
from outbox.consumer import OutboxConsumer
from outbox.pacing import PacingConfig
from outbox.stream import RedisOutbox
from storage import keys
from storage.profiles import ProfileRepository
from tests.fakes.telegram_api import FakeTelegram

GROUP = -100500
SUPERVISOR = -100600
KIM = Counsellor("501", "Kim")
LEE = Counsellor("502", "Lee")


@dataclass
class World:
    redis: aioredis.Redis
    clock: FakeClock
    profiles: ProfileRepository
    service: CaseService
    consumer: OutboxConsumer
    fake: FakeTelegram
    updates: int = 0

    async def person(self, chat: int, **changes: object):
        profile = await self.profiles.get_or_create(f"telegram:{chat}", self.clock.now())
        if changes:
            profile = await self.profiles.update(profile.user_key, **changes)
        return profile

    def message(self, chat: int, text: str, update: int | None = None) -> IncomingMessage:
        self.updates += 1
        return IncomingMessage(
            "telegram", str(chat), str(update or self.updates), self.clock.now(), text=text
        )

    async def crisis(self, chat: int, text: str = "죽고 싶어", update: int | None = None, **kw: object):
        profile = await self.person(chat, share_consent=True, nickname="별")
        msg = self.message(chat, text, update)
        kind = kw.get("kind", EscalationKind.CRISIS)
        level = RiskLevel.CRISIS if kind is not EscalationKind.TALK_REQUEST else RiskLevel.NONE
        assessment = Assessment(level, 0.97, ("lexicon:explicit_ideation",))
        request = EscalationRequest(kind, assessment.reasons if level is RiskLevel.CRISIS else (), 0.97)  # type: ignore[arg-type]
        await self.service.record(msg, profile, assessment, request)
        return msg

    async def deliver(self) -> int:
        return await self.consumer.run_once()


@pytest.fixture
async def world(redis: aioredis.Redis, fake_telegram: FakeTelegram) -> AsyncIterator[World]:
    clock = FakeClock()
    profiles = ProfileRepository(redis)
    outbox = RedisOutbox(redis)
    service = CaseService(
        redis,
        outbox,
        profiles,
        clock,
        counsellor_chat_id=GROUP,
        supervisor_chat_id=SUPERVISOR,
        crisis_sla_s=300,
        distress_sla_s=3600,
    )
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake_telegram.base_url))
    bot = Bot(fake_telegram.token, session=session)
    consumer = OutboxConsumer(
        redis,
        {"telegram": TelegramSender(bot)},
        pacing=PacingConfig.unlimited(),
        on_blocked=lambda uk: profiles.update(uk, active=False),
    )
    try:
        yield World(redis, clock, profiles, service, consumer, fake_telegram)
    finally:
        await bot.session.close()


async def test_crisis_opens_case_with_topic_and_alert(world: World):
    await world.crisis(11)
    await world.deliver()
    topic = world.fake.calls_to("createForumTopic", GROUP)
    alert = world.fake.calls_to("sendMessage", GROUP)
    assert len(topic) == 1 and len(alert) == 1
    text = alert[0].text
    assert "위기" in text and "Crisis" in text and "별" in text and "죽고 싶어" in text
    assert "telegram:11" not in text and "11" not in topic[0].params["name"].replace("#", "")[:0]
    assert alert[0].button_data == ["cs:c:1", "cs:r:1", "cs:f:1"]
    assert alert[0].params["message_thread_id"]
    case = await world.service.store.get("1")
    assert case is not None and case.status is Status.OPEN and case.level is Level.CRISIS
    assert await world.redis.zrange(keys.case_queue(), 0, -1) == ["1"]


async def test_record_is_idempotent_per_update(world: World):
    await world.crisis(12, update=900)
    await world.crisis(12, update=900)
    await world.deliver()
    assert len(world.fake.calls_to("sendMessage", GROUP)) == 1
    case = await world.service.store.get("1")
    assert case is not None and len(case.triggers) == 1


async def test_second_crisis_updates_the_same_case(world: World):
    await world.crisis(13, "죽고 싶어")
    await world.deliver()
    await world.crisis(13, "오늘 밤에 끝낼 거야")
    await world.deliver()
    assert await world.redis.zcard(keys.case_queue()) == 1
    sends = world.fake.calls_to("sendMessage", GROUP)
    assert len(sends) == 2 and "오늘 밤에 끝낼 거야" in sends[1].text
    edits = world.fake.calls_to("editMessageText", GROUP)
    assert len(edits) == 1 and "오늘 밤에 끝낼 거야" in edits[0].text
    assert int(edits[0].params["message_id"]) == (await world.service.refs.message_id("case:1:alert"))


async def test_talk_request_is_lower_priority_then_raised_by_crisis(world: World):
    await world.crisis(14, "/talk", kind=EscalationKind.TALK_REQUEST)
    case = await world.service.store.get("1")
    assert case is not None and case.level is Level.TALK_REQUEST and "asked_for_person" in case.reasons
    await world.crisis(15)  # another person's crisis jumps ahead in the queue
    assert await world.redis.zrange(keys.case_queue(), 0, -1) == ["2", "1"]
    await world.crisis(14, "사라지고 싶어")
    case = await world.service.store.get("1")
    assert case is not None and case.level is Level.CRISIS
    assert await world.redis.zrange(keys.case_queue(), 0, -1) == ["1", "2"]  # older first now
    await world.deliver()
    assert any("raised" in t for t in world.fake.texts_to(GROUP))


async def test_claim_edits_alert_and_others_are_refused(world: World):
    await world.crisis(16)
    await world.deliver()
    result = await world.service.claim("1", KIM)
    assert result.ok
    await world.deliver()
    edit = world.fake.calls_to("editMessageText", GROUP)[-1]
    assert "Kim" in edit.text and "claimed by Kim at 12:00" in edit.text  # 03:00 UTC = 12:00 KST
    assert edit.button_data == ["cs:r:1", "cs:f:1"]
    refused = await world.service.claim("1", LEE)
    assert not refused.ok and "Kim" in refused.message
    case = await world.service.store.get("1")
    assert case is not None and case.claimed_by == "501"
    assert await world.redis.zscore(keys.case_sla(), "1") is None


async def test_relay_both_ways_and_end(world: World):
    await world.crisis(17)
    await world.deliver()
    await world.service.set_signature(KIM.id, "지은 상담사")
    result = await world.service.relay_from_counsellor("1", KIM, "안녕하세요, 센터 상담사예요.")
    assert result.ok
    await world.deliver()
    to_person = world.fake.texts_to(17)
    assert len(to_person) == 1 and "지은 상담사" in to_person[0] and "안녕하세요" in to_person[0]
    assert "Kim" not in to_person[0]
    assert await world.service.in_handoff("telegram:17")
    case = await world.service.store.get("1")
    assert case is not None and case.status is Status.IN_CONTACT
    profile = await world.person(17)
    await world.service.relay_from_person(world.message(17, "고마워요"), profile)
    await world.deliver()
    assert world.fake.texts_to(GROUP)[-1] == "💬 별: 고마워요"
    await world.service.end_handoff("1", KIM)
    await world.deliver()
    assert not await world.service.in_handoff("telegram:17")
    assert "109" in world.fake.texts_to(17)[-1]


async def test_other_counsellor_cannot_relay_on_a_claimed_case(world: World):
    await world.crisis(18)
    await world.service.claim("1", KIM)
    result = await world.service.relay_from_counsellor("1", LEE, "hi")
    assert not result.ok
    await world.deliver()
    assert world.fake.texts_to(18) == []


async def test_resolve_and_false_alarm_close_cases_and_count(world: World):
    await world.crisis(19)
    await world.crisis(20)
    world.clock.advance(minutes=2)
    await world.service.claim("1", KIM)
    world.clock.advance(minutes=10)
    assert (await world.service.resolve("1", KIM)).ok
    assert (await world.service.false_alarm("2", LEE)).ok
    assert not (await world.service.resolve("2", LEE)).ok  # already closed
    assert await world.redis.zcard(keys.case_queue()) == 0
    assert not await world.redis.exists(keys.open_case("telegram:19"))
    assert 0 < await world.redis.ttl(keys.case_texts("1"))
    await world.deliver()
    assert "resolved by Kim" in world.fake.calls_to("editMessageText", GROUP)[-2].text
    # a new crisis after closing opens a new case
    await world.crisis(19, "또 힘들어")
    assert await world.redis.get(keys.open_case("telegram:19")) == "3"


async def test_sla_realert_then_supervisor(world: World):
    watcher = SlaWatcher(world.service, world.clock)
    await world.crisis(21)
    await world.deliver()
    assert await watcher.run_once() == 0
    world.clock.advance(seconds=301)
    assert await watcher.run_once() == 1
    assert await watcher.run_once() == 0  # fired once
    await world.deliver()
    assert "⏰" in world.fake.texts_to(GROUP)[-1]
    world.clock.advance(seconds=301)
    assert await watcher.run_once() == 1
    await world.deliver()
    supervisor = world.fake.texts_to(SUPERVISOR)
    assert len(supervisor) == 1 and "Supervisor" in supervisor[0]
    await world.service.claim("1", KIM)
    world.clock.advance(seconds=3000)
    assert await watcher.run_once() == 0


async def test_not_a_forum_sends_plain_alerts_and_replies_map_to_case(world: World):
    world.fake.fail("createForumTopic", 400, description="Bad Request: the chat is not a forum")
    await world.crisis(22)
    await world.deliver()
    alert = world.fake.calls_to("sendMessage", GROUP)[0]
    assert "message_thread_id" not in alert.params
    message_id = await world.service.refs.message_id("case:1:alert")
    assert await world.service.case_for_message(GROUP, reply_to=message_id) == "1"
    await world.crisis(23)
    await world.deliver()
    assert len(world.fake.calls_to("createForumTopic", GROUP)) == 1  # learned: no more topics


async def test_erase_pseudonymises_cases(world: World):
    await world.crisis(24)
    await world.deliver()
    await world.service.erase("telegram:24")
    case = await world.service.store.get("1")
    assert case is not None and case.user_key == "erased" and case.status is Status.RESOLVED
    assert not await world.redis.exists(keys.case_texts("1"))
    await world.deliver()
    assert "죽고" not in world.fake.calls_to("editMessageText", GROUP)[-1].text


async def test_no_consent_no_text(world: World):
    profile = await world.person(25)
    msg = world.message(25, "죽고 싶어")
    assessment = Assessment(RiskLevel.CRISIS, 0.9, ("lexicon:x",))
    await world.service.record(msg, profile, assessment, EscalationRequest(EscalationKind.CRISIS, (), 0.9))
    await world.deliver()
    assert "죽고" not in world.fake.texts_to(GROUP)[0]
    assert not await world.redis.exists(keys.case_texts("1"))
    _ = timedelta


async def test_stats_per_level(world: World):
    from escalation import queue

    await world.crisis(30)
    await world.crisis(31)
    await world.crisis(32, "/talk", kind=EscalationKind.TALK_REQUEST)
    world.clock.advance(minutes=1)
    await world.service.claim("1", KIM)
    world.clock.advance(minutes=4)
    await world.service.claim("2", LEE)
    world.clock.advance(minutes=5)
    await world.service.resolve("1", KIM)
    await world.service.false_alarm("2", LEE)
    figures = queue.stats(await queue.all_cases(world.redis))
    crisis = figures["crisis"]
    assert crisis["alerts"] == 2 and crisis["resolved"] == 1 and crisis["false_alarms"] == 1
    assert crisis["false_alarm_rate"] == 0.5
    assert crisis["claim_p50_s"] == 60 and crisis["claim_p90_s"] == 300
    assert crisis["resolve_p50_s"] == 600
    assert figures["talk_request"]["open"] == 1 and figures["all"]["alerts"] == 3


async def test_cli_list_show_resolve_stats(
    world: World, redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import asyncio
    import json

    from bot.cli import main

    monkeypatch.setenv("IEUM_REDIS_URL", redis_url)
    await world.crisis(40)
    await world.crisis(41, "/talk", kind=EscalationKind.TALK_REQUEST)
    assert await asyncio.to_thread(main, ["cases", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in listing["cases"]] == ["1", "2"]  # crisis first
    assert "user_key" not in listing["cases"][0]
    assert await asyncio.to_thread(main, ["cases", "list"]) == 0
    assert "crisis" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["cases", "show", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["audit"][0]["what"] == "opened" and shown["excerpt"] == "죽고 싶어"
    assert await asyncio.to_thread(main, ["cases", "resolve", "1", "--by", "park"]) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["cases", "list", "--status", "resolved", "--json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)["cases"]] == ["1"]
    assert await asyncio.to_thread(main, ["cases", "stats"]) == 0
    assert "crisis" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["cases", "resolve", "99"]) == 1


async def test_two_consumers_share_the_work_and_send_each_once(world: World):
    import asyncio

    outbox = world.service.outbox
    from outbox.types import OutboundMessage, Priority

    await outbox.enqueue_many(
        (OutboundMessage("telegram", str(60_000 + i), f"m{i}", "test", Priority.BULK), f"k{i}")
        for i in range(200)
    )
    second = OutboxConsumer(
        world.redis, world.consumer.senders, pacing=PacingConfig.unlimited(), name="second", max_buffered=20
    )
    world.consumer.max_buffered = 20  # each takes a share at a time
    first_task = asyncio.create_task(world.consumer.run_forever())
    second_task = asyncio.create_task(second.run_forever())
    try:
        await world.fake.wait_for(lambda calls: len(calls) >= 200, timeout=20)
        await asyncio.sleep(0.3)
    finally:
        first_task.cancel()
        second_task.cancel()
        await asyncio.gather(first_task, second_task, return_exceptions=True)
    chats = [c.chat_id for c in world.fake.calls_to("sendMessage")]
    assert len(chats) == 200 and len(set(chats)) == 200
    assert world.consumer.stats.delivered > 0 and second.stats.delivered > 0


async def test_outreach_after_missed_checkins_and_not_for_the_calm(world: World):
    from escalation.outreach import OutreachScan
    from storage.profiles import Mood

    scan = OutreachScan(world.service, world.profiles, world.clock, silence_days=30, missed_checkins=2)
    worried = await world.person(50)
    calm = await world.person(51)
    await world.profiles.add_mood(worried.user_key, Mood.NOT_GREAT, world.clock.now())
    await world.profiles.add_mood(calm.user_key, Mood.GOOD, world.clock.now())
    for person in (worried, calm):
        await world.redis.hset(keys.checkin_plan(person.user_key), "unanswered", "1")
    world.clock.advance(days=1)
    assert await scan.run_once() == 0  # one missed check-in is not yet silence
    for person in (worried, calm):
        await world.redis.hset(keys.checkin_plan(person.user_key), "unanswered", "2")
    assert await scan.run_once() == 1
    assert await world.redis.get(keys.open_case(worried.user_key)) == "1"
    assert not await world.redis.exists(keys.open_case(calm.user_key))
    await world.deliver()
    assert "먼저 연락" in world.fake.texts_to(GROUP)[0]
    inactive = await world.person(52)
    await world.profiles.add_mood(inactive.user_key, Mood.WANT_TO_TALK, world.clock.now())
    await world.profiles.update(inactive.user_key, active=False)  # blocked the bot: nobody to reach
    await world.redis.hset(keys.checkin_plan(inactive.user_key), "unanswered", "5")
    assert await scan.run_once() == 0


async def test_distress_case_uses_the_distress_sla(world: World):
    profile = await world.person(53, share_consent=True)
    msg = world.message(53, "너무 외로워")
    assessment = Assessment(RiskLevel.DISTRESS, 0.5, ("keyword:distress",))
    await world.service.record(msg, profile, assessment, EscalationRequest(EscalationKind.DISTRESS, (), 0.5))
    watcher = SlaWatcher(world.service, world.clock)
    world.clock.advance(seconds=301)  # the crisis SLA is not the distress one
    assert await watcher.run_once() == 0
    world.clock.advance(seconds=3600)
    assert await watcher.run_once() == 1
    case = await world.service.store.get("1")
    assert case is not None and case.level is Level.DISTRESS and case.sla_stage == 1


async def test_assessor_failure_is_a_crisis_case(world: World):
    profile = await world.person(54)
    msg = world.message(54, "...")
    assessment = Assessment(RiskLevel.CRISIS, 1.0, ("assessor_failure",))
    request = EscalationRequest(EscalationKind.ASSESSOR_FAILURE, ("assessor_failure",), 1.0)
    await world.service.record(msg, profile, assessment, request)
    case = await world.service.store.get("1")
    assert case is not None and case.level is Level.CRISIS and case.reasons == ["assessor_failure"]
    await world.deliver()
    assert "위험 판단 실패" in world.fake.texts_to(GROUP)[0]


async def test_closing_line_is_sent_once_after_end_then_resolve(world: World):
    await world.crisis(55)
    await world.service.relay_from_counsellor("1", KIM, "안녕하세요")
    await world.service.end_handoff("1", KIM)
    await world.service.end_handoff("1", KIM)  # a second /end does nothing
    await world.service.resolve("1", KIM)
    await world.deliver()
    texts = world.fake.texts_to(55)
    assert len(texts) == 2 and "109" in texts[1]  # the relay, then one closing line
