"""The poll pipeline over a real store: with a scripted fetcher here, and the real fetcher in test_pipeline_http."""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import aio
from bot.aio import Foreground
from bot.news import pipeline
from bot.news.fetch import Fetcher, make_session
from bot.news.matching import Topic, anchors
from bot.news.models import Article, FetchResult, FetchStatus, ParsedFeed, Source, SourceState
from bot.news.parse import parse_feed
from bot.news.pipeline import Poller
from bot.news.textnorm import normalize
from bot.news.topics import default_query, parse_query
from bot.news.visibility import OPERATOR, seen_key
from bot.store.news import NewsStore, SavedPoll

NOW = datetime(2020, 8, 14, 6, 0, tzinfo=UTC)


def rss(*items: tuple[str, str, str]) -> bytes:
    """An RSS body of (title, link, RFC 822 date) items; an empty date leaves pubDate out."""
    parts = []
    for title, link, date in items:
        when = f"<pubDate>{date}</pubDate>" if date else ""
        parts.append(f"<item><title>{title}</title><link>{link}</link>{when}</item>")
    return f'<rss version="2.0"><channel><title>Feed</title>{"".join(parts)}</channel></rss>'.encode()


UAE_BBC = (
    "Israel and UAE strike historic deal to normalise relations",
    "https://bbc.example/uae",
    "Thu, 13 Aug 2020 20:50:11 +0000",
)
UAE_CNN = (
    "Israel and the UAE establish full normalization of relations, Trump says",
    "https://cnn.example/uae",
    "Thu, 13 Aug 2020 18:29:28 +0000",
)
UAE_GDN = ("Israel signs historic deal with UAE", "https://guardian.example/uae", "Thu, 13 Aug 2020 19:33:28 +0000")
OFF_TOPIC = (
    "Fewer hospital patients in Covid-19 hotspots",
    "https://bbc.example/covid",
    "Thu, 13 Aug 2020 23:52:09 +0000",
)


@dataclass
class ScriptedFetcher:
    """Answers each source from a script: a body (200), None (304), or an exception to raise."""

    script: dict[str, bytes | Exception | None]
    due: Callable[[Source], bool] = lambda _source: True
    calls: list[str] = field(default_factory=list)

    def is_due(self, source: Source, state: SourceState, now: datetime) -> bool:
        return self.due(source)

    async def fetch(self, source: Source, state: SourceState) -> FetchResult:
        self.calls.append(source.url)
        answer = self.script[source.url]
        if isinstance(answer, Exception):
            raise answer
        done = SourceState(etag='"v1"', last_status=200 if answer else 304, last_attempt=NOW, last_success=NOW)
        if answer is None:
            return FetchResult(source, FetchStatus.NOT_MODIFIED, done, http_status=304)
        return FetchResult(source, FetchStatus.OK, done, body=answer, http_status=200)

    def failed_state(self, source: Source, state: SourceState, started: datetime, error: str) -> SourceState:
        return replace(state, last_error=error, consecutive_failures=state.consecutive_failures + 1, last_attempt=NOW)


BBC = Source("https://bbc.example/rss", "BBC")
CNN = Source("https://cnn.example/rss", "CNN")
GDN = Source("https://guardian.example/rss", "The Guardian")


@pytest.fixture
def store(engine: AsyncEngine) -> NewsStore:
    return NewsStore(engine)


async def test_a_poll_groups_outlets_into_a_story_and_a_304_poll_changes_nothing(store: NewsStore) -> None:
    fetcher = ScriptedFetcher({BBC.url: rss(UAE_BBC, OFF_TOPIC), CNN.url: rss(UAE_CNN), GDN.url: rss(UAE_GDN)})
    poller = Poller(store, fetcher, lambda: NOW)
    report = await poller.poll([BBC, CNN, GDN])
    assert [(s.url, s.status, s.entries, s.new) for s in report.sources] == [
        (BBC.url, "ok", 2, 2),
        (CNN.url, "ok", 1, 1),
        (GDN.url, "ok", 1, 1),
    ]
    (story,) = report.new_stories
    assert report.updated_stories == ()
    assert len(story.articles) == 3
    assert story.countries[:2] in {("IL", "AE"), ("AE", "IL")}
    assert story.event is not None
    assert story.event.countries == ("AE",)
    assert story.topics == ("accords",)
    assert (await store.load_states([BBC.url]))[BBC.url].etag == '"v1"'

    not_modified = ScriptedFetcher(dict.fromkeys((BBC.url, CNN.url, GDN.url)))
    again = await Poller(store, not_modified, lambda: NOW).poll([BBC, CNN, GDN])
    assert [s.status for s in again.sources] == ["not_modified"] * 3
    assert again.new_stories == ()
    assert again.updated_stories == ()
    assert await store.story(story.id) == story


