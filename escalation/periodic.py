"""A watcher's loop: run one pass, log a failed pass (never stop on it), wait, repeat until cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from storage.cancellation import raise_if_cancelling
from telemetry import event


async def repeat(
    run_once: Callable[[], Awaitable[object]], interval_s: float, failed_event: str, log: logging.Logger
) -> None:
    while True:
        try:
            await run_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed pass is retried on the next tick; the watcher lives on
            event(log, failed_event, logging.ERROR, error=type(exc).__name__)
        raise_if_cancelling()  # a cancel a Redis call swallowed (see storage.cancellation)
        await asyncio.sleep(interval_s)
