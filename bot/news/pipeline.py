"""One poll, end to end: fetch the due sources, parse, identify, match, tag, cluster, store; report what changed.

A poll streams: each source is fetched, parsed, filtered and tagged as soon as its answer arrives, and its results
are saved in small batches while the rest are still in flight, so that
- one slow source delays nothing else (its news is saved when it comes; the rest is delivered before);
- a body is held only while its own feed is worked on: memory stays flat however many sources there are
  (`concurrency` bounds the feeds in flight);
- the CPU work (parsing, topic matching) runs in `work` (bot.news.work: worker processes for the bot), never on
  the event loop that answers Discord.
Order of work for one feed, and why:
- fetch (the fetcher limits concurrency per host and never raises; a stray exception becomes a failed result);
- parse and match topics in one job of `work` (bot.news.jobs.parse_and_tag_body: the feed crosses the process
  boundary once, and only what matched comes back in full); a body that cannot be parsed makes its source fail,
  with the parser's reason;
- drop the entries this origin carried before (`seen_articles`; the feeds that arrive while a lookup runs share
  the next one, `_SeenLookups`): a feed repeats most of its items from one poll to the next. The key is per origin
  (bot.news.visibility): an article a server's own source carried first is still new when the operator's sources
  carry it, and then becomes everyone's; a new entry that matched nothing is remembered only by its key, so it is
  never processed again, and is not stored;
- in a batch: cluster against the stories whose span meets the new articles' windows (an indexed lookup), then
  write seen keys, stories, articles, their origins, the views and the source states in one transaction. A batch
  that cannot be written is retried feed by feed, so one source's bad data fails that source, not the poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.aio import FOREGROUND, Breather, full_collections_deferred
from bot.news.jobs import ParsedBody, ParseFeed, TopicSet
from bot.news.matching import Tagging, Topic, default_topic
from bot.news.models import Article, Entry, FetchResult, FetchStatus, Source, SourceState, Story, shared_event
from bot.news.stories import DEFAULT_WINDOW, Clusterer, StoryDraft, window_ranges
from bot.news.urls import canonical_url, host_of, split_outlet_suffix
from bot.news.visibility import OPERATOR, seen_key
from bot.news.work import FeedWork, InlineWork, WorkerDied
from bot.store.news import NewsStore, SavedPoll

log = logging.getLogger(__name__)


class FetcherLike(Protocol):
    """What the pipeline needs of `bot.news.fetch.Fetcher`."""

    def is_due(self, source: Source, state: SourceState, now: datetime) -> bool: ...

    async def fetch(self, source: Source, state: SourceState) -> FetchResult: ...

    def failed_state(self, source: Source, state: SourceState, started: datetime, error: str) -> SourceState: ...


# Called at the start of each poll for the topics to match beside the fixed ones: servers add and remove topics
# while the bot runs (bot.delivery's `all_topics`), and a topic added between two polls applies from the next.
TopicProvider = Callable[[], Awaitable[Sequence[Topic]]]
# Called after each batch is written (the delivery side wakes up: news is there to deliver).
SavedListener = Callable[[SavedPoll], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SourceReport:
    """One source's part of a poll: `status` is a FetchStatus value, or "error" when its body could not be used."""

    url: str
    status: str
    entries: int = 0  # entries in the feed (0 when it was not fetched or not modified)
    new: int = 0  # entries not seen before
    error: str | None = None
    http_status: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What became of one new article, and why (for `check --all`)."""

    source_url: str
    title: str
    url: str
    outlet: str
    published: datetime
    topics: tuple[str, ...]
    matched_terms: tuple[str, ...]
    reason: str  # why it joined a story or was left out
    skipped: bool = False  # left out by `since`


@dataclass(frozen=True, slots=True)
class PollReport:
    """A poll's outcome. `timings` are seconds per stage: "fetch" the wall time until the last answer, "parse" and
    "match" the CPU time of that work (wherever it ran), "known", "cluster" and "save" the time spent in them,
    "total" the poll's wall time. Stages overlap (feeds stream), so they do not add up to the total."""

    sources: tuple[SourceReport, ...]
    new_stories: tuple[Story, ...]
    updated_stories: tuple[Story, ...]
    decisions: tuple[Decision, ...] = ()  # filled when the poll was asked to explain
    timings: tuple[tuple[str, float], ...] = ()


