"""Where delivered messages and created topics are remembered, under the producer's own names.

A producer names a message (`message_ref`, e.g. `case:12:alert`) when it queues it; once sent,
its Telegram message id is stored under that ref, so a later EDIT can find it, and the reverse
(chat, message id) -> ref lets a counsellor's reply to that message be routed back to its case.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from storage import keys

NO_TOPIC = "0"  # stored under a topic ref when the chat is not a forum: send plain messages
REF_TTL_S = 180 * 86_400


class RefStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def get(self, ref: str) -> str | None:
        return _text(await self.redis.get(keys.outbox_ref(ref)))

    async def message_id(self, ref: str) -> int | None:
        value = await self.get(ref)
        return int(value) if value and value.lstrip("-").isdigit() else None

    async def ref_for_message(self, chat_id: str | int, message_id: int) -> str | None:
        return _text(await self.redis.get(keys.outbox_reverse_ref(str(chat_id), "m", message_id)))

    async def ref_for_thread(self, chat_id: str | int, thread_id: int) -> str | None:
        return _text(await self.redis.get(keys.outbox_reverse_ref(str(chat_id), "t", thread_id)))

    async def chat_is_forum(self, chat_id: str | int) -> bool:
        """False once createForumTopic failed for good there (not a forum, or no rights)."""
        return not await self.redis.exists(keys.outbox_no_forum(str(chat_id)))


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
