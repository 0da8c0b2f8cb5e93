"""A rolling window of recent risk signals per person (levels and scores, never text)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import redis.asyncio as aioredis

from models.assessment import PastSignal, RiskContext, RiskLevel
from storage import keys

WINDOW_SIZE = 50
WINDOW_TTL = timedelta(days=30)


class RiskWindow:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def push(self, user_key: str, signal: PastSignal) -> None:
        key = keys.risk_window(user_key)
        item = {
            "ts": signal.ts.isoformat(),
            "level": signal.level.value,
            "score": signal.score,
            "source": signal.source,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(item))
            pipe.ltrim(key, -WINDOW_SIZE, -1)
            pipe.expire(key, int(WINDOW_TTL.total_seconds()))
            await pipe.execute()

    async def context(self, user_key: str, now: datetime) -> RiskContext:
        rows = await self.redis.lrange(keys.risk_window(user_key), 0, -1)
        return self.context_from(rows, now)

    @staticmethod
    def read_command(user_key: str) -> tuple[str, str, int, int]:
        """The read `context` does, for callers that batch it with other reads in one round trip."""
        return ("LRANGE", keys.risk_window(user_key), 0, -1)

    @staticmethod
    def context_from(rows: list[str], now: datetime) -> RiskContext:
        """The context from the window's rows, as `read_command` returns them."""
        signals = []
        for row in rows:
            data = json.loads(row)
            signals.append(
                PastSignal(
                    ts=datetime.fromisoformat(data["ts"]),
                    level=RiskLevel(data["level"]),
                    score=float(data["score"]),
                    source=data.get("source", "message"),
                )
            )
        return RiskContext(recent=tuple(signals), now=now)
