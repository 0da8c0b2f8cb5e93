"""A small driver for the conversation engine in tests: a person who types and presses buttons."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from clock import FakeClock
from dialogues.messages import IncomingMessage, InputKind, Outcome, QuickReply
from dialogues.service import ConversationService, build_conversation
from models.assessment import Assessment, RiskLevel
from models.encoder_port import Encoder
from models.placeholder import KeywordAssessor
from storage.profiles import Profile, ProfileRepository


def make_service(
    redis: aioredis.Redis, encoder: Encoder, clock: FakeClock, seed: int = 7
) -> ConversationService:
    profiles = ProfileRepository(redis)
    return build_conversation(
        redis=redis, profiles=profiles, encoder=encoder, clock=clock, rng=random.Random(seed)
    )


@dataclass
class Person:
    service: ConversationService
    clock: FakeClock
    user_id: str = "p1"
    lang: str = "ko"
    last: Outcome | None = None
    assessor: KeywordAssessor = field(default_factory=KeywordAssessor)

    @property
    def user_key(self) -> str:
        return f"local:{self.user_id}"

    @property
    def profiles(self) -> ProfileRepository:
        return self.service.deps.profiles

    async def profile(self) -> Profile:
        return await self.profiles.get_or_create(self.user_key, self.clock.now(), lang=self.lang)

    async def send(self, msg: IncomingMessage, assessment: Assessment | None = None) -> Outcome:
        profile = await self.profile()
        if assessment is None:
            text = msg.text if msg.kind in (InputKind.TEXT, InputKind.EDITED) else ""
            if text.strip():
                assessment = await self.assessor.assess(text)
            else:
                assessment = Assessment(RiskLevel.NONE, 0.0, (), self.lang)
        self.last = await self.service.handle(msg, profile, assessment)
        return self.last

    def _msg(self, **kw: object) -> IncomingMessage:
        return IncomingMessage(
            channel="local", user_id=self.user_id, update_id=uuid.uuid4().hex, ts=self.clock.now(), **kw
        )  # type: ignore[arg-type]

    async def text(self, text: str, assessment: Assessment | None = None) -> Outcome:
        return await self.send(self._msg(kind=InputKind.TEXT, text=text), assessment)

    async def command(self, name: str, args: str = "") -> Outcome:
        return await self.send(
            self._msg(kind=InputKind.COMMAND, text=f"/{name}", command=name, command_args=args)
        )

    async def payload(self, payload: str) -> Outcome:
        return await self.send(self._msg(kind=InputKind.BUTTON, payload=payload))

    async def kind(self, kind: InputKind, text: str = "") -> Outcome:
        return await self.send(self._msg(kind=kind, text=text))

    def options(self) -> list[QuickReply]:
        assert self.last is not None
        return [q for r in self.last.replies for q in r.quick_replies]

    async def press(self, label_or_index: str | int) -> Outcome:
        options = self.options()
        if isinstance(label_or_index, int):
            return await self.payload(options[label_or_index].payload)
        for q in options:
            if label_or_index in q.label or q.payload.endswith(label_or_index):
                return await self.payload(q.payload)
        raise AssertionError(f"no option {label_or_index!r} in {[q.label for q in options]}")

    def said(self) -> str:
        assert self.last is not None
        return "\n".join(r.text for r in self.last.replies)


def all_payloads(outcome: Outcome) -> Iterator[str]:
    for reply in outcome.replies:
        for q in reply.quick_replies:
            yield q.payload
