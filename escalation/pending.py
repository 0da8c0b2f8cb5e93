"""A minimal stand-in for the escalation port, for channel tests that do not exercise cases
(tests/fakes/telegram_harness.py). The app uses `escalation.service.CaseService`."""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from dialogues.messages import EscalationRequest, IncomingMessage
from models.assessment import Assessment
from storage import keys
from storage.profiles import Profile


class PendingRequests:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def record(
        self,
        msg: IncomingMessage,
        profile: Profile,
        assessment: Assessment,
        request: EscalationRequest,
    ) -> None:
        entry = {"kind": request.kind.value, "update": msg.update_id, "ts": msg.ts.isoformat()}
        await self.redis.hset(keys.pending_talk_request(profile.user_key), msg.update_id, json.dumps(entry))

    async def in_handoff(self, user_key: str) -> bool:
        return False

    @staticmethod
    def handoff_read_command(user_key: str) -> tuple[str, ...] | None:
        return None  # nobody is ever handed over here: nothing to read

    @staticmethod
    def handoff_from(reply: object) -> bool:
        return False

    async def relay_from_person(self, msg: IncomingMessage, profile: Profile) -> None:
        return None

    async def erase(self, user_key: str) -> None:
        await self.redis.delete(keys.pending_talk_request(user_key))
