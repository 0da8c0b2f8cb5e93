"""The case service: the `Escalation` port the pipeline drives, plus what counsellors do.

Safety decisions:
- one open case per person: new triggers attach to it and may raise its level, never duplicate;
- `record()` is durable when it returns (case, indexes and alert events in one MULTI) and
  idempotent per (channel, update_id), so a replay after a crash has the same effects once;
- an assessor failure opens a crisis case (we could not tell, so we assume the worst);
- message text is stored only with the person's sharing consent, only while the case is open,
  and expires after it closes; counsellors see a nickname or short code, never an account.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from clock import Clock
from dialogues.messages import EscalationKind, EscalationRequest, IncomingMessage, InputKind
from escalation.alerts import (
    AlertContext,
    AlertRenderer,
    alert_ref,
    case_id_from_ref,
    message_ref,
    priority_of,
    topic_ref,
)
from escalation.cases import Case, Counsellor, Level, Status, level_for, queue_score
from escalation.signals import recent_signals
from escalation.store import UPDATE_MARKER_TTL_S, CaseStore, Change
from escalation.texts import CaseTexts
from models.assessment import Assessment
from outbox.refs import NO_TOPIC, REF_TTL_S, RefStore
from outbox.stream import RedisOutbox
from outbox.types import Action, OutboundMessage, Priority
from storage import keys
from storage.profiles import Profile, ProfileRepository
from telemetry import event, hash_id

log = logging.getLogger(__name__)

CLOSED_TEXT_TTL_S = 7 * 86_400
MAX_TRIGGERS = 50
MAX_TEXT = 1_000


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str  # counsellor-facing (ko · en), for answerCallbackQuery or a reply
    case: Case | None = None


class CaseService:
    def __init__(
        self,
        redis: aioredis.Redis,
        outbox: RedisOutbox,
        profiles: ProfileRepository,
        clock: Clock,
        *,
        counsellor_chat_id: int | None,
        supervisor_chat_id: int | None = None,
        crisis_sla_s: int = 300,
        distress_sla_s: int = 86_400,
        tz: str = "Asia/Seoul",
        texts: CaseTexts | None = None,
        channel: str = "telegram",
        closed_text_ttl_s: int = CLOSED_TEXT_TTL_S,
    ) -> None:
        self.redis = redis
        self.outbox = outbox
        self.profiles = profiles
        self.clock = clock
        self.chat = counsellor_chat_id
        self.supervisor = supervisor_chat_id
        self.crisis_sla_s = crisis_sla_s
        self.distress_sla_s = distress_sla_s
        self.texts = texts or CaseTexts.load()
        self.render = AlertRenderer(self.texts, tz, channel)
        self.store = CaseStore(redis, outbox)
        self.refs = RefStore(redis)
        self.closed_text_ttl_s = closed_text_ttl_s

    # --- the Escalation port ----------------------------------------------------------------
    async def record(
        self,
        msg: IncomingMessage,
        profile: Profile,
        assessment: Assessment,
        request: EscalationRequest,
    ) -> None:
        """Open or update the person's case and queue its alert; once per (channel, update_id)."""
        reasons = list(request.reasons) or list(assessment.reasons)
        if request.kind is EscalationKind.TALK_REQUEST:
            reasons = ["asked_for_person"] + [r for r in reasons if r != "user_request"]
        if request.kind is EscalationKind.ASSESSOR_FAILURE and "assessor_failure" not in reasons:
            reasons.append("assessor_failure")
        trigger = {
            "ts": msg.ts.timestamp(),
            "kind": request.kind.value,
            "level": assessment.level.value,
            "score": round(float(request.score or assessment.score), 3),
            "update": str(msg.update_id),
        }
        text = msg.text if msg.kind in (InputKind.TEXT, InputKind.EDITED) else ""
        await self.open_or_attach(
            profile,
            level_for(request.kind),
            reasons,
            trigger,
            text=text if profile.share_consent else None,
            marker=keys.case_update(msg.channel, msg.update_id),
        )

    async def in_handoff(self, user_key: str) -> bool:
        return bool(await self.redis.exists(keys.handoff(user_key)))

    @staticmethod
    def handoff_read_command(user_key: str) -> tuple[str, ...] | None:
        """The read `in_handoff` does, for the pipeline's joint read; `handoff_from` reads its reply."""
        return ("EXISTS", keys.handoff(user_key))

    @staticmethod
    def handoff_from(reply: object) -> bool:
        return bool(reply)

    async def relay_from_person(self, msg: IncomingMessage, profile: Profile) -> None:
        """Queue the person's message into their case thread (the counsellor is talking with them)."""
        case_id = await self.redis.get(keys.handoff(profile.user_key))
        case = await self.store.get(str(case_id)) if case_id else None
        if case is None or not case.active or self.chat is None:
            await self.redis.delete(keys.handoff(profile.user_key))
            return
        if msg.kind in (InputKind.TEXT, InputKind.EDITED, InputKind.COMMAND) and msg.text:
            text = self.texts.render("from_person", person=case.display, text=msg.text)
        else:
            what = self.texts.get("nontext").get(msg.kind.value) or self.texts.get("nontext", "other")
            text = self.texts.render(
                "from_person_nontext", person=case.display, what_ko=what["ko"], what_en=what["en"]
            )
        out = self.render.to_group(
            self.chat,
            case,
            text,
            kind="relay",
            ref=message_ref(case.id, f"p{msg.update_id}"),
            priority=Priority.HIGH,
        )
        await self.outbox.enqueue(out, key=f"relay:{msg.channel}:{msg.update_id}")
        event(log, "case_relayed_from_person", case=case.id)

    async def erase(self, user_key: str) -> None:
        """On /delete: cases stay only as anonymous figures (level, times, verdict); texts, notes,
        the alert's content and every link to the person go."""
        now = self.clock.now().timestamp()
        for case_id in await self.redis.smembers(keys.user_cases(user_key)):
            await self.store.mutate(str(case_id), functools.partial(self._erase_case, now=now))
        await self.redis.delete(
            keys.open_case(user_key),
            keys.handoff(user_key),
            keys.user_cases(user_key),
            keys.outreach_mark(user_key),
        )
        await self._purge_dead_letters(user_key)
        event(log, "cases_erased", user=hash_id(user_key))

    # --- opening and attaching ------------------------------------------------------------
    async def open_or_attach(
        self,
        profile: Profile,
        level: Level,
        reasons: list[str],
        trigger: dict[str, Any],
        *,
        text: str | None,
        marker: str,
    ) -> Case | None:
        user_key = profile.user_key
        now = self.clock.now().timestamp()
        moods, crisis_7d, distress_7d = await recent_signals(self.redis, self.profiles, user_key, now)
        forum = self.chat is not None and await self.refs.chat_is_forum(self.chat)
        new_id: str | None = None
        for _ in range(50):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(marker, keys.open_case(user_key))
                    if await pipe.exists(marker):
                        return None
                    found = await pipe.get(keys.open_case(user_key))
                    existing = str(found) if found else None
                    case: Case | None = None
                    if existing:
                        await pipe.watch(keys.case(existing))
                        data = await pipe.hgetall(keys.case(existing))
                        case = Case.from_hash(data) if data else None
                        if case is not None and not case.active:
                            case = None
                    excerpt = text
                    if case is None:
                        if new_id is None:
                            new_id = str(await self.redis.incr(keys.case_seq()))
                        case = Case(
                            id=new_id,
                            user_key=user_key,
                            display=profile.display_name,
                            level=level,
                            lang=profile.lang,
                            opened_at=now,
                            updated_at=now,
                            first_level=level,
                        )
                        change = self._opened(case, reasons, trigger, excerpt, now, forum)
                    else:
                        if excerpt is None:
                            excerpt = await self.store.latest_excerpt(case.id)
                        change = self._attached(case, level, reasons, trigger, now)
                    ctx = AlertContext(excerpt, moods, crisis_7d, distress_7d)
                    self._alert_events(case, change, ctx, now, forum, opened=case.id == new_id)
                    if text:
                        n = len(case.triggers)
                        item = json.dumps({"ts": now, "text": text[:MAX_TEXT]}, ensure_ascii=False)
                        texts_key = keys.case_texts(case.id)
                        write = functools.partial(_hset, key=texts_key, field=str(n), value=item)
                        change.writes.append(write)
                    pipe.multi()
                    self.store.write(pipe, case, change, marker=marker)
                    await pipe.execute()
                except WatchError:
                    continue
            event(
                log,
                "case_opened" if case.id == new_id else "case_updated",
                case=case.id,
                case_level=case.level.value,
                user=hash_id(user_key),
            )
            return case
        raise RuntimeError("could not record the case: too contended")

    def _opened(
        self,
        case: Case,
        reasons: list[str],
        trigger: dict[str, Any],
        text: str | None,
        now: float,
        forum: bool,
    ) -> Change:
        case.reasons = list(dict.fromkeys(reasons))
        case.triggers.append(trigger)
        change = Change(audit=[_audit(now, "system", "opened", level=case.level.value)])
        user_key = case.user_key
        change.writes += [
            lambda p: p.zadd(keys.case_queue(), {case.id: queue_score(case.level, case.opened_at)}),
            lambda p: p.zadd(keys.cases_all(), {case.id: case.opened_at}),
            lambda p: p.sadd(keys.user_cases(user_key), case.id),
            lambda p: p.set(keys.open_case(user_key), case.id),
            lambda p: p.zadd(keys.case_sla(), {case.id: now + self.sla_for(case.level)}),
        ]
        return change

    def _attached(
        self, case: Case, level: Level, reasons: list[str], trigger: dict[str, Any], now: float
    ) -> Change:
        raised = level.rank < case.level.rank
        previous = case.level
        if raised:
            case.level = level
        case.reasons = list(dict.fromkeys([*case.reasons, *reasons]))
        case.triggers = [*case.triggers, trigger][-MAX_TRIGGERS:]
        case.updated_at = now
        change = Change(result="raised" if raised else "attached")
        change.audit.append(_audit(now, "system", "trigger_attached", level=level.value))
        if raised:
            change.audit.append(
                _audit(now, "system", "raised", **{"from": previous.value, "to": level.value})
            )
            score = queue_score(case.level, case.opened_at)
            change.writes.append(lambda p: p.zadd(keys.case_queue(), {case.id: score}))
            if case.status is Status.OPEN:
                case.sla_stage = 0
                due = now + self.sla_for(case.level)
                change.writes.append(lambda p: p.zadd(keys.case_sla(), {case.id: due}))
        return change

    def _alert_events(
        self, case: Case, change: Change, ctx: AlertContext, now: float, forum: bool, *, opened: bool
    ) -> None:
        if self.chat is None:
            event(log, "case_without_counsellor_chat", logging.ERROR, case=case.id)
            return
        if opened:
            change.events += [(m, None) for m in self.render.new_case(self.chat, case, ctx, now, forum=forum)]
            if not forum:  # no topic will be made: the case's thread is the group itself
                ref = keys.outbox_ref(topic_ref(case.id))
                change.writes.append(lambda p: p.set(ref, NO_TOPIC, ex=REF_TTL_S))
            return
        fields = self.render.level_fields(case)
        text = self.texts.render(
            "new_trigger", case=case.id, person=case.display, excerpt=self.render.excerpt(ctx), **fields
        )
        n = len(case.triggers)
        prio = priority_of(case.level)
        change.events.append(
            (
                self.render.to_group(
                    self.chat, case, text, kind="trigger", ref=message_ref(case.id, n), priority=prio
                ),
                None,
            )
        )
        if change.result == "raised":
            raised = self.texts.render("raised", case=case.id, **fields)
            change.events.append(
                (self.render.to_group(self.chat, case, raised, kind="raised", priority=prio), None)
            )
        change.events.append((self.render.edit_alert(self.chat, case, ctx, now), None))

    def sla_for(self, level: Level) -> float:
        return float(self.crisis_sla_s if level is Level.CRISIS else self.distress_sla_s)

    # --- counsellor actions ---------------------------------------------------------------
    async def claim(self, case_id: str, who: Counsellor, *, marker: str | None = None) -> ActionResult:
        def decide(case: Case) -> Change | None:
            if not case.active:
                return Change(result=self._refusal("refused_closed"), save=False)
            if case.claimed_by and case.claimed_by != who.id:
                text = self.texts.render("refused_claimed_by_other", who=case.claimed_by_name or "?")
                return Change(result=ActionResult(False, text), save=False)
            if case.claimed_by == who.id:
                return None
            now = self.clock.now().timestamp()
            self._claim(case, who, now)
            change = Change(result=ActionResult(True, self.texts.render("done_claim", case=case.id)))
            change.audit.append(_audit(now, _who(who), "claimed"))
            change.writes.append(lambda p: p.zrem(keys.case_sla(), case.id))
            return change

        return await self._act(case_id, decide, marker, "done_claim", ctx=True)

    async def resolve(self, case_id: str, who: Counsellor, *, marker: str | None = None) -> ActionResult:
        return await self._close(case_id, who, Status.RESOLVED, marker)

    async def false_alarm(self, case_id: str, who: Counsellor, *, marker: str | None = None) -> ActionResult:
        return await self._close(case_id, who, Status.FALSE_ALARM, marker)

    async def relay_from_counsellor(
        self, case_id: str, who: Counsellor, text: str, *, marker: str | None = None
    ) -> ActionResult:
        """Send a counsellor's words to the young person, signed with their chosen name or role."""
        signature = await self.signature(who.id)

        def decide(case: Case) -> Change | None:
            if not case.active:
                return Change(result=self._refusal("refused_closed"), save=False)
            if case.claimed_by and case.claimed_by != who.id:
                text_ = self.texts.render("refused_claimed_by_other", who=case.claimed_by_name or "?")
                return Change(result=ActionResult(False, text_), save=False)
            now = self.clock.now().timestamp()
            change = Change(result=ActionResult(True, self.texts.render("done_relay")))
            if case.status is Status.OPEN:
                self._claim(case, who, now)
                change.audit.append(_audit(now, _who(who), "claimed"))
            if case.status is Status.CLAIMED:
                case.status = Status.IN_CONTACT
                case.contact_at = now
                change.audit.append(_audit(now, _who(who), "in_contact"))
                change.writes.append(lambda p: p.zrem(keys.case_sla(), case.id))
            case.relays += 1
            case.updated_at = now
            change.audit.append(_audit(now, _who(who), "relayed_to_person"))
            change.writes.append(lambda p: p.set(keys.handoff(case.user_key), case.id))
            body = self.texts.for_person("relay", case.lang, signature=signature, text=text)
            change.events.append((self._to_person(case, body, "relay"), None))
            return change

        return await self._act(case_id, decide, marker, "done_relay", ctx=True)

    async def end_handoff(self, case_id: str, who: Counsellor, *, marker: str | None = None) -> ActionResult:
        """`/end`: the companion takes over again; the young person gets a kind closing line."""
        if not await self._talking(case_id):
            return ActionResult(True, self.texts.render("done_end"))

        def decide(case: Case) -> Change | None:
            now = self.clock.now().timestamp()
            change = Change(result=ActionResult(True, self.texts.render("done_end")))
            change.audit.append(_audit(now, _who(who), "handoff_ended"))
            change.writes.append(lambda p: p.delete(keys.handoff(case.user_key)))
            change.events.append(
                (self._to_person(case, self.texts.for_person("closing", case.lang), "closing"), None)
            )
            if self.chat is not None:
                notice = self.texts.render("handed_back", who=who.name)
                change.events.append((self.render.to_group(self.chat, case, notice, kind="notice"), None))
            return change

        return await self._act(case_id, decide, marker, "done_end", ctx=False)

    async def add_note(self, case_id: str, who: Counsellor, note: str) -> ActionResult:
        def decide(case: Case) -> Change | None:
            now = self.clock.now().timestamp()
            case.notes = [*case.notes, {"ts": now, "by": who.name, "note": note[:MAX_TEXT]}]
            return Change(result=ActionResult(True, "ok"), audit=[_audit(now, _who(who), "note_added")])

        return await self._act(case_id, decide, None, "done_relay", ctx=False)

    async def signature(self, counsellor_id: str) -> str:
        stored = await self.redis.get(keys.counsellor_signature(counsellor_id))
        return str(stored) if stored else str(self.texts.get("default_signature"))

    async def set_signature(self, counsellor_id: str, signature: str) -> str:
        signature = " ".join(signature.split())[:40]
        await self.redis.set(keys.counsellor_signature(counsellor_id), signature)
        return self.texts.render("signature_set", signature=signature)

    async def case_for_message(
        self, chat_id: int | str, *, thread_id: int | None = None, reply_to: int | None = None
    ) -> str | None:
        """Which case a counsellor's message belongs to: its forum topic, or the message it replies to."""
        if thread_id is not None:
            found = case_id_from_ref(await self.refs.ref_for_thread(chat_id, thread_id))
            if found:
                return found
        if reply_to is not None:
            return case_id_from_ref(await self.refs.ref_for_message(chat_id, reply_to))
        return None

    # --- helpers ----------------------------------------------------------------------------
    def _claim(self, case: Case, who: Counsellor, now: float) -> None:
        case.status = Status.CLAIMED
        case.claimed_at = now
        case.claimed_by = who.id
        case.claimed_by_name = who.name
        case.updated_at = now

    async def _close(
        self, case_id: str, who: Counsellor, verdict: Status, marker: str | None
    ) -> ActionResult:
        done = "done_resolve" if verdict is Status.RESOLVED else "done_false_alarm"
        talking = await self._talking(case_id)  # a counsellor is still in the conversation

        def decide(case: Case) -> Change | None:
            if not case.active:
                return Change(result=self._refusal("refused_closed"), save=False)
            now = self.clock.now().timestamp()
            was_in_contact = talking and case.status is Status.IN_CONTACT
            case.status = verdict
            case.closed_at = now
            case.closed_by = who.id
            case.closed_by_name = who.name
            case.updated_at = now
            change = Change(result=ActionResult(True, self.texts.render(done, case=case.id)))
            change.audit.append(_audit(now, _who(who), verdict.value))
            change.writes += self._closing_writes(case)
            if was_in_contact:
                closing = self.texts.for_person("closing", case.lang)
                change.events.append((self._to_person(case, closing, "closing"), None))
            return change

        result = await self._act(case_id, decide, marker, done, ctx=True)
        if result.ok and result.case is not None:
            await self._release_person(result.case)
            event(log, "case_closed", case=case_id, verdict=verdict.value)
        return result

    async def _talking(self, case_id: str) -> bool:
        case = await self.store.get(case_id)
        if case is None:
            return False
        current = await self.redis.get(keys.handoff(case.user_key))
        return current is not None and str(current) == case_id

    def _closing_writes(self, case: Case) -> list[Any]:
        ttl = self.closed_text_ttl_s
        return [
            lambda p: p.zrem(keys.case_queue(), case.id),
            lambda p: p.zrem(keys.case_sla(), case.id),
            lambda p: p.expire(keys.case_texts(case.id), ttl),
        ]

    async def _release_person(self, case: Case) -> None:
        """Drop the person's pointers to a closed case, unless they already point elsewhere."""
        for key in (keys.open_case(case.user_key), keys.handoff(case.user_key)):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    if await pipe.get(key) == case.id:
                        pipe.multi()
                        pipe.delete(key)
                        await pipe.execute()
                except WatchError:
                    pass

    async def _act(
        self, case_id: str, decide: Any, marker: str | None, done: str, *, ctx: bool
    ) -> ActionResult:
        """Run a counsellor action; on success also edit the alert to show the new state."""
        before = await self.store.get(case_id)
        if before is None:
            return self._refusal("refused_unknown_case")
        context = await self._context(before) if ctx else None

        def with_edit(case: Case) -> Change | None:
            change = decide(case)
            if change is not None and change.save and context is not None and self.chat is not None:
                now = self.clock.now().timestamp()
                change.events.append((self.render.edit_alert(self.chat, case, context, now), None))
            return change

        case, change = await self.store.mutate(case_id, with_edit, marker=marker)
        if change is None:
            if case is None and marker is None:
                return self._refusal("refused_unknown_case")
            return ActionResult(True, self.texts.render(done, case=case_id), case)
        result: ActionResult = change.result
        return ActionResult(result.ok, result.message, case if result.ok else None)

    async def _context(self, case: Case) -> AlertContext:
        now = self.clock.now().timestamp()
        moods, crisis_7d, distress_7d = await recent_signals(self.redis, self.profiles, case.user_key, now)
        return AlertContext(await self.store.latest_excerpt(case.id), moods, crisis_7d, distress_7d)

    def _refusal(self, name: str) -> ActionResult:
        return ActionResult(False, self.texts.render(name))

    def _to_person(self, case: Case, text: str, kind: str) -> OutboundMessage:
        channel, _, chat_id = case.user_key.partition(":")
        return OutboundMessage(
            channel=channel,
            chat_id=chat_id,
            text=text,
            kind=kind,
            priority=Priority.HIGH,
            user_key=case.user_key,
        )

    def _erase_case(self, case: Case, now: float) -> Change:
        was_active = case.active
        case.user_key = "erased"
        case.display = "—"
        case.notes = []
        case.triggers = [
            {"ts": t.get("ts"), "level": t.get("level"), "kind": t.get("kind")} for t in case.triggers
        ]
        if was_active:
            case.status = Status.RESOLVED
            case.closed_at = now
            case.closed_by_name = "erased"
        change = Change(audit=[_audit(now, "person", "erased")])
        change.writes += self._closing_writes(case)
        change.writes.append(lambda p: p.delete(keys.case_texts(case.id)))
        if self.chat is not None:
            text = self.texts.render("erased")
            change.events.append(
                (
                    self.render.to_group(
                        self.chat, case, text, kind="alert_edit", ref=alert_ref(case.id), action=Action.EDIT
                    ),
                    None,
                )
            )
        return change

    async def _purge_dead_letters(self, user_key: str) -> None:
        needle = json.dumps(user_key)
        rows: Any = await self.redis.xrange(keys.outbox_dead())
        for entry_id, fields in rows or ():
            if needle in fields.get("m", ""):
                await self.redis.xdel(keys.outbox_dead(), entry_id)


def _hset(pipe: Any, *, key: str, field: str, value: str) -> None:
    pipe.hset(key, field, value)


def _who(who: Counsellor) -> str:
    return f"counsellor:{who.id}"


def _audit(now: float, who: str, what: str, **detail: Any) -> dict[str, Any]:
    return {"ts": now, "who": who, "what": what, **detail}


__all__ = ["UPDATE_MARKER_TTL_S", "ActionResult", "CaseService"]
