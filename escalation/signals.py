"""The recent picture of a person for an alert: mood trend and risk signals (never message text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from storage.profiles import ProfileRepository
from storage.risk_window import RiskWindow

MOOD_DAYS = 14


async def recent_signals(
    redis: aioredis.Redis, profiles: ProfileRepository, user_key: str, now: float
) -> tuple[tuple[str, ...], int, int]:
    """(moods oldest first, crisis signals in 7 days, distress signals in 7 days)."""
    at = datetime.fromtimestamp(now, UTC)
    try:
        moods = await profiles.moods_since(user_key, at - timedelta(days=MOOD_DAYS))
        context = await RiskWindow(redis).context(user_key, at)
    except Exception:  # an alert without its context is still an alert
        return (), 0, 0
    week = at - timedelta(days=7)
    recent = [s for s in context.recent if s.ts >= week]
    crisis = sum(1 for s in recent if s.level.value == "crisis")
    distress = sum(1 for s in recent if s.level.value == "distress")
    return tuple(m.value for _, m in moods), crisis, distress
