"""Reading what staff type: local date-times and reminder offsets."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_OFFSET = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": 24 * 60, "h": 60, "m": 1}


def parse_local(text: str, tz: str) -> datetime | None:
    """`2026-12-05 19:00` (or `2026-12-05T19:00`, `2026/12/05 19:00`) in `tz`, returned in UTC."""
    cleaned = text.strip().replace("/", "-").replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            naive = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    return None


def parse_offsets(text: str) -> tuple[int, ...]:
    """`1d,2h` -> (1440, 120) minutes before the start. Raises ValueError on anything else."""
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        match = _OFFSET.match(part.lower())
        if not match:
            raise ValueError(f"not an offset like 1d, 2h or 30m: {part!r}")
        out.append(int(match.group(1)) * _UNITS[match.group(2)])
    return tuple(sorted(set(out), reverse=True))


def parse_positive_int(text: str, *, allow_zero: bool = False) -> int | None:
    try:
        value = int(text.strip())
    except ValueError:
        return None
    if value < 0 or (value == 0 and not allow_zero):
        return None
    return value
