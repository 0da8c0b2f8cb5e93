"""The conversation port the pipeline drives. `dialogues.service` implements it."""

from __future__ import annotations

from typing import Protocol

from dialogues.messages import IncomingMessage, Outcome, Reply
from models.assessment import Assessment
from storage.profiles import Profile


class Conversation(Protocol):
    async def handle(self, msg: IncomingMessage, profile: Profile, assessment: Assessment) -> Outcome:
        """Run one turn. Reads and writes conversation state; never sends anything.

        A conversation may also offer `read_commands(user_key)` (the Redis reads a turn starts
        with) and accept `handle(..., prefetched=<their replies>)`: the pipeline then batches those
        reads with its own in one round trip. `dialogues.service.ConversationService` does.
        """
        ...

    def crisis_replies(self, lang: str) -> tuple[Reply, ...]:
        """The caring reply with the crisis lines, from memory (works when Redis does not)."""
        ...

    def fallback_replies(self, lang: str) -> tuple[Reply, ...]:
        """A kind reply for when something inside failed."""
        ...

    async def start_checkin(self, profile: Profile) -> Reply:
        """Open a check-in (sets state) and return its greeting with the mood quick replies."""
        ...
