"""A tiny keyword assessor used until (and as a test double beside) the trained detector."""

from __future__ import annotations

import re

from models.assessment import Assessment, RiskContext, RiskLevel

_CRISIS = re.compile(
    r"(죽고\s*싶|자살|살기\s*싫|ㅈㅅ|한강\s*가|kill\s+myself|suicid|want\s+to\s+die|end\s+my\s+life|\bkms\b|unalive)",
    re.IGNORECASE,
)
_DISTRESS = re.compile(r"(외로|우울|힘들|불안|lonely|depress|anxious|hopeless)", re.IGNORECASE)
_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


def guess_lang(text: str) -> str:
    return "ko" if _HANGUL.search(text) else "en"


class KeywordAssessor:
    async def assess(self, text: str, context: RiskContext | None = None) -> Assessment:
        lang = guess_lang(text)
        if _CRISIS.search(text):
            return Assessment(RiskLevel.CRISIS, 0.99, ("keyword:crisis",), lang)
        if _DISTRESS.search(text):
            return Assessment(RiskLevel.DISTRESS, 0.6, ("keyword:distress",), lang)
        return Assessment(RiskLevel.NONE, 0.01, (), lang)
