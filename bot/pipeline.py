"""The message path, channel-agnostic: assess -> converse -> persist escalation -> replies.

Safety decisions live here:
- every message is assessed, before onboarding and during a human handoff;
- an assessor that errors or times out is treated as possible crisis (`assessor_failure`);
- a case is written before the reply is returned, but if Redis fails the crisis reply still goes
  out and the write is retried in the background.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from clock import Clock
from dialogues.messages import (
    EscalationKind,
    EscalationRequest,
    IncomingMessage,
    InputKind,
    Outcome,
    Reply,
)
from dialogues.ports import Conversation
from escalation.ports import Escalation
from models.assessment import Assessment, PastSignal, RiskAssessor, RiskContext, RiskLevel
from models.placeholder import guess_lang
from storage.profiles import Profile, ProfileRepository
from storage.risk_window import RiskWindow
from telemetry import event, hash_id

log = logging.getLogger(__name__)

Eraser = Callable[[str], Awaitable[object]]

ASSESS_TIMEOUT_S = 3.0
ESCALATION_RETRY_DELAYS_S = (0.5, 1, 2, 5, 10, 30, 60)


@dataclass
class TurnReads:
    """What a turn read before it ran (see `Pipeline._read`)."""

    profile: Profile
    context: RiskContext | None = None
    in_handoff: bool | None = None  # None: not read yet (ask the escalation port)
    conversation: list[object] | None = None  # the conversation's prefetched reads, if any


class Pipeline:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        profiles: ProfileRepository,
        assessor: RiskAssessor,
        conversation: Conversation,
        escalation: Escalation,
        clock: Clock,
        erasers: Sequence[Eraser] = (),
        default_lang: str = "ko",
    ) -> None:
        self.redis = redis
        self.profiles = profiles
        self.assessor = assessor
        self.conversation = conversation
        self.escalation = escalation
        self.clock = clock
        self.erasers = list(erasers)
        # called with the user_key when a turn changed check-in settings (rhythm, window, pause)
        self.schedule_listeners: list[Eraser] = []
        self.window = RiskWindow(redis)
        self.default_lang = default_lang
        self._background: set[asyncio.Task[None]] = set()

    async def handle(self, msg: IncomingMessage) -> tuple[Reply, ...]:
        """Process one incoming message and return the replies to send to the person."""
        text = msg.text if msg.kind in (InputKind.TEXT, InputKind.EDITED, InputKind.COMMAND) else ""
        needs_assessment = bool(text.strip()) and msg.kind is not InputKind.COMMAND
        # While a counsellor talks with the person the companion stays quiet and relays; commands
        # and button presses (/delete and its confirmation, /help) still reach the companion.
        relayed = msg.kind not in (InputKind.COMMAND, InputKind.BUTTON)
        reads = await self._read(msg, with_context=needs_assessment, with_handoff=relayed)
        profile = reads.profile
        if needs_assessment:
            assessment = await self._assess(msg, text, profile, reads.context)
        else:
            assessment = Assessment(RiskLevel.NONE, 0.0, (), profile.lang)
        if assessment.level is RiskLevel.CRISIS:
            return await self._crisis_turn(msg, reads, assessment)

        try:
            if relayed and await self._in_handoff(reads):
                await self.escalation.relay_from_person(msg, profile)
                await self._remember(msg, assessment)
                return ()
            outcome = await self._converse(msg, reads, assessment)
        except Exception:
            event(log, "turn_failed", logging.ERROR, user=hash_id(msg.user_key), exc_info=True)
            return self.conversation.fallback_replies(profile.lang)

        if outcome.escalation is not None:
            await self._record_durably(msg, profile, assessment, outcome.escalation)
        if outcome.erase_user:
            await self._erase(profile.user_key)
            return outcome.replies
        if outcome.schedule_changed:
            await self._schedule_changed(profile.user_key)
        await self._remember(msg, assessment)
        return outcome.replies

    async def _in_handoff(self, reads: TurnReads) -> bool:
        if reads.in_handoff is not None:
            return reads.in_handoff
        return await self.escalation.in_handoff(reads.profile.user_key)

    async def _converse(self, msg: IncomingMessage, reads: TurnReads, assessment: Assessment) -> Outcome:
        if reads.conversation is not None:
            return await self.conversation.handle(  # type: ignore[call-arg]
                msg, reads.profile, assessment, prefetched=reads.conversation
            )
        return await self.conversation.handle(msg, reads.profile, assessment)

    async def _schedule_changed(self, user_key: str) -> None:
        for listener in self.schedule_listeners:
            try:
                await listener(user_key)
            except Exception:  # the scheduler's periodic sweep catches up; the turn is not lost
                event(log, "schedule_notice_failed", logging.WARNING, user=hash_id(user_key))

    async def _read(self, msg: IncomingMessage, *, with_context: bool, with_handoff: bool) -> TurnReads:
        """Everything the turn reads before it runs, in one round trip: the profile, the risk
        window (for a message to assess), the handoff flag (for a message that may be relayed) and
        the conversation's own reads (state, recent replies) when it offers them. The same round
        trip stamps when the person was last seen (outreach reads it).

        A failing read degrades as it always did: the profile falls back to defaults (logged),
        the risk window to an empty context; if the joint read fails, each part is read on its own
        (the handoff flag and the conversation's reads by their owners, later in the turn).
        """
        now = self.clock.now()
        lang = _initial_lang(msg, self.default_lang)
        user_key = msg.user_key
        commands: list[tuple[object, ...]] = [self.profiles.read_command(user_key)]
        if with_context:
            commands.append(self.window.read_command(user_key))
        handoff = self._handoff_command(user_key) if with_handoff else None
        if handoff is not None:
            commands.append(handoff)
        conversation_reads = self._conversation_commands(user_key)
        commands.extend(conversation_reads)
        commands.append(self.profiles.seen_command(user_key, msg.ts))  # a write, last: no row read
        rows: list[object] | None = None
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                rows = await pipe.execute()
        except Exception:
            rows = None
        reads = TurnReads(profile=Profile(user_key=user_key, lang=lang))
        try:
            if rows is not None:
                reads.profile = await self.profiles.get_or_create_from(rows[0], user_key, now, lang=lang)  # type: ignore[arg-type]
            else:
                reads.profile = await self.profiles.get_or_create(user_key, now, lang=lang)
        except Exception:
            event(log, "profile_unavailable", logging.ERROR, user=hash_id(user_key))
        at = 1
        if with_context:
            try:
                if rows is not None:
                    reads.context = self.window.context_from(rows[at], now)  # type: ignore[arg-type]
                else:
                    reads.context = await self.window.context(user_key, now)
            except Exception:
                reads.context = RiskContext(now=now)
            at += 1
        if rows is None:
            return reads
        if with_handoff:
            if handoff is None:
                reads.in_handoff = self.escalation.handoff_from(None)  # type: ignore[attr-defined]
            else:
                reads.in_handoff = self.escalation.handoff_from(rows[at])  # type: ignore[attr-defined]
                at += 1
        if conversation_reads:
            reads.conversation = list(rows[at : at + len(conversation_reads)])
        return reads

    def _handoff_command(self, user_key: str) -> tuple[object, ...] | None:
        command = getattr(self.escalation, "handoff_read_command", None)
        return command(user_key) if command is not None else None

    def _conversation_commands(self, user_key: str) -> list[tuple[object, ...]]:
        command = getattr(self.conversation, "read_commands", None)
        return list(command(user_key)) if command is not None else []

    # --- safety ------------------------------------------------------------------------------
    async def _assess(
        self, msg: IncomingMessage, text: str, profile: Profile, context: RiskContext | None
    ) -> Assessment:
        if context is None:
            context = RiskContext(now=self.clock.now())
        try:
            # `asyncio.timeout`, not `wait_for`: same deadline, without a task per message.
            async with asyncio.timeout(ASSESS_TIMEOUT_S):
                assessment = await self.assessor.assess(text, context)
        except Exception as exc:  # includes TimeoutError
            # Fail safe: an assessor we cannot hear from might have missed a crisis.
            event(
                log,
                "assessor_failed",
                logging.ERROR,
                user=hash_id(msg.user_key),
                error=type(exc).__name__,
            )
            return Assessment(RiskLevel.CRISIS, 1.0, ("assessor_failure",), profile.lang)
        event(
            log,
            "message_assessed",
            user=hash_id(msg.user_key),
            risk=assessment.level.value,
            score=round(assessment.score, 3),
            reasons=list(assessment.reasons),
        )
        return assessment

    async def _crisis_turn(
        self, msg: IncomingMessage, reads: TurnReads, assessment: Assessment
    ) -> tuple[Reply, ...]:
        profile = reads.profile
        kind = (
            EscalationKind.ASSESSOR_FAILURE
            if "assessor_failure" in assessment.reasons
            else EscalationKind.CRISIS
        )
        request = EscalationRequest(kind, assessment.reasons, assessment.score)
        await self._record_durably(msg, profile, assessment, request)
        try:
            if await self._in_handoff(reads):
                await self.escalation.relay_from_person(msg, profile)
            outcome = await self._converse(msg, reads, assessment)
            replies = outcome.replies
        except Exception:
            event(log, "crisis_turn_degraded", logging.ERROR, user=hash_id(msg.user_key))
            replies = ()
        if not replies:
            replies = self.conversation.crisis_replies(profile.lang)
        await self._remember(msg, assessment)
        return replies

    async def _record_durably(
        self,
        msg: IncomingMessage,
        profile: Profile,
        assessment: Assessment,
        request: EscalationRequest,
    ) -> None:
        """Write the case before replying; if that fails, keep retrying without holding the reply."""
        try:
            await self.escalation.record(msg, profile, assessment, request)
            return
        except Exception as exc:
            event(
                log,
                "escalation_write_failed",
                logging.ERROR,
                user=hash_id(msg.user_key),
                error=type(exc).__name__,
            )
        task = asyncio.create_task(self._retry_record(msg, profile, assessment, request))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _retry_record(
        self,
        msg: IncomingMessage,
        profile: Profile,
        assessment: Assessment,
        request: EscalationRequest,
    ) -> None:
        for delay in ESCALATION_RETRY_DELAYS_S:
            await asyncio.sleep(delay)
            try:
                await self.escalation.record(msg, profile, assessment, request)
                event(log, "escalation_write_recovered", user=hash_id(msg.user_key))
                return
            except Exception:
                continue
        event(log, "escalation_write_lost", logging.CRITICAL, user=hash_id(msg.user_key))

    async def drain_background(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # --- memory ------------------------------------------------------------------------------
    async def _remember(self, msg: IncomingMessage, assessment: Assessment) -> None:
        if assessment.score <= 0 and assessment.level is RiskLevel.NONE:
            return
        try:
            await self.window.push(msg.user_key, PastSignal(msg.ts, assessment.level, assessment.score))
        except Exception:
            event(log, "risk_window_write_failed", logging.WARNING, user=hash_id(msg.user_key))

    async def _erase(self, user_key: str) -> None:
        await self.escalation.erase(user_key)
        for eraser in self.erasers:
            await eraser(user_key)
        await self.profiles.erase(user_key)
        event(log, "user_erased", user=hash_id(user_key))


def _initial_lang(msg: IncomingMessage, default: str) -> str:
    if msg.text.strip() and not msg.text.startswith("/"):
        return guess_lang(msg.text)
    if msg.language_hint:
        return "ko" if msg.language_hint.lower().startswith("ko") else "en"
    return default


__all__ = ["Eraser", "Outcome", "Pipeline"]
