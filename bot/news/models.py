"""The news engine's values, shared by its modules: sources, fetch outcomes, entries, articles, stories.

Frozen dataclasses, parsed at the boundary; every datetime is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, Literal, TypeVar

SourceKind = Literal["feed", "gdelt"]


@dataclass(frozen=True, slots=True)
class Source:
    """A place the bot reads news from.

    `guild_id` is None for the operator's sources (built-in or `SOURCES_FILE`), which may point at loopback or
    a local file; a server's own sources (`guild_id` set) go through the private-address guard.
    """

    url: str
    name: str
    kind: SourceKind = "feed"
    interval: int | None = None  # seconds; None means the POLL_INTERVAL setting
    language: str | None = None
    guild_id: int | None = None

    @property
    def trusted(self) -> bool:
        return self.guild_id is None


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the fetcher remembers of a source between polls (persisted by the store)."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    next_attempt: datetime | None = None


class FetchStatus(StrEnum):
    OK = "ok"  # a new body to parse
    NOT_MODIFIED = "not_modified"  # 304, or a body whose hash did not change
    DEFERRED = "deferred"  # not due yet (backoff, Retry-After, Cache-Control): nothing was requested
    FAILED = "failed"  # network error, timeout, HTTP error, too large, refused by the guard


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One source's fetch as a value: failure is normal and never raises out of a poll."""

    source: Source
    status: FetchStatus
    state: SourceState  # the new state to persist
    body: bytes | None = None
    content_type: str | None = None
    final_url: str | None = None
    http_status: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed, as parsed: clean text, UTC time, the outlet that published it."""

    title: str
    link: str
    summary: str = ""
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    outlet: str | None = None  # publisher name ("Reuters"), from <source>, the title suffix, or the feed
    outlet_url: str | None = None  # publisher home page, e.g. Google News <source url="...">
    guid: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    link: str | None
    entries: tuple[Entry, ...]
    error: str | None = None  # set when the feed was malformed and parsed only in part (or not at all)


class EventKind(StrEnum):
    INTENT_TO_JOIN = "intent_to_join"
    JOINED = "joined"
    SIGNING = "signing"
    RATIFICATION = "ratification"
    TALKS = "talks"
    SUSPENSION = "suspension"
    RECOGNITION = "recognition"
    STATEMENT = "statement"


@dataclass(frozen=True, slots=True)
class DetectedEvent:
    kind: EventKind
    countries: tuple[str, ...]  # country keys (bot.countries) the event is about, most relevant first


_Value = TypeVar("_Value", bound=Hashable)


class Shared(Generic[_Value]):
    """One object for equal values, of the last `most` distinct ones. Why: what the bot's process holds for a poll
    came from workers and rows with a copy of its own of each small value; a first poll of 2,000 feeds held 7,343
    events of a few dozen distinct ones, a sixth of the objects each full collection walks while the loop waits."""

    def __init__(self, most: int = 4096) -> None:
        self._most = most
        self._by_value: dict[_Value, _Value] = {}

    def __call__(self, value: _Value) -> _Value:
        found = self._by_value.get(value)
        if found is None:
            if len(self._by_value) >= self._most:
                self._by_value.clear()
            found = self._by_value[value] = value
        return found


_shared_events: Shared[DetectedEvent] = Shared()


def shared_event(event: DetectedEvent | None) -> DetectedEvent | None:
    """The one object of an event equal to this one (see `Shared`)."""
    return None if event is None else _shared_events(event)


@dataclass(frozen=True, slots=True)
class Article:
    """An entry after identity, relevance and tagging: what the store keeps and stories are made of."""

    url: str  # canonical URL: the identity of the article
    title: str  # without the " - Outlet" suffix
    summary: str
    outlet: str
    published: datetime  # the entry's time, or first-seen time when the feed gave none
    first_seen: datetime
    source_url: str
    countries: tuple[str, ...] = ()
    event: DetectedEvent | None = None
    topics: tuple[str, ...] = ()  # names of the topics it matched
    matched_terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Story:
    """Many outlets' articles about one event."""

    id: int
    title: str
    url: str
    first_seen: datetime
    last_seen: datetime
    published: datetime
    countries: tuple[str, ...]
    event: DetectedEvent | None
    topics: tuple[str, ...]
    score: float
    articles: tuple[Article, ...] = field(default_factory=tuple)
    # As one server sees it (bot.news.visibility): only its own sources reported it; when it first held fresh news
    # (None: only old news, never delivered) and at which change number.
    own_only: bool = False
    fresh_from: datetime | None = None
    fresh_seq: int | None = None

    @property
    def outlets(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for article in self.articles:
            seen.setdefault(article.outlet, None)
        return tuple(seen)
