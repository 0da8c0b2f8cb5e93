"""Group activities in Redis, the source of truth: one hash per activity plus an index by start.

An activity is a series when it recurs weekly: `start` is always its next occurrence and
`occurrence` counts them, so answers (RSVPs) belong to one occurrence. `version` grows on every
change of time or place, so reminders and notices for a moved activity go out again, once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import redis.asyncio as aioredis

from storage import keys

DEFAULT_REMINDERS_MIN: tuple[int, ...] = (24 * 60, 120)  # a day before, two hours before
KEEP_AFTER_END = timedelta(days=30)  # ended activities stay for stats this long


class Status(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Notice(StrEnum):
    NONE = ""
    MOVED = "moved"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Activity:
    id: str
    title: str
    start: datetime  # UTC, next occurrence
    duration_min: int = 90
    place: str = ""
    description: str = ""
    capacity: int = 0  # 0 = no limit
    weekly: bool = False
    audience_tag: str = ""  # "" = everyone who opted in to activity news
    reminders_min: tuple[int, ...] = DEFAULT_REMINDERS_MIN
    status: Status = Status.SCHEDULED
    occurrence: int = 0
    version: int = 0
    notice: Notice = Notice.NONE  # the last change everyone who answered must hear about
    created_by: str = ""
    created_at: str = ""
    changed_at: str = ""  # ISO; reminders that fell due before the last change are not sent

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration_min)

    def replace(self, **changes: object) -> Activity:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _encode(act: Activity) -> dict[str, str]:
    return {
        "id": act.id,
        "title": act.title,
        "start": act.start.isoformat(),
        "duration_min": str(act.duration_min),
        "place": act.place,
        "description": act.description,
        "capacity": str(act.capacity),
        "weekly": "1" if act.weekly else "0",
        "audience_tag": act.audience_tag,
        "reminders_min": ",".join(str(m) for m in act.reminders_min),
        "status": act.status.value,
        "occurrence": str(act.occurrence),
        "version": str(act.version),
        "notice": act.notice.value,
        "created_by": act.created_by,
        "created_at": act.created_at,
        "changed_at": act.changed_at,
    }


def _decode(d: dict[str, str]) -> Activity:
    return Activity(
        id=d["id"],
        title=d.get("title", ""),
        start=datetime.fromisoformat(d["start"]),
        duration_min=int(d.get("duration_min", "90")),
        place=d.get("place", ""),
        description=d.get("description", ""),
        capacity=int(d.get("capacity", "0")),
        weekly=d.get("weekly") == "1",
        audience_tag=d.get("audience_tag", ""),
        reminders_min=tuple(int(m) for m in d.get("reminders_min", "").split(",") if m),
        status=Status(d.get("status", "scheduled")),
        occurrence=int(d.get("occurrence", "0")),
        version=int(d.get("version", "0")),
        notice=Notice(d.get("notice", "")),
        created_by=d.get("created_by", ""),
        created_at=d.get("created_at", ""),
        changed_at=d.get("changed_at", ""),
    )


class ActivityRepository:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def create(self, act: Activity) -> Activity:
        new_id = str(await self.redis.incr(keys.activity_seq()))
        act = act.replace(id=new_id)
        await self.save(act)
        return act

    async def save(self, act: Activity) -> None:
        # Not one transaction: the index and the activity live in different cluster slots. The
        # hash is written first, so an index entry always points at a complete activity.
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(keys.activity(act.id), mapping=_encode(act))
            pipe.zadd(keys.activities_index(), {act.id: act.start.timestamp()})
            await pipe.execute()

    async def get(self, activity_id: str) -> Activity | None:
        data = await self.redis.hgetall(keys.activity(activity_id.lstrip("#")))
        return _decode(data) if data else None

    async def all(self) -> list[Activity]:
        """Every activity still indexed (scheduled, or ended/cancelled but kept for stats)."""
        ids = await self.redis.zrange(keys.activities_index(), 0, -1)
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for activity_id in ids:
                pipe.hgetall(keys.activity(activity_id))
            rows = await pipe.execute()
        return [_decode(row) for row in rows if row]

    async def upcoming(self, now: datetime) -> list[Activity]:
        """Scheduled activities that have not ended, soonest first."""
        acts = [a for a in await self.all() if a.status is Status.SCHEDULED and a.end > now]
        return sorted(acts, key=lambda a: a.start)

    async def forget(self, activity_id: str) -> None:
        """Drop an activity from the index (its hash and answers expire with it)."""
        await self.redis.zrem(keys.activities_index(), activity_id)
