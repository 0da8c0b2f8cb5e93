"""Cancellation that survives a library swallowing it (Python 3.11 with redis-py).

On Python 3.11, `asyncio.wait_for` returns the inner result when a cancel arrives just after
the inner operation finished (CPython gh-86296; 3.12 rebuilt `wait_for` on `asyncio.timeout`).
redis-py sends every command through `wait_for` whenever `socket_timeout` is set, and redis-py 8
sets 5 s by default. So a task cancelled at that instant carries on as if nothing happened: a
worker loop runs on after shutdown, and `await task` after `task.cancel()` can wait forever.

The task still counts the request (`Task.cancelling()` stays above zero, nobody called
`uncancel`), so long-running loops check it at each turn (`raise_if_cancelling`), and whoever
stops a task cancels it again until it ends (`stop_task`).
"""

from __future__ import annotations

import asyncio
import contextlib

# A task still running this long after its cancel is cancelled again (its cancel was likely lost).
# Long enough that clean-up in a `finally` (a lease released, a key deleted) is not cut short.
RECANCEL_AFTER_S = 1.0


def raise_if_cancelling() -> None:
    """Raise CancelledError if this task was asked to stop, even if a library swallowed the request."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def stop_task(task: asyncio.Task[object], timeout_s: float) -> bool:
    """Cancel `task` and wait up to `timeout_s` for it to end, cancelling again if the cancel was lost.

    Returns whether it ended. Its exception is retrieved so none is logged as never retrieved.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not task.done():
        left = deadline - loop.time()
        if left <= 0:
            return False
        task.cancel()
        await asyncio.wait([task], timeout=min(RECANCEL_AFTER_S, left))
    if not task.cancelled():
        task.exception()
    return True


async def wait_set(flag: asyncio.Event, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for `flag`; return whether it is set.

    Built on `asyncio.timeout`, which passes an outside cancel on even when the flag is set at the
    same instant (3.11's `wait_for` would drop it).
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await flag.wait()
    return flag.is_set()
