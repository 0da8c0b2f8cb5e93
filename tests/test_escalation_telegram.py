"""Escalation end to end: the whole bot (inbox, routers, pipeline, case service, outbox consumer)
against the fake Bot API server over loopback with aiogram's real client, and real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.app import App, build_app
from clock import FakeClock, SystemClock
from dialogues.messages import IncomingMessage
from escalation.cases import Status
from escalation.service import CaseService
from models.assessment import PastSignal, RiskLevel
from models.placeholder import KeywordAssessor
from storage import keys
from storage.risk_window import RiskWindow
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_harness import bot_running, bot_settings

GROUP = -1001234
SUPERVISOR = -1005678
COUNSELLOR = 501
STRANGER = 999
PERSON = 7001
CRISIS = "요즘 너무 힘들어서 죽고 싶어"


async def make_app(fake: FakeTelegram, redis_url: str, redis: aioredis.Redis, **overrides: Any) -> App:
    clock = overrides.pop("clock", SystemClock())
    settings = bot_settings(
        fake,
        redis_url,
        counsellor_chat_id=GROUP,
        supervisor_chat_id=SUPERVISOR,
        counsellor_ids=str(COUNSELLOR),
        **overrides,
    )
    app = await build_app(settings, redis, clock=clock, assessor=KeywordAssessor())
    consumer = app.extras["outbox_consumer"]
    consumer.retry_delays = (0.05, 0.05, 0.05)
    return app


@pytest.fixture
async def app(fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis) -> AsyncIterator[App]:
    yield await make_app(fake_telegram, redis_url, redis)


def service(app: App) -> CaseService:
    assert isinstance(app.escalation, CaseService)
    return app.escalation


def ok_calls(fake: FakeTelegram, method: str, chat: int | None = None) -> list[Any]:
    return [c for c in fake.calls_to(method, chat) if "_failed" not in c.params]


async def crisis_and_alert(fake: FakeTelegram, text: str = CRISIS) -> int:
    """Send a crisis message; return the case topic's thread id once the alert is there."""
    before = len(ok_calls(fake, "sendMessage", GROUP))
    fake.push_update(fake.message_update(PERSON, text))
    await fake.wait_for(lambda _c: len(ok_calls(fake, "sendMessage", GROUP)) > before, timeout=5)
    return int(ok_calls(fake, "sendMessage", GROUP)[0].params["message_thread_id"])


def press(fake: FakeTelegram, data: str, user: int) -> None:
    fake.push_update(fake.callback_update(GROUP, data, from_id=user, chat_type="supergroup"))


async def test_crisis_gets_109_reply_and_counsellor_alert_at_once(app: App, fake_telegram: FakeTelegram):
    async with bot_running(app):
        pushed = time.monotonic()
        fake_telegram.push_update(fake_telegram.message_update(PERSON, CRISIS))
        await fake_telegram.wait_for(lambda _c: ok_calls(fake_telegram, "sendMessage", GROUP), timeout=5)
        await fake_telegram.wait_for(lambda _c: ok_calls(fake_telegram, "sendMessage", PERSON), timeout=5)
    reply = ok_calls(fake_telegram, "sendMessage", PERSON)[0]
    alert = ok_calls(fake_telegram, "sendMessage", GROUP)[0]
    assert "109" in " ".join(c.text for c in ok_calls(fake_telegram, "sendMessage", PERSON))
    # Prompt, not after a periodic sweep; the under-a-second figure is `ieum bench alerts`'s to measure.
    assert reply.ts - pushed < 3.0
    assert alert.ts - pushed < 3.0
    assert "위기" in alert.text and "Crisis" in alert.text
    assert str(PERSON) not in alert.text  # counsellors never see the account
    assert alert.button_data == ["cs:c:1", "cs:r:1", "cs:f:1"]
    assert len(fake_telegram.calls_to("createForumTopic", GROUP)) == 1


