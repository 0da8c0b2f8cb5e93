"""Long polling into the durable inbox. The offset moves past an update only after it is stored,
so a crash (or a Redis outage) makes Telegram hand the update out again instead of losing it.

Updates are fetched as raw JSON, not as aiogram models: one update aiogram cannot read (a newer
Bot API, a malformed field) must not make the whole batch fail forever and stall every person.
It is stored like any other; the consumer dead-letters what it cannot read.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot
from aiogram.methods.base import TelegramMethod

from bot.telegram.inbox import Inbox
from storage.cancellation import raise_if_cancelling
from telemetry import event

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


class GetRawUpdates(TelegramMethod[list[dict[str, Any]]]):
    """`getUpdates`, answered as plain dicts."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


async def poll(bot: Bot, inbox: Inbox, *, timeout: int = 30, limit: int = 100) -> None:
    """Fetch updates and push each into the inbox, until cancelled."""
    offset: int | None = None
    failures = 0
    request_timeout = int((bot.session.timeout or 60) + timeout)
    while True:
        raise_if_cancelling()
        try:
            updates = await bot(
                GetRawUpdates(offset=offset, timeout=timeout, limit=limit), request_timeout=request_timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            event(log, "poll_failed", logging.WARNING, error=type(exc).__name__, failures=failures)
            await asyncio.sleep(min(MAX_BACKOFF_S, 0.5 * 2**failures))
            continue
        failures = 0
        for update in updates:
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if not isinstance(update_id, int):
                event(log, "update_without_id", logging.ERROR)
                continue
            await _push_until_stored(inbox, update)
            offset = update_id + 1


async def _push_until_stored(inbox: Inbox, raw: dict[str, object]) -> None:
    failures = 0
    while True:
        raise_if_cancelling()
        try:
            await inbox.push(raw)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            event(log, "intake_failed", logging.ERROR, error=type(exc).__name__, failures=failures)
            await asyncio.sleep(min(MAX_BACKOFF_S, 0.2 * 2**failures))
