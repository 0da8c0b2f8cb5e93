"""`ieum bench fanout -n 10000`: a reminder fanned out to N people through the real outbox.

The scheduler fires one activity reminder to N people who answered "I'll come"; the durable
outbox (Redis Streams) and its consumer deliver it with aiogram's real client to the fake Bot
API server on loopback, which enforces a global rate (Telegram's ~30/s, or scaled up to measure
overhead in reasonable time) and answers 429 beyond it. Two runs:

1. clean: total time from firing to the last delivery, against the ideal N / rate; duplicates;
2. kill and restart: the scheduler dies a third of the way through queueing and the outbox
   consumer dies halfway through delivering (tasks cancelled, nothing acknowledged or cleaned
   up); a second scheduler and a second consumer take over. Losses and duplicates are counted.

It needs a Redis it may flush: db 14 of `IEUM_REDIS_URL` (or `--redis-url`), else a throwaway
embedded Valkey in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.benchmarks.support import bench_redis

BENCH_DB = 14
T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("fanout", help="reminder fan-out to N people through the outbox (fake Bot API)")
    p.add_argument("-n", type=int, default=10_000, help="recipients (default 10000)")
    p.add_argument("--rate", type=float, default=1000.0, help="Bot API limit, messages/s (Telegram: 30)")
    p.add_argument(
        "--margin",
        type=float,
        default=0.0,
        help="pace the outbox this fraction under the server's limit (default 0: the outbox's own "
        "sliding window keeps it from earning 429s)",
    )
    p.add_argument("--redis-url", default=None, help=f"Redis to use (db {BENCH_DB} is flushed)")
    p.add_argument("--no-kill", action="store_true", help="skip the kill-and-restart run")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    result = asyncio.run(run(args.n, args.rate, args.redis_url, kill=not args.no_kill, margin=args.margin))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print(result)
    return 0


def _print(r: dict[str, Any]) -> None:
    clean = r["clean"]
    print(
        f"fan-out of one reminder to {r['n']} recipients, Bot API limit {r['rate']:.0f}/s, "
        f"outbox paced at {r['outbox_rate']:g}/s"
    )
    print(
        f"  clean run: {clean['total_s']:.2f} s (ideal {clean['ideal_s']:.2f} s, "
        f"overhead {clean['overhead_pct']:+.1f}%), queued in {clean['enqueue_s']:.2f} s, "
        f"delivered {clean['delivered']}, duplicates {clean['duplicates']}, "
        f"losses {clean['losses']}, 429s {clean['rate_limited']}, "
        f"bot-side CPU {clean['cpu_ms_per_message']:.2f} ms/message"
    )
    if "kill" in r:
        k = r["kill"]
        print(
            f"  kill+restart: scheduler killed after {k['queued_before_kill']} queued, "
            f"consumer killed after {k['delivered_before_kill']} delivered; total {k['total_s']:.2f} s; "
            f"delivered {k['delivered']}, losses {k['losses']}, duplicates {k['duplicates']}"
        )
    print(f"  peak RSS {r['peak_rss_mb']:.1f} MB (the bot side: scheduler, outbox, consumer, aiogram client)")


class _Dying:
    """An outbox that dies (like a killed process) after `budget` messages were queued."""

    def __init__(self, inner: Any, budget: int) -> None:
        self.inner = inner
        self.budget = budget
        self.queued = 0

    async def enqueue(self, message: Any, *, key: str) -> bool:
        if self.queued >= self.budget:
            raise ConnectionError("scheduler killed")
        self.queued += 1
        return bool(await self.inner.enqueue(message, key=key))


async def _setup(redis: Any, n: int, outbox: Any, clock: Any) -> Any:
    """N people who opted in and answered "I'll come" to one activity; returns the scheduling."""
    from scheduling.rsvp import Answer
    from scheduling.wiring import build_scheduling
    from storage import keys
    from storage.profiles import Profile, ProfileRepository
    from storage.profiles import _encode as encode_profile

    profiles = ProfileRepository(redis)
    s = build_scheduling(redis, profiles, outbox, clock)
    act = await s.service.create(
        title="보드게임 저녁", start=T0 + timedelta(days=2), now=T0, place="센터 2층"
    )
    for i in range(0, n, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for j in range(i, min(n, i + 1000)):
                user_key = f"telegram:{BASE_CHAT + j}"
                profile = Profile(user_key=user_key, activity_news=True, short_code=f"{j:06X}")
                pipe.hset(keys.profile(user_key), mapping=encode_profile(profile))
                pipe.sadd(keys.all_users(), user_key)
                pipe.hset(keys.activity_rsvps(act.id, act.occurrence), user_key, Answer.GOING.value)
            await pipe.execute()
    # the announcement went out long ago: only the reminder is measured
    await redis.set(keys.scheduler_fired(f"announce:{act.id}"), "bench")
    clock.set(act.start - timedelta(hours=2))
    return s


BASE_CHAT = 10_000_000


def _fake_process(rate: float, n: int, port: Any, ready: Any, stop: Any, counts: Any, stats: Any) -> None:
    """Child process: the fake Bot API server, counting accepted sends per recipient in shared memory.

    It runs apart from the bot so the figures measure ieum's side, as with the real Telegram."""
    asyncio.run(_fake_main(rate, n, port, ready, stop, counts, stats))


