"""What goes into the outbox, and the port producers call. Channel adapters do the sending."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Protocol

from dialogues.messages import QuickReply


class Priority(IntEnum):
    """Lower is sooner. Crisis traffic always goes ahead of everything else."""

    CRISIS = 0
    HIGH = 1  # relays in a live handoff, case updates
    NORMAL = 2  # check-ins, single notices
    BULK = 3  # activity announcements and reminder fan-out


class Action(StrEnum):
    SEND = "send"
    EDIT = "edit"  # edit `message_ref` (a previous send's stored message id)
    CREATE_TOPIC = "create_topic"  # forum topic; its thread id is stored under `topic_ref`


@dataclass(frozen=True)
class OutboundMessage:
    """One thing to deliver. `chat_id` is the channel's chat id (a person's or a group's)."""

    channel: str
    chat_id: str
    text: str
    kind: str  # "alert", "realert", "relay", "checkin", "reminder", "announcement", ...
    priority: Priority = Priority.NORMAL
    buttons: tuple[tuple[QuickReply, ...], ...] = ()  # rows of buttons
    action: Action = Action.SEND
    thread_id: int | None = None  # forum topic id
    topic_ref: str | None = None  # for CREATE_TOPIC: where to store the new thread id
    message_ref: str | None = None  # for SEND: where to store the sent message id; for EDIT: which
    user_key: str | None = None  # the person it is about / addressed to (for 403 handling)
    # Filled in by the consumer just before delivery (producers leave them unset): the message id
    # an EDIT targets, resolved from `message_ref`. For SEND/EDIT, a `topic_ref` without a
    # `thread_id` means "in the topic stored under that ref" (plain message if none was created).
    message_id: int | None = None


class Outbox(Protocol):
    async def enqueue(self, message: OutboundMessage, *, key: str) -> bool:
        """Queue `message` once per idempotency `key`; False if that key was already queued."""
        ...


class DeliveryStatus(StrEnum):
    OK = "ok"
    RETRY = "retry"  # network error, 5xx, or 429 (then `retry_after` is set)
    BLOCKED = "blocked"  # 403: the person blocked the bot; mark inactive, never retry
    FAILED = "failed"  # permanent (400 etc.): dead-letter


@dataclass(frozen=True)
class Delivery:
    status: DeliveryStatus
    retry_after: float | None = None
    message_id: int | None = None
    thread_id: int | None = None
    error: str = ""


class Sender(Protocol):
    """A channel adapter's side of the outbox: perform one action, report how it went."""

    async def deliver(self, message: OutboundMessage) -> Delivery: ...
