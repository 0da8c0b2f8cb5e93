"""Build the scheduling services from their ports (called once, by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from clock import Clock
from outbox.types import Outbox
from scheduling.checkins import CheckinScheduler, CheckinStarter, notify_plan_changed
from scheduling.engine import SchedulingEngine
from scheduling.leader import SchedulerLeader
from scheduling.reminders import ActivityScheduler
from scheduling.service import ActivityService
from scheduling.staff_flow import StaffFlow
from scheduling.texts import Texts
from storage.profiles import ProfileRepository


@dataclass
class Scheduling:
    service: ActivityService
    checkins: CheckinScheduler
    activities: ActivityScheduler
    engine: SchedulingEngine
    leader: SchedulerLeader
    flow: StaffFlow

    async def plan_changed(self, user_key: str) -> None:
        """A turn changed this person's check-in settings: the leader re-plans on its next tick."""
        await notify_plan_changed(self.checkins.redis, user_key)

    async def erase(self, user_key: str) -> None:
        """Forget a person everywhere scheduling keeps them outside their `{u:}` keys (/delete)."""
        await self.checkins.erase(user_key)
        await self.service.rsvps.erase(user_key)
        await self.activities.erase(user_key)


def build_scheduling(
    redis: aioredis.Redis,
    profiles: ProfileRepository,
    outbox: Outbox,
    clock: Clock,
    *,
    start_checkin: CheckinStarter | None = None,
    tz: str = "Asia/Seoul",
    lease_ttl_s: float = 15.0,
    tick_s: float = 5.0,
) -> Scheduling:
    texts = Texts()
    service = ActivityService(redis, profiles, outbox, texts=texts, tz=tz)
    checkins = CheckinScheduler(
        redis, profiles, outbox, texts=texts, start_checkin=start_checkin, default_tz=tz
    )
    activities = ActivityScheduler(redis, service, outbox)
    engine = SchedulingEngine(checkins, activities, clock)
    leader = SchedulerLeader(redis, engine, lease_ttl_s=lease_ttl_s, tick_s=tick_s)
    return Scheduling(service, checkins, activities, engine, leader, StaffFlow(redis, service))
