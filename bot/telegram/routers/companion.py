"""Telegram router: the companion. Every private-chat message, edit and button press becomes one
`IncomingMessage` for the pipeline; its replies go back with `bot.send_message`."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message, Update

from bot.telegram.replies import SendFailed, send_replies
from bot.telegram.translate import CHANNEL, callback_to_incoming, message_to_incoming
from dialogues.messages import IncomingMessage, QuickReply, Reply
from storage import keys
from telemetry import event, hash_id

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

UNSENT_TTL_S = 3600


def build_router() -> Router:
    router = Router(name="companion")
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(on_message, private)
    router.edited_message.register(on_edited_message, private)
    router.callback_query.register(on_button, F.message.chat.type == ChatType.PRIVATE)
    # Last in the root router: a press nobody else took still gets its spinner answered.
    router.callback_query.register(on_unclaimed_button)
    router.my_chat_member.register(on_membership, F.chat.type == ChatType.PRIVATE)
    return router


async def on_membership(my_chat_member: ChatMemberUpdated, app: App) -> None:
    """The person blocked (or unblocked) the bot: check-ins and reminders stop (or resume)."""
    status = my_chat_member.new_chat_member.status
    active = status not in (ChatMemberStatus.KICKED, ChatMemberStatus.LEFT)
    user_key = f"{CHANNEL}:{my_chat_member.chat.id}"
    if await app.profiles.update(user_key, active=active) is not None:
        event(log, "person_reachable" if active else "person_blocked_bot", user=hash_id(user_key))


async def on_message(
    message: Message, bot: Bot, app: App, event_update: Update, inbox_attempt: int = 1
) -> None:
    msg = message_to_incoming(message, event_update.update_id, app.clock.now())
    await take_turn(app, bot, msg, inbox_attempt)


async def on_edited_message(
    edited_message: Message, bot: Bot, app: App, event_update: Update, inbox_attempt: int = 1
) -> None:
    msg = message_to_incoming(edited_message, event_update.update_id, app.clock.now(), edited=True)
    await take_turn(app, bot, msg, inbox_attempt)


async def on_button(
    callback_query: CallbackQuery,
    bot: Bot,
    app: App,
    event_update: Update,
    inbox_attempt: int = 1,
    spinner_answered: bool = False,
) -> None:
    try:
        msg = callback_to_incoming(callback_query, event_update.update_id, app.clock.now())
        await take_turn(app, bot, msg, inbox_attempt)
    finally:
        if not spinner_answered:  # the webhook's response answered it at intake
            await answer_button(bot, callback_query)


async def on_unclaimed_button(callback_query: CallbackQuery, bot: Bot) -> None:
    await answer_button(bot, callback_query)


async def answer_button(bot: Bot, query: CallbackQuery) -> None:
    """Stop the button's spinner. Never raises: a stale query (over ~15 min old) is answered 400."""
    try:
        await bot.answer_callback_query(query.id)
    except TelegramAPIError as exc:
        event(
            log,
            "button_answer_failed",
            logging.INFO,
            user=hash_id(query.from_user.id),
            error=type(exc).__name__,
        )


async def take_turn(app: App, bot: Bot, msg: IncomingMessage, attempt: int) -> None:
    """Run the turn once and send its replies.

    If sending fails after in-place retries, the unsent replies are kept for an hour and the
    error goes up so the inbox retries the update; the retry sends the kept replies instead of
    running the turn again (which would advance the conversation twice).
    """
    unsent_key = keys.inbox_unsent(msg.user_key, msg.update_id)
    replies = await _load_unsent(app, unsent_key) if attempt > 1 else None
    if replies is None:
        replies = await app.pipeline.handle(msg)
    try:
        await send_replies(bot, msg.user_id, replies)
    except SendFailed as exc:
        await app.redis.set(unsent_key, _encode(replies[exc.sent :]), ex=UNSENT_TTL_S)
        raise
    if attempt > 1:
        await app.redis.delete(unsent_key)


async def _load_unsent(app: App, key: str) -> tuple[Reply, ...] | None:
    raw = await app.redis.get(key)
    return None if raw is None else _decode(raw)


def _encode(replies: tuple[Reply, ...]) -> str:
    return json.dumps(
        [{"t": r.text, "q": [[q.label, q.payload] for q in r.quick_replies]} for r in replies],
        ensure_ascii=False,
    )


def _decode(raw: str) -> tuple[Reply, ...]:
    return tuple(
        Reply(item["t"], tuple(QuickReply(label, payload) for label, payload in item["q"]))
        for item in json.loads(raw)
    )
