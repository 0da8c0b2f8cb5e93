"""The scheduling message catalogue (`texts.yaml`, Korean and English side by side)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

CATALOGUE = Path(__file__).with_name("texts.yaml")


class Texts:
    """Looks up `key` in `lang`, falling back to Korean, then formats placeholders."""

    def __init__(self, path: Path = CATALOGUE) -> None:
        with path.open(encoding="utf-8") as fh:
            self._data: dict[str, dict[str, Any]] = yaml.safe_load(fh)

    def get(self, key: str, lang: str, **values: object) -> str:
        entry = self._data[key]
        template = entry.get(lang) or entry["ko"]
        return str(template).format(**values) if values else str(template)

    def when(self, moment: datetime, tz: str, lang: str) -> str:
        """A local date and time, e.g. `11월 29일 (일) 19:00` / `Sun 29 Nov, 19:00`."""
        local = moment.astimezone(ZoneInfo(tz))
        weekday = self._data["weekdays"].get(lang, self._data["weekdays"]["ko"])[local.weekday()]
        months = self._data["month_names"]["en"]
        return self.get(
            "when_format",
            lang,
            month=local.month,
            month_name=months[local.month - 1],
            day=local.day,
            weekday=weekday,
            hh=f"{local.hour:02d}",
            mm=f"{local.minute:02d}",
        )
