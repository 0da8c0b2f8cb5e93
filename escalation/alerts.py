"""What counsellors see: the alert (edited as the case changes), its buttons, and case-thread
messages, built as outbox messages. Texts come from `escalation/texts.yaml`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dialogues.messages import QuickReply
from escalation.cases import Case, Level, Status
from escalation.texts import CaseTexts
from outbox.types import Action, OutboundMessage, Priority

MOOD_ICONS = {"good": "😊", "so_so": "😐", "not_great": "😟", "want_to_talk": "🙋", "skipped": "·"}
EXCERPT_CHARS = 300
BUTTON_PREFIX = "cs"  # callback data: cs:<action>:<case id>, far below 64 bytes
ACTIONS = {"c": "claim", "r": "resolve", "f": "false_alarm"}


@dataclass(frozen=True)
class AlertContext:
    """What the alert shows besides the case itself (read when the event is written)."""

    excerpt: str | None = None  # None: the person has not consented to sharing
    moods: tuple[str, ...] = ()
    crisis_7d: int = 0
    distress_7d: int = 0


def topic_ref(case_id: str) -> str:
    return f"case:{case_id}:topic"


def alert_ref(case_id: str) -> str:
    return f"case:{case_id}:alert"


def message_ref(case_id: str, n: int | str) -> str:
    return f"case:{case_id}:m:{n}"


def case_id_from_ref(ref: str | None) -> str | None:
    if not ref or not ref.startswith("case:"):
        return None
    return ref.split(":")[1]


def button_data(action: str, case_id: str) -> str:
    short = {v: k for k, v in ACTIONS.items()}[action]
    return f"{BUTTON_PREFIX}:{short}:{case_id}"


def parse_button(data: str) -> tuple[str, str] | None:
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != BUTTON_PREFIX or parts[1] not in ACTIONS:
        return None
    return ACTIONS[parts[1]], parts[2]


def priority_of(level: Level) -> Priority:
    return {
        Level.CRISIS: Priority.CRISIS,
        Level.TALK_REQUEST: Priority.HIGH,
        Level.DISTRESS: Priority.HIGH,
        Level.OUTREACH: Priority.NORMAL,
    }[level]


class AlertRenderer:
    def __init__(self, texts: CaseTexts, tz: str, channel: str = "telegram") -> None:
        self.texts = texts
        self.tz = ZoneInfo(tz)
        self.channel = channel

    # --- pieces -------------------------------------------------------------------------------
    def hhmm(self, ts: float | None) -> str:
        if ts is None:
            return "?"
        return datetime.fromtimestamp(ts, UTC).astimezone(self.tz).strftime("%H:%M")

    def stamp(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    @staticmethod
    def waiting(seconds: float) -> tuple[str, str]:
        minutes = max(0, int(seconds // 60))
        if minutes < 1:
            return f"{int(max(0, seconds))}초", f"{int(max(0, seconds))} s"
        if minutes < 120:
            return f"{minutes}분", f"{minutes} min"
        hours = minutes // 60
        return f"{hours}시간", f"{hours} h"

    def status_line(self, case: Case) -> tuple[str, str]:
        entry = self.texts.get("statuses", case.status.value)
        if case.status is Status.OPEN:
            who, at = "", ""
        elif case.status.closed:
            who, at = case.closed_by_name or "?", self.hhmm(case.closed_at)
        elif case.status is Status.IN_CONTACT:
            who, at = case.claimed_by_name or "?", self.hhmm(case.contact_at)
        else:
            who, at = case.claimed_by_name or "?", self.hhmm(case.claimed_at)
        return entry["ko"].format(who=who, at=at), entry["en"].format(who=who, at=at)

    def reasons(self, case: Case) -> str:
        return ", ".join(self.texts.reason(r) for r in case.reasons) or "-"

    def excerpt(self, ctx: AlertContext) -> str:
        if ctx.excerpt is None:
            return str(self.texts.get("no_excerpt"))
        text = " ".join(ctx.excerpt.split())
        return f"“{text[:EXCERPT_CHARS]}{'…' if len(text) > EXCERPT_CHARS else ''}”"

    def buttons(self, case: Case) -> tuple[tuple[QuickReply, ...], ...]:
        if case.status.closed:
            return ()
        labels = self.texts.get("buttons")
        row: list[QuickReply] = []
        if case.status is Status.OPEN:
            row.append(QuickReply(labels["claim"], button_data("claim", case.id)))
        row.append(QuickReply(labels["resolve"], button_data("resolve", case.id)))
        row.append(QuickReply(labels["false_alarm"], button_data("false_alarm", case.id)))
        return (tuple(row),)

    # --- texts --------------------------------------------------------------------------------
    def alert_text(self, case: Case, ctx: AlertContext, now: float) -> str:
        level = self.texts.level(case.level.value)
        status_ko, status_en = self.status_line(case)
        wait_ko, wait_en = self.waiting((case.claimed_at or now) - case.opened_at)
        moods = " → ".join(MOOD_ICONS.get(m, m) for m in ctx.moods[-7:]) or self.texts.get("no_moods")
        return self.texts.render(
            "alert",
            icon=level["icon"],
            level_ko=level["ko"],
            level_en=level["en"],
            case=case.id,
            person=case.display,
            status_ko=status_ko,
            status_en=status_en,
            reasons=self.reasons(case),
            excerpt=self.excerpt(ctx),
            moods=moods,
            crisis_7d=ctx.crisis_7d,
            distress_7d=ctx.distress_7d,
            triggers=max(1, len(case.triggers)),
            waiting=f"{wait_ko} · {wait_en}",
            opened=self.stamp(case.opened_at),
        )

    def level_fields(self, case: Case) -> dict[str, str]:
        level = self.texts.level(case.level.value)
        return {"icon": level["icon"], "level_ko": level["ko"], "level_en": level["en"]}

    # --- outbox messages ------------------------------------------------------------------------
    def to_group(
        self, chat_id: int | str, case: Case, text: str, *, kind: str, ref: str | None = None, **kw: object
    ) -> OutboundMessage:
        return OutboundMessage(
            channel=self.channel,
            chat_id=str(chat_id),
            text=text,
            kind=kind,
            priority=kw.pop("priority", priority_of(case.level)),  # type: ignore[arg-type]
            topic_ref=topic_ref(case.id),
            message_ref=ref,
            **kw,  # type: ignore[arg-type]
        )

    def new_case(self, chat_id: int | str, case: Case, ctx: AlertContext, now: float, *, forum: bool):
        out: list[OutboundMessage] = []
        if forum:
            name = self.texts.render(
                "topic_name", case=case.id, person=case.display, **self.level_fields(case)
            )
            out.append(
                OutboundMessage(
                    channel=self.channel,
                    chat_id=str(chat_id),
                    text=name,
                    kind="topic",
                    priority=priority_of(case.level),
                    action=Action.CREATE_TOPIC,
                    topic_ref=topic_ref(case.id),
                )
            )
        out.append(
            self.to_group(
                chat_id,
                case,
                self.alert_text(case, ctx, now),
                kind="alert",
                ref=alert_ref(case.id),
                buttons=self.buttons(case),
            )
        )
        return out

    def edit_alert(self, chat_id: int | str, case: Case, ctx: AlertContext, now: float) -> OutboundMessage:
        return self.to_group(
            chat_id,
            case,
            self.alert_text(case, ctx, now),
            kind="alert_edit",
            ref=alert_ref(case.id),
            action=Action.EDIT,
            buttons=self.buttons(case),
            priority=Priority.HIGH if case.level is not Level.CRISIS else Priority.CRISIS,
        )
