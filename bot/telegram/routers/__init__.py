"""Routers assembled in one function (see MasterGroosha/telegram-report-bot)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject

from bot.telegram.routers import companion, counsellor, staff


def build_root_router() -> Router:
    root = Router(name="root")
    # Order matters: counsellor and staff routers filter on their chats and ids first;
    # the companion router catches everything a young person sends.
    root.include_router(counsellor.build_router())
    root.include_router(staff.build_router())
    root.include_router(companion.build_router())
    inline_sync_filters(root)
    return root


def inline_sync_filters(router: Router) -> None:
    """Run synchronous filters (every `F.…` magic filter, plain `def` filters) on the event loop.

    aiogram 3.2x+ hands each synchronous filter to `asyncio.to_thread`: about ten thread hops
    per update here, for attribute comparisons that take microseconds. Filters must therefore
    stay free of blocking I/O (they are: chat, id and callback-data checks).
    """
    for observer in router.observers.values():
        handlers = [*observer.handlers, observer._handler]  # the latter holds router-level filters
        for handler in handlers:
            for flt in handler.filters or ():
                _inline(flt)
    for sub in router.sub_routers:
        inline_sync_filters(sub)


def _inline(flt: FilterObject) -> None:
    if flt.awaitable:
        return
    flt.callback = _as_coroutine(flt.callback)
    flt.awaitable = True


def _as_coroutine(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return run
