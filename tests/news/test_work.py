"""A feed's work in one job: parse, then tag every entry; a lean body carries only what matched in full."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.newsfeeds import make_feed
from bot.news import parse as news_parse
from bot.news.jobs import UNMATCHED, WORKER_NICENESS, Matchers, TopicSet, parse_and_tag_body
from bot.news.matching import default_topic
from bot.news.models import Entry, Source
from bot.news.parse import Draft, draft_feed, parse_feed
from bot.news.urls import article_identity
from bot.news.work import MAX_WORKERS, ProcessWork, default_workers

SOURCE = Source("https://feed.example/rss", "Feed")
TOPICS = TopicSet.of([default_topic()])
BODY = (
    '<rss version="2.0"><channel><title>Feed</title>'
    "<item><title>Israel and UAE strike historic deal to normalise relations</title>"
    "<link>https://bbc.example/uae</link><description>A deal – “historic”, says Netanyahu.</description></item>"
    + "".join(
        f"<item><title>Fewer hospital patients in hotspots {n}</title><link>https://bbc.example/c{n}</link>"
        f"<description>{'Long text about clinics and beds. ' * 30}</description></item>"
        for n in range(20)
    )
    + "</channel></rss>"
).encode()


def test_a_lean_body_keeps_the_matched_entries_and_every_identity() -> None:
    matcher = Matchers().get(TOPICS.key, TOPICS.payload())
    assert matcher is not None
    full = parse_and_tag_body(BODY, SOURCE, None, matcher, lean=False, parse=draft_feed)
    lean = parse_and_tag_body(BODY, SOURCE, None, matcher, lean=True, parse=draft_feed)
    assert lean.identities == full.identities
    assert len(lean.identities) == 21
    assert [t is not None for t in lean.taggings] == [True] + [False] * 20
    assert lean.taggings[0] is not None
    assert "AE" in lean.taggings[0].countries
    assert lean.feed.entries[0] == full.feed.entries[0]
    assert all(entry is UNMATCHED for entry in lean.feed.entries[1:])
    assert all(entry is not UNMATCHED for entry in full.feed.entries)
    # what crosses the process boundary: the unmatched summaries stay in the worker
    assert len(pickle.dumps(lean)) * 5 < len(pickle.dumps(full))


@pytest.mark.skipif(
    not str(news_parse.__file__).endswith(".py"),
    reason="counts calls by patching the Python source's _summary, which compiled code calls directly (bot.native)",
)
def test_a_lean_body_cleans_only_the_summaries_that_may_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """Collapsing spaces and cutting footers and length is for the summaries that are kept: the prefilter reads the
    others' words with their markup removed, nothing more (bot.news.parse.Draft.summary_words)."""
    import bot.news.parse as parse

    cleaned: list[str] = []
    summary = parse._summary

    def counted(text: str) -> str:
        cleaned.append(text)
        return summary(text)

    monkeypatch.setattr(parse, "_summary", counted)
    matcher = Matchers().get(TOPICS.key, TOPICS.payload())
    assert matcher is not None
    lean = parse_and_tag_body(BODY, SOURCE, None, matcher, lean=True, parse=draft_feed)
    assert [t is not None for t in lean.taggings] == [True] + [False] * 20
    assert cleaned == ["A deal – “historic”, says Netanyahu."]
    assert lean.feed.entries[0].summary == "A deal – “historic”, says Netanyahu."


ATOM = (
    '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>Wire</title>'
    '<link href="https://wire.example/"/>'
    "<entry><title>Israel and Kazakhstan sign the Abraham Accords</title><link href='https://wire.example/kz'/>"
    "<id>kz</id><published>2025-11-07T10:00:00Z</published><author><name>A. Writer</name></author>"
    "<summary>Kazakhstan joins the Abraham Accords, officials say.</summary></entry>"
    "<entry xml:lang='fr'><title>Météo</title><link href='https://wire.example/m'/><updated>2025-11-07T09:00:00+01:00"
    "</updated><author><name>B</name></author><summary>Pluie.</summary></entry></feed>"
).encode()
RSS_WITH_AUTHORS = BODY.replace(
    b"<title>Israel and UAE strike",
    b"<dc:creator>News Desk</dc:creator><author>desk@bbc.example (BBC Desk)</author><dc:language>en-GB</dc:language>"
    b"<pubDate>Thu, 13 Aug 2020 16:00:00 GMT</pubDate><title>Israel and UAE strike",
).replace(b'<rss version="2.0">', b'<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">')


