"""The durable inbox on real Redis: dedup, per-chat order, retries, dead letters, crash recovery."""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as aioredis

from bot.telegram.inbox import Inbox, InboxEntry, chat_of
from bot.telegram.inbox_worker import GROUP, InboxConsumer, erase_dead_letters
from storage import keys
from tests.fakes.telegram_api import FakeTelegram


def _msg(fake: FakeTelegram, chat: int, text: str) -> dict:
    return fake.message_update(chat, text)


async def test_push_is_deduplicated_by_update_id(redis: aioredis.Redis) -> None:
    fake = FakeTelegram()
    inbox = Inbox(redis, shards=4, dedup_ttl=60)
    update = _msg(fake, 42, "안녕")
    assert await inbox.push(update) is True
    assert await inbox.push(update) is False
    shard = inbox.shard_of("42")
    assert await redis.xlen(keys.inbox_stream(shard)) == 1
    ttl = await redis.ttl(keys.inbox_seen(shard, "telegram", update["update_id"]))
    assert 0 < ttl <= 60


async def test_chat_of_covers_update_shapes() -> None:
    fake = FakeTelegram()
    assert chat_of(fake.message_update(5, "hi")) == "5"
    assert chat_of(fake.message_update(6, "hi", edited=True)) == "6"
    assert chat_of(fake.callback_update(7, "v1:ci:good")) == "7"
    assert chat_of({"update_id": 1, "poll": {"id": "x"}}) == "0"


async def test_one_chat_stays_in_order_while_chats_run_concurrently(redis: aioredis.Redis) -> None:
    fake = FakeTelegram()
    inbox = Inbox(redis, shards=2)
    seen: dict[str, list[str]] = {}
    running = 0
    peak = 0

    async def handler(entry: InboxEntry, attempt: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.002)
        seen.setdefault(entry.chat, []).append(entry.update["message"]["text"])
        running -= 1

    for i in range(30):
        for chat in (1, 2, 3, 4):
            await inbox.push(_msg(fake, chat, str(i)))
    consumer = InboxConsumer(redis, inbox, handler, batch=16)
    assert await consumer.run_once() == 120
    assert all(seen[str(c)] == [str(i) for i in range(30)] for c in (1, 2, 3, 4))
    assert peak > 1  # different people are handled at the same time
    for shard in range(2):
        assert await redis.xlen(keys.inbox_stream(shard)) == 0  # acknowledged and deleted


async def test_failing_entry_is_retried_then_dead_lettered(redis: aioredis.Redis) -> None:
    fake = FakeTelegram()
    inbox = Inbox(redis, shards=1)
    calls: list[tuple[str, int]] = []

    async def handler(entry: InboxEntry, attempt: int) -> None:
        text = entry.update["message"]["text"]
        calls.append((text, attempt))
        if text == "bad":
            raise RuntimeError("boom")

    await inbox.push(_msg(fake, 9, "bad"))
    await inbox.push(_msg(fake, 9, "next"))
    consumer = InboxConsumer(redis, inbox, handler, retry_delays=(0, 0))
    await consumer.run_once()
    assert calls == [("bad", 1), ("bad", 2), ("bad", 3), ("next", 1)]
    dead = await redis.xrange(keys.inbox_dead_letter())
    assert len(dead) == 1 and dead[0][1]["reason"] == "RuntimeError"
    assert await redis.xlen(keys.inbox_stream(0)) == 0


async def test_entries_a_crashed_consumer_left_are_recovered_in_order(redis: aioredis.Redis) -> None:
    fake = FakeTelegram()
    inbox = Inbox(redis, shards=1)
    for text in ("one", "two", "three"):
        await inbox.push(_msg(fake, 3, text))
    # A consumer read two entries and died before acknowledging them (its lease then ran out).
    stream = keys.inbox_stream(0)
    await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    await redis.xreadgroup(GROUP, "dead-consumer", {stream: ">"}, count=2)
    assert (await redis.xpending(stream, GROUP))["pending"] == 2

    handled: list[str] = []

    async def handler(entry: InboxEntry, attempt: int) -> None:
        handled.append(entry.update["message"]["text"])

    consumer = InboxConsumer(redis, inbox, handler)
    assert await consumer.run_once() == 3
    assert handled == ["one", "two", "three"]
    assert (await redis.xpending(stream, GROUP))["pending"] == 0


