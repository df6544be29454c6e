"""The event loop the bot runs on: uvloop where it is installed (Linux and macOS), else asyncio's own.

Why: a poll is mostly many small HTTP exchanges, and uvloop's faster I/O shows there (bench/ingest.py, 500 feeds
all answering 304 on a 2-core machine: 0.10-0.17 s with uvloop against 0.20-0.24 s with asyncio's loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Coroutine, Iterator
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


class Foreground:
    """Work someone is waiting for (a slash command) and background work (a poll) on the same event loop: while any
    foreground work is in flight, background work that asks (`wait`) holds back, so the command has the loop as
    if the bot were idle.

    Why: a command takes a dozen turns of the loop (the gateway's frame, the handler, its queries, the answer's
    request), and a poll queued work into every turn: on two cores, during a first poll of 2,000 feeds, commands
    were answered at p50 56-265 ms against 7-41 ms idle (bench/responsiveness.py). The poll loses nothing it needs:
    its feeds are parsed in worker processes meanwhile, and it resumes as soon as the command has answered.

    Nothing waits forever: a claim stops holding background work back after `hold` seconds (Discord wants a first
    answer within 3 s; a command that takes longer has deferred), and one `wait` returns after `limit` seconds
    whatever holds it, so that a command waiting for something the background work holds (a write lock) gets it.
    Background work waits only where it holds nothing a command may need (never inside a transaction)."""

    def __init__(self, hold: float = 3.0, limit: float = 0.25) -> None:
        self._hold = hold
        self._limit = limit
        self._claims: dict[int, float] = {}  # claim number -> when it started (perf_counter)
        self._next = 0
        self._waiters: list[asyncio.Future[None]] = []

    @contextlib.contextmanager
    def claim(self) -> Iterator[None]:
        """Foreground work runs inside this."""
        number = self._next
        self._next += 1
        self._claims[number] = time.perf_counter()
        try:
            yield
        finally:
            del self._claims[number]
            if not self._claims:
                self._wake()

    def busy(self) -> bool:
        """Whether foreground work is in flight (claims older than `hold` seconds no longer count)."""
        if not self._claims:
            return False
        return time.perf_counter() - max(self._claims.values()) < self._hold

    async def wait(self, limit: float | None = None) -> None:
        """Return once no foreground work is in flight, or after `limit` seconds (by default the instance's)."""
        if not self.busy():
            return
        deadline = time.perf_counter() + (self._limit if limit is None else limit)
        while self.busy():
            newest = max(self._claims.values())
            timeout = min(deadline, newest + self._hold) - time.perf_counter()
            if timeout <= 0:
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait({waiter}, timeout=timeout)
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


# The process's one: the Discord layer claims it for each command, the poll waits on it.
FOREGROUND = Foreground()
# A Breather's slice while foreground work is in flight.
FOREGROUND_SLICE = 0.002


class Breather:
    """Lets a CPU-bound loop that must run on the event loop (clustering, building views, planning) give the loop
    back every `slice` seconds, so that a slash command waiting behind it is answered in time. With
    `foreground_first`, it also holds back while a command is in flight (`Foreground`): only where the loop holds
    nothing a command may need, such as a transaction."""

    def __init__(self, slice_seconds: float = 0.01, *, foreground_first: bool = False) -> None:
        self._slice = slice_seconds
        self._since = time.perf_counter()
        self._foreground_first = foreground_first

    async def __call__(self) -> None:
        elapsed = time.perf_counter() - self._since
        # while a command is in flight, shorter slices: each of its turns of the loop waits less
        if elapsed < self._slice and not (elapsed >= FOREGROUND_SLICE and FOREGROUND.busy()):
            return
        if self._foreground_first and FOREGROUND.busy():
            await FOREGROUND.wait()
        else:
            await asyncio.sleep(0)
        self._since = time.perf_counter()


_deferring = 0
_NEVER = 2**30  # young collections between two full ones: none while deferred
_thresholds: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def full_collections_deferred() -> Iterator[None]:
    """While a poll runs: no full collection of the garbage collector; its usual schedule comes back at the end.

    Why: a full collection walks every object the process holds since `settle_heap` and holds the event loop
    meanwhile. A first poll of 2,000 feeds ran four or five, each 13-33 ms on a 2-core machine at its slowest, and
    every hold of the loop past 50 ms left in that poll had one inside it (bench/ingest.py --stalls). Young
    collections go on, so what dies young is freed as before; only the cyclic garbage that reached the oldest
    generation (tens of objects a second) waits for the first full collection after the poll."""
    global _deferring, _thresholds
    if _deferring == 0:
        _thresholds = gc.get_threshold()
        gc.set_threshold(_thresholds[0], _thresholds[1], _NEVER)
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if _deferring == 0:
            gc.set_threshold(*_thresholds)


def settle_heap() -> None:
    """After start-up: collect once, then keep what exists from every later collection (`gc.freeze`).

    Why: a full collection walks every object the process holds (the imports of discord.py, SQLAlchemy, lxml, the
    dataset) and holds the event loop meanwhile: measured 184 ms in a process with a large heap, enough to delay a
    slash command. What start-up made lives as long as the process, so scanning it again finds nothing to free."""
    gc.collect()
    gc.freeze()
