"""Send the core's replies to a Telegram chat: long texts split, quick replies as inline keyboards.

Sending retries what Telegram asks us to retry (429 with its `retry_after`, 5xx, network errors)
a few times in place; if a reply still cannot go out, `SendFailed` says how many went, so the
caller can keep the rest and try again later without running the turn twice.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Sequence

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from dialogues.messages import QuickReply, Reply
from telemetry import event, hash_id

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # Telegram's limit, in UTF-16 code units
SHORT_LABEL_WIDTH = 16  # two buttons a row when every label is at most this wide (Hangul counts 2)
MAX_RETRY_AFTER_S = 30.0
TRANSIENT_DELAYS_S = (0.2, 1.0, 3.0)
EMPTY_TEXT = "…"


class SendFailed(Exception):
    """Replies[:sent] went out; the rest could not be sent after retries."""

    def __init__(self, sent: int, cause: BaseException) -> None:
        super().__init__(f"{sent} replies sent before {type(cause).__name__}")
        self.sent = sent
        self.cause = cause


async def send_replies(bot: Bot, chat_id: int | str, replies: Sequence[Reply]) -> int:
    """Send every reply in order; return how many were sent (fewer if the person blocked us)."""
    for index, reply in enumerate(replies):
        chunks = split_text(reply.text or (EMPTY_TEXT if reply.quick_replies else ""))
        markup = keyboard(reply.quick_replies)
        try:
            for n, chunk in enumerate(chunks):
                last = n == len(chunks) - 1
                await _send(bot, chat_id, chunk, markup if last else None)
        except TelegramForbiddenError:
            # The person blocked the bot or deleted their account: nothing more can reach them.
            event(log, "reply_blocked", logging.WARNING, chat=hash_id(chat_id))
            return index
        except TelegramBadRequest as exc:
            # Permanent for this reply (e.g. chat not found); retrying the turn would not help.
            event(log, "reply_rejected", logging.ERROR, chat=hash_id(chat_id), error=type(exc).__name__)
            continue
        except Exception as exc:
            raise SendFailed(index, exc) from exc
    return len(replies)


async def _send(bot: Bot, chat_id: int | str, text: str, markup: InlineKeyboardMarkup | None) -> None:
    transient = 0
    rate_limited = 0
    while True:
        try:
            await bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
            return
        except TelegramRetryAfter as exc:
            rate_limited += 1
            if rate_limited > 5:
                raise
            await asyncio.sleep(min(float(exc.retry_after), MAX_RETRY_AFTER_S))
        except (TelegramServerError, TelegramNetworkError):
            if transient >= len(TRANSIENT_DELAYS_S):
                raise
            await asyncio.sleep(TRANSIENT_DELAYS_S[transient])
            transient += 1


def keyboard(quick_replies: Sequence[QuickReply]) -> InlineKeyboardMarkup | None:
    """One button a row, or two a row when all labels are short; callback data is the payload."""
    if not quick_replies:
        return None
    buttons = [InlineKeyboardButton(text=q.label, callback_data=q.payload) for q in quick_replies]
    per_row = 2 if all(_width(q.label) <= SHORT_LABEL_WIDTH for q in quick_replies) else 1
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split at paragraph, line or word boundaries so every piece fits Telegram's limit."""
    if not text:
        return []
    pieces: list[str] = []
    rest = text
    while _units(rest) > limit:
        cut = _max_prefix(rest, limit)
        window = rest[:cut]
        for sep in ("\n\n", "\n", " "):
            at = window.rfind(sep)
            if at > cut // 2:
                cut = at + len(sep)
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest:
        pieces.append(rest)
    return [p for p in pieces if p]


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _max_prefix(text: str, limit: int) -> int:
    """The longest prefix length (in characters) whose UTF-16 length is within `limit`."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def _width(label: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in label)
