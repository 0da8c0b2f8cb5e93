"""Telegram router: group activities. Staff create, edit, cancel and count; young people look and answer.

Staff commands (`/activity_new`, `/activity_edit N`, `/activity_cancel N`, `/activity_stats [N]`)
work only for `IEUM_STAFF_IDS`; anyone else gets a polite refusal and nothing changes. Young
people use `/activities`, the answer buttons (`act:<id>:<answer>`) and the news switch
(`actnews:on|off`). Everything else falls through to the companion router.

The core (`scheduling.service`, `scheduling.staff_flow`) decides and returns `Reply`s; this
module only translates Telegram updates and sends the replies.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.telegram.replies import send_replies
from dialogues.messages import Reply
from scheduling.service import NEWS_OFF, NEWS_ON, PAYLOAD_PREFIX, parse_rsvp_payload
from scheduling.staff_flow import PREFIX as FLOW_PREFIX
from telemetry import event, hash_id

if TYPE_CHECKING:
    from bot.app import App
    from scheduling.wiring import Scheduling

log = logging.getLogger(__name__)

CHANNEL = "telegram"
STAFF_COMMANDS = ("activity_new", "activity_edit", "activity_cancel", "activity_stats")


def build_router() -> Router:
    router = Router(name="staff")
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(on_staff_command, private, Command(*STAFF_COMMANDS))
    router.message.register(on_activities, private, Command("activities"))
    router.message.register(on_flow_message, private, _in_staff_flow)
    router.callback_query.register(on_flow_button, F.data.startswith(FLOW_PREFIX))
    router.callback_query.register(on_rsvp_button, F.data.startswith(PAYLOAD_PREFIX))
    router.callback_query.register(on_news_button, F.data.in_({NEWS_ON, NEWS_OFF}))
    return router


def _scheduling(app: App) -> Scheduling:
    return app.extras["scheduling"]  # type: ignore[no-any-return]


def _is_staff(app: App, user_id: int | None) -> bool:
    return user_id is not None and user_id in app.settings.staff_ids


def _lang(app: App, language_code: str | None) -> str:
    return "en" if (language_code or "").startswith("en") else app.settings.lang


async def _in_staff_flow(message: Message, app: App) -> bool:
    """A staff member's typed answer during a guided flow (anything else goes to the companion)."""
    user = message.from_user
    if user is None or not _is_staff(app, user.id) or "scheduling" not in app.extras:
        return False
    return await _scheduling(app).flow.active(str(user.id))


# --- staff -------------------------------------------------------------------------------------
async def on_staff_command(message: Message, command: CommandObject, bot: Bot, app: App) -> None:
    user = message.from_user
    s = _scheduling(app)
    lang = _lang(app, user.language_code if user else None)
    if user is None or not _is_staff(app, user.id):
        # Only configured staff may schedule; a young person who finds the command is told kindly.
        event(log, "staff_command_refused", user=hash_id(user.id if user else 0), command=command.command)
        await send_replies(bot, message.chat.id, [Reply(s.service.texts.get("staff_only", lang))])
        return
    staff_id = str(user.id)
    arg = (command.args or "").strip().lstrip("#")
    name = command.command
    reply: Reply
    if name == "activity_new":
        reply = await s.flow.start_create(staff_id, lang)
    elif name == "activity_stats":
        rows = await s.service.stats(app.clock.now(), arg or None)
        reply = Reply(s.service.format_stats(rows, lang))
    elif not arg:
        reply = Reply(s.service.texts.get("flow_usage_id", lang, command=f"/{name}"))
    elif name == "activity_edit":
        reply = await s.flow.start_edit(staff_id, arg, lang)
    else:
        reply = await s.flow.start_cancel(staff_id, arg, lang)
    event(log, "staff_command", staff=hash_id(user.id), command=name)
    await send_replies(bot, message.chat.id, [reply])


async def on_flow_message(message: Message, bot: Bot, app: App) -> None:
    user = message.from_user
    assert user is not None  # the filter checked it
    s = _scheduling(app)
    text = message.text or ""
    if text.strip().split("@")[0] in ("/cancel", "/stop"):
        reply: Reply | None = await s.flow.stop(str(user.id), _lang(app, user.language_code))
    else:
        reply = await s.flow.handle(str(user.id), text, app.clock.now())
    if reply is not None:
        await send_replies(bot, message.chat.id, [reply])


async def on_flow_button(callback_query: CallbackQuery, bot: Bot, app: App) -> None:
    user = callback_query.from_user
    s = _scheduling(app)
    if not _is_staff(app, user.id):
        event(log, "staff_button_refused", user=hash_id(user.id))
        await _answer(bot, callback_query, s.service.texts.get("staff_only", _lang(app, user.language_code)))
        return
    await _answer(bot, callback_query)
    reply = await s.flow.handle(str(user.id), callback_query.data or "", app.clock.now(), button=True)
    if reply is not None and callback_query.message is not None:
        await send_replies(bot, callback_query.message.chat.id, [reply])


# --- young people ------------------------------------------------------------------------------
async def on_activities(message: Message, bot: Bot, app: App) -> None:
    s = _scheduling(app)
    user_key = f"{CHANNEL}:{message.chat.id}"
    lang_hint = message.from_user.language_code if message.from_user else None
    profile = await app.profiles.get_or_create(user_key, app.clock.now(), lang=_lang(app, lang_hint))
    replies = await s.service.list_for(profile, app.clock.now())
    event(log, "activities_listed", user=hash_id(user_key))
    await send_replies(bot, message.chat.id, replies)


async def on_rsvp_button(callback_query: CallbackQuery, bot: Bot, app: App) -> None:
    s = _scheduling(app)
    await _answer(bot, callback_query)
    parsed = parse_rsvp_payload(callback_query.data or "")
    chat = callback_query.message.chat if callback_query.message else None
    if parsed is None or chat is None:
        return
    activity_id, answer = parsed
    user_key = f"{CHANNEL}:{chat.id}"
    now = app.clock.now()
    profile = await app.profiles.get_or_create(
        user_key, now, lang=_lang(app, callback_query.from_user.language_code)
    )
    reply = await s.service.respond(activity_id, profile, answer, now)
    event(log, "activity_answered", user=hash_id(user_key), activity=activity_id, answer=answer.value)
    await send_replies(bot, chat.id, [reply])


async def on_news_button(callback_query: CallbackQuery, bot: Bot, app: App) -> None:
    s = _scheduling(app)
    await _answer(bot, callback_query)
    chat = callback_query.message.chat if callback_query.message else None
    if chat is None:
        return
    user_key = f"{CHANNEL}:{chat.id}"
    await app.profiles.get_or_create(
        user_key, app.clock.now(), lang=_lang(app, callback_query.from_user.language_code)
    )
    reply = await s.service.set_news(user_key, callback_query.data == NEWS_ON)
    event(log, "activity_news_set", user=hash_id(user_key), on=callback_query.data == NEWS_ON)
    await send_replies(bot, chat.id, [reply])


async def _answer(bot: Bot, query: CallbackQuery, text: Any = None) -> None:
    try:
        await bot.answer_callback_query(query.id, text=text, show_alert=bool(text))
    except TelegramAPIError as exc:
        event(
            log,
            "button_answer_failed",
            logging.INFO,
            user=hash_id(query.from_user.id),
            error=type(exc).__name__,
        )
