"""Telegram -> `IncomingMessage`: the adapter's whole understanding of what a person sent."""

from __future__ import annotations

from datetime import datetime

from aiogram.types import CallbackQuery, Message

from dialogues.messages import IncomingMessage, InputKind

CHANNEL = "telegram"

# Checked in this order: an animation also carries `document`, a venue also carries `location`.
_MEDIA: tuple[tuple[str, InputKind], ...] = (
    ("sticker", InputKind.STICKER),
    ("photo", InputKind.PHOTO),
    ("voice", InputKind.VOICE),
    ("audio", InputKind.VOICE),
    ("video_note", InputKind.VIDEO),
    ("animation", InputKind.VIDEO),
    ("video", InputKind.VIDEO),
    ("venue", InputKind.LOCATION),
    ("location", InputKind.LOCATION),
    ("document", InputKind.DOCUMENT),
    ("contact", InputKind.OTHER),
)


def message_to_incoming(
    message: Message, update_id: int | str, now: datetime, *, edited: bool = False
) -> IncomingMessage:
    """Map a private-chat message (or its edit) to the core's message.

    A media message with a caption becomes TEXT carrying the caption: the caption is what the
    person said, and only text is risk-assessed, so "죽고 싶어" under a photo must not slip by.
    """
    base = {
        "channel": CHANNEL,
        "user_id": str(message.chat.id),
        "update_id": str(update_id),
        "ts": now,
        "language_hint": message.from_user.language_code if message.from_user else None,
    }
    text = message.text if message.text is not None else (message.caption or "")
    if edited:
        return IncomingMessage(kind=InputKind.EDITED, text=text, **base)
    if message.text is not None:
        command, args = parse_command(message.text)
        if command is not None:
            return IncomingMessage(
                kind=InputKind.COMMAND, text=message.text, command=command, command_args=args, **base
            )
        return IncomingMessage(kind=InputKind.TEXT, text=message.text, **base)
    if message.caption and message.caption.strip():
        return IncomingMessage(kind=InputKind.TEXT, text=message.caption, **base)
    for attribute, kind in _MEDIA:
        if getattr(message, attribute, None):
            return IncomingMessage(kind=kind, **base)
    return IncomingMessage(kind=InputKind.OTHER, **base)


def callback_to_incoming(query: CallbackQuery, update_id: int | str, now: datetime) -> IncomingMessage:
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    return IncomingMessage(
        channel=CHANNEL,
        user_id=str(chat_id),
        update_id=str(update_id),
        ts=now,
        kind=InputKind.BUTTON,
        payload=query.data or "",
        language_hint=query.from_user.language_code,
    )


def parse_command(text: str) -> tuple[str | None, str]:
    """`/start@ieum_bot code42` -> ("start", "code42"); not a command -> (None, "")."""
    if not text.startswith("/"):
        return None, ""
    head, _, rest = text.partition(" ")
    name = head[1:].split("@", 1)[0].strip().lower()
    if not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
        return None, ""
    return name, rest.strip()
