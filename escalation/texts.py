"""The case texts catalogue (`escalation/texts.yaml`): counsellor texts are ko + en in one message,
texts to a young person are in their language. Checked at load so a broken edit fails at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CATALOGUE = Path(__file__).with_name("texts.yaml")
REQUIRED = (
    "levels",
    "statuses",
    "reasons",
    "buttons",
    "alert",
    "topic_name",
    "new_trigger",
    "from_person",
    "realert",
    "supervisor",
    "handed_back",
    "refused_not_counsellor",
    "default_signature",
    "to_person",
)


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class CaseTexts:
    data: dict[str, Any]

    @staticmethod
    def load(path: Path = CATALOGUE) -> CaseTexts:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise ValueError(f"{path}: missing {', '.join(missing)}")
        for name in ("relay", "closing"):
            entry = data["to_person"].get(name) or {}
            if not entry.get("ko") or not entry.get("en"):
                raise ValueError(f"{path}: to_person.{name} needs both ko and en")
        return CaseTexts(data)

    def get(self, *path: str) -> Any:
        node: Any = self.data
        for part in path:
            node = node[part]
        return node

    def render(self, name: str, **fields: object) -> str:
        """A counsellor text (both languages already in the template)."""
        return str(self.data[name]).format_map(_Blank(fields)).strip()

    def level(self, level: str) -> dict[str, str]:
        return dict(self.data["levels"].get(level) or self.data["levels"]["crisis"])

    def reason(self, reason: str) -> str:
        known = self.data["reasons"].get(reason)
        return f"{known['ko']} · {known['en']}" if known else reason

    def for_person(self, name: str, lang: str, **fields: object) -> str:
        entry = self.data["to_person"][name]
        return str(entry.get(lang) or entry["ko"]).format_map(_Blank(fields)).strip()
