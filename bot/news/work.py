"""The CPU work of a poll, parsing feed bodies and tagging their entries, run where it cannot hold the event loop.

Why a worker process: the loop that reads the news is the one that answers Discord, which wants an answer within
3 seconds. Parsing a large body (lxml, then HTML to text) and matching hundreds of topics are pure CPU; in the loop's
thread they delay every slash command by as long as they run (a 5 MB feed is several hundred milliseconds), and a
thread gains nothing under the GIL. A process takes that work off the loop entirely: one per core
(`default_workers`), each at a lower priority (`WORKER_NICENESS`), so the loop's process gets the CPU first
whenever it has a command to answer. Only bodies in and compact results out cross the process boundary; both are
small next to the work they stand for. A worker that dies (a hostile feed that exhausts it, a crash) breaks only
the feeds it held: the pool is rebuilt and the poll goes on. Workers ignore SIGINT and SIGTERM: the bot decides
when to stop.

The work itself, and what runs in a worker process, is bot.news.jobs. `InlineWork` does the same work in the
caller's thread, for `python -m bot check` and tests, where nothing else waits on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bot.news.jobs import (
    Matchers,
    NeedTopics,
    ParsedBody,
    ParseFeed,
    TopicSet,
    init_worker,
    parse_and_tag_batch_job,
    parse_and_tag_body,
    ready_job,
)
from bot.news.models import Source
from bot.news.parse import draft_feed

log = logging.getLogger(__name__)

_T = TypeVar("_T")


# How many by default: one per core. The workers are niced and a poll holds back while a slash command is in
# flight (bot.aio.Foreground), so a worker on every core costs commands nothing they notice: on two cores, a first
# poll of 2,000 feeds ended 13.8 s after the bot started instead of 17.7 s, and commands meanwhile were answered at
# p50 44-68 ms (p99 96-222 ms) against 50-59 ms (p99 225-551 ms) with one (bench/responsiveness.py). Before commands
# came first, a second worker made them wait: p50 60-265 ms. POLL_WORKERS chooses.
MAX_WORKERS = 4  # a worker holds ~30 MB; past four the loop's own work (fetch, writes) bounds a poll


def default_workers() -> int:
    """One per usable core, at most `MAX_WORKERS`."""
    return max(1, min(usable_cores(), MAX_WORKERS))


def usable_cores() -> int:
    """The cores this process may run on (a container's cpuset, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


class WorkerDied(Exception):
    """The process doing a feed's work died; the feed is reported as failing with this reason."""


class FeedWork(Protocol):
    async def parse_and_tag(
        self, body: bytes, source: Source, content_type: str | None, topics: TopicSet, *, lean: bool
    ) -> ParsedBody: ...

    async def warm_up(self, topics: TopicSet | None = None) -> None: ...

    async def close(self) -> None: ...


class InlineWork:
    """The work in the caller's thread: for the command line and tests, where no one else waits on the loop."""

    def __init__(self, parse: ParseFeed = draft_feed) -> None:
        self._parse = parse
        self._matchers = Matchers()

    async def parse_and_tag(
        self, body: bytes, source: Source, content_type: str | None, topics: TopicSet, *, lean: bool
    ) -> ParsedBody:
        matcher = self._matchers.get(topics.key, topics.payload())
        assert matcher is not None
        return parse_and_tag_body(body, source, content_type, matcher, lean=lean, parse=self._parse)

    async def warm_up(self, topics: TopicSet | None = None) -> None:
        """Build the matcher of `topics` and match once with it, as a worker does (`ProcessWork.warm_up`)."""
        if topics is not None:
            self._matchers.warm(topics.key, topics.payload())

    async def close(self) -> None:
        return None


@dataclass(slots=True)
class _Waiting:
    """A feed waiting for a worker, with the future its poll awaits."""

    body: bytes
    source: Source
    content_type: str | None
    future: asyncio.Future[ParsedBody]


# How many waiting feeds go to a worker in one job, at most, and how many bytes of bodies.
BATCH_FEEDS = 8
BATCH_BYTES = 2 << 20


class ProcessWork:
    """The work in a pool of worker processes (spawned, so that nothing of the bot's threads or connections is
    inherited), started on first use and rebuilt when a worker dies.

    Feeds that wait for a worker go in batches (`BATCH_FEEDS`, `BATCH_BYTES`). Why: each job costs the bot's own
    process two thread wake-ups and a selector built anew (ProcessPoolExecutor's threads, which share the GIL
    with the event loop): a job per feed was a fifth of its CPU in a first poll of 500 feeds. A feed arriving
    while a worker is free still goes alone, at once. A batch whose worker dies is tried again feed by feed, so
    that only the feed that killed it fails."""

    def __init__(self, workers: int | None = None) -> None:
        self._workers = max(1, workers if workers is not None else default_workers())
        self._pool: ProcessPoolExecutor | None = None
        self.restarts = 0
        # by topic-set key and leanness: the topics and the feeds waiting to be worked on with them
        self._waiting: dict[tuple[str, bool], tuple[TopicSet, list[_Waiting]]] = {}
        self._jobs: set[asyncio.Task[None]] = set()

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(os.getpid(),),
            )
        return self._pool

    async def _run(self, function: Callable[..., _T], *args: Any) -> _T:
        pool = self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, function, *args)
        except BrokenProcessPool:
            if self._pool is pool:  # the first task to learn of it rebuilds the pool for the others
                self._pool = None
                self.restarts += 1
                pool.shutdown(wait=False, cancel_futures=True)
                log.warning("a feed worker process died; starting a new one")
            raise WorkerDied("the worker process handling this feed died") from None

    async def parse_and_tag(
        self, body: bytes, source: Source, content_type: str | None, topics: TopicSet, *, lean: bool
    ) -> ParsedBody:
        future: asyncio.Future[ParsedBody] = asyncio.get_running_loop().create_future()
        _, waiting = self._waiting.setdefault((topics.key, lean), (topics, []))
        waiting.append(_Waiting(body, source, content_type, future))
        self._send()
        return await future

    def _send(self) -> None:
        """Start jobs while fewer than two per worker are on their way (one running, the next at hand)."""
        while len(self._jobs) < 2 * self._workers and self._waiting:
            (key, lean), (topics, waiting) = next(iter(self._waiting.items()))
            waiting[:] = [feed for feed in waiting if not feed.future.done()]  # a cancelled poll's feeds
            share = min(BATCH_FEEDS, max(1, len(waiting) // self._workers))
            batch: list[_Waiting] = []
            size = 0
            while waiting and len(batch) < share and (not batch or size + len(waiting[0].body) <= BATCH_BYTES):
                size += len(waiting[0].body)
                batch.append(waiting.pop(0))
            if not waiting:
                del self._waiting[(key, lean)]
            if batch:
                job = asyncio.create_task(self._job(topics, lean, batch), name="feed-work")
                self._jobs.add(job)
                job.add_done_callback(self._job_done)

    def _job_done(self, job: asyncio.Task[None]) -> None:
        self._jobs.discard(job)
        self._send()

    async def _job(self, topics: TopicSet, lean: bool, batch: list[_Waiting]) -> None:
        try:
            results = await self._work(topics, lean, [(feed.body, feed.source, feed.content_type) for feed in batch])
        except asyncio.CancelledError:
            for feed in batch:
                feed.future.cancel()
            raise
        except WorkerDied as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for feed in batch:  # one of them killed it: each alone, so that only that one fails
                await self._job(topics, lean, [feed])
        except Exception as exc:
            _fail(batch, exc)
        else:
            for feed, result in zip(batch, results, strict=True):
                if not feed.future.done():
                    feed.future.set_result(result)

    async def _work(
        self, topics: TopicSet, lean: bool, feeds: list[tuple[bytes, Source, str | None]]
    ) -> list[ParsedBody]:
        # The topics travel once per worker and change of topics; a worker that lacks them asks again.
        try:
            return await self._run(parse_and_tag_batch_job, feeds, topics.key, None, lean)
        except NeedTopics:
            return await self._run(parse_and_tag_batch_job, feeds, topics.key, topics.payload(), lean)

    async def warm_up(self, topics: TopicSet | None = None) -> None:
        """Start the workers now (imports take a moment), so that the first poll does not wait for them; returns
        when each has answered (a worker that is up may take another's job: the jobs go round until all have).
        With `topics`, each worker also builds their matcher and matches once (`ready_job`)."""
        learn = (topics.key, topics.payload()) if topics is not None else ()
        answered: set[int] = set()
        for _ in range(100):
            answered.update(await asyncio.gather(*(self._run(ready_job, *learn) for _ in range(self._workers))))
            if len(answered) >= self._workers and answered >= set(self.pids()):
                return

    def pids(self) -> list[int]:
        """The worker processes running now."""
        processes = getattr(self._pool, "_processes", None) or {}
        return list(processes)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        for job in list(self._jobs):
            job.cancel()
        for _, waiting in self._waiting.values():
            for feed in waiting:
                feed.future.cancel()
        self._waiting.clear()


def _fail(batch: list[_Waiting], error: Exception) -> None:
    for feed in batch:
        if not feed.future.done():  # cancelled meanwhile: its poll stopped
            feed.future.set_exception(error)


__all__ = ["FeedWork", "InlineWork", "ParsedBody", "ProcessWork", "TopicSet", "WorkerDied"]
