"""Check-ins at each person's rhythm, inside their window, never in quiet hours, never twice a slot.

Redis holds, per person, a small plan (`{u:...}:checkin`: the next slot and its moment, the
unanswered counter, back-off state) and a global due index (sorted set user_key -> moment). The
scheduler leader fires what is due; every firing re-reads the profile first, so `/pause`, a
withdrawn consent or a blocked bot take effect at once, whatever was planned.

Safety and kindness decisions:
- silence is never punished: after 2 unanswered check-ins the rhythm halves, after 4 they pause
  with one kind message that says how to resume (`/resume`), and nothing more is sent;
- a check-in missed while the bot was down is sent only if the person's allowed time is still on,
  otherwise that slot is skipped (never a late message at night);
- each (person, slot) is enqueued under one idempotency key, so a crash or a second leader cannot
  send it twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

import redis.asyncio as aioredis

from dialogues.messages import QuickReply, Reply
from outbox.types import OutboundMessage, Outbox, Priority
from scheduling.slots import CheckinSettings, inside, is_slot_day, next_slot, slot_for
from scheduling.texts import Texts
from storage import keys
from storage.profiles import Profile, ProfileRepository, Rhythm
from storage.profiles import profile_from_hash as _decode_profile
from telemetry import event, hash_id

log = logging.getLogger(__name__)

CheckinStarter = Callable[[Profile], Awaitable[Reply]]

HALVE_AFTER = 2  # unanswered check-ins before the rhythm halves
PAUSE_AFTER = 4  # unanswered check-ins before check-ins pause
SWEEP_BATCH = 500
# what a sweep reads: the profile fields that decide check-ins, and the plan's own summary
PLAN_FIELDS = (
    "checkin_consent",
    "paused",
    "active",
    "rhythm",
    "window_start",
    "window_end",
    "quiet_start",
    "quiet_end",
    "tz",
)
STATE_FIELDS = ("planned", "fp", "bpaused", "unanswered")


def eligible(profile: Profile) -> bool:
    """Only people who said yes, have not paused, have not blocked the bot, and chose a rhythm."""
    return (
        profile.checkin_consent
        and not profile.paused
        and profile.active
        and profile.rhythm is not Rhythm.ON_DEMAND
    )


def split_user_key(user_key: str) -> tuple[str, str]:
    channel, _, chat_id = user_key.partition(":")
    return channel, chat_id


def button_rows(replies: tuple[QuickReply, ...], per_row: int = 2) -> tuple[tuple[QuickReply, ...], ...]:
    return tuple(replies[i : i + per_row] for i in range(0, len(replies), per_row))


async def notify_plan_changed(redis: aioredis.Redis, user_key: str) -> None:
    """Tell the scheduler leader that a person's rhythm, window, pause or consent changed.

    Call it when a turn's `Outcome.schedule_changed` is set; the leader re-plans on its next tick.
    (A periodic sweep catches anything this misses, and firing re-checks the profile anyway.)
    """
    await redis.sadd(keys.scheduler_replan(), user_key)


async def record_answer(redis: aioredis.Redis, user_key: str) -> None:
    """The person answered a check-in: resets the unanswered counter at the next evaluation."""
    await redis.hset(keys.checkin_plan(user_key), "answered", "1")


class CheckinScheduler:
    def __init__(
        self,
        redis: aioredis.Redis,
        profiles: ProfileRepository,
        outbox: Outbox,
        *,
        texts: Texts | None = None,
        start_checkin: CheckinStarter | None = None,
        default_tz: str = "Asia/Seoul",
        concurrency: int = 32,
    ) -> None:
        self.redis = redis
        self.profiles = profiles
        self.outbox = outbox
        self.texts = texts or Texts()
        self.start_checkin = start_checkin
        self.default_tz = default_tz
        self._limit = asyncio.Semaphore(concurrency)

    # --- planning ----------------------------------------------------------------------------
    async def plan(self, user_key: str, now: datetime) -> datetime | None:
        """Compute and store the person's next check-in moment (None: nothing planned)."""
        profile = await self.profiles.get(user_key)
        state = await self.redis.hgetall(keys.checkin_plan(user_key))
        return await self._plan(user_key, profile, state, now)

    async def _plan(
        self, user_key: str, profile: Profile | None, state: dict[str, str], now: datetime
    ) -> datetime | None:
        plan_key = keys.checkin_plan(user_key)
        if profile is None:
            await self.redis.zrem(keys.scheduler_due(), user_key)
            return None
        updates: dict[str, str] = {}
        unanswered = int(state.get("unanswered", "0"))
        if state.get("bpaused") == "1" and not profile.paused:
            # They resumed after a back-off pause: start again at their own rhythm.
            unanswered = 0
            updates.update(unanswered="0", bpaused="0", evaluated="1")
        if not eligible(profile):
            updates.update(planned="0", fp="")
            await self._write(plan_key, updates, user_key, None)
            return None
        settings = CheckinSettings.from_profile(profile, self.default_tz)
        halved = unanswered >= HALVE_AFTER
        slot = next_slot(settings, now, halved=halved, after_slot=state.get("last_slot", ""))
        if slot is None:
            event(log, "checkin_window_empty", user=hash_id(user_key))
            updates.update(planned="0", fp=settings.fingerprint(halved))
            await self._write(plan_key, updates, user_key, None)
            return None
        updates.update(
            planned="1", fp=settings.fingerprint(halved), slot=slot.slot_id, at=slot.at.isoformat()
        )
        await self._write(plan_key, updates, user_key, slot.at)
        return slot.at

    async def _write(
        self, plan_key: str, updates: dict[str, str], user_key: str, at: datetime | None
    ) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            if updates:
                pipe.hset(plan_key, mapping=updates)
            if at is None:
                pipe.zrem(keys.scheduler_due(), user_key)
            else:
                pipe.zadd(keys.scheduler_due(), {user_key: at.timestamp()})
            await pipe.execute()

    async def replan_changed(self, now: datetime) -> int:
        """Re-plan everyone whose change was notified (`notify_plan_changed`)."""
        count = 0
        while True:
            batch = await self.redis.spop(keys.scheduler_replan(), 200)
            if not batch:
                return count
            for user_key in batch:
                await self.plan(user_key, now)
                count += 1

    async def sweep(self, now: datetime) -> int:
        """Re-plan anyone whose plan no longer matches their profile (start-up, and periodically)."""
        users = await self.profiles.all_user_keys()
        replanned = 0
        for i in range(0, len(users), SWEEP_BATCH):
            batch = users[i : i + SWEEP_BATCH]
            async with self.redis.pipeline(transaction=False) as pipe:
                for user_key in batch:
                    pipe.hmget(keys.profile(user_key), PLAN_FIELDS)
                    pipe.hmget(keys.checkin_plan(user_key), STATE_FIELDS)
                rows = await pipe.execute()
            for j, user_key in enumerate(batch):
                raw = {k: v for k, v in zip(PLAN_FIELDS, rows[2 * j], strict=True) if v is not None}
                profile = _decode_profile({**raw, "user_key": user_key}) if raw else None
                state = {k: v for k, v in zip(STATE_FIELDS, rows[2 * j + 1], strict=True) if v is not None}
                if self._stale(profile, state):
                    await self.plan(user_key, now)
                    replanned += 1
        return replanned

    def _stale(self, profile: Profile | None, state: dict[str, str]) -> bool:
        if profile is None:
            return False
        if state.get("bpaused") == "1" and not profile.paused:
            return True
        want = eligible(profile)
        if want != (state.get("planned") == "1"):
            return want or state.get("planned") == "1"
        if not want:
            return False
        settings = CheckinSettings.from_profile(profile, self.default_tz)
        halved = int(state.get("unanswered", "0")) >= HALVE_AFTER
        return state.get("fp") != settings.fingerprint(halved)

    # --- firing ------------------------------------------------------------------------------
    async def run_due(self, now: datetime) -> int:
        """Fire every check-in due at `now`. Returns how many were looked at."""
        due = await self.redis.zrangebyscore(keys.scheduler_due(), "-inf", now.timestamp(), start=0, num=2000)

        async def one(user_key: str) -> None:
            async with self._limit:
                try:
                    await self.fire(user_key, now)
                except Exception:
                    event(log, "checkin_fire_failed", logging.ERROR, user=hash_id(user_key), exc_info=True)

        await asyncio.gather(*(one(u) for u in due))
        return len(due)

    async def fire(self, user_key: str, now: datetime) -> str:
        """Send this person's due check-in if it may still go. Returns what happened."""
        plan_key = keys.checkin_plan(user_key)
        profile = await self.profiles.get(user_key)
        state = await self.redis.hgetall(plan_key)
        if profile is None or not eligible(profile) or not state.get("slot"):
            await self._plan(user_key, profile, state, now)
            return "not_eligible"
        settings = CheckinSettings.from_profile(profile, self.default_tz)
        unanswered = int(state.get("unanswered", "0"))
        if state.get("fp") != settings.fingerprint(unanswered >= HALVE_AFTER):
            await self._plan(user_key, profile, state, now)
            return "replanned"

        evaluated: dict[str, str] = {}
        if state.get("last_sent") and state.get("evaluated") != "1":
            answered = state.get("answered") == "1" or bool(
                await self.profiles.moods_since(user_key, datetime.fromisoformat(state["last_sent"]))
            )
            unanswered = 0 if answered else unanswered + 1
            evaluated = {"unanswered": str(unanswered), "evaluated": "1", "answered": "0"}

        slot_id = state["slot"]
        if unanswered >= PAUSE_AFTER:
            return await self._pause(profile, slot_id, evaluated, now)
        halved = unanswered >= HALVE_AFTER
        if evaluated:
            await self.redis.hset(plan_key, mapping=evaluated)
            state = {**state, **evaluated}
            last = date.fromisoformat(state["last_slot"]) if state.get("last_slot") else None
            if not is_slot_day(date.fromisoformat(slot_id), settings, halved, last):
                event(log, "checkin_backed_off", user=hash_id(user_key), unanswered=unanswered)
                await self._plan(user_key, profile, state, now)
                return "backed_off"

        slot = slot_for(settings, slot_id)
        if slot is None or not inside(now, slot.intervals):
            later = [start for start, _ in (slot.intervals if slot else ()) if start > now]
            if later:  # between two pieces of the window (quiet hours inside it): wait
                await self.redis.zadd(keys.scheduler_due(), {user_key: later[0].timestamp()})
                return "waiting"
            event(log, "checkin_slot_missed", user=hash_id(user_key), slot=slot_id)
            await self._plan(user_key, profile, state, now)
            return "missed"

        reply = await self._greeting(profile)
        channel, chat_id = split_user_key(user_key)
        message = OutboundMessage(
            channel=channel,
            chat_id=chat_id,
            text=reply.text,
            kind="checkin",
            priority=Priority.NORMAL,
            buttons=button_rows(reply.quick_replies),
            user_key=user_key,
        )
        queued = await self.outbox.enqueue(message, key=f"checkin:{user_key}:{slot_id}")
        sent = {"last_slot": slot_id, "last_sent": now.isoformat(), "evaluated": "0", "answered": "0"}
        state = {**state, **sent}
        await self.redis.hset(plan_key, mapping=sent)
        event(
            log, "checkin_queued", user=hash_id(user_key), slot=slot_id, fresh=queued, unanswered=unanswered
        )
        await self._plan(user_key, profile, state, now)
        return "sent"

    async def _greeting(self, profile: Profile) -> Reply:
        if self.start_checkin is not None:
            try:
                return await self.start_checkin(profile)
            except Exception:
                event(log, "checkin_greeting_failed", logging.WARNING, user=hash_id(profile.user_key))
        return Reply(self.texts.get("checkin_fallback", profile.lang))

    async def _pause(self, profile: Profile, slot_id: str, evaluated: dict[str, str], now: datetime) -> str:
        """Four unanswered: one kind message with how to resume, then silence until /resume."""
        user_key = profile.user_key
        channel, chat_id = split_user_key(user_key)
        message = OutboundMessage(
            channel=channel,
            chat_id=chat_id,
            text=self.texts.get("backoff_pause", profile.lang),
            kind="checkin_pause",
            priority=Priority.NORMAL,
            user_key=user_key,
        )
        await self.outbox.enqueue(message, key=f"checkin_pause:{user_key}:{slot_id}")
        await self.profiles.update(user_key, paused=True)
        state = {**evaluated, "bpaused": "1", "planned": "0", "paused_at": now.isoformat()}
        await self._write(keys.checkin_plan(user_key), state, user_key, None)
        event(log, "checkin_paused_by_backoff", user=hash_id(user_key))
        return "paused"

    # --- queries and erasure -----------------------------------------------------------------
    async def unanswered(self, user_key: str) -> int:
        """Consecutive unanswered check-ins (the outreach rule can read this)."""
        return int(await self.redis.hget(keys.checkin_plan(user_key), "unanswered") or 0)

    async def next_at(self, user_key: str) -> datetime | None:
        score = await self.redis.zscore(keys.scheduler_due(), user_key)
        return None if score is None else datetime.fromtimestamp(score, UTC)

    async def erase(self, user_key: str) -> None:
        """Forget the person's place in the global indexes (their plan hash is `{u:}`-tagged)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(keys.scheduler_due(), user_key)
            pipe.srem(keys.scheduler_replan(), user_key)
            pipe.delete(keys.checkin_plan(user_key))
            await pipe.execute()
