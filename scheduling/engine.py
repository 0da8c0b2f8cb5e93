"""One scheduling step, driven by APScheduler in production and called directly by tests.

`tick(now)` re-plans the people whose settings changed, fires the check-ins due at `now`, and
fires the activity work due at `now`. Everything it reads is in Redis and every firing is
idempotent, so any process may run it, any number of times; the leader lease only keeps the
work from being done twice as often as needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from clock import Clock
from scheduling.checkins import CheckinScheduler
from scheduling.reminders import ActivityScheduler
from telemetry import event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    replanned: int = 0
    checkins_due: int = 0
    activity_items: int = 0


class SchedulingEngine:
    def __init__(
        self,
        checkins: CheckinScheduler,
        activities: ActivityScheduler,
        clock: Clock,
        *,
        sweep_every: timedelta = timedelta(minutes=1),
    ) -> None:
        self.checkins = checkins
        self.activities = activities
        self.clock = clock
        self.sweep_every = sweep_every
        self._last_sweep: datetime | None = None

    async def rebuild(self, now: datetime | None = None) -> int:
        """Bring every check-in plan in line with the profiles (a new leader does this first)."""
        now = now or self.clock.now()
        replanned = await self.checkins.sweep(now)
        self._last_sweep = now
        event(log, "schedule_rebuilt", replanned=replanned)
        return replanned

    async def tick(self, now: datetime | None = None) -> TickReport:
        now = now or self.clock.now()
        if self._last_sweep is None or now - self._last_sweep >= self.sweep_every:
            replanned = await self.rebuild(now)
        else:
            replanned = 0
        replanned += await self.checkins.replan_changed(now)
        due = await self.checkins.run_due(now)
        items = await self.activities.run_due(now)
        return TickReport(replanned, due, items)

    run_once = tick
