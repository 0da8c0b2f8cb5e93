"""Telegram router: the counsellor group (IEUM_COUNSELLOR_CHAT_ID, and the supervisor chat).

- Case buttons (`cs:<action>:<case>`) work only for IEUM_COUNSELLOR_IDS; anyone else gets a
  refusal in answerCallbackQuery and nothing changes.
- A counsellor's text in a case topic, or in reply to a case message, is relayed to the young
  person, signed with the name or role set by `/signas` (never the counsellor's account).
- `/end` in the topic hands the person back to the companion; `/note text` adds a case note.
- Every other message in these chats is ignored here, so nothing said among counsellors ever
  reaches the companion as if a young person had written it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message, User

from escalation.alerts import parse_button
from escalation.cases import Counsellor
from escalation.service import ActionResult, CaseService
from storage import keys
from telemetry import event, hash_id

if TYPE_CHECKING:
    from bot.app import App
    from bot.settings import Settings

log = logging.getLogger(__name__)


def build_router() -> Router:
    router = Router(name="counsellor")
    router.callback_query.register(on_case_button, F.data.startswith("cs:"))
    router.message.register(on_group_message, _in_counsellor_chat)
    router.edited_message.register(_ignore, _in_counsellor_chat)
    return router


def _in_counsellor_chat(message: Message, settings: Settings) -> bool:
    return message.chat.id in {settings.counsellor_chat_id, settings.supervisor_chat_id} - {None}


def _is_counsellor(user: User | None, settings: Settings) -> bool:
    return user is not None and not user.is_bot and user.id in settings.counsellor_ids


async def _ignore(edited_message: Message) -> None:
    return None


async def _who(service: CaseService, user: User) -> Counsellor:
    """How colleagues see this counsellor in the alert: their /signas name, else their first name."""
    stored = await service.redis.get(keys.counsellor_signature(str(user.id)))
    return Counsellor(str(user.id), stored or user.first_name or str(user.id))


async def on_case_button(callback_query: CallbackQuery, app: App) -> None:
    service = app.escalation
    parsed = parse_button(callback_query.data or "")
    if not isinstance(service, CaseService) or parsed is None:
        await callback_query.answer()
        return
    action, case_id = parsed
    user = callback_query.from_user
    if not _is_counsellor(user, app.settings):
        event(log, "case_button_refused", case=case_id, user=hash_id(user.id if user else ""))
        await callback_query.answer(service.texts.render("refused_not_counsellor"), show_alert=True)
        return
    who = await _who(service, user)
    marker = keys.case_update("telegram-button", callback_query.id)
    if action == "claim":
        result = await service.claim(case_id, who, marker=marker)
    elif action == "resolve":
        result = await service.resolve(case_id, who, marker=marker)
    else:
        result = await service.false_alarm(case_id, who, marker=marker)
    event(log, "case_button", case=case_id, action=action, ok=result.ok)
    await callback_query.answer(result.message, show_alert=not result.ok)


async def on_group_message(message: Message, app: App) -> None:
    service = app.escalation
    user = message.from_user
    if not isinstance(service, CaseService) or not _is_counsellor(user, app.settings) or user is None:
        return
    text = message.text or message.caption or ""
    command, _, args = text.partition(" ") if text.startswith("/") else ("", "", "")
    command = command[1:].split("@")[0].lower()
    if command == "signas":
        if not args.strip():
            await message.reply(service.texts.render("signature_usage"))
            return
        await message.reply(await service.set_signature(str(user.id), args))
        return
    reply_to = message.reply_to_message
    case_id = await service.case_for_message(
        message.chat.id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        reply_to=reply_to.message_id if reply_to is not None else None,
    )
    if case_id is None:
        if command in ("end", "note"):
            await message.reply(service.texts.render("not_in_case"))
        return
    who = await _who(service, user)
    marker = keys.case_update("telegram-group", f"{message.chat.id}:{message.message_id}")
    result: ActionResult
    if command == "end":
        result = await service.end_handoff(case_id, who, marker=marker)
        await message.reply(result.message)
        return
    if command == "note":
        result = await service.add_note(case_id, who, args)
    elif command:
        return  # some other bot command in the topic: not for the young person
    elif not text.strip():
        return
    else:
        result = await service.relay_from_counsellor(case_id, who, text, marker=marker)
    if not result.ok:
        await message.reply(result.message)