@pytest.mark.parametrize("index", range(8))
def test_what_a_lean_body_keeps_is_what_parse_feed_reads(index: int) -> None:
    """A lean body reads in full only the entries that matched (dates, authors, languages): those are exactly
    parse_feed's, in RSS, Atom, Google News and other scripts' feeds."""
    matcher = Matchers().get(TOPICS.key, TOPICS.payload())
    assert matcher is not None
    body = {0: BODY, 1: ATOM, 2: RSS_WITH_AUTHORS}.get(index) or make_feed(index * 37)
    full = parse_feed(body, source=SOURCE)
    lean = parse_and_tag_body(body, SOURCE, None, matcher, lean=True, parse=draft_feed)
    assert lean.identities == tuple(article_identity(entry) for entry in full.entries)
    kept = [i for i, tagging in enumerate(lean.taggings) if tagging is not None]
    assert kept, "each of these feeds holds a relevant item"
    assert [lean.feed.entries[i] for i in kept] == [full.entries[i] for i in kept]
    if index:  # the others have dates (BODY's items none)
        assert all(full.entries[i].published is not None for i in kept)
    assert all(entry is UNMATCHED for i, entry in enumerate(lean.feed.entries) if i not in kept)


async def test_the_worker_process_gives_what_the_inline_work_gives() -> None:
    matcher = Matchers().get(TOPICS.key, TOPICS.payload())
    assert matcher is not None
    inline = parse_and_tag_body(BODY, SOURCE, None, matcher, lean=True, parse=draft_feed)
    work = ProcessWork()
    try:
        first = await work.parse_and_tag(BODY, SOURCE, None, TOPICS, lean=True)  # the topics sent on demand
        again = await work.parse_and_tag(BODY, SOURCE, None, TOPICS, lean=True)  # the worker's matcher kept
    finally:
        await work.close()
    for answer in (first, again):
        assert answer.identities == inline.identities
        assert answer.taggings == inline.taggings
        assert answer.feed.entries == inline.feed.entries


def _feed(number: int) -> tuple[bytes, Source]:
    """A small feed of its own: one item about the accords and a few others."""
    body = BODY.replace(b"bbc.example/", f"bbc{number}.example/".encode())
    return body, Source(f"https://feed{number}.example/rss", f"Feed {number}")


async def test_feeds_that_wait_for_a_worker_go_to_it_in_batches_with_the_same_results() -> None:
    matcher = Matchers().get(TOPICS.key, TOPICS.payload())
    assert matcher is not None
    feeds = [_feed(number) for number in range(12)]
    work = ProcessWork(workers=1)
    jobs: list[int] = []
    run = work._run

    async def counted(function: Any, *args: Any) -> Any:
        if args:  # not warm_up's
            jobs.append(len(args[0]))
        return await run(function, *args)

    work._run = counted  # type: ignore[method-assign]
    try:
        await work.warm_up()
        await work.parse_and_tag(*feeds[0], None, TOPICS, lean=True)  # the worker learns the topics
        jobs.clear()
        answers = await asyncio.gather(*(work.parse_and_tag(b, s, None, TOPICS, lean=True) for b, s in feeds))
        assert not work._waiting  # nothing kept of a poll's feeds, nor of its topics, once they are worked on
    finally:
        await work.close()
    # two jobs on their way at once (one running, the next at hand): the first two feeds alone, the rest batched
    assert jobs[:2] == [1, 1]
    assert sum(jobs) == 12
    assert len(jobs) <= 4
    for (body, source), answer in zip(feeds, answers, strict=True):
        inline = parse_and_tag_body(body, source, None, matcher, lean=True, parse=draft_feed)
        assert answer.identities == inline.identities
        assert answer.taggings == inline.taggings
        assert answer.feed.entries == inline.feed.entries


async def test_workers_warmed_with_the_topics_match_the_first_feeds_without_asking_for_them() -> None:
    """The bot warms its workers with the next poll's topics while it logs in (bot.news.service.NewsService.warm_up):
    each builds its matcher then, so the first poll's jobs carry no topics and none comes back asking for them."""
    work = ProcessWork(workers=2)
    sent: list[object] = []
    run = work._run

    async def recorded(function: Any, *args: Any) -> Any:
        if args and isinstance(args[0], list):  # a batch job: (feeds, key, payload, lean)
            sent.append(args[2])
        return await run(function, *args)

    work._run = recorded  # type: ignore[method-assign]
    try:
        await work.warm_up(TOPICS)
        assert len(work.pids()) == 2
        answers = await asyncio.gather(*(work.parse_and_tag(BODY, SOURCE, None, TOPICS, lean=True) for _ in range(6)))
    finally:
        await work.close()
    assert sent
    assert all(payload is None for payload in sent)
    assert all(answer.taggings[0] is not None for answer in answers)