@dataclass(slots=True)
class _Found:
    """A new entry of one feed that matched a topic, as an article, with the origin that carried it."""

    identity: str
    article: Article
    origin: str


@dataclass(slots=True)
class _FeedOutcome:
    """What one source's fetch and work produced, waiting to be written."""

    source: Source
    state: SourceState | None  # None: not fetched (not due), nothing to write
    report: SourceReport
    prior: SourceState = field(default_factory=SourceState)  # the state before this poll
    keys: dict[str, datetime] = field(default_factory=dict)  # new seen keys
    found: list[_Found] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


class _Stages:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    @contextlib.contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)


class Poller:
    """Runs polls over a store with a fetcher; `clock` gives aware UTC now.

    `work` does the CPU work (InlineWork by default: the caller's thread; the bot passes worker processes).
    `include_default` matches the built-in topic beside the given ones (`check --topic` turns it off)."""

    def __init__(
        self,
        store: NewsStore,
        fetcher: FetcherLike,
        clock: Callable[[], datetime],
        *,
        work: FeedWork | None = None,
        parse: ParseFeed | None = None,
        topics: Sequence[Topic] = (),
        topic_provider: TopicProvider | None = None,
        include_default: bool = True,
        window: timedelta = DEFAULT_WINDOW,
        on_saved: SavedListener | None = None,
        concurrency: int = 64,
        batch_feeds: int = 200,
        batch_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._fetcher = fetcher
        self._clock = clock
        self._work: FeedWork = work or (InlineWork(parse) if parse is not None else InlineWork())
        self._fixed = tuple(topics)
        self._provider = topic_provider
        self._include_default = include_default
        self._window = window
        self._on_saved = on_saved
        self._concurrency = concurrency
        self._batch_feeds = batch_feeds
        self._batch_seconds = batch_seconds
        # Polls may overlap (a slow source must not hold the next poll): a source being fetched by one is left out
        # of the others, and batches are clustered and written one at a time, so that two polls never both start
        # a story for the same event.
        self.in_flight: set[str] = set()
        self._write_lock = asyncio.Lock()
        self._clustering = _Clustering(window)

    async def topics(self) -> TopicSet:
        """The topics a poll starting now matches: the built-in one, the fixed ones, then the provider's."""
        provided = await self._provider() if self._provider is not None else ()
        chosen: dict[str, Topic] = {}
        for topic in ((default_topic(),) if self._include_default else ()) + (*self._fixed, *provided):
            chosen.setdefault(topic.name, topic)
        return TopicSet.of(list(chosen.values()))

    async def poll(
        self, sources: Sequence[Source], *, since: datetime | None = None, force: bool = False, explain: bool = False
    ) -> PollReport:
        """Poll the due sources (all of them with `force`); entries published before `since` are skipped."""
        with full_collections_deferred():  # each held the loop: see bot.aio
            return await self._poll(sources, since=since, force=force, explain=explain)

    async def _poll(
        self, sources: Sequence[Source], *, since: datetime | None, force: bool, explain: bool
    ) -> PollReport:
        started = time.perf_counter()
        topics = await self.topics()
        now = self._clock()
        stages = _Stages()
        # The operator's copy of a URL wins: what it carries is everyone's, and it is fetched without the guard.
        unique: dict[str, Source] = {}
        for source in sorted(sources, key=lambda s: not s.trusted):
            unique.setdefault(source.url, source)
        ordered = list(unique.values())
        states = await self._store.load_states(unique)
        if not self.in_flight and not self._write_lock.locked():
            # No other poll is writing: start clustering from the database again (it holds only the window).
            self._clustering = _Clustering(self._window)
        saver = _Saver(self, stages, now, explain)
        lookups = _SeenLookups(self._store, stages)
        fetched_until = [0.0]
        mine: list[Source] = []
        for source in ordered:
            state = states.get(source.url, SourceState())
            if source.url in self.in_flight or not (force or self._fetcher.is_due(source, state, now)):
                saver.add(_FeedOutcome(source, None, SourceReport(source.url, FetchStatus.DEFERRED.value)))
            else:
                mine.append(source)
        self.in_flight.update(source.url for source in mine)

        async def one(source: Source) -> None:
            state = states.get(source.url, SourceState())
            try:
                await FOREGROUND.wait()  # a slash command in flight goes first (bot.aio.Foreground)
                result = await self._fetch(source, state)
                fetched_until[0] = time.perf_counter() - started
                outcome = await self._work_on(result, state, topics, now, since, explain, stages, lookups)
                saver.add(outcome)
            finally:
                self.in_flight.discard(source.url)

        waiting = iter(mine)

        async def runner() -> None:
            # `concurrency` runners take the sources in turn. Why not a task per source: 2,000 tasks waiting on a
            # semaphore were 10,000 objects (tasks, their coroutines and contexts) for the garbage collector to scan
            # again and again during the poll, and its full passes held the loop for up to 70 ms.
            for source in waiting:
                await one(source)

        saving = asyncio.create_task(saver.run(), name="poll-saver")
        try:
            await asyncio.gather(*(runner() for _ in range(min(self._concurrency, len(mine)))))
        except BaseException:
            # Stopped (or broken): what is saved stays saved; what waits to be written is dropped, and its sources,
            # whose state is not written either, are due again at the next poll.
            saving.cancel()
            await asyncio.wait({saving}, timeout=5)
            raise
        finally:
            self.in_flight.difference_update(source.url for source in mine)
            await lookups.close()
        saver.finish()
        await saving
        stages.add("fetch", fetched_until[0])
        stages.add("total", time.perf_counter() - started)
        reports = tuple(saver.reports.get(source.url, SourceReport(source.url, "error")) for source in ordered)
        return PollReport(
            reports,
            tuple(saver.new.values()),
            tuple(story for story_id, story in saver.updated.items() if story_id not in saver.new),
            tuple(saver.decisions),
            tuple(stages.seconds.items()),
        )

    async def _fetch(self, source: Source, state: SourceState) -> FetchResult:
        try:
            return await self._fetcher.fetch(source, state)
        except Exception as exc:  # the fetcher should not raise; if it does, count it as a failure
            log.exception("fetching %s raised", source.url)
            failed = self._fetcher.failed_state(source, state, self._clock(), f"fetch failed: {exc!r}")
            return FetchResult(source, FetchStatus.FAILED, failed, error=repr(exc))

    async def _work_on(
        self,
        result: FetchResult,
        prior: SourceState,
        topics: TopicSet,
        now: datetime,
        since: datetime | None,
        explain: bool,
        stages: _Stages,
        lookups: _SeenLookups,
    ) -> _FeedOutcome:
        """Parse and tag a fetched body (in `work`), then drop what its origin carried before."""
        source, url = result.source, result.source.url
        if result.status != FetchStatus.OK or result.body is None:
            report = SourceReport(url, result.status.value, error=result.error, http_status=result.http_status)
            return _FeedOutcome(source, result.state, report, prior)
        try:
            parsed: ParsedBody = await self._work.parse_and_tag(
                result.body, source, result.content_type, topics, lean=not explain
            )
        except WorkerDied as exc:
            return self._unusable(result, prior, str(exc))
        await FOREGROUND.wait()
        stages.add("parse", parsed.seconds)
        stages.add("match", parsed.match_seconds)
        feed = parsed.feed
        if feed.error and not feed.entries:
            return self._unusable(result, prior, f"not a feed the bot can read: {feed.error}")
        origin = OPERATOR if source.trusted else source.url
        entries: dict[str, tuple[Entry, Tagging | None]] = {}
        for identity, entry, tagging in zip(parsed.identities, feed.entries, parsed.taggings, strict=True):
            if identity:
                entries.setdefault(identity, (entry, tagging))
        keys = {seen_key(origin, identity): identity for identity in entries}
        known = await lookups.known(keys)
        fresh = [(key, keys[key]) for key in keys if key not in known]
        report = SourceReport(url, result.status.value, len(feed.entries), len(fresh), feed.error, result.http_status)
        outcome = _FeedOutcome(source, result.state, report, prior, {key: now for key, _ in fresh})
        for _, identity in fresh:
            entry, tagging = entries[identity]
            if tagging is None and not explain:
                continue  # matched nothing: remembered by its key only
            title, suffix = split_outlet_suffix(entry.title, entry.outlet)
            outlet = entry.outlet or suffix or feed.title or source.name or host_of(entry.link)
            if since is not None and _published(entry, now) < since:
                if explain:
                    article = self._article(identity, entry, title, outlet, source, now)
                    outcome.decisions.append(_decision(article, "older than --since", skipped=True))
                continue
            article = self._article(identity, entry, title, outlet, source, now, tagging)
            if tagging is not None:
                outcome.found.append(_Found(identity, article, origin))
            else:
                outcome.decisions.append(_decision(article, "matched no topic"))
        return outcome

    def _unusable(self, result: FetchResult, prior: SourceState, error: str) -> _FeedOutcome:
        """A body the bot could not use: the source fails (backoff, /status shows why)."""
        state = self.failed(result.source, prior, error)
        report = SourceReport(result.source.url, "error", error=error, http_status=result.http_status)
        return _FeedOutcome(result.source, state, report, prior)

    def failed(self, source: Source, prior: SourceState, error: str) -> SourceState:
        """A failed state after a body that could not be used. Its validators and hash are dropped, so the next
        poll reads and judges the body again instead of taking a 304 or an unchanged hash for health."""
        forgotten = replace(prior, etag=None, last_modified=None, body_hash=None)
        return self._fetcher.failed_state(source, forgotten, self._clock(), error)

    def _article(
        self,
        identity: str,
        entry: Entry,
        title: str,
        outlet: str,
        source: Source,
        now: datetime,
        tagging: Tagging | None = None,
    ) -> Article:
        # the identity of an ordinary link is its canonical URL already (urls.article_identity): not computed twice
        if identity.startswith(("gnews:", "guid:")):
            url = canonical_url(entry.link) if entry.link.strip() else identity
        else:
            url = identity
        return Article(
            url=url,
            title=title,
            summary=entry.summary,
            outlet=outlet,
            published=_published(entry, now),
            first_seen=now,
            source_url=source.url,
            countries=tagging.countries if tagging else (),
            event=shared_event(tagging.event) if tagging else None,
            topics=tagging.topics if tagging else (),
            matched_terms=tagging.matched_terms if tagging else (),
        )

    async def _write(
        self, outcomes: Sequence[_FeedOutcome], now: datetime, stages: _Stages
    ) -> tuple[SavedPoll, list[Decision]]:
        """Cluster and write a batch of feeds' results in one transaction (the caller holds the write lock).

        The clusterer is kept from batch to batch (`_clustering`): each batch loads only the stories of the time
        ranges not loaded yet, instead of every story of the window again, and what a batch wrote stays in it with
        its story number. A write that fails throws it away: the next batch starts from the database again."""
        found: dict[str, tuple[Article, set[str]]] = {}
        for outcome in outcomes:
            for item in outcome.found:
                if item.identity in found:
                    found[item.identity][1].add(item.origin)
                else:
                    found[item.identity] = (item.article, {item.origin})
        clustering = self._clustering
        with stages.timing("cluster"):
            articles = sorted(found.items(), key=lambda pair: (pair[1][0].published, pair[1][0].url))
            ranges = window_ranges((a.published for _, (a, _) in articles), self._window) if articles else []
            breathe = Breather(foreground_first=True)  # no transaction is open yet
            for story in await self._store.stories_in_window(clustering.uncovered(ranges)):
                if story.id not in clustering.loaded:
                    clustering.loaded.add(story.id)
                    clustering.clusterer.add_story(story)
                await breathe()
            clustering.cover(ranges)
            clusterer = clustering.clusterer
            decisions: list[Decision] = []
            for _, (article, _) in articles:
                placement = clusterer.place(article)
                decisions.append(_decision(article, placement.reason))
                await breathe()
            changed = [cluster for cluster in clusterer.clusters if cluster.added]
            drafts: list[StoryDraft] = []
            for cluster in changed:
                drafts.append(clusterer.draft(cluster, now))
                await breathe()
        with stages.timing("save"):
            try:
                saved = await self._store.save_poll(
                    seen={key: when for outcome in outcomes for key, when in outcome.keys.items()},
                    drafts=drafts,
                    identities={article.url: identity for identity, (article, _) in articles},
                    origins={identity: origins for identity, (_, origins) in articles},
                    states=[(o.source, o.state) for o in outcomes if o.state is not None],
                    now=now,
                )
            except BaseException:
                self._clustering = _Clustering(self._window)
                raise
        new_ids = iter(story.id for story in saved.new)
        for cluster in changed:  # now stored: what a later batch adds to them is an update
            if cluster.story_id is None:
                cluster.story_id = next(new_ids)
                clustering.loaded.add(cluster.story_id)
            cluster.added.clear()
        return saved, decisions


class _SeenLookups:
    """Seen-key lookups of many feeds in a few queries, one at a time.

    Why: one query per feed (500 on a first poll of 500 feeds) spent more in the driver's round trips than in the
    lookups, and held the pool's connections from commands. The feeds that arrive within `gather` seconds of one
    another, or while a lookup runs, share one, of at most `most` keys. (A query costs the loop about 0.8 ms
    whatever its size: 25,000 keys took 0.4 s in 500 queries, 0.04 s in one.)"""

    def __init__(self, store: NewsStore, stages: _Stages, *, most: int = 5000, gather: float = 0.02) -> None:
        self._store = store
        self._stages = stages
        self._most = most
        self._gather = gather
        self._waiting: list[tuple[list[str], asyncio.Future[set[str]]]] = []
        self._serving: asyncio.Task[None] | None = None

    async def known(self, keys: Iterable[str]) -> set[str]:
        """The keys among these that were seen before."""
        wanted = list(keys)
        if not wanted:
            return set()
        future: asyncio.Future[set[str]] = asyncio.get_running_loop().create_future()
        self._waiting.append((wanted, future))
        if self._serving is None:
            self._serving = asyncio.create_task(self._serve(), name="poll-seen-lookups")
        return await future

    async def _serve(self) -> None:
        try:
            while self._waiting:
                if sum(len(keys) for keys, _ in self._waiting) < self._most:
                    await asyncio.sleep(self._gather)  # the feeds parsed meanwhile join this lookup
                batch: list[tuple[list[str], asyncio.Future[set[str]]]] = []
                size = 0
                while self._waiting and (not batch or size + len(self._waiting[0][0]) <= self._most):
                    keys, future = self._waiting.pop(0)
                    batch.append((keys, future))
                    size += len(keys)
                try:
                    with self._stages.timing("known"):  # the lookups' own time, not the feeds' waits for them
                        known = await self._store.known_identities(key for keys, _ in batch for key in keys)
                except Exception as exc:  # each waiting feed fails as its own lookup would have
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:
                    for _, future in batch:
                        future.cancel()
                    raise
                for keys, future in batch:
                    if not future.done():
                        future.set_result({key for key in keys if key in known})
        finally:
            self._serving = None  # with nothing waiting (no await since the loop's test): the next feed starts one

    async def close(self) -> None:
        """Stop the lookup still running (the poll was stopped); its feeds are cancelled with it."""
        serving = self._serving
        if serving is not None:
            serving.cancel()
            await asyncio.wait({serving}, timeout=5)
        for _, future in self._waiting:
            future.cancel()
        self._waiting.clear()


class _Clustering:
    """The clusterer of the batches being written, and which stories and time ranges it holds (see `_write`)."""

    def __init__(self, window: timedelta) -> None:
        self.clusterer = Clusterer(window=window)
        self.loaded: set[int] = set()
        self._covered: list[tuple[datetime, datetime]] = []

    def uncovered(self, ranges: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
        """The parts of `ranges` whose stories are not loaded yet."""
        left: list[tuple[datetime, datetime]] = []
        for lo, hi in ranges:
            pieces = [(lo, hi)]
            for covered_lo, covered_hi in self._covered:
                next_pieces = []
                for a, b in pieces:
                    if b < covered_lo or a > covered_hi:
                        next_pieces.append((a, b))
                        continue
                    if a < covered_lo:
                        next_pieces.append((a, covered_lo))
                    if b > covered_hi:
                        next_pieces.append((covered_hi, b))
                pieces = next_pieces
            left.extend(pieces)
        return left

    def cover(self, ranges: Sequence[tuple[datetime, datetime]]) -> None:
        merged = sorted([*self._covered, *ranges])
        self._covered = []
        for lo, hi in merged:
            if self._covered and lo <= self._covered[-1][1]:
                self._covered[-1] = (self._covered[-1][0], max(self._covered[-1][1], hi))
            else:
                self._covered.append((lo, hi))


def _published(entry: Entry, now: datetime) -> datetime:
    """The entry's own time, or when it was seen: a feed's clock or typo cannot date news in the future."""
    if entry.published is None or entry.published > now:
        return now
    return entry.published


class _Saver:
    """Writes feeds' outcomes in batches while the poll goes on: when `batch_feeds` have gathered, or
    `batch_seconds` after the first of a batch arrived, whichever comes first; and the rest at the end."""

    def __init__(self, poller: Poller, stages: _Stages, now: datetime, explain: bool) -> None:
        self._poller = poller
        self._stages = stages
        self._now = now
        self._explain = explain
        self._pending: list[_FeedOutcome] = []
        self._arrived = asyncio.Event()
        self._done = False
        # Keys of matching articles written by this poll: two feeds in flight carried the same article. Only theirs:
        # an article that matched nothing is stored as a seen key alone, which a second insert leaves as it is, and
        # keeping all 100,000 keys of a first poll of 2,000 feeds held ~10 MB until its end.
        self._seen: set[str] = set()
        self.reports: dict[str, SourceReport] = {}
        self.new: dict[int, Story] = {}
        self.updated: dict[int, Story] = {}
        self.decisions: list[Decision] = []

    def add(self, outcome: _FeedOutcome) -> None:
        self.reports[outcome.source.url] = outcome.report
        self.decisions.extend(outcome.decisions)
        if outcome.state is None:
            return
        self._pending.append(outcome)
        self._arrived.set()

    def finish(self) -> None:
        self._done = True
        self._arrived.set()

    async def run(self) -> None:
        poller = self._poller
        while True:
            await self._arrived.wait()
            if not self._done and len(self._pending) < poller._batch_feeds:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(poller._batch_seconds):
                        while not self._done and len(self._pending) < poller._batch_feeds:
                            self._arrived.clear()
                            await self._arrived.wait()
            await FOREGROUND.wait()
            batch, self._pending = self._pending, []
            self._arrived.clear()
            if batch:
                await self._write(batch)
            if self._done and not self._pending:
                return

    async def _write(self, batch: list[_FeedOutcome]) -> None:
        for outcome in batch:  # what an earlier batch of this poll already wrote is not new any more
            outcome.keys = {key: when for key, when in outcome.keys.items() if key not in self._seen}
            outcome.found = [f for f in outcome.found if seen_key(f.origin, f.identity) in outcome.keys]
        try:
            async with self._poller._write_lock:
                saved, decisions = await self._poller._write(batch, self._now, self._stages)
        except Exception:
            if len(batch) > 1:  # find the feed whose data cannot be written; the others are written
                for outcome in batch:
                    await self._write([outcome])
                return
            await self._fail(batch[0])
            return
        for outcome in batch:
            self._seen.update(seen_key(found.origin, found.identity) for found in outcome.found)
        if self._explain:
            self.decisions.extend(decisions)
        for story in saved.new:
            self.new[story.id] = story
        for story in saved.updated:
            self.updated[story.id] = story
        if self._poller._on_saved is not None and (saved.views_changed or saved.new or saved.updated):
            try:
                await self._poller._on_saved(saved)
            except Exception:
                log.exception("the listener of saved news failed")

    async def _fail(self, outcome: _FeedOutcome) -> None:
        """One source's news could not be written: the source fails with the reason, the poll goes on."""
        log.exception("could not store the news of %s", outcome.source.url)
        reason = "its news could not be stored (the database refused it)"
        state = self._poller.failed(outcome.source, outcome.prior, reason)
        self.reports[outcome.source.url] = SourceReport(outcome.source.url, "error", error=reason)
        try:
            await self._poller._store.save_states([(outcome.source, state)])
        except Exception:
            log.exception("could not store the state of %s either", outcome.source.url)


def _decision(article: Article, reason: str, *, skipped: bool = False) -> Decision:
    return Decision(
        source_url=article.source_url,
        title=article.title,
        url=article.url,
        outlet=article.outlet,
        published=article.published,
        topics=article.topics,
        matched_terms=article.matched_terms,
        reason=reason,
        skipped=skipped,
    )
