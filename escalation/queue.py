"""Reading the counsellor queue and the Center's figures (what `ieum cases` prints)."""

from __future__ import annotations

import json
import math
from typing import Any

import redis.asyncio as aioredis

from escalation.cases import Case, Status
from storage import keys


async def load_cases(redis: aioredis.Redis, ids: list[str]) -> list[Case]:
    async with redis.pipeline(transaction=False) as pipe:
        for case_id in ids:
            pipe.hgetall(keys.case(case_id))
        rows = await pipe.execute()
    return [Case.from_hash(row) for row in rows if row]


async def queue(redis: aioredis.Redis) -> list[Case]:
    """Cases not yet closed, by priority then waiting time (oldest first)."""
    return await load_cases(redis, [str(i) for i in await redis.zrange(keys.case_queue(), 0, -1)])


async def all_cases(redis: aioredis.Redis, status: Status | None = None, limit: int = 500) -> list[Case]:
    """Every case, newest first (or only those with `status`)."""
    ids = [str(i) for i in await redis.zrevrange(keys.cases_all(), 0, -1 if status else limit - 1)]
    cases = await load_cases(redis, ids)
    if status is not None:
        cases = [c for c in cases if c.status is status][:limit]
    return cases


async def dead_letters(redis: aioredis.Redis, limit: int = 100) -> list[dict[str, Any]]:
    """Deliveries that failed for good (newest first), without message text."""
    out = []
    rows: Any = await redis.xrevrange(keys.outbox_dead(), count=limit)
    for entry_id, fields in rows or ():
        try:
            message = json.loads(fields.get("m", "{}"))
        except ValueError:
            message = {}
        out.append(
            {
                "id": entry_id,
                "kind": message.get("kind", "?"),
                "chat": "group" if str(message.get("chat_id", "")).startswith("-") else "person",
                "key": fields.get("k", ""),
                "error": fields.get("error", ""),
                "attempts": int(fields.get("attempts", "0") or 0),
                "at": int(fields.get("at", "0") or 0),
            }
        )
    return out


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def stats(cases: list[Case]) -> dict[str, Any]:
    """Per level (the level a case was opened at): alerts, verdicts, false-alarm rate, time to
    claim and to close (seconds, p50/p90)."""
    by_level: dict[str, list[Case]] = {}
    for case in cases:
        by_level.setdefault((case.first_level or case.level).value, []).append(case)
    by_level["all"] = list(cases)
    out: dict[str, Any] = {}
    for level, group in by_level.items():
        closed = [c for c in group if c.status.closed]
        false_alarms = [c for c in closed if c.status is Status.FALSE_ALARM]
        claim = [c.claimed_at - c.opened_at for c in group if c.claimed_at is not None]
        resolve = [
            c.closed_at - c.opened_at
            for c in closed
            if c.closed_at is not None and c.status is Status.RESOLVED and c.user_key != "erased"
        ]
        out[level] = {
            "alerts": len(group),
            "open": len(group) - len(closed),
            "resolved": len(closed) - len(false_alarms),
            "false_alarms": len(false_alarms),
            "false_alarm_rate": round(len(false_alarms) / len(closed), 3) if closed else None,
            "claim_p50_s": percentile(claim, 50),
            "claim_p90_s": percentile(claim, 90),
            "resolve_p50_s": percentile(resolve, 50),
            "resolve_p90_s": percentile(resolve, 90),
        }
    return out


async def outbox_status(redis: aioredis.Redis) -> dict[str, Any]:
    """Queued deliveries per lane and the outbox consumers alive (their health keys)."""
    from outbox.stream import LANES

    lanes = {}
    for lane in LANES:
        lanes[str(lane)] = int(await redis.xlen(keys.outbox_lane(lane)))
    alive = []
    async for key in redis.scan_iter(match=keys.outbox_health("*"), count=100):
        raw = await redis.get(key)
        if raw:
            alive.append({"consumer": str(key).rsplit(":", 1)[-1], **json.loads(raw)})
    return {
        "queued_per_lane": lanes,
        "dead_letters": int(await redis.xlen(keys.outbox_dead())),
        "consumers": alive,
    }
