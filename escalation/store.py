"""Case persistence: load cases, and change one atomically together with the outbox events the
change causes (WATCH the case, then MULTI: case hash, indexes, audit, outbox entries).

If the process dies before EXEC nothing happened; after EXEC the alert is queued durably and the
outbox delivers it once per event key. Replaying the same update is refused by its marker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from escalation.cases import Case
from outbox.stream import RedisOutbox
from outbox.types import OutboundMessage
from storage import keys

MAX_WATCH_RETRIES = 50
UPDATE_MARKER_TTL_S = 7 * 86_400


@dataclass
class Change:
    """What one mutation writes besides the case hash. `result` is handed back to the caller."""

    result: Any = None
    events: list[tuple[OutboundMessage, str | None]] = field(default_factory=list)  # (msg, key)
    audit: list[dict[str, Any]] = field(default_factory=list)
    writes: list[Callable[[Any], None]] = field(default_factory=list)  # extra commands on the MULTI
    save: bool = True


class CaseStore:
    def __init__(self, redis: aioredis.Redis, outbox: RedisOutbox) -> None:
        self.redis = redis
        self.outbox = outbox

    async def get(self, case_id: str) -> Case | None:
        data = await self.redis.hgetall(keys.case(case_id))
        return Case.from_hash(data) if data else None

    async def latest_excerpt(self, case_id: str) -> str | None:
        texts = await self.redis.hgetall(keys.case_texts(case_id))
        if not texts:
            return None
        last = max(texts, key=lambda k: int(k) if k.isdigit() else -1)
        return str(json.loads(texts[last]).get("text", ""))

    async def audit(self, case_id: str) -> list[dict[str, Any]]:
        return [json.loads(row) for row in await self.redis.lrange(keys.case_audit(case_id), 0, -1)]

    async def mutate(
        self,
        case_id: str,
        decide: Callable[[Case], Change | None],
        *,
        marker: str | None = None,
    ) -> tuple[Case | None, Change | None]:
        """Apply `decide(case)` atomically. `decide` edits the case in place and returns the Change,
        or None to leave everything as it is. With `marker`, runs at most once per marker."""
        for _ in range(MAX_WATCH_RETRIES):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    watched = [keys.case(case_id)] + ([marker] if marker else [])
                    await pipe.watch(*watched)
                    if marker and await pipe.exists(marker):
                        return None, None
                    data = await pipe.hgetall(keys.case(case_id))
                    if not data:
                        return None, None
                    case = Case.from_hash(data)
                    change = decide(case)
                    if change is None:
                        return case, None
                    pipe.multi()
                    self.write(pipe, case, change, marker=marker)
                    await pipe.execute()
                    return case, change
                except WatchError:
                    continue
        raise RuntimeError(f"case {case_id} too contended")

    def write(self, pipe: Any, case: Case, change: Change, *, marker: str | None = None) -> None:
        """Queue the commands of one change on a MULTI (event keys are fixed before the hash)."""
        resolved = [(m, key or case.next_event()) for m, key in change.events]
        if marker:
            pipe.set(marker, case.id, ex=UPDATE_MARKER_TTL_S)
        if change.save:
            pipe.hset(keys.case(case.id), mapping=case.to_hash())
        for write in change.writes:
            write(pipe)
        for entry in change.audit:
            pipe.rpush(keys.case_audit(case.id), json.dumps(entry, ensure_ascii=False))
        for message, key in resolved:
            self.outbox.add_to(pipe, message, key=key)
