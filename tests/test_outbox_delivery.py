"""The outbox end to end: Redis Streams, aiogram's real client, the fake Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.telegram.sender import TelegramSender
from dialogues.messages import QuickReply
from outbox.consumer import OutboxConsumer
from outbox.pacing import PacingConfig
from outbox.refs import RefStore
from outbox.stream import RedisOutbox
from outbox.types import Action, Delivery, OutboundMessage, Priority
from storage import keys
from storage.profiles import ProfileRepository
from tests.fakes.telegram_api import FakeTelegram

GROUP = "-100500"
FAST_RETRIES = (0.05, 0.05, 0.05)


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake_telegram.base_url))
    bot = Bot(fake_telegram.token, session=session)
    try:
        yield bot
    finally:
        await bot.session.close()


def consumer(redis: aioredis.Redis, bot: Bot, **kw: object) -> OutboxConsumer:
    kw.setdefault("pacing", PacingConfig.unlimited())
    kw.setdefault("retry_delays", FAST_RETRIES)
    return OutboxConsumer(redis, {"telegram": TelegramSender(bot)}, **kw)  # type: ignore[arg-type]


def msg(chat: str | int, text: str, **kw: object) -> OutboundMessage:
    return OutboundMessage(channel="telegram", chat_id=str(chat), text=text, kind="test", **kw)  # type: ignore[arg-type]


async def test_enqueue_is_idempotent_per_key(redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram):
    outbox = RedisOutbox(redis)
    assert await outbox.enqueue(msg(42, "안녕 hello"), key="k1")
    assert not await outbox.enqueue(msg(42, "안녕 hello"), key="k1")
    assert await outbox.enqueue_many([(msg(43, "a"), "k2"), (msg(44, "b"), "k1")]) == 1
    assert await consumer(redis, bot).run_once() == 2
    assert fake_telegram.texts_to(42) == ["안녕 hello"]
    assert fake_telegram.texts_to(43) == ["a"]
    assert fake_telegram.texts_to(44) == []
    assert await redis.xlen(keys.outbox_lane(int(Priority.NORMAL))) == 0  # acknowledged and deleted


async def test_crisis_goes_ahead_of_bulk(redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram):
    outbox = RedisOutbox(redis)
    bulk = [(msg(1000 + i, f"bulk {i}", priority=Priority.BULK), f"b{i}") for i in range(20)]
    await outbox.enqueue_many(bulk)
    await outbox.enqueue(msg(7, "crisis", priority=Priority.CRISIS), key="c")
    pacing = PacingConfig(global_per_s=200, chat_per_s=0, group_per_min=0)
    await consumer(redis, bot, pacing=pacing).run_once()
    sends = fake_telegram.calls_to("sendMessage")
    assert len(sends) == 21
    assert sends[0].text == "crisis"


async def test_topic_then_message_in_it_then_edit(
    redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram
):
    outbox = RedisOutbox(redis)
    buttons = ((QuickReply("맡기 Claim", "cs:claim:1"),),)
    await outbox.enqueue(
        msg(GROUP, "case 1", action=Action.CREATE_TOPIC, topic_ref="case:1:topic", priority=Priority.CRISIS),
        key="t",
    )
    await outbox.enqueue(
        msg(GROUP, "alert", topic_ref="case:1:topic", message_ref="case:1:alert", buttons=buttons), key="a"
    )
    await outbox.enqueue(msg(GROUP, "alert v2", action=Action.EDIT, message_ref="case:1:alert"), key="e")
    await consumer(redis, bot).run_once()
    topic = fake_telegram.calls_to("createForumTopic")[0]
    send = fake_telegram.calls_to("sendMessage")[0]
    edit = fake_telegram.calls_to("editMessageText")[0]
    assert topic.params["name"] == "case 1"
    thread = int(send.params["message_thread_id"])
    assert send.button_data == ["cs:claim:1"]
    refs = RefStore(redis)
    message_id = await refs.message_id("case:1:alert")
    assert int(edit.params["message_id"]) == message_id
    assert await refs.ref_for_thread(GROUP, thread) == "case:1:topic"
    assert await refs.ref_for_message(GROUP, message_id) == "case:1:alert"


async def test_not_a_forum_falls_back_to_plain_messages(
    redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram
):
    fake_telegram.fail("createForumTopic", 400, description="Bad Request: the chat is not a forum")
    outbox = RedisOutbox(redis)
    await outbox.enqueue(msg(GROUP, "case 2", action=Action.CREATE_TOPIC, topic_ref="case:2:topic"), key="t")
    await outbox.enqueue(msg(GROUP, "alert", topic_ref="case:2:topic"), key="a")
    await consumer(redis, bot).run_once()
    send = fake_telegram.calls_to("sendMessage")[0]
    assert "message_thread_id" not in send.params
    assert not await RefStore(redis).chat_is_forum(GROUP)


async def test_429_waits_retry_after_and_sends_once(
    redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram
):
    fake_telegram.fail("sendMessage", 429, retry_after=1)
    await RedisOutbox(redis).enqueue(msg(5, "after the wait", priority=Priority.CRISIS), key="x")
    started = time.monotonic()
    worker = consumer(redis, bot)
    await worker.run_once()
    ok = [c for c in fake_telegram.calls_to("sendMessage", 5) if "_failed" not in c.params]
    failed = [c for c in fake_telegram.calls_to("sendMessage", 5) if "_failed" in c.params]
    assert len(ok) == 1 and len(failed) == 1
    assert ok[0].ts - failed[0].ts >= 0.95
    assert time.monotonic() - started < 5
    assert worker.stats.rate_limited == 1


async def test_5xx_storm_retries_then_dead_letters(
    redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram
):
    fake_telegram.fail("sendMessage", 502, times=-1, chat_id=6)
    await RedisOutbox(redis).enqueue(msg(6, "never arrives"), key="x")
    await RedisOutbox(redis).enqueue(msg(8, "arrives"), key="y")
    worker = consumer(redis, bot)
    await worker.run_once()
    assert len(fake_telegram.calls_to("sendMessage", 6)) == len(FAST_RETRIES) + 1
    assert fake_telegram.texts_to(8) == ["arrives"]
    dead = await redis.xrange(keys.outbox_dead())
    assert len(dead) == 1
    assert dead[0][1]["k"] == "x"
    assert worker.stats.dead == 1 and worker.stats.delivered == 1


async def test_403_marks_person_inactive_and_drops(
    redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram
):
    profiles = ProfileRepository(redis)
    from clock import FakeClock

    await profiles.get_or_create("telegram:9", FakeClock().now())
    fake_telegram.fail("sendMessage", 403, chat_id=9)
    await RedisOutbox(redis).enqueue(msg(9, "hello", user_key="telegram:9"), key="x")
    worker = consumer(redis, bot, on_blocked=lambda uk: profiles.update(uk, active=False))
    await worker.run_once()
    profile = await profiles.get("telegram:9")
    assert profile is not None and profile.active is False
    assert len(fake_telegram.calls_to("sendMessage", 9)) == 1
    assert await redis.xlen(keys.outbox_dead()) == 0


class _Hang:
    """A sender that takes the entry and never answers (a consumer dying mid-delivery)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def deliver(self, message: OutboundMessage) -> Delivery:
        self.entered.set()
        await asyncio.sleep(3600)
        raise AssertionError


