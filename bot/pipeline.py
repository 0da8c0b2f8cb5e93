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
        profile, context = await self._read(msg, with_context=needs_assessment)
        if needs_assessment:
            assessment = await self._assess(msg, text, profile, context)
        else:
            assessment = Assessment(RiskLevel.NONE, 0.0, (), profile.lang)
        if assessment.level is RiskLevel.CRISIS:
            return await self._crisis_turn(msg, profile, assessment)

        try:
            # While a counsellor talks with the person the companion stays quiet and relays; commands
            # and button presses (/delete and its confirmation, /help) still reach the companion.
            relayed = msg.kind not in (InputKind.COMMAND, InputKind.BUTTON)
            if relayed and await self.escalation.in_handoff(profile.user_key):
                await self.escalation.relay_from_person(msg, profile)
                await self._remember(msg, assessment)
                return ()
            outcome = await self.conversation.handle(msg, profile, assessment)
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

    async def _schedule_changed(self, user_key: str) -> None:
        for listener in self.schedule_listeners:
            try:
                await listener(user_key)
            except Exception:  # the scheduler's periodic sweep catches up; the turn is not lost
                event(log, "schedule_notice_failed", logging.WARNING, user=hash_id(user_key))

    async def _read(self, msg: IncomingMessage, *, with_context: bool) -> tuple[Profile, RiskContext | None]:
        """The person's profile and, for a message to assess, their risk window: one round trip.

        A failing read degrades as it always did: the profile falls back to defaults (logged),
        the risk window to an empty context; if the joint read fails, each is read on its own.
        """
        now = self.clock.now()
        lang = _initial_lang(msg, self.default_lang)
        joint: list[object] | None = None
        if with_context:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.execute_command(*self.profiles.read_command(msg.user_key))
                    pipe.execute_command(*self.window.read_command(msg.user_key))
                    joint = await pipe.execute()
            except Exception:
                joint = None
        try:
            if joint is not None:
                profile = await self.profiles.get_or_create_from(joint[0], msg.user_key, now, lang=lang)  # type: ignore[arg-type]
            else:
                profile = await self.profiles.get_or_create(msg.user_key, now, lang=lang)
        except Exception:
            event(log, "profile_unavailable", logging.ERROR, user=hash_id(msg.user_key))
            profile = Profile(user_key=msg.user_key, lang=lang)
        if not with_context:
            return profile, None
        try:
            if joint is not None:
                return profile, self.window.context_from(joint[1], now)  # type: ignore[arg-type]
            return profile, await self.window.context(profile.user_key, now)
        except Exception:
            return profile, RiskContext(now=now)

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
        self, msg: IncomingMessage, profile: Profile, assessment: Assessment
    ) -> tuple[Reply, ...]:
        kind = (
            EscalationKind.ASSESSOR_FAILURE
            if "assessor_failure" in assessment.reasons
            else EscalationKind.CRISIS
        )
        request = EscalationRequest(kind, assessment.reasons, assessment.score)
        await self._record_durably(msg, profile, assessment, request)
        try:
            if await self.escalation.in_handoff(profile.user_key):
                await self.escalation.relay_from_person(msg, profile)
            outcome = await self.conversation.handle(msg, profile, assessment)
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
