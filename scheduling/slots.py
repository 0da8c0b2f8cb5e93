"""Where a person's check-ins may land: pure functions of their settings and the calendar.

A *slot* is one local day on which a check-in is due (per the rhythm). Its *allowed intervals*
are the person's time window on that day minus their quiet hours, both in their own time zone;
windows and quiet hours may cross midnight. The moment inside the allowed time is random but
seeded by (person, slot, settings), so every process, and every restart, picks the same one.

Safety decisions:
- quiet hours always win over the window: if the window lies entirely inside quiet hours there is
  no allowed time and no check-in is sent that day (never a message at night);
- a slot whose allowed time has passed is skipped, not sent late.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.profiles import Profile, Rhythm

Interval = tuple[datetime, datetime]  # aware UTC [start, end)

SEARCH_DAYS = 35  # far enough for a halved weekly rhythm (every other week)


@dataclass(frozen=True)
class CheckinSettings:
    """The parts of a profile that decide when check-ins land."""

    user_key: str
    rhythm: Rhythm
    window_start: time
    window_end: time
    quiet_start: time
    quiet_end: time
    tz: ZoneInfo

    @classmethod
    def from_profile(cls, profile: Profile, default_tz: str = "Asia/Seoul") -> CheckinSettings:
        return cls(
            user_key=profile.user_key,
            rhythm=profile.rhythm,
            window_start=_hhmm(profile.window_start, time(19, 0)),
            window_end=_hhmm(profile.window_end, time(21, 0)),
            quiet_start=_hhmm(profile.quiet_start, time(23, 0)),
            quiet_end=_hhmm(profile.quiet_end, time(8, 0)),
            tz=_zone(profile.tz, default_tz),
        )

    def fingerprint(self, halved: bool) -> str:
        raw = "|".join(
            (
                self.rhythm.value,
                self.window_start.isoformat(),
                self.window_end.isoformat(),
                self.quiet_start.isoformat(),
                self.quiet_end.isoformat(),
                self.tz.key,
                "h" if halved else "f",
            )
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Slot:
    slot_id: str  # the local date the window opens on, e.g. "2026-11-28"
    at: datetime  # UTC moment to send
    intervals: tuple[Interval, ...]  # the allowed time of this slot

    @property
    def ends(self) -> datetime:
        return self.intervals[-1][1]


def _hhmm(raw: str, default: time) -> time:
    try:
        hours, minutes = raw.strip().split(":")
        return time(int(hours) % 24, int(minutes) % 60)
    except (ValueError, AttributeError):
        return default


def _zone(name: str, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo(default)


def _stable_int(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def anchor_weekday(user_key: str) -> int:
    """The weekday a weekly rhythm lands on; spread across people so fan-out is even."""
    return _stable_int("anchor", user_key) % 7


HALVED_GAP_DAYS = {Rhythm.DAILY: 2, Rhythm.TWICE_WEEKLY: 7, Rhythm.WEEKLY: 14}


def is_slot_day(day: date, settings: CheckinSettings, halved: bool, last: date | None = None) -> bool:
    """Is `day` (local) a check-in day? `halved` is the back-off: half as often as the rhythm,
    counted from the `last` check-in sent (every other day, once a week, every other week)."""
    anchor = anchor_weekday(settings.user_key)
    if settings.rhythm is Rhythm.DAILY:
        ok = True
    elif settings.rhythm is Rhythm.TWICE_WEEKLY:
        ok = day.weekday() == anchor if halved else day.weekday() in (anchor, (anchor + 3) % 7)
    elif settings.rhythm is Rhythm.WEEKLY:
        ok = day.weekday() == anchor
    else:
        return False  # on demand: only when I write
    if ok and halved and last is not None:
        ok = (day - last).days >= HALVED_GAP_DAYS[settings.rhythm]
    return ok


def _span(day: date, start: time, end: time, tz: ZoneInfo) -> Interval:
    """The local span from `start` on `day` to `end` (on the next day if it crosses midnight)."""
    begin = datetime.combine(day, start, tzinfo=tz)
    finish = datetime.combine(day if end > start else day + timedelta(days=1), end, tzinfo=tz)
    return begin.astimezone(UTC), finish.astimezone(UTC)


def _subtract(base: Interval, cuts: list[Interval]) -> list[Interval]:
    pieces = [base]
    for cut_start, cut_end in cuts:
        nxt: list[Interval] = []
        for start, end in pieces:
            if cut_end <= start or cut_start >= end:
                nxt.append((start, end))
                continue
            if start < cut_start:
                nxt.append((start, cut_start))
            if cut_end < end:
                nxt.append((cut_end, end))
        pieces = nxt
    return [p for p in pieces if p[1] > p[0]]


def allowed_intervals(day: date, settings: CheckinSettings) -> list[Interval]:
    """The window opening on `day`, minus every quiet-hours span that touches it."""
    window = _span(day, settings.window_start, settings.window_end, settings.tz)
    if settings.window_start == settings.window_end:
        return []
    quiet: list[Interval] = []
    if settings.quiet_start != settings.quiet_end:
        quiet = [
            _span(day + timedelta(days=d), settings.quiet_start, settings.quiet_end, settings.tz)
            for d in (-1, 0, 1)
        ]
    return _subtract(window, quiet)


def pick_moment(intervals: list[Interval], seed: int) -> datetime:
    """A uniformly random second inside the intervals, reproducible from `seed`."""
    total = sum((end - start).total_seconds() for start, end in intervals)
    offset = random.Random(seed).uniform(0, total)
    for start, end in intervals:
        length = (end - start).total_seconds()
        if offset < length:
            return (start + timedelta(seconds=offset)).replace(microsecond=0)
        offset -= length
    return intervals[-1][0]


def inside(moment: datetime, intervals: tuple[Interval, ...] | list[Interval]) -> bool:
    return any(start <= moment < end for start, end in intervals)


def next_slot(
    settings: CheckinSettings,
    now: datetime,
    *,
    halved: bool,
    after_slot: str = "",
) -> Slot | None:
    """The first slot later than `after_slot` whose seeded moment is still ahead of `now`."""
    local_today = now.astimezone(settings.tz).date()
    fingerprint = settings.fingerprint(halved)
    last = date.fromisoformat(after_slot) if after_slot else None
    for delta in range(-1, SEARCH_DAYS):
        day = local_today + timedelta(days=delta)
        slot_id = day.isoformat()
        if after_slot and slot_id <= after_slot:
            continue
        if not is_slot_day(day, settings, halved, last):
            continue
        intervals = allowed_intervals(day, settings)
        if not intervals or intervals[-1][1] <= now:
            continue
        at = pick_moment(intervals, _stable_int(settings.user_key, slot_id, fingerprint))
        if at < now:
            # Its moment passed (a re-plan mid-window, after /resume or a settings change): wait for
            # the next slot rather than write straight after someone changed their settings.
            continue
        return Slot(slot_id=slot_id, at=at, intervals=tuple(intervals))
    return None


def slot_for(settings: CheckinSettings, slot_id: str) -> Slot | None:
    """Recompute the allowed time of a known slot (to check a late firing against it)."""
    day = date.fromisoformat(slot_id)
    intervals = allowed_intervals(day, settings)
    if not intervals:
        return None
    return Slot(slot_id=slot_id, at=intervals[0][0], intervals=tuple(intervals))


def quiet_until(settings: CheckinSettings, now: datetime) -> datetime | None:
    """If `now` is inside the person's quiet hours, when they end (UTC); else None."""
    if settings.quiet_start == settings.quiet_end:
        return None
    local_today = now.astimezone(settings.tz).date()
    for delta in (-1, 0):
        start, end = _span(
            local_today + timedelta(days=delta), settings.quiet_start, settings.quiet_end, settings.tz
        )
        if start <= now < end:
            return end
    return None
