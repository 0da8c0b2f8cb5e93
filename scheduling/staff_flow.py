"""The guided flow staff use in a chat to create, edit or cancel an activity, one question a step.

State lives in Redis (one hash per staff member, expiring after an hour of silence), so a restart
mid-flow resumes where it was. Buttons carry `sf:<value>`; typed answers are read as text. Only
the router decides who is staff: this module trusts its caller.
"""

from __future__ import annotations

import json
from datetime import datetime

import redis.asyncio as aioredis

from dialogues.messages import QuickReply, Reply
from scheduling.activities import Activity
from scheduling.parsing import parse_local, parse_positive_int
from scheduling.service import EDITABLE, ActivityService
from storage import keys

PREFIX = "sf:"
FLOW_TTL_S = 3600
CREATE_STEPS = ("title", "description", "place", "start", "duration", "capacity", "recurrence", "audience")
FIELD_OF_STEP = {"duration": "duration_min"}


class StaffFlow:
    def __init__(self, redis: aioredis.Redis, service: ActivityService) -> None:
        self.redis = redis
        self.service = service
        self.texts = service.texts
        self.tz = service.tz

    # --- state ---------------------------------------------------------------------------------
    async def _load(self, staff_id: str) -> dict[str, str]:
        return await self.redis.hgetall(keys.staff_flow(staff_id))

    async def _save(self, staff_id: str, state: dict[str, str]) -> None:
        key = keys.staff_flow(staff_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=state)
            pipe.expire(key, FLOW_TTL_S)
            await pipe.execute()

    async def active(self, staff_id: str) -> bool:
        return bool(await self.redis.exists(keys.staff_flow(staff_id)))

    async def stop(self, staff_id: str, lang: str) -> Reply:
        await self.redis.delete(keys.staff_flow(staff_id))
        return Reply(self.texts.get("flow_stopped", lang))

    def _button(self, key: str, lang: str, value: str) -> QuickReply:
        return QuickReply(self.texts.get(key, lang), f"{PREFIX}{value}")

    # --- starting ------------------------------------------------------------------------------
    async def start_create(self, staff_id: str, lang: str) -> Reply:
        await self._save(staff_id, {"kind": "create", "step": "title", "lang": lang, "data": "{}"})
        return self._ask("title", lang)

    async def start_edit(self, staff_id: str, activity_id: str, lang: str) -> Reply:
        act = await self.service.repo.get(activity_id)
        if act is None:
            return Reply(self.texts.get("flow_unknown_activity", lang))
        await self._save(
            staff_id, {"kind": "edit", "step": "field", "lang": lang, "id": act.id, "data": "{}"}
        )
        fields = [
            self._button(f"field_{f if f != 'duration_min' else 'duration'}", lang, f"field:{f}")
            for f in EDITABLE
        ]
        return Reply(
            self.texts.get("flow_edit_field", lang) + "\n\n" + self.service.summary(act, lang), tuple(fields)
        )

    async def start_cancel(self, staff_id: str, activity_id: str, lang: str) -> Reply:
        act = await self.service.repo.get(activity_id)
        if act is None:
            return Reply(self.texts.get("flow_unknown_activity", lang))
        await self._save(
            staff_id, {"kind": "cancel", "step": "confirm", "lang": lang, "id": act.id, "data": "{}"}
        )
        text = self.texts.get(
            "flow_cancel_confirm", lang, title=act.title, when=self.texts.when(act.start, self.tz, lang)
        )
        return Reply(text, (self._button("button_yes", lang, "yes"), self._button("button_no", lang, "no")))

    # --- one answer ----------------------------------------------------------------------------
    async def handle(
        self, staff_id: str, answer: str, now: datetime, *, button: bool = False
    ) -> Reply | None:
        """Take one typed answer or pressed button; None if this staff member has no flow open."""
        state = await self._load(staff_id)
        if not state:
            return None
        lang = state.get("lang", "ko")
        value = answer[len(PREFIX) :] if button and answer.startswith(PREFIX) else answer.strip()
        data: dict[str, object] = json.loads(state.get("data", "{}"))
        kind, step = state["kind"], state["step"]
        if kind == "cancel":
            return await self._finish_cancel(staff_id, state, value, now, lang)
        if kind == "edit":
            return await self._edit_step(staff_id, state, data, step, value, button, now, lang)
        return await self._create_step(staff_id, state, data, step, value, button, now, lang)

    async def _create_step(
        self,
        staff_id: str,
        state: dict[str, str],
        data: dict[str, object],
        step: str,
        value: str,
        button: bool,
        now: datetime,
        lang: str,
    ) -> Reply:
        if step == "confirm":
            if value != "yes":
                return await self.stop(staff_id, lang)
            act = await self.service.create(
                title=str(data["title"]),
                start=datetime.fromisoformat(str(data["start"])),
                now=now,
                duration_min=int(str(data["duration_min"])),
                place=str(data.get("place", "")),
                description=str(data.get("description", "")),
                capacity=int(str(data.get("capacity", 0))),
                weekly=bool(data.get("weekly")),
                audience_tag=str(data.get("audience_tag", "")),
                created_by=staff_id,
            )
            await self.redis.delete(keys.staff_flow(staff_id))
            return Reply(self.texts.get("flow_created", lang, id=act.id))
        error = self._read(step, value, button, now, data)
        if error:
            return Reply(self.texts.get(error, lang), self._ask(step, lang).quick_replies)
        nxt = CREATE_STEPS.index(step) + 1
        if nxt < len(CREATE_STEPS):
            await self._save(staff_id, {**state, "step": CREATE_STEPS[nxt], "data": json.dumps(data)})
            return self._ask(CREATE_STEPS[nxt], lang)
        await self._save(staff_id, {**state, "step": "confirm", "data": json.dumps(data)})
        draft = self._draft(data)
        text = self.texts.get(
            "flow_confirm",
            lang,
            summary=self.service.summary(draft, lang),
            audience=self.service.audience_label(draft, lang),
        )
        return Reply(text, (self._button("button_yes", lang, "yes"), self._button("button_no", lang, "no")))

    async def _edit_step(
        self,
        staff_id: str,
        state: dict[str, str],
        data: dict[str, object],
        step: str,
        value: str,
        button: bool,
        now: datetime,
        lang: str,
    ) -> Reply:
        act = await self.service.repo.get(state["id"])
        if act is None:
            await self.redis.delete(keys.staff_flow(staff_id))
            return Reply(self.texts.get("flow_unknown_activity", lang))
        if step == "field":
            field = value.removeprefix("field:")
            if not button or field not in EDITABLE:
                return Reply(self.texts.get("flow_invalid", lang))
            await self._save(staff_id, {**state, "step": "value", "field": field})
            return Reply(self.texts.get("flow_edit_value", lang))
        if step == "value":
            field = state["field"]
            step_name = "duration" if field == "duration_min" else field
            error = self._read(step_name, value, button, now, data)
            if error:
                return Reply(self.texts.get(error, lang))
            await self._save(staff_id, {**state, "step": "confirm", "data": json.dumps(data)})
            draft = act.replace(**self._changes(data))
            text = self.texts.get("flow_edit_confirm", lang, summary=self.service.summary(draft, lang))
            return Reply(
                text, (self._button("button_yes", lang, "yes"), self._button("button_no", lang, "no"))
            )
        if value != "yes":
            return await self.stop(staff_id, lang)
        updated = await self.service.edit(act.id, now, **self._changes(data))
        await self.redis.delete(keys.staff_flow(staff_id))
        if updated is None:
            return Reply(self.texts.get("flow_unknown_activity", lang))
        return Reply(self.texts.get("flow_edited", lang, id=act.id))

    async def _finish_cancel(
        self, staff_id: str, state: dict[str, str], value: str, now: datetime, lang: str
    ) -> Reply:
        if value != "yes":
            return await self.stop(staff_id, lang)
        act = await self.service.cancel(state["id"], now)
        await self.redis.delete(keys.staff_flow(staff_id))
        if act is None:
            return Reply(self.texts.get("flow_unknown_activity", lang))
        return Reply(self.texts.get("flow_cancelled", lang, id=act.id))

    # --- questions and answers -----------------------------------------------------------------
    def _ask(self, step: str, lang: str) -> Reply:
        text = (
            self.texts.get(f"flow_{step}", lang, tz=self.tz)
            if step == "start"
            else self.texts.get(f"flow_{step}", lang)
        )
        buttons: tuple[QuickReply, ...] = ()
        if step == "description":
            buttons = (self._button("button_skip", lang, "skip"),)
        elif step == "recurrence":
            buttons = (
                self._button("button_once", lang, "once"),
                self._button("button_weekly", lang, "weekly"),
            )
        elif step == "audience":
            buttons = (self._button("button_everyone", lang, "all"),)
        return Reply(text, buttons)

    def _read(
        self, step: str, value: str, button: bool, now: datetime, data: dict[str, object]
    ) -> str | None:
        """Store the answer to `step` in `data`; return a catalogue key for an error, else None."""
        if step in ("title", "place"):
            if button or not value or len(value) > 200:
                return "flow_invalid"
            data[step] = value
        elif step == "description":
            data["description"] = "" if button and value == "skip" else value[:1000]
        elif step == "start":
            start = parse_local(value, self.tz)
            if start is None:
                return "flow_invalid"
            if start <= now:
                return "flow_in_past"
            data["start"] = start.isoformat()
        elif step == "duration":
            minutes = parse_positive_int(value)
            if minutes is None or minutes > 24 * 60:
                return "flow_invalid"
            data["duration_min"] = minutes
        elif step == "capacity":
            places = parse_positive_int(value, allow_zero=True)
            if places is None:
                return "flow_invalid"
            data["capacity"] = places
        elif step == "recurrence":
            if value not in ("once", "weekly"):
                return "flow_invalid"
            data["weekly"] = value == "weekly"
        elif step == "audience":
            data["audience_tag"] = "" if button and value == "all" else value.lstrip("#").strip()[:40]
        return None

    @staticmethod
    def _changes(data: dict[str, object]) -> dict[str, object]:
        out: dict[str, object] = {}
        for name, raw in data.items():
            if name == "start":
                out["start"] = datetime.fromisoformat(str(raw))
            elif name in EDITABLE:
                out[name] = raw
        return out

    def _draft(self, data: dict[str, object]) -> Activity:
        return Activity(
            id="",
            title=str(data.get("title", "")),
            start=datetime.fromisoformat(str(data["start"])),
            duration_min=int(str(data.get("duration_min", 90))),
            place=str(data.get("place", "")),
            description=str(data.get("description", "")),
            capacity=int(str(data.get("capacity", 0))),
            weekly=bool(data.get("weekly")),
            audience_tag=str(data.get("audience_tag", "")),
        )
