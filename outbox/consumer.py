"""The outbox consumer: reads the priority lanes, paces, delivers through channel Senders.

Delivery is at-least-once from Redis' point of view and once in practice:
- an entry stays in the group's pending list until it is acknowledged together with its
  effects (the stored message id, the dead letter) in one MULTI;
- entries a dead consumer left are taken over with XAUTOCLAIM after `claim_idle_ms`; a live
  consumer keeps its own long-waiting entries fresh (XCLAIM JUSTID) so none is taken twice;
- 429 waits `retry_after` for that chat; network errors and 5xx back off and retry, then go to
  the dead-letter stream; 403 marks the person inactive and drops the entry.

Order: crisis lane first; within one chat, priority then arrival (one delivery in flight per chat).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import itertools
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from outbox.codec import decode
from outbox.pacing import Pacer, PacingConfig
from outbox.refs import NO_TOPIC, REF_TTL_S
from outbox.stream import LANES
from outbox.types import Action, Delivery, DeliveryStatus, OutboundMessage, Sender
from storage import keys
from storage.cancellation import raise_if_cancelling, stop_task, wait_set
from telemetry import event, hash_id

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 60.0, 120.0)
DEPENDENCY_WAIT_S = 0.2  # an EDIT waiting for its SEND, a SEND waiting for its topic
DEPENDENCY_TIMEOUT_S = 60.0
HEALTH_TTL_S = 60
GONE_AFTER_MS = 86_400_000
DEAD_MAXLEN = 10_000
CHILD_STOP_S = 10.0  # on shutdown, how long a reader, upkeep or delivery task gets to end


class Blocker(Protocol):
    async def __call__(self, user_key: str) -> object: ...


@dataclass
class ConsumerStats:
    delivered: int = 0
    dead: int = 0
    blocked: int = 0
    retried: int = 0
    rate_limited: int = 0


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    lane: int = field(compare=False)
    entry_id: str = field(compare=False)
    key: str = field(compare=False)
    message: OutboundMessage = field(compare=False)
    enqueued_ms: int = field(compare=False, default=0)
    not_before: float = field(compare=False, default=0.0)
    first_seen: float = field(compare=False, default=0.0)
    rate_limited: int = field(compare=False, default=0)
    parked: bool = field(compare=False, default=False)  # waiting for what it depends on


class OutboxConsumer:
    """One member of the outbox consumer group. `run_forever()` in production, `run_once()` in tests."""

    def __init__(
        self,
        redis: aioredis.Redis,
        senders: Mapping[str, Sender],
        *,
        on_blocked: Blocker | None = None,
        pacing: PacingConfig | None = None,
        name: str | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS_S,
        max_rate_limited: int = 50,
        claim_idle_ms: int = 30_000,
        block_ms: int = 1_000,
        max_buffered: int = 1_000,
        concurrency: int = 64,
        send_timeout_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.senders = senders  # live mapping: adapters register their sender when they start
        self.on_blocked = on_blocked
        self.pacer = Pacer(pacing or PacingConfig())
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{id(self) & 0xFFFF:x}"
        self.retry_delays = retry_delays
        self.max_rate_limited = max_rate_limited
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.max_buffered = max_buffered
        self.send_timeout_s = send_timeout_s
        self.mono = monotonic
        self.stats = ConsumerStats()
        self._seq = itertools.count()
        self._chats: dict[str, list[_Job]] = {}  # chat -> heap of waiting jobs
        self._ready: list[tuple[int, int, str]] = []  # (priority, seq, chat)
        self._timers: list[tuple[float, int, str]] = []  # (when, seq, chat)
        # jobs waiting for a topic or message they depend on; parked outside their chat's queue
        # so the chat's other deliveries (the topic creation itself, say) are not held up
        self._parked: list[tuple[float, int, _Job]] = []
        self._busy: set[str] = set()
        self._held: set[tuple[int, str]] = set()  # (lane, entry id) in memory or in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._sem = asyncio.Semaphore(concurrency)
        self._groups_ready = False

    # --- public ---------------------------------------------------------------------------
    async def run_once(self, *, timeout: float = 60.0) -> int:
        """Take over abandoned entries, deliver everything queued now (retries included), return
        how many entries were finished (delivered, dropped or dead-lettered)."""
        await self._ensure_groups()
        before = self._finished()
        deadline = self.mono() + timeout
        await self._reclaim()
        while self.mono() < deadline:
            await self._read(block_ms=None)
            if not self._held:
                break
            wait = self._dispatch()
            await self._sleep(wait if wait is not None else 0.05)
        return self._finished() - before

    async def run_forever(self) -> None:
        await self._ensure_groups()
        await self._reclaim()
        event(log, "outbox_consumer_started", consumer=self.name)
        tasks = [
            asyncio.create_task(self._reader_loop()),
            asyncio.create_task(self._maintenance_loop()),
        ]
        try:
            while True:
                raise_if_cancelling()
                wait = self._dispatch()
                await self._sleep(wait if wait is not None else 1.0)
        finally:
            await asyncio.gather(*(stop_task(task, CHILD_STOP_S) for task in [*tasks, *self._tasks]))
            with contextlib.suppress(Exception):
                await self.redis.delete(keys.outbox_health(self.name))

    # --- reading --------------------------------------------------------------------------
    async def _ensure_groups(self) -> None:
        if self._groups_ready:
            return
        for lane in LANES:
            try:
                await self.redis.xgroup_create(
                    keys.outbox_lane(lane), keys.OUTBOX_GROUP, id="0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._groups_ready = True

    async def _reader_loop(self) -> None:
        while True:
            try:
                await self._read(block_ms=self.block_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                event(log, "outbox_read_failed", logging.WARNING, error=type(exc).__name__)
                await asyncio.sleep(1.0)
            raise_if_cancelling()

    async def _read(self, block_ms: int | None) -> int:
        """Read new entries. Crisis lane always; the others only while the buffer has room."""
        room = self.max_buffered - len(self._held)
        streams: dict[Any, Any] = {keys.outbox_lane(LANES[0]): ">"}
        if room > 0:
            streams.update({keys.outbox_lane(lane): ">" for lane in LANES[1:]})
        count = room if room > 0 else 100  # full: still take crisis entries
        # with a full buffer only the crisis lane is watched: come back soon for the other lanes
        block = block_ms if block_ms is None or room > 0 else min(block_ms, 50)
        try:
            response: Any = await self.redis.xreadgroup(
                keys.OUTBOX_GROUP, self.name, streams, count=count, block=block
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._groups_ready = False  # the streams were removed under us: make them again
            await self._ensure_groups()
            return 0
        added = 0
        for stream, entries in response or ():
            lane = int(str(stream).rsplit(":", 1)[1])
            added += await self._accept(lane, entries)
        return added

    async def _reclaim(self) -> int:
        """XAUTOCLAIM entries that sat unacknowledged longer than `claim_idle_ms` (a dead consumer's)."""
        added = 0
        for lane in LANES:
            start = "0-0"
            while True:
                result = await self.redis.xautoclaim(
                    keys.outbox_lane(lane),
                    keys.OUTBOX_GROUP,
                    self.name,
                    min_idle_time=self.claim_idle_ms,
                    start_id=start,
                    count=200,
                )
                start, entries = result[0], result[1]
                deleted = result[2] if len(result) > 2 else []
                if deleted:
                    await self.redis.xack(keys.outbox_lane(lane), keys.OUTBOX_GROUP, *deleted)
                fresh = [(eid, f) for eid, f in entries if (lane, eid) not in self._held]
                added += await self._accept(lane, fresh, reclaimed=True)
                if start in ("0-0", b"0-0") or not entries:
                    break
        return added

    async def _accept(self, lane: int, entries: Any, *, reclaimed: bool = False) -> int:
        added = 0
        for entry_id, fields in entries:
            if fields is None or (lane, entry_id) in self._held:
                continue
            try:
                message = decode(fields["m"])
            except Exception:
                await self._dead_letter_raw(lane, entry_id, fields, "undecodable")
                continue
            job = _Job(
                priority=int(message.priority),
                seq=next(self._seq),
                lane=lane,
                entry_id=entry_id,
                key=fields.get("k", ""),
                message=message,
                enqueued_ms=int(entry_id.split("-")[0]),
                first_seen=self.mono(),
            )
            self._held.add((lane, entry_id))
            self._push(job)
            added += 1
            if reclaimed:
                event(log, "outbox_entry_reclaimed", kind=message.kind, lane=lane)
        if added:
            self._wake.set()
        return added

    # --- scheduling -----------------------------------------------------------------------
    def _push(self, job: _Job) -> None:
        chat = job.message.chat_id
        heapq.heappush(self._chats.setdefault(chat, []), job)
        if chat not in self._busy:
            head = self._chats[chat][0]
            heapq.heappush(self._ready, (head.priority, head.seq, chat))

    def _dispatch(self) -> float | None:
        """Start every delivery allowed now; return seconds until the next may start (None: idle)."""
        now = self.mono()
        while self._parked and self._parked[0][0] <= now:
            _, _, parked = heapq.heappop(self._parked)
            parked.parked = False
            self._push(parked)
        while self._timers and self._timers[0][0] <= now:
            _, _, chat = heapq.heappop(self._timers)
            jobs = self._chats.get(chat)
            if jobs and chat not in self._busy:
                heapq.heappush(self._ready, (jobs[0].priority, jobs[0].seq, chat))
        started_any = False
        while self._ready:
            if self._sem.locked():
                return None  # woken when a delivery finishes
            _priority, seq, chat = self._ready[0]
            jobs = self._chats.get(chat)
            if not jobs or chat in self._busy or jobs[0].seq != seq:
                heapq.heappop(self._ready)  # stale
                if jobs and chat not in self._busy and jobs[0].seq != seq:
                    heapq.heappush(self._ready, (jobs[0].priority, jobs[0].seq, chat))
                continue
            job = jobs[0]
            paced = job.message.action is not Action.CREATE_TOPIC
            wait = max(job.not_before - now, self.pacer.chat_delay(chat, now) if paced else 0.0)
            if wait > 0:
                heapq.heappop(self._ready)
                heapq.heappush(self._timers, (now + wait, seq, chat))
                continue
            global_wait = self.pacer.global_delay(now)
            if global_wait > 0:
                return global_wait
            heapq.heappop(self._ready)
            heapq.heappop(jobs)
            if not jobs:
                del self._chats[chat]
            self.pacer.take(chat if paced else None, now)
            self._busy.add(chat)
            task = asyncio.create_task(self._run(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started_any = True
        if started_any:
            self.pacer.forget_idle(now)
        upcoming = [self._timers[0][0]] if self._timers else []
        if self._parked:
            upcoming.append(self._parked[0][0])
        if upcoming:
            return max(0.0, min(upcoming) - now)
        return None

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        await wait_set(self._wake, seconds)

    def _finished(self) -> int:
        s = self.stats
        return s.delivered + s.dead + s.blocked

    # --- delivering -----------------------------------------------------------------------
    async def _run(self, job: _Job) -> None:
        chat = job.message.chat_id
        requeue = False
        async with self._sem:
            try:
                requeue = await self._deliver(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis trouble while recording: keep the entry, try later
                event(log, "outbox_delivery_error", logging.ERROR, error=type(exc).__name__)
                job.not_before = self.mono() + 1.0
                requeue = True
            finally:
                self._busy.discard(chat)
                if requeue and job.parked:
                    heapq.heappush(self._parked, (job.not_before, job.seq, job))
                    if chat in self._chats:
                        head = self._chats[chat][0]
                        heapq.heappush(self._ready, (head.priority, head.seq, chat))
                elif requeue:
                    self._push(job)
                elif chat in self._chats:
                    head = self._chats[chat][0]
                    heapq.heappush(self._ready, (head.priority, head.seq, chat))
                if not requeue:
                    self._held.discard((job.lane, job.entry_id))
                self._wake.set()

    async def _deliver(self, job: _Job) -> bool:
        """Deliver one job; True if it must wait and run again."""
        try:
            message = await self._resolve(job)
        except _GaveUp:
            return False
        if message is None:
            return True
        sender = self.senders.get(message.channel)
        if sender is None:  # the channel adapter has not started (yet)
            job.not_before = self.mono() + 1.0
            return True
        try:
            delivery = await asyncio.wait_for(sender.deliver(message), timeout=self.send_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delivery = Delivery(DeliveryStatus.RETRY, error=type(exc).__name__)
        status = delivery.status
        if status is DeliveryStatus.OK:
            await asyncio.shield(self._complete(job, message, delivery))
            self.stats.delivered += 1
            return False
        if status is DeliveryStatus.BLOCKED and message.user_key is None:
            # 403 from a group (the bot was removed from the counsellor chat): an operator must see it.
            await self._fail(job, delivery.error or "forbidden")
            return False
        if status is DeliveryStatus.BLOCKED:
            await self._blocked(job)
            return False
        if status is DeliveryStatus.FAILED:
            await self._fail(job, delivery.error or "failed")
            return False
        return await self._retry(job, delivery)

    async def _resolve(self, job: _Job) -> OutboundMessage | None:
        """Fill in the thread and message ids this delivery depends on; None means wait for them."""
        message = job.message
        changes: dict[str, Any] = {}
        waited = self.mono() - job.first_seen
        if message.action is not Action.CREATE_TOPIC and message.topic_ref and message.thread_id is None:
            thread = await self.redis.get(keys.outbox_ref(message.topic_ref))
            if thread is None and waited < DEPENDENCY_TIMEOUT_S:
                job.not_before = self.mono() + DEPENDENCY_WAIT_S
                job.parked = True
                return None
            if thread not in (None, NO_TOPIC):
                changes["thread_id"] = int(thread)
        if message.action is Action.EDIT:
            ref = message.message_ref
            value = await self.redis.get(keys.outbox_ref(ref)) if ref else None
            if value is None:
                if waited < DEPENDENCY_TIMEOUT_S:
                    job.not_before = self.mono() + DEPENDENCY_WAIT_S
                    job.parked = True
                    return None
                await self._fail(job, "edit target unknown")
                raise _GaveUp
            changes["message_id"] = int(value)
        return dataclasses.replace(message, **changes) if changes else message

    async def _complete(self, job: _Job, message: OutboundMessage, delivery: Delivery) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            if message.action is Action.CREATE_TOPIC and message.topic_ref and delivery.thread_id:
                pipe.set(keys.outbox_ref(message.topic_ref), delivery.thread_id, ex=REF_TTL_S)
                rev = keys.outbox_reverse_ref(message.chat_id, "t", delivery.thread_id)
                pipe.set(rev, message.topic_ref, ex=REF_TTL_S)
            if message.action is Action.SEND and message.message_ref and delivery.message_id:
                pipe.set(keys.outbox_ref(message.message_ref), delivery.message_id, ex=REF_TTL_S)
                rev = keys.outbox_reverse_ref(message.chat_id, "m", delivery.message_id)
                pipe.set(rev, message.message_ref, ex=REF_TTL_S)
            self._ack(pipe, job)
            await pipe.execute()
        latency_ms = int(time.time() * 1000) - job.enqueued_ms
        event(log, "outbox_delivered", kind=message.kind, lane=job.lane, latency_ms=latency_ms)

    def _ack(self, pipe: Any, job: _Job) -> None:
        stream = keys.outbox_lane(job.lane)
        pipe.xack(stream, keys.OUTBOX_GROUP, job.entry_id)
        pipe.xdel(stream, job.entry_id)
        pipe.hdel(keys.outbox_attempts(), f"{job.lane}:{job.entry_id}")

    async def _blocked(self, job: _Job) -> None:
        """403: the person blocked the bot. Retrying cannot help; remember they are inactive."""
        user_key = job.message.user_key
        if user_key and self.on_blocked is not None:
            with contextlib.suppress(Exception):
                await self.on_blocked(user_key)
        async with self.redis.pipeline(transaction=True) as pipe:
            self._ack(pipe, job)
            await pipe.execute()
        self.stats.blocked += 1
        event(log, "outbox_recipient_blocked", kind=job.message.kind, user=hash_id(user_key or ""))

    async def _retry(self, job: _Job, delivery: Delivery) -> bool:
        if delivery.retry_after is not None:
            job.rate_limited += 1
            self.stats.rate_limited += 1
            if job.rate_limited > self.max_rate_limited:
                await self._fail(job, "rate limited too often")
                return False
            job.not_before = self.mono() + max(0.0, delivery.retry_after)
            event(log, "outbox_rate_limited", kind=job.message.kind, retry_after=delivery.retry_after)
            return True
        attempts = int(await self.redis.hincrby(keys.outbox_attempts(), f"{job.lane}:{job.entry_id}", 1))
        if attempts > len(self.retry_delays):
            await self._fail(job, delivery.error or "retries exhausted", attempts=attempts)
            return False
        self.stats.retried += 1
        job.not_before = self.mono() + self.retry_delays[attempts - 1]
        event(log, "outbox_retry", logging.WARNING, kind=job.message.kind, attempt=attempts)
        return True

    async def _fail(self, job: _Job, error: str, *, attempts: int | None = None) -> None:
        """Dead-letter: kept (without being retried) for `ieum cases list` and an operator."""
        message = job.message
        record: dict[Any, Any] = {
            "m": json.dumps(dataclasses.asdict(message), ensure_ascii=False, default=str),
            "k": job.key,
            "lane": str(job.lane),
            "entry": job.entry_id,
            "error": error[:200],
            "attempts": str(attempts or 0),
            "at": str(int(time.time())),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(keys.outbox_dead(), record, maxlen=DEAD_MAXLEN, approximate=True)
            if message.action is Action.CREATE_TOPIC and message.topic_ref:
                # Not a forum (or no right to make topics): dependents go out as plain messages.
                pipe.set(keys.outbox_ref(message.topic_ref), NO_TOPIC, ex=REF_TTL_S)
                pipe.set(keys.outbox_no_forum(message.chat_id), "1", ex=86_400)
            self._ack(pipe, job)
            await pipe.execute()
        self.stats.dead += 1
        event(log, "outbox_dead_lettered", logging.ERROR, kind=message.kind, error=error[:80])

    async def _dead_letter_raw(self, lane: int, entry_id: str, fields: dict[Any, Any], error: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(keys.outbox_dead(), {**fields, "error": error, "lane": str(lane)}, maxlen=DEAD_MAXLEN)
            pipe.xack(keys.outbox_lane(lane), keys.OUTBOX_GROUP, entry_id)
            pipe.xdel(keys.outbox_lane(lane), entry_id)
            await pipe.execute()
        self.stats.dead += 1

    # --- upkeep ---------------------------------------------------------------------------
    async def _maintenance_loop(self) -> None:
        interval = max(0.5, min(10.0, self.claim_idle_ms / 3000))
        while True:
            try:
                await self.record_health()
                await self._keep_fresh()
                await self._forget_gone_consumers()
                await self._reclaim()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                event(log, "outbox_upkeep_failed", logging.WARNING, error=type(exc).__name__)
            raise_if_cancelling()
            await asyncio.sleep(interval)

    async def record_health(self) -> None:
        """A key with a TTL: present while this consumer is alive (arq's `record_health`)."""
        s = self.stats
        info = {
            "ts": int(time.time()),
            "delivered": s.delivered,
            "dead": s.dead,
            "blocked": s.blocked,
            "retried": s.retried,
            "rate_limited": s.rate_limited,
            "buffered": len(self._held),
        }
        await self.redis.set(keys.outbox_health(self.name), json.dumps(info), ex=HEALTH_TTL_S)

    async def _forget_gone_consumers(self) -> None:
        """Drop group members that hold nothing and were idle a day (processes that went away);
        every process has its own consumer name, so without this the group grows forever."""
        for lane in LANES:
            members: Any = await self.redis.xinfo_consumers(keys.outbox_lane(lane), keys.OUTBOX_GROUP)
            for member in members or ():
                name = member.get("name")
                if name != self.name and not member.get("pending") and member.get("idle", 0) > GONE_AFTER_MS:
                    await self.redis.xgroup_delconsumer(keys.outbox_lane(lane), keys.OUTBOX_GROUP, name)

    async def _keep_fresh(self) -> None:
        """Reset the idle time of entries this consumer still holds, so nobody reclaims them."""
        by_lane: dict[int, list[Any]] = {}
        for lane, entry_id in self._held:
            by_lane.setdefault(lane, []).append(entry_id)
        for lane, ids in by_lane.items():
            for i in range(0, len(ids), 500):
                await self.redis.xclaim(
                    keys.outbox_lane(lane), keys.OUTBOX_GROUP, self.name, 0, ids[i : i + 500], justid=True
                )


class _GaveUp(Exception):
    """The job was dead-lettered while resolving what it depends on."""
