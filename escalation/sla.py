"""SLA timers: a case nobody claims is re-alerted, then escalated to the supervisor.

Timers live in a Redis sorted set (case id -> due time, from the injected clock), so they
survive restarts and any number of processes may run the watcher: each step is a WATCHed
change of the case with its own idempotency key, so it fires once.

Steps for an unclaimed case, each `sla` apart (crisis: IEUM_CRISIS_SLA_SECONDS, others
IEUM_DISTRESS_SLA_SECONDS): 1) re-alert in the counsellor chat; 2) alert the supervisor chat;
3+) remind both, until someone claims it.
"""

from __future__ import annotations

import functools
import logging

from clock import Clock
from escalation.alerts import AlertContext, priority_of
from escalation.cases import Case, Status
from escalation.periodic import repeat
from escalation.service import CaseService
from escalation.store import Change
from outbox.types import OutboundMessage
from storage import keys
from telemetry import event

log = logging.getLogger(__name__)


class SlaWatcher:
    def __init__(self, service: CaseService, clock: Clock, *, interval_s: float = 5.0) -> None:
        self.service = service
        self.clock = clock
        self.interval_s = interval_s

    async def run_once(self, now: float | None = None) -> int:
        """Fire every step due by `now` (unix seconds, default the clock). Returns how many fired."""
        now = self.clock.now().timestamp() if now is None else now
        due = await self.service.redis.zrangebyscore(keys.case_sla(), "-inf", now)
        fired = 0
        for member in due:
            case_id = str(member)
            case = await self.service.store.get(case_id)
            context = await self.service._context(case) if case is not None else None
            step = functools.partial(self._step, context=context, now=now)
            _, change = await self.service.store.mutate(case_id, step)
            if change is not None and change.result:
                fired += 1
            elif case is None:
                await self.service.redis.zrem(keys.case_sla(), case_id)
        return fired

    async def run_forever(self) -> None:
        await repeat(self.run_once, self.interval_s, "sla_watch_failed", log)

    def _step(self, case: Case, context: AlertContext | None, now: float) -> Change:
        svc = self.service
        if case.status is not Status.OPEN:
            return Change(result=False, save=False, writes=[lambda p: p.zrem(keys.case_sla(), case.id)])
        stage = case.sla_stage
        case.sla_stage = stage + 1
        sla = svc.sla_for(case.level)
        due = now + sla
        change = Change(result=True)
        change.writes.append(lambda p: p.zadd(keys.case_sla(), {case.id: due}))
        change.audit.append({"ts": now, "who": "system", "what": "sla_step", "stage": stage + 1})
        wait_ko, wait_en = svc.render.waiting(now - case.opened_at)
        fields = dict(
            case=case.id,
            person=case.display,
            waiting_ko=wait_ko,
            waiting_en=wait_en,
            **svc.render.level_fields(case),
        )
        buttons = svc.render.buttons(case)
        to_counsellors = stage != 1 or svc.supervisor is None
        to_supervisor = stage >= 1 and svc.supervisor is not None
        if to_counsellors and svc.chat is not None:
            text = svc.texts.render("realert", **fields)
            message = svc.render.to_group(svc.chat, case, text, kind="realert", buttons=buttons)
            change.events.append((message, f"case:{case.id}:sla:{stage + 1}:c"))
        if to_supervisor and svc.supervisor is not None:
            text = svc.texts.render("supervisor", **fields)
            if context is not None:
                text += "\n\n" + svc.render.alert_text(case, context, now)
            message = OutboundMessage(
                channel=svc.render.channel,
                chat_id=str(svc.supervisor),
                text=text,
                kind="supervisor",
                priority=priority_of(case.level),
                buttons=buttons,
            )
            change.events.append((message, f"case:{case.id}:sla:{stage + 1}:s"))
        event(log, "case_sla_step", case=case.id, stage=stage + 1, case_level=case.level.value)
        return change
