"""`ieum bench updates -n N`: N Telegram updates through the whole adapter, on one bot process.

    webhook POST (intake) -> Inbox (dedup + XADD) -> consumer -> dispatcher -> pipeline
    (assess, conversation, escalation) -> bot.send_message -> the fake Bot API server

The fake Bot API server and the load generator run in a child process, so their CPU does not
count against the bot. Handling latency is measured from intake (the moment the update was
stored) to the moment the first reply's sendMessage is issued: it excludes the Bot API
round-trip, which is measured and reported on its own. Synthetic people onboard, talk (free talk
through the encoder), press check-in buttons and send stickers, each person's updates in order.
By default a throw-away embedded Valkey is used, so no real data is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bot.benchmarks.support import fake_telegram_importable

FIRST_CHAT = 9_100_000
SECRET = "bench-webhook-secret"
PATH = "/telegram/webhook"

# One person's script: onboarding by buttons, then everyday talk, a check-in and a sticker.
ONBOARDING = [
    ("text", "/start"),
    ("button", "v1:st:lang:ko"),
    ("button", "v1:st:intro:ok"),
    ("button", "v1:st:privacy:ok"),
    ("button", "v1:st:checkin:no"),
    ("button", "v1:st:share:yes"),
    ("button", "v1:st:rhythm:ondemand"),
    ("button", "v1:st:quiet:skip"),
    ("button", "v1:st:nickname:skip"),
    ("button", "v1:st:code:skip"),
]
TALK = [
    ("text", "안녕"),
    ("text", "오늘 좀 피곤하네"),
    ("text", "/checkin"),
    ("button", "v1:ci:good"),
    ("text", "게임하다가 늦게 잤어"),
    ("sticker", ""),
    ("text", "요즘 잠이 잘 안 와"),
    ("text", "hi, how are you"),
    ("text", "고마워"),
    ("text", "엄마랑 또 싸웠어"),
]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("updates", help="updates/s and p50/p99 handling latency of the Telegram adapter")
    p.add_argument("-n", type=int, default=2000, help="updates to measure (default 2000)")
    p.add_argument("--users", type=int, default=200, help="distinct people (default 200)")
    p.add_argument(
        "--concurrency", type=int, default=40, help="webhook POSTs in flight (default 40, as Telegram)"
    )
    p.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="offer updates at this many per second (default 0: as fast as the bot takes them)",
    )
    p.add_argument("--warmup", type=int, default=200, help="updates before measuring (default 200)")
    p.add_argument(
        "--assessor",
        choices=("default", "keyword"),
        default="default",
        help="default: the trained detector (falls back to keywords if it cannot load)",
    )
    p.add_argument("--redis-url", default=None, help="Redis to use (default: a temporary embedded Valkey)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--profile", default=None, help=argparse.SUPPRESS)  # cProfile the measured part
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from bot.telegram.runtime import run_with_fast_loop

    result = run_with_fast_loop(bench(args))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print(result)
    return 0


# --- the bot side (this process) ----------------------------------------------------------------
async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from aiogram.methods import SendMessage

    from bot.app import running_app
    from bot.settings import Settings
    from bot.telegram.runtime import TelegramRuntime, current_update, settle_heap

    fake_telegram_importable("updates")
    parent, child = multiprocessing.get_context("spawn").Pipe()
    driver = multiprocessing.get_context("spawn").Process(target=_driver_main, args=(child,), daemon=True)
    driver.start()
    base_url = parent.recv()
    tmp = tempfile.TemporaryDirectory(prefix="ieum-bench-")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=args.redis_url,
        data_dir=Path(tmp.name),
        telegram_token="123456:TEST-TOKEN",
        telegram_api_base=base_url,
        webhook_secret=SECRET,
        webhook_path=PATH,
    )
    assessor, assessor_name = _assessor(args.assessor)
    first_send: dict[int, float] = {}
    done: dict[int, float] = {}
    intake: dict[int, float] = {}
    rtt: list[float] = []

    async def measure(make_request: Any, bot: Any, method: Any) -> Any:
        current = current_update.get()
        if current is not None and isinstance(method, SendMessage) and current.update_id not in first_send:
            first_send[current.update_id] = time.time()
            intake[current.update_id] = current.intake_ts
        started = time.perf_counter()
        try:
            return await make_request(bot, method)
        finally:
            rtt.append(time.perf_counter() - started)

    try:
        async with running_app(settings, assessor=assessor) as app:
            if assessor is None:
                assessor_name = type(app.assessor).__name__
            prepare = getattr(app.conversation, "prepare", None)
            if prepare is not None:
                await prepare()
            app.services.clear()  # scheduler, outbox: not part of the message path measured here
            runtime = TelegramRuntime(app, block_ms=200)
            runtime.bot.session.middleware(measure)
            handle = runtime.consumer.handler

            async def timed(entry: Any, attempt: int) -> None:
                await handle(entry, attempt)
                done[int(entry.update["update_id"])] = time.time()

            runtime.consumer.handler = timed
            server = asyncio.create_task(
                runtime.run_webhook(host="127.0.0.1", port=0, path=PATH, secret=SECRET, url=None)
            )
            while runtime.port is None:
                if server.done():
                    server.result()
                await asyncio.sleep(0.01)
            hook = f"http://127.0.0.1:{runtime.port}{PATH}"

            # Fresh chat and update ids each run, so a reused --redis-url never sees them as seen.
            run = random.randrange(1, 1000)
            chats, first_id = FIRST_CHAT + run * 1_000_000, 10_000_000 + run * 2_000_000
            warm = _updates(args.warmup, max(1, args.users // 4), chats + 500_000, first_id)
            await _run_batch(parent, hook, warm, args.concurrency, runtime, timeout=120)
            settle_heap()  # as `ieum run` does at start-up, after the lazily built parts exist
            print(f"measuring {args.n} updates…", file=sys.stderr, flush=True)
            for table in (first_send, done, intake):
                table.clear()
            rtt.clear()

            updates = _updates(args.n, args.users, chats, first_id + 1_000_000)
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            gc_pauses: list[float] = []
            gc_started = [0.0]

            def on_gc(phase: str, info: dict[str, Any]) -> None:
                if phase == "start":
                    gc_started[0] = time.perf_counter()
                elif info.get("generation") == 2:
                    gc_pauses.append(time.perf_counter() - gc_started[0])

            gc.callbacks.append(on_gc)
            cpu_before = time.process_time()
            posted_s = await _run_batch(
                parent, hook, updates, args.concurrency, runtime, timeout=600, rate=args.rate
            )
            cpu_s = time.process_time() - cpu_before
            gc.callbacks.remove(on_gc)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)
    finally:
        parent.send(("stop",))
        driver.join(timeout=10)
        tmp.cleanup()

    ids = [u["update_id"] for u in updates]
    latencies = sorted((first_send[i] - intake[i]) * 1000 for i in ids if i in first_send)
    totals = sorted((done[i] - intake[i]) * 1000 for i in ids if i in done and i in intake)
    start = min(intake[i] for i in ids if i in intake)
    end = max(done[i] for i in ids if i in done)
    return {
        "updates": len(ids),
        "handled": sum(1 for i in ids if i in done),
        "users": args.users,
        "offered_rate": args.rate or "max",
        "assessor": assessor_name,
        "redis": "embedded valkey (temporary)" if not args.redis_url else "given url",
        "updates_per_s": round(len(ids) / (end - start), 1),
        "handling_ms_p50": round(_pct(latencies, 50), 2),
        "handling_ms_p90": round(_pct(latencies, 90), 2),
        "handling_ms_p99": round(_pct(latencies, 99), 2),
        "handling_ms_max": round(latencies[-1], 2) if latencies else None,
        "with_bot_api_ms_p50": round(_pct(totals, 50), 2),
        "with_bot_api_ms_p99": round(_pct(totals, 99), 2),
        "bot_api_rtt_ms_p50": round(_pct(sorted(x * 1000 for x in rtt), 50), 2),
        "intake_post_s": round(posted_s, 3),
        "bot_cpu_ms_per_update": round(cpu_s * 1000 / len(ids), 3),
        "cpu_bound_updates_per_s": round(len(ids) / cpu_s, 1),
        "cpus": os.cpu_count(),
        "python_loop_us": machine_speed_us(),
        "gc_full_collections": len(gc_pauses),
        "gc_full_max_ms": round(max(gc_pauses, default=0.0) * 1000, 1),
    }


async def _run_batch(
    conn: Connection,
    hook: str,
    updates: list[dict[str, Any]],
    concurrency: int,
    runtime: Any,
    timeout: float,
    rate: float = 0.0,
) -> float:
    """Have the driver POST `updates`; return when the consumer has handled every one."""
    target = runtime.consumer.handled + len(updates)
    conn.send(("post", hook, SECRET, updates, concurrency, rate))
    loop = asyncio.get_running_loop()
    reply = await loop.run_in_executor(None, conn.recv)
    statuses = reply[2]
    if set(statuses) != {200}:
        raise RuntimeError(f"webhook answered {statuses}")
    deadline = time.monotonic() + timeout
    while runtime.consumer.handled < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"handled {runtime.consumer.handled} of {target}")
        await asyncio.sleep(0.01)
    return float(reply[1])


def _assessor(choice: str) -> tuple[Any, str]:
    from models.placeholder import KeywordAssessor

    if choice == "keyword":
        return KeywordAssessor(), "KeywordAssessor"
    try:
        from bot.settings import Settings
        from models.factory import build_assessor, load_encoder

        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assessor = build_assessor(load_encoder(settings.encoder), settings.model_artifact)
        return assessor, type(assessor).__name__
    except Exception as exc:  # the detector is not there: say so and measure the placeholder
        return KeywordAssessor(), f"KeywordAssessor (default assessor failed: {type(exc).__name__})"


def _updates(n: int, users: int, first_chat: int, first_id: int) -> list[dict[str, Any]]:
    """`n` updates from `users` people, interleaved; each person follows the script in order."""
    from tests.fakes.telegram_api import FakeTelegram

    builder = FakeTelegram()
    script = ONBOARDING + TALK * (n // max(1, users) // len(TALK) + 2)
    out: list[dict[str, Any]] = []
    step = 0
    while len(out) < n:
        for u in range(users):
            if len(out) >= n:
                break
            chat = first_chat + u
            kind, value = script[step % len(script)]
            if kind == "button":
                update = builder.callback_update(chat, value)
            elif kind == "sticker":
                update = builder.sticker_update(chat)
            else:
                update = builder.message_update(chat, value)
            update["update_id"] = first_id + len(out)
            out.append(update)
        step += 1
    return out


def machine_speed_us() -> float:
    """How fast this machine runs plain Python: best of 5 timings of `sum(range(1000))`, in µs.

    Shared machines differ by 2x and more; CPU per update scales with this figure, so it lets
    figures from different machines be compared.
    """
    import timeit

    timer = timeit.Timer("sum(range(1000))")
    return round(min(timer.repeat(repeat=5, number=2000)) / 2000 * 1e6, 2)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if q < 100 else values[-1]


def _print(r: dict[str, Any]) -> None:
    print(
        f"ieum bench updates: {r['handled']}/{r['updates']} updates from {r['users']} people, "
        f"one process, offered rate {r['offered_rate']}/s"
    )
    print(f"  assessor            {r['assessor']}")
    print(f"  redis               {r['redis']}")
    print(f"  throughput          {r['updates_per_s']} updates/s")
    print(
        f"  handling latency    p50 {r['handling_ms_p50']} ms, p90 {r['handling_ms_p90']} ms, "
        f"p99 {r['handling_ms_p99']} ms, max {r['handling_ms_max']} ms"
    )
    print("                      (intake -> first sendMessage issued; Bot API round-trip excluded)")
    print(f"  with Bot API        p50 {r['with_bot_api_ms_p50']} ms, p99 {r['with_bot_api_ms_p99']} ms")
    print(f"  Bot API round-trip  p50 {r['bot_api_rtt_ms_p50']} ms (fake server, other process)")
    print(
        f"  bot process CPU     {r['bot_cpu_ms_per_update']} ms per update "
        f"(one core would carry {r['cpu_bound_updates_per_s']} updates/s; {r['cpus']} CPUs here)"
    )
    print(f"  full GC pauses      {r['gc_full_collections']}, longest {r['gc_full_max_ms']} ms")
    print(
        f"  machine speed       {r['python_loop_us']} us for sum(range(1000)) "
        "(compare figures across machines by this)"
    )


# --- the driver (child process): fake Bot API server + webhook load generator ------------------------
def _driver_main(conn: Connection) -> None:
    from bot.telegram.runtime import run_with_fast_loop

    run_with_fast_loop(_driver(conn))


async def _driver(conn: Connection) -> None:
    from tests.fakes.telegram_api import FakeTelegram

    fake = FakeTelegram()
    await fake.start()
    conn.send(fake.base_url)
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command[0] == "stop":
            break
        _, hook, secret, updates, concurrency, rate = command
        started = time.perf_counter()
        statuses = await _post_all(hook, secret, updates, concurrency, rate)
        conn.send(("posted", time.perf_counter() - started, statuses))
        fake.calls.clear()
    await fake.stop()


async def _post_all(
    hook: str, secret: str, updates: list[dict[str, Any]], concurrency: int, rate: float
) -> dict[int, int]:
    """POST every update; one person's updates strictly one after another, people in parallel.

    With `rate` > 0 the updates are offered at that many per second (an open-loop load);
    otherwise as fast as the bot takes them.
    """
    import aiohttp

    lanes: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    chats: dict[str, int] = {}
    for index, update in enumerate(updates):
        lane = chats.setdefault(_chat(update), len(chats) % concurrency)
        lanes[lane].append((index, update))
    statuses: dict[int, int] = defaultdict(int)
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}
    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def post_lane(lane: list[tuple[int, dict[str, Any]]]) -> None:
            for index, update in lane:
                if rate > 0:
                    delay = start + index / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                async with session.post(hook, data=json.dumps(update), headers=headers) as response:
                    await response.read()
                    statuses[response.status] += 1

        await asyncio.gather(*(post_lane(lane) for lane in lanes.values()))
    return dict(statuses)


def _chat(update: dict[str, Any]) -> str:
    body = update.get("message") or update.get("callback_query", {}).get("message") or {}
    return str(body.get("chat", {}).get("id", 0))
