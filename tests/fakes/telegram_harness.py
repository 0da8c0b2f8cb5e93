"""Run the real Telegram runtime as an asyncio task against the fake Bot API server.

Used by tests/test_telegram_*.py and the `ieum bench updates` benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from bot.settings import Settings
from bot.telegram.runtime import TelegramRuntime
from bot.telegram.webhook import SECRET_HEADER
from tests.fakes.telegram_api import FakeTelegram

WEBHOOK_SECRET = "test-webhook-secret"
WEBHOOK_PATH = "/telegram/webhook"


def bot_settings(fake: FakeTelegram, redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "telegram_token": fake.token,
        "telegram_api_base": fake.base_url,
        "webhook_secret": WEBHOOK_SECRET,
        "webhook_path": WEBHOOK_PATH,
        "webhook_host": "127.0.0.1",
        "webhook_port": 0,
        "dedup_ttl_seconds": 3600,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def bot_running(
    app: Any, *, webhook: bool = False, **runtime_kwargs: Any
) -> AsyncIterator[TelegramRuntime]:
    """Start the bot (long polling, or webhook on a free loopback port) and stop it on exit."""
    runtime_kwargs.setdefault("block_ms", 100)
    runtime = TelegramRuntime(app, **runtime_kwargs)
    settings = app.settings
    if webhook:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        coro = runtime.run_webhook(
            host="127.0.0.1", port=0, path=settings.webhook_path, secret=secret, url=settings.webhook_url
        )
    else:
        coro = runtime.run_polling(poll_timeout=1)
    task = asyncio.create_task(coro)
    try:
        if webhook:
            while runtime.port is None:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield runtime
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def post_update(
    runtime: TelegramRuntime,
    update: dict[str, Any] | bytes,
    *,
    secret: str | None = WEBHOOK_SECRET,
    path: str = WEBHOOK_PATH,
    session: aiohttp.ClientSession | None = None,
    telegram: FakeTelegram | None = None,
) -> int:
    """POST an update to the running webhook over loopback; return the HTTP status.

    With `telegram`, a method the bot gives in its response is run there, as Telegram runs it.
    """
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    url = f"http://127.0.0.1:{runtime.port}{path}"
    kwargs: dict[str, Any] = {"data": update} if isinstance(update, bytes) else {"json": update}
    owned = session is None
    client = session or aiohttp.ClientSession()
    try:
        async with client.post(url, headers=headers, **kwargs) as response:
            body = await response.read()
            if telegram is not None and response.status == 200:
                reply = json.loads(body)
                if "method" in reply:
                    telegram.webhook_reply(reply)
            return response.status
    finally:
        if owned:
            await client.close()


# --- a tiny conversation for testing the channel without the real flows --------------------------
class EchoConversation:
    """Answers every turn with what it understood, so tests can check the translation and order."""

    async def handle(self, msg: Any, profile: Any, assessment: Any) -> Any:
        from dialogues.messages import InputKind, Outcome, QuickReply, Reply

        if msg.kind is InputKind.BUTTON:
            text = f"button:{msg.payload}"
        elif msg.kind is InputKind.COMMAND:
            text = f"command:{msg.command}:{msg.command_args}"
        else:
            text = f"{msg.kind.value}:{msg.text}"
        buttons = (QuickReply("예", "v1:ci:good"), QuickReply("아니요", "v1:ci:bad"))
        return Outcome(replies=(Reply(text, buttons),), assessment=assessment)

    def crisis_replies(self, lang: str) -> Any:
        from dialogues.messages import Reply

        return (Reply("crisis: 109"),)

    def fallback_replies(self, lang: str) -> Any:
        from dialogues.messages import Reply

        return (Reply("fallback"),)

    async def start_checkin(self, profile: Any) -> Any:
        from dialogues.messages import Reply

        return Reply("checkin")


def echo_app(settings: Settings, redis: Any, conversation: Any = None) -> Any:
    """An App with the real pipeline and Redis, the keyword assessor and `EchoConversation`."""
    from bot.app import App
    from bot.pipeline import Pipeline
    from clock import SystemClock
    from escalation.pending import PendingRequests
    from models.placeholder import KeywordAssessor
    from storage.profiles import ProfileRepository

    clock = SystemClock()
    profiles = ProfileRepository(redis, default_lang=settings.lang, default_tz=settings.tz)
    conversation = conversation or EchoConversation()
    escalation = PendingRequests(redis)
    assessor = KeywordAssessor()
    pipeline = Pipeline(
        redis=redis,
        profiles=profiles,
        assessor=assessor,
        conversation=conversation,
        escalation=escalation,
        clock=clock,
    )
    return App(
        settings=settings,
        redis=redis,
        clock=clock,
        profiles=profiles,
        assessor=assessor,
        pipeline=pipeline,
        conversation=conversation,
        escalation=escalation,
    )
