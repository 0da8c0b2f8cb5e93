"""The Telegram channel at run time: bot, dispatcher, durable inbox, intake, background services.

    intake (long polling or webhook) -> Inbox.push (dedup + XADD) -> InboxConsumer (per shard,
    in order per chat) -> Dispatcher.feed_update -> routers -> pipeline -> bot.send_message

Every App dependency reaches the handlers through the dispatcher's workflow data; nothing here is
module-level state, so tests run several runtimes side by side and restart them at will.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot.telegram.errors import install_error_handler
from bot.telegram.inbox import DEFAULT_SHARDS, Inbox, InboxEntry
from bot.telegram.inbox_worker import InboxConsumer, Unprocessable, erase_dead_letters
from bot.telegram.polling import poll
from bot.telegram.routers import build_root_router
from bot.telegram.session import BotApiSession
from bot.telegram.webhook import build_web_app
from storage.cancellation import raise_if_cancelling, stop_task
from telemetry import event

if TYPE_CHECKING:
    from bot.app import App
    from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InFlight:
    """The update being handled in this context, for latency measurements (no content)."""

    update_id: int
    intake_ts: float  # wall-clock seconds when the update was taken in


current_update: contextvars.ContextVar[InFlight | None] = contextvars.ContextVar(
    "ieum_current_update", default=None
)

SERVICE_RESTART_MAX_S = 30.0
STOP_GRACE_S = 10.0


class MissingToken(RuntimeError):
    pass


def build_bot(settings: Settings) -> Bot:
    if settings.telegram_token is None:
        raise MissingToken("IEUM_TELEGRAM_TOKEN is not set: ask @BotFather for a token and set it")
    session = BotApiSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    return Bot(settings.telegram_token.get_secret_value(), session=session)


def build_dispatcher(app: App) -> Dispatcher:
    """The dispatcher, with App dependencies as workflow data and aiogram's FSM switched off.

    Conversation state lives in Redis under `dialogues` (one place, erased by /delete); aiogram's
    FSM would add a Redis read to every update and a second, Telegram-only copy of state.
    """
    dp = Dispatcher(
        disable_fsm=True,
        app=app,
        settings=app.settings,
        pipeline=app.pipeline,
        redis=app.redis,
        clock=app.clock,
    )
    dp.include_router(build_root_router())
    install_error_handler(dp)
    return dp


def register_sender(app: App, bot: Bot) -> None:
    """Give the outbox its Telegram sender (bot/telegram/sender.py), if that module is there."""
    try:
        from bot.telegram import sender as sender_module
    except ImportError:
        return
    cls = getattr(sender_module, "TelegramSender", None)
    if cls is None or "telegram" in app.senders:
        return
    available: dict[str, Any] = {
        "bot": bot,
        "redis": app.redis,
        "app": app,
        "settings": app.settings,
        "clock": app.clock,
    }
    params = inspect.signature(cls).parameters
    kwargs = {name: available[name] for name in params if name in available}
    app.senders["telegram"] = cls(**kwargs)


class TelegramRuntime:
    def __init__(
        self,
        app: App,
        *,
        bot: Bot | None = None,
        shards: int = DEFAULT_SHARDS,
        consumer: str | None = None,
        block_ms: int = 1000,
        lease_ms: int = 30_000,
    ) -> None:
        self.app = app
        self.bot = bot or build_bot(app.settings)
        self.dp = build_dispatcher(app)
        self.inbox = Inbox(app.redis, shards=shards, dedup_ttl=app.settings.dedup_ttl_seconds)
        self.consumer = InboxConsumer(
            app.redis, self.inbox, self.handle_entry, consumer=consumer, block_ms=block_ms, lease_ms=lease_ms
        )
        self.port: int | None = None  # the webhook's bound port once it listens (0 picks a free one)
        register_sender(app, self.bot)
        # /delete also removes the person's failed updates kept for operators (they hold text).
        app.pipeline.erasers.append(functools.partial(erase_dead_letters, app.redis, self.inbox))

    async def handle_entry(self, entry: InboxEntry, attempt: int) -> None:
        token = current_update.set(InFlight(int(entry.update.get("update_id", 0)), entry.intake_ts))
        try:
            try:
                update = Update.model_validate(entry.update, context={"bot": self.bot})
            except ValidationError as exc:
                raise Unprocessable("aiogram cannot read this update") from exc
            try:
                update.event_type  # noqa: B018 - raises for update types this aiogram does not know
            except Exception:
                event(log, "update_type_unknown", logging.WARNING)
                return
            await self.dp.feed_update(
                self.bot, update, inbox_attempt=attempt, spinner_answered=entry.spinner_answered
            )
        finally:
            current_update.reset(token)

    # --- intake modes ----------------------------------------------------------------------------
    async def run_polling(self, *, poll_timeout: int = 30) -> None:
        """Long polling, until cancelled. Drops any webhook first (Telegram allows one or the other)."""
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.serve(lambda: poll(self.bot, self.inbox, timeout=poll_timeout))

    async def run_webhook(self, *, host: str, port: int, path: str, secret: str, url: str | None) -> None:
        """Serve the webhook (and /healthz) until cancelled; register it with Telegram if `url` is set."""
        runner = web.AppRunner(build_web_app(self.inbox, self.app.redis, path=path, secret=secret))
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        sockets = site._server.sockets if site._server is not None else ()  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1] if sockets else port
        event(log, "webhook_listening", port=self.port)
        try:
            if url:
                await self.bot.set_webhook(url=url.rstrip("/") + path, secret_token=secret)
                event(log, "webhook_registered")
            await self.serve()
        finally:
            await runner.cleanup()

    # --- lifecycle ---------------------------------------------------------------------------------
    async def serve(self, intake: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run the inbox consumer, the app's services and `intake` until cancelled, then stop them.

        Shutdown is graceful: intake stops first, the consumer finishes the updates in hand (up
        to `STOP_GRACE_S`) so they are answered and acknowledged once, then everything else stops.
        """
        await self.dp.emit_startup(bot=self.bot, **self.dp.workflow_data)
        consumer = asyncio.create_task(_supervise("inbox", self.consumer.run), name="inbox")
        essential = [consumer]
        if intake is not None:
            essential.append(asyncio.create_task(_supervise("intake", intake), name="intake"))
        services = [
            asyncio.create_task(_supervise(_name(fn), fn), name=_name(fn)) for fn in self.app.services
        ]
        tasks = essential[1:] + services
        event(log, "telegram_started", services=len(services))
        try:
            # `wait`, not `gather`: cancelling this must not cancel the consumer mid-update.
            await asyncio.wait(essential, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            self.consumer.stop()
            await asyncio.wait([consumer], timeout=STOP_GRACE_S)
            # A cancel a library swallowed is repeated; a worker that still will not end is left behind.
            stopped = await asyncio.gather(*(stop_task(task, STOP_GRACE_S) for task in [consumer, *tasks]))
            for task, ended in zip([consumer, *tasks], stopped, strict=True):
                if not ended:
                    event(log, "worker_did_not_stop", logging.ERROR, worker=task.get_name())
            await self.consumer.release_all()
            try:
                await self.dp.emit_shutdown(bot=self.bot, **self.dp.workflow_data)
            finally:
                await self.bot.session.close()
            event(log, "telegram_stopped")


def settle_heap() -> None:
    """Move everything loaded at start-up (models, flows, aiogram's types) out of the collector's way.

    A full garbage collection walks every live object; with the encoder and aiogram's models in
    memory one took ~0.5 s in `ieum bench updates`, stalling every conversation at once. Frozen
    objects are never collected nor scanned; what handling updates allocates still is.
    """
    gc.collect()
    gc.freeze()


def _name(fn: Callable[..., object]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "service"))


async def _supervise(name: str, fn: Callable[[], Awaitable[None]]) -> None:
    """Keep a long-running worker alive: a crash is logged and the worker restarted with backoff."""
    failures = 0
    while True:
        try:
            await fn()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise_if_cancelling()  # stopped while failing: do not restart
            failures += 1
            event(log, "worker_crashed", logging.ERROR, worker=name, error=type(exc).__name__)
            await asyncio.sleep(min(SERVICE_RESTART_MAX_S, 0.5 * 2**failures))


def run_with_fast_loop(main: Awaitable[Any]) -> Any:
    """`asyncio.run`, on uvloop where it is installed (roughly halves the event loop's CPU per update)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)  # type: ignore[arg-type]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)  # type: ignore[arg-type]
