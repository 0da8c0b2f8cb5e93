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

import redis.asyncio as aioredis
from aiohttp import web

from bot.telegram.inbox import Inbox
from telemetry import event

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_TIMEOUT_S = 2.0


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
        try:
            fresh = await inbox.push(update, raw=text)  # stored as received, not re-serialised
        except Exception as exc:
            event(log, "webhook_intake_failed", logging.ERROR, error=type(exc).__name__)
            return web.json_response({"ok": False, "error": "try again"}, status=503)
        if not fresh:
            event(log, "update_duplicate", logging.DEBUG)
        return web.json_response({"ok": True})

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
