"""The escalation port the pipeline drives."""

from __future__ import annotations

from typing import Protocol

from dialogues.messages import EscalationRequest, IncomingMessage
from models.assessment import Assessment
from storage.profiles import Profile


class Escalation(Protocol):
    async def record(
        self,
        msg: IncomingMessage,
        profile: Profile,
        assessment: Assessment,
        request: EscalationRequest,
    ) -> None:
        """Open or update the person's case and queue its alert, idempotently per update.

        Must be durable when it returns: the pipeline replies only after this.
        """
        ...

    async def in_handoff(self, user_key: str) -> bool:
        """Is a counsellor talking with this person right now (companion stays quiet)?"""
        ...

    def handoff_read_command(self, user_key: str) -> tuple[str, ...] | None:
        """The Redis read behind `in_handoff`, so the pipeline can batch it with the turn's other
        reads (None: nothing to read, the answer is `handoff_from(None)`)."""
        ...

    def handoff_from(self, reply: object) -> bool:
        """`in_handoff`'s answer from the reply to `handoff_read_command`."""
        ...

    async def relay_from_person(self, msg: IncomingMessage, profile: Profile) -> None:
        """Queue the person's message to the counsellor handling their case."""
        ...

    async def erase(self, user_key: str) -> None:
        """Forget this person (on /delete); cases keep only what the law requires, pseudonymised."""
        ...
