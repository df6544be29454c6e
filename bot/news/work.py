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

`InlineWork` does the same work in the caller's thread, for `python -m bot check` and tests, where nothing else
waits on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from bot.news.matching import Tagging, Topic, TopicMatcher
from bot.news.models import Entry, ParsedFeed, Source
from bot.news.parse import parse_feed
from bot.news.topics import BUILTIN_LIMITS, parse_query
from bot.news.urls import article_identity, split_outlet_suffix

log = logging.getLogger(__name__)

_T = TypeVar("_T")


# Workers yield the CPU to the bot's own process: when both want a core, the loop that answers Discord wins (at
# niceness 10 Linux gives a process a tenth of the share of one at 0).
WORKER_NICENESS = 10
# How many by default: one per core. The workers are niced and a poll holds back while a slash command is in
# flight (bot.aio.Foreground), so a worker on every core costs commands nothing they notice: on two cores, a first
# poll of 2,000 feeds ended 13.8 s after the bot started instead of 17.7 s, and commands meanwhile were answered at
# p50 44-68 ms (p99 96-222 ms) against 50-59 ms (p99 225-551 ms) with one (bench/responsiveness.py). Before commands
# came first, a second worker made them wait: p50 60-265 ms. POLL_WORKERS chooses.
MAX_WORKERS = 4  # a worker holds ~35 MB; past four the loop's own work (fetch, writes) bounds a poll


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


@dataclass(frozen=True, slots=True)
class ParsedBody:
    """A body parsed: the feed, each entry's identity (aligned with `feed.entries`), and the CPU seconds it took.

    When it was tagged too (`parse_and_tag`): each entry's tagging, None for one that matched no topic, and the
    seconds matching took. A lean body's unmatched entries are `UNMATCHED` (only their identities are needed)."""

    feed: ParsedFeed
    identities: tuple[str, ...]
    seconds: float
    taggings: tuple[Tagging | None, ...] = ()
    match_seconds: float = 0.0


# What stands for an entry that matched no topic in a lean body: pickled once however many it stands for.
UNMATCHED = Entry(title="", link="")


@dataclass(frozen=True, slots=True)
class TopicSet:
    """The topics of one poll, with a key that names them, so a worker builds its matcher once per change."""

    key: str
    topics: tuple[Topic, ...]

    @classmethod
    def of(cls, topics: Sequence[Topic]) -> TopicSet:
        digest = hashlib.blake2b(digest_size=16)
        for topic in topics:
            digest.update(f"{topic.name}\x00{topic.query.text}\x01".encode())
        return cls(digest.hexdigest(), tuple(topics))

    def payload(self) -> tuple[tuple[str, str], ...]:
        return tuple((t.name, t.query.text) for t in self.topics)


class FeedWork(Protocol):
    async def parse_and_tag(
        self, body: bytes, source: Source, content_type: str | None, topics: TopicSet, *, lean: bool
    ) -> ParsedBody: ...

    async def close(self) -> None: ...


ParseFeed = Callable[..., ParsedFeed]


def parse_body(body: bytes, source: Source, content_type: str | None, parse: ParseFeed = parse_feed) -> ParsedBody:
    """Parse a body and give each entry its identity (bot.news.urls.article_identity)."""
    started = time.process_time()
    try:
        feed = parse(body, source=source, content_type=content_type)
    except Exception as exc:  # a parser bug on one feed is that feed's error, never the poll's
        log.exception("parsing %s failed", source.url)
        feed = ParsedFeed(None, None, (), error=f"parse failed: {type(exc).__name__}: {exc}")
    identities = tuple(article_identity(entry) for entry in feed.entries)
    return ParsedBody(feed, identities, time.process_time() - started)


class _Matchers:
    """A worker's matchers by topic-set key; a few are kept, as topics change rarely."""

    def __init__(self, size: int = 2) -> None:
        self._size = size
        self._by_key: OrderedDict[str, TopicMatcher] = OrderedDict()

    def get(self, key: str, payload: tuple[tuple[str, str], ...] | None) -> TopicMatcher | None:
        matcher = self._by_key.get(key)
        if matcher is None and payload is not None:
            topics = [Topic(name, parse_query(text, limits=BUILTIN_LIMITS)) for name, text in payload]
            matcher = TopicMatcher(topics, include_default=False)  # the poll chose its topics, the default among them
            self._by_key[key] = matcher
            while len(self._by_key) > self._size:
                self._by_key.popitem(last=False)
        if matcher is not None:
            self._by_key.move_to_end(key)
        return matcher