async def _fake_main(rate: float, n: int, port: Any, ready: Any, stop: Any, counts: Any, stats: Any) -> None:
    fake = _fake_server_class()(rate_limit_per_s=rate, per_chat_per_s=1)

    def on_call(call: Any) -> None:
        if call.method != "sendMessage":
            return
        failed = call.params.get("_failed")
        if failed == 429:
            stats[1] += 1
            return
        if failed is not None:
            return
        index = int(call.chat_id) - BASE_CHAT
        if 0 <= index < n:
            if counts[index] == 0:
                stats[0] += 1  # distinct recipients reached
            counts[index] += 1
        fake.calls.clear()  # keep the child's memory flat; the counts are all we need

    fake.on_call = on_call
    await fake.start()
    port.value = fake.port
    ready.set()
    await asyncio.get_running_loop().run_in_executor(None, stop.wait)
    await fake.stop()


class _FakeServer:
    """The parent's handle on the fake Bot API server process."""

    def __init__(self, rate: float, n: int) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.n = n
        self.port = ctx.Value("i", 0)
        self.ready = ctx.Event()
        self.stop_event = ctx.Event()
        self.counts = ctx.Array("i", n, lock=False)
        self.stats = ctx.Array("i", 2, lock=False)  # [distinct delivered, 429 answers]
        self.process = ctx.Process(
            target=_fake_process,
            args=(rate, n, self.port, self.ready, self.stop_event, self.counts, self.stats),
            daemon=True,
        )
        self.token = "123456:TEST-TOKEN"

    async def __aenter__(self) -> _FakeServer:
        self.process.start()
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, self.ready.wait, 30):
            raise RuntimeError("the fake Bot API server did not start")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop_event.set()
        await asyncio.get_running_loop().run_in_executor(None, self.process.join, 10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port.value}"

    @property
    def distinct(self) -> int:
        return int(self.stats[0])

    @property
    def rate_limited(self) -> int:
        return int(self.stats[1])

    def duplicates(self) -> int:
        return sum(c - 1 for c in self.counts if c > 1)

    async def reach(self, distinct: int, timeout: float) -> None:
        """Wait until `distinct` recipients got their message (or the timeout passes)."""
        for _ in range(int(timeout / 0.005)):
            if self.distinct >= distinct:
                return
            await asyncio.sleep(0.005)


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _fake_server_class() -> Any:
    """The fake Bot API server lives with the tests (tests/fakes/), beside the source checkout."""
    try:
        from tests.fakes.telegram_api import FakeTelegram
    except ImportError:
        import sys
        from pathlib import Path

        import bot

        sys.path.insert(0, str(Path(bot.__file__).resolve().parents[1]))
        from tests.fakes.telegram_api import FakeTelegram
    return FakeTelegram


async def run(
    n: int, rate: float, redis_url: str | None, *, kill: bool = True, margin: float = 0.0
) -> dict[str, Any]:
    from outbox.pacing import PacingConfig

    outbox_rate = rate * (1 - margin)
    pacing = PacingConfig(global_per_s=outbox_rate, chat_per_s=1.0, group_per_min=20.0)
    result: dict[str, Any] = {"n": n, "rate": rate, "outbox_rate": round(outbox_rate, 2)}
    async with bench_redis(redis_url, BENCH_DB) as redis:
        async with _FakeServer(rate, n) as fake:
            result["clean"] = await _clean_run(redis, fake, n, rate, pacing)
        if kill:
            await redis.flushdb()
            async with _FakeServer(rate, n) as fake:
                result["kill"] = await _kill_run(redis, fake, n, rate, pacing)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    return result


