"""Durable intake: every update is deduplicated and appended to a Redis Stream before it is confirmed.

The webhook answers 200, and long polling advances its offset, only after `Inbox.push` returned:
from then on the update survives a crash of this process. The seen-marker and the append run in
one Lua script on keys that share a hash slot, so a crash between them cannot drop or double an
update. Streams are sharded by chat: one person's updates land in one stream, in order.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from storage import keys

DEFAULT_SHARDS = 16

# KEYS[1] seen-marker, KEYS[2] stream; ARGV[1] ttl s, ARGV[2] raw update, ARGV[3] chat, ARGV[4] intake ts,
# ARGV[5] "1" when a button's spinner was already answered at intake (the webhook's response)
_PUSH = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', 'u', ARGV[2], 'c', ARGV[3], 't', ARGV[4], 'a', ARGV[5])
end
return false
"""


@dataclass(frozen=True)
class InboxEntry:
    """One update as it sits in its shard's stream."""

    id: str
    shard: int
    chat: str
    update: dict[str, Any]
    intake_ts: float  # wall-clock seconds when the update was taken in (for latency figures)
    deliveries: int = 1  # how many times the stream has handed this entry out
    spinner_answered: bool = False  # the webhook's response already answered this button press


def chat_of(update: dict[str, Any]) -> str:
    """The chat an update belongs to (its ordering key); "0" when an update names none."""
    for name, body in update.items():
        if name == "update_id" or not isinstance(body, dict):
            continue
        chat = body.get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return str(chat["id"])
        message = body.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return str(message["chat"].get("id", 0))
        sender = body.get("from") or body.get("user")
        if isinstance(sender, dict) and "id" in sender:
            return str(sender["id"])
    return "0"


class Inbox:
    """The write side: `push` an update; `InboxConsumer` reads the shards."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        channel: str = "telegram",
        shards: int = DEFAULT_SHARDS,
        dedup_ttl: int = 7 * 86_400,
    ) -> None:
        if shards < 1:
            raise ValueError("an inbox needs at least one shard")
        self.redis = redis
        self.channel = channel
        self.shards = shards
        self.dedup_ttl = dedup_ttl
        self._push = redis.register_script(_PUSH)

    def shard_of(self, chat: str) -> int:
        # crc32, not hash(): every process must agree on a chat's shard.
        return zlib.crc32(chat.encode()) % self.shards

    async def push(
        self, update: dict[str, Any], raw: str | bytes | None = None, *, spinner_answered: bool = False
    ) -> bool:
        """Make `update` durable. True if it is new, False if this update id was already taken in.

        `raw` is the update's JSON exactly as received (the webhook body): stored as it is instead
        of serialising the parsed `update` again. It must be the JSON `update` was parsed from.

        Raises on a Redis error: the caller must then not confirm the update (webhook 5xx, or
        polling keeps its offset) so Telegram delivers it again.
        """
        update_id = update["update_id"]
        chat = chat_of(update)
        shard = self.shard_of(chat)
        if raw is None:
            raw = json.dumps(update, ensure_ascii=False, separators=(",", ":"))
        entry_id = await self._push(
            keys=[keys.inbox_seen(shard, self.channel, update_id), keys.inbox_stream(shard)],
            args=[self.dedup_ttl, raw, chat, f"{time.time():.6f}", "1" if spinner_answered else "0"],
        )
        return entry_id is not None

    def streams(self) -> list[str]:
        return [keys.inbox_stream(s) for s in range(self.shards)]
