"""The Telegram side of the outbox: one `OutboundMessage` -> one Bot API call, and how it went.

Errors map to what the consumer should do: 429 -> wait `retry_after`; network errors and 5xx
-> retry with back-off; 403 -> the person blocked the bot (mark inactive, never retry); any
other 400 -> permanent (dead-letter). Editing a message to the text it already has is success.
"""

from __future__ import annotations

from dataclasses import replace

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from outbox.types import Action, Delivery, DeliveryStatus, OutboundMessage

MAX_TEXT = 4096
MAX_TOPIC_NAME = 128


def keyboard(message: OutboundMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    rows = [
        [InlineKeyboardButton(text=b.label, callback_data=b.payload) for b in row] for row in message.buttons
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


class TelegramSender:
    """`outbox.types.Sender` on aiogram's Bot (whatever API server the Bot's session points at)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def deliver(self, message: OutboundMessage) -> Delivery:
        try:
            return await self._call(message)
        except TelegramRetryAfter as exc:
            return Delivery(DeliveryStatus.RETRY, retry_after=float(exc.retry_after), error="429")
        except (TelegramServerError, TelegramNetworkError) as exc:
            return Delivery(DeliveryStatus.RETRY, error=type(exc).__name__)
        except TelegramForbiddenError as exc:
            return Delivery(DeliveryStatus.BLOCKED, error=_short(exc))
        except TelegramBadRequest as exc:
            if message.action is Action.EDIT and "not modified" in str(exc).lower():
                return Delivery(DeliveryStatus.OK, message_id=message.message_id)
            if message.thread_id is not None and "thread not found" in str(exc).lower():
                # The topic was deleted by someone in the group: still deliver, as a plain message.
                return await self.deliver(replace(message, thread_id=None))
            return Delivery(DeliveryStatus.FAILED, error=_short(exc))
        except TelegramUnauthorizedError as exc:
            return Delivery(DeliveryStatus.RETRY, error=_short(exc))

    async def _call(self, message: OutboundMessage) -> Delivery:
        chat_id = int(message.chat_id)
        text = message.text[:MAX_TEXT]
        if message.action is Action.CREATE_TOPIC:
            topic = await self.bot.create_forum_topic(chat_id=chat_id, name=text[:MAX_TOPIC_NAME] or "case")
            return Delivery(DeliveryStatus.OK, thread_id=topic.message_thread_id)
        if message.action is Action.EDIT:
            if message.message_id is None:
                return Delivery(DeliveryStatus.FAILED, error="edit without message id")
            await self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message.message_id, reply_markup=keyboard(message)
            )
            return Delivery(DeliveryStatus.OK, message_id=message.message_id)
        sent = await self.bot.send_message(
            chat_id=chat_id,
            text=text,
            reply_markup=keyboard(message),
            message_thread_id=message.thread_id,
        )
        return Delivery(DeliveryStatus.OK, message_id=sent.message_id, thread_id=sent.message_thread_id)


def _short(exc: Exception) -> str:
    return str(exc)[:200]