@contextlib.asynccontextmanager
async def _bot(fake: _FakeServer) -> AsyncIterator[dict[str, Any]]:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from bot.telegram.sender import TelegramSender
    from dialogues.messages import QuickReply
    from outbox.types import OutboundMessage

    bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))
    senders = {"telegram": TelegramSender(bot)}
    try:
        # warm-up: aiogram builds its pydantic models lazily on first use; not part of a fan-out
        warm = OutboundMessage("telegram", "1", "warm-up", "bench", buttons=((QuickReply("a", "b"),),))
        await senders["telegram"].deliver(warm)
        yield senders
    finally:
        await bot.session.close()


async def _clean_run(redis: Any, fake: _FakeServer, n: int, rate: float, pacing: Any) -> dict[str, Any]:
    from clock import FakeClock
    from outbox.consumer import OutboxConsumer
    from outbox.stream import RedisOutbox

    timeout = n / rate * 3 + 30
    async with _bot(fake) as senders:
        clock = FakeClock(T0)
        s = await _setup(redis, n, RedisOutbox(redis), clock)
        consumer = OutboxConsumer(redis, senders, pacing=pacing, name="bench-a")
        task = asyncio.create_task(consumer.run_forever())
        await asyncio.sleep(0.3)  # the consumer is up and blocked on the (empty) streams
        cpu0 = _cpu()
        t0 = time.perf_counter()
        await s.engine.tick()
        t_enqueued = time.perf_counter()
        await fake.reach(n, timeout)
        t1 = time.perf_counter()
        cpu1 = _cpu()
        await asyncio.sleep(0.5)  # anything late would be a duplicate
        await _stop(task)
    total = t1 - t0
    ideal = n / rate
    return {
        "total_s": round(total, 3),
        "ideal_s": round(ideal, 3),
        "overhead_pct": round((total / ideal - 1) * 100, 2),
        "enqueue_s": round(t_enqueued - t0, 3),
        "cpu_ms_per_message": round((cpu1 - cpu0) * 1000 / n, 3),
        "delivered": fake.distinct,
        "duplicates": fake.duplicates(),
        "losses": n - fake.distinct,
        "rate_limited": fake.rate_limited,
    }


async def _kill_run(redis: Any, fake: _FakeServer, n: int, rate: float, pacing: Any) -> dict[str, Any]:
    from clock import FakeClock
    from outbox.consumer import OutboxConsumer
    from outbox.stream import RedisOutbox
    from scheduling.wiring import build_scheduling
    from storage.profiles import ProfileRepository

    timeout = n / rate * 3 + 30
    async with _bot(fake) as senders:
        clock = FakeClock(T0)
        dying = _Dying(RedisOutbox(redis), budget=n // 3)
        s_a = await _setup(redis, n, dying, clock)
        consumer_a = OutboxConsumer(redis, senders, pacing=pacing, name="bench-killed")
        task_a = asyncio.create_task(consumer_a.run_forever())
        t0 = time.perf_counter()
        await s_a.engine.tick()  # dies a third of the way: no fired marker is written
        queued_before = dying.queued
        await fake.reach(queued_before // 2, timeout)
        await _stop(task_a)  # the consumer dies mid-delivery: nothing acknowledged after this
        delivered_before = fake.distinct
        # restart: a new scheduler finishes the fan-out, a new consumer takes over what was left
        s_b = build_scheduling(redis, ProfileRepository(redis), RedisOutbox(redis), clock)
        await s_b.engine.tick()
        consumer_b = OutboxConsumer(redis, senders, pacing=pacing, name="bench-b", claim_idle_ms=1000)
        task_b = asyncio.create_task(consumer_b.run_forever())
        await fake.reach(n, timeout)
        t1 = time.perf_counter()
        await asyncio.sleep(1.5)  # let any stray redelivery show up
        await _stop(task_b)
    return {
        "queued_before_kill": queued_before,
        "delivered_before_kill": delivered_before,
        "total_s": round(t1 - t0, 3),
        "delivered": fake.distinct,
        "losses": n - fake.distinct,
        "duplicates": fake.duplicates(),
        "rate_limited": fake.rate_limited,
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
