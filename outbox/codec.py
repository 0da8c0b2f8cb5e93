"""OutboundMessage <-> the JSON kept in a stream entry (no pickles: any process can read it)."""

from __future__ import annotations

import json
from typing import Any

from dialogues.messages import QuickReply
from outbox.types import Action, OutboundMessage, Priority


def encode(message: OutboundMessage) -> str:
    data: dict[str, Any] = {
        "channel": message.channel,
        "chat_id": message.chat_id,
        "text": message.text,
        "kind": message.kind,
        "priority": int(message.priority),
        "action": message.action.value,
    }
    if message.buttons:
        data["buttons"] = [[[b.label, b.payload] for b in row] for row in message.buttons]
    for name in ("thread_id", "topic_ref", "message_ref", "user_key"):
        value = getattr(message, name)
        if value is not None:
            data[name] = value
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def decode(raw: str) -> OutboundMessage:
    data = json.loads(raw)
    buttons = tuple(
        tuple(QuickReply(label, payload) for label, payload in row) for row in data.get("buttons", ())
    )
    return OutboundMessage(
        channel=data["channel"],
        chat_id=str(data["chat_id"]),
        text=data.get("text", ""),
        kind=data.get("kind", ""),
        priority=Priority(int(data.get("priority", Priority.NORMAL))),
        buttons=buttons,
        action=Action(data.get("action", Action.SEND.value)),
        thread_id=data.get("thread_id"),
        topic_ref=data.get("topic_ref"),
        message_ref=data.get("message_ref"),
        user_key=data.get("user_key"),
    )
