"""The webhook endpoint: check the secret, make the update durable, and only then answer 200.

aiogram's own webhook handler answers before the update is handled (`handle_in_background`),
which loses the update if the process dies in between. Here Telegram gets 200 only after the
update sits in the Redis inbox; if Redis cannot take it we answer 503 and Telegram redelivers.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from bot.telegram.inbox import Inbox
from dialogues import payloads
from telemetry import event

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
COMPANION_PAYLOAD = f"{payloads.VERSION}:"
HEALTH_TIMEOUT_S = 2.0


def spinner_answer(update: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a companion button press, to send back as the webhook's response.

    Telegram runs a method given in the response to a webhook call, so the spinner stops as soon
    as the press is stored, without a request of our own (one Bot API call fewer per press).
    Only companion buttons (`v1:` payloads in a private chat), which are answered without text;
    staff and counsellor buttons answer with alerts from their handlers, so they are left alone.
    Telegram does not report whether such a call succeeded; at worst the spinner times out.
    """
    query = update.get("callback_query")
    if not isinstance(query, dict) or not isinstance(query.get("id"), str):
        return None
    data = query.get("data")
    message = query.get("message")
    chat = message.get("chat") if isinstance(message, dict) else None
    if not (isinstance(data, str) and data.startswith(COMPANION_PAYLOAD)):
        return None
    if not (isinstance(chat, dict) and chat.get("type") == "private"):
        return None
    return {"method": "answerCallbackQuery", "callback_query_id": query["id"]}


def build_web_app(inbox: Inbox, redis: aioredis.Redis, *, path: str, secret: str) -> web.Application:
    """The aiohttp application: POST `path` (Telegram updates) and GET /healthz."""
    if not secret:
        raise ValueError("a webhook needs a secret token (IEUM_WEBHOOK_SECRET)")
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            event(log, "webhook_unauthorized", logging.WARNING)
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        body = await request.read()
        try:
            text = body.decode("utf-8")  # Telegram sends UTF-8 JSON; the inbox keeps this text as is
            update = json.loads(text)
        except ValueError:  # includes UnicodeDecodeError
            text, update = "", None
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            event(log, "webhook_malformed", logging.WARNING)
            return web.json_response({"ok": False, "error": "malformed update"}, status=400)
        answer = spinner_answer(update)
        try:
            # stored as received, not re-serialised
            fresh = await inbox.push(update, raw=text, spinner_answered=answer is not None)
        except Exception as exc:
            event(log, "webhook_intake_failed", logging.ERROR, error=type(exc).__name__)
            return web.json_response({"ok": False, "error": "try again"}, status=503)
        if not fresh:
            event(log, "update_duplicate", logging.DEBUG)
        return web.json_response(answer or {"ok": True})

    async def healthz(_request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(redis.ping(), timeout=HEALTH_TIMEOUT_S)
        except Exception as exc:
            return web.json_response({"ok": False, "redis": type(exc).__name__}, status=503)
        return web.json_response({"ok": True, "redis": "ok"})

    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_post(path, receive)
    app.router.add_get("/healthz", healthz)
    return app