def parse_and_tag_body(
    body: bytes, source: Source, content_type: str | None, matcher: TopicMatcher, *, lean: bool, parse: ParseFeed
) -> ParsedBody:
    """Parse a body and tag every entry, in one go.

    Why every entry, before the poll knows which are new: the feed's work then crosses the process boundary once,
    and only what matched comes back in full. Sending the entries back, then the new ones' texts out again to be
    tagged, cost the loop's process more than the matching it saved (matching is ~30 µs an entry); a feed whose body
    did not change is not parsed at all (bot.news.fetch)."""
    parsed = parse_body(body, source, content_type, parse)
    started = time.process_time()
    entries: list[Entry] = []
    taggings: list[Tagging | None] = []
    for entry in parsed.feed.entries:
        title, _ = split_outlet_suffix(entry.title, entry.outlet)  # the title as the pipeline stores it
        tagging = matcher.tag(title, entry.summary)
        matched = bool(tagging.topics)
        taggings.append(tagging if matched else None)
        entries.append(entry if matched or not lean else UNMATCHED)
    feed = replace(parsed.feed, entries=tuple(entries)) if lean else parsed.feed
    return ParsedBody(feed, parsed.identities, parsed.seconds, tuple(taggings), time.process_time() - started)


class InlineWork:
    """The work in the caller's thread: for the command line and tests, where no one else waits on the loop."""

    def __init__(self, parse: ParseFeed = parse_feed) -> None:
        self._parse = parse
        self._matchers = _Matchers()

    async def parse_and_tag(
        self, body: bytes, source: Source, content_type: str | None, topics: TopicSet, *, lean: bool
    ) -> ParsedBody:
        matcher = self._matchers.get(topics.key, topics.payload())
        assert matcher is not None
        return parse_and_tag_body(body, source, content_type, matcher, lean=lean, parse=self._parse)

    async def close(self) -> None:
        return None


# --- the worker process's side ------------------------------------------------------------------------------------

_worker_matchers = _Matchers()


class _NeedTopics(Exception):
    """The worker does not know this topic set yet: send it again with the topics."""


def _init_worker(bot: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with, args=(bot,), name="exit-with-the-bot", daemon=True).start()


# How often a worker checks that the bot's process still runs.
PARENT_CHECK_SECONDS = 0.5


def _exit_with(bot: int) -> None:
    """End the worker when the bot's process has gone. Why: a bot that is killed (SIGKILL, the OOM killer) cannot
    stop its pool, and its workers, which ignore SIGTERM and hold the queue's both ends, would wait for work
    forever: ~35 MB each, one more set at every restart of the bot under a supervisor."""
    while os.getppid() == bot:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _ready_job() -> int:
    time.sleep(0.02)  # long enough for the job to go to a worker that is free, not one that has just answered
    return os.getpid()


def _parse_and_tag_job(
    body: bytes,
    source: Source,
    content_type: str | None,
    key: str,
    payload: tuple[tuple[str, str], ...] | None,
    lean: bool,
) -> ParsedBody:
    matcher = _worker_matchers.get(key, payload)
    if matcher is None:
        raise _NeedTopics(key)
    return parse_and_tag_body(body, source, content_type, matcher, lean=lean, parse=parse_feed)


class ProcessWork:
    """The work in a pool of worker processes (spawned, so that nothing of the bot's threads or connections is
    inherited), started on first use and rebuilt when a worker dies."""

    def __init__(self, workers: int | None = None) -> None:
        self._workers = max(1, workers if workers is not None else default_workers())
        self._pool: ProcessPoolExecutor | None = None
        self.restarts = 0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
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
        # The topics travel once per worker and change of topics; a worker that lacks them asks again.
        try:
            return await self._run(_parse_and_tag_job, body, source, content_type, topics.key, None, lean)
        except _NeedTopics:
            return await self._run(_parse_and_tag_job, body, source, content_type, topics.key, topics.payload(), lean)

    async def warm_up(self) -> None:
        """Start the workers now (imports take a moment), so that the first poll does not wait for them; returns
        when each has answered (a worker that is up may take another's job: the jobs go round until all have)."""
        answered: set[int] = set()
        for _ in range(100):
            answered.update(await asyncio.gather(*(self._run(_ready_job) for _ in range(self._workers))))
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


__all__ = ["FeedWork", "InlineWork", "ParsedBody", "ProcessWork", "TopicSet", "WorkerDied"]
