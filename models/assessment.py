"""The risk port: what an assessment says, and the Protocol every assessor implements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class RiskLevel(StrEnum):
    NONE = "none"
    DISTRESS = "distress"
    CRISIS = "crisis"


@dataclass(frozen=True)
class Assessment:
    level: RiskLevel
    score: float  # 0..1, the crisis probability (or the fired rule's confidence)
    reasons: tuple[str, ...] = ()  # e.g. "lexicon:explicit_ideation", "exemplar:means"
    lang: str = "ko"


@dataclass(frozen=True)
class PastSignal:
    """A recent signal about the person, without text: a message's assessment or a check-in mood."""

    ts: datetime
    level: RiskLevel
    score: float
    source: str = "message"  # or "mood"


@dataclass(frozen=True)
class RiskContext:
    """The conversation so far, as the assessor may read it (newest last)."""

    recent: tuple[PastSignal, ...] = ()
    now: datetime | None = None


class RiskAssessor(Protocol):
    async def assess(self, text: str, context: RiskContext | None = None) -> Assessment:
        """Assess one message. Implementations must not block the event loop."""
        ...