async def test_a_poll_holds_back_while_a_slash_command_is_answered(
    store: NewsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreground = Foreground(limit=30)  # no time limit within the test: only the command's end lets the poll go on
    monkeypatch.setattr(aio, "FOREGROUND", foreground)
    monkeypatch.setattr(pipeline, "FOREGROUND", foreground)
    fetcher = ScriptedFetcher({BBC.url: rss(UAE_BBC), CNN.url: rss(UAE_CNN)})
    with foreground.claim():
        polling = asyncio.create_task(Poller(store, fetcher, lambda: NOW).poll([BBC, CNN]))
        await asyncio.sleep(0.2)
        assert fetcher.calls == []
    report = await asyncio.wait_for(polling, 10)
    assert sorted(fetcher.calls) == sorted([BBC.url, CNN.url])
    assert len(report.new_stories) == 1


async def test_a_poll_writes_an_article_two_feeds_in_flight_carried_once_and_keeps_only_matching_keys(
    store: NewsStore,
) -> None:
    """Two feeds looked their entries up before either was written (both were new then) and are written in
    separate batches: the second batch must not store the matching article again. What the poll keeps to know
    that is the keys of matching articles only (a first poll's other keys are 96% of them)."""
    poller = Poller(store, ScriptedFetcher({}), lambda: NOW)
    saver = pipeline._Saver(poller, pipeline._Stages(), NOW, explain=False)
    link = "https://cnn.example/uae"
    article = Article(link, UAE_CNN[0], "", "CNN", NOW, NOW, CNN.url, ("AE", "IL"), topics=("accords",))
    matching = seen_key(OPERATOR, link)
    others = {seen_key(OPERATOR, f"https://bbc.example/{n}"): NOW for n in range(3)}
    state = SourceState(last_status=200, last_attempt=NOW, last_success=NOW)
    first = pipeline._FeedOutcome(
        BBC,
        state,
        pipeline.SourceReport(BBC.url, "ok"),
        keys={**others, matching: NOW},
        found=[pipeline._Found(link, article, OPERATOR)],
    )
    await saver._write([first])
    assert saver._seen == {matching}
    second = pipeline._FeedOutcome(
        CNN,
        state,
        pipeline.SourceReport(CNN.url, "ok"),
        keys={matching: NOW, next(iter(others)): NOW},
        found=[pipeline._Found(link, article, OPERATOR)],
    )
    await saver._write([second])
    assert second.found == []
    (story,) = saver.new.values()
    assert [a.url for a in story.articles] == [link]
    assert saver.updated == {}
    assert await store.known_identities([*others, matching]) == {*others, matching}


async def test_a_poll_of_many_sources_keeps_tasks_only_for_those_in_flight(store: NewsStore) -> None:
    """2,000 waiting tasks were 10,000 objects for the garbage collector to scan again and again during a poll."""
    sources = [Source(f"https://outlet{n}.example/rss", f"Outlet {n}") for n in range(200)]
    tasks: list[int] = []

    class Counting(ScriptedFetcher):
        async def fetch(self, source: Source, state: SourceState) -> FetchResult:
            tasks.append(len(asyncio.all_tasks()))
            await asyncio.sleep(0.001)
            return await super().fetch(source, state)

    fetcher = Counting({s.url: rss((OFF_TOPIC[0], s.url + "/1", OFF_TOPIC[2])) for s in sources})
    report = await Poller(store, fetcher, lambda: NOW, concurrency=8).poll(sources)
    assert [s.status for s in report.sources] == ["ok"] * 200
    assert len(tasks) == 200
    assert max(tasks) <= 8 + 5  # the sources in flight, the poll, its saver and lookups, the test


async def test_known_articles_are_not_processed_again_and_new_ones_update_the_story(store: NewsStore) -> None:
    first = await Poller(store, ScriptedFetcher({BBC.url: rss(UAE_BBC, OFF_TOPIC)}), lambda: NOW).poll([BBC])
    (story,) = first.new_stories
    # the same feed again with one more outlet's article: only that one is new, and it joins the story
    later = NOW + timedelta(hours=1)
    fetcher = ScriptedFetcher({BBC.url: rss(UAE_BBC, OFF_TOPIC, UAE_CNN)})
    report = await Poller(store, fetcher, lambda: later).poll([BBC], explain=True)
    assert report.sources[0].entries == 3
    assert report.sources[0].new == 1
    assert report.new_stories == ()
    assert [s.id for s in report.updated_stories] == [story.id]
    assert len(report.updated_stories[0].articles) == 2
    assert [d.url for d in report.decisions] == [UAE_CNN[1]]


async def test_a_bad_source_never_sinks_the_poll(store: NewsStore) -> None:
    broken = Source("https://broken.example/rss", "Broken")
    garbage = Source("https://garbage.example/rss", "Garbage")
    fetcher = ScriptedFetcher({BBC.url: rss(UAE_BBC), broken.url: RuntimeError("boom"), garbage.url: b"\x00<<not xml"})
    report = await Poller(store, fetcher, lambda: NOW).poll([broken, garbage, BBC])
    by_url = {s.url: s for s in report.sources}
    assert by_url[broken.url].status == "failed"
    assert "boom" in (by_url[broken.url].error or "")
    assert by_url[garbage.url].entries == 0
    assert by_url[garbage.url].error
    assert by_url[BBC.url].status == "ok"
    assert len(report.new_stories) == 1
    state = (await store.load_states([broken.url]))[broken.url]
    assert state.consecutive_failures == 1
    assert state.last_error is not None


async def test_sources_not_due_are_not_fetched(store: NewsStore) -> None:
    fetcher = ScriptedFetcher({BBC.url: rss(UAE_BBC), CNN.url: rss(UAE_CNN)}, due=lambda s: s is BBC)
    report = await Poller(store, fetcher, lambda: NOW).poll([BBC, CNN])
    assert fetcher.calls == [BBC.url]
    assert [s.status for s in report.sources] == ["ok", "deferred"]
    forced = ScriptedFetcher({BBC.url: None, CNN.url: None}, due=lambda s: False)
    await Poller(store, forced, lambda: NOW).poll([BBC, CNN], force=True)
    assert forced.calls == [BBC.url, CNN.url]


async def test_since_skips_older_entries_and_undated_entries_take_first_seen(store: NewsStore) -> None:
    undated = ("UAE and Israel agree to normalize ties", "https://undated.example/a", "")
    fetcher = ScriptedFetcher({BBC.url: rss(UAE_BBC, undated)})
    report = await Poller(store, fetcher, lambda: NOW).poll([BBC], since=NOW - timedelta(hours=2), explain=True)
    skipped = [d for d in report.decisions if d.skipped]
    assert [d.url for d in skipped] == [UAE_BBC[1]]
    (story,) = report.new_stories
    assert [a.url for a in story.articles] == [undated[1]]
    assert story.articles[0].published == NOW


async def test_given_topics_are_matched_beside_the_default(store: NewsStore) -> None:
    topic = Topic("covid", parse_query("covid* OR coronavirus"))
    report = await Poller(store, ScriptedFetcher({BBC.url: rss(UAE_BBC, OFF_TOPIC)}), lambda: NOW, topics=[topic]).poll(
        [BBC], explain=True
    )
    assert sorted(s.topics for s in report.new_stories) == [("accords",), ("covid",)]
    covid = next(d for d in report.decisions if d.url == OFF_TOPIC[1])
    assert covid.matched_terms == ("covid*",)


async def test_a_parser_that_raises_is_an_error_of_that_source(store: NewsStore) -> None:
    def explode(body: bytes, *, source: Source, content_type: str | None = None) -> ParsedFeed:
        raise ValueError("parser bug")

    report = await Poller(store, ScriptedFetcher({BBC.url: rss(UAE_BBC)}), lambda: NOW, parse=explode).poll([BBC])
    assert report.sources[0].status == "error"
    assert "parser bug" in (report.sources[0].error or "")


@pytest.mark.parametrize("path", sorted((Path(__file__).parent / "saved").glob("*.xml")), ids=lambda p: p.name)
def test_the_anchor_prefilter_never_drops_a_matching_article(path: Path) -> None:
    query = default_query()
    words = anchors(query.root)
    assert words is not None
    feed = parse_feed(path.read_bytes(), source=Source(str(path), path.name))
    matching = [e for e in feed.entries if query.match(e.title, e.summary) is not None]
    assert all(any(w in normalize(f"{e.title}\n{e.summary}") for w in words) for e in matching)
    if "2020-08-13" in path.name and "cnn" in path.name:
        assert matching  # the day of the UAE announcement: the check above is not vacuous


def test_anchors_follow_the_query_structure() -> None:
    assert anchors(parse_query("covid* -vaccine").root) == frozenset({"covid"})
    assert anchors(parse_query('"peace deal" OR Knesset').root) == frozenset({"peace", "knesset"})
    assert anchors(parse_query("(UAE OR Emirates) (Israel OR Knesset)").root) in (
        frozenset({"uae", "emirates"}),
        frozenset({"israel", "knesset"}),
    )
    assert anchors(parse_query("Israel -Gaza").root) == frozenset({"israel"})


async def test_end_to_end_over_http_with_the_real_fetcher_then_a_304_poll(store: NewsStore) -> None:
    """A local server with ETags: the first poll makes the story, the second gets 304s and changes nothing."""
    bodies = {"bbc": rss(UAE_BBC, OFF_TOPIC), "cnn": rss(UAE_CNN), "gdn": rss(UAE_GDN)}
    hits: list[tuple[str, int]] = []

    async def feed(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        etag = f'"{name}-1"'
        if request.headers.get("If-None-Match") == etag:
            hits.append((name, 304))
            return web.Response(status=304, headers={"ETag": etag})
        hits.append((name, 200))
        return web.Response(body=bodies[name], content_type="application/rss+xml", headers={"ETag": etag})

    app = web.Application()
    app.router.add_get("/{name}.xml", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sources = [Source(f"http://127.0.0.1:{port}/{name}.xml", name) for name in bodies]
    clock = [NOW]
    try:
        async with make_session(guarded=False) as session:
            fetcher = Fetcher(session, clock=lambda: clock[0], host_min_interval=0, rng=random.Random(1))
            poller = Poller(store, fetcher, lambda: clock[0])
            first = await poller.poll(sources)
            clock[0] = NOW + timedelta(days=1)  # every source due again
            second = await poller.poll(sources)
    finally:
        await runner.cleanup()
    assert [s.status for s in first.sources] == ["ok"] * 3
    (story,) = first.new_stories
    assert {a.url for a in story.articles} == {UAE_BBC[1], UAE_CNN[1], UAE_GDN[1]}
    assert sorted(hits) == sorted([(n, 200) for n in bodies] + [(n, 304) for n in bodies])
    assert [s.status for s in second.sources] == ["not_modified"] * 3
    assert second.new_stories == ()
    assert second.updated_stories == ()
    assert await store.story(story.id) == story


async def test_a_feed_that_cannot_be_parsed_is_a_failing_source_with_the_parsers_reason(store: NewsStore) -> None:
    """Before, a billion-laughs or broken body showed as healthy (its fetch had succeeded)."""
    laughs = Source("https://laughs.example/rss", "Laughs")
    bomb = (Path(__file__).parent / "feeds" / "billion_laughs.xml").read_bytes()
    fetcher = ScriptedFetcher({laughs.url: bomb, BBC.url: rss(UAE_BBC)})
    report = await Poller(store, fetcher, lambda: NOW).poll([laughs, BBC])
    by_url = {s.url: s for s in report.sources}
    assert by_url[laughs.url].status == "error"
    assert (by_url[laughs.url].error or "").startswith("not a feed the bot can read: ")
    state = (await store.load_states([laughs.url]))[laughs.url]
    assert state.consecutive_failures == 1
    assert (state.last_error or "").startswith("not a feed the bot can read: ")
    assert state.body_hash is None  # read and judged again next time, not taken as unchanged
    again = await Poller(store, fetcher, lambda: NOW + timedelta(hours=1)).poll([laughs])
    assert again.sources[0].status == "error"
    assert (await store.load_states([laughs.url]))[laughs.url].consecutive_failures == 2


async def test_a_nul_in_a_title_is_stripped_at_the_boundary(store: NewsStore) -> None:
    """Before, one NUL made PostgreSQL refuse the whole poll's transaction, every poll."""
    poisoned = ("Israel and UAE strike\x00 historic deal to normalise relations", "https://bbc.example/uae", "")
    report = await Poller(store, ScriptedFetcher({BBC.url: rss(poisoned), CNN.url: rss(UAE_CNN)}), lambda: NOW).poll(
        [BBC, CNN]
    )
    assert [s.status for s in report.sources] == ["ok", "ok"]
    stored = await store.all_stories()
    assert any("strike historic deal" in a.title for s in stored for a in s.articles)
    assert all("\x00" not in a.title for s in stored for a in s.articles)


class RefusingStore(NewsStore):
    """A store whose database refuses any write holding one source's articles (bad data that got through)."""

    def __init__(self, engine: AsyncEngine, refused: str) -> None:
        super().__init__(engine)
        self.refused = refused

    async def save_poll(self, **kwargs: Any) -> SavedPoll:
        if any(a.source_url == self.refused for d in kwargs["drafts"] for a in d.added):
            raise DBAPIError("INSERT", {}, ValueError("invalid byte sequence"))
        return await super().save_poll(**kwargs)


async def test_one_sources_unwritable_data_fails_that_source_not_the_poll(engine: AsyncEngine) -> None:
    store = RefusingStore(engine, CNN.url)
    fetcher = ScriptedFetcher({BBC.url: rss(UAE_BBC), CNN.url: rss(UAE_CNN), GDN.url: rss(OFF_TOPIC)})
    report = await Poller(store, fetcher, lambda: NOW).poll([BBC, CNN, GDN])
    by_url = {s.url: s for s in report.sources}
    assert (by_url[BBC.url].status, by_url[GDN.url].status) == ("ok", "ok")
    assert by_url[CNN.url].status == "error"
    assert by_url[CNN.url].error == "its news could not be stored (the database refused it)"
    assert [a.url for s in report.new_stories for a in s.articles] == [UAE_BBC[1]]
    states = await store.load_states([BBC.url, CNN.url])
    assert states[BBC.url].consecutive_failures == 0
    assert states[CNN.url].consecutive_failures == 1
    assert await store.known_identities([UAE_CNN[1]]) == set()  # not remembered: tried again next poll


async def test_a_future_date_is_clamped_to_the_time_seen(store: NewsStore) -> None:
    future = ("UAE and Israel agree to normalize ties", "https://future.example/a", "Tue, 01 Jan 2036 00:00:00 +0000")
    report = await Poller(store, ScriptedFetcher({BBC.url: rss(future)}), lambda: NOW).poll([BBC])
    (story,) = report.new_stories
    assert story.articles[0].published == NOW


class _CountingStore(NewsStore):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.lookups = 0

    async def known_identities(self, identities: Any) -> set[str]:
        self.lookups += 1
        return await super().known_identities(identities)


async def test_feeds_that_arrive_together_share_a_seen_key_lookup(engine: AsyncEngine) -> None:
    """One query per feed (500 on a first poll of 500 feeds) cost more in round trips than the lookups did."""
    store = _CountingStore(engine)
    sources = [Source(f"https://feed{n}.example/rss", f"Feed {n}") for n in range(40)]
    bodies = {
        s.url: rss((f"{OFF_TOPIC[0]} {n}", f"https://o.example/{n}", OFF_TOPIC[2])) for n, s in enumerate(sources)
    }
    bodies[sources[0].url] = rss(UAE_BBC, OFF_TOPIC)
    poller = Poller(store, ScriptedFetcher(dict(bodies)), lambda: NOW)
    report = await poller.poll(sources)
    assert all(s.status == "ok" and s.new == s.entries for s in report.sources)
    assert store.lookups <= 4  # one at a time, the feeds of each 20 ms and those waiting meanwhile together
    again = await poller.poll(sources, force=True)  # each feed's keys were answered as its own
    assert [s.new for s in again.sources] == [0] * 40


async def test_articles_of_one_event_share_one_event_object(store: NewsStore) -> None:
    """Each article once held its own copy of its event (a worker's, a row's): thousands of objects in a first poll
    for a few dozen events, each walked by every full collection while the loop waits."""
    fetcher = ScriptedFetcher({BBC.url: rss(UAE_BBC), CNN.url: rss(UAE_CNN), GDN.url: rss(UAE_GDN)})
    (story,) = (await Poller(store, fetcher, lambda: NOW).poll([BBC, CNN, GDN])).new_stories
    stored = await store.story(story.id)
    assert stored is not None
    for articles in (story.articles, stored.articles):
        events = [article.event for article in articles if article.event is not None]
        assert len(events) >= 2
        for event in events:
            assert [other is event for other in events] == [other == event for other in events]
        assert any(sum(other is event for other in events) > 1 for event in events)


async def test_a_poll_defers_the_collectors_full_passes_until_it_ends(store: NewsStore) -> None:
    """Each full pass held the event loop while it walked the poll's objects: none runs during a poll."""
    seen: list[int] = []

    class Recording(ScriptedFetcher):
        async def fetch(self, source: Source, state: SourceState) -> FetchResult:
            seen.append(gc.get_threshold()[2])
            return await super().fetch(source, state)

    before = gc.get_threshold()
    await Poller(store, Recording({BBC.url: rss(UAE_BBC), CNN.url: rss(UAE_CNN)}), lambda: NOW).poll([BBC, CNN])
    assert len(seen) == 2
    assert all(threshold > 1_000_000 for threshold in seen)
    assert gc.get_threshold() == before
