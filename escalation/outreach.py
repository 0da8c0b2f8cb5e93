"""Proactive outreach: care for people who do not ask for it.

Someone whose recent messages or check-in answers signalled distress or crisis, and who then
went quiet (nothing sent for `silence_days`, or nothing since the signal and `missed_checkins`
unanswered check-ins), gets a low-priority outreach case, so a counsellor can reach out. One
outreach per episode: a new one needs a newer signal. Only signals (levels, moods, times) and
when the person last sent anything are read, never message text.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from clock import Clock
from escalation.cases import Level
from escalation.periodic import repeat
from escalation.service import CaseService
from storage import keys
from storage.profiles import Mood, ProfileRepository
from storage.risk_window import RiskWindow
from telemetry import event, hash_id

log = logging.getLogger(__name__)

LOOKBACK_DAYS = 14
# A signal and the last-seen stamp of the same message can differ by clock rounding.
SAME_MOMENT = timedelta(minutes=1)
WORRYING_MOODS = (Mood.NOT_GREAT, Mood.WANT_TO_TALK)


class OutreachScan:
    def __init__(
        self,
        service: CaseService,
        profiles: ProfileRepository,
        clock: Clock,
        *,
        silence_days: float = 3,
        missed_checkins: int = 2,
        interval_s: float = 3600,
    ) -> None:
        self.service = service
        self.profiles = profiles
        self.clock = clock
        self.silence = timedelta(days=silence_days)
        self.missed_checkins = missed_checkins
        self.interval_s = interval_s
        self.window = RiskWindow(service.redis)

    async def run_once(self, now: datetime | None = None) -> int:
        """Open an outreach case for everyone who qualifies now. Returns how many were opened."""
        now = now or self.clock.now()
        opened = 0
        for user_key in await self.profiles.all_user_keys():
            try:
                opened += await self._consider(user_key, now)
            except Exception as exc:
                event(
                    log,
                    "outreach_check_failed",
                    logging.WARNING,
                    user=hash_id(user_key),
                    error=type(exc).__name__,
                )
        return opened

    async def run_forever(self) -> None:
        await repeat(self.run_once, self.interval_s, "outreach_scan_failed", log)

    async def _consider(self, user_key: str, now: datetime) -> int:
        redis = self.service.redis
        if await redis.exists(keys.open_case(user_key)):
            return 0
        profile = await self.profiles.get(user_key)
        if profile is None or not profile.active:
            return 0
        since = now - timedelta(days=LOOKBACK_DAYS)
        context = await self.window.context(user_key, now)
        moods = await self.profiles.moods_since(user_key, since)
        worrying = [s.ts for s in context.recent if s.ts >= since and s.level.value in ("distress", "crisis")]
        worrying += [ts for ts, mood in moods if mood in WORRYING_MOODS]
        if not worrying:
            return 0
        signal = max(worrying)
        marked = await redis.get(keys.outreach_mark(user_key))
        if marked is not None and float(marked) >= signal.timestamp():
            return 0  # this episode already had its outreach
        seen = await self.profiles.last_seen(user_key)  # any message or button, scored or not
        activity = [s.ts for s in context.recent] + [ts for ts, _ in moods] + ([seen] if seen else [])
        last_seen = max(activity) if activity else signal
        unanswered = int(await redis.hget(keys.checkin_plan(user_key), "unanswered") or 0)
        # Missed check-ins mean silence only if nothing came since the worrying signal: someone
        # who talks with the companion but lets check-ins pass has not gone quiet.
        silent_since_signal = last_seen <= signal + SAME_MOMENT
        quiet = now - last_seen >= self.silence or (
            self.missed_checkins > 0 and unanswered >= self.missed_checkins and silent_since_signal
        )
        if not quiet:
            return 0
        trigger = {
            "ts": now.timestamp(),
            "kind": "outreach",
            "level": "distress",
            "score": 0.0,
            "update": f"outreach:{int(signal.timestamp())}",
        }
        case = await self.service.open_or_attach(
            profile,
            Level.OUTREACH,
            ["went_quiet"],
            trigger,
            text=None,
            marker=keys.case_update("outreach", f"{user_key}:{int(signal.timestamp())}"),
        )
        await redis.set(keys.outreach_mark(user_key), signal.timestamp(), ex=90 * 86_400)
        if case is None:
            return 0
        event(log, "outreach_case_opened", case=case.id, user=hash_id(user_key))
        return 1
