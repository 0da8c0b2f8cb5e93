"""Plain, transport-agnostic messages in and out of the core. Adapters translate to and from these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from models.assessment import Assessment

MAX_PAYLOAD_BYTES = 64  # Telegram's callback_data limit; every payload must fit


class InputKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"  # text starting with '/'; `command` holds the name without '/'
    BUTTON = "button"  # a quick reply pressed; `payload` holds its data
    STICKER = "sticker"
    PHOTO = "photo"
    VOICE = "voice"
    VIDEO = "video"
    LOCATION = "location"
    DOCUMENT = "document"
    EDITED = "edited"  # an edited text message; `text` holds the new text
    OTHER = "other"


@dataclass(frozen=True)
class QuickReply:
    """A button. `payload` is opaque to adapters and at most 64 bytes of UTF-8."""

    label: str
    payload: str

    def __post_init__(self) -> None:
        if len(self.payload.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"quick reply payload over {MAX_PAYLOAD_BYTES} bytes: {self.payload!r}")


@dataclass(frozen=True)
class Reply:
    text: str
    quick_replies: tuple[QuickReply, ...] = ()


@dataclass(frozen=True)
class IncomingMessage:
    """One thing a person sent, on any channel.

    `user_id` is the channel's own id for the person's chat (Telegram chat id as text);
    `update_id` identifies the delivery for deduplication.
    """

    channel: str
    user_id: str
    update_id: str
    ts: datetime
    kind: InputKind = InputKind.TEXT
    text: str = ""
    command: str | None = None
    command_args: str = ""
    payload: str | None = None
    language_hint: str | None = None  # the client's UI language, if the channel tells us

    @property
    def user_key(self) -> str:
        return f"{self.channel}:{self.user_id}"


class EscalationKind(StrEnum):
    CRISIS = "crisis"
    DISTRESS = "distress"
    TALK_REQUEST = "talk_request"  # /talk: "I'd like a person to contact me"
    ASSESSOR_FAILURE = "assessor_failure"


@dataclass(frozen=True)
class EscalationRequest:
    """What the conversation asks the escalation service to record. The core never sends alerts."""

    kind: EscalationKind
    reasons: tuple[str, ...] = ()
    score: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """The result of one turn: what to say, and what should happen because of it."""

    replies: tuple[Reply, ...] = ()
    assessment: Assessment | None = None
    escalation: EscalationRequest | None = None
    erase_user: bool = False  # /delete confirmed: every store must forget this person
    schedule_changed: bool = False  # check-in rhythm, window, pause or resume changed
    extras: dict[str, str] = field(default_factory=dict)
