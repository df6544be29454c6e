"""The event loop the bot runs on: uvloop where it is installed (Linux and macOS), else asyncio's own.

Why: a poll is mostly many small HTTP exchanges, and uvloop's faster I/O shows there (bench/ingest.py, 500 feeds
all answering 304 on a 2-core machine: 0.10-0.17 s with uvloop against 0.20-0.24 s with asyncio's loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on uvloop when it is available."""
    try:
        import uvloop
    except ImportError:  # Windows, or a platform without a wheel: asyncio's loop does the same, a little slower
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait until it has ended (its `finally` blocks have run)."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Breather:
    """Lets a CPU-bound loop that must run on the event loop (clustering, building views, planning) give the loop
    back every `slice` seconds, so that a slash command waiting behind it is answered in time."""

    def __init__(self, slice_seconds: float = 0.01) -> None:
        self._slice = slice_seconds
        self._since = time.perf_counter()

    async def __call__(self) -> None:
        now = time.perf_counter()
        if now - self._since >= self._slice:
            await asyncio.sleep(0)
            self._since = time.perf_counter()


def settle_heap() -> None:
    """After start-up: collect once, then keep what exists from every later collection (`gc.freeze`).

    Why: a full collection walks every object the process holds (the imports of discord.py, SQLAlchemy, lxml, the
    dataset) and holds the event loop meanwhile: measured 184 ms in a process with a large heap, enough to delay a
    slash command. What start-up made lives as long as the process, so scanning it again finds nothing to free."""
    gc.collect()
    gc.freeze()
