"""The one place where ieum is wired together, from one Settings object, at start-up.

Each block below belongs to one package; change only your package's block.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from bot.pipeline import Pipeline
from bot.settings import Settings
from clock import Clock, SystemClock
from models.assessment import RiskAssessor
from outbox.types import Sender
from storage.connection import open_redis
from storage.profiles import ProfileRepository
from telemetry import set_salt


@dataclass
class App:
    settings: Settings
    redis: aioredis.Redis
    clock: Clock
    profiles: ProfileRepository
    assessor: RiskAssessor
    pipeline: Pipeline
    conversation: Any
    escalation: Any
    encoder: Any = None
    outbox: Any = None
    # channel name -> outbox Sender; channel adapters register theirs when they start
    senders: dict[str, Sender] = field(default_factory=dict)
    # long-running workers (outbox consumer, SLA watcher, scheduler leader) that `ieum run` starts;
    # each is a zero-argument coroutine function that runs until cancelled
    services: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def running_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    assessor: RiskAssessor | None = None,
    encoder: Any = None,
) -> AsyncIterator[App]:
    """Open Redis (embedded if no URL), build every service, and close them on exit."""
    set_salt(settings.hash_salt.get_secret_value())
    clock = clock or SystemClock()
    async with open_redis(settings.redis_url, settings.data_dir) as redis:
        app = await build_app(settings, redis, clock=clock, assessor=assessor, encoder=encoder)
        try:
            yield app
        finally:
            await app.pipeline.drain_background()


async def build_app(
    settings: Settings,
    redis: aioredis.Redis,
    *,
    clock: Clock,
    assessor: RiskAssessor | None = None,
    encoder: Any = None,
) -> App:
    profiles = ProfileRepository(redis, default_lang=settings.lang, default_tz=settings.tz)

    # --- models ------------------------------------------------------------------------------
    from models.factory import build_assessor, load_encoder

    if assessor is None:
        # One encoder per process (loaded off the loop), shared with the dialogues' theme matching.
        if encoder is None:
            encoder = await asyncio.to_thread(load_encoder, settings.encoder)
        assessor = build_assessor(encoder, settings.model_artifact)

    # --- dialogues ---------------------------------------------------------------------------
    from dialogues.service import build_conversation

    # The assessor's cached encoder: free talk reads the same sentences the assessor just encoded.
    shared_encoder = getattr(assessor, "encoder", None) or encoder
    conversation = build_conversation(redis=redis, profiles=profiles, encoder=shared_encoder, clock=clock)

    # --- escalation --------------------------------------------------------------------------
    from escalation.service import CaseService
    from outbox.stream import RedisOutbox

    outbox = RedisOutbox(redis)
    escalation = CaseService(
        redis,
        outbox,
        profiles,
        clock,
        counsellor_chat_id=settings.counsellor_chat_id,
        supervisor_chat_id=settings.supervisor_chat_id,
        crisis_sla_s=settings.crisis_sla_seconds,
        distress_sla_s=settings.distress_sla_seconds,
        tz=settings.tz,
    )

    pipeline = Pipeline(
        redis=redis,
        profiles=profiles,
        assessor=assessor,
        conversation=conversation,
        escalation=escalation,
        clock=clock,
        default_lang=settings.lang,
    )
    app = App(
        settings=settings,
        redis=redis,
        clock=clock,
        profiles=profiles,
        assessor=assessor,
        pipeline=pipeline,
        conversation=conversation,
        escalation=escalation,
        encoder=encoder,
        outbox=outbox,
    )

    # --- escalation: background workers ------------------------------------------------------
    from escalation.outreach import OutreachScan
    from escalation.sla import SlaWatcher
    from outbox.consumer import OutboxConsumer
    from outbox.pacing import PacingConfig

    outbox_consumer = OutboxConsumer(
        redis,
        app.senders,  # live: channel adapters register their sender when they start
        on_blocked=lambda user_key: profiles.update(user_key, active=False),
        pacing=PacingConfig(
            settings.outbox_global_per_s, settings.outbox_chat_per_s, settings.outbox_group_per_min
        ),
    )
    sla_watcher = SlaWatcher(escalation, clock)
    outreach = OutreachScan(
        escalation,
        profiles,
        clock,
        silence_days=settings.outreach_silence_days,
        missed_checkins=settings.outreach_missed_checkins,
    )
    app.services += [outbox_consumer.run_forever, sla_watcher.run_forever, outreach.run_forever]
    app.extras.update(outbox_consumer=outbox_consumer, sla_watcher=sla_watcher, outreach=outreach)

    # --- scheduling --------------------------------------------------------------------------
    from outbox.stream import RedisOutbox
    from scheduling.wiring import build_scheduling

    scheduling = build_scheduling(
        redis,
        profiles,
        app.outbox if app.outbox is not None else RedisOutbox(redis),
        clock,
        start_checkin=getattr(conversation, "start_checkin", None),
        tz=settings.tz,
    )
    pipeline.erasers.append(scheduling.erase)  # answers and the due index live outside {u:...} keys
    pipeline.schedule_listeners.append(scheduling.plan_changed)  # /pause, /resume, /settings: at once
    app.services.append(scheduling.leader.run)  # one leader per deployment, by Redis lease
    app.extras["scheduling"] = scheduling
    return app