async def test_consumer_killed_mid_delivery_then_another_sends_exactly_once(
    redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram
):
    await RedisOutbox(redis).enqueue(msg(GROUP, "alert", priority=Priority.CRISIS), key="case:1:ev:1")
    hang = _Hang()
    dying = OutboxConsumer(redis, {"telegram": hang}, pacing=PacingConfig.unlimited(), name="dying")
    task = asyncio.create_task(dying.run_forever())
    await asyncio.wait_for(hang.entered.wait(), 5)
    task.cancel()  # killed before XACK
    with contextlib.suppress(asyncio.CancelledError):
        await task
    pending = await redis.xpending(keys.outbox_lane(0), keys.OUTBOX_GROUP)
    assert pending["pending"] == 1
    # a fresh consumer does not steal entries that are not yet idle long enough...
    patient = consumer(redis, bot, name="fresh", claim_idle_ms=60_000)
    assert await patient.run_once() == 0
    await asyncio.sleep(0.15)
    fresh = consumer(redis, bot, name="fresh", claim_idle_ms=100)
    assert await fresh.run_once() == 1
    assert await fresh.run_once() == 0
    assert fake_telegram.texts_to(GROUP) == ["alert"]
    # and a replayed enqueue of the same case event is refused
    assert not await RedisOutbox(redis).enqueue(msg(GROUP, "alert"), key="case:1:ev:1")


async def test_queued_before_crash_sent_once_by_fresh_consumer(
    redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram
):
    """The process died after the write and before any consumer ran: nothing is lost."""
    await RedisOutbox(redis).enqueue(msg(GROUP, "alert"), key="case:2:ev:1")
    assert await consumer(redis, bot, name="after-restart").run_once() == 1
    assert await consumer(redis, bot, name="second").run_once() == 0
    assert fake_telegram.texts_to(GROUP) == ["alert"]


async def test_global_pacing_rate_and_no_429(redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram):
    fake_telegram.rate_limit_per_s = 100
    n = 300
    await RedisOutbox(redis).enqueue_many(
        (msg(10_000 + i, "r", priority=Priority.BULK), f"r{i}") for i in range(n)
    )
    worker = consumer(redis, bot, pacing=PacingConfig(global_per_s=100, chat_per_s=1, group_per_min=20))
    started = time.monotonic()
    assert await worker.run_once() == n
    elapsed = time.monotonic() - started
    ideal = (n - 1) / 100
    assert worker.stats.rate_limited <= 3
    # never faster than the configured rate; the upper bound leaves room for a loaded CI machine
    assert ideal * 0.97 <= elapsed <= ideal * 1.25, elapsed
    assert len([c for c in fake_telegram.calls if "_failed" not in c.params]) == n


async def test_per_chat_pacing(redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram):
    fake_telegram.per_chat_per_s = 4
    await RedisOutbox(redis).enqueue_many((msg(77, f"m{i}"), f"m{i}") for i in range(5))
    worker = consumer(redis, bot, pacing=PacingConfig(global_per_s=0, chat_per_s=4, group_per_min=0))
    await worker.run_once()
    calls = fake_telegram.calls_to("sendMessage", 77)
    assert [c.text for c in calls] == [f"m{i}" for i in range(5)]  # in order
    assert calls[-1].ts - calls[0].ts >= 4 * 0.25 * 0.95
    assert worker.stats.rate_limited == 0


async def test_health_key_has_ttl(redis: aioredis.Redis, bot: Bot):
    worker = consumer(redis, bot, name="h1")
    await worker.record_health()
    assert 0 < await redis.ttl(keys.outbox_health("h1")) <= 60


async def test_403_from_a_group_is_dead_lettered_not_dropped(
    redis: aioredis.Redis, bot: Bot, fake_telegram: FakeTelegram
):
    fake_telegram.fail("sendMessage", 403, description="Forbidden: bot was kicked from the group chat")
    await RedisOutbox(redis).enqueue(msg(GROUP, "alert"), key="x")
    worker = consumer(redis, bot)
    await worker.run_once()
    dead = await redis.xrange(keys.outbox_dead())
    assert len(dead) == 1 and "kicked" in dead[0][1]["error"]
