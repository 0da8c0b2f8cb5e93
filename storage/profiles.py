"""A person's profile and mood history in Redis (one hash per person, `{u:...}` tagged)."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import redis.asyncio as aioredis

from storage import keys

# Longer than outreach looks back for a worrying signal (14 days); nothing else reads it.
LAST_SEEN_TTL_S = 30 * 86_400


class Rhythm(StrEnum):
    DAILY = "daily"
    TWICE_WEEKLY = "twice_weekly"
    WEEKLY = "weekly"
    ON_DEMAND = "on_demand"  # only when I write


class Mood(StrEnum):
    GOOD = "good"
    SO_SO = "so_so"
    NOT_GREAT = "not_great"
    WANT_TO_TALK = "want_to_talk"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Profile:
    """Everything ieum keeps about a person besides conversation state and cases.

    Defaults are the gentle ones a skipped onboarding step falls back to.
    """

    user_key: str
    lang: str = "ko"
    nickname: str | None = None
    onboarded: bool = False
    checkin_consent: bool = False
    share_consent: bool = False  # crisis messages shared with the Center's counsellors
    rhythm: Rhythm = Rhythm.ON_DEMAND
    window_start: str = "19:00"  # HH:MM local time
    window_end: str = "21:00"
    quiet_start: str = "23:00"
    quiet_end: str = "08:00"
    tz: str = "Asia/Seoul"
    enrolment_code: str | None = None
    paused: bool = False
    activity_news: bool = False
    tags: tuple[str, ...] = ()
    active: bool = True  # False once the person blocked the bot
    short_code: str = ""
    created_at: str = ""  # ISO timestamp

    def replace(self, **changes: object) -> Profile:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def display_name(self) -> str:
        """What counsellors and staff see: the nickname, else the pseudonymous short code."""
        return self.nickname or f"#{self.short_code}"


_BOOL_FIELDS = {f.name for f in dataclasses.fields(Profile) if f.type in ("bool", bool)}


def _encode(profile: Profile) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in dataclasses.fields(profile):
        value = getattr(profile, f.name)
        if value is None:
            continue
        if isinstance(value, bool):
            out[f.name] = "1" if value else "0"
        elif isinstance(value, tuple):
            out[f.name] = ",".join(value)
        else:
            out[f.name] = str(value)
    return out


def profile_from_hash(data: dict[str, str]) -> Profile:
    """Build a Profile from (some of) its Redis hash fields; missing fields take their defaults."""
    return _decode(data)


def _decode(data: dict[str, str]) -> Profile:
    kwargs: dict[str, object] = {}
    names = {f.name for f in dataclasses.fields(Profile)}
    for name, raw in data.items():
        if name not in names:
            continue
        if name in _BOOL_FIELDS:
            kwargs[name] = raw == "1"
        elif name == "tags":
            kwargs[name] = tuple(t for t in raw.split(",") if t)
        elif name == "rhythm":
            kwargs[name] = Rhythm(raw)
        else:
            kwargs[name] = raw
    return Profile(**kwargs)  # type: ignore[arg-type]


@dataclass
class ProfileRepository:
    redis: aioredis.Redis
    default_lang: str = "ko"
    default_tz: str = "Asia/Seoul"
    _codes: dict[str, str] = field(default_factory=dict)

    async def get(self, user_key: str) -> Profile | None:
        data = await self.redis.hgetall(keys.profile(user_key))
        return _decode(data) if data else None

    async def get_or_create(self, user_key: str, now: datetime, lang: str | None = None) -> Profile:
        data = await self.redis.hgetall(keys.profile(user_key))
        return await self.get_or_create_from(data, user_key, now, lang)

    @staticmethod
    def read_command(user_key: str) -> tuple[str, str]:
        """The read `get` does, for callers that batch it with other reads in one round trip."""
        return ("HGETALL", keys.profile(user_key))

    async def get_or_create_from(
        self, data: dict[str, str], user_key: str, now: datetime, lang: str | None = None
    ) -> Profile:
        """`get_or_create`, given the profile hash as `read_command` returned it."""
        if data:
            return _decode(data)
        profile = Profile(
            user_key=user_key,
            lang=lang or self.default_lang,
            tz=self.default_tz,
            short_code=await self._new_short_code(user_key),
            created_at=now.isoformat(),
        )
        await self.save(profile)
        return profile

    async def save(self, profile: Profile) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(keys.profile(profile.user_key))
            pipe.hset(keys.profile(profile.user_key), mapping=_encode(profile))
            pipe.sadd(keys.all_users(), profile.user_key)
            await pipe.execute()

    async def update(self, user_key: str, **changes: object) -> Profile | None:
        current = await self.get(user_key)
        if current is None:
            return None
        updated = current.replace(**changes)
        await self.save(updated)
        return updated

    async def all_user_keys(self) -> list[str]:
        return sorted(await self.redis.smembers(keys.all_users()))

    async def user_for_short_code(self, code: str) -> str | None:
        return await self.redis.hget(keys.short_code_index(), code.lstrip("#"))

    async def _new_short_code(self, user_key: str) -> str:
        for _ in range(20):
            code = secrets.token_hex(3).upper()
            if await self.redis.hsetnx(keys.short_code_index(), code, user_key):
                return code
        raise RuntimeError("could not allocate a short code")

    # --- mood history -------------------------------------------------------------------
    async def add_mood(self, user_key: str, mood: Mood, at: datetime) -> None:
        await self.redis.zadd(keys.moods(user_key), {f"{at.isoformat()}|{mood.value}": at.timestamp()})

    async def moods_since(self, user_key: str, since: datetime) -> list[tuple[datetime, Mood]]:
        rows = await self.redis.zrangebyscore(keys.moods(user_key), since.timestamp(), "+inf")
        out = []
        for row in rows:
            ts, _, mood = row.rpartition("|")
            out.append((datetime.fromisoformat(ts), Mood(mood)))
        return out

    # --- last seen ----------------------------------------------------------------------------
    @staticmethod
    def seen_command(user_key: str, at: datetime) -> tuple[object, ...]:
        """Stamp "the person sent something at `at`" (batched with a turn's reads: no round trip
        of its own). Only the time is kept, and only for `LAST_SEEN_TTL_S`."""
        return ("SET", keys.last_seen(user_key), str(int(at.timestamp())), "EX", LAST_SEEN_TTL_S)

    async def last_seen(self, user_key: str) -> datetime | None:
        raw = await self.redis.get(keys.last_seen(user_key))
        try:
            return datetime.fromtimestamp(int(raw), UTC) if raw else None
        except ValueError:
            return None

    # --- erasure --------------------------------------------------------------------------
    async def erase(self, user_key: str) -> None:
        """Remove the profile, mood history and indexes for this person."""
        profile = await self.get(user_key)
        async with self.redis.pipeline(transaction=False) as pipe:
            if profile is not None and profile.short_code:
                pipe.hdel(keys.short_code_index(), profile.short_code)
            pipe.srem(keys.all_users(), user_key)
            await pipe.execute()
        await erase_user_keys(self.redis, user_key)


async def erase_user_keys(redis: aioredis.Redis, user_key: str) -> int:
    """Delete every `{u:<user_key>}`-tagged key. Returns how many were removed."""
    removed = 0
    async for key in redis.scan_iter(match=keys.user_pattern(user_key), count=500):
        removed += await redis.delete(key)
    return removed
