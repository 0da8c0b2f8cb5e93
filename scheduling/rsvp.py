"""Answers to an activity (RSVP), with its capacity enforced atomically in Redis.

"I'll come" counts against the capacity; when it is full the person is offered the waiting list
instead of a refusal. When someone who was coming changes their answer, the first person waiting
is told a place opened up (they still choose; nobody is signed up without asking).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import redis.asyncio as aioredis

from scheduling.activities import KEEP_AFTER_END, Activity
from storage import keys


class Answer(StrEnum):
    GOING = "going"
    MAYBE = "maybe"
    LOOKING = "looking"
    NO = "no"
    WAITLIST = "waitlist"


REMINDED = (Answer.GOING, Answer.MAYBE)


class Result(StrEnum):
    RECORDED = "recorded"
    FULL = "full"  # capacity reached: offer the waiting list


@dataclass(frozen=True)
class RsvpOutcome:
    result: Result
    previous: Answer | None
    spot_for: str | None = None  # first person waiting, when a place just opened up


# KEYS: rsvps hash, waitlist zset. ARGV: user, answer, capacity, now, ttl seconds.
_RSVP = """
local prev = redis.call('HGET', KEYS[1], ARGV[1])
local cap = tonumber(ARGV[3])
if ARGV[2] == 'going' and prev ~= 'going' and cap > 0 then
  local n = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
    if v == 'going' then n = n + 1 end
  end
  if n >= cap then return {'full', prev or ''} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[2] == 'waitlist' then
  redis.call('ZADD', KEYS[2], 'NX', ARGV[4], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
local spot = ''
if prev == 'going' and ARGV[2] ~= 'going' and cap > 0 then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0)
  if first[1] then spot = first[1] end
end
return {'recorded', prev or '', spot}
"""


class RsvpRepository:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._script = redis.register_script(_RSVP)

    async def answer(self, act: Activity, user_key: str, answer: Answer, now: datetime) -> RsvpOutcome:
        ttl = int((act.end + KEEP_AFTER_END - now).total_seconds())
        result = await self._script(
            keys=[
                keys.activity_rsvps(act.id, act.occurrence),
                keys.activity_waitlist(act.id, act.occurrence),
            ],
            args=[user_key, answer.value, act.capacity, now.timestamp(), max(ttl, 60)],
        )
        status, prev = result[0], result[1]
        spot = result[2] if len(result) > 2 and result[2] else None
        return RsvpOutcome(Result(status), Answer(prev) if prev else None, spot)

    async def answers(self, act: Activity) -> dict[str, Answer]:
        raw = await self.redis.hgetall(keys.activity_rsvps(act.id, act.occurrence))
        return {user: Answer(value) for user, value in raw.items()}

    async def answer_of(self, act: Activity, user_key: str) -> Answer | None:
        raw = await self.redis.hget(keys.activity_rsvps(act.id, act.occurrence), user_key)
        return Answer(raw) if raw else None

    async def waitlist(self, act: Activity) -> list[str]:
        return list(await self.redis.zrange(keys.activity_waitlist(act.id, act.occurrence), 0, -1))

    async def erase(self, user_key: str) -> int:
        """Forget this person's answers to every activity (on /delete)."""
        removed = 0
        async for key in self.redis.scan_iter(match=keys.activity_pattern(), count=500):
            if ":rsvp:" in key:
                removed += await self.redis.hdel(key, user_key)
            elif ":wait:" in key:
                removed += await self.redis.zrem(key, user_key)
        return removed
