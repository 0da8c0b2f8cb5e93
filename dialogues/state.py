"""Per-person conversation state and recent replies in Redis (keys tagged `{u:...}`).

State is a small JSON object, e.g. ``{"flow": "onboarding", "step": "quiet"}``, written after
every turn, so a restart mid-onboarding resumes at the same step.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

from storage import keys

STATE_TTL_S = 90 * 86_400  # an abandoned flow is forgotten after three months
RECENT_KEEP = 6
RECENT_TTL_S = 30 * 86_400


@dataclass(frozen=True)
class State:
    flow: str = ""  # "", "onboarding", "settings", "checkin", "delete"
    step: str = ""
    held: bool = False  # onboarding interrupted (a crisis): typed text is not taken as an answer

    @property
    def idle(self) -> bool:
        return not self.flow


class StateStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def get(self, user_key: str) -> State:
        return _decode_state(await self.redis.get(keys.conversation_state(user_key)))

    async def get_with_recent(self, user_key: str) -> tuple[State, list[str]]:
        """`get` and `recent` in one round trip (a turn reads both)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.conversation_state(user_key))
            pipe.lrange(keys.recent_replies(user_key), 0, RECENT_KEEP - 1)
            raw, rows = await pipe.execute()
        return _decode_state(raw), _decode_recent(rows)

    @staticmethod
    def read_commands(user_key: str) -> list[tuple[str | int, ...]]:
        """The reads `get_with_recent` does, for callers that batch them with other reads."""
        return [
            ("GET", keys.conversation_state(user_key)),
            ("LRANGE", keys.recent_replies(user_key), 0, RECENT_KEEP - 1),
        ]

    @staticmethod
    def from_rows(rows: list[object]) -> tuple[State, list[str]]:
        """State and recent replies from what `read_commands` returned, in order."""
        raw, recent = rows
        return _decode_state(raw), _decode_recent(recent)  # type: ignore[arg-type]

    async def save_turn(self, user_key: str, state: State | None, said: list[str]) -> None:
        """What a turn changed, in one round trip: its new state (None: unchanged) and the ids of
        the varied replies it said (oldest first)."""
        if state is None and not said:
            return
        recent_key = keys.recent_replies(user_key)
        # No MULTI: the two are independent (at worst a varied reply repeats once).
        async with self.redis.pipeline(transaction=False) as pipe:
            if state is not None:
                if state.idle:
                    pipe.delete(keys.conversation_state(user_key))
                else:
                    pipe.set(keys.conversation_state(user_key), json.dumps(asdict(state)), ex=STATE_TTL_S)
            if said:
                pipe.lpush(recent_key, *said)
                pipe.ltrim(recent_key, 0, RECENT_KEEP - 1)
                pipe.expire(recent_key, RECENT_TTL_S)
            await pipe.execute()

    async def recent(self, user_key: str) -> list[str]:
        rows = await self.redis.lrange(keys.recent_replies(user_key), 0, RECENT_KEEP - 1)
        return _decode_recent(rows)


def _decode_state(raw: str | bytes | None) -> State:
    if not raw:
        return State()
    try:
        data = json.loads(raw)
        return State(
            flow=str(data.get("flow", "")), step=str(data.get("step", "")), held=bool(data.get("held"))
        )
    except (ValueError, AttributeError):
        return State()


def _decode_recent(rows: list[str | bytes]) -> list[str]:
    return [r.decode() if isinstance(r, bytes) else str(r) for r in rows]
