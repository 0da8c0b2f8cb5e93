"""The read side of the inbox: a consumer group per shard stream, one worker task per shard.

Ordering: a shard is consumed by one process at a time (a lease in Redis, renewed while it
works), and inside a batch one chat's entries run one after another while different chats run
concurrently. So one person's updates are handled in order, and many people at once.

Durability: an entry is acknowledged (and deleted, so raw text does not linger) only after it
was handled. A process that takes over a shard first reclaims, with XAUTOCLAIM, whatever the
previous holder left unacknowledged, in stream order, before it reads anything new. An entry
that keeps failing is retried a few times and then moved to a dead-letter stream, so one poison
update cannot block a person's shard forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from bot.telegram.inbox import Inbox, InboxEntry, chat_of
from bot.telegram.inbox_leases import ShardLeases
from storage import keys
from storage.cancellation import raise_if_cancelling, wait_set
from telemetry import event, hash_id

log = logging.getLogger(__name__)

GROUP = "ieum-bot"
DEAD_LETTER_MAXLEN = 10_000
ERASE_SCAN_BATCH = 500

Handler = Callable[[InboxEntry, int], Awaitable[None]]  # (entry, attempt number from 1)

_ACK = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
"""


class Unprocessable(Exception):
    """The entry can never be handled (e.g. unreadable): dead-letter it now, without retries."""


class InboxConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        inbox: Inbox,
        handler: Handler,
        *,
        consumer: str | None = None,
        batch: int = 64,
        block_ms: int = 1000,
        lease_ms: int = 30_000,
        retry_delays: Sequence[float] = (0.05, 0.5, 2.0),
        max_deliveries: int = 5,
        max_in_flight: int = 48,
    ) -> None:
        self.redis = redis
        self.inbox = inbox
        self.handler = handler
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.batch = batch
        self.block_ms = block_ms
        self.lease_ms = lease_ms
        self.retry_delays = tuple(retry_delays)
        # An entry handed out this often was being handled when a process died, repeatedly:
        # it goes to the dead letters instead of crashing the next process too.
        self.max_deliveries = max_deliveries
        self._ack_script = redis.register_script(_ACK)
        self.leases = ShardLeases(redis, shards=inbox.shards, holder=self.consumer, lease_ms=lease_ms)
        # Chats handled at once across all shards of this process: bounds Redis connections and
        # memory under a burst (the rest wait in their streams, durable and in order).
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._stopping = asyncio.Event()
        self.handled = 0  # entries finished (acknowledged or dead-lettered) by this consumer

    # --- running ---------------------------------------------------------------------------------
    async def run(self) -> None:
        """One worker per shard until `stop()` (or cancelled); leases are released on the way out."""
        self._stopping.clear()
        try:
            await self.leases.heartbeat()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._heartbeat_loop(), name="inbox-heartbeat")
                for shard in range(self.inbox.shards):
                    group.create_task(self._shard_loop(shard), name=f"inbox-shard-{shard}")
        finally:
            await self.release_all()

    def stop(self) -> None:
        """Finish the entries in hand, read no more: `run()` then returns within `block_ms`."""
        self._stopping.set()

    async def run_once(self) -> int:
        """Drain every shard this consumer can hold, without blocking; return entries handled."""
        before = self.handled
        for shard in range(self.inbox.shards):
            if not await self._take(shard):
                continue
            while await self._read_new(shard, block_ms=None):
                pass
        return self.handled - before

    async def release_all(self) -> None:
        await self.leases.release_all()

    async def _heartbeat_loop(self) -> None:
        while not self._stopping.is_set():
            raise_if_cancelling()
            try:
                await self.leases.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                event(log, "inbox_heartbeat_failed", logging.ERROR, error=type(exc).__name__)
            await wait_set(self._stopping, self.lease_ms / 3000)

    async def _shard_loop(self, shard: int) -> None:
        failures = 0
        while not self._stopping.is_set():
            raise_if_cancelling()
            try:
                if self.leases.surplus(shard):
                    await self.leases.release(shard)  # between batches: nothing of it is in hand
                    event(log, "inbox_shard_handed_over", shard=shard)
                if not await self._take(shard):
                    await wait_set(self._stopping, min(2.0, self.lease_ms / 3000))
                    continue
                await self._read_new(shard, block_ms=self.block_ms)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                event(log, "inbox_read_failed", logging.ERROR, shard=shard, error=type(exc).__name__)
                await asyncio.sleep(min(5.0, 0.1 * 2**failures))

    # --- lease -----------------------------------------------------------------------------------
    async def _take(self, shard: int) -> bool:
        """Hold (or keep holding) the shard; on a fresh take, first reclaim what was left pending."""
        if shard in self.leases.held:
            return True
        if not await self.leases.take(shard):
            return False
        await self._ensure_group(shard)
        await self._recover(shard)
        return True

    async def _ensure_group(self, shard: int) -> None:
        try:
            await self.redis.xgroup_create(keys.inbox_stream(shard), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # --- reading ---------------------------------------------------------------------------------
    async def _recover(self, shard: int) -> int:
        """Claim every entry left pending on the shard (ours or a dead process's), in order."""
        stream = keys.inbox_stream(shard)
        start = "0-0"
        handled = 0
        while True:
            reply = await self.redis.xautoclaim(
                stream, GROUP, self.consumer, min_idle_time=0, start_id=start, count=self.batch
            )
            start, claimed = reply[0], reply[1]
            if claimed:
                deliveries = await self._deliveries(stream, claimed)
                entries = [self._entry(shard, eid, fields, deliveries.get(eid, 1)) for eid, fields in claimed]
                if entries:
                    event(log, "inbox_entries_reclaimed", shard=shard, count=len(entries))
                handled += await self._handle_batch(entries)
            if start in ("0-0", b"0-0"):
                return handled

    async def _deliveries(self, stream: str, claimed: list[Any]) -> dict[str, int]:
        first, last = claimed[0][0], claimed[-1][0]
        rows = await self.redis.xpending_range(
            stream, GROUP, min=first, max=last, count=len(claimed) + 16, consumername=self.consumer
        )
        return {row["message_id"]: int(row["times_delivered"]) for row in rows}

    async def _read_new(self, shard: int, block_ms: int | None) -> int:
        stream = keys.inbox_stream(shard)
        try:
            reply = await self.redis.xreadgroup(
                GROUP, self.consumer, {stream: ">"}, count=self.batch, block=block_ms
            )
        except ResponseError as exc:
            # The stream (and its group) vanished under us, e.g. deleted by an operator: recreate.
            if "NOGROUP" not in str(exc) and "no longer exists" not in str(exc):
                raise
            await self._ensure_group(shard)
            return 0
        if not reply:
            return 0
        entries = [
            self._entry(shard, eid, fields, 1) for _name, messages in reply for eid, fields in messages
        ]
        return await self._handle_batch(entries)

    def _entry(self, shard: int, entry_id: str, fields: dict[str, str] | None, deliveries: int) -> InboxEntry:
        fields = fields or {}
        try:
            update = json.loads(fields.get("u", "{}"))
        except ValueError:
            update = {}
        return InboxEntry(
            id=entry_id,
            shard=shard,
            chat=fields.get("c", "0"),
            update=update if isinstance(update, dict) else {},
            intake_ts=float(fields.get("t", 0) or 0),
            deliveries=deliveries,
            spinner_answered=fields.get("a") == "1",
        )

    # --- handling --------------------------------------------------------------------------------
    async def _handle_batch(self, entries: list[InboxEntry]) -> int:
        by_chat: dict[str, list[InboxEntry]] = defaultdict(list)
        for entry in entries:
            by_chat[entry.chat].append(entry)
        if len(by_chat) == 1:
            await self._handle_chat(entries)
        else:
            await asyncio.gather(*(self._handle_chat(chat_entries) for chat_entries in by_chat.values()))
        self.handled += len(entries)
        return len(entries)

    async def _handle_chat(self, entries: list[InboxEntry]) -> None:
        for entry in entries:
            raise_if_cancelling()
            async with self._in_flight:
                await self._handle_entry(entry)

    async def _handle_entry(self, entry: InboxEntry) -> None:
        if entry.deliveries > self.max_deliveries or "update_id" not in entry.update:
            await self._dead_letter(entry, "poison" if entry.update else "unreadable")
            return
        attempts = 1 + len(self.retry_delays)
        for attempt in range(1, attempts + 1):
            try:
                await self.handler(entry, entry.deliveries - 1 + attempt)
            except asyncio.CancelledError:
                raise
            except Unprocessable:
                await self._dead_letter(entry, "unreadable")
                return
            except Exception as exc:
                event(
                    log,
                    "inbox_entry_failed",
                    logging.WARNING if attempt < attempts else logging.ERROR,
                    shard=entry.shard,
                    chat=hash_id(entry.chat),
                    attempt=attempt,
                    error=type(exc).__name__,
                )
                if attempt < attempts:
                    await asyncio.sleep(self.retry_delays[attempt - 1])
                    continue
                await self._dead_letter(entry, type(exc).__name__)
                return
            await self._ack(entry)
            return

    async def _ack(self, entry: InboxEntry) -> None:
        """Acknowledge and delete in one step: a handled update's raw text does not stay behind."""
        await self._ack_script(keys=[keys.inbox_stream(entry.shard)], args=[GROUP, entry.id])

    async def _dead_letter(self, entry: InboxEntry, reason: str) -> None:
        """Keep a failed update for an operator, then take it off the shard so the chat moves on."""
        await self.redis.xadd(
            keys.inbox_dead_letter(),
            {
                "shard": str(entry.shard),
                "entry": entry.id,
                "reason": reason,
                "c": entry.chat,  # so /delete finds the person's entries (`erase_dead_letters`)
                "u": json.dumps(entry.update, ensure_ascii=False, separators=(",", ":")),
            },
            maxlen=DEAD_LETTER_MAXLEN,
            approximate=True,
        )
        await self._ack(entry)
        event(
            log,
            "inbox_entry_dead_lettered",
            logging.ERROR,
            shard=entry.shard,
            chat=hash_id(entry.chat),
            reason=reason,
        )


async def erase_dead_letters(redis: aioredis.Redis, inbox: Inbox, user_key: str) -> int:
    """/delete: take the person's failed updates (which hold what they wrote) off the dead-letter
    stream. Returns how many were removed. The stream is capped, so the scan is bounded."""
    channel, _, chat = user_key.partition(":")
    if channel != inbox.channel or not chat:
        return 0
    stream = keys.inbox_dead_letter()
    removed = 0
    start = "-"
    while True:
        rows = await redis.xrange(stream, min=start, max="+", count=ERASE_SCAN_BATCH)
        mine = [entry_id for entry_id, fields in rows if _dead_letter_chat(fields) == chat]
        if mine:
            removed += await redis.xdel(stream, *mine)
        if len(rows) < ERASE_SCAN_BATCH:
            return removed
        start = f"({rows[-1][0]}"


def _dead_letter_chat(fields: dict[str, str]) -> str:
    if fields.get("c"):
        return fields["c"]
    try:  # entries written before the chat was kept beside the update
        update = json.loads(fields.get("u", "{}"))
    except ValueError:
        return ""
    return chat_of(update) if isinstance(update, dict) else ""