async def test_the_service_warms_its_work_with_the_topics_of_its_next_poll(engine: Any) -> None:
    from datetime import UTC, datetime

    from bot.news.matching import Topic
    from bot.news.service import NewsService
    from bot.news.topics import parse_query
    from bot.news.work import InlineWork
    from bot.store.news import NewsStore

    own = Topic("ours", parse_query("Kazakhstan AND accords"))

    async def provider() -> list[Topic]:
        return [own]

    warmed: list[TopicSet | None] = []

    class Recording(InlineWork):
        async def warm_up(self, topics: TopicSet | None = None) -> None:
            warmed.append(topics)
            await super().warm_up(topics)

    news = NewsService(
        NewsStore(engine),
        (),
        lambda: datetime.now(UTC),
        default_interval=600,
        topic_provider=provider,
        work=Recording(),
    )
    try:
        await news.warm_up()
    finally:
        await news.close()
    assert warmed == [await news.poller.topics()]
    assert warmed[0] is not None
    assert [topic.name for topic in warmed[0].topics] == [default_topic().name, "ours"]


def test_a_parser_bug_completing_a_matched_entry_is_the_feeds_error() -> None:
    matcher = Matchers().get(TOPICS.key, TOPICS.payload())
    assert matcher is not None
    drafted = draft_feed(BODY, source=SOURCE)

    def broken() -> Entry:
        raise ValueError("no date for you")

    def parse(body: bytes, *, source: Source, content_type: str | None = None) -> Draft:
        return Draft(drafted.feed, [broken] * len(drafted.feed.entries))

    lean = parse_and_tag_body(BODY, SOURCE, None, matcher, lean=True, parse=parse)
    assert lean.feed.entries == ()
    assert lean.feed.error == "unparseable feed: ValueError: no date for you"
    assert lean.identities == ()  # aligned with no entries, as the pipeline wants
    assert lean.taggings == ()


def test_by_default_a_worker_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    for cores, workers in ((1, 1), (2, 2), (4, 4), (16, MAX_WORKERS)):
        monkeypatch.setattr("bot.news.work.usable_cores", lambda cores=cores: cores)
        assert default_workers() == workers


async def test_each_worker_is_niced_below_the_bots_process() -> None:
    """The workers take only the CPU the loop that answers Discord leaves."""
    work = ProcessWork(workers=2)
    try:
        await work.warm_up()
        pids = work.pids()
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert len(pids) == 2
        assert all(os.getpriority(os.PRIO_PROCESS, pid) == min(own + WORKER_NICENESS, 19) for pid in pids)
    finally:
        await work.close()


# A bot that starts its workers, says their process ids, and waits to be killed.
_BOT = """
import asyncio, json, sys
from bot.news.work import ProcessWork

async def main():
    work = ProcessWork(workers=2)
    await work.warm_up()
    print(json.dumps(work.pids()), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def _running(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped by whoever adopted it, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc (Linux)")
def test_the_workers_end_when_the_bot_is_killed() -> None:
    """SIGKILL (or the OOM killer) leaves the pool no chance to stop its workers: they must go by themselves."""
    root = Path(__file__).resolve().parents[2]
    bot = subprocess.Popen([sys.executable, "-c", _BOT], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert bot.stdout is not None
        pids = json.loads(bot.stdout.readline())
        assert len(pids) == 2
        assert all(_running(pid) for pid in pids)
    finally:
        bot.kill()
        bot.wait()
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in pids)


def test_a_worker_imports_no_event_loop_and_no_store() -> None:
    """What a worker process imports to run a feed's job (bot.news.jobs) is all it holds: asyncio, with the ssl it
    brings, was 5 MB of each worker's 35."""
    heavy = ("asyncio", "ssl", "aiohttp", "sqlalchemy", "discord", "pydantic")
    code = f"import sys, bot.news.jobs; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    root = Path(__file__).resolve().parents[2]
    found = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert found.stdout.split() == []
