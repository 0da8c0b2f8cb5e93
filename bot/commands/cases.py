"""`ieum cases list|show|resolve|stats`: the counsellor queue and the Center's figures.

Reads Redis directly (IEUM_REDIS_URL, or the embedded server under IEUM_DATA_DIR); never prints
an account id or message text besides the case's own excerpt in `show` (while it is kept).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

STATUSES = ("open", "claimed", "in_contact", "resolved", "false_alarm", "active")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("cases", help="the counsellor queue: list, show, resolve, stats")
    inner = parser.add_subparsers(dest="action", metavar="ACTION")

    lst = inner.add_parser("list", help="cases by priority then waiting time, and failed deliveries")
    lst.add_argument("--status", choices=STATUSES, default="active", help="default: not yet closed")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=lambda a: _run(_list, a))

    show = inner.add_parser("show", help="one case with its audit trail")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=lambda a: _run(_show, a))

    resolve = inner.add_parser("resolve", help="close a case as resolved (or --false-alarm)")
    resolve.add_argument("id")
    resolve.add_argument("--false-alarm", action="store_true")
    resolve.add_argument("--by", default="cli", help="who is closing it (for the audit trail)")
    resolve.set_defaults(func=lambda a: _run(_resolve, a))

    stats = inner.add_parser("stats", help="alerts, false-alarm rate, time to claim and resolve, per level")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=lambda a: _run(_stats, a))

    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _run(fn: Callable[[Any, argparse.Namespace], Awaitable[int]], args: argparse.Namespace) -> int:
    from bot.settings import Settings
    from storage.connection import open_redis

    async def main() -> int:
        settings = Settings()
        async with open_redis(settings.redis_url, settings.data_dir) as redis:
            return await fn(redis, args)

    return asyncio.run(main())


async def _list(redis: Any, args: argparse.Namespace) -> int:
    from escalation import queue
    from escalation.cases import Status

    if args.status == "active":
        cases = await queue.queue(redis)
    else:
        cases = await queue.all_cases(redis, Status(args.status))
    dead = await queue.dead_letters(redis)
    outbox = await queue.outbox_status(redis)
    now = time.time()
    if args.json:
        rows = [{**c.as_public_dict(), "waiting_s": int(now - c.opened_at)} for c in cases]
        data = {"cases": rows, "dead_letters": dead, "outbox": outbox}
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if not cases:
        print("사례 없음 · no cases")
    for c in cases:
        waited = _duration((c.closed_at or now) - c.opened_at)
        who = c.claimed_by_name or "-"
        print(f"{c.id:>6}  {c.level.value:<12} {c.status.value:<11} {c.display:<14} {waited:>7}  {who}")
    lanes = " ".join(f"{lane}:{n}" for lane, n in outbox["queued_per_lane"].items())
    alive = len(outbox["consumers"])
    print(f"\n보낼 메시지 · outbox queued by lane (0 = crisis): {lanes}")
    print(f"전송기 · outbox consumers alive: {alive}")
    if dead:
        print(f"\n전달 실패 · failed deliveries ({len(dead)}):")
        for d in dead:
            print(f"  {d['id']}  {d['kind']:<10} to {d['chat']:<6} {_stamp(d['at'])}  {d['error']}")
    return 0


async def _show(redis: Any, args: argparse.Namespace) -> int:
    from escalation.store import CaseStore
    from outbox.stream import RedisOutbox

    store = CaseStore(redis, RedisOutbox(redis))
    case = await store.get(args.id)
    if case is None:
        print(f"사례 없음 · no case {args.id}", file=sys.stderr)
        return 1
    data = {**case.as_public_dict(), "audit": await store.audit(args.id)}
    data["excerpt"] = await store.latest_excerpt(args.id)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    for key in (
        "id",
        "display",
        "level",
        "status",
        "reasons",
        "claimed_by_name",
        "closed_by_name",
        "excerpt",
    ):
        print(f"{key:>16}: {data.get(key)}")
    print(f"{'opened':>16}: {_stamp(case.opened_at)}")
    print("audit:")
    for row in data["audit"]:
        extra = {k: v for k, v in row.items() if k not in ("ts", "who", "what")}
        print(f"  {_stamp(row['ts'])}  {row['who']:<18} {row['what']} {extra or ''}")
    return 0


async def _resolve(redis: Any, args: argparse.Namespace) -> int:
    from bot.settings import Settings
    from clock import SystemClock
    from escalation.cases import Counsellor
    from escalation.service import CaseService
    from outbox.stream import RedisOutbox
    from storage.profiles import ProfileRepository

    settings = Settings()
    service = CaseService(
        redis,
        RedisOutbox(redis),
        ProfileRepository(redis),
        SystemClock(),
        counsellor_chat_id=settings.counsellor_chat_id,
        supervisor_chat_id=settings.supervisor_chat_id,
        tz=settings.tz,
    )
    who = Counsellor(f"cli:{args.by}", args.by)
    close = service.false_alarm if args.false_alarm else service.resolve
    result = await close(args.id, who)
    print(result.message, file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


async def _stats(redis: Any, args: argparse.Namespace) -> int:
    from escalation import queue

    cases = await queue.all_cases(redis, limit=1_000_000)
    figures = queue.stats(cases)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return 0
    header = f"{'level':<13}{'alerts':>7}{'open':>6}{'resolved':>9}{'false':>7}{'FA rate':>8}"
    print(header + f"{'claim p50':>11}{'claim p90':>11}{'close p50':>11}{'close p90':>11}")
    for level, row in figures.items():
        rate = "-" if row["false_alarm_rate"] is None else f"{row['false_alarm_rate']:.0%}"
        print(
            f"{level:<13}{row['alerts']:>7}{row['open']:>6}{row['resolved']:>9}{row['false_alarms']:>7}{rate:>8}"
            + "".join(
                f"{_duration(row[k]) if row[k] is not None else '-':>11}"
                for k in ("claim_p50_s", "claim_p90_s", "resolve_p50_s", "resolve_p90_s")
            )
        )
    return 0


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172_800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"
