"""The leader's activity work: announce once, remind at the offsets, tell people of changes.

Every piece of work is an *item* with a stable name (`announce:7`, `rem:7:0:1:120`, ...). Firing
an item fans out one outbox message per recipient under the key `<item>:<user_key>` (the outbox
keeps one message per key), then sets the item's *fired* marker. A leader killed halfway leaves
no marker; the next leader repeats the fan-out and the outbox drops what was already queued, so
each person gets each message exactly once.

Nobody is written to in their quiet hours: a fan-out holds their message back until the quiet
hours end (and drops a reminder or announcement that would then arrive after the start).

Misfire decisions (after downtime):
- a reminder whose activity has already started is dropped, never sent late;
- of several reminders that fell due during downtime only the latest (closest to the start) goes;
- reminders that fell due before the activity was created or last moved are not sent: the
  announcement or the change notice said it already.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

import redis.asyncio as aioredis

from outbox.types import OutboundMessage, Outbox, Priority
from scheduling import deferred
from scheduling.activities import KEEP_AFTER_END, Activity, Notice, Status
from scheduling.checkins import button_rows, split_user_key
from scheduling.rsvp import REMINDED
from scheduling.service import ActivityService
from scheduling.slots import CheckinSettings, quiet_until
from storage import keys
from storage.profiles import Profile, profile_from_hash
from telemetry import event

log = logging.getLogger(__name__)

FIRED_TTL = int(timedelta(days=60).total_seconds())
AUDIENCE_BATCH = 1000
FANOUT_FIELDS = ("lang", "active", "activity_news", "tags", "quiet_start", "quiet_end", "tz")


class ActivityScheduler:
    def __init__(
        self, redis: aioredis.Redis, service: ActivityService, outbox: Outbox, *, concurrency: int = 64
    ):
        self.redis = redis
        self.service = service
        self.outbox = outbox
        self.concurrency = concurrency

    async def run_due(self, now: datetime) -> int:
        """Fire every activity item due at `now`. Returns how many items fired."""
        fired = 0
        try:
            await self.run_deferred(now)
        except Exception:
            event(log, "deferred_work_failed", logging.ERROR, exc_info=True)
        for act in await self.service.repo.all():
            try:
                fired += await self._activity(act, now)
            except Exception:
                event(log, "activity_work_failed", logging.ERROR, activity=act.id, exc_info=True)
        return fired

    async def _activity(self, act: Activity, now: datetime) -> int:
        fired = 0
        if act.status is Status.CANCELLED:
            if act.notice is Notice.CANCELLED:
                fired += await self._notice(act, f"cancel:{act.id}:{act.version}", "cancelled", now)
            if now > act.end + KEEP_AFTER_END:
                await self.service.repo.forget(act.id)
            return fired
        if act.weekly and now >= act.end:
            act = await self._roll(act, now)
        if act.notice is Notice.MOVED:
            fired += await self._notice(act, f"moved:{act.id}:{act.version}", "moved", now)
        if now < act.start:
            fired += await self._announce(act, now)
        fired += await self._reminders(act, now)
        if not act.weekly and now > act.end + KEEP_AFTER_END:
            await self.service.repo.forget(act.id)
        return fired

    # --- items -----------------------------------------------------------------------------------
    async def _done(self, item: str) -> bool:
        return bool(await self.redis.exists(keys.scheduler_fired(item)))

    async def _mark(self, item: str, how: str = "sent") -> None:
        await self.redis.set(keys.scheduler_fired(item), how, ex=FIRED_TTL)

    async def _fan_out(
        self,
        item: str,
        recipients: Iterable[tuple[Profile, OutboundMessage]],
        now: datetime,
        deadline: datetime | None,
    ) -> int:
        """Queue one message per recipient under `<item>:<user_key>`, then mark the item fired.

        Someone in their quiet hours gets theirs when the quiet hours end (it is held in Redis),
        unless that is past `deadline` (the start of the activity): then it is not sent at all.
        """
        pairs: list[tuple[OutboundMessage, str]] = []
        held: dict[str, float] = {}
        for profile, message in recipients:
            key = f"{item}:{profile.user_key}"
            until = quiet_until(CheckinSettings.from_profile(profile, self.service.tz), now)
            if until is None:
                pairs.append((message, key))
            elif deadline is None or until < deadline:
                held[deferred.entry(message, key)] = until.timestamp()
        await deferred.hold(self.redis, held)
        await self._enqueue(pairs)
        await self._mark(item)
        event(log, "activity_item_fired", item=item.split(":")[0], recipients=len(pairs), deferred=len(held))
        return 1

    async def _enqueue(self, pairs: list[tuple[OutboundMessage, str]]) -> None:
        many = getattr(self.outbox, "enqueue_many", None)
        if many is not None:  # the Redis outbox pipelines batches: one round trip per few hundred
            await many(pairs)
            return
        queue = asyncio.Queue[tuple[OutboundMessage, str]]()
        for pair in pairs:
            queue.put_nowait(pair)

        async def worker() -> None:
            while not queue.empty():
                message, key = queue.get_nowait()
                await self.outbox.enqueue(message, key=key)

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, max(len(pairs), 1)))))

    async def run_deferred(self, now: datetime) -> int:
        """Send what was held back for quiet hours that have now ended (same idempotency keys)."""
        raw, pairs = await deferred.due(self.redis, now)
        await self._enqueue(pairs)
        await deferred.done(self.redis, raw)
        return len(pairs)

    async def erase(self, user_key: str) -> None:
        await deferred.erase(self.redis, user_key)

    def _message(
        self, profile: Profile, text: str, kind: str, act: Activity, priority: Priority
    ) -> OutboundMessage:
        channel, chat_id = split_user_key(profile.user_key)
        return OutboundMessage(
            channel=channel,
            chat_id=chat_id,
            text=text,
            kind=kind,
            priority=priority,
            buttons=button_rows(self.service.buttons(act, profile.lang)),
            user_key=profile.user_key,
        )

    async def _announce(self, act: Activity, now: datetime) -> int:
        item = f"announce:{act.id}"
        if await self._done(item):
            return 0
        audience = await self.audience(act)
        pairs = (
            (
                p,
                self._message(
                    p,
                    self.service.texts.get("announcement", p.lang, summary=self.service.summary(act, p.lang)),
                    "announcement",
                    act,
                    Priority.BULK,
                ),
            )
            for p in audience
        )
        return await self._fan_out(item, pairs, now, act.start)

    async def _reminders(self, act: Activity, now: datetime) -> int:
        changed = datetime.fromisoformat(act.changed_at) if act.changed_at else None
        due = []
        for minutes in sorted(act.reminders_min):  # closest to the start first
            item = f"rem:{act.id}:{act.occurrence}:{act.version}:{minutes}"
            at = act.start - timedelta(minutes=minutes)
            if now < at or await self._done(item):
                continue
            if now >= act.start or (changed is not None and at < changed):
                await self._mark(item, "dropped")
                event(log, "reminder_dropped", activity=act.id, minutes=minutes)
                continue
            due.append((minutes, item))
        if not due:
            return 0
        (_, latest), stale = due[0], due[1:]
        for minutes, item in stale:
            await self._mark(item, "superseded")
            event(log, "reminder_superseded", activity=act.id, minutes=minutes)
        answers = await self.service.rsvps.answers(act)
        people = await self._profiles([u for u, a in answers.items() if a in REMINDED])
        pairs = (
            (
                p,
                self._message(
                    p,
                    self.service.texts.get(
                        "reminder",
                        p.lang,
                        title=act.title,
                        when=self.service.texts.when(act.start, self.service.tz, p.lang),
                        place=act.place or "-",
                    ),
                    "reminder",
                    act,
                    Priority.BULK,
                ),
            )
            for p in people
        )
        return await self._fan_out(latest, pairs, now, act.start)

    async def _notice(self, act: Activity, item: str, kind: str, now: datetime) -> int:
        """Tell everyone who answered (any answer) that the activity moved or was cancelled."""
        if await self._done(item):
            return 0
        answers = await self.service.rsvps.answers(act)
        people = await self._profiles(list(answers))
        texts = self.service.texts

        def text(p: Profile) -> str:
            when = texts.when(act.start, self.service.tz, p.lang)
            if kind == "cancelled":
                return texts.get("cancelled", p.lang, title=act.title, when=when)
            return texts.get("moved", p.lang, title=act.title, summary=self.service.summary(act, p.lang))

        def message(p: Profile) -> OutboundMessage:
            msg = self._message(p, text(p), f"activity_{kind}", act, Priority.NORMAL)
            if kind == "cancelled":
                return dataclasses.replace(msg, buttons=())
            return msg

        return await self._fan_out(item, ((p, message(p)) for p in people), now, None)

    async def _roll(self, act: Activity, now: datetime) -> Activity:
        """A weekly activity ended: its next occurrence starts fresh (new answers, new reminders)."""
        start, occurrence = act.start, act.occurrence
        while start + timedelta(minutes=act.duration_min) <= now:
            start += timedelta(days=7)
            occurrence += 1
        rolled = act.replace(start=start, occurrence=occurrence, notice=Notice.NONE, changed_at="")
        await self.service.repo.save(rolled)
        event(log, "activity_rolled", activity=act.id, occurrence=occurrence)
        return rolled

    # --- recipients --------------------------------------------------------------------------------
    async def audience(self, act: Activity) -> list[Profile]:
        """Everyone active who opted in to activity news (and carries the tag, if one is set)."""
        users = await self.service.profiles.all_user_keys()
        out = []
        for profile in await self._profiles(users):
            if profile.activity_news and (not act.audience_tag or act.audience_tag in profile.tags):
                out.append(profile)
        return out

    async def _profiles(self, user_keys: list[str]) -> list[Profile]:
        """Active people among these, with just what a fan-out needs (language, news, tags).

        Read with HMGET in pipelined batches: fan-outs reach thousands and a whole profile each
        would cost several times the parsing."""
        out: list[Profile] = []
        for i in range(0, len(user_keys), AUDIENCE_BATCH):
            batch = user_keys[i : i + AUDIENCE_BATCH]
            async with self.redis.pipeline(transaction=False) as pipe:
                for user_key in batch:
                    pipe.hmget(keys.profile(user_key), FANOUT_FIELDS)
                rows = await pipe.execute()
            for user_key, row in zip(batch, rows, strict=True):
                data = {k: v for k, v in zip(FANOUT_FIELDS, row, strict=True) if v is not None}
                if not data:
                    continue
                profile = profile_from_hash({**data, "user_key": user_key})
                if profile.active:
                    out.append(profile)
        return out
