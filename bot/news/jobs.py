"""One feed's work (parse the body, give each entry its identity, tag every entry) and the worker process's side of
running it (bot.news.work runs it there). What a worker process imports is this module and what it needs: not
asyncio, aiohttp or the store (asyncio alone, with the ssl it brings, was 5 MB of each worker's 35)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.native import pickled_by_fields
from bot.news.matching import Tagging, Topic, TopicMatcher
from bot.news.models import Entry, ParsedFeed, Source
from bot.news.parse import Draft, draft_feed
from bot.news.topics import BUILTIN_LIMITS, parse_query
from bot.news.urls import article_identity, split_outlet_suffix

log = logging.getLogger(__name__)

# Workers yield the CPU to the bot's own process: when both want a core, the loop that answers Discord wins (at
# niceness 10 Linux gives a process a tenth of the share of one at 0).
WORKER_NICENESS = 10


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


ParseFeed = Callable[..., Draft]


# An article of the kind the built-in topic is about, tagged by a worker while the bot logs in (`Matchers.warm`).
SAMPLE_ARTICLE = (
    "Israel and Saudi Arabia to sign normalization agreement, Netanyahu says",
    "The United States said talks on establishing diplomatic relations were in their final stage, and the Abraham "
    "Accords’ members welcomed the step.",
)


class Matchers:
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

    def warm(self, key: str, payload: tuple[tuple[str, str], ...]) -> None:
        """Build the matcher of these topics ahead of a poll, and tag `SAMPLE_ARTICLE` with it: matching builds what
        it needs on first use (a query's compiled code, the gazetteer's patterns, the event rules), about 40 ms of a
        worker's CPU that the first poll paid (bench/ingest.py's feeds)."""
        matcher = self.get(key, payload)
        assert matcher is not None  # built from the payload
        matcher.tag(*SAMPLE_ARTICLE)


def parse_and_tag_body(
    body: bytes, source: Source, content_type: str | None, matcher: TopicMatcher, *, lean: bool, parse: ParseFeed
) -> ParsedBody:
    """Parse a body, give each entry its identity (bot.news.urls.article_identity) and tag every entry, in one go.

    Why every entry, before the poll knows which are new: the feed's work then crosses the process boundary once,
    and only what matched comes back in full. Sending the entries back, then the new ones' texts out again to be
    tagged, cost the loop's process more than the matching it saved (matching is ~30 µs an entry); a feed whose body
    did not change is not parsed at all (bot.news.fetch). An entry is read in full (`Draft.completed`) only when it
    matched, or when the body is not lean."""
    started = time.process_time()
    try:
        draft = parse(body, source=source, content_type=content_type)
    except Exception as exc:  # a parser bug on one feed is that feed's error, never the poll's
        log.exception("parsing %s failed", source.url)
        draft = Draft(ParsedFeed(None, None, (), error=f"parse failed: {type(exc).__name__}: {exc}"))
    drafted = draft.feed.entries
    identities = tuple(article_identity(entry) for entry in drafted)
    texts = [draft.summary_words(index) for index in range(len(drafted))]  # the summaries' HTML read: parsing
    parsed = time.process_time()
    taggings: list[Tagging | None] = []
    for index, entry in enumerate(drafted):
        title, _ = split_outlet_suffix(entry.title, entry.outlet)  # the title as the pipeline stores it
        words = texts[index]
        if words is not None and not matcher.may_match(title, words):
            taggings.append(None)  # nine in ten entries: their summaries are never cleaned
            continue
        tagging = matcher.tag(title, draft.summary(index))
        taggings.append(tagging if tagging.topics else None)
    matched = time.process_time()
    feed = draft.completed([tagging is not None or not lean for tagging in taggings], UNMATCHED)
    if len(feed.entries) != len(drafted):  # a parser bug while completing an entry: the feed's error
        identities, taggings = (), []
    seconds = (parsed - started) + (time.process_time() - matched)
    return ParsedBody(feed, identities, seconds, tuple(taggings), matched - parsed)


# --- the worker process's side ------------------------------------------------------------------------------------

_worker_matchers = Matchers()


class NeedTopics(Exception):
    """The worker does not know this topic set yet: send it again with the topics."""


def init_worker(bot: int) -> None:
    """A worker's start: it leaves stopping to the bot (`bot` is the bot's process id), yields the CPU to it, and
    ends with it."""
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
    forever: ~30 MB each, one more set at every restart of the bot under a supervisor."""
    while os.getppid() == bot:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def ready_job(key: str | None = None, payload: tuple[tuple[str, str], ...] | None = None) -> int:
    """A worker's answer that it is up (bot.news.work.ProcessWork.warm_up); given a topic set, the worker also
    builds its matcher and tags `SAMPLE_ARTICLE` with it, so that the first poll finds them ready."""
    started = time.monotonic()
    if key is not None and payload is not None:
        _worker_matchers.warm(key, payload)
    # long enough for the job to go to a worker that is free, not one that has just answered
    time.sleep(max(0.0, 0.02 - (time.monotonic() - started)))
    return os.getpid()


def parse_and_tag_batch_job(
    feeds: Sequence[tuple[bytes, Source, str | None]],
    key: str,
    payload: tuple[tuple[str, str], ...] | None,
    lean: bool,
) -> list[ParsedBody]:
    """Feeds' work in a worker, one job for several (bot.news.work batches the feeds that wait for a worker): the
    topics come by key, with their text only when the worker lacks them."""
    matcher = _worker_matchers.get(key, payload)
    if matcher is None:
        raise NeedTopics(key)
    return [
        parse_and_tag_body(body, source, content_type, matcher, lean=lean, parse=draft_feed)
        for body, source, content_type in feeds
    ]


__all__ = [
    "SAMPLE_ARTICLE",
    "UNMATCHED",
    "WORKER_NICENESS",
    "Matchers",
    "NeedTopics",
    "ParseFeed",
    "ParsedBody",
    "TopicSet",
    "init_worker",
    "parse_and_tag_batch_job",
    "parse_and_tag_body",
    "ready_job",
]

pickled_by_fields(globals())  # compiled, frozen dataclasses need it to cross processes: see bot.native
