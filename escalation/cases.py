"""A case: what the Center knows about one episode of concern for one person.

Stored as one Redis hash per case without message text (excerpts live in a separate hash that
expires after the case closes). The person is referenced by `user_key` for routing and shown to
counsellors only as `display` (nickname or pseudonymous short code), never as an account.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dialogues.messages import EscalationKind


class Status(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    IN_CONTACT = "in_contact"
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"

    @property
    def closed(self) -> bool:
        return self in (Status.RESOLVED, Status.FALSE_ALARM)


class Level(StrEnum):
    """What kind of case, which sets its priority (lower rank = sooner)."""

    CRISIS = "crisis"  # crisis messages, and an assessor that failed (treated as crisis)
    TALK_REQUEST = "talk_request"  # /talk: asked for a person
    DISTRESS = "distress"  # persistent distress
    OUTREACH = "outreach"  # went quiet after signs of distress: the Center reaches out

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Level.CRISIS: 0, Level.TALK_REQUEST: 1, Level.DISTRESS: 2, Level.OUTREACH: 3}

_FROM_REQUEST = {
    EscalationKind.CRISIS: Level.CRISIS,
    EscalationKind.ASSESSOR_FAILURE: Level.CRISIS,  # fail safe: we could not tell, so assume crisis
    EscalationKind.TALK_REQUEST: Level.TALK_REQUEST,
    EscalationKind.DISTRESS: Level.DISTRESS,
}


def level_for(kind: EscalationKind) -> Level:
    return _FROM_REQUEST[kind]


def queue_score(level: Level, opened_ts: float) -> float:
    """Priority first, then how long the case has waited (older first)."""
    return level.rank * 1e11 + opened_ts


@dataclass
class Case:
    id: str
    user_key: str
    display: str
    level: Level
    status: Status = Status.OPEN
    lang: str = "ko"
    opened_at: float = 0.0  # unix seconds (from the injected clock)
    updated_at: float = 0.0
    claimed_at: float | None = None
    claimed_by: str | None = None  # counsellor id
    claimed_by_name: str | None = None
    contact_at: float | None = None
    closed_at: float | None = None
    closed_by: str | None = None
    closed_by_name: str | None = None
    reasons: list[str] = field(default_factory=list)
    triggers: list[dict[str, object]] = field(default_factory=list)  # ts, level, score (no text)
    notes: list[dict[str, object]] = field(default_factory=list)
    events: int = 0  # outbox events queued so far (each gets its own idempotency key)
    relays: int = 0
    sla_stage: int = 0
    first_level: Level | None = None  # the level it was opened at (for stats)

    @property
    def active(self) -> bool:
        return not self.status.closed

    def next_event(self) -> str:
        self.events += 1
        return f"case:{self.id}:ev:{self.events}"

    def to_hash(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, list):
                out[f.name] = json.dumps(value, ensure_ascii=False)
            else:
                out[f.name] = str(value)
        return out

    @staticmethod
    def from_hash(data: Mapping[Any, Any]) -> Case:
        def opt_float(name: str) -> float | None:
            raw = data.get(name)
            return float(raw) if raw not in (None, "") else None

        first = data.get("first_level")
        return Case(
            id=data["id"],
            user_key=data.get("user_key", ""),
            display=data.get("display", ""),
            level=Level(data.get("level", "crisis")),
            status=Status(data.get("status", "open")),
            lang=data.get("lang", "ko"),
            opened_at=float(data.get("opened_at", 0)),
            updated_at=float(data.get("updated_at", 0)),
            claimed_at=opt_float("claimed_at"),
            claimed_by=data.get("claimed_by"),
            claimed_by_name=data.get("claimed_by_name"),
            contact_at=opt_float("contact_at"),
            closed_at=opt_float("closed_at"),
            closed_by=data.get("closed_by"),
            closed_by_name=data.get("closed_by_name"),
            reasons=json.loads(data.get("reasons", "[]")),
            triggers=json.loads(data.get("triggers", "[]")),
            notes=json.loads(data.get("notes", "[]")),
            events=int(data.get("events", 0)),
            relays=int(data.get("relays", 0)),
            sla_stage=int(data.get("sla_stage", 0)),
            first_level=Level(first) if first else None,
        )

    def as_public_dict(self) -> dict[str, object]:
        """What `ieum cases show/list --json` prints: no account id, no message text."""
        data = dataclasses.asdict(self)
        data.pop("user_key")
        return data


@dataclass(frozen=True)
class Counsellor:
    """A counsellor acting on a case: `id` is their channel id (for auditing), `name` what
    colleagues see in the alert; the young person sees only their `signature`."""

    id: str
    name: str
