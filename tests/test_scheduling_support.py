"""Helpers for the scheduling tests (no tests here): an in-memory outbox double and profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import redis.asyncio as aioredis

from clock import FakeClock
from outbox.types import OutboundMessage
from scheduling.wiring import Scheduling, build_scheduling
from storage.profiles import Profile, ProfileRepository, Rhythm


@dataclass
class MemoryOutbox:
    """`outbox.types.Outbox` in memory: keeps one message per idempotency key, in order."""

    messages: list[tuple[str, OutboundMessage]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    fail_after: int | None = None  # raise (like a killed process) after this many enqueues

    async def enqueue(self, message: OutboundMessage, *, key: str) -> bool:
        if self.fail_after is not None:
            if self.fail_after <= 0:
                raise ConnectionError("killed")
            self.fail_after -= 1
        if key in self.keys:
            return False
        self.keys.add(key)
        self.messages.append((key, message))
        return True

    def to(self, user_key: str, kind: str | None = None) -> list[OutboundMessage]:
        return [m for _, m in self.messages if m.user_key == user_key and (kind is None or m.kind == kind)]

    def of_kind(self, kind: str) -> list[OutboundMessage]:
        return [m for _, m in self.messages if m.kind == kind]


def make_scheduling(redis: aioredis.Redis, outbox: object, clock: FakeClock) -> Scheduling:
    profiles = ProfileRepository(redis)
    return build_scheduling(redis, profiles, outbox, clock)  # type: ignore[arg-type]


async def add_person(
    redis: aioredis.Redis,
    user_key: str,
    now: datetime,
    **fields: object,
) -> Profile:
    profiles = ProfileRepository(redis)
    base = await profiles.get_or_create(user_key, now)
    defaults: dict[str, object] = {
        "onboarded": True,
        "checkin_consent": True,
        "rhythm": Rhythm.DAILY,
    }
    defaults.update(fields)
    profile = base.replace(**defaults)
    await profiles.save(profile)
    return profile