async def test_a_held_shard_is_left_to_its_holder(redis: aioredis.Redis) -> None:
    fake = FakeTelegram()
    inbox = Inbox(redis, shards=1)
    await inbox.push(_msg(fake, 3, "hi"))

    async def handler(entry: InboxEntry, attempt: int) -> None:
        return None

    first = InboxConsumer(redis, inbox, handler, consumer="first")
    second = InboxConsumer(redis, inbox, handler, consumer="second")
    assert await first.run_once() == 1
    await inbox.push(_msg(fake, 3, "again"))
    assert await second.run_once() == 0  # `first` holds the lease
    await first.release_all()
    assert await second.run_once() == 1


async def test_poison_entry_redelivered_too_often_is_dead_lettered(redis: aioredis.Redis) -> None:
    fake = FakeTelegram()
    inbox = Inbox(redis, shards=1)
    await inbox.push(_msg(fake, 3, "crashes the process"))
    stream = keys.inbox_stream(0)
    await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    await redis.xreadgroup(GROUP, "c0", {stream: ">"}, count=1)
    for n in range(1, 6):  # five processes claimed it and died while handling it
        await redis.xautoclaim(stream, GROUP, f"c{n}", min_idle_time=0, start_id="0-0")

    async def handler(entry: InboxEntry, attempt: int) -> None:
        raise AssertionError("a poison entry must not be handled again")

    consumer = InboxConsumer(redis, inbox, handler, max_deliveries=5)
    await consumer.run_once()
    dead = await redis.xrange(keys.inbox_dead_letter())
    assert [d[1]["reason"] for d in dead] == ["poison"]


async def test_two_processes_share_the_shards_and_each_chat_stays_in_order(redis: aioredis.Redis) -> None:
    fake = FakeTelegram()
    inbox = Inbox(redis, shards=8)
    seen: dict[str, list[str]] = {}
    by_consumer: dict[str, int] = {"a": 0, "b": 0}

    def handler_for(name: str):  # type: ignore[no-untyped-def]
        async def handler(entry: InboxEntry, attempt: int) -> None:
            by_consumer[name] += 1
            seen.setdefault(entry.chat, []).append(entry.update["message"]["text"])

        return handler

    a = InboxConsumer(redis, inbox, handler_for("a"), consumer="a", block_ms=50, lease_ms=600)
    b = InboxConsumer(redis, inbox, handler_for("b"), consumer="b", block_ms=50, lease_ms=600)
    first = asyncio.create_task(a.run())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if len(a.leases.held) == 8:
            break
    assert len(a.leases.held) == 8  # alone, it holds every shard
    second = asyncio.create_task(b.run())
    for _ in range(100):  # within a few heartbeats the shards are shared out
        await asyncio.sleep(0.05)
        if len(a.leases.held) == 4 and len(b.leases.held) == 4:
            break
    assert (len(a.leases.held), len(b.leases.held)) == (4, 4)
    assert not a.leases.held & b.leases.held
    for i in range(20):
        for chat in range(40):
            await inbox.push(_msg(fake, 1000 + chat, str(i)))
    for _ in range(200):
        await asyncio.sleep(0.05)
        if sum(len(v) for v in seen.values()) == 800:
            break
    a.stop()
    b.stop()
    await asyncio.gather(first, second)
    assert all(texts == [str(i) for i in range(20)] for texts in seen.values())
    assert len(seen) == 40 and by_consumer["a"] > 0 and by_consumer["b"] > 0
    assert await redis.zcard(keys.inbox_members()) == 0


async def test_delete_takes_the_persons_dead_letters_and_only_theirs(redis: aioredis.Redis) -> None:
    fake = FakeTelegram()
    inbox = Inbox(redis, shards=1)

    async def handler(entry: InboxEntry, attempt: int) -> None:
        raise RuntimeError("boom")

    for chat, text in ((31, "내 비밀 이야기"), (32, "someone else"), (31, "또 하나")):
        await inbox.push(_msg(fake, chat, text))
    await InboxConsumer(redis, inbox, handler, retry_delays=(0,)).run_once()
    # an entry written before dead letters kept the chat beside the update
    await redis.xadd(keys.inbox_dead_letter(), {"reason": "old", "u": json.dumps(_msg(fake, 31, "옛날"))})
    assert await redis.xlen(keys.inbox_dead_letter()) == 4

    assert await erase_dead_letters(redis, inbox, "telegram:31") == 3
    left = await redis.xrange(keys.inbox_dead_letter())
    assert [json.loads(f["u"])["message"]["text"] for _, f in left] == ["someone else"]
    assert await erase_dead_letters(redis, inbox, "terminal:32") == 0  # another channel's person