async def test_second_crisis_message_updates_the_same_case(app: App, fake_telegram: FakeTelegram):
    async with bot_running(app):
        await crisis_and_alert(fake_telegram)
        fake_telegram.push_update(fake_telegram.message_update(PERSON, "자살 말고는 방법이 없어"))
        await fake_telegram.wait_for(lambda _c: ok_calls(fake_telegram, "editMessageText", GROUP), timeout=5)
    assert len(fake_telegram.calls_to("createForumTopic")) == 1
    assert await app.redis.zcard(keys.case_queue()) == 1
    case = await service(app).store.get("1")
    assert case is not None and len(case.triggers) == 2


async def test_stranger_button_is_refused_and_nothing_changes(app: App, fake_telegram: FakeTelegram):
    async with bot_running(app):
        await crisis_and_alert(fake_telegram)
        press(fake_telegram, "cs:c:1", STRANGER)
        await fake_telegram.wait_for(lambda _c: fake_telegram.calls_to("answerCallbackQuery"), timeout=5)
    answer = fake_telegram.calls_to("answerCallbackQuery")[0]
    assert "상담사만" in answer.params["text"] and answer.params.get("show_alert") in (True, "true")
    case = await service(app).store.get("1")
    assert case is not None and case.status is Status.OPEN and case.claimed_by is None
    assert not fake_telegram.calls_to("editMessageText")


async def test_claim_edits_alert_then_relay_both_ways_and_end(app: App, fake_telegram: FakeTelegram):
    async with bot_running(app):
        thread = await crisis_and_alert(fake_telegram)
        fake_telegram.push_update(
            fake_telegram.message_update(
                GROUP, "/signas 지은 상담사", chat_type="supergroup", from_id=COUNSELLOR, thread_id=thread
            )
        )
        await fake_telegram.wait_for(lambda _c: len(ok_calls(fake_telegram, "sendMessage", GROUP)) >= 2)
        press(fake_telegram, "cs:c:1", COUNSELLOR)
        await fake_telegram.wait_for(lambda _c: ok_calls(fake_telegram, "editMessageText", GROUP), timeout=5)
        edit = ok_calls(fake_telegram, "editMessageText", GROUP)[0]
        assert "지은 상담사" in edit.text and "claimed by" in edit.text
        replies_before = len(ok_calls(fake_telegram, "sendMessage", PERSON))
        fake_telegram.push_update(
            fake_telegram.message_update(
                GROUP,
                "안녕하세요, 이야기 들을게요.",
                chat_type="supergroup",
                from_id=COUNSELLOR,
                thread_id=thread,
            )
        )
        await fake_telegram.wait_for(
            lambda _c: len(ok_calls(fake_telegram, "sendMessage", PERSON)) > replies_before, timeout=5
        )
        relayed = ok_calls(fake_telegram, "sendMessage", PERSON)[-1].text
        assert "지은 상담사" in relayed and "이야기 들을게요" in relayed and str(COUNSELLOR) not in relayed
        assert await service(app).in_handoff(f"telegram:{PERSON}")
        fake_telegram.push_update(fake_telegram.message_update(PERSON, "고마워요"))
        await fake_telegram.wait_for(
            lambda _c: any("고마워요" in t for t in fake_telegram.texts_to(GROUP)), timeout=5
        )
        fake_telegram.push_update(
            fake_telegram.message_update(
                GROUP, "/end", chat_type="supergroup", from_id=COUNSELLOR, thread_id=thread
            )
        )
        await fake_telegram.wait_for(
            lambda _c: "109" in ok_calls(fake_telegram, "sendMessage", PERSON)[-1].text, timeout=5
        )
    # the companion stayed quiet while the counsellor talked: only the relay and the closing line
    assert len(ok_calls(fake_telegram, "sendMessage", PERSON)) == replies_before + 2
    assert not await service(app).in_handoff(f"telegram:{PERSON}")
    # what counsellors said among themselves never reached the companion as a young person
    assert await app.profiles.get(f"telegram:{COUNSELLOR}") is None


