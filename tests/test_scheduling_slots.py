"""Where check-ins may land: inside the window, never in quiet hours, in the person's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.slots import CheckinSettings, allowed_intervals, is_slot_day, next_slot
from storage.profiles import Profile, Rhythm


def _local_minutes(moment: datetime, tz: str) -> int:
    local = moment.astimezone(ZoneInfo(tz))
    return local.hour * 60 + local.minute


def _in_span(minute: int, start: str, end: str) -> bool:
    s = int(start[:2]) * 60 + int(start[3:])
    e = int(end[:2]) * 60 + int(end[3:])
    return s <= minute < e if s < e else (minute >= s or minute < e)


CASES = [
    # tz, window, quiet
    ("Asia/Seoul", ("19:00", "21:00"), ("23:00", "08:00")),
    ("Asia/Seoul", ("22:00", "01:00"), ("23:30", "08:00")),  # window crosses midnight, cut by quiet
    ("Europe/Berlin", ("07:00", "10:00"), ("22:00", "08:30")),  # quiet ends inside the window
    ("America/New_York", ("21:00", "02:00"), ("00:00", "06:00")),  # DST zone, both cross
    ("Asia/Kolkata", ("12:00", "12:30"), ("23:00", "07:00")),  # half-hour offset zone
]


@pytest.mark.parametrize(("tz", "window", "quiet"), CASES)
def test_checkins_land_inside_the_window_and_never_in_quiet_hours(
    tz: str, window: tuple[str, str], quiet: tuple[str, str]
) -> None:
    now = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # spans the US DST change (8 March)
    for n in range(40):
        profile = Profile(
            user_key=f"telegram:{1000 + n}",
            rhythm=Rhythm.DAILY,
            tz=tz,
            window_start=window[0],
            window_end=window[1],
            quiet_start=quiet[0],
            quiet_end=quiet[1],
        )
        settings = CheckinSettings.from_profile(profile)
        after = ""
        moment = now
        for _ in range(14):
            slot = next_slot(settings, moment, halved=False, after_slot=after)
            assert slot is not None
            minute = _local_minutes(slot.at, tz)
            assert _in_span(minute, *window), (tz, slot.at.astimezone(ZoneInfo(tz)))
            assert not _in_span(minute, *quiet), (tz, slot.at.astimezone(ZoneInfo(tz)))
            assert slot.at >= moment
            after, moment = slot.slot_id, slot.at + timedelta(seconds=1)


def test_window_entirely_in_quiet_hours_means_no_checkin() -> None:
    profile = Profile(user_key="telegram:1", rhythm=Rhythm.DAILY, window_start="01:00", window_end="03:00")
    settings = CheckinSettings.from_profile(profile)
    assert allowed_intervals(datetime(2026, 11, 28).date(), settings) == []
    assert next_slot(settings, datetime(2026, 11, 28, tzinfo=UTC), halved=False) is None


def test_the_moment_is_stable_across_processes_and_restarts() -> None:
    profile = Profile(user_key="telegram:42", rhythm=Rhythm.DAILY)
    settings = CheckinSettings.from_profile(profile)
    now = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    first = next_slot(settings, now, halved=False)
    again = next_slot(CheckinSettings.from_profile(profile), now, halved=False)
    assert first == again


def _greedy(settings: CheckinSettings, days: list, halved: bool) -> int:
    last = None
    count = 0
    for d in days:
        if is_slot_day(d, settings, halved, last):
            count, last = count + 1, d
    return count


def test_rhythms_and_their_halves() -> None:
    start = datetime(2026, 11, 2).date()  # a Monday
    days = [start + timedelta(days=d) for d in range(28)]
    for rhythm, full, halved in (
        (Rhythm.DAILY, 28, 14),
        (Rhythm.TWICE_WEEKLY, 8, 4),
        (Rhythm.WEEKLY, 4, 2),
    ):
        settings = CheckinSettings.from_profile(Profile(user_key="telegram:7", rhythm=rhythm))
        assert _greedy(settings, days, False) == full
        assert _greedy(settings, days, True) == halved
    on_demand = CheckinSettings.from_profile(Profile(user_key="telegram:7", rhythm=Rhythm.ON_DEMAND))
    assert not any(is_slot_day(d, on_demand, False) for d in days)
