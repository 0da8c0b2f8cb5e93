from __future__ import annotations

from datetime import UTC, datetime

from storage import keys
from storage.dedup import first_time
from storage.profiles import Mood, ProfileRepository, Rhythm


async def test_profile_roundtrip_and_erase(redis) -> None:
    repo = ProfileRepository(redis)
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    profile = await repo.get_or_create("telegram:42", now, lang="en")
    assert profile.lang == "en" and profile.short_code
    updated = await repo.update(
        "telegram:42", rhythm=Rhythm.DAILY, checkin_consent=True, tags=("cooking",), nickname="달"
    )
    assert updated is not None
    again = await repo.get("telegram:42")
    assert again == updated
    await repo.add_mood("telegram:42", Mood.SO_SO, now)
    assert await repo.moods_since("telegram:42", now) == [(now, Mood.SO_SO)]
    assert await repo.user_for_short_code(profile.short_code) == "telegram:42"

    await repo.erase("telegram:42")
    assert await repo.get("telegram:42") is None
    assert await repo.user_for_short_code(profile.short_code) is None
    remaining = [k async for k in redis.scan_iter(match=keys.user_pattern("telegram:42"))]
    assert remaining == []


async def test_dedup_is_once_per_update(redis) -> None:
    assert await first_time(redis, "telegram", 7, ttl=60)
    assert not await first_time(redis, "telegram", 7, ttl=60)
    assert 0 < await redis.ttl(keys.dedup("telegram", 7)) <= 60