async def test_resolve_and_false_alarm_buttons(app: App, fake_telegram: FakeTelegram, redis: aioredis.Redis):
    async with bot_running(app):
        await crisis_and_alert(fake_telegram)
        press(fake_telegram, "cs:r:1", COUNSELLOR)
        await fake_telegram.wait_for(lambda _c: ok_calls(fake_telegram, "editMessageText", GROUP), timeout=5)
        fake_telegram.push_update(fake_telegram.message_update(PERSON, "또 죽고 싶어졌어"))
        await fake_telegram.wait_for(
            lambda _c: len(fake_telegram.calls_to("createForumTopic")) == 2, timeout=5
        )
        press(fake_telegram, "cs:f:2", COUNSELLOR)
        await fake_telegram.wait_for(lambda _c: len(ok_calls(fake_telegram, "editMessageText", GROUP)) >= 2)
    first, second = await service(app).store.get("1"), await service(app).store.get("2")
    assert first is not None and first.status is Status.RESOLVED
    assert second is not None and second.status is Status.FALSE_ALARM
    assert "resolved by" in ok_calls(fake_telegram, "editMessageText", GROUP)[0].text
    assert await redis.zcard(keys.case_queue()) == 0


async def test_crash_between_case_write_and_send_then_alert_sent_once(
    fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis
):
    first = await make_app(fake_telegram, redis_url, redis)
    msg = IncomingMessage("telegram", str(PERSON), "31337", first.clock.now(), text=CRISIS)
    replies = await first.pipeline.handle(msg)  # written, replied; the process dies before sending
    assert any("109" in r.text for r in replies)
    assert fake_telegram.calls_to("sendMessage", GROUP) == []
    await first.pipeline.handle(msg)  # a redelivered update changes nothing
    restarted = await make_app(fake_telegram, redis_url, redis)
    async with bot_running(restarted):
        await fake_telegram.wait_for(lambda _c: ok_calls(fake_telegram, "sendMessage", GROUP), timeout=5)
    again = await make_app(fake_telegram, redis_url, redis)
    assert await again.extras["outbox_consumer"].run_once() == 0
    assert len(ok_calls(fake_telegram, "sendMessage", GROUP)) == 1
    assert len(fake_telegram.calls_to("createForumTopic", GROUP)) == 1


async def test_alert_after_429_retry_after_is_sent_once(app: App, fake_telegram: FakeTelegram):
    fake_telegram.fail("sendMessage", 429, retry_after=1, chat_id=GROUP)
    async with bot_running(app):
        pushed = time.monotonic()
        fake_telegram.push_update(fake_telegram.message_update(PERSON, CRISIS))
        await fake_telegram.wait_for(lambda _c: ok_calls(fake_telegram, "sendMessage", GROUP), timeout=5)
    sent = ok_calls(fake_telegram, "sendMessage", GROUP)
    assert len(sent) == 1 and sent[0].ts - pushed >= 1.0
    assert len(fake_telegram.calls_to("sendMessage", GROUP)) == 2  # the refused try and the one that went


async def test_5xx_storm_dead_letters_and_shows_in_cases_list(
    app: App,
    fake_telegram: FakeTelegram,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    fake_telegram.fail("sendMessage", 502, times=-1, chat_id=GROUP)
    async with bot_running(app):
        fake_telegram.push_update(fake_telegram.message_update(PERSON, CRISIS))
        await fake_telegram.wait_for(
            lambda _c: len(fake_telegram.calls_to("sendMessage", GROUP)) >= 4, timeout=5
        )
        consumer = app.extras["outbox_consumer"]
        deadline = time.monotonic() + 5
        while consumer.stats.dead < 1 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert len(fake_telegram.calls_to("sendMessage", GROUP)) == 4  # first try + 3 retries
    from bot.cli import main

    monkeypatch.setenv("IEUM_REDIS_URL", redis_url)
    assert await asyncio.to_thread(main, ["cases", "list", "--json"]) == 0
    import json

    listing = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in listing["cases"]] == ["1"]
    assert listing["dead_letters"][0]["kind"] == "alert"
    assert "502" in listing["dead_letters"][0]["error"] or listing["dead_letters"][0]["error"]


