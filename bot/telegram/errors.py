"""The dispatcher's error handler: log what failed without what was said, then let the inbox retry.

aiogram's and python-telegram-bot's example handlers log the raw update; that would put a young
person's words in the logs. Here only the update type, hashed chat id and error type are kept.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Dispatcher
from aiogram.types import ErrorEvent, Update

from telemetry import event, hash_id

log = logging.getLogger(__name__)


def install_error_handler(dp: Dispatcher) -> None:
    dp.errors.register(on_error)


async def on_error(error: ErrorEvent) -> Any:
    update = error.update
    event(
        log,
        "update_failed",
        logging.ERROR,
        update_type=_update_type(update),
        chat=hash_id(_chat_id(update)),
        error=type(error.exception).__name__,
    )
    # Re-raise so the inbox retries the update and, if it keeps failing, dead-letters it.
    raise error.exception


def _update_type(update: Update) -> str:
    try:
        return update.event_type
    except Exception:
        return "unknown"


def _chat_id(update: Update) -> object:
    try:
        body = update.event
    except Exception:
        return 0
    chat = getattr(body, "chat", None)
    if chat is None and getattr(body, "message", None) is not None:
        chat = body.message.chat
    if chat is not None:
        return chat.id
    user = getattr(body, "from_user", None)
    return user.id if user is not None else 0
