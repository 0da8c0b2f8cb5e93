"""`ieum bench alerts -n 200`: crisis update -> crisis reply and counsellor alert, end to end.

The whole bot runs (long polling -> inbox -> dispatcher -> pipeline with the case service ->
outbox consumer -> aiogram's client) against the fake Bot API server on loopback. N people each
send one crisis message, spaced at `--rate` updates/s. Two latencies per person, from the moment
the update is available to getUpdates:
- to the young person's crisis reply (sendMessage with 109) reaching the fake server;
- to the counsellor alert's sendMessage reaching the fake server (after its forum topic).
Telegram allows about 20 messages a minute in one group; a burst of alerts to one counsellor
group would be paced by that, so by default the bench measures ieum's own latency with pacing
off (`--telegram-pacing` turns Telegram's limits on). It needs a Redis it may flush: db 15 of
IEUM_REDIS_URL (or `--redis-url`), else a throwaway embedded Valkey.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from typing import Any

from bot.benchmarks.support import bench_redis, fake_telegram_importable

BENCH_DB = 15
GROUP = -1009990001
COUNSELLOR = 4242
FIRST_CHAT = 8_200_000
CRISIS_TEXT = "요즘 너무 지쳐서 죽고 싶어"
CODE = re.compile(r"#([0-9A-F]{6})")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("alerts", help="crisis update -> crisis reply and counsellor alert latency")
    p.add_argument("-n", type=int, default=200, help="crisis updates, one person each (default 200)")
    p.add_argument("--rate", type=float, default=20.0, help="arrivals per second (default 20)")
    p.add_argument("--telegram-pacing", action="store_true", help="keep Telegram's per-chat/group limits")
    p.add_argument("--assessor", choices=("keyword", "trained"), default="keyword")
    p.add_argument("--redis-url", default=None, help=f"Redis to use (db {BENCH_DB} is flushed)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    result = asyncio.run(run(args.n, args.rate, args.redis_url, args.telegram_pacing, args.assessor))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print(result)
    return 0 if result["alerts"] == result["n"] and result["replies"] == result["n"] else 1


async def run(n: int, rate: float, redis_url: str | None, pacing: bool, assessor_name: str) -> dict[str, Any]:
    fake_telegram_importable("alerts")
    from bot.app import build_app
    from bot.settings import Settings
    from bot.telegram.runtime import TelegramRuntime
    from clock import SystemClock
    from tests.fakes.telegram_api import FakeTelegram

    fake = FakeTelegram()
    arrivals: dict[str, float] = {}
    replies: dict[str, float] = {}
    alerts: dict[str, float] = {}  # short code -> time the alert reached the server

    def on_call(call: Any) -> None:
        if call.method == "sendMessage" and "_failed" not in call.params:
            if call.chat_id == str(GROUP):
                match = CODE.search(call.text.split("\n", 1)[0])
                if match and "사례" in call.text and match.group(1) not in alerts:
                    alerts[match.group(1)] = call.ts
            elif "109" in call.text and call.chat_id not in replies:
                replies[str(call.chat_id)] = call.ts
        fake.calls.clear()

    fake.on_call = on_call
    await fake.start()
    try:
        async with bench_redis(redis_url, BENCH_DB) as redis:
            extra: dict[str, Any] = (
                {}
                if pacing
                else {"outbox_global_per_s": 0, "outbox_chat_per_s": 0, "outbox_group_per_min": 0}
            )
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                redis_url="unused",
                telegram_token=fake.token,
                telegram_api_base=fake.base_url,
                counsellor_chat_id=GROUP,
                counsellor_ids=str(COUNSELLOR),
                dedup_ttl_seconds=3600,
                **extra,
            )
            app = await build_app(settings, redis, clock=SystemClock(), assessor=_assessor(assessor_name))
            runtime = TelegramRuntime(app, block_ms=100)
            task = asyncio.create_task(runtime.run_polling(poll_timeout=1))
            await asyncio.sleep(1.0)  # started: polling, inbox consumer, outbox consumer
            started = time.monotonic()
            for i in range(n):
                chat = FIRST_CHAT + i
                fake.push_update(fake.message_update(chat, CRISIS_TEXT))
                arrivals[str(chat)] = time.monotonic()
                await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.monotonic()))
            deadline = time.monotonic() + 60
            while (len(alerts) < n or len(replies) < n) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            codes = {}
            for i in range(n):
                profile = await app.profiles.get(f"telegram:{FIRST_CHAT + i}")
                if profile is not None:
                    codes[profile.short_code] = str(FIRST_CHAT + i)
            cases = await redis.zcard("ieum:cases:all")
    finally:
        await fake.stop()
    reply_ms = [(replies[c] - arrivals[c]) * 1000 for c in arrivals if c in replies]
    alert_ms = [(ts - arrivals[codes[code]]) * 1000 for code, ts in alerts.items() if code in codes]
    return {
        "n": n,
        "rate": rate,
        "telegram_pacing": pacing,
        "assessor": assessor_name,
        "replies": len(reply_ms),
        "alerts": len(alert_ms),
        "cases": cases,
        "reply_ms": _summary(reply_ms),
        "alert_ms": _summary(alert_ms),
    }


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pct(q: float) -> float:
        rank = max(1, -(-q * len(ordered) // 100))  # nearest rank
        return round(ordered[int(rank) - 1], 1)

    return {"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": round(ordered[-1], 1)}


def _print(r: dict[str, Any]) -> None:
    pacing = "Telegram pacing on" if r["telegram_pacing"] else "pacing off"
    head = f"{r['n']} crisis updates at {r['rate']:.0f}/s ({r['assessor']} assessor, {pacing})"
    print(f"{head}; {r['cases']} cases opened")
    for name, label, target in (("reply_ms", "crisis reply", 200), ("alert_ms", "counsellor alert", 500)):
        s = r[name]
        if not s:
            print(f"  {label}: none arrived")
            continue
        got = r["replies"] if name == "reply_ms" else r["alerts"]
        print(
            f"  arrival -> {label}: p50 {s['p50']:.1f} ms, p90 {s['p90']:.1f} ms, p99 {s['p99']:.1f} ms, "
            f"max {s['max']:.1f} ms ({got}/{r['n']}; target p99 < {target} ms)"
        )


def _assessor(name: str) -> Any:
    from models.placeholder import KeywordAssessor

    if name == "keyword":
        return KeywordAssessor()
    from bot.settings import Settings
    from models.factory import build_assessor, load_encoder

    settings = Settings()
    return build_assessor(load_encoder(settings.encoder), settings.model_artifact)