async def test_sla_realert_and_supervisor_with_injected_clock(
    fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis
):
    clock = FakeClock()
    app = await make_app(fake_telegram, redis_url, redis, clock=clock, crisis_sla_seconds=60)
    watcher = app.extras["sla_watcher"]
    async with bot_running(app):
        await crisis_and_alert(fake_telegram)
        assert await watcher.run_once() == 0
        clock.advance(seconds=61)
        assert await watcher.run_once() == 1
        await fake_telegram.wait_for(
            lambda _c: any("⏰" in t for t in fake_telegram.texts_to(GROUP)), timeout=5
        )
        clock.advance(seconds=61)
        assert await watcher.run_once() == 1
        await fake_telegram.wait_for(lambda _c: ok_calls(fake_telegram, "sendMessage", SUPERVISOR), timeout=5)
    assert "Supervisor" in fake_telegram.texts_to(SUPERVISOR)[0]
    assert sum("⏰" in t for t in fake_telegram.texts_to(GROUP)) == 1


async def _after_a_worrying_message(
    fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis
) -> tuple[App, FakeClock, str]:
    """An app whose outreach waits for two days of silence; a person whose last signal was distress."""
    clock = FakeClock()
    app = await make_app(fake_telegram, redis_url, redis, clock=clock, outreach_silence_days=2)
    user_key = f"telegram:{PERSON}"
    await app.profiles.get_or_create(user_key, clock.now())
    await RiskWindow(redis).push(user_key, PastSignal(clock.now(), RiskLevel.DISTRESS, 0.6))
    return app, clock, user_key


async def test_outreach_after_configured_silence(
    fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis
):
    app, clock, _user_key = await _after_a_worrying_message(fake_telegram, redis_url, redis)
    outreach = app.extras["outreach"]
    clock.advance(days=1)
    assert await outreach.run_once() == 0  # not quiet long enough yet
    clock.advance(days=1, minutes=1)
    assert await outreach.run_once() == 1
    assert await outreach.run_once() == 0  # one outreach per episode
    case = await service(app).store.get("1")
    assert case is not None and case.level.value == "outreach" and case.reasons == ["went_quiet"]
    async with bot_running(app):
        await fake_telegram.wait_for(lambda _c: ok_calls(fake_telegram, "sendMessage", GROUP), timeout=5)
    assert "Outreach" in ok_calls(fake_telegram, "sendMessage", GROUP)[0].text


async def test_outreach_waits_while_the_person_keeps_talking_after_a_worrying_signal(
    fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis
):
    """Check-ins let pass are not silence when the person still writes (unscored messages too)."""
    app, clock, user_key = await _after_a_worrying_message(fake_telegram, redis_url, redis)
    await redis.hset(keys.checkin_plan(user_key), "unanswered", "3")  # check-ins go unanswered
    outreach = app.extras["outreach"]
    clock.advance(hours=20)
    await app.pipeline.handle(IncomingMessage("telegram", str(PERSON), "1", clock.now(), text="라면 먹었어"))
    clock.advance(hours=20)
    assert await outreach.run_once() == 0  # still talking: not quiet
    clock.advance(hours=30)  # two days after the last message
    assert await outreach.run_once() == 1
    case = await service(app).store.get("1")
    assert case is not None and case.level.value == "outreach"


async def test_pipeline_in_handoff_relays_text_but_answers_commands(
    fake_telegram: FakeTelegram, redis_url: str, redis: aioredis.Redis
):
    from escalation.cases import Counsellor

    app = await make_app(fake_telegram, redis_url, redis)
    now = app.clock.now
    await app.pipeline.handle(IncomingMessage("telegram", str(PERSON), "1", now(), text=CRISIS))
    assert (await service(app).relay_from_counsellor("1", Counsellor("501", "Kim"), "안녕하세요")).ok
    assert await app.pipeline.handle(IncomingMessage("telegram", str(PERSON), "2", now(), text="네")) == ()
    from dialogues.messages import InputKind

    help_msg = IncomingMessage(
        "telegram", str(PERSON), "3", now(), kind=InputKind.COMMAND, text="/help", command="help"
    )
    assert await app.pipeline.handle(help_msg)  # the companion still answers commands
    crisis = await app.pipeline.handle(IncomingMessage("telegram", str(PERSON), "4", now(), text="자살"))
    assert any("109" in r.text for r in crisis)  # and a crisis still gets the crisis lines
    relays = [m for _, m in await redis.xrange(keys.outbox_lane(1)) if '"kind":"relay"' in m["m"]]
    assert len(relays) == 3  # counsellor -> person, "네" and the crisis message -> the case thread
